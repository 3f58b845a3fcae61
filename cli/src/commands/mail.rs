//! A resident's replies: `reply`, `inbox` and `thread`. Letters are written,
//! signed and sealed here, with the resident's own keys; the node signs the
//! sealed envelopes as the sending node and delivers them. Mail is fetched
//! with a request the member signs, and opened here.

use anyhow::{anyhow, bail, Result};
use buurt_node::api::mail::{FetchAnswer, ReplyKeyAnswer, Sealed, SendAnswer, SendBody, Signed};
use buurt_node::clock::now;
use buurt_node::datadir::{random_bytes, DataDir};
use buurt_node::mail::MailboxEntry;
use buurt_protocol::keys::{self, SigningKey};
use buurt_protocol::mail::key::ReplySecret;
use buurt_protocol::mail::mailbox::{MailboxRequest, Op};
use buurt_protocol::mail::{Envelope, Letter, ReplyKey, MAX_TEXT_BYTES};
use buurt_protocol::{Certificate, ListingId, MemberId, NodeId};
use serde::Serialize;

use super::inbox::{conversations, find, short, Conversation};
use super::{client, member, post, print_json};
use crate::client::Client;
use crate::letters::{conversation_id, open_with, Letters, Opened, State};
use crate::Cli;

/// How a report's letter begins; the reason follows, then a line break and
/// the reporter's note.
pub const REPORT_PREFIX: &str = "buurt-report/v1 ";
/// The reasons a report may give.
pub const REPORT_REASONS: [&str; 4] = ["spam", "unsafe", "illegal", "other"];

/// A signed mailbox request of this member, fresh.
pub(super) fn signed_request(key: &SigningKey, op: Op) -> Result<String> {
    let req = MailboxRequest {
        member: keys::member_id(key),
        at: now(),
        nonce: random_bytes::<16>()?,
        op,
    };
    Ok(hex::encode(req.sign(key)?))
}

/// The member's current reply key, made and published to the home node
/// when new (and published again on every `inbox`, which costs one call).
pub(super) fn reply_key(
    c: &Client,
    letters: &Letters,
    key: &SigningKey,
    cert: &Certificate,
    publish: bool,
) -> Result<ReplyKey> {
    let (entry, new) = letters.current_key(key, cert, now())?;
    if new || publish {
        let _: ReplyKeyAnswer = c.put(
            "/v1/reply-keys",
            &Signed {
                signed: entry.record.clone(),
            },
        )?;
    }
    ReplyKey::verify(&entry.record_bytes(), now())
        .map_err(|e| anyhow!("your reply key in reply-keys.json does not verify: {e}"))
}

/// Makes (if needed) and publishes the member's reply key.
pub fn publish_reply_key(
    cli: &Cli,
    dir: &DataDir,
    key: &SigningKey,
    cert: &Certificate,
) -> Result<()> {
    let c = client(cli, dir)?;
    reply_key(&c, &Letters::new(dir), key, cert, true).map(|_| ())
}

/// At node start: makes (if needed) and publishes the operator's reply key
/// through the node's own API at `addr`.
pub fn publish_operator_key(dir: &DataDir, addr: &str) -> Result<()> {
    let Some(cert) = dir.certificate()? else {
        return Ok(());
    };
    let key = dir.member_key()?;
    let c = Client::new(addr, dir.token(), "the node is starting".into());
    reply_key(&c, &Letters::new(dir), &key, &cert, true).map(|_| ())
}

/// Fetches new mail, opens it, keeps it; returns every letter and the state.
pub(super) fn sync(
    cli: &Cli,
    dir: &DataDir,
) -> Result<(SigningKey, Certificate, Vec<Opened>, State, Letters)> {
    let (key, cert) = member(cli, dir)?;
    let c = client(cli, dir)?;
    let letters = Letters::new(dir);
    reply_key(&c, &letters, &key, &cert, true)?;
    let secrets: Vec<_> = letters
        .keys()?
        .iter()
        .rev()
        .filter_map(|k| k.secret().map(|s| (s, k.not_after)))
        .collect();
    let mut state = letters.state()?;
    let mut all = letters.letters()?;
    let me = keys::member_id(&key);
    loop {
        let page: FetchAnswer = c.post(
            "/v1/mailbox",
            &Signed {
                signed: signed_request(&key, Op::Fetch { after: state.last })?,
            },
        )?;
        let t = now();
        if page.letters.len() >= 1_000 && !cli.json {
            eprintln!("Opening {} letters…", page.letters.len());
        }
        let opened = open_page(&page.letters, &secrets, t);
        let mut new = Vec::new();
        for (l, letter) in page.letters.iter().zip(opened) {
            let Some(letter) = letter else {
                state.unopened += 1;
                continue;
            };
            let from = letter.from();
            if state.blocked.contains(&from.to_string()) {
                continue;
            }
            let other = if from == me { letter.to } else { from };
            new.push(Opened {
                seq: l.seq,
                id: l.id.clone(),
                conversation: conversation_id(&letter.listing, &me, &other),
                listing: letter.listing.to_string(),
                from: from.to_string(),
                to: letter.to.to_string(),
                from_node: letter.certificate.node.to_string(),
                created_at: letter.created_at,
                received_at: l.received_at,
                text: letter.text,
                reply_key: hex::encode(&letter.reply_key),
                certificate: letter
                    .certificate
                    .to_bytes()
                    .map(hex::encode)
                    .unwrap_or_default(),
            });
        }
        letters.append(&new)?;
        all.extend(new);
        state.last = page.last;
        letters.save_state(&state)?;
        if !page.more {
            break;
        }
    }
    all.retain(|o| !state.blocked.contains(&o.from));
    Ok((key, cert, all, state, letters))
}

/// Opens a page of letters on every core; `None` for one that does not
/// decode or open with any of `secrets`.
fn open_page(
    page: &[MailboxEntry],
    secrets: &[(ReplySecret, i64)],
    now: i64,
) -> Vec<Option<Letter>> {
    let one = |l: &MailboxEntry| {
        let env = Envelope::verify(&hex::decode(&l.envelope).ok()?).ok()?;
        open_with(&env, secrets, now).ok()
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    let chunk = page.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = page
            .chunks(chunk)
            .map(|c| {
                (
                    c.len(),
                    s.spawn(move || c.iter().map(one).collect::<Vec<_>>()),
                )
            })
            .collect();
        // A chunk whose thread failed counts as not opened, in place.
        handles
            .into_iter()
            .flat_map(|(n, h)| h.join().unwrap_or_else(|_| (0..n).map(|_| None).collect()))
            .collect()
    })
}

/// Whom a reply goes to: the listing, the other member, their home node and
/// their reply key.
pub(super) struct Recipient {
    pub listing: ListingId,
    pub to: MemberId,
    pub home: NodeId,
    pub key: ReplyKey,
}

pub(super) fn their_key(c: &Client, member: &MemberId, home: &NodeId) -> Result<ReplyKey> {
    let a: ReplyKeyAnswer = c.get(
        &format!("/v1/members/{member}/reply-key"),
        &[("node", home.to_string())],
    )?;
    let bytes =
        hex::decode(&a.record).map_err(|_| anyhow!("the node sent a reply key that is not hex"))?;
    let k = ReplyKey::verify(&bytes, now())
        .map_err(|e| anyhow!("the reply key of {member} does not verify: {e}"))?;
    if k.member != *member {
        bail!("the node sent another member's reply key for {member}");
    }
    Ok(k)
}

/// A conversation (by id prefix) or a listing (by id prefix).
pub(super) fn recipient(
    c: &Client,
    id: &str,
    me: &MemberId,
    list: &[Conversation],
    all: &[Opened],
) -> Result<Recipient> {
    // A conversation id, or a listing with one conversation so far (the
    // author answering the one neighbour who wrote, or a neighbour going on).
    let about: Vec<&Conversation> = list
        .iter()
        .filter(|c| c.listing.starts_with(&id.trim().to_ascii_lowercase()))
        .collect();
    let conv = match find(list, id)? {
        Some(c) => Some(c),
        None if about.len() == 1 => Some(about[0]),
        None if about.len() > 1 => bail!(
            "listing `{id}` has {} conversations: give the conversation id (`buurt inbox` lists them)",
            about.len()
        ),
        None => None,
    };
    if let Some(conv) = conv {
        let listing: ListingId = conv
            .listing
            .parse()
            .map_err(|_| anyhow!("bad listing id in your letters"))?;
        let to: MemberId = conv
            .with
            .parse()
            .map_err(|_| anyhow!("bad member id in your letters"))?;
        // Their newest letter carries their reply key and home node.
        let theirs = all
            .iter()
            .filter(|o| o.conversation == conv.conversation && o.from == conv.with)
            .max_by_key(|o| o.created_at);
        let home: NodeId = match theirs {
            Some(o) => o
                .from_node
                .parse()
                .map_err(|_| anyhow!("bad node id in your letters"))?,
            None => {
                let (v, _) = post::fetch(c, &conv.listing)?;
                v.home_node
                    .parse()
                    .map_err(|_| anyhow!("bad home node of the listing"))?
            }
        };
        let carried = theirs
            .and_then(|o| hex::decode(&o.reply_key).ok())
            .and_then(|b| ReplyKey::verify(&b, now()).ok())
            .filter(|k| k.member == to);
        let key = match carried {
            Some(k) => k,
            None => their_key(c, &to, &home)?,
        };
        return Ok(Recipient {
            listing,
            to,
            home,
            key,
        });
    }
    let (v, signed) = post::fetch(c, id)?;
    let l = signed.listing;
    if l.author == *me {
        bail!(
            "listing {} is your own: answer a conversation about it instead (`buurt inbox` lists them)",
            v.id
        );
    }
    let key = their_key(c, &l.author, &l.certificate.node)?;
    Ok(Recipient {
        listing: v
            .id
            .parse()
            .map_err(|_| anyhow!("bad listing id from the node"))?,
        to: l.author,
        home: l.certificate.node,
        key,
    })
}

#[derive(Serialize)]
struct ReplyView<'a> {
    conversation: String,
    listing: String,
    to: String,
    /// `queued`, `delivered` or `failed`.
    state: &'a str,
    detail: &'a str,
    id: &'a str,
}

pub fn reply(cli: &Cli, dir: &DataDir, id: &str, text: &str) -> Result<()> {
    let (first, conversation, to) = send_reply(cli, dir, id, text)?;
    if cli.json {
        return print_json(&ReplyView {
            conversation,
            listing: to.listing.to_string(),
            to: to.to.to_string(),
            state: &first.state,
            detail: &first.detail,
            id: &first.id,
        });
    }
    println!(
        "Reply to {} about listing {}: {}.",
        short(&to.to.to_string()),
        to.listing,
        first.detail
    );
    if first.state == "queued" {
        println!(
            "Your node keeps trying; `buurt mail {}` shows where it stands.",
            first.id
        );
    }
    println!("Conversation {conversation}: `buurt thread {conversation}` shows it.");
    if first.state == "failed" {
        std::process::exit(1);
    }
    Ok(())
}

/// Writes, seals and sends a reply about a listing or in a conversation:
/// its delivery state, the conversation id and whom it went to.
pub fn send_reply(
    cli: &Cli,
    dir: &DataDir,
    id: &str,
    text: &str,
) -> Result<(buurt_node::api::mail::SentView, String, Recipient)> {
    let text = text.trim();
    if text.is_empty() {
        bail!("the reply is empty: write something to send");
    }
    if text.len() > MAX_TEXT_BYTES {
        bail!(
            "the reply is {} bytes; at most {MAX_TEXT_BYTES} fit in one letter",
            text.len()
        );
    }
    let (key, cert, all, state, letters) = sync(cli, dir)?;
    let me = keys::member_id(&key);
    let c = client(cli, dir)?;
    let list = conversations(&all, &state, &me);
    let to = match recipient(&c, id, &me, &list, &all) {
        Ok(to) => to,
        // Not on the node: perhaps a circle listing, opened on this device.
        Err(e) => super::circle::recipient(cli, dir, &c, id)?.ok_or(e)?,
    };
    let (first, conversation) = send_letter(&c, &letters, &key, &cert, &to, text)?;
    Ok((first, conversation, to))
}

/// Signs and seals `text` as a letter to `to` (and the sender's own copy),
/// and has the node send it: the delivery state and the conversation id.
pub(super) fn send_letter(
    c: &Client,
    letters: &Letters,
    key: &SigningKey,
    cert: &Certificate,
    to: &Recipient,
    text: &str,
) -> Result<(buurt_node::api::mail::SentView, String)> {
    let me = keys::member_id(key);
    let mine = reply_key(c, letters, key, cert, false)?;
    let t = now();
    let letter = Letter {
        listing: to.listing,
        to: to.to,
        created_at: t,
        text: text.to_owned(),
        certificate: cert.clone(),
        reply_key: hex::decode(letters.current_key(key, cert, t)?.0.record)?,
    }
    .sign(key)?;
    let envelopes = vec![
        Envelope::seal_unsigned(
            &letter,
            &to.key,
            to.home,
            to.listing,
            t,
            random_bytes::<32>()?,
        )?,
        // The sender's own copy, in the sender's own mailbox.
        Envelope::seal_unsigned(
            &letter,
            &mine,
            cert.node,
            to.listing,
            t,
            random_bytes::<32>()?,
        )?,
    ];
    let digest = Envelope::send_digest(&envelopes)?;
    let body = SendBody {
        request: signed_request(key, Op::Send { digest })?,
        envelopes: envelopes.iter().map(Sealed::from_envelope).collect(),
        wait_ms: None,
    };
    let answer: SendAnswer = c.post("/v1/mail", &body)?;
    let first = answer
        .sent
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("the node sent no delivery state"))?;
    Ok((first, conversation_id(&to.listing, &me, &to.to)))
}

/// `buurt mail ID`: where a sent letter stands.
pub fn mail_state(cli: &Cli, dir: &DataDir, id: &str) -> Result<()> {
    let c = client(cli, dir)?;
    let v: buurt_node::api::mail::SentView = c.get(&format!("/v1/mail/{}", id.trim()), &[])?;
    if cli.json {
        return print_json(&v);
    }
    println!("{}: {}", short(&v.id), v.detail);
    Ok(())
}

/// Drops mail from `member` on this device from now on (`buurt block`).
pub fn block_member(dir: &DataDir, member: &MemberId) -> Result<bool> {
    let letters = Letters::new(dir);
    let mut state = letters.state()?;
    let new = state.blocked.insert(member.to_string());
    letters.save_state(&state)?;
    Ok(new)
}
