//! The federation benchmark: prints figures, asserts nothing.
//!
//! `cargo bench -p buurt-node --bench federation` runs 50 nodes, publishing
//! 10 and then 90 listings per second for 20 seconds each. Arguments change
//! that: `-- NODES RATE[,RATE...] SECONDS [COMMIT_MS]`, for example
//! `-- 20 10,90 10 250`.
//!
//! Every node is a real buurt node in this one process: its own ingest
//! pipeline (validation, an in-memory store, a search index in RAM with the
//! indexer thread) and its own libp2p swarm (TCP + Noise + Yamux, identify,
//! ping, gossipsub) on 127.0.0.1. Nodes lie in five neighbourhoods of one
//! district and every listing is posted at district level, so every node
//! follows it. The topology is random and connected: node `i` dials up to
//! three randomly chosen earlier nodes.
//!
//! For each listing the benchmark records when each other node stored it
//! (the ingest pipeline's announce hook) and reports the time until 50%,
//! 95% and 100% of them had, the deliveries lost, and the copies each node
//! received per listing (amplification), read from gossipsub's own counters.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use buurt_node::config::{Config, FileConfig, Overrides};
use buurt_node::ingest::{Announcement, Ingest, Outcome, Source};
use buurt_node::net::{self, NetClient, NetConfig};
use buurt_node::run::Parts;
use buurt_protocol::keys::{self, SigningKey};
use buurt_protocol::limits::DAY;
use buurt_protocol::{
    Certificate, ContentId, Exchange, Kind, Listing, ListingKey, Scope, SignedListing, Status,
    Terms,
};
use libp2p::metrics::Registry;
use tokio::sync::mpsc;

const DISTRICT: &str = "nl/amsterdam/oost";
const BUURTEN: [&str; 5] = [
    "dapperbuurt",
    "transvaal",
    "oosterpark",
    "indische-buurt",
    "watergraafsmeer",
];
/// Each node dials up to this many earlier nodes.
const LINKS: usize = 3;
/// The `index_commit_ms` setting of every node: a lone node's default (the
/// longest a stored listing waits for a commit when no search asks first).
const COMMIT_MS: u64 = buurt_node::config::DEFAULT_INDEX_COMMIT_MS;
/// Threads of the shared tokio runtime (`SIM_WORKERS` overrides).
const WORKERS: usize = 16;
/// How long to wait for late deliveries after the last publish.
const DRAIN: Duration = Duration::from_secs(10);

/// xorshift64*: deterministic, so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One stored listing: which node, which revision, when.
type Arrival = (usize, ContentId, Instant);

struct SimNode {
    ingest: Arc<Ingest>,
    net: NetClient,
    registry: Registry,
    member: SigningKey,
    cert: Certificate,
}

fn now() -> i64 {
    buurt_node::clock::now()
}

fn seed(i: usize, kind: u8) -> [u8; 32] {
    let mut s = [kind; 32];
    s[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    s
}

async fn start_node(
    i: usize,
    peers: Vec<String>,
    commit_ms: u64,
    arrivals: mpsc::UnboundedSender<Arrival>,
) -> SimNode {
    let file = FileConfig {
        index_commit_ms: commit_ms,
        scope: format!("{DISTRICT}/{}", BUURTEN[i % BUURTEN.len()]),
        listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
        peers: peers.clone(),
        // Listings of other nodes' members: accepted whatever node admitted them.
        policy: buurt_node::config::Policy::Open,
        mdns: false,
        // Each node's one member posts up to 90 × 20 / N listings a run.
        rate_limits: buurt_node::config::RateLimits {
            author_per_hour: u32::MAX,
            author_per_day: u32::MAX,
            peer_per_second: u32::MAX,
            node_per_hour: u32::MAX,
            node_new_members_per_day: u32::MAX,
        },
        ..Default::default()
    };
    let config = Arc::new(Config::build(file, Overrides::default()).expect("config"));
    let node_key = keys::from_seed(seed(i, 1));
    let parts = Parts::in_memory(Config::clone(&config), node_key.clone()).expect("parts");
    // Every announcement is noted as an arrival on its way to the
    // publisher, the network.
    let (to_net, from_tee) = mpsc::channel::<Announcement>(buurt_node::ingest::ANNOUNCE);
    let mut announcements = parts.announcements;
    tokio::spawn(async move {
        while let Some(a) = announcements.recv().await {
            if let Announcement::Listing { listing, .. } = &a {
                let _ = arrivals.send((i, listing.content_id(), Instant::now()));
            }
            if to_net.send(a).await.is_err() {
                return;
            }
        }
    });
    let sync = Arc::new(buurt_node::sync::Context::new(
        parts.ingest.clone(),
        parts.store,
        parts.config,
        parts.moderation,
    ));
    let ingest = parts.ingest;
    let mut registry = Registry::default();
    let cfg = NetConfig {
        node_key: node_key.to_bytes(),
        listen: config.listen.clone(),
        peers,
        hubs: vec![],
        serve_hub: false,
        home_scopes: vec![config.scope.clone()],
        mdns: false,
        scopes: config.scope.self_and_ancestors(),
        max_listing: config.limits.max_listing_bytes,
        sync_interval: config.sync_interval,
        peer_per_second: config.rate_limits.peer_per_second,
        photos: None,
    };
    let (client, event_loop) =
        net::start(cfg, sync, from_tee, None, Some(&mut registry)).expect("network");
    tokio::spawn(event_loop);
    let member = keys::from_seed(seed(i, 2));
    let t = now();
    let cert = Certificate::issue(
        &node_key,
        keys::member_id(&member),
        config.scope.clone(),
        t - DAY,
        t + 365 * DAY,
    );
    SimNode {
        ingest,
        net: client,
        registry,
        member,
        cert,
    }
}

async fn address(node: &SimNode) -> String {
    loop {
        if let Some(a) = node.net.listen_addrs().await.into_iter().next() {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn listing(node: &SimNode, seq: u64, t: i64) -> SignedListing {
    let mut key = [0u8; 16];
    key[8..].copy_from_slice(&seq.to_be_bytes());
    Listing {
        author: keys::member_id(&node.member),
        key: ListingKey(key),
        revision: t as u64,
        created_at: t,
        expires_at: t + 30 * DAY,
        kind: Kind::Offer,
        exchange: Exchange::Lend,
        status: Status::Open,
        scope: Scope::parse(DISTRICT, 6).expect("scope"),
        topics: vec!["goods.tools".into()],
        title: format!("Boormachine te leen ({seq})"),
        body: "Klopboormachine met koffer en een set boren voor hout, steen en metaal. \
               Ophalen in de buurt, graag binnen een week terug. Handleiding erbij."
            .into(),
        tags: vec!["boren".into(), "klussen".into()],
        geohash: Some("u173zq".into()),
        terms: Terms::default(),
        extras: Default::default(),
        certificate: node.cert.clone(),
    }
    .sign(&node.member)
    .expect("sign")
}

/// Sum of one gossipsub counter over all topics, from the text encoding
/// (where the node registers gossipsub's counters under `libp2p_gossipsub_`).
fn counter(registry: &Registry, name: &str) -> f64 {
    let text = encoded(registry);
    let name = format!("libp2p_gossipsub_{name}");
    text.lines()
        .filter(|l| {
            !l.starts_with('#')
                && l.split(['{', ' '])
                    .next()
                    .is_some_and(|n| n == name || n == format!("{name}_total"))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A node's metrics in the text encoding; empty if they cannot be encoded.
fn encoded(registry: &Registry) -> String {
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, registry).is_err() {
        text.clear();
    }
    text
}

/// Peers in a node's gossipsub mesh for `topic`, from its own gauge.
fn mesh_peers(registry: &Registry, topic: &str) -> f64 {
    let text = encoded(registry);
    let label = format!("topic_hash=\"{topic}\"");
    text.lines()
        .filter(|l| l.starts_with("libp2p_gossipsub_mesh_peer_counts{") && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// How many nodes have no mesh peer for the district's topic: they learn
/// of its listings only from IHAVE gossip, at heartbeats.
fn without_mesh(nodes: &[SimNode]) -> usize {
    let scope = Scope::parse(DISTRICT, 16).expect("district scope");
    let topic = net::topic(&scope).hash().to_string();
    nodes
        .iter()
        .filter(|n| mesh_peers(&n.registry, &topic) == 0.0)
        .count()
}

fn totals(nodes: &[SimNode], name: &str) -> f64 {
    nodes.iter().map(|n| counter(&n.registry, name)).sum()
}

/// CPU seconds used by this process so far (user + system).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |k: usize| f.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat; `after` starts at field 3.
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn line(name: &str, mut xs: Vec<Duration>, of: usize) {
    xs.sort();
    if xs.is_empty() {
        println!("  {name:<28} none reached");
        return;
    }
    println!(
        "  {name:<28} p50 {:>9}  p95 {:>9}  p99 {:>9}  max {:>9}  ({} of {} listings)",
        ms(pct(&xs, 50.0)),
        ms(pct(&xs, 95.0)),
        ms(pct(&xs, 99.0)),
        ms(pct(&xs, 100.0)),
        xs.len(),
        of
    );
}

async fn phase(
    nodes: &[SimNode],
    arrivals: &mut mpsc::UnboundedReceiver<Arrival>,
    rng: &mut Rng,
    seq: &mut u64,
    rate: f64,
    secs: u64,
) {
    let n = nodes.len();
    let total = (rate * secs as f64).round() as usize;
    let recv_before = totals(nodes, "topic_msg_recv_counts_unfiltered");
    let sent_before = totals(nodes, "topic_msg_sent_counts");
    let idontwant_before = totals(nodes, "idontwant_msgs");
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let mut published: HashMap<ContentId, (usize, Instant)> = HashMap::with_capacity(total);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut tasks = Vec::with_capacity(total);
    for _ in 0..total {
        ticker.tick().await;
        let i = rng.below(n);
        *seq += 1;
        let signed = listing(&nodes[i], *seq, now());
        let t0 = Instant::now();
        published.insert(signed.content_id(), (i, t0));
        let ingest = nodes[i].ingest.clone();
        tasks.push(tokio::spawn(async move {
            let bytes = signed.bytes().to_vec();
            let out =
                tokio::task::spawn_blocking(move || ingest.submit(&bytes, Source::Local, now()))
                    .await;
            // Stored and announced: the network publishes it.
            match out {
                Ok(Ok(Outcome::Stored(_))) => {}
                other => eprintln!("local post not stored: {other:?}"),
            }
        }));
    }
    let publishing = started.elapsed();
    for t in tasks {
        let _ = t.await;
    }
    // Collect stores until every other node has every listing, or DRAIN
    // after the last publish.
    let expected = total * (n - 1);
    let deadline = tokio::time::Instant::now() + DRAIN;
    let mut times: HashMap<ContentId, Vec<Duration>> = HashMap::with_capacity(total);
    let mut delivered = 0usize;
    while delivered < expected {
        let Ok(Some((node, id, at))) = tokio::time::timeout_at(deadline, arrivals.recv()).await
        else {
            break;
        };
        let Some((origin, t0)) = published.get(&id) else {
            continue;
        };
        if node != *origin {
            times
                .entry(id)
                .or_default()
                .push(at.saturating_duration_since(*t0));
            delivered += 1;
        }
    }
    // Then every node is searched once: the search commits what arrived
    // first (the commit a node not searched makes at its deadline), inside
    // the CPU counted below.
    let mut first_search = Vec::with_capacity(n);
    for node in nodes {
        let ingest = node.ingest.clone();
        let t = Instant::now();
        match tokio::task::spawn_blocking(move || ingest.searchable()).await {
            Ok(Ok(())) => first_search.push(t.elapsed()),
            other => eprintln!("search index commit failed: {other:?}"),
        }
    }
    let wall = started.elapsed();
    let cpu = cpu_seconds() - cpu_before;
    let recv = totals(nodes, "topic_msg_recv_counts_unfiltered") - recv_before;
    let sent = totals(nodes, "topic_msg_sent_counts") - sent_before;
    let idontwant = totals(nodes, "idontwant_msgs") - idontwant_before;

    let others = n - 1;
    let at = |share: f64| -> Vec<Duration> {
        let need = ((share * others as f64).ceil() as usize).max(1);
        times
            .values()
            .filter_map(|v| {
                let mut v = v.clone();
                v.sort();
                v.get(need - 1).copied()
            })
            .collect()
    };
    println!(
        "\n{n} nodes, {rate} listings/s for {secs} s: {total} listings published in {:.1} s",
        publishing.as_secs_f64()
    );
    line("time to 50% of followers", at(0.5), total);
    line("time to 95% of followers", at(0.95), total);
    line("time to 100% of followers", at(1.0), total);
    first_search.sort();
    println!(
        "  each node's first search after: commit of what arrived p50 {} max {} ({n} nodes, one after another)",
        ms(pct(&first_search, 50.0)),
        ms(pct(&first_search, 100.0)),
    );
    println!(
        "  deliveries                   {delivered} of {expected} ({} lost); {} of {n} nodes without mesh peers for the topic at the end",
        expected - delivered,
        without_mesh(nodes)
    );
    println!(
        "  amplification                {:.2} copies received per node per listing \
         ({recv:.0} copies for {expected} deliveries; {sent:.0} sent; {idontwant:.0} IDONTWANT)",
        recv / expected.max(1) as f64
    );
    println!(
        "  CPU                          {:.0}% of one core over {:.1} s (2 cores = 200%); RSS {:.0} MB",
        100.0 * cpu / wall.as_secs_f64(),
        wall.as_secs_f64(),
        rss_mb()
    );
    // Issue 22's first figure: all the process's CPU (every node, the
    // publisher, the runtime) over the listings received by other nodes.
    println!(
        "  CPU per node per received listing {:.0} µs ({cpu:.2} s for {delivered} deliveries)",
        cpu * 1e6 / delivered.max(1) as f64
    );
}

fn main() {
    // Real nodes are separate processes, each with its own runtime; one
    // runtime with two workers for fifty swarms would add queueing that no
    // deployment has.
    let workers = std::env::var("SIM_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(WORKERS);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(workers));
}

async fn run(workers: usize) {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(50);
    let rates: Vec<f64> = args
        .get(1)
        .map(|a| a.split(',').filter_map(|r| r.parse().ok()).collect())
        .unwrap_or_else(|| vec![10.0, 90.0]);
    let secs: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let commit_ms: u64 = args
        .get(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or(COMMIT_MS);
    println!(
        "federation benchmark: {n} nodes, rates {rates:?} listings/s, {secs} s each, \
         a stored listing waits at most {commit_ms} ms for an index commit, {workers} runtime workers, {} cores",
        std::thread::available_parallelism()
            .map(|c| c.get())
            .unwrap_or(1)
    );

    let (arrive_tx, mut arrivals) = mpsc::unbounded_channel();
    let mut rng = Rng(0x5EED_B0B0_CAFE_F00D);
    let started = Instant::now();
    let mut nodes: Vec<SimNode> = Vec::with_capacity(n);
    let mut addrs: Vec<String> = Vec::with_capacity(n);
    let mut degree = vec![0usize; n];
    for i in 0..n {
        let mut picks: Vec<usize> = Vec::new();
        while picks.len() < LINKS.min(i) {
            let j = rng.below(i);
            if !picks.contains(&j) {
                picks.push(j);
            }
        }
        for &j in &picks {
            degree[i] += 1;
            degree[j] += 1;
        }
        let peers = picks.iter().map(|&j| addrs[j].clone()).collect();
        let node = start_node(i, peers, commit_ms, arrive_tx.clone()).await;
        addrs.push(address(&node).await);
        nodes.push(node);
    }
    // Wait until every node sees all its neighbours on the district topic,
    // then give gossipsub a few heartbeats to build its meshes.
    let topic = DISTRICT.to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut ready = 0;
        for (i, node) in nodes.iter().enumerate() {
            let peers = node.net.peers().await;
            let on_topic = peers.iter().filter(|p| p.scopes.contains(&topic)).count();
            if on_topic >= degree[i] {
                ready += 1;
            }
        }
        if ready == n {
            break;
        }
        if Instant::now() > deadline {
            println!("warning: only {ready} of {n} nodes see all their neighbours after 60 s");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let edges: usize = degree.iter().sum::<usize>() / 2;
    println!(
        "{n} nodes up and connected in {:.1} s: {edges} links, degree {}..{} (mean {:.1}); RSS {:.0} MB",
        started.elapsed().as_secs_f64(),
        degree.iter().min().unwrap_or(&0),
        degree.iter().max().unwrap_or(&0),
        2.0 * edges as f64 / n as f64,
        rss_mb()
    );

    let mut seq = 0;
    for rate in rates {
        phase(&nodes, &mut arrivals, &mut rng, &mut seq, rate, secs).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        // Stores that came in after the drain of the previous phase.
        while arrivals.try_recv().is_ok() {}
    }
}
