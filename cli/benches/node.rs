//! The single-node benchmark: prints figures, asserts nothing.
//!
//! `cargo bench -p buurt-cli --bench node` (add `-- 10000` for one size only;
//! set `BENCH_INGEST_ONLY=1` to stop after the ingest figures,
//! `BENCH_POLICY=web` to ingest under the web of vouches instead of `open`,
//! and `BENCH_API_INGEST=1` to post the listings to a node through its API
//! instead, for that node's memory and disk: `node/api_ingest.rs`).
//! For each size (10,000 and 100,000 listings) it measures, on this machine:
//! raw `verify_strict` rate; ingest throughput through the whole pipeline
//! (validate, store, index); duplicate rejection rate; search latency in the
//! engine; node start time and resident memory; post latency through the
//! HTTP API (sign, send, validate, store, flush, answer) and time until a post
//! is searchable; and `buurt search` end to end as a user runs it.

#[path = "node/api_ingest.rs"]
mod api_ingest;
#[path = "node/idle.rs"]
mod idle;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use buurt_node::config::{Config, FileConfig, Overrides};
use buurt_node::ingest::{Ingest, Outcome, Source};
use buurt_node::moderation::Moderation;
use buurt_node::search::{Query, SearchIndex};
use buurt_node::store::{SledStore, Store};
use buurt_protocol::keys::{self, Signature, SigningKey, VerifyingKey};
use buurt_protocol::limits::DAY;
use buurt_protocol::{
    validate_cached, Certificate, CertificateCache, Exchange, Kind, Limits, Listing, ListingKey,
    Scope, Status, Terms,
};
use buurt_tests::process::rss_kb;

/// The allocator of the `buurt` binary, so that the in-process figures are
/// the node's.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
/// Listings per page in the batch ingest, as catch-up sync delivers them.
const PAGE: usize = 1_024;

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, xs: &'a [&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

const THINGS: &[&str] = &[
    "boormachine",
    "ladder",
    "fiets",
    "bakfiets",
    "partytent",
    "grasmaaier",
    "naaimachine",
    "steekwagen",
    "tent",
    "slaapzak",
    "kinderwagen",
    "gourmetstel",
    "decoupeerzaag",
    "schuurmachine",
    "hogedrukreiniger",
    "drill",
    "lawnmower",
    "sewing machine",
    "tent",
    "bike",
    "stroller",
    "projector",
    "boormachines",
    "accuboor",
];
const VERBS: &[&str] = &[
    "te leen",
    "te huur",
    "gezocht",
    "weg te geven",
    "to lend",
    "wanted",
    "for rent",
];
const BODY: &[&str] = &[
    "ophalen",
    "in",
    "de",
    "buurt",
    "goed",
    "werkend",
    "met",
    "handleiding",
    "graag",
    "terug",
    "binnen",
    "week",
    "pick",
    "up",
    "near",
    "the",
    "park",
    "works",
    "fine",
    "batterij",
    "snoer",
    "koffer",
    "boren",
    "zagen",
];
const SCOPES: &[&str] = &[
    "nl/amsterdam/oost/dapperbuurt",
    "nl/amsterdam/oost/transvaal",
    "nl/amsterdam/oost",
    "nl/amsterdam",
    "nl/amsterdam/oost/oosterpark",
];
const TOPICS: &[&str] = &[
    "goods.tools",
    "goods.garden",
    "goods.mobility",
    "goods.camping",
    "help.chores",
    "goods.party",
];

struct Member {
    key: SigningKey,
    cert: Certificate,
}

fn members(now: i64, n: usize) -> Vec<Member> {
    let node = keys::from_seed([0xAB; 32]);
    (0..n)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            let key = keys::from_seed(seed);
            let scope = Scope::parse("nl/amsterdam/oost", 6).unwrap();
            let cert = Certificate::issue(
                &node,
                keys::member_id(&key),
                scope,
                now - 30 * DAY,
                now + 365 * DAY,
            );
            Member { key, cert }
        })
        .collect()
}

/// `n` valid, signed listings from 1,000 members.
fn corpus(n: usize, now: i64) -> Vec<Vec<u8>> {
    let ms = members(now, 1_000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|i| {
            let m = &ms[i % ms.len()];
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&rng.next().to_be_bytes());
            key[8..].copy_from_slice(&(i as u64).to_be_bytes());
            let title = format!("{} {}", rng.pick(THINGS), rng.pick(VERBS));
            let body: Vec<&str> = (0..(8 + rng.next() % 24)).map(|_| rng.pick(BODY)).collect();
            let created = now - (rng.next() % (10 * DAY as u64)) as i64;
            let l = Listing {
                author: keys::member_id(&m.key),
                key: ListingKey(key),
                revision: created as u64,
                created_at: created,
                expires_at: created + 60 * DAY,
                kind: if rng.next().is_multiple_of(3) {
                    Kind::Request
                } else {
                    Kind::Offer
                },
                exchange: [
                    Exchange::Lend,
                    Exchange::Give,
                    Exchange::Rent,
                    Exchange::Help,
                ][(rng.next() % 4) as usize],
                status: Status::Open,
                scope: Scope::parse(rng.pick(SCOPES), 6).unwrap(),
                topics: vec![rng.pick(TOPICS).to_owned()],
                title,
                body: body.join(" "),
                tags: vec![],
                geohash: Some(
                    ["u173zq", "u173zr", "u173zm", "u173yx"][(rng.next() % 4) as usize].to_owned(),
                ),
                terms: Terms::default(),
                extras: Default::default(),
                certificate: m.cert.clone(),
            };
            l.sign(&m.key).unwrap().bytes().to_vec()
        })
        .collect()
}

struct BenchCache(std::collections::HashMap<[u8; 32], VerifyingKey>);

impl CertificateCache for BenchCache {
    fn get(&self, fp: &[u8; 32]) -> Option<VerifyingKey> {
        self.0.get(fp).copied()
    }
    fn remember(&mut self, fp: [u8; 32], key: VerifyingKey) {
        self.0.insert(fp, key);
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1_000.0)
}

fn summary(name: &str, mut xs: Vec<Duration>) {
    xs.sort();
    println!(
        "  {name:<44} n={:<5} p50 {:>10}  p99 {:>10}  max {:>10}",
        xs.len(),
        ms(percentile(&xs, 0.5)),
        ms(percentile(&xs, 0.99)),
        ms(*xs.last().unwrap_or(&Duration::ZERO))
    );
}

fn verify_rate(corpus: &[Vec<u8>]) -> f64 {
    use buurt_protocol::SignedListing;
    let decoded: Vec<SignedListing> = corpus
        .iter()
        .take(5_000)
        .map(|b| SignedListing::decode(b).unwrap())
        .collect();
    let inputs: Vec<(VerifyingKey, Vec<u8>, Signature)> = decoded
        .iter()
        .map(|s| {
            (
                s.listing.author.verifying_key().unwrap(),
                s.signing_input(),
                Signature::from_bytes(&s.signature),
            )
        })
        .collect();
    // The best of three rounds: a slower round only means the machine was
    // busy, and the highest rate is the strictest reference for the ratios.
    let mut best = 0.0f64;
    for _ in 0..3 {
        let t = Instant::now();
        for (k, m, s) in &inputs {
            k.verify_strict(m, s).unwrap();
        }
        best = best.max(inputs.len() as f64 / t.elapsed().as_secs_f64());
    }
    best
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
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

fn buurt(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

// The child is handed to the caller, which stops and waits for it.
#[allow(clippy::zombie_processes)]
fn start_node(dir: &Path) -> (Child, Duration) {
    let _ = std::fs::remove_file(dir.join("api.addr"));
    let t = Instant::now();
    // `BENCH_LOG=debug`: the node's log (with the times of its start's
    // steps) goes to node.log in the data directory.
    let (level, log) = match std::env::var("BENCH_LOG") {
        Ok(level) => (
            level,
            Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join("node.log"))
                    .unwrap(),
            ),
        ),
        Err(_) => ("warn".to_owned(), Stdio::null()),
    };
    let child = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(buurt_tests::NODE_ARGS)
        .env("BUURT_LOG", level)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    loop {
        if let Ok(a) = std::fs::read_to_string(dir.join("api.addr")) {
            if ureq::get(format!("http://{}/v1/status", a.trim()))
                .call()
                .is_ok()
            {
                return (child, t.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn run(size: usize) {
    println!("\n== {size} listings ==");
    let now = buurt_node::clock::now();
    let t = Instant::now();
    let corpus = corpus(size, now);
    println!(
        "  generated and signed {size} listings in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let verify = verify_rate(&corpus);
    println!("  raw verify_strict, one core (best of 3 rounds): {verify:.0} signatures/s");

    let tmp = tempfile::tempdir().unwrap();
    // `BENCH_KEEP_DIR=1`: the data directory stays, to look into.
    let (_tmp, kept) = if std::env::var_os("BENCH_KEEP_DIR").is_some() {
        let kept = tmp.keep();
        println!("  data directory kept: {}", kept.display());
        (None, kept)
    } else {
        let path = tmp.path().to_owned();
        (Some(tmp), path)
    };
    let dir = kept.as_path();
    let out = buurt(dir, &["init", "--scope", "nl/amsterdam/oost"]);
    assert!(out.status.success());
    // One member posts hundreds of listings a minute here, far over an
    // author's default rate limit.
    let mut file = FileConfig::load(&dir.join("config.toml")).unwrap();
    file.rate_limits.author_per_hour = u32::MAX;
    file.rate_limits.node_per_hour = u32::MAX;
    file.rate_limits.node_new_members_per_day = u32::MAX;
    file.rate_limits.author_per_day = u32::MAX;
    // The corpus's members are certified by a node of their own: the node
    // binary below runs under `open`; the in-process pipeline runs under
    // `BENCH_POLICY` (`open`, the default, or `web`, vouching for that node).
    file.policy = buurt_node::config::Policy::Open;
    buurt_node::datadir::write_secret(&dir.join("config.toml"), file.to_toml().as_bytes()).unwrap();
    if std::env::var_os("BENCH_API_INGEST").is_some() {
        return api_ingest::run(dir, corpus);
    }
    let web = std::env::var("BENCH_POLICY").as_deref() == Ok("web");
    let mut built = Config::build(
        FileConfig::load(&dir.join("config.toml")).unwrap(),
        Overrides::default(),
    )
    .unwrap();
    if web {
        built.policy = buurt_node::config::Policy::Web;
    }
    println!(
        "  policy of the in-process pipeline: {}",
        built.policy.as_str()
    );
    let config = Arc::new(built);
    if let Some(n) = std::env::var("BENCH_WATCHES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return watch_cost(&corpus, &config, now, verify, n);
    }
    {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir.join("db")).unwrap());
        let index = Arc::new(SearchIndex::open(&dir.join("index")).unwrap());
        let node_key = buurt_node::datadir::DataDir::new(dir).node_key().unwrap();
        let moderation = Arc::new(Moderation::in_memory(config.clone(), node_key));
        if web {
            let corpus_node = keys::node_id(&keys::from_seed([0xAB; 32]));
            moderation.trust(corpus_node, "", now).unwrap();
        }
        let ingest = Ingest::new(store, index.clone(), &config, moderation, None, None);

        // The validation stage alone, for reference (certificates cached).
        let t = Instant::now();
        let mut cache = BenchCache(std::collections::HashMap::new());
        for b in &corpus {
            validate_cached(b, now, &Limits::default(), &mut cache).unwrap();
        }
        let vrate = size as f64 / t.elapsed().as_secs_f64();
        println!("  validation alone (decode, checks, verify_strict): {vrate:.0} listings/s");

        // The store and index stages alone, for reference.
        let decoded: Vec<_> = corpus
            .iter()
            .map(|b| buurt_protocol::SignedListing::decode(b).unwrap())
            .collect();
        {
            let st = tempfile::tempdir().unwrap();
            let s2 = SledStore::open(&st.path().join("db")).unwrap();
            let t = Instant::now();
            for l in &decoded {
                s2.put(l).unwrap();
            }
            s2.flush().unwrap();
            println!(
                "  store alone (sled put, one flush): {:.0} listings/s",
                size as f64 / t.elapsed().as_secs_f64()
            );
            let ix = SearchIndex::in_memory().unwrap();
            let t = Instant::now();
            for l in &decoded {
                ix.upsert(l).unwrap();
            }
            ix.commit().unwrap();
            println!(
                "  index alone (upsert, one commit, in RAM): {:.0} listings/s",
                size as f64 / t.elapsed().as_secs_f64()
            );
        }

        // One listing at a time (as the API posts them), on the first tenth.
        let tenth = &corpus[..size / 10];
        let t = Instant::now();
        for b in tenth {
            let o = ingest.submit(b, Source::Gossip, now).unwrap();
            assert!(matches!(o, Outcome::Stored(_)), "{o:?}");
        }
        ingest.commit_index().unwrap();
        ingest.flush().unwrap();
        let rate = tenth.len() as f64 / t.elapsed().as_secs_f64();
        println!(
            "  ingest one by one (validate, store, index, commit, flush): {rate:.0} listings/s = {:.2} x raw verify rate",
            rate / verify
        );

        // The rest in pages (as sync delivers them): checks on every core.
        let cpu = cpu_seconds();
        let t = Instant::now();
        for page in corpus[size / 10..].chunks(PAGE) {
            for o in ingest.submit_batch(page, Source::Sync, now).unwrap() {
                assert!(matches!(o, Outcome::Stored(_)), "{o:?}");
            }
        }
        let submitted = t.elapsed().as_secs_f64();
        ingest.commit_index().unwrap();
        ingest.flush().unwrap();
        let el = t.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu;
        let n = size - size / 10;
        let rate = n as f64 / el;
        println!(
            "  ingest in pages of {PAGE} (same, checks on every core): {rate:.0} listings/s = {:.2} x raw verify rate \
             ({el:.1} s; the submit loop took {submitted:.1} s, the indexer's catch-up the rest; \
             CPU {:.0}% of {} cores, {:.0} us per listing)",
            rate / verify,
            100.0 * cpu / el / cores() as f64,
            cores(),
            cpu / n as f64 * 1e6,
        );

        if std::env::var_os("BENCH_INGEST_ONLY").is_some() {
            return;
        }
        if !restart_only() {
            in_process_rest(&ingest, &index, &corpus, verify, size, now);
        }
        // A clean stop, as before a node's ordinary start; the start after
        // a crash is measured on its own (restart after kill -9).
        ingest.close().unwrap();
    }
    node_process(dir, size);
}

/// `BENCH_WATCHES=N`: what checking every stored listing against N
/// members' watches costs ingest. Fresh pipelines (sled store and index on
/// disk) ingest the corpus in pages, without watches and with N, twice
/// each, alternately, in this one run.
fn watch_cost(corpus: &[Vec<u8>], config: &Arc<Config>, now: i64, verify: f64, n: usize) {
    use buurt_node::watch::Watches;
    // Words of the corpus and words it never has, so some watches match.
    let words = [
        "boormachine",
        "ladder",
        "fiets",
        "partytent",
        "grasmaaier",
        "tent",
        "drill",
        "kwispelstaart",
        "zeldzaam",
        "oppas",
        "naaimachine",
        "bakfiets",
    ];
    // Fresh for every run, so that no member's hourly share is used up by
    // an earlier one.
    let make = || {
        let watches = Arc::new(Watches::in_memory().unwrap());
        for i in 0..n {
            let mut member = [0u8; 32];
            member[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let text = if i % 4 == 0 {
                format!(
                    "{} {}",
                    words[i % words.len()],
                    words[(i / 7) % words.len()]
                )
            } else {
                format!("{}{i}", words[i % words.len()])
            };
            watches
                .add(
                    &buurt_protocol::MemberId(member),
                    &text,
                    None,
                    None,
                    None,
                    now,
                )
                .unwrap();
        }
        watches
    };
    let mut watches = make();
    println!("  {} watches of {n} members", watches.len());
    for round in 0..2 {
        for with in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let store: Arc<dyn Store> = Arc::new(SledStore::open(&tmp.path().join("db")).unwrap());
            let index = Arc::new(SearchIndex::open(&tmp.path().join("index")).unwrap());
            let moderation = Arc::new(Moderation::in_memory(
                config.clone(),
                keys::from_seed([0x99; 32]),
            ));
            let mut ingest = Ingest::new(store, index, config, moderation, None, None);
            if with {
                watches = make();
                ingest = ingest.with_watches(watches.clone());
            }
            let t = Instant::now();
            for page in corpus.chunks(PAGE) {
                for o in ingest.submit_batch(page, Source::Sync, now).unwrap() {
                    assert!(matches!(o, Outcome::Stored(_)), "{o:?}");
                }
            }
            ingest.commit_index().unwrap();
            ingest.flush().unwrap();
            let rate = corpus.len() as f64 / t.elapsed().as_secs_f64();
            println!(
                "  round {round}, {}: ingest in pages {rate:.0} listings/s = {:.2} x raw verify rate",
                if with { "with the watches" } else { "no watches" },
                rate / verify
            );
        }
    }
    println!(
        "  notifications left: {} (and {} over members' hourly share)",
        (0..n)
            .map(|i| {
                let mut member = [0u8; 32];
                member[..8].copy_from_slice(&(i as u64).to_be_bytes());
                watches
                    .notifications(&buurt_protocol::MemberId(member), 0)
                    .map(|v| v.len())
                    .unwrap_or(0)
            })
            .sum::<usize>(),
        watches.dropped.load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// `BENCH_RESTART_ONLY=1`: after the ingest, only the node's start, a few
/// posts, and its restart after kill -9.
fn restart_only() -> bool {
    std::env::var_os("BENCH_RESTART_ONLY").is_some()
}

/// Duplicate rejection and searches in the engine, in process.
fn in_process_rest(
    ingest: &Ingest,
    index: &SearchIndex,
    corpus: &[Vec<u8>],
    verify: f64,
    size: usize,
    now: i64,
) {
    {
        let t = Instant::now();
        for b in corpus {
            assert!(matches!(
                ingest.submit(b, Source::Gossip, now).unwrap(),
                Outcome::Duplicate(_)
            ));
        }
        let rate = size as f64 / t.elapsed().as_secs_f64();
        println!(
            "  duplicate rejection: {rate:.0} listings/s = {:.1} x raw verify rate",
            rate / verify
        );

        let queries: Vec<Query> = vec![
            Query {
                text: "boormachine".into(),
                ..Default::default()
            },
            Query {
                text: "ladder".into(),
                ..Default::default()
            },
            Query {
                text: "partytent te leen".into(),
                ..Default::default()
            },
            Query {
                text: "boormachien".into(),
                ..Default::default()
            },
            Query {
                text: "grasmaier".into(),
                ..Default::default()
            },
            Query {
                text: "fiets".into(),
                kind: Some(Kind::Offer),
                ..Default::default()
            },
            Query {
                text: "tent".into(),
                topic: Some("goods.camping".into()),
                ..Default::default()
            },
            Query {
                text: "boren".into(),
                scope: Some(Scope::parse("nl/amsterdam/oost", 6).unwrap()),
                ..Default::default()
            },
            Query {
                text: "drill".into(),
                near: Some("u173zq".into()),
                ..Default::default()
            },
            Query {
                text: String::new(),
                exchange: Some(Exchange::Lend),
                ..Default::default()
            },
        ];
        let mut lat = Vec::new();
        for round in 0..100 {
            for q in &queries {
                let t = Instant::now();
                let hits = index.search(q, now).unwrap();
                lat.push(t.elapsed());
                if round == 0 && hits.is_empty() && !q.text.is_empty() {
                    println!("  (query {:?} found nothing)", q.text);
                }
            }
        }
        summary("search in the engine (10-query mix)", lat);
        // The 50 newest, no words: the engine's share of
        // `GET /v1/search?limit=50` below.
        let newest = Query {
            limit: 50,
            ..Default::default()
        };
        let mut lat = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let hits = index.search(&newest, now).unwrap();
            lat.push(t.elapsed());
            assert_eq!(hits.len(), 50);
        }
        summary("engine: the 50 newest, no words", lat);
    }
}

/// The node as a process: start time, memory, post latency, CLI search,
/// restart after kill -9.
fn node_process(dir: &Path, size: usize) {
    // The in-process pipeline keeps no impact ledger, so the first start
    // notes every listing in it once, as a node from before the ledger
    // does; then a clean stop, and the ordinary start.
    let (mut first, start) = start_node(dir);
    println!(
        "  first node start with {size} listings (notes each in the impact ledger once): {}",
        ms(start)
    );
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(first.id().to_string())
        .status();
    let _ = first.wait();
    let (mut child, start) = start_node(dir);
    println!("  node start with {size} listings: {}", ms(start));
    let addr = std::fs::read_to_string(dir.join("api.addr"))
        .unwrap()
        .trim()
        .to_owned();
    let member = keys::from_seed({
        let s = std::fs::read_to_string(dir.join("member.key")).unwrap();
        let mut b = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut b).unwrap();
        b
    });
    let cert = {
        let s = std::fs::read_to_string(dir.join("member.cert")).unwrap();
        Certificate::from_bytes(&hex::decode(s.trim()).unwrap()).unwrap()
    };
    let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().build());
    let mut post_lat = Vec::new();
    let mut visible = Vec::new();
    let posts: u64 = if restart_only() { 30 } else { 300 };
    for i in 0..posts {
        let t0 = buurt_node::clock::now();
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&i.to_be_bytes());
        key[8] = 0xEE;
        let title = if i % 15 == 0 {
            format!("zeldzaamwoord{i} te leen")
        } else {
            format!("Steigerplank {i} te leen")
        };
        let t = Instant::now();
        let l = Listing {
            author: keys::member_id(&member),
            key: ListingKey(key),
            revision: t0 as u64,
            created_at: t0,
            expires_at: t0 + DAY,
            kind: Kind::Offer,
            exchange: Exchange::Lend,
            status: Status::Open,
            scope: cert.scope.clone(),
            topics: vec!["goods.tools".into()],
            title: title.clone(),
            body: String::new(),
            tags: vec![],
            geohash: None,
            terms: Terms::default(),
            extras: Default::default(),
            certificate: cert.clone(),
        };
        let signed = l.sign(&member).unwrap();
        let body = serde_json::json!({ "signed": hex::encode(signed.bytes()) });
        let r = agent
            .post(format!("http://{addr}/v1/listings"))
            .send_json(&body)
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        post_lat.push(t.elapsed());
        if i % 15 == 0 {
            let word = format!("zeldzaamwoord{i}");
            loop {
                let mut r = agent
                    .get(format!("http://{addr}/v1/search"))
                    .query("q", &word)
                    .call()
                    .unwrap();
                let v: serde_json::Value = r.body_mut().read_json().unwrap();
                if v.as_array().map(|a| !a.is_empty()).unwrap_or(false) {
                    visible.push(t.elapsed());
                    break;
                }
                if t.elapsed() > Duration::from_secs(5) {
                    println!("  post {i} not searchable after 5 s");
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    summary("post (sign, HTTP, validate, store, flush)", post_lat);
    summary("post until searchable", visible);
    if !restart_only() {
        process_queries(dir, &addr, &agent);
    }

    let (anon, file) = buurt_tests::process::rss_split_kb(child.id());
    println!(
        "  node resident memory after the runs: {} MB ({} MB anonymous, {} MB file-backed: the program and the index's mapped files)",
        rss_kb(child.id()) / 1024,
        anon / 1024,
        file / 1024
    );
    // kill -9 and start again: the index catches up from the store's
    // journal instead of being rebuilt.
    let _ = Command::new("kill")
        .arg("-KILL")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    let (mut child, restart) = start_node(dir);
    println!(
        "  node restart after kill -9 with {size} listings: {}",
        ms(restart)
    );
    if std::env::var("BENCH_IDLE_SECS").as_deref() != Ok("0") {
        let addr = std::fs::read_to_string(dir.join("api.addr")).unwrap();
        idle::idle(child.id(), addr.trim(), &agent);
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    let size_on_disk = dir_size(&dir.join("db")) + dir_size(&dir.join("index"));
    println!(
        "  data directory (db + index): {} MB",
        size_on_disk / 1_048_576
    );
}

/// `buurt search` through the CLI, and `GET /v1/status`, against the node.
fn process_queries(dir: &Path, addr: &str, agent: &ureq::Agent) {
    let mut cli = Vec::new();
    for q in ["boormachine", "ladder", "boormachien", "partytent", "fiets"]
        .iter()
        .cycle()
        .take(100)
    {
        let t = Instant::now();
        let out = buurt(dir, &["search", q]);
        cli.push(t.elapsed());
        assert!(out.status.success());
    }
    summary("`buurt search` end to end (process + HTTP)", cli);
    let mut status = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let r = agent
            .get(format!("http://{addr}/v1/status"))
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        status.push(t.elapsed());
    }
    summary("GET /v1/status", status);
    idle::newest_and_by_author(addr, agent);
    board_pages(addr, agent);
}

/// The public board's pages over HTTP: each rendered 200 times, and the
/// bytes of each page.
fn board_pages(addr: &str, agent: &ureq::Agent) {
    let found: serde_json::Value = agent
        .get(format!("http://{addr}/v1/search?q=boormachine&limit=1"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let id = found[0]["id"].as_str().unwrap_or_default().to_owned();
    let pages = [
        "/".to_owned(),
        "/search?q=boormachine".into(),
        "/search?q=boormachien".into(),
        "/search?topic=goods&kind=offer".into(),
        format!("/listing/{id}"),
        "/feed.atom".into(),
    ];
    let mut largest = (0, String::new());
    for page in &pages {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..200 {
            let t = Instant::now();
            let mut r = agent.get(format!("http://{addr}{page}")).call().unwrap();
            let body = r.body_mut().read_to_vec().unwrap();
            times.push(t.elapsed());
            assert_eq!(r.status().as_u16(), 200, "{page}");
            bytes = body.len();
        }
        summary(&format!("board GET {page} ({bytes} bytes)"), times);
        if bytes > largest.0 {
            largest = (bytes, page.clone());
        }
    }
    println!("  largest board page: {} ({} bytes)", largest.1, largest.0);
}

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let m = match e.metadata() {
                Ok(m) => m,
                Err(_) => continue,
            };
            total += if m.is_dir() {
                dir_size(&e.path())
            } else {
                m.len()
            };
        }
    }
    total
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    };
    println!("buurt single-node benchmark on {} cores", cores());
    for s in sizes {
        run(s);
    }
}
