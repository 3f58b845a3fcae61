//! Finding listings and seeing the node's state: `search`, `show`, `mine`,
//! `status`, `peers`, `sync`, `id` and `topics`.

use anyhow::{Context, Result};
use buurt_node::api::dto::{ListingView, PeerInfo, StatusView, SyncAnswer, SyncAsk};
use buurt_node::clock::rfc3339;
use buurt_node::datadir::DataDir;
use buurt_protocol::{keys, taxonomy};
use serde_json::json;

use super::post::fetch;
use super::{client, print_json};
use crate::output;
use crate::{Cli, SearchArgs};

pub fn search(cli: &Cli, dir: &DataDir, a: &SearchArgs) -> Result<()> {
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

pub fn show(cli: &Cli, dir: &DataDir, id: &str) -> Result<()> {
    let c = client(cli, dir)?;
    let (mut v, _) = fetch(&c, id)?;
    v.signed_bytes = None;
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
    println!("peers     {}", s.peers);
    println!("policy    {} ({} trusted nodes)", s.policy, s.trusted);
    println!(
        "members   {} ({} revocations known)",
        s.members, s.revocations
    );
    println!("blocks    {}", s.blocks);
    for x in &s.sync {
        println!(
            "sync      {}  {}  {} with {}: {} rounds, {} needed, {} fetched, {} stored{}",
            x.scope,
            x.last_at,
            x.result,
            output::cut(&x.peer, 16),
            x.rounds,
            x.needed,
            x.fetched,
            x.stored,
            if x.in_progress { " (in progress)" } else { "" }
        );
    }
    println!("since     {}", s.started_at);
    Ok(())
}

pub fn sync(cli: &Cli, dir: &DataDir, peer: Option<&str>) -> Result<()> {
    let c = client(cli, dir)?;
    let ask = SyncAsk {
        peer: peer.map(str::to_owned),
    };
    let answer: SyncAnswer = c.post("/v1/sync", &ask)?;
    if cli.json {
        return print_json(&answer);
    }
    match answer.sessions {
        0 => println!("No sync started: no peer is connected, or a sync is already running."),
        n => println!("Syncing with {n} peer(s); `buurt status` shows the result per scope."),
    }
    Ok(())
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
                p.address.clone(),
                p.scopes.join(" "),
                p.since.clone(),
            ]
        })
        .collect();
    output::table(&["NODE", "ADDRESS", "SCOPES", "SINCE"], &rows);
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
