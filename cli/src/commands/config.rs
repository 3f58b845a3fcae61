//! `config check` and `config show`: the node's `config.toml` checked key
//! by key, and the configuration a node runs with, with where each value
//! came from. The work is `buurt_node::config::{check, explain}`; this
//! prints it.

use std::path::Path;

use anyhow::{bail, Result};
use buurt_node::config::{self, FileConfig};
use buurt_node::datadir::DataDir;
use serde_json::json;

use super::{node, print_json};
use crate::{Cli, ConfigAction, NetArgs};

pub fn run(cli: &Cli, dir: &DataDir, action: &ConfigAction) -> Result<()> {
    match action {
        ConfigAction::Check { file } => check(cli, dir, file.as_deref()),
        ConfigAction::Show { net } => show(cli, dir, net),
    }
}

/// Prints `PATH: ok`, or each problem (on stderr) and fails.
fn check(cli: &Cli, dir: &DataDir, file: Option<&Path>) -> Result<()> {
    let path = file
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.config_path());
    let shown = path.display();
    let Some(text) = FileConfig::read(&path)? else {
        if file.is_some() {
            bail!("{shown}: no such file");
        }
        if cli.json {
            return print_json(&json!({ "file": path, "exists": false, "ok": true, "errors": [] }));
        }
        println!("{shown}: absent; a node runs with the defaults");
        return Ok(());
    };
    let problems = config::check(&text);
    if cli.json {
        let errors: Vec<_> = problems
            .iter()
            .map(|p| {
                json!({
                    "key": p.key, "line": p.line, "suggestion": p.suggestion,
                    "message": p.to_string(),
                })
            })
            .collect();
        print_json(&json!({
            "file": path, "exists": true, "ok": problems.is_empty(), "errors": errors,
        }))?;
    } else if problems.is_empty() {
        println!("{shown}: ok");
    } else {
        for p in &problems {
            eprintln!("{shown}: {p}");
        }
    }
    match problems.len() {
        0 => Ok(()),
        1 => bail!("{shown}: 1 error"),
        n => bail!("{shown}: {n} errors"),
    }
}

/// Every key with its value and source: a table, or with `--json` an
/// object by key of `{"value", "source"}`.
fn show(cli: &Cli, dir: &DataDir, net: &NetArgs) -> Result<()> {
    let path = dir.config_path();
    let settings = config::explain(&path, &node::overrides(cli, net))?;
    let exists = path.exists();
    if cli.json {
        let mut by_key = serde_json::Map::new();
        for s in &settings {
            let value = serde_json::to_value(&s.value)?;
            by_key.insert(s.key.clone(), json!({ "value": value, "source": s.source }));
        }
        return print_json(&json!({ "file": path, "exists": exists, "settings": by_key }));
    }
    let file = if exists { "" } else { " (absent)" };
    println!("{}{file}", path.display());
    let rows: Vec<Vec<String>> = settings
        .iter()
        .map(|s| {
            vec![
                s.key.clone(),
                s.value.to_string(),
                s.source.as_str().to_owned(),
            ]
        })
        .collect();
    crate::output::table(&["KEY", "VALUE", "SOURCE"], &rows);
    Ok(())
}
