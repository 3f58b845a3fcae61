//! `buurt impact` (operator): what sharing did for the neighbourhood, as
//! the node publishes it — never a member id, a text, a place or a time
//! finer than a month, and a cell only with at least 10 residents behind it
//! (docs/operator.md, "For municipalities").

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use buurt_node::datadir::DataDir;
use buurt_node::impact::Report;

use buurt_node::api::impact::{ImpactAnswer, ImpactBody, ImpactCall};
use buurt_node::impact::{AgreementReport, Reached};
use buurt_protocol::agreement::{Action, Agreement, Stage};
use buurt_protocol::calendar::day_of;
use buurt_protocol::mail::mailbox::Op;
use buurt_protocol::MemberId;
use sha2::{Digest, Sha256};

use super::mail::signed_request;
use super::{client, member};
use crate::letters::Opened;
use crate::Cli;

/// Sends one call about the member's part in the figures.
fn call(cli: &Cli, dir: &DataDir, call: &ImpactCall) -> Result<ImpactAnswer> {
    let (key, _) = member(cli, dir)?;
    let text = serde_json::to_string(call)?;
    let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    let body = ImpactBody {
        request: signed_request(&key, Op::Call { digest })?,
        call: text,
    };
    client(cli, dir)?.post("/v1/impact", &body)
}

/// What the ledger is told of one agreement: how far it got, the days,
/// the hours; nothing of what was said. `None` for one never accepted.
fn report_of(
    a: &Agreement,
    me: &MemberId,
    home: &buurt_protocol::NodeId,
    letters: &[Opened],
) -> Option<AgreementReport> {
    let reached = match a.stage {
        Stage::Completed => Reached::Completed,
        Stage::Accepted | Stage::Underway => Reached::Accepted,
        _ => return None,
    };
    let accepted = a
        .events
        .iter()
        .find(|e| matches!(e.event.action, Action::Accept))
        .map(|e| day_of(e.event.at))?;
    let completed = (reached == Reached::Completed)
        .then(|| a.events.last().map(|e| day_of(e.event.at)))
        .flatten();
    let other = if *me == a.proposer {
        a.proposal.with
    } else {
        a.proposer
    };
    // Their home node, from a letter of theirs.
    let across = letters
        .iter()
        .find(|o| o.from == other.to_string())
        .is_some_and(|o| o.from_node != home.to_string());
    Some(AgreementReport {
        agreement: a.id.to_hex(),
        listing: a.proposal.listing,
        proposer: a.proposer,
        other: a.proposal.with,
        reached,
        accepted,
        completed,
        minutes: a
            .minutes
            .values()
            .copied()
            .max()
            .unwrap_or(0)
            .min(u64::from(u32::MAX)) as u32,
        exchange: a.proposal.exchange.as_str().to_owned(),
        group: a.proposal.group.clone(),
        across_nodes: across,
    })
}

/// Reports the member's agreements to their home node for the impact
/// figures (quietly: a node that keeps none, or a member who opted out,
/// takes none). Called whenever the member's agreements are loaded.
pub(super) fn report_agreements(
    cli: &Cli,
    dir: &DataDir,
    list: &[Agreement],
    letters: &[Opened],
) -> Result<usize> {
    let (key, cert) = member(cli, dir)?;
    let me = buurt_protocol::keys::member_id(&key);
    let agreements: Vec<AgreementReport> = list
        .iter()
        .filter_map(|a| report_of(a, &me, &cert.node, letters))
        .take(buurt_node::api::impact::MAX_REPORTS)
        .collect();
    if agreements.is_empty() {
        return Ok(0);
    }
    Ok(call(cli, dir, &ImpactCall::Agreements { agreements })?.taken)
}

/// `buurt impact --opt-out` / `--opt-in`, by a member.
pub fn consent(cli: &Cli, dir: &DataDir, out: bool) -> Result<()> {
    let a = call(cli, dir, &ImpactCall::OptOut { out })?;
    if cli.json {
        return super::print_json(&a);
    }
    if a.opted_out {
        println!("You are out of this node's impact figures: none of your agreements counts (`buurt impact --opt-in` to count again).");
    } else {
        println!("Your agreements count in this node's impact figures again (never with your name; `--opt-out` to leave).");
    }
    Ok(())
}

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
    if a.opt_out || a.opt_in {
        return consent(cli, dir, a.opt_out);
    }
    if a.report {
        let ctx = super::agree::load(cli, dir)?;
        let taken = report_agreements(cli, dir, &ctx.list, &ctx.all)?;
        if cli.json {
            return super::print_json(&serde_json::json!({ "taken": taken }));
        }
        println!("Your node took {taken} of your agreements for its impact figures (never with your name).");
        return Ok(());
    }
    let c = client(cli, dir)?;
    let mut q = Vec::new();
    for (k, v) in [
        ("since", &a.since),
        ("until", &a.until),
        ("by", &a.by),
        ("scope", &a.scope),
    ] {
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
        "svg" => buurt_node::impact::plot::svg(&r)
            .map_err(|e| anyhow::anyhow!("drawing the plot: {e}"))?,
        other => bail!("--format: `{other}` is not table, json, csv or svg"),
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
