//! What each subcommand does.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use buurt_node::api::PostAnswer;
use buurt_node::config::{Config, FileConfig, Overrides, DEFAULT_SCOPE};
use buurt_node::datadir::{random_bytes, DataDir};
use buurt_node::run::{self, now, Node};
use buurt_node::view::ListingView;
use buurt_protocol::limits::DAY;
use buurt_protocol::{
    keys, revision, sample, taxonomy, validate, Exchange, Kind, Limits, Listing, ListingKey, Scope,
    SignedListing, Status, Terms,
};
use serde_json::json;

use crate::client::Client;
use crate::compose;
use crate::output;
use crate::{Cli, Command, PostArgs, SearchArgs, UpdateArgs};

/// The data directory: `--data-dir`, else `$BUURT_DIR`, else the platform's.
fn data_dir(cli: &Cli) -> Result<DataDir> {
    if let Some(d) = &cli.data_dir {
        return Ok(DataDir::new(d));
    }
    if let Some(d) = std::env::var_os("BUURT_DIR").filter(|d| !d.is_empty()) {
        return Ok(DataDir::new(PathBuf::from(d)));
    }
    let base = dirs::data_dir()
        .ok_or_else(|| anyhow!("no data directory known on this system: give --data-dir"))?;
    Ok(DataDir::new(base.join("buurt")))
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub fn run(cli: Cli) -> Result<()> {
    let dir = data_dir(&cli)?;
    match &cli.command {
        Command::Init { scope, name } => init(&cli, &dir, scope, name.as_deref()),
        Command::Node {
            listen,
            peer,
            no_mdns,
            scope,
        } => node(&cli, dir, listen, peer, *no_mdns, scope.as_deref()),
        Command::Offer(a) => post_new(&cli, &dir, Kind::Offer, a),
        Command::Request(a) => post_new(&cli, &dir, Kind::Request, a),
        Command::Search(a) => search(&cli, &dir, a),
        Command::Show { id } => show(&cli, &dir, id),
        Command::Mine => mine(&cli, &dir),
        Command::Update(a) => update(&cli, &dir, a),
        Command::Withdraw { id } => withdraw(&cli, &dir, id),
        Command::Status => status(&cli, &dir),
        Command::Peers => peers(&cli, &dir),
        Command::Sync { peer } => sync(&cli, &dir, peer.as_deref()),
        Command::Id => id(&cli, &dir),
        Command::Reindex => reindex(&cli, dir),
        Command::Block { target, reason } => block(&cli, &dir, target, reason),
        Command::Unblock { target } => unblock(&cli, &dir, target),
        Command::Blocks => blocks(&cli, &dir),
        Command::Trust { node_id } => trust(&cli, &dir, node_id, true),
        Command::Untrust { node_id } => trust(&cli, &dir, node_id, false),
        Command::Trusted => trusted(&cli, &dir),
        Command::Admit {
            member_id,
            name,
            scope,
            valid,
        } => admit(&cli, &dir, member_id, name, scope.as_deref(), valid),
        Command::Members => members(&cli, &dir),
        Command::Revoke { member_id } => revoke(&cli, &dir, member_id),
        Command::Topics => topics(&cli),
        Command::Follow { scope } => follow(&cli, &dir, scope, true),
        Command::Unfollow { scope } => follow(&cli, &dir, scope, false),
    }
}

fn init(cli: &Cli, dir: &DataDir, scope: &str, name: Option<&str>) -> Result<()> {
    let scope = scope.trim().to_lowercase();
    let r = run::init(dir, Some(&scope), name)?;
    if cli.json {
        return print_json(&json!({
            "data_dir": dir.root(), "created": r.created, "scope": r.scope.to_string(),
            "node_id": r.node_id, "member_id": r.member_id,
        }));
    }
    if r.created {
        println!("Initialised a buurt node in {}", dir.root().display());
    } else {
        println!(
            "{} was already initialised; keys kept",
            dir.root().display()
        );
    }
    println!(
        "  scope   {}\n  node    {}\n  member  {}",
        r.scope, r.node_id, r.member_id
    );
    println!(
        "Start it with: buurt --data-dir {} node",
        dir.root().display()
    );
    Ok(())
}

fn node(
    cli: &Cli,
    dir: DataDir,
    listen: &[String],
    peers: &[String],
    no_mdns: bool,
    scope: Option<&str>,
) -> Result<()> {
    if !dir.is_initialised() {
        let chosen = scope.map(|s| s.trim().to_lowercase());
        let r = run::init(&dir, Some(chosen.as_deref().unwrap_or(DEFAULT_SCOPE)), None)?;
        eprintln!("Initialised a new buurt node in {}", dir.root().display());
        if chosen.is_none() {
            eprintln!(
                "  scope: {} (a placeholder; set your neighbourhood with `buurt node --scope nl/amsterdam/oost/dapperbuurt` on a new data directory, or edit `scope` in {})",
                r.scope,
                dir.config_path().display()
            );
        } else {
            eprintln!("  scope: {}", r.scope);
        }
    } else if let Some(s) = scope {
        let file = FileConfig::load(&dir.config_path())?;
        if file.scope != s.trim().to_lowercase() {
            bail!(
                "{} already has scope {}; edit `scope` in {} to change it",
                dir.root().display(),
                file.scope,
                dir.config_path().display()
            );
        }
    }
    let file = FileConfig::load(&dir.config_path())?;
    let overrides = Overrides {
        api: cli.api.clone(),
        listen: listen.to_vec(),
        peers: peers.to_vec(),
        no_mdns,
    };
    let config = Config::build(file, overrides)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BUURT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let scope = config.scope.clone();
    let node = Node::open(dir.clone(), config)?;
    let listings = node.ingest.store().len()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(node.serve(run::shutdown_signal(), |addr| {
        tracing::info!("buurt node running: scope {scope}, {listings} listings, API http://{addr} (Ctrl-C stops it)");
    }))?;
    tracing::info!("buurt node stopped");
    Ok(())
}

/// A client for the node this CLI talks to.
fn client(cli: &Cli, dir: &DataDir) -> Result<Client> {
    let explicit = cli
        .api
        .clone()
        .or_else(|| std::env::var("BUURT_API").ok().filter(|a| !a.is_empty()));
    let token = dir.token();
    if let Some(api) = explicit {
        return Ok(Client::new(
            &api,
            token,
            "is `buurt node` running there?".into(),
        ));
    }
    let hint = format!(
        "start one with `buurt --data-dir {} node`",
        dir.root().display()
    );
    match dir.api_addr() {
        Some(addr) => Ok(Client::new(
            &addr,
            token,
            format!("it seems to have stopped; {hint}"),
        )),
        None => bail!(
            "no node is running for {}: {hint} (or give --api)",
            dir.root().display()
        ),
    }
}

/// The member key and certificate, with a clear message when either is
/// missing. A resident without a certificate fetches it from the node on
/// first use (the operator ran `buurt admit`) and keeps it.
fn member(cli: &Cli, dir: &DataDir) -> Result<(keys::SigningKey, buurt_protocol::Certificate)> {
    if !dir.member_key_path().exists() {
        bail!(
            "{} has no member key: run `buurt init --scope SCOPE` for a node, or `buurt id` to make a key",
            dir.root().display()
        );
    }
    let key = dir.member_key()?;
    if let Some(cert) = dir.certificate()? {
        if cert.not_after > now() {
            return Ok((key, cert));
        }
    }
    let me = keys::member_id(&key);
    let c = client(cli, dir)?;
    let m: serde_json::Value = c.get(&format!("/v1/members/{me}/certificate"), &[])?;
    let cert = m["certificate"]
        .as_str()
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| buurt_protocol::Certificate::from_bytes(&b).ok())
        .ok_or_else(|| anyhow!("the node sent a certificate that does not decode"))?;
    if cert.member != me || cert.verify_signature().is_err() {
        bail!("the node sent a certificate that is not yours or not validly signed");
    }
    dir.write_certificate(&cert)?;
    eprintln!(
        "Fetched your membership certificate from node {} ({}, until {}).",
        cert.node,
        cert.scope,
        output::date(&buurt_node::view::rfc3339(cert.not_after))
    );
    Ok((key, cert))
}

/// Signs, checks locally, posts. Returns the node's answer.
fn sign_and_post(
    cli: &Cli,
    dir: &DataDir,
    key: &keys::SigningKey,
    listing: Listing,
) -> Result<PostAnswer> {
    let signed = listing.sign(key).map_err(|e| anyhow!("{e}"))?;
    validate(signed.bytes(), now(), &Limits::default()).map_err(|r| anyhow!("{r}"))?;
    let c = client(cli, dir)?;
    c.post(
        "/v1/listings",
        &json!({ "signed": hex::encode(signed.bytes()) }),
    )
}

fn post_new(cli: &Cli, dir: &DataDir, kind: Kind, a: &PostArgs) -> Result<()> {
    let (key, cert) = member(cli, dir)?;
    let t = now();
    let exchange = match &a.exchange {
        Some(e) => e
            .parse::<Exchange>()
            .map_err(|e| anyhow!("--exchange: {e}"))?,
        None if kind == Kind::Offer => Exchange::Give,
        None => Exchange::Help,
    };
    let scope = match &a.scope {
        Some(s) => Scope::parse(&s.trim().to_lowercase(), Limits::default().max_scope_levels)
            .map_err(|e| anyhow!("--scope: {e}"))?,
        None => cert.scope.clone(),
    };
    let lifetime = compose::parse_duration(&a.expires).context("--expires")?;
    let terms = Terms {
        price: a
            .price
            .as_deref()
            .map(compose::parse_price)
            .transpose()
            .context("--price")?,
        deposit: a
            .deposit
            .as_deref()
            .map(compose::parse_money)
            .transpose()
            .context("--deposit")?,
    };
    let listing = Listing {
        author: keys::member_id(&key),
        key: ListingKey(random_bytes::<16>()?),
        revision: revision::next_revision(t, None),
        created_at: t,
        expires_at: t + lifetime,
        kind,
        exchange,
        status: Status::Open,
        scope,
        topics: compose::parse_topics(&a.topic)?,
        title: a.title.trim().to_owned(),
        body: a.body.clone().unwrap_or_default(),
        tags: a.tag.iter().map(|t| t.trim().to_owned()).collect(),
        geohash: a.geohash.as_ref().map(|g| g.trim().to_lowercase()),
        terms,
        certificate: cert,
    };
    let answer = sign_and_post(cli, dir, &key, listing)?;
    if cli.json {
        return print_json(&answer);
    }
    println!("{}", answer.id);
    eprintln!(
        "Posted {kind}: {} (id {}){}",
        a.title.trim(),
        &answer.id[..12],
        reach(&answer)
    );
    Ok(())
}

/// How far a post got, in words.
fn reach(answer: &PostAnswer) -> String {
    match answer.peers {
        0 => "; stored on this node, not yet seen by peers".into(),
        1 => "; sent to 1 peer".into(),
        n => format!("; sent to {n} peers"),
    }
}

/// Fetches one listing with its signed bytes.
fn fetch(c: &Client, id: &str) -> Result<(ListingView, SignedListing)> {
    let v: ListingView = c.get(&format!("/v1/listings/{}", urlencode(id)), &[])?;
    let bytes = hex::decode(v.signed_bytes.as_deref().unwrap_or_default())
        .map_err(|_| anyhow!("the node sent a listing without its signed bytes"))?;
    let s = SignedListing::decode(&bytes)
        .map_err(|e| anyhow!("the node sent a listing that does not decode: {e}"))?;
    Ok((v, s))
}

fn urlencode(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).collect()
}

/// The next revision of one of the member's own listings.
fn own_next(
    cli: &Cli,
    dir: &DataDir,
    id: &str,
) -> Result<(keys::SigningKey, Listing, Listing, i64)> {
    let (key, cert) = member(cli, dir)?;
    let c = client(cli, dir)?;
    let (_, current) = fetch(&c, id)?;
    let old = current.into_listing();
    if old.author != keys::member_id(&key) {
        bail!(
            "listing {} is not yours: you can only change your own listings",
            old.listing_id()
        );
    }
    if old.status == Status::Withdrawn {
        bail!(
            "listing {} is withdrawn and cannot change any more",
            old.listing_id()
        );
    }
    let t = now();
    let mut next = old.clone();
    next.revision = revision::next_revision(t, Some(old.revision));
    next.created_at = t;
    next.certificate = cert;
    Ok((key, old, next, t))
}

fn update(cli: &Cli, dir: &DataDir, a: &UpdateArgs) -> Result<()> {
    if a.status.is_none() && a.title.is_none() && a.body.is_none() && a.expires.is_none() {
        bail!("nothing to change: give --status, --title, --body or --expires");
    }
    let (key, _old, mut next, t) = own_next(cli, dir, &a.id)?;
    if let Some(s) = &a.status {
        let st = s.parse::<Status>().map_err(|e| anyhow!("--status: {e}"))?;
        if st == Status::Withdrawn {
            bail!("--status: use `buurt withdraw ID` to withdraw a listing");
        }
        next.status = st;
    }
    if let Some(title) = &a.title {
        next.title = title.trim().to_owned();
    }
    if let Some(body) = &a.body {
        next.body = body.clone();
    }
    if let Some(e) = &a.expires {
        next.expires_at = t + compose::parse_duration(e).context("--expires")?;
    } else if next.expires_at - t > 90 * DAY {
        next.expires_at = t + 90 * DAY;
    }
    let answer = sign_and_post(cli, dir, &key, next)?;
    if cli.json {
        return print_json(&answer);
    }
    println!("{}", answer.id);
    eprintln!(
        "Updated {} (revision {}){}",
        &answer.id[..12],
        &answer.revision_id[..12],
        reach(&answer)
    );
    Ok(())
}

fn withdraw(cli: &Cli, dir: &DataDir, id: &str) -> Result<()> {
    let (key, old, next, t) = own_next(cli, dir, id)?;
    if old.expires_at <= t {
        bail!("listing {} has already expired", old.listing_id());
    }
    let tomb = sample::tombstone(&old, next.revision, t);
    let tomb = Listing {
        certificate: next.certificate,
        ..tomb
    };
    let answer = sign_and_post(cli, dir, &key, tomb)?;
    if cli.json {
        return print_json(&answer);
    }
    println!("{}", answer.id);
    eprintln!(
        "Withdrawn: {} (its content is deleted; other nodes drop it too)",
        &answer.id[..12]
    );
    Ok(())
}

fn search(cli: &Cli, dir: &DataDir, a: &SearchArgs) -> Result<()> {
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

fn show(cli: &Cli, dir: &DataDir, id: &str) -> Result<()> {
    let c = client(cli, dir)?;
    let (mut v, _) = fetch(&c, id)?;
    v.signed_bytes = None;
    if cli.json {
        return print_json(&v);
    }
    output::listing(&v);
    Ok(())
}

fn mine(cli: &Cli, dir: &DataDir) -> Result<()> {
    let me = dir.member_id().context("reading your member key")?;
    let c = client(cli, dir)?;
    let list: Vec<ListingView> = c.get(&format!("/v1/members/{me}/listings"), &[])?;
    if cli.json {
        return print_json(&list);
    }
    output::listings(&list, false);
    Ok(())
}

fn status(cli: &Cli, dir: &DataDir) -> Result<()> {
    let c = client(cli, dir)?;
    let s: serde_json::Value = c.get("/v1/status", &[])?;
    if cli.json {
        return print_json(&s);
    }
    let f = |k: &str| match &s[k] {
        serde_json::Value::String(x) => x.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    };
    println!("node      {}", f("node_id"));
    println!("member    {}", f("member_id"));
    println!("scope     {}", f("scope"));
    println!("api       http://{}", f("api"));
    if let Some(addrs) = s["listen_addrs"].as_array() {
        for a in addrs.iter().filter_map(|a| a.as_str()) {
            println!("listen    {a}");
        }
    }
    println!("listings  {}", f("listings"));
    if let Some(scopes) = s["scopes"].as_array() {
        for sc in scopes {
            let how = if sc["subscribed"].as_bool() == Some(true) {
                ""
            } else {
                "  (not subscribed)"
            };
            println!(
                "  {:>7}  {}{how}",
                sc["listings"].as_u64().unwrap_or(0),
                sc["scope"].as_str().unwrap_or("?")
            );
        }
    }
    println!("peers     {}", f("peers"));
    println!("policy    {} ({} trusted nodes)", f("policy"), f("trusted"));
    println!(
        "members   {} ({} revocations known)",
        f("members"),
        f("revocations")
    );
    println!("blocks    {}", f("blocks"));
    if let Some(syncs) = s["sync"].as_array() {
        for x in syncs {
            let g = |k: &str| x[k].as_u64().unwrap_or(0);
            println!(
                "sync      {}  {}  {} with {}: {} rounds, {} needed, {} fetched, {} stored{}",
                x["scope"].as_str().unwrap_or("?"),
                x["last_at"].as_str().unwrap_or("?"),
                x["result"].as_str().unwrap_or("?"),
                output::cut(x["peer"].as_str().unwrap_or("?"), 16),
                g("rounds"),
                g("needed"),
                g("fetched"),
                g("stored"),
                if x["in_progress"].as_bool() == Some(true) {
                    " (in progress)"
                } else {
                    ""
                }
            );
        }
    }
    println!("since     {}", f("started_at"));
    Ok(())
}

fn block(cli: &Cli, dir: &DataDir, target: &str, reason: &str) -> Result<()> {
    buurt_node::blocks::Target::parse(target).map_err(anyhow::Error::msg)?;
    let c = client(cli, dir)?;
    let r: serde_json::Value = c.post(
        "/v1/admin/blocks",
        &json!({ "target": target.trim(), "reason": reason }),
    )?;
    if cli.json {
        return print_json(&r);
    }
    let removed = r["removed"].as_u64().unwrap_or(0);
    if r["new"].as_bool() == Some(true) {
        println!(
            "Blocked {} {}: {removed} listing(s) removed; new ones are refused.",
            r["kind"].as_str().unwrap_or(""),
            r["target"].as_str().unwrap_or(target)
        );
    } else {
        println!(
            "{} was already blocked ({removed} listing(s) removed now).",
            r["target"].as_str().unwrap_or(target)
        );
    }
    Ok(())
}

fn unblock(cli: &Cli, dir: &DataDir, target: &str) -> Result<()> {
    let t = buurt_node::blocks::Target::parse(target).map_err(anyhow::Error::msg)?;
    let c = client(cli, dir)?;
    let r: serde_json::Value = c.delete(&format!("/v1/admin/blocks/{}", t.text()))?;
    if cli.json {
        return print_json(&r);
    }
    println!(
        "Unblocked {}: new listings are accepted again; removed ones return when they are sent again.",
        t.text()
    );
    Ok(())
}

fn blocks(cli: &Cli, dir: &DataDir) -> Result<()> {
    let c = client(cli, dir)?;
    let list: Vec<serde_json::Value> = c.get("/v1/admin/blocks", &[])?;
    if cli.json {
        return print_json(&list);
    }
    if list.is_empty() {
        println!("No blocks.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|b| {
            ["target", "kind", "since", "reason"]
                .iter()
                .map(|k| b[*k].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .collect();
    output::table(&["TARGET", "KIND", "SINCE", "REASON"], &rows);
    Ok(())
}

/// A membership validity: a number and d, w or y (90d, 52w, 1y).
fn parse_validity(text: &str) -> Result<i64> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| anyhow!("`{text}` is not a validity: use a number and d, w or y (90d, 1y)"))?;
    let day = 86_400;
    let unit = match unit {
        "d" => day,
        "w" => 7 * day,
        "y" => 365 * day,
        _ => bail!("`{text}` is not a validity: use a number and d, w or y (90d, 1y)"),
    };
    n.checked_mul(unit)
        .filter(|s| (day..=5 * 365 * day).contains(s))
        .ok_or_else(|| anyhow!("`{text}`: a membership is valid between one day and five years"))
}

fn admit(
    cli: &Cli,
    dir: &DataDir,
    member_id: &str,
    name: &str,
    scope: Option<&str>,
    valid: &str,
) -> Result<()> {
    let member: buurt_protocol::MemberId = member_id.trim().parse()?;
    let valid_secs = parse_validity(valid)?;
    let c = client(cli, dir)?;
    let m: serde_json::Value = c.post(
        "/v1/admin/members",
        &json!({ "member_id": member.to_string(), "name": name, "scope": scope, "valid_secs": valid_secs }),
    )?;
    if cli.json {
        return print_json(&m);
    }
    println!(
        "Admitted {member} to {} until {}. Their `buurt` fetches the certificate from this node on first use.",
        m["scope"].as_str().unwrap_or("?"),
        output::date(m["not_after"].as_str().unwrap_or("?"))
    );
    Ok(())
}

fn revoke(cli: &Cli, dir: &DataDir, member_id: &str) -> Result<()> {
    let member: buurt_protocol::MemberId = member_id.trim().parse()?;
    let c = client(cli, dir)?;
    let r: serde_json::Value = c.post(&format!("/v1/admin/members/{member}/revoke"), &json!({}))?;
    if cli.json {
        return print_json(&r);
    }
    println!(
        "Revoked {member}: {} listing(s) removed here; the revocation goes to the other nodes.",
        r["removed"].as_u64().unwrap_or(0)
    );
    Ok(())
}

fn members(cli: &Cli, dir: &DataDir) -> Result<()> {
    let c = client(cli, dir)?;
    let list: Vec<serde_json::Value> = c.get("/v1/admin/members", &[])?;
    if cli.json {
        return print_json(&list);
    }
    if list.is_empty() {
        println!("No members admitted yet (`buurt admit MEMBER_ID`).");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|m| {
            vec![
                m["member_id"].as_str().unwrap_or("").to_owned(),
                m["name"].as_str().unwrap_or("").to_owned(),
                m["scope"].as_str().unwrap_or("").to_owned(),
                output::date(m["not_after"].as_str().unwrap_or("")).to_owned(),
            ]
        })
        .collect();
    output::table(&["MEMBER", "NAME", "SCOPE", "UNTIL"], &rows);
    Ok(())
}

fn trust(cli: &Cli, dir: &DataDir, node_id: &str, add: bool) -> Result<()> {
    let node: buurt_protocol::NodeId = node_id.trim().parse()?;
    let c = client(cli, dir)?;
    let r: serde_json::Value = if add {
        c.post("/v1/admin/trusted", &json!({ "node_id": node.to_string() }))?
    } else {
        c.delete(&format!("/v1/admin/trusted/{node}"))?
    };
    if cli.json {
        return print_json(&r);
    }
    if !add {
        println!("No longer trusting {node}: its members' new listings are refused under the allowlist policy.");
    } else if r["new"].as_bool() == Some(false) {
        println!("{node} was already trusted.");
    } else {
        println!("Trusting {node}: its members' listings are accepted.");
        if r["policy"] == "open" {
            println!("(The policy is open, so every node's members are accepted anyway; set policy = \"allowlist\" in config.toml to accept trusted nodes only.)");
        }
    }
    Ok(())
}

fn trusted(cli: &Cli, dir: &DataDir) -> Result<()> {
    let c = client(cli, dir)?;
    let r: serde_json::Value = c.get("/v1/admin/trusted", &[])?;
    if cli.json {
        return print_json(&r);
    }
    println!("policy    {}", r["policy"].as_str().unwrap_or("?"));
    let rows: Vec<Vec<String>> = r["trusted"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| {
                    vec![
                        t["node_id"].as_str().unwrap_or("").to_owned(),
                        t["since"].as_str().unwrap_or("").to_owned(),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    if rows.is_empty() {
        println!("No trusted nodes (this node's own members are always accepted).");
    } else {
        output::table(&["NODE", "SINCE"], &rows);
    }
    Ok(())
}

fn sync(cli: &Cli, dir: &DataDir, peer: Option<&str>) -> Result<()> {
    let c = client(cli, dir)?;
    let answer: serde_json::Value = c.post("/v1/sync", &json!({ "peer": peer }))?;
    if cli.json {
        return print_json(&answer);
    }
    match answer["sessions"].as_u64().unwrap_or(0) {
        0 => println!("No sync started: no peer is connected, or a sync is already running."),
        n => println!("Syncing with {n} peer(s); `buurt status` shows the result per scope."),
    }
    Ok(())
}

fn peers(cli: &Cli, dir: &DataDir) -> Result<()> {
    let c = client(cli, dir)?;
    let list: Vec<serde_json::Value> = c.get("/v1/peers", &[])?;
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
            let scopes: Vec<&str> = p["scopes"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
                .unwrap_or_default();
            vec![
                p["node_id"].as_str().unwrap_or("").to_owned(),
                p["address"].as_str().unwrap_or("").to_owned(),
                scopes.join(" "),
                p["since"].as_str().unwrap_or("").to_owned(),
            ]
        })
        .collect();
    output::table(&["NODE", "ADDRESS", "SCOPES", "SINCE"], &rows);
    Ok(())
}

fn id(cli: &Cli, dir: &DataDir) -> Result<()> {
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
                "not_before": buurt_node::view::rfc3339(c.not_before),
                "not_after": buurt_node::view::rfc3339(c.not_after),
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
            output::date(&buurt_node::view::rfc3339(c.not_after))
        ),
        None => eprintln!("not admitted yet: give this id to your node's operator"),
    }
    Ok(())
}

fn reindex(cli: &Cli, dir: DataDir) -> Result<()> {
    if dir.api_addr().is_some() {
        let c = client(cli, &dir)?;
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.set_message("the running node is rebuilding its search index");
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        let r: serde_json::Value = c.post("/v1/admin/reindex", &json!({}))?;
        spinner.finish_and_clear();
        return report_reindex(cli, r["indexed"].as_u64().unwrap_or(0) as usize);
    }
    let file = FileConfig::load(&dir.config_path())?;
    let config = Config::build(file, Overrides::default())?;
    if !dir.is_initialised() {
        bail!(
            "{} is not initialised: nothing to reindex",
            dir.root().display()
        );
    }
    let store = std::sync::Arc::new(buurt_node::store::SledStore::open(&dir.db_path())?);
    let index = std::sync::Arc::new(buurt_node::search::SearchIndex::open(&dir.index_path())?);
    let ingest = buurt_node::ingest::Ingest::new(store, index, std::sync::Arc::new(config), None);
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} listings {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let n = ingest.reindex(&mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    let _ = std::fs::remove_file(dir.index_dirty_path());
    report_reindex(cli, n)
}

fn report_reindex(cli: &Cli, n: usize) -> Result<()> {
    if cli.json {
        return print_json(&json!({ "indexed": n }));
    }
    println!("Search index rebuilt: {n} listings");
    Ok(())
}

fn topics(cli: &Cli) -> Result<()> {
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

/// Adds or removes a followed scope in `config.toml`.
fn follow(cli: &Cli, dir: &DataDir, scope: &str, add: bool) -> Result<()> {
    if !dir.is_initialised() {
        bail!(
            "{} is not initialised: run `buurt init --scope SCOPE` first",
            dir.root().display()
        );
    }
    let scope = scope.trim().to_lowercase();
    let mut file = FileConfig::load(&dir.config_path())?;
    let present = file.follow.contains(&scope);
    match (add, present) {
        (true, true) => bail!("already following {scope}"),
        (false, false) => {
            bail!("not following {scope} (`buurt status` shows what this node follows)")
        }
        (true, false) => file.follow.push(scope.clone()),
        (false, true) => file.follow.retain(|s| *s != scope),
    }
    // Validate before writing, so that a bad scope changes nothing.
    Config::build(file.clone(), Overrides::default())?;
    buurt_node::datadir::write_secret(&dir.config_path(), file.to_toml().as_bytes())?;
    let running = dir.api_addr().is_some();
    if cli.json {
        return print_json(&json!({ "follow": file.follow, "restart_needed": running }));
    }
    let verb = if add {
        "Following"
    } else {
        "No longer following"
    };
    println!("{verb} {scope}");
    if running {
        eprintln!("The running node takes this up when it restarts.");
    }
    Ok(())
}
