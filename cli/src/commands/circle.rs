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
use buurt_node::datadir::{random_bytes, write_secret, DataDir};
use buurt_protocol::circle::{self, CircleKey};
use buurt_protocol::keys::{self, SigningKey};
use buurt_protocol::mail::mailbox::Op;
use buurt_protocol::mail::{Envelope, Letter, ReplyKey, MAX_TEXT_BYTES};
use buurt_protocol::{
    validate, Certificate, Limits, Listing, ListingId, MemberId, NodeId, SignedListing,
};
use serde::{Deserialize, Serialize};

use super::mail::{reply_key, signed_request, sync, their_key, Recipient};
use super::{client, member, print_json};
use crate::client::Client;
use crate::letters::{Letters, Opened};
use crate::{output, CircleAction, Cli};

/// One circle as this device knows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The circle id, hex.
    pub circle: String,
    pub name: String,
    pub owner: String,
    /// The newest epoch known.
    pub epoch: u32,
    /// Its members: member id and home node.
    pub members: Vec<(String, String)>,
    /// Every epoch's key, hex, so that older listings still open.
    pub keys: BTreeMap<u32, String>,
}

impl Entry {
    fn id(&self) -> Result<[u8; 16]> {
        let mut id = [0u8; 16];
        hex::decode_to_slice(&self.circle, &mut id)
            .map_err(|_| anyhow!("circles.json: bad circle id"))?;
        Ok(id)
    }

    fn members(&self) -> Result<Vec<(MemberId, NodeId)>> {
        self.members
            .iter()
            .map(|(m, n)| Ok((m.parse()?, n.parse()?)))
            .collect()
    }

    fn current(&self) -> Result<CircleKey> {
        let key = self
            .keys
            .get(&self.epoch)
            .ok_or_else(|| anyhow!("circles.json: no current key"))?;
        let mut k = [0u8; 32];
        hex::decode_to_slice(key, &mut k).map_err(|_| anyhow!("circles.json: bad key"))?;
        Ok(CircleKey {
            circle: self.id()?,
            epoch: self.epoch,
            key: k,
            name: self.name.clone(),
            owner: self.owner.parse()?,
            members: self.members()?,
        })
    }
}

fn path(dir: &DataDir) -> std::path::PathBuf {
    dir.root().join("circles.json")
}

fn load(dir: &DataDir) -> Result<Vec<Entry>> {
    match std::fs::read(path(dir)) {
        Ok(b) => serde_json::from_slice(&b).context("circles.json"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
        Err(e) => Err(e).context("circles.json"),
    }
}

fn save(dir: &DataDir, all: &[Entry]) -> Result<()> {
    write_secret(&path(dir), &serde_json::to_vec_pretty(all)?).context("circles.json")
}

/// A circle by name or id prefix.
fn find<'a>(all: &'a [Entry], what: &str) -> Result<&'a Entry> {
    let w = what.trim().to_lowercase();
    let hits: Vec<&Entry> = all
        .iter()
        .filter(|e| e.name.to_lowercase() == w || (w.len() >= 4 && e.circle.starts_with(&w)))
        .collect();
    match hits.as_slice() {
        [one] => Ok(one),
        [] => bail!("no circle `{what}` on this device (`buurt circle list`)"),
        _ => bail!("`{what}` names {} circles: give more of the id", hits.len()),
    }
}

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

/// Fetches the member's mail and takes in the circle letters: keys (from
/// the circle's owner only) into `circles.json`, and the circle listings
/// that open, validate and come from a member of their epoch.
pub fn refresh(cli: &Cli, dir: &DataDir) -> Result<(Vec<Entry>, Vec<SignedListing>)> {
    let (key, _, letters, _, _) = sync(cli, dir)?;
    let me = keys::member_id(&key);
    let mut all = load(dir)?;
    let mut changed = false;
    let mut epochs: BTreeMap<([u8; 16], u32), CircleKey> = BTreeMap::new();
    let mut by_time: Vec<&Opened> = letters.iter().collect();
    by_time.sort_by_key(|o| (o.created_at, o.seq));
    for o in &by_time {
        let Some(Ok(k)) = CircleKey::from_letter(&o.text) else {
            continue;
        };
        if o.from != k.owner.to_string() || !k.has(&me) {
            continue;
        }
        let id = hex::encode(k.circle);
        match all.iter_mut().find(|e| e.circle == id) {
            Some(e) if e.owner != k.owner.to_string() => continue,
            Some(e) => {
                changed |= e.keys.insert(k.epoch, hex::encode(k.key)).is_none();
                if k.epoch >= e.epoch {
                    e.epoch = k.epoch;
                    e.name = k.name.clone();
                    e.members = k
                        .members
                        .iter()
                        .map(|(m, n)| (m.to_string(), n.to_string()))
                        .collect();
                }
            }
            None => {
                changed = true;
                all.push(Entry {
                    circle: id,
                    name: k.name.clone(),
                    owner: k.owner.to_string(),
                    epoch: k.epoch,
                    members: k
                        .members
                        .iter()
                        .map(|(m, n)| (m.to_string(), n.to_string()))
                        .collect(),
                    keys: BTreeMap::from([(k.epoch, hex::encode(k.key))]),
                });
            }
        }
        epochs.insert((k.circle, k.epoch), k);
    }
    if changed {
        save(dir, &all)?;
    }
    // This device's own circles: every epoch's members are in the entry's
    // newest list only, so an older epoch is taken as the union since.
    let key_of = |c: &[u8; 16], e: u32| {
        let entry = all.iter().find(|x| x.circle == hex::encode(c))?;
        let mut k = [0u8; 32];
        hex::decode_to_slice(entry.keys.get(&e)?, &mut k).ok()?;
        Some(k)
    };
    let member_of = |c: &[u8; 16], e: u32, m: &MemberId| match epochs.get(&(*c, e)) {
        Some(k) => k.has(m),
        None => all
            .iter()
            .find(|x| x.circle == hex::encode(c))
            .is_some_and(|x| x.members.iter().any(|(y, _)| *y == m.to_string())),
    };
    let t = now();
    let mut found: BTreeMap<ListingId, SignedListing> = BTreeMap::new();
    for o in &by_time {
        let Some(sealed) = circle::listing_from_letter(&o.text) else {
            continue;
        };
        let Some((c, e)) = circle::sealed_for(&sealed) else {
            continue;
        };
        let Ok(bytes) = circle::open(&sealed, key_of) else {
            continue;
        };
        let Ok(l) = validate(&bytes, t, &Limits::default()) else {
            continue;
        };
        if l.listing.extras.circle != Some(c)
            || !member_of(&c, e, &l.listing.author)
            || o.from != l.listing.author.to_string()
        {
            continue;
        }
        let newer = found
            .get(&l.listing_id())
            .is_none_or(|old| buurt_protocol::revision::supersedes(&l, old));
        if newer {
            found.insert(l.listing_id(), l);
        }
    }
    Ok((all, found.into_values().collect()))
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
