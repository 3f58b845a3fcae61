//! Reports: a resident's letter to the operator of a listing's home node,
//! and the operator's `buurt reports`, one row per listing.

use anyhow::{anyhow, bail, Result};
use buurt_node::api::mail::{ReplyKeyAnswer, Sealed, SendAnswer, SendBody};
use buurt_node::clock::{now, rfc3339};
use buurt_node::datadir::{random_bytes, DataDir};
use buurt_protocol::keys;
use buurt_protocol::mail::mailbox::Op;
use buurt_protocol::mail::{Envelope, Letter, ReplyKey};
use buurt_protocol::ListingId;
use serde::Serialize;

use super::inbox::short;
use super::mail::{reply_key, signed_request, sync, REPORT_PREFIX, REPORT_REASONS};
use super::{client, member, post, print_json};
use crate::letters::{Letters, Opened};
use crate::output;
use crate::Cli;

#[derive(Serialize)]
struct ReportSent<'a> {
    listing: String,
    operator: String,
    home_node: String,
    state: &'a str,
    detail: &'a str,
    id: &'a str,
}

/// `buurt report ID REASON`: a letter to the operator of the listing's
/// home node, sealed to the operator's reply key like a reply.
pub fn report(cli: &Cli, dir: &DataDir, id: &str, reason: &str, note: &str) -> Result<()> {
    let reason = reason.trim().to_ascii_lowercase();
    if !REPORT_REASONS.contains(&reason.as_str()) {
        bail!("the reason must be one of {}", REPORT_REASONS.join(", "));
    }
    let (key, cert) = member(cli, dir)?;
    let me = keys::member_id(&key);
    let c = client(cli, dir)?;
    let letters = Letters::new(dir);
    let mut state = letters.state()?;
    let (v, signed) = post::fetch(&c, id)?;
    let l = signed.listing;
    if l.author == me {
        bail!(
            "listing {} is your own: withdraw it with `buurt withdraw`",
            v.id
        );
    }
    if state.reported.contains(&v.id) {
        bail!(
            "you reported listing {} already; a member reports a listing once",
            v.id
        );
    }
    let home = l.certificate.node;
    let a: ReplyKeyAnswer = c.get(
        "/v1/members/operator/reply-key",
        &[("node", home.to_string())],
    )?;
    let bytes =
        hex::decode(&a.record).map_err(|_| anyhow!("the node sent a reply key that is not hex"))?;
    let to = ReplyKey::verify(&bytes, now())
        .map_err(|e| anyhow!("the reply key of {home}'s operator does not verify: {e}"))?;
    if to.certificate.node != home {
        bail!("the key sent for {home}'s operator is of a member of another node");
    }
    reply_key(&c, &letters, &key, &cert, false)?;
    let listing: ListingId =
        v.id.parse()
            .map_err(|_| anyhow!("bad listing id from the node"))?;
    let t = now();
    let letter = Letter {
        listing,
        to: to.member,
        created_at: t,
        text: format!("{REPORT_PREFIX}{reason}\n{}", note.trim()),
        certificate: cert.clone(),
        reply_key: hex::decode(letters.current_key(&key, &cert, t)?.0.record)?,
    }
    .sign(&key)?;
    let envelopes = vec![Envelope::seal_unsigned(
        &letter,
        &to,
        home,
        listing,
        t,
        random_bytes::<32>()?,
    )?];
    let digest = Envelope::send_digest(&envelopes)?;
    let body = SendBody {
        request: signed_request(&key, Op::Send { digest })?,
        envelopes: envelopes.iter().map(Sealed::from_envelope).collect(),
        wait_ms: None,
    };
    let answer: SendAnswer = c.post("/v1/mail", &body)?;
    let first = answer
        .sent
        .first()
        .ok_or_else(|| anyhow!("the node sent no delivery state"))?;
    if first.state != "failed" {
        state.reported.insert(v.id.clone());
        letters.save_state(&state)?;
    }
    if cli.json {
        return print_json(&ReportSent {
            listing: v.id.clone(),
            operator: to.member.to_string(),
            home_node: home.to_string(),
            state: &first.state,
            detail: &first.detail,
            id: &first.id,
        });
    }
    println!(
        "Reported listing {} ({reason}) to the operator of {home}: {}.",
        v.id, first.detail
    );
    if first.state == "failed" {
        std::process::exit(1);
    }
    Ok(())
}

/// Reports of one listing, as `buurt reports` lists them.
#[derive(Debug, Clone, Serialize)]
pub struct ReportView {
    pub listing: String,
    /// Distinct members who reported it.
    pub reporters: usize,
    /// How many reporters gave each reason.
    pub reasons: std::collections::BTreeMap<String, usize>,
    /// The reporters' home nodes.
    pub from_nodes: Vec<String>,
    pub notes: Vec<String>,
    /// The newest report (RFC 3339).
    pub last_at: String,
}

/// `buurt reports`: the reports in this member's (the operator's) mailbox,
/// one row per listing, each reporter counted once.
pub fn reports(cli: &Cli, dir: &DataDir) -> Result<()> {
    let (_, _, all, _, _) = sync(cli, dir)?;
    let mut by: std::collections::BTreeMap<&str, Vec<&Opened>> = Default::default();
    for o in all.iter().filter(|o| o.text.starts_with(REPORT_PREFIX)) {
        by.entry(o.listing.as_str()).or_default().push(o);
    }
    let mut list: Vec<ReportView> = by
        .into_iter()
        .map(|(listing, mut rs)| {
            // A member's first report counts; later ones are the same report.
            rs.sort_by_key(|o| (o.created_at, o.seq));
            let mut seen = std::collections::BTreeSet::new();
            rs.retain(|o| seen.insert(o.from.clone()));
            let mut reasons = std::collections::BTreeMap::new();
            let mut nodes = std::collections::BTreeSet::new();
            let mut notes = Vec::new();
            for o in &rs {
                let body = &o.text[REPORT_PREFIX.len()..];
                let (reason, note) = body.split_once('\n').unwrap_or((body, ""));
                *reasons.entry(reason.to_owned()).or_insert(0) += 1;
                nodes.insert(o.from_node.clone());
                if !note.trim().is_empty() {
                    notes.push(note.trim().to_owned());
                }
            }
            ReportView {
                listing: listing.to_owned(),
                reporters: rs.len(),
                reasons,
                from_nodes: nodes.into_iter().collect(),
                notes,
                last_at: rs.last().map(|o| rfc3339(o.created_at)).unwrap_or_default(),
            }
        })
        .collect();
    list.sort_by(|a, b| {
        b.reporters
            .cmp(&a.reporters)
            .then(b.last_at.cmp(&a.last_at))
    });
    if cli.json {
        return print_json(&list);
    }
    if list.is_empty() {
        println!("No reports.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            vec![
                r.listing.clone(),
                r.reporters.to_string(),
                r.reasons
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                r.from_nodes
                    .iter()
                    .map(|n| short(n))
                    .collect::<Vec<_>>()
                    .join(" "),
                output::when(&r.last_at),
            ]
        })
        .collect();
    output::table(
        &["LISTING", "REPORTERS", "REASONS", "FROM NODES", "LAST"],
        &rows,
    );
    println!("\nAct with `buurt block bm…` (the author), `buurt revoke bm…` (your member), or `buurt block bn…` (their node).");
    Ok(())
}
