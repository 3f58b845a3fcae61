//! `buurt agreements`: a member's agreements, each with its next step and
//! whose it is, overdue returns and problems; the member's own listings
//! follow their agreements on every look.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use buurt_node::clock::{now, rfc3339};
use buurt_node::datadir::DataDir;
use buurt_protocol::agreement::{Agreement, Stage};
use buurt_protocol::{keys, MemberId};
use serde::{Deserialize, Serialize};

use super::agree::{follow_listing, hours, load};
use super::inbox::short;
use super::print_json;
use crate::compose;
use crate::letters::conversation_id;
use crate::output;
use crate::Cli;

/// An agreement as `buurt agreements` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgreementView {
    pub id: String,
    pub listing: String,
    pub conversation: String,
    /// The other member.
    pub with: String,
    /// Whether this member proposed it.
    pub proposed: bool,
    pub exchange: String,
    /// proposed, accepted, underway, completed, declined or cancelled.
    pub stage: String,
    /// What the next step is, and whose.
    pub next: String,
    pub from: Option<String>,
    pub until: Option<String>,
    pub price: Option<String>,
    pub deposit: Option<String>,
    /// Hours foreseen; and as each member recorded them with `done`.
    pub hours: Option<String>,
    pub hours_done: BTreeMap<String, String>,
    pub note: String,
    pub overdue: bool,
    pub problems: Vec<String>,
    pub proposed_at: String,
    pub events: usize,
}

pub(super) fn view(a: &Agreement, me: &MemberId, t: i64) -> AgreementView {
    let p = &a.proposal;
    let other = if *me == a.proposer {
        p.with
    } else {
        a.proposer
    };
    let step = if a.is_help() {
        "handover (started)"
    } else {
        "handover"
    };
    let end = if a.comes_back() { "return" } else { "done" };
    let next = match a.stage {
        Stage::Proposed if *me == a.proposer => "waiting for them to accept or decline".into(),
        Stage::Proposed => "yours: accept or decline".into(),
        Stage::Accepted if !a.handed.contains(me) => format!("yours: {step}"),
        Stage::Accepted => format!("waiting for them to confirm the {step}"),
        Stage::Underway if !a.finished.contains(me) => format!("yours: {end}"),
        Stage::Underway => format!("waiting for them to confirm: {end}"),
        Stage::Completed => "completed: you may thank them (`buurt thank`)".into(),
        Stage::Declined | Stage::Cancelled => "ended".into(),
    };
    let overdue =
        a.comes_back() && p.until > 0 && p.until < t && matches!(a.stage, Stage::Underway);
    AgreementView {
        id: a.id.to_hex(),
        listing: p.listing.to_string(),
        conversation: conversation_id(&p.listing, me, &other),
        with: other.to_string(),
        proposed: *me == a.proposer,
        exchange: p.exchange.to_string(),
        stage: a.stage.as_str().into(),
        next,
        from: (p.from > 0).then(|| rfc3339(p.from)),
        until: (p.until > 0).then(|| rfc3339(p.until)),
        price: p.price.as_ref().map(compose::show_money),
        deposit: p.deposit.as_ref().map(compose::show_money),
        hours: (p.minutes > 0).then(|| hours(p.minutes)),
        hours_done: a
            .minutes
            .iter()
            .map(|(m, v)| (m.to_string(), hours(*v)))
            .collect(),
        note: p.note.clone(),
        overdue,
        problems: a
            .problems
            .iter()
            .map(|(m, at, n)| format!("{} by {}: {n}", rfc3339(*at), short(&m.to_string())))
            .collect(),
        proposed_at: rfc3339(a.proposed_at),
        events: a.events.len(),
    }
}

/// `buurt agreements`: the running ones (all with `--all`), newest first.
pub fn list(cli: &Cli, dir: &DataDir, all: bool) -> Result<()> {
    let ctx = load(cli, dir)?;
    let me = keys::member_id(&ctx.key);
    let t = now();
    // The member's own listings follow their agreements.
    let mut done = BTreeSet::new();
    for a in &ctx.list {
        let last = a.events.last().map_or(0, |e| e.event.at);
        let recent = !a.stage.is_closed() || t - last < 90 * 86_400;
        if recent && done.insert(a.proposal.listing) {
            let _ = follow_listing(cli, dir, &me, a, &ctx.list);
        }
    }
    // The member's agreements count in the node's impact figures, unless
    // they opted out; a failure here is no reason to fail the listing.
    if let Err(e) = super::impact::report_agreements(cli, dir, &ctx.list, &ctx.all) {
        tracing::debug!("impact report: {e}");
    }
    let mut views: Vec<AgreementView> = ctx
        .list
        .iter()
        .filter(|a| all || !a.stage.is_closed())
        .map(|a| view(a, &me, t))
        .collect();
    views.sort_by(|a, b| b.proposed_at.cmp(&a.proposed_at));
    if cli.json {
        return print_json(&views);
    }
    if views.is_empty() {
        println!(
            "{}",
            if all {
                "No agreements yet: `buurt propose LISTING` proposes one."
            } else {
                "No running agreements (`--all` shows the ended ones too)."
            }
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            vec![
                v.id[..12].to_owned(),
                short(&v.listing),
                short(&v.with),
                v.exchange.clone(),
                if v.overdue {
                    format!("{} OVERDUE", v.stage)
                } else {
                    v.stage.clone()
                },
                v.next.clone(),
            ]
        })
        .collect();
    output::table(
        &["AGREEMENT", "LISTING", "WITH", "EXCHANGE", "STAGE", "NEXT"],
        &rows,
    );
    for v in views.iter().filter(|v| v.overdue) {
        println!(
            "\nReminder: {} was due back {}: `buurt return {}` once it is.",
            short(&v.listing),
            v.until.as_deref().unwrap_or("?"),
            &v.id[..12]
        );
    }
    for v in &views {
        for p in &v.problems {
            println!("\nProblem with {}: {p}", &v.id[..12]);
        }
    }
    Ok(())
}
