//! The keys `config.toml` may hold, read off the code: [`FileConfig`]'s
//! defaults serialized to a TOML table and walked. A field added to the
//! struct is a key here at once, so the checker and `buurt config show`
//! cannot drift from what the node reads.

use super::FileConfig;

/// The kind of value a key takes, as TOML names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Float,
    Boolean,
    Datetime,
    Array,
    Table,
}

impl Kind {
    pub fn of(v: &toml::Value) -> Kind {
        match v {
            toml::Value::String(_) => Kind::String,
            toml::Value::Integer(_) => Kind::Integer,
            toml::Value::Float(_) => Kind::Float,
            toml::Value::Boolean(_) => Kind::Boolean,
            toml::Value::Datetime(_) => Kind::Datetime,
            toml::Value::Array(_) => Kind::Array,
            toml::Value::Table(_) => Kind::Table,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Float => "float",
            Kind::Boolean => "boolean",
            Kind::Datetime => "datetime",
            Kind::Array => "array",
            Kind::Table => "table",
        }
    }

    /// "an integer", "a string": for messages.
    pub fn with_article(self) -> String {
        let s = self.as_str();
        let article = if s.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {s}")
    }
}

/// One key of `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Dotted from the top: `scope`, `limits.max_tags`.
    pub path: String,
    pub kind: Kind,
}

/// The defaults with every optional key given a value, so that each
/// serializes (an unset `board` is left out of the TOML otherwise).
pub(super) fn template() -> FileConfig {
    FileConfig {
        board: Some(false),
        ..FileConfig::default()
    }
}

/// `file` as a TOML table (empty if it does not serialize, which a struct
/// of strings, numbers, lists and tables always does).
pub(super) fn table_of(file: &FileConfig) -> toml::Table {
    match toml::Value::try_from(file) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    }
}

/// Every key `config.toml` may hold: the tables (`limits`) and the keys
/// in them (`limits.max_tags`), each table before its keys.
pub fn keys() -> Vec<Key> {
    let mut out = Vec::new();
    walk(&table_of(&template()), "", &mut |path, v| {
        out.push(Key {
            path: path.to_owned(),
            kind: Kind::of(v),
        });
    });
    out
}

/// Calls `f` with the dotted path and value of every key of `table`,
/// tables first, then descending into them; arrays are values.
pub(super) fn walk(table: &toml::Table, prefix: &str, f: &mut dyn FnMut(&str, &toml::Value)) {
    for (k, v) in table {
        let path = dotted(prefix, k);
        f(&path, v);
        if let toml::Value::Table(t) = v {
            walk(t, &path, f);
        }
    }
}

pub(super) fn dotted(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_a_key() {
        let keys = keys();
        let has = |p: &str| keys.iter().any(|k| k.path == p);
        for p in [
            "scope",
            "board",
            "mail",
            "mail.keep_days",
            "limits.max_listing_bytes",
            "rate_limits.peer_per_second",
        ] {
            assert!(has(p), "{p} missing from {keys:?}");
        }
        assert!(keys
            .iter()
            .any(|k| k.path == "limits" && k.kind == Kind::Table));
        assert_eq!(Kind::Integer.with_article(), "an integer");
    }
}
