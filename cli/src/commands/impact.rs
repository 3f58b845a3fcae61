//! `buurt impact` (operator): what sharing did for the neighbourhood, as
//! the node publishes it — never a member id, a text, a place or a time
//! finer than a month, and a cell only with at least 10 residents behind it
//! (docs/operator.md, "For municipalities").

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use buurt_node::datadir::DataDir;
use buurt_node::impact::Report;

use super::client;
use crate::Cli;

/// The figures as text: a table per table, `–` where the rules hide a cell.
fn table(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "buurt impact, {} to {}, by {:?}",
        r.since, r.until, r.by
    );
    let _ = writeln!(out, "Rules: {}.", r.rules_text);
    let mut tables: BTreeMap<&str, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
    for f in &r.figures {
        let (rows, cols) = tables.entry(&f.table).or_default();
        if !rows.contains(&f.row.as_str()) {
            rows.push(&f.row);
        }
        if !cols.contains(&f.column.as_str()) {
            cols.push(&f.column);
        }
    }
    for (name, (rows, cols)) in &tables {
        let _ = writeln!(out, "\n{name}");
        let width = rows.iter().map(|r| r.len()).max().unwrap_or(4).max(5);
        let mut head = format!("  {:<width$}", "");
        for c in cols {
            let _ = write!(head, "  {c:>w$}", w = c.len().max(6));
        }
        let _ = writeln!(out, "{head}");
        for row in rows {
            let mut line = format!("  {row:<width$}");
            for c in cols {
                let v = r
                    .figures
                    .iter()
                    .find(|f| f.table == *name && f.row == *row && f.column == *c)
                    .and_then(|f| f.value)
                    .map_or("–".to_owned(), |v| v.to_string());
                let _ = write!(line, "  {v:>w$}", w = c.len().max(6));
            }
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// One line per figure, with a header, RFC 4180 quoting.
fn csv(r: &Report) -> String {
    let q = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::from("table,row,column,value,suppressed\n");
    for f in &r.figures {
        let _ = writeln!(
            out,
            "{},{},{},{},{}",
            q(&f.table),
            q(&f.row),
            q(&f.column),
            f.value.map(|v| v.to_string()).unwrap_or_default(),
            q(f.suppressed.as_deref().unwrap_or_default())
        );
    }
    let _ = writeln!(out, "rules,,,,{}", q(&r.rules_text));
    out
}

pub fn impact(cli: &Cli, dir: &DataDir, a: &crate::ImpactArgs) -> Result<()> {
    let c = client(cli, dir)?;
    let mut q = Vec::new();
    for (k, v) in [("since", &a.since), ("until", &a.until), ("by", &a.by)] {
        if let Some(v) = v {
            q.push((k, v.clone()));
        }
    }
    let r: Report = c.get("/v1/admin/impact", &q)?;
    let format = if cli.json { "json" } else { a.format.as_str() };
    let text = match format {
        "json" => serde_json::to_string_pretty(&r)? + "\n",
        "csv" => csv(&r),
        "table" => table(&r),
        other => bail!("--format: `{other}` is not table, json or csv"),
    };
    match &a.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("Wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}
