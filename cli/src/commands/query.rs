//! Finding listings and seeing the node's state: `search`, `show`, `mine`,
//! `status`, `peers`, `sync`, `id` and `topics`.

use anyhow::{bail, Context, Result};
use buurt_node::api::dto::{ListingView, PeerInfo, ScopeSync, StatusView, SyncAnswer, SyncAsk};
use buurt_node::clock::rfc3339;
use buurt_node::datadir::DataDir;
use buurt_protocol::{keys, taxonomy};
use serde_json::json;

use super::post::fetch;
use super::{client, print_json};
use crate::output;
use crate::{Cli, SearchArgs};

pub fn search(cli: &Cli, dir: &DataDir, a: &SearchArgs) -> Result<()> {
    if let Some(which) = &a.circle {
        return super::circle::search(cli, dir, which, &a.query);
    }
    let c = client(cli, dir)?;
    let mut q: Vec<(&str, String)> = vec![("q", a.query.join(" ")), ("limit", a.limit.to_string())];
    if a.offers {
        q.push(("kind", "offer".into()));
    }
    if a.requests {
        q.push(("kind", "request".into()));
    }
    for (k, v) in [
        ("exchange", &a.exchange),
        ("topic", &a.topic),
        ("scope", &a.scope),
        ("near", &a.near),
        ("available", &a.available),
    ] {
        if let Some(v) = v {
            q.push((k, v.trim().to_lowercase()));
        }
    }
    if a.all {
        q.push(("all", "true".into()));
    }
    let found: Vec<ListingView> = c.get("/v1/search", &q)?;
    if cli.json {
        return print_json(&found);
    }
    output::listings(&found, !a.query.is_empty());
    Ok(())
}

pub fn show(cli: &Cli, dir: &DataDir, id: &str, photo: Option<&std::path::Path>) -> Result<()> {
    let c = client(cli, dir)?;
    let (mut v, signed) = fetch(&c, id)?;
    v.signed_bytes = None;
    if let Some(out) = photo {
        let Some(p) = signed.listing.extras.photo else {
            bail!("listing {} has no photo", &v.id[..12]);
        };
        let bytes = super::photos::fetch(&c, &p, &v.id)?;
        std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
        eprintln!(
            "Saved the photo ({} bytes, {}) to {}",
            bytes.len(),
            p.media.mime(),
            out.display()
        );
    }
    if cli.json {
        return print_json(&v);
    }
    output::listing(&v);
    Ok(())
}

pub fn mine(cli: &Cli, dir: &DataDir) -> Result<()> {
    let me = dir.member_id().context("reading your member key")?;
    let c = client(cli, dir)?;
    let list: Vec<ListingView> = c.get(&format!("/v1/members/{me}/listings"), &[])?;
    if cli.json {
        return print_json(&list);
    }
    output::listings(&list, false);
    Ok(())
}

pub fn status(cli: &Cli, dir: &DataDir) -> Result<()> {
    let c = client(cli, dir)?;
    let s: StatusView = c.get("/v1/status", &[])?;
    if cli.json {
        return print_json(&s);
    }
    if !s.name.is_empty() {
        println!("name      {}", s.name);
    }
    println!("node      {}", s.node_id);
    println!("member    {}", s.member_id);
    println!("scope     {}", s.scope);
    println!("api       http://{}", s.api);
    for a in &s.listen_addrs {
        println!("listen    {a}");
    }
    println!("listings  {}", s.listings);
    for sc in &s.scopes {
        let how = if sc.subscribed {
            ""
        } else {
            "  (not subscribed)"
        };
        println!("  {:>7}  {}{how}", sc.listings, sc.scope);
    }
    println!("reach     {}", s.reach.summary);
    println!("peers     {}", s.peers);
    println!("policy    {} ({} trusted nodes)", s.policy, s.trusted);
    if s.policy == "web" {
        println!(
            "web       {} nodes within reach (this one included)",
            s.web_nodes
        );
        if s.vouched_by.is_empty() {
            println!(
                "vouches   no node vouches for this node yet: ask a neighbouring node's operator to run `buurt trust {}`",
                s.node_id
            );
        } else {
            println!("vouches   vouched for by {}", s.vouched_by.join(", "));
        }
        let ignored = s.ingest.ignored.get("unvouched_node").copied().unwrap_or(0);
        if ignored > 0 {
            println!(
                "ignored   {ignored} listings of members of nodes outside the web, since start"
            );
        }
    }
    println!(
        "members   {} ({} revocations known)",
        s.members, s.revocations
    );
    println!("blocks    {}", s.blocks);
    println!(
        "mail      {} letters ({} bytes) in members' mailboxes, {} queued to send",
        s.mail.letters, s.mail.bytes, s.mail.queued
    );
    if let Some(free) = s.disk_free_bytes {
        let warn = match s.disk {
            buurt_node::space::Level::Ok => "",
            buurt_node::space::Level::Low => "  (low: free some space)",
            buurt_node::space::Level::Full => {
                "  (FULL: new listings are refused until space is freed)"
            }
        };
        println!("disk      {} MB free{warn}", free / 1_000_000);
    }
    for x in &s.sync {
        println!("sync      {}", sync_line(x));
    }
    println!("since     {}", s.started_at);
    Ok(())
}

/// Starts catch-up sync sessions; with `wait`, follows them to their end
/// with a progress bar and says what each scope got.
pub fn sync(cli: &Cli, dir: &DataDir, peer: Option<&str>, wait: bool) -> Result<()> {
    let c = client(cli, dir)?;
    let before: StatusView = c.get("/v1/status", &[])?;
    let ask = SyncAsk {
        peer: peer.map(str::to_owned),
    };
    let answer: SyncAnswer = c.post("/v1/sync", &ask)?;
    if answer.sessions == 0 {
        let peers: Vec<PeerInfo> = c.get("/v1/peers", &[])?;
        if peers.is_empty() {
            bail!(
                "no sync started: no peer is connected (start the node with --peer ADDRESS, the \
                 address another node's `buurt status` shows, or let mDNS find nodes on this network)"
            );
        }
        bail!(
            "no sync started: a sync with every connected peer is already running (`buurt status` \
             shows how far it got)"
        );
    }
    if !wait {
        if cli.json {
            return print_json(&answer);
        }
        println!(
            "Syncing with {} peer(s); `buurt status` shows the result per scope.",
            answer.sessions
        );
        return Ok(());
    }
    let (after, done) = follow_sync(&c)?;
    // The scopes whose last session is not the one they had before.
    let changed: Vec<&ScopeSync> = after
        .sync
        .iter()
        .filter(|x| {
            !before
                .sync
                .iter()
                .any(|b| b.scope == x.scope && b.last_at == x.last_at && b.peer == x.peer)
        })
        .collect();
    if cli.json {
        return print_json(&json!({
            "sessions": answer.sessions,
            "done": done,
            "sync": changed,
        }));
    }
    if !done {
        println!(
            "Still syncing with {} peer(s) after {} s; `buurt status` shows how far it got.",
            after.syncing,
            SYNC_WAIT.as_secs()
        );
    } else {
        println!("Synced with {} peer(s).", answer.sessions);
    }
    for x in changed {
        println!("sync      {}", sync_line(x));
    }
    Ok(())
}

/// Longest `buurt sync` follows its sessions.
const SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Polls the node's status until no sync session runs (true) or
/// [`SYNC_WAIT`] has passed (false), showing the listings fetched so far.
fn follow_sync(c: &crate::client::Client) -> Result<(StatusView, bool)> {
    let started = std::time::Instant::now();
    let mut bar = crate::progress::Progress::new("sync", "listings fetched", None);
    loop {
        let s: StatusView = c.get("/v1/status", &[])?;
        let (fetched, needed) = s
            .sync
            .iter()
            .filter(|x| x.in_progress)
            .fold((0, 0), |(f, n), x| (f + x.fetched, n + x.needed));
        if needed > 0 {
            bar.set_len(needed as u64);
        }
        bar.set(fetched as u64);
        if s.syncing == 0 || started.elapsed() >= SYNC_WAIT {
            bar.finish();
            let done = s.syncing == 0;
            return Ok((s, done));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// The last sync of one scope in words: `nl/amsterdam  2026-12-02 09:38 UTC
/// with bn3x…: 12 new listings stored (12 fetched); 3 of ours the peer lacked`.
fn sync_line(x: &ScopeSync) -> String {
    let peer = output::cut(&x.peer, 16);
    let head = format!("{}  {}  with {peer}", x.scope, output::when(&x.last_at));
    if let Some(reason) = x.result.strip_prefix("refused: ") {
        return match reason {
            "scope not followed" => format!("{head}: the peer does not follow this scope"),
            "busy" => format!("{head}: the peer was busy; the next session tries again"),
            other => format!("{head}: the peer refused ({other})"),
        };
    }
    if let Some(why) = x.result.strip_prefix("failed: ") {
        return format!("{head}: failed ({why})");
    }
    let mut line = match (x.needed, x.stored) {
        (0, _) => format!("{head}: nothing new"),
        (n, stored) if stored == n => format!("{head}: {n} new listings stored"),
        (n, stored) => format!(
            "{head}: {stored} of {n} new listings stored ({} fetched)",
            x.fetched
        ),
    };
    if x.offered > 0 {
        line.push_str(&format!("; {} of ours the peer lacked", x.offered));
    }
    if x.result.starts_with("partial") {
        line.push_str("; more next time");
    }
    if x.in_progress {
        line.push_str(" (in progress)");
    }
    line
}

pub fn peers(cli: &Cli, dir: &DataDir) -> Result<()> {
    let c = client(cli, dir)?;
    let list: Vec<PeerInfo> = c.get("/v1/peers", &[])?;
    if cli.json {
        return print_json(&list);
    }
    if list.is_empty() {
        println!("No peers connected.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|p| {
            vec![
                p.node_id.clone(),
                p.path.clone(),
                p.address.clone(),
                p.scopes.join(" "),
                p.since.clone(),
                if p.accepted {
                    "yes".into()
                } else {
                    "no".into()
                },
                if p.vouched_by.is_empty() {
                    "-".into()
                } else {
                    p.vouched_by
                        .iter()
                        .map(|v| output::cut(v, 12))
                        .collect::<Vec<_>>()
                        .join(" ")
                },
            ]
        })
        .collect();
    output::table(
        &[
            "NODE",
            "PATH",
            "ADDRESS",
            "SCOPES",
            "SINCE",
            "ACCEPTED",
            "VOUCHED BY",
        ],
        &rows,
    );
    Ok(())
}

pub fn id(cli: &Cli, dir: &DataDir) -> Result<()> {
    let created = if !dir.member_key_path().exists() {
        dir.create()?;
        dir.load_or_create_key(&dir.member_key_path())?.1
    } else {
        false
    };
    let key = dir.member_key()?;
    let me = keys::member_id(&key);
    let cert = dir.certificate()?;
    if cli.json {
        let c = cert.as_ref().map(|c| {
            json!({
                "node_id": c.node.to_string(), "scope": c.scope.to_string(),
                "not_before": rfc3339(c.not_before),
                "not_after": rfc3339(c.not_after),
            })
        });
        return print_json(
            &json!({ "member_id": me.to_string(), "created": created, "certificate": c }),
        );
    }
    if created {
        eprintln!(
            "Created a new member key in {}",
            dir.member_key_path().display()
        );
    }
    println!("{me}");
    match cert {
        Some(c) => eprintln!(
            "admitted to {} by node {} until {}",
            c.scope,
            c.node,
            output::date(&rfc3339(c.not_after))
        ),
        None => eprintln!("not admitted yet: give this id to your node's operator"),
    }
    Ok(())
}

pub fn topics(cli: &Cli) -> Result<()> {
    if cli.json {
        let v: Vec<_> = taxonomy::TOPICS
            .iter()
            .map(|t| json!({"key": t.key, "nl": t.nl, "en": t.en}))
            .collect();
        return print_json(&v);
    }
    let rows: Vec<Vec<String>> = taxonomy::TOPICS
        .iter()
        .map(|t| vec![t.key.into(), t.nl.into(), t.en.into()])
        .collect();
    output::table(&["TOPIC", "NEDERLANDS", "ENGLISH"], &rows);
    Ok(())
}
