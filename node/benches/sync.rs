//! The catch-up sync benchmark: prints figures, asserts nothing.
//!
//! `cargo bench -p buurt-node --bench sync` (100,000 listings; `-- N` for
//! another size). Node A stores N listings of one scope; node B stores the
//! same set minus some: (a) none, (b) the newest 1% (a node back from a
//! holiday), (c) 10, 1,000 and 10,000 chosen at random. B then runs one real
//! sync session (`sync::sync_scope`) against A's real request handler
//! (`sync::answer`), in process: every request and response is encoded,
//! counted and decoded as on the wire, but there is no network latency, so
//! the time is CPU time plus B's ingest of what it fetched. The figures are
//! reconciliation bytes in each direction and round trips, fetch bytes, and
//! the listing bytes moved against the bytes of the missing listings, next to
//! a plain list of all ids (32 bytes each) and the whole set.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use buurt_node::config::{Config, FileConfig, Overrides};
use buurt_node::run::Parts;
use buurt_node::sync::{self, RequestError};
use buurt_protocol::keys;
use buurt_protocol::limits::DAY;
use buurt_protocol::sync::{Request, Response};
use buurt_protocol::{
    Certificate, Exchange, Kind, Listing, ListingKey, Scope, SignedListing, Status, Terms,
};
use libp2p::PeerId;

const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

/// xorshift64*: deterministic, so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

const WORDS: &[&str] = &[
    "boormachine",
    "ladder",
    "fiets",
    "bakfiets",
    "partytent",
    "grasmaaier",
    "naaimachine",
    "te",
    "leen",
    "gezocht",
    "ophalen",
    "in",
    "de",
    "buurt",
    "graag",
    "terug",
    "binnen",
    "week",
    "met",
    "koffer",
    "handleiding",
    "drill",
    "to",
    "lend",
    "near",
    "the",
    "park",
];

/// `n` signed listings of one scope by 100 members, created over 60 days.
fn corpus(n: usize, now: i64) -> Vec<SignedListing> {
    let node = keys::from_seed([0xAB; 32]);
    let scope = Scope::parse(SCOPE, 6).expect("scope");
    let members: Vec<_> = (0..100u64)
        .map(|i| {
            let mut seed = [7u8; 32];
            seed[..8].copy_from_slice(&(i + 1).to_be_bytes());
            let key = keys::from_seed(seed);
            let cert = Certificate::issue(
                &node,
                keys::member_id(&key),
                scope.clone(),
                now - 90 * DAY,
                now + 365 * DAY,
            );
            (key, cert)
        })
        .collect();
    let mut rng = Rng(0x005E_ED0F_5F1C);
    (0..n)
        .map(|i| {
            let (key, cert) = &members[i % members.len()];
            let mut k = [0u8; 16];
            k[8..].copy_from_slice(&(i as u64).to_be_bytes());
            let created = now - 60 * DAY + (i as i64 * 60 * DAY) / n as i64;
            let words: Vec<&str> = (0..(10 + rng.next() % 30))
                .map(|_| WORDS[(rng.next() % WORDS.len() as u64) as usize])
                .collect();
            Listing {
                author: keys::member_id(key),
                key: ListingKey(k),
                revision: created as u64,
                created_at: created,
                expires_at: created + 89 * DAY,
                kind: Kind::Offer,
                exchange: Exchange::Lend,
                status: Status::Open,
                scope: scope.clone(),
                topics: vec!["goods.tools".into()],
                title: format!("{} {}", words[0], words[1]),
                body: words.join(" "),
                tags: vec![],
                geohash: None,
                terms: Terms::default(),
                extras: Default::default(),
                certificate: cert.clone(),
            }
            .sign(key)
            .expect("signs")
        })
        .collect()
}

fn node(listings: &[SignedListing]) -> Arc<sync::Context> {
    let file = FileConfig {
        scope: SCOPE.into(),
        listen: vec![],
        // Listings of other nodes' members: accepted whatever node admitted them.
        policy: buurt_node::config::Policy::Open,
        mdns: false,
        // A whole corpus from few nodes comes in at once.
        rate_limits: buurt_node::config::RateLimits {
            author_per_hour: u32::MAX,
            author_per_day: u32::MAX,
            node_per_hour: u32::MAX,
            node_new_members_per_day: u32::MAX,
            ..Default::default()
        },
        ..Default::default()
    };
    let config = Config::build(file, Overrides::default()).expect("config");
    let mut parts = Parts::in_memory(config, keys::from_seed([7; 32])).expect("parts");
    parts.announcements.close();
    for l in listings {
        parts.store.put(l).expect("put");
    }
    parts.sync_context()
}

/// A's request handler, reached in process; counts what crosses.
struct Loopback {
    server: Arc<sync::Context>,
    reconcile_up: AtomicUsize,
    reconcile_down: AtomicUsize,
    fetch_up: AtomicUsize,
    fetch_down: AtomicUsize,
    requests: AtomicUsize,
    listing_bytes: AtomicUsize,
}

impl sync::Requester for Loopback {
    async fn request(&self, _: PeerId, request: Request) -> Result<Response, RequestError> {
        let up = request.encode();
        let reconcile = matches!(request, Request::Reconcile { .. });
        self.requests.fetch_add(1, Ordering::Relaxed);
        let request = Request::decode(&up).map_err(|e| RequestError::Malformed(e.into()))?;
        let (response, _) = sync::serve::answer(&self.server, request, buurt_node::clock::now());
        let down = response.encode();
        if reconcile {
            self.reconcile_up.fetch_add(up.len(), Ordering::Relaxed);
            self.reconcile_down.fetch_add(down.len(), Ordering::Relaxed);
        } else {
            self.fetch_up.fetch_add(up.len(), Ordering::Relaxed);
            self.fetch_down.fetch_add(down.len(), Ordering::Relaxed);
            if let Response::Listings { listings } = &response {
                let n: usize = listings.iter().map(Vec::len).sum();
                self.listing_bytes.fetch_add(n, Ordering::Relaxed);
            }
        }
        Response::decode(&down).map_err(|e| RequestError::Malformed(e.into()))
    }

    async fn misbehaved(&self, _: PeerId, why: String) {
        panic!("the benchmark's peer misbehaved: {why}");
    }
}

/// Resident and peak resident memory of this process, in MB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn kb(n: usize) -> String {
    format!("{:.1} KB", n as f64 / 1000.0)
}

async fn case(name: &str, all: &[SignedListing], a: &Arc<sync::Context>, missing: &HashSet<usize>) {
    let held: Vec<SignedListing> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| !missing.contains(i))
        .map(|(_, l)| l.clone())
        .collect();
    let b = node(&held);
    let (before, _) = memory();
    let missing_bytes: usize = missing.iter().map(|&i| all[i].bytes().len()).sum();
    let net = Loopback {
        server: a.clone(),
        reconcile_up: AtomicUsize::new(0),
        reconcile_down: AtomicUsize::new(0),
        fetch_up: AtomicUsize::new(0),
        fetch_down: AtomicUsize::new(0),
        requests: AtomicUsize::new(0),
        listing_bytes: AtomicUsize::new(0),
    };
    let scope = Scope::parse(SCOPE, 6).expect("scope");
    let t = Instant::now();
    let report = sync::session::sync_scope(&net, &b, PeerId::random(), "A", &scope)
        .await
        .expect("sync");
    let took = t.elapsed();
    let (after, peak) = memory();
    let now = buurt_node::clock::now();
    let same = sync::items::items(&*a.store, &scope, now).expect("items")
        == sync::items::items(&*b.store, &scope, now).expect("items");
    let moved = net.listing_bytes.load(Ordering::Relaxed);
    println!(
        "{name:<22} {:>5} missing | reconcile: {} up, {} down, {} round trips | fetch: {} up, {} down, {} round trips | listing bytes {} for {} missing ({:.3} x) | {:.0} ms | stored {} | converged {same} | RSS {before:.0} -> {after:.0} MB, peak {peak:.0} MB",
        missing.len(),
        kb(net.reconcile_up.load(Ordering::Relaxed)),
        kb(net.reconcile_down.load(Ordering::Relaxed)),
        report.rounds,
        kb(net.fetch_up.load(Ordering::Relaxed)),
        kb(net.fetch_down.load(Ordering::Relaxed)),
        net.requests.load(Ordering::Relaxed) - report.rounds,
        kb(moved),
        kb(missing_bytes),
        if missing_bytes > 0 { moved as f64 / missing_bytes as f64 } else { 0.0 },
        took.as_secs_f64() * 1e3,
        report.stored,
    );
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let now = buurt_node::clock::now();
    let t = Instant::now();
    let all = corpus(n, now);
    let whole: usize = all.iter().map(|l| l.bytes().len()).sum();
    println!(
        "sync benchmark: {n} listings ({:.1} MB, signed in {:.1} s); a plain list of all ids would be {}",
        whole as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        kb(n * 32)
    );
    let a = node(&all);
    case("(a) identical", &all, &a, &HashSet::new()).await;
    let newest: HashSet<usize> = (n - n / 100..n).collect();
    case("(b) newest 1% missing", &all, &a, &newest).await;
    let mut rng = Rng(0xD1FF);
    for k in [10usize, 1_000, 10_000] {
        let mut picked = HashSet::new();
        while picked.len() < k.min(n) {
            picked.insert((rng.next() % n as u64) as usize);
        }
        case(&format!("(c) {k} scattered"), &all, &a, &picked).await;
    }
}
