//! `config.toml` checked key by key, for `buurt config check` and for the
//! message of a node that refuses its file: every unknown key with the
//! nearest valid one, every value of the wrong type, and what validation
//! refuses, each with its line.
//!
//! The valid keys are those of [`FileConfig`] itself (see `keys.rs`); a
//! value is tried by deserializing a file that holds only it, so that its
//! error is the one serde gives for exactly that key.

use std::fmt;

use super::keys::{self, Kind};
use super::{Config, ConfigError, FileConfig, Overrides};

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key it is about, dotted (`limits.max_tags`), when it is about
    /// one.
    pub key: Option<String>,
    /// The line it is on (from 1), when known.
    pub line: Option<usize>,
    /// For an unknown key: the nearest valid one, when one is near.
    pub suggestion: Option<String>,
    /// What is wrong, without the key and line.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self
            .line
            .map(|l| format!(" at line {l}"))
            .unwrap_or_default();
        match (&self.key, &self.suggestion) {
            (Some(k), Some(s)) => write!(f, "{} {k}{at}; did you mean {s}?", self.message),
            (Some(k), None) if self.message == UNKNOWN => write!(f, "{UNKNOWN} {k}{at}"),
            (Some(k), None) => write!(f, "{k}{at}: {}", self.message),
            (None, _) => write!(f, "{}{at}", self.message),
        }
    }
}

const UNKNOWN: &str = "unknown key";

/// Everything wrong with the text of a `config.toml`; empty when a node
/// would run with it.
pub fn check(text: &str) -> Vec<Problem> {
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            return vec![Problem {
                key: None,
                line: e.span().map(|s| line_of(text, s.start)),
                suggestion: None,
                message: format!("syntax error: {}", e.message().trim()),
            }]
        }
    };
    let lines = Lines::new(text);
    let template = keys::table_of(&keys::template());
    let known: Vec<String> = keys::keys().into_iter().map(|k| k.path).collect();
    let mut problems = Vec::new();
    let mut path = Vec::new();
    walk(&table, &template, &mut path, &known, &lines, &mut problems);
    problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    if problems.is_empty() {
        // Every value has the right type; validation may still refuse one.
        let refused = toml::Value::Table(table)
            .try_into::<FileConfig>()
            .map_err(|e| (None, e.message().trim().to_owned()))
            .and_then(|f| {
                Config::build(f, Overrides::default()).map_err(|e| match e {
                    ConfigError::Invalid { field, message } => (Some(field.to_owned()), message),
                    other => (None, other.to_string()),
                })
            });
        if let Err((key, message)) = refused {
            problems.push(Problem {
                line: key.as_deref().and_then(|k| lines.of(k)),
                key,
                suggestion: None,
                message,
            });
        }
    }
    problems
}

/// Checks the keys of `file` (at `path`) against those of `template`.
fn walk(
    file: &toml::Table,
    template: &toml::Table,
    path: &mut Vec<String>,
    known: &[String],
    lines: &Lines,
    out: &mut Vec<Problem>,
) {
    for (k, v) in file {
        path.push(k.clone());
        let key = path.join(".");
        let line = lines.of(&key);
        match template.get(k) {
            None => out.push(Problem {
                suggestion: nearest(&key, known),
                key: Some(key),
                line,
                message: UNKNOWN.into(),
            }),
            Some(toml::Value::Table(t)) if v.is_table() => {
                if let toml::Value::Table(inner) = v {
                    walk(inner, t, path, known, lines, out);
                }
            }
            Some(expected) if Kind::of(expected) != Kind::of(v) => out.push(Problem {
                key: Some(key),
                line,
                suggestion: None,
                message: format!(
                    "expected {}, found {}",
                    Kind::of(expected).with_article(),
                    Kind::of(v).with_article()
                ),
            }),
            Some(_) => {
                if let Err(message) = value_alone(path, v) {
                    out.push(Problem {
                        key: Some(key),
                        line,
                        suggestion: None,
                        message,
                    });
                }
            }
        }
        path.pop();
    }
}

/// Deserializes a file that holds only `value` at `path`: serde's word on
/// that one value (a number out of range, a policy that is none).
fn value_alone(path: &[String], value: &toml::Value) -> Result<(), String> {
    let mut v = value.clone();
    for k in path.iter().rev() {
        let mut t = toml::Table::new();
        t.insert(k.clone(), v);
        v = toml::Value::Table(t);
    }
    v.try_into::<FileConfig>()
        .map(|_| ())
        .map_err(|e| e.message().trim().to_owned())
}

/// The valid key nearest to `key`: within a few edits of the whole dotted
/// path, else one with the same last part in another table
/// (`max_tags` → `limits.max_tags`).
fn nearest(key: &str, known: &[String]) -> Option<String> {
    let best = known
        .iter()
        .map(|k| (distance(key, k), k))
        .min_by_key(|(d, _)| *d)?;
    let len = key.chars().count();
    let near = if len <= 3 { 1 } else { 2.max(len / 3) };
    if best.0 <= near {
        return Some(best.1.clone());
    }
    let last = |k: &str| k.rsplit('.').next().unwrap_or(k).to_owned();
    let mine = last(key);
    known
        .iter()
        .map(|k| (distance(&mine, &last(k)), k))
        .filter(|(d, _)| *d <= 1)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone())
}

/// Edit distance: insertions, deletions, substitutions and swaps of two
/// neighbouring characters (`mdsn` is one edit from `mdns`).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Where each key of a file is, from the parser's spans.
struct Lines<'t> {
    text: &'t str,
    table: Option<toml::de::DeTable<'t>>,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Lines<'t> {
        Lines {
            text,
            table: toml::de::DeTable::parse(text).ok().map(|t| t.into_inner()),
        }
    }

    /// The line of the dotted key `key` (of its last part).
    fn of(&self, key: &str) -> Option<usize> {
        let mut table = self.table.as_ref()?;
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            let (k, v) = table.iter().find(|(k, _)| k.get_ref().as_ref() == part)?;
            if parts.peek().is_none() {
                return Some(line_of(self.text, k.span().start));
            }
            table = v.get_ref().as_table()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> String {
        let p = check(text);
        assert_eq!(p.len(), 1, "{p:?}");
        p[0].to_string()
    }

    #[test]
    fn a_good_file_has_no_problems() {
        assert_eq!(check(""), vec![]);
        let f = FileConfig::default().to_toml();
        assert_eq!(check(&f), vec![]);
    }

    #[test]
    fn unknown_keys_name_the_nearest() {
        let text = "scope = \"nl\"\n\n[limits]\nmax_listing_byte = 4096\n";
        assert_eq!(
            one(text),
            "unknown key limits.max_listing_byte at line 4; did you mean limits.max_listing_bytes?"
        );
        assert_eq!(
            one("max_tags = 3"),
            "unknown key max_tags at line 1; did you mean limits.max_tags?"
        );
        assert_eq!(
            one("[limitz]\nmax_tags = 3"),
            "unknown key limitz at line 1; did you mean limits?"
        );
        assert_eq!(one("colour = 1"), "unknown key colour at line 1");
        let both = check("scoop = 1\nmdsn = true\n");
        assert_eq!(both.len(), 2, "{both:?}");
        assert_eq!(both[0].suggestion.as_deref(), Some("scope"));
        assert_eq!(both[1].suggestion.as_deref(), Some("mdns"));
    }

    #[test]
    fn types_and_values_name_the_key() {
        assert_eq!(
            one("\n[rate_limits]\nauthor_per_day = \"many\""),
            "rate_limits.author_per_day at line 3: expected an integer, found a string"
        );
        let e = one("policy = \"webb\"");
        assert!(e.starts_with("policy at line 1: "), "{e}");
        assert!(e.contains("webb"), "{e}");
        let e = one("trust_depth = 300");
        assert!(e.starts_with("trust_depth at line 1: "), "{e}");
        assert_eq!(
            one("a = 1\ntrust_depth = 9"),
            "unknown key a at line 1".to_owned()
        );
        assert_eq!(
            one("name = \"x\"\ntrust_depth = 9"),
            "trust_depth at line 2: must be between 1 and 6"
        );
        let e = one("scope = \"nl\"\nname = ");
        assert!(e.starts_with("syntax error"), "{e}");
        assert!(e.ends_with("at line 2"), "{e}");
    }
}
