//! The resident's inbox and threads: conversations from the letters kept
//! on this device.

use anyhow::{bail, Result};
use buurt_node::clock::rfc3339;
use buurt_node::datadir::DataDir;
use buurt_protocol::keys;
use buurt_protocol::MemberId;
use serde::Serialize;

use super::mail::{sync, REPORT_PREFIX};
use super::print_json;
use crate::letters::{Opened, State};
use crate::output;
use crate::Cli;

/// A conversation as `buurt inbox` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Conversation {
    pub conversation: String,
    pub listing: String,
    /// The other member.
    pub with: String,
    pub letters: usize,
    pub unread: usize,
    /// The newest letter: when (RFC 3339), who wrote it, and its start.
    pub last_at: String,
    pub last_from: String,
    pub last_text: String,
}

/// The conversations, newest first.
pub(super) fn conversations(all: &[Opened], state: &State, me: &MemberId) -> Vec<Conversation> {
    let mut by: std::collections::HashMap<&str, Vec<&Opened>> = Default::default();
    // Reports and circle keys and listings are letters too, not talk.
    let talk =
        |o: &&Opened| !o.text.starts_with(REPORT_PREFIX) && !o.text.starts_with("buurt-circle/v1 ");
    for o in all.iter().filter(talk) {
        by.entry(o.conversation.as_str()).or_default().push(o);
    }
    let me = me.to_string();
    let mut out: Vec<Conversation> = by
        .into_iter()
        .map(|(id, ls)| {
            let read = state.read.get(id).copied().unwrap_or(0);
            let last = ls.iter().max_by_key(|o| (o.created_at, o.seq)).copied();
            let last = last.expect("a conversation has a letter");
            let with = if last.from == me {
                last.to.clone()
            } else {
                last.from.clone()
            };
            Conversation {
                conversation: id.to_owned(),
                listing: last.listing.clone(),
                with,
                letters: ls.len(),
                unread: ls.iter().filter(|o| o.from != me && o.seq > read).count(),
                last_at: rfc3339(last.created_at),
                last_from: last.from.clone(),
                last_text: super::agree::describe(&last.text).unwrap_or_else(|| last.text.clone()),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.last_at
            .cmp(&a.last_at)
            .then(a.conversation.cmp(&b.conversation))
    });
    out
}

pub(super) fn short(id: &str) -> String {
    output::cut(id, 12)
}

pub fn inbox(cli: &Cli, dir: &DataDir) -> Result<()> {
    let (key, _, all, state, _) = sync(cli, dir)?;
    let me = keys::member_id(&key);
    let list = conversations(&all, &state, &me);
    if cli.json {
        return print_json(&list);
    }
    // Alerts wait beside the letters.
    if let Some(n) = super::watch::unseen(cli, dir).filter(|n| *n > 0) {
        println!("{n} new notification(s) from your watches: `buurt notifications`.\n");
    }
    if list.is_empty() {
        println!("No conversations yet. Answer a listing with `buurt reply ID \"…\"`.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let who = if c.last_from == me.to_string() {
                "you: "
            } else {
                ""
            };
            vec![
                if c.unread > 0 { "*".into() } else { " ".into() },
                c.conversation.clone(),
                short(&c.listing),
                short(&c.with),
                output::when(&c.last_at),
                format!("{}{}", who, output::cut(&c.last_text, 40)),
            ]
        })
        .collect();
    output::table(
        &["", "CONVERSATION", "LISTING", "WITH", "LAST", "MESSAGE"],
        &rows,
    );
    let unread: usize = list.iter().map(|c| c.unread).sum();
    println!(
        "\n{} conversation(s), {unread} unread letter(s). Read one with `buurt thread CONVERSATION`.",
        list.len()
    );
    if state.unopened > 0 {
        eprintln!(
            "{} letter(s) in your mailbox did not open with your reply keys (sealed to a key this device does not hold).",
            state.unopened
        );
    }
    Ok(())
}

/// The conversation a prefix names, among the resident's letters.
pub(super) fn find<'a>(list: &'a [Conversation], id: &str) -> Result<Option<&'a Conversation>> {
    let id = id.trim().to_ascii_lowercase();
    let hits: Vec<_> = list
        .iter()
        .filter(|c| c.conversation.starts_with(&id))
        .collect();
    match hits.len() {
        0 => Ok(None),
        1 => Ok(Some(hits[0])),
        n => bail!("`{id}` names {n} conversations: give more of the id"),
    }
}

#[derive(Serialize)]
struct ThreadView<'a> {
    conversation: &'a str,
    listing: &'a str,
    with: &'a str,
    letters: Vec<&'a Opened>,
}

pub fn thread(cli: &Cli, dir: &DataDir, id: &str) -> Result<()> {
    let (key, _, all, mut state, letters) = sync(cli, dir)?;
    let me = keys::member_id(&key);
    let list = conversations(&all, &state, &me);
    let conv = match find(&list, id)? {
        Some(c) => c.clone(),
        None => {
            // A listing id (prefix): its one conversation.
            let hits: Vec<_> = list
                .iter()
                .filter(|c| c.listing.starts_with(id.trim()))
                .collect();
            match hits.len() {
                1 => hits[0].clone(),
                0 => bail!("no conversation `{id}`: `buurt inbox` lists them"),
                n => bail!("listing `{id}` has {n} conversations: give the conversation id (`buurt inbox`)"),
            }
        }
    };
    let mut ls: Vec<&Opened> = all
        .iter()
        .filter(|o| o.conversation == conv.conversation)
        .collect();
    ls.sort_by_key(|o| (o.created_at, o.seq));
    if let Some(max) = ls.iter().map(|o| o.seq).max() {
        state.read.insert(conv.conversation.clone(), max);
        letters.save_state(&state)?;
    }
    if cli.json {
        return print_json(&ThreadView {
            conversation: &conv.conversation,
            listing: &conv.listing,
            with: &conv.with,
            letters: ls,
        });
    }
    println!(
        "Conversation {} about listing {} with {}",
        conv.conversation, conv.listing, conv.with
    );
    for o in ls {
        let who = if o.from == me.to_string() {
            "you".to_string()
        } else {
            short(&o.from)
        };
        println!("\n{} — {}", output::when(&rfc3339(o.created_at)), who);
        let text = super::agree::describe(&o.text).unwrap_or_else(|| o.text.clone());
        for line in text.lines() {
            println!("  {line}");
        }
    }
    println!("\nAnswer with `buurt reply {} \"…\"`.", conv.conversation);
    Ok(())
}
