//! Agreements between the two members of a conversation: `propose`,
//! `accept`, `decline`, `cancel`, `handover`, `return`, `done`, `problem`,
//! and `agreements` to see them. Each step is an event signed here with the
//! member key and sent as a letter of the conversation (sealed, so no node
//! reads it); both sides fold the same events into the same state
//! (`buurt_protocol::agreement`). The author's listing follows: reserved
//! while an accepted agreement runs, open again when it ends, closed when
//! given away or sold.

use std::collections::BTreeSet;

use anyhow::{anyhow, bail, Result};
use buurt_node::clock::{now, rfc3339};
use buurt_node::datadir::{random_bytes, DataDir};
use buurt_protocol::agreement::{
    Action, Agreement, AgreementId, Event, Proposal, SignedEvent, Stage,
};
use buurt_protocol::calendar::{self, day_of};
use buurt_protocol::{keys, Certificate, Exchange, MemberId, Status};
use serde::{Deserialize, Serialize};

use super::inbox::{conversations, short};
use super::mail::{recipient, send_letter, sync};
use super::{client, post, print_json};
use crate::compose;
use crate::letters::{conversation_id, Letters, Opened};
use crate::Cli;

/// How a letter carrying an agreement event begins; the signed event
/// follows in hex.
pub const AGREEMENT_PREFIX: &str = "buurt-agreement/v1 ";

/// The agreement events among the letters: each verified, and signed by
/// the member who sent the letter (no one can put words in another's).
pub fn events(all: &[Opened]) -> Vec<SignedEvent> {
    all.iter()
        .filter_map(|o| {
            let hexed = o.text.strip_prefix(AGREEMENT_PREFIX)?;
            let e = SignedEvent::verify(&hex::decode(hexed.trim()).ok()?).ok()?;
            (e.event.member.to_string() == o.from).then_some(e)
        })
        .collect()
}

/// A line for an agreement letter in a thread or the inbox.
pub fn describe(text: &str) -> Option<String> {
    let hexed = text.strip_prefix(AGREEMENT_PREFIX)?;
    let e = hex::decode(hexed.trim())
        .ok()
        .and_then(|b| SignedEvent::verify(&b).ok());
    Some(match e {
        Some(e) => match &e.event.action {
            Action::Propose(p) => format!(
                "[proposes an agreement {}: {}{}]",
                &hex::encode(e.id)[..12],
                p.exchange,
                terms_text(p)
            ),
            Action::Problem { note } => format!(
                "[problem with {}: {note}]",
                &e.event.agreement.to_hex()[..12]
            ),
            a => format!(
                "[{} agreement {}]",
                a.name().replace('_', " "),
                &e.event.agreement.to_hex()[..12]
            ),
        },
        None => "[an agreement step that does not verify]".into(),
    })
}

fn terms_text(p: &Proposal) -> String {
    let mut parts = vec![];
    if p.from > 0 {
        parts.push(format!("from {}", rfc3339(p.from)));
    }
    if p.until > 0 {
        parts.push(format!("until {}", rfc3339(p.until)));
    }
    if let Some(m) = &p.price {
        parts.push(format!("price {}", compose::show_money(m)));
    }
    if let Some(m) = &p.deposit {
        parts.push(format!("deposit {}", compose::show_money(m)));
    }
    if p.minutes > 0 {
        parts.push(format!("{} hours", hours(p.minutes)));
    }
    if !p.note.is_empty() {
        parts.push(format!("\"{}\"", p.note));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(", {}", parts.join(", "))
    }
}

pub(super) fn hours(minutes: u64) -> String {
    if minutes.is_multiple_of(60) {
        (minutes / 60).to_string()
    } else {
        format!("{:.1}", minutes as f64 / 60.0)
    }
}

/// A member's choices about agreements, kept in their data directory.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Prefs {
    /// Listings that stay open whatever agreements run (standing offers).
    keep_open: BTreeSet<String>,
}

fn prefs_path(dir: &DataDir) -> std::path::PathBuf {
    dir.root().join("agreements.json")
}

fn load_prefs(dir: &DataDir) -> Result<Prefs> {
    match std::fs::read(prefs_path(dir)) {
        Ok(b) => Ok(serde_json::from_slice(&b)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Prefs::default()),
        Err(e) => Err(e.into()),
    }
}

fn keep_open(dir: &DataDir, listing: &str) -> Result<()> {
    let mut p = load_prefs(dir)?;
    if p.keep_open.insert(listing.to_owned()) {
        buurt_node::datadir::write_secret(&prefs_path(dir), &serde_json::to_vec_pretty(&p)?)?;
    }
    Ok(())
}

/// Everything an agreement command starts from: the member, the letters
/// (fetched fresh), and the agreements they hold.
pub(super) struct Ctx {
    pub key: keys::SigningKey,
    pub cert: Certificate,
    pub all: Vec<Opened>,
    pub letters: Letters,
    pub list: Vec<Agreement>,
}

pub(super) fn load(cli: &Cli, dir: &DataDir) -> Result<Ctx> {
    let (key, cert, all, _state, letters) = sync(cli, dir)?;
    let list = Agreement::fold(events(&all));
    Ok(Ctx {
        key,
        cert,
        all,
        letters,
        list,
    })
}

/// The agreement a prefix of its id names.
pub(super) fn find<'a>(list: &'a [Agreement], id: &str) -> Result<&'a Agreement> {
    let id = id.trim().to_ascii_lowercase();
    if id.len() < 4 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!("`{id}` is not an agreement id: give at least 4 of its hex characters (`buurt agreements` lists them)");
    }
    let found: Vec<&Agreement> = list
        .iter()
        .filter(|a| a.id.to_hex().starts_with(&id))
        .collect();
    match found.as_slice() {
        [a] => Ok(a),
        [] => bail!("no agreement `{id}` among your letters (`buurt agreements --all` lists them)"),
        _ => bail!(
            "`{id}` names {} agreements: give more of the id",
            found.len()
        ),
    }
}

/// Sends one signed event to the other member of the agreement (and keeps
/// the sender's own copy), as a letter of their conversation.
fn send(cli: &Cli, dir: &DataDir, ctx: &Ctx, e: &SignedEvent, other: &MemberId) -> Result<String> {
    let c = client(cli, dir)?;
    let me = keys::member_id(&ctx.key);
    let state = ctx.letters.state()?;
    let convs = conversations(&ctx.all, &state, &me);
    let listing = match &e.event.action {
        Action::Propose(p) => p.listing,
        _ => {
            find(&ctx.list, &e.event.agreement.to_hex())?
                .proposal
                .listing
        }
    };
    let conv = conversation_id(&listing, &me, other);
    let by = if convs.iter().any(|c| c.conversation == conv) {
        conv
    } else {
        listing.to_string()
    };
    let to = recipient(&c, &by, &me, &convs, &ctx.all)?;
    if to.to != *other {
        bail!("the conversation about listing {listing} is with another member");
    }
    let text = format!("{AGREEMENT_PREFIX}{}", hex::encode(&e.bytes));
    let (sent, _) = send_letter(&c, &ctx.letters, &ctx.key, &ctx.cert, &to, &text)?;
    if sent.state == "failed" {
        bail!("{}", sent.detail);
    }
    Ok(sent.detail)
}

/// `buurt propose ID`: proposes an agreement about a listing to its
/// author, or (the author) to the member of a conversation about it.
pub fn propose(cli: &Cli, dir: &DataDir, id: &str, a: &crate::ProposeArgs) -> Result<()> {
    let ctx = load(cli, dir)?;
    let me = keys::member_id(&ctx.key);
    let c = client(cli, dir)?;
    let state = ctx.letters.state()?;
    let convs = conversations(&ctx.all, &state, &me);
    let to = recipient(&c, id, &me, &convs, &ctx.all)?;
    let (v, signed) = post::fetch(&c, &to.listing.to_string())?;
    let l = signed.listing;
    if l.status != Status::Open && l.status != Status::Reserved {
        bail!("listing {} is {}: nothing to agree on", v.id, l.status);
    }
    let t = now();
    let from = a
        .from
        .as_deref()
        .map(|s| compose::parse_when(s, t))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|s| compose::parse_when(s, t))
        .transpose()?;
    if let (Some(f), Some(u)) = (from, until) {
        if u <= f {
            bail!("--until must be after --from");
        }
    }
    let group = l
        .topics
        .first()
        .and_then(|t| t.split('.').next())
        .unwrap_or("other")
        .to_owned();
    let proposal = Proposal {
        listing: to.listing,
        with: to.to,
        exchange: l.exchange,
        group,
        nonce: random_bytes::<16>()?,
        from: from.unwrap_or(0),
        until: until.unwrap_or(0),
        price: a.price.as_deref().map(compose::parse_money).transpose()?,
        deposit: a.deposit.as_deref().map(compose::parse_money).transpose()?,
        minutes: a
            .hours
            .as_deref()
            .map(compose::parse_hours)
            .transpose()?
            .unwrap_or(0),
        note: a.note.clone().unwrap_or_default().trim().to_owned(),
    };
    let e = Event {
        agreement: AgreementId([0; 32]),
        prev: [0; 32],
        member: me,
        at: t,
        action: Action::Propose(proposal),
    }
    .sign(&ctx.key)
    .map_err(|e| anyhow!("{e}"))?;
    if a.keep_open && l.author == me {
        keep_open(dir, &v.id)?;
    }
    let detail = send(cli, dir, &ctx, &e, &to.to)?;
    let id = hex::encode(e.id);
    if cli.json {
        return print_json(&serde_json::json!({"agreement": id, "state": detail}));
    }
    println!("{id}");
    eprintln!(
        "Proposed a {} of listing {} to {}: {detail}. They accept with `buurt accept {}`.",
        l.exchange,
        v.id,
        short(&to.to.to_string()),
        &id[..12]
    );
    Ok(())
}

/// One step of an agreement, as the command names it.
#[derive(Debug, Clone)]
pub enum Step {
    Accept { keep_open: bool },
    Decline,
    Cancel,
    Handover,
    Return,
    Done { hours: Option<String> },
    Problem { note: String },
}

/// What one step did: the agreement after it, the step's name, how its
/// letter went, and what changed on the member's listing.
pub(super) struct StepDone {
    pub after: Agreement,
    pub me: MemberId,
    pub name: String,
    pub detail: String,
    pub listing: Option<String>,
}

/// `buurt accept|decline|cancel|handover|return|done|problem AGREEMENT`.
pub fn step(cli: &Cli, dir: &DataDir, id: &str, step: Step) -> Result<()> {
    let StepDone {
        after,
        me,
        name,
        detail,
        listing,
    } = take_step(cli, dir, id, step)?;
    if cli.json {
        let mut v = serde_json::to_value(super::agreements::view(&after, &me, now()))?;
        v["sent"] = detail.into();
        v["listing_change"] = listing.into();
        return print_json(&v);
    }
    println!(
        "{name}: agreement {} is {} ({detail}).",
        &after.id.to_hex()[..12],
        after.stage.as_str()
    );
    if let Some(s) = listing {
        println!("Your listing {} {s}.", after.proposal.listing);
    }
    Ok(())
}

/// Signs and sends one step, and brings the member's listing in line.
pub(super) fn take_step(cli: &Cli, dir: &DataDir, id: &str, step: Step) -> Result<StepDone> {
    let ctx = load(cli, dir)?;
    let me = keys::member_id(&ctx.key);
    let a = find(&ctx.list, id)?;
    let other = if me == a.proposer {
        a.proposal.with
    } else if me == a.proposal.with {
        a.proposer
    } else {
        bail!(
            "you are not one of the two members of agreement {}",
            &a.id.to_hex()[..12]
        );
    };
    let action = match &step {
        Step::Accept { .. } => Action::Accept,
        Step::Decline => Action::Decline,
        Step::Cancel => Action::Cancel,
        Step::Handover if a.is_help() => Action::Started,
        Step::Handover => Action::HandedOver,
        Step::Return if !a.comes_back() => bail!(
            "a {} does not come back: confirm it with `buurt done {}`",
            a.proposal.exchange,
            &a.id.to_hex()[..12]
        ),
        Step::Return => Action::Returned {
            completion: a.completion().sign(&ctx.key),
        },
        Step::Done { .. } if a.comes_back() => bail!(
            "a {} comes back: confirm that with `buurt return {}`",
            a.proposal.exchange,
            &a.id.to_hex()[..12]
        ),
        Step::Done { hours } => Action::Done {
            minutes: hours
                .as_deref()
                .map(compose::parse_hours)
                .transpose()?
                .unwrap_or(0),
            completion: a.completion().sign(&ctx.key),
        },
        Step::Problem { note } => {
            let note = note.trim();
            if note.is_empty() {
                bail!("say what the problem is");
            }
            Action::Problem {
                note: note.to_owned(),
            }
        }
    };
    a.allows(&me, &action).map_err(|e| anyhow!("{e}"))?;
    let e = Event {
        agreement: a.id,
        prev: a.head(),
        member: me,
        at: now().max(a.events.last().map_or(0, |e| e.event.at)),
        action,
    }
    .sign(&ctx.key)
    .map_err(|e| anyhow!("{e}"))?;
    if let Step::Accept { keep_open: true } = step {
        keep_open(dir, &a.proposal.listing.to_string())?;
    }
    let name = e.event.action.name().replace('_', " ");
    let detail = send(cli, dir, &ctx, &e, &other)?;
    // The state with this step, for the listing and the answer.
    let mut after = a.clone();
    after.apply(e).map_err(|e| anyhow!("{e}"))?;
    let listing = follow_listing(cli, dir, &me, &after, &ctx.list)?;
    let _ = super::impact::report_agreements(cli, dir, std::slice::from_ref(&after), &ctx.all);
    Ok(StepDone {
        after,
        me,
        name,
        detail,
        listing,
    })
}

/// True for an agreement about given days (from and until), such as a car
/// rented for two days.
fn dated(a: &Agreement) -> bool {
    a.proposal.from != 0 && a.proposal.until != 0
}

/// The status the author's listing should have for its agreements, if the
/// agreements say anything about it.
fn wanted(list: &[&Agreement]) -> Option<Status> {
    // An agreement for some days takes those days out of the listing's
    // availability instead (see `follow_listing`).
    if list
        .iter()
        .any(|a| matches!(a.stage, Stage::Accepted | Stage::Underway) && !dated(a))
    {
        return Some(Status::Reserved);
    }
    let last = list
        .iter()
        .filter(|a| a.stage != Stage::Proposed)
        .max_by_key(|a| a.events.last().map_or(0, |e| e.event.at))?;
    match (last.stage, last.proposal.exchange) {
        (Stage::Completed, Exchange::Give | Exchange::Sell) => Some(Status::Closed),
        _ => Some(Status::Open),
    }
}

/// Brings the status of the member's own listing about `a` in line with
/// its agreements (unless kept open): reserved while one runs, open again
/// after, closed once given or sold. Never touches a listing the author
/// closed or withdrew. An agreement for given days takes those days out of
/// the listing's availability instead. Returns what changed, in words.
pub(super) fn follow_listing(
    cli: &Cli,
    dir: &DataDir,
    me: &MemberId,
    a: &Agreement,
    all: &[Agreement],
) -> Result<Option<String>> {
    let listing = a.proposal.listing.to_string();
    if load_prefs(dir)?.keep_open.contains(&listing) {
        return Ok(None);
    }
    let c = client(cli, dir)?;
    let Ok((_, signed)) = post::fetch(&c, &listing) else {
        return Ok(None);
    };
    let l = signed.listing;
    if l.author != *me || !matches!(l.status, Status::Open | Status::Reserved) {
        return Ok(None);
    }
    if a.stage == Stage::Accepted && dated(a) {
        let (from, to) = (
            day_of(a.proposal.from),
            day_of(a.proposal.until.max(a.proposal.from)),
        );
        let taken = post::take_days(cli, dir, &listing, from, to)?;
        return Ok(taken.map(|_| {
            format!(
                "is no longer available from {} to {}",
                calendar::format(from),
                calendar::format(to)
            )
        }));
    }
    let about: Vec<&Agreement> = all
        .iter()
        .filter(|x| x.proposal.listing == a.proposal.listing && x.id != a.id)
        .chain(std::iter::once(a))
        .collect();
    match wanted(&about) {
        Some(s) if s != l.status => {
            post::set_status(cli, dir, &listing, s)?;
            Ok(Some(format!("is {s} now")))
        }
        _ => Ok(None),
    }
}
