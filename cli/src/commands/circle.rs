//! Private circles from the resident's side: `circle create|add|remove|
//! list`, posting to a circle (`--circle` on `offer` and `request`), and
//! `search --circle`. Circle keys and listings travel as letters, sealed to
//! each member (protocol.md, section 18); a node carries and stores them
//! sealed, and only the members' devices open them. The keys are kept in
//! `circles.json` (mode 0600) in the data directory.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context, Result};
use buurt_node::api::dto::ListingView;
use buurt_node::api::mail::{Sealed, SendAnswer, SendBody};
use buurt_node::clock::now;
use buurt_node::datadir::{random_bytes, DataDir};
use buurt_protocol::circle;
use buurt_protocol::keys::{self, SigningKey};
use buurt_protocol::mail::mailbox::Op;
use buurt_protocol::mail::{Envelope, Letter, ReplyKey, MAX_TEXT_BYTES};
use buurt_protocol::{
    validate, Certificate, Limits, Listing, ListingId, MemberId, NodeId, SignedListing,
};
use serde::Serialize;

use super::mail::{reply_key, signed_request, their_key, Recipient};
use super::{client, member, print_json};
use crate::client::Client;
use crate::letters::Letters;
use crate::{output, CircleAction, Cli};

mod store;
mod take;

use store::{find, load, save, Entry};
pub use take::refresh;

/// A member as given: `bm…`, or `bm…@bn…` with their home node. Returns
/// the member, their home node and their reply key.
fn resolve(c: &Client, spec: &str) -> Result<(MemberId, NodeId, ReplyKey)> {
    let (m, node) = match spec.trim().split_once('@') {
        Some((m, n)) => (m, Some(buurt_node::ids::parse_node_id(n)?)),
        None => (spec.trim(), None),
    };
    let member: MemberId = m.parse().with_context(|| format!("`{spec}`"))?;
    let key = match node {
        Some(n) => their_key(c, &member, &n)?,
        None => {
            let a: buurt_node::api::mail::ReplyKeyAnswer = c
                .get(&format!("/v1/members/{member}/reply-key"), &[])
                .with_context(|| {
                    format!("{member}: give their home node too, as {member}@bn… (their `buurt status` shows it)")
                })?;
            let k = ReplyKey::verify(&hex::decode(&a.record)?, now())?;
            if k.member != member {
                bail!("the node sent another member's reply key for {member}");
            }
            k
        }
    };
    Ok((member, key.certificate.node, key))
}

/// Signs one letter with `text` about `about` to each of `to`, seals it to
/// them, and has the node send them all; with a copy for the sender when
/// `own_copy`.
/// Who sends a circle's letters, through which node.
struct Sender<'a> {
    c: &'a Client,
    letters: Letters,
    key: &'a SigningKey,
    cert: &'a Certificate,
}

fn send_all(
    from: &Sender<'_>,
    about: ListingId,
    to: &[(MemberId, NodeId, ReplyKey)],
    text: &str,
    own_copy: bool,
) -> Result<usize> {
    let Sender {
        c,
        letters,
        key,
        cert,
    } = from;
    let (c, key, cert) = (*c, *key, *cert);
    if text.len() > MAX_TEXT_BYTES {
        bail!(
            "too long for a circle letter ({} bytes; at most {MAX_TEXT_BYTES}): shorten the text",
            text.len()
        );
    }
    let t = now();
    let mine = reply_key(c, letters, key, cert, false)?;
    let record = hex::decode(letters.current_key(key, cert, t)?.0.record)?;
    let me = keys::member_id(key);
    let copy = own_copy.then_some((me, cert.node, mine));
    let mut envelopes = Vec::new();
    for (m, home, k) in to.iter().cloned().chain(copy) {
        let letter = Letter {
            listing: about,
            to: m,
            created_at: t,
            text: text.to_owned(),
            certificate: cert.clone(),
            reply_key: record.clone(),
        }
        .sign(key)?;
        envelopes.push(Envelope::seal_unsigned(
            &letter,
            &k,
            home,
            about,
            t,
            random_bytes::<32>()?,
        )?);
    }
    if envelopes.is_empty() {
        return Ok(0);
    }
    let body = SendBody {
        request: signed_request(
            key,
            Op::Send {
                digest: Envelope::send_digest(&envelopes)?,
            },
        )?,
        envelopes: envelopes.iter().map(Sealed::from_envelope).collect(),
        wait_ms: None,
    };
    let answer: SendAnswer = c.post("/v1/mail", &body)?;
    if let Some(f) = answer.sent.iter().find(|s| s.state == "failed") {
        bail!("a circle letter was refused: {}", f.detail);
    }
    Ok(to.len())
}

/// Sends the key of `entry`'s current epoch to its members (but this one).
fn send_key(cli: &Cli, dir: &DataDir, entry: &Entry) -> Result<usize> {
    let (key, cert) = member(cli, dir)?;
    let c = client(cli, dir)?;
    let me = keys::member_id(&key);
    let k = entry.current()?;
    let mut to = Vec::new();
    for (m, n) in k.members.iter().filter(|(m, _)| *m != me) {
        to.push((*m, *n, their_key(&c, m, n)?));
    }
    let from = Sender {
        c: &c,
        letters: Letters::new(dir),
        key: &key,
        cert: &cert,
    };
    send_all(&from, ListingId(k.circle), &to, &k.letter_text()?, false)
}

pub fn run(cli: &Cli, dir: &DataDir, action: &CircleAction) -> Result<()> {
    match action {
        CircleAction::Create { name, member } => create(cli, dir, name, member),
        CircleAction::Add { circle, member } => change(cli, dir, circle, member, true),
        CircleAction::Remove { circle, member } => change(cli, dir, circle, member, false),
        CircleAction::List => list(cli, dir),
    }
}

fn create(cli: &Cli, dir: &DataDir, name: &str, members: &[String]) -> Result<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > circle::MAX_NAME_CHARS {
        bail!(
            "a circle's name has 1 to {} characters",
            circle::MAX_NAME_CHARS
        );
    }
    if members.is_empty() || members.len() >= circle::MAX_MEMBERS {
        bail!(
            "give 1 to {} members with --member",
            circle::MAX_MEMBERS - 1
        );
    }
    let (key, cert) = member(cli, dir)?;
    let c = client(cli, dir)?;
    let me = keys::member_id(&key);
    let mut all = load(dir)?;
    if all.iter().any(|e| e.name.eq_ignore_ascii_case(name)) {
        bail!("you already have a circle called `{name}`");
    }
    let mut list = vec![(me.to_string(), cert.node.to_string())];
    for spec in members {
        let (m, n, _) = resolve(&c, spec)?;
        if !list.iter().any(|(x, _)| *x == m.to_string()) {
            list.push((m.to_string(), n.to_string()));
        }
    }
    let entry = Entry {
        circle: hex::encode(random_bytes::<16>()?),
        name: name.to_owned(),
        owner: me.to_string(),
        epoch: 1,
        members: list,
        keys: BTreeMap::from([(1, hex::encode(random_bytes::<32>()?))]),
    };
    all.push(entry.clone());
    save(dir, &all)?;
    let sent = send_key(cli, dir, &entry)?;
    if cli.json {
        return print_json(&entry_view(&entry));
    }
    println!("{}", entry.circle);
    eprintln!("Created circle `{name}` with {} members; its key went to {sent}, sealed to each. Post to it with `buurt request … --circle \"{name}\"`.", entry.members.len());
    Ok(())
}

fn change(cli: &Cli, dir: &DataDir, which: &str, spec: &str, add: bool) -> Result<()> {
    let me = dir.member_id()?.to_string();
    let mut all = load(dir)?;
    let c = client(cli, dir)?;
    let id = find(&all, which)?.circle.clone();
    let entry = all
        .iter_mut()
        .find(|e| e.circle == id)
        .expect("found above");
    if entry.owner != me {
        bail!("only the circle's owner changes its members");
    }
    if add {
        let (m, n, _) = resolve(&c, spec)?;
        if entry.members.iter().any(|(x, _)| *x == m.to_string()) {
            bail!("{m} is in the circle already");
        }
        if entry.members.len() >= circle::MAX_MEMBERS {
            bail!("a circle has at most {} members", circle::MAX_MEMBERS);
        }
        entry.members.push((m.to_string(), n.to_string()));
    } else {
        let m: MemberId = spec.split('@').next().unwrap_or_default().trim().parse()?;
        if m.to_string() == me {
            bail!("the owner stays in the circle");
        }
        let before = entry.members.len();
        entry.members.retain(|(x, _)| *x != m.to_string());
        if entry.members.len() == before {
            bail!("{m} is not in the circle");
        }
    }
    // A new epoch: a new key, for the members from now on only.
    entry.epoch += 1;
    entry
        .keys
        .insert(entry.epoch, hex::encode(random_bytes::<32>()?));
    let entry = entry.clone();
    save(dir, &all)?;
    let sent = send_key(cli, dir, &entry)?;
    if cli.json {
        return print_json(&entry_view(&entry));
    }
    println!(
        "Circle `{}` has {} members now; a new key (epoch {}) went to {sent} of them. Listings from now on are for them only.",
        entry.name,
        entry.members.len(),
        entry.epoch
    );
    Ok(())
}

#[derive(Serialize)]
struct EntryView {
    circle: String,
    name: String,
    owner: String,
    epoch: u32,
    members: Vec<String>,
}

fn entry_view(e: &Entry) -> EntryView {
    EntryView {
        circle: e.circle.clone(),
        name: e.name.clone(),
        owner: e.owner.clone(),
        epoch: e.epoch,
        members: e.members.iter().map(|(m, n)| format!("{m}@{n}")).collect(),
    }
}

fn list(cli: &Cli, dir: &DataDir) -> Result<()> {
    let (all, _) = refresh(cli, dir)?;
    if cli.json {
        return print_json(&all.iter().map(entry_view).collect::<Vec<_>>());
    }
    if all.is_empty() {
        println!("No circles on this device (`buurt circle create NAME --member bm…`).");
    }
    let me = dir.member_id()?.to_string();
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|e| {
            vec![
                e.circle[..8].to_owned(),
                e.name.clone(),
                if e.owner == me {
                    "yours".into()
                } else {
                    super::inbox::short(&e.owner)
                },
                e.members.len().to_string(),
                e.epoch.to_string(),
            ]
        })
        .collect();
    output::table(&["CIRCLE", "NAME", "OWNER", "MEMBERS", "EPOCH"], &rows);
    Ok(())
}

/// Posts `listing` to the circle `which`: signed, sealed under the circle's
/// current key, and sent to each member (and a copy to the author).
pub fn post(
    cli: &Cli,
    dir: &DataDir,
    key: &SigningKey,
    mut listing: Listing,
    which: &str,
) -> Result<()> {
    let (all, _) = refresh(cli, dir)?;
    let entry = find(&all, which)?;
    let k = entry.current()?;
    let me = keys::member_id(key);
    if !k.has(&me) {
        bail!("you are not a member of circle `{}`", entry.name);
    }
    listing.extras.circle = Some(k.circle);
    let signed = listing.sign(key).map_err(|e| anyhow!("{e}"))?;
    validate(signed.bytes(), now(), &Limits::default()).map_err(|r| anyhow!("{r}"))?;
    let sealed = circle::seal(&k, random_bytes::<12>()?, signed.bytes());
    let c = client(cli, dir)?;
    let (_, cert) = member(cli, dir)?;
    let mut to = Vec::new();
    for (m, n) in k.members.iter().filter(|(m, _)| *m != me) {
        to.push((*m, *n, their_key(&c, m, n)?));
    }
    let text = circle::listing_letter_text(&sealed);
    let from = Sender {
        c: &c,
        letters: Letters::new(dir),
        key,
        cert: &cert,
    };
    let sent = send_all(&from, ListingId(k.circle), &to, &text, true)?;
    let id = signed.listing_id().to_string();
    if cli.json {
        return print_json(
            &serde_json::json!({ "id": id, "circle": entry.circle, "sent_to": sent }),
        );
    }
    println!("{id}");
    eprintln!(
        "Posted to circle `{}`: sealed to each of its {sent} other members, never gossiped or stored in clear.",
        entry.name
    );
    Ok(())
}

/// `search --circle`: the circle listings on this device that are open,
/// in `which` (a name or id; every circle when empty), with all `words`.
pub fn search(cli: &Cli, dir: &DataDir, which: &str, words: &[String]) -> Result<()> {
    let (all, listings) = refresh(cli, dir)?;
    let only = if which.trim().is_empty() {
        None
    } else {
        Some(find(&all, which)?.id()?)
    };
    let words: Vec<String> = words
        .iter()
        .flat_map(|w| w.split_whitespace())
        .map(str::to_lowercase)
        .collect();
    let t = now();
    let mut views: Vec<ListingView> = listings
        .iter()
        .filter(|l| only.is_none_or(|c| l.listing.extras.circle == Some(c)))
        .filter(|l| l.listing.expires_at > t && l.listing.status == buurt_protocol::Status::Open)
        .filter(|l| {
            let text = format!(
                "{} {} {}",
                l.listing.title,
                l.listing.body,
                l.listing.tags.join(" ")
            )
            .to_lowercase();
            words.iter().all(|w| text.contains(w.as_str()))
        })
        .map(ListingView::new)
        .collect();
    views.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    if cli.json {
        return print_json(&views);
    }
    output::listings(&views, false);
    Ok(())
}

/// Whom a reply to a circle listing goes to: its author, at their home node.
pub fn recipient(cli: &Cli, dir: &DataDir, c: &Client, id: &str) -> Result<Option<Recipient>> {
    let (_, listings) = refresh(cli, dir)?;
    let id = id.trim().to_lowercase();
    let hits: Vec<&SignedListing> = listings
        .iter()
        .filter(|l| id.len() >= 4 && l.listing_id().to_string().starts_with(&id))
        .collect();
    let [l] = hits.as_slice() else {
        return Ok(None);
    };
    let l = &l.listing;
    Ok(Some(Recipient {
        listing: l.listing_id(),
        to: l.author,
        home: l.certificate.node,
        key: their_key(c, &l.author, &l.certificate.node)?,
    }))
}
