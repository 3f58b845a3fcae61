//! The configuration a node runs with, key by key, with where each value
//! came from: the defaults, `config.toml`, or a flag of `buurt node`. For
//! `buurt config show`; the merge is [`Overrides::apply`], the same that
//! [`Config::build`] makes.

use std::path::Path;

use serde::Serialize;

use super::keys;
use super::{Config, ConfigError, FileConfig, Overrides};

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Neither the file nor a flag sets it: the built-in default (for an
    /// unset `board`, what the API address implies).
    Default,
    /// `config.toml`.
    File,
    /// A flag: `buurt node`'s, or the global `--api`.
    Flag,
    /// A list in the file that flags added to (`peers`, `hubs`).
    FileAndFlag,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File => "file",
            Source::Flag => "flag",
            Source::FileAndFlag => "file+flag",
        }
    }
}

/// One key of the effective configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// Dotted: `limits.max_tags`.
    pub key: String,
    pub value: toml::Value,
    pub source: Source,
}

/// Reads `path` (a missing file: the defaults), applies the flags `o`,
/// validates the result as a node would, and gives every key (tables left
/// out, their keys given) with its value and source.
pub fn explain(path: &Path, o: &Overrides) -> Result<Vec<Setting>, ConfigError> {
    let (file, present) = match FileConfig::read(path)? {
        Some(text) => {
            let file = FileConfig::parse(&text, path)?;
            let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.display().to_string(),
                message: e.message().trim().to_owned(),
            })?;
            let mut present = Vec::new();
            keys::walk(&table, "", &mut |k, _| present.push(k.to_owned()));
            (file, present)
        }
        None => (FileConfig::default(), Vec::new()),
    };
    let listed = |k: &str| match k {
        "peers" => !file.peers.is_empty(),
        "hubs" => !file.hubs.is_empty(),
        _ => false,
    };
    let listed: Vec<&str> = ["peers", "hubs"]
        .into_iter()
        .filter(|k| listed(k))
        .collect();
    let (merged, flagged) = o.apply(file);
    let config = Config::build(merged.clone(), Overrides::default())?;
    let shown = FileConfig {
        board: Some(config.board),
        ..merged
    };
    let mut out = Vec::new();
    keys::walk(&keys::table_of(&shown), "", &mut |k, v| {
        if v.is_table() {
            return;
        }
        let by_flag = flagged.contains(&k);
        let in_file = present.iter().any(|p| p == k);
        let source = match (by_flag, in_file) {
            (true, true) if listed.contains(&k) => Source::FileAndFlag,
            (true, _) => Source::Flag,
            (false, true) => Source::File,
            (false, false) => Source::Default,
        };
        out.push(Setting {
            key: k.to_owned(),
            value: v.clone(),
            source,
        });
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source_of(s: &[Setting], key: &str) -> (Source, String) {
        let s = s.iter().find(|s| s.key == key).expect(key);
        (s.source, s.value.to_string())
    }

    #[test]
    fn each_value_names_where_it_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "scope = \"nl/utrecht\"\npeers = [\"/ip4/192.0.2.1/tcp/4001\"]\n[limits]\nmax_tags = 5\n",
        )
        .unwrap();
        let o = Overrides {
            api: Some("127.0.0.1:9000".into()),
            peers: vec!["/ip4/192.0.2.2/tcp/4001".into()],
            no_mdns: true,
            ..Default::default()
        };
        let s = explain(&path, &o).unwrap();
        assert_eq!(source_of(&s, "scope").0, Source::File);
        assert_eq!(source_of(&s, "limits.max_tags"), (Source::File, "5".into()));
        assert_eq!(source_of(&s, "limits.max_topics").0, Source::Default);
        assert_eq!(source_of(&s, "api").0, Source::Flag);
        assert_eq!(source_of(&s, "mdns"), (Source::Flag, "false".into()));
        assert_eq!(source_of(&s, "peers").0, Source::FileAndFlag);
        assert_eq!(source_of(&s, "board"), (Source::Default, "true".into()));
        assert!(!s.iter().any(|s| s.key == "limits"));
        let none = explain(&dir.path().join("absent.toml"), &Overrides::default()).unwrap();
        assert!(none.iter().all(|s| s.source == Source::Default));
    }
}
