//! Scopes: hierarchical neighbourhood paths such as `nl/amsterdam/oost/dapperbuurt`.
//!
//! A scope is 1 to `max_scope_levels` segments separated by `/`; a segment is
//! 1 to 32 bytes of `a-z`, `0-9` and `-`, starting with a letter or digit.
//! Uppercase is refused rather than folded, so that one scope has one spelling
//! on the wire (the CLI lowercases what people type before it gets here).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::limits::MAX_SCOPE_SEGMENT;

/// Why a scope path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope is empty")]
    Empty,
    #[error("scope has more than {0} levels")]
    TooDeep(usize),
    #[error("scope has an empty segment (a leading, trailing or double `/`)")]
    EmptySegment,
    #[error("scope segment `{0}` is longer than 32 characters")]
    SegmentTooLong(String),
    #[error("scope segment `{0}` may only hold a-z, 0-9 and `-`, starting with a letter or digit")]
    BadSegment(String),
}

/// A validated scope path.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(String);

impl Scope {
    /// Parses and validates a scope of at most `max_levels` segments.
    pub fn parse(text: &str, max_levels: usize) -> Result<Scope, ScopeError> {
        check(text, max_levels)?;
        Ok(Scope(text.to_owned()))
    }

    /// The scope as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Number of segments.
    pub fn depth(&self) -> usize {
        self.0.split('/').count()
    }

    /// True when `self` is `other` or one of its ancestors
    /// (`nl/amsterdam` contains `nl/amsterdam/oost`).
    pub fn contains(&self, other: &Scope) -> bool {
        other.0 == self.0
            || (other.0.len() > self.0.len()
                && other.0.starts_with(&self.0)
                && other.0.as_bytes()[self.0.len()] == b'/')
    }

    /// The scope itself and every ancestor, nearest first:
    /// `a/b/c` gives `a/b/c`, `a/b`, `a`.
    pub fn self_and_ancestors(&self) -> Vec<Scope> {
        let mut out = vec![self.clone()];
        let mut s = self.0.as_str();
        while let Some(i) = s.rfind('/') {
            s = &s[..i];
            out.push(Scope(s.to_owned()));
        }
        out
    }

    /// Whether a membership certificate for `self` lets its holder post to
    /// `listing_scope`: the listing scope must be the certificate scope, one of
    /// its ancestors (to reach a whole district or city), or one of its
    /// descendants (a city-wide member posting in one neighbourhood).
    pub fn covers(&self, listing_scope: &Scope) -> bool {
        self.contains(listing_scope) || listing_scope.contains(self)
    }
}

fn check(text: &str, max_levels: usize) -> Result<(), ScopeError> {
    if text.is_empty() {
        return Err(ScopeError::Empty);
    }
    let mut levels = 0;
    for seg in text.split('/') {
        levels += 1;
        if levels > max_levels {
            return Err(ScopeError::TooDeep(max_levels));
        }
        if seg.is_empty() {
            return Err(ScopeError::EmptySegment);
        }
        if seg.len() > MAX_SCOPE_SEGMENT {
            return Err(ScopeError::SegmentTooLong(seg.chars().take(40).collect()));
        }
        let ok_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
        if !seg.bytes().all(ok_char) || seg.starts_with('-') {
            return Err(ScopeError::BadSegment(seg.chars().take(40).collect()));
        }
    }
    Ok(())
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({})", self.0)
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Scope::parse(&s, usize::MAX).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str) -> Scope {
        Scope::parse(t, 6).unwrap()
    }

    #[test]
    fn syntax() {
        assert!(Scope::parse("nl/amsterdam/oost/dapperbuurt", 6).is_ok());
        assert!(Scope::parse("nl/den-haag", 6).is_ok());
        assert_eq!(Scope::parse("", 6), Err(ScopeError::Empty));
        assert_eq!(Scope::parse("nl//x", 6), Err(ScopeError::EmptySegment));
        assert_eq!(Scope::parse("/nl", 6), Err(ScopeError::EmptySegment));
        assert_eq!(Scope::parse("nl/", 6), Err(ScopeError::EmptySegment));
        assert!(matches!(
            Scope::parse("NL", 6),
            Err(ScopeError::BadSegment(_))
        ));
        assert!(matches!(
            Scope::parse("nl/-x", 6),
            Err(ScopeError::BadSegment(_))
        ));
        assert!(matches!(
            Scope::parse("nl/a b", 6),
            Err(ScopeError::BadSegment(_))
        ));
        assert_eq!(
            Scope::parse("a/b/c/d/e/f/g", 6),
            Err(ScopeError::TooDeep(6))
        );
        assert!(matches!(
            Scope::parse(&"a".repeat(33), 6),
            Err(ScopeError::SegmentTooLong(_))
        ));
    }

    #[test]
    fn containment_is_by_segment() {
        assert!(s("nl/amsterdam").contains(&s("nl/amsterdam/oost")));
        assert!(s("nl/amsterdam").contains(&s("nl/amsterdam")));
        assert!(!s("nl/amsterdam").contains(&s("nl/amsterdamse-bos")));
        assert!(!s("nl/amsterdam/oost").contains(&s("nl/amsterdam")));
    }

    #[test]
    fn coverage_runs_up_and_down_one_path() {
        let cert = s("nl/amsterdam/oost");
        assert!(cert.covers(&s("nl/amsterdam/oost")));
        assert!(cert.covers(&s("nl")));
        assert!(cert.covers(&s("nl/amsterdam/oost/dapperbuurt")));
        assert!(!cert.covers(&s("nl/amsterdam/west")));
        assert!(!cert.covers(&s("be")));
    }

    #[test]
    fn ancestors() {
        let a: Vec<String> = s("nl/amsterdam/oost")
            .self_and_ancestors()
            .iter()
            .map(|x| x.to_string())
            .collect();
        assert_eq!(a, ["nl/amsterdam/oost", "nl/amsterdam", "nl"]);
    }
}
