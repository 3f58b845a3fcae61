//! Alerts: `buurt watch add|list|remove` keeps a member's saved searches on
//! their home node, and `buurt notifications` shows the listings that
//! matched them, whether posted there or arrived by gossip or sync. Each
//! call is signed with the member key (a mailbox request naming the call).

use anyhow::{anyhow, Result};
use buurt_node::api::watch::{WatchAnswer, WatchBody, WatchCall};
use buurt_node::datadir::DataDir;
use buurt_protocol::mail::mailbox::Op;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::mail::signed_request;
use super::{client, member, print_json};
use crate::output;
use crate::Cli;

/// Sends one call about the member's watches.
pub(super) fn call(cli: &Cli, dir: &DataDir, call: &WatchCall) -> Result<WatchAnswer> {
    let (key, _) = member(cli, dir)?;
    let text = serde_json::to_string(call)?;
    let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    let body = WatchBody {
        request: signed_request(&key, Op::Call { digest })?,
        call: text,
    };
    client(cli, dir)?.post("/v1/watch", &body)
}

/// What the member has seen of their notifications, kept on this device.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Seen {
    last: u64,
}

fn seen_path(dir: &DataDir) -> std::path::PathBuf {
    dir.root().join("notifications.json")
}

fn load_seen(dir: &DataDir) -> Seen {
    std::fs::read(seen_path(dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

pub fn add(
    cli: &Cli,
    dir: &DataDir,
    text: &str,
    topic: Option<String>,
    kind: Option<String>,
    near: Option<String>,
) -> Result<()> {
    let a = call(
        cli,
        dir,
        &WatchCall::Add {
            text: text.to_owned(),
            topic,
            kind,
            near,
        },
    )?;
    let w = a.added.ok_or_else(|| anyhow!("the node added no watch"))?;
    if cli.json {
        return print_json(&w);
    }
    println!(
        "Watching for \"{}\" (watch {}): `buurt notifications` shows what matches, from now on.",
        w.text, w.id
    );
    Ok(())
}

pub fn list(cli: &Cli, dir: &DataDir) -> Result<()> {
    let a = call(cli, dir, &WatchCall::List)?;
    if cli.json {
        return print_json(&a.watches);
    }
    if a.watches.is_empty() {
        println!("No watches: `buurt watch add boormachine` tells you when one is offered.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = a
        .watches
        .iter()
        .map(|w| {
            vec![
                w.id.to_string(),
                w.text.clone(),
                w.topic.clone().unwrap_or_else(|| "-".into()),
                w.kind.clone().unwrap_or_else(|| "-".into()),
                w.near.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    output::table(&["ID", "WORDS", "TOPIC", "KIND", "NEAR"], &rows);
    Ok(())
}

pub fn remove(cli: &Cli, dir: &DataDir, id: u64) -> Result<()> {
    let a = call(cli, dir, &WatchCall::Remove { id })?;
    if cli.json {
        return print_json(&a);
    }
    if a.removed == Some(true) {
        println!("Watch {id} removed.");
        Ok(())
    } else {
        anyhow::bail!("no watch {id} (`buurt watch list` shows yours)")
    }
}

/// How many notifications arrived since the member last looked, or `None`
/// when the node cannot say (for `buurt inbox`).
pub fn unseen(cli: &Cli, dir: &DataDir) -> Option<usize> {
    let last = load_seen(dir).last;
    call(cli, dir, &WatchCall::Notifications { after: last })
        .ok()
        .map(|a| a.notifications.len())
}

pub fn notifications(cli: &Cli, dir: &DataDir, all: bool) -> Result<()> {
    let mut seen = load_seen(dir);
    let after = if all { 0 } else { seen.last };
    let a = call(cli, dir, &WatchCall::Notifications { after })?;
    // Looking at the new ones marks them seen; `--all` looks back only.
    if let (false, Some(n)) = (all, a.notifications.last()) {
        seen.last = seen.last.max(n.seq);
        buurt_node::datadir::write_secret(&seen_path(dir), &serde_json::to_vec(&seen)?)?;
    }
    if cli.json {
        return print_json(&a.notifications);
    }
    if a.notifications.is_empty() {
        println!(
            "{}",
            if all {
                "No notifications (`buurt watch add WORDS` sets one up)."
            } else {
                "Nothing new (`--all` shows the earlier ones)."
            }
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = a
        .notifications
        .iter()
        .map(|n| {
            vec![
                output::when(&n.at),
                n.watch.to_string(),
                n.listing[..12].to_owned(),
                n.kind.clone(),
                output::cut(&n.title, 50),
            ]
        })
        .collect();
    output::table(&["WHEN", "WATCH", "LISTING", "KIND", "TITLE"], &rows);
    Ok(())
}
