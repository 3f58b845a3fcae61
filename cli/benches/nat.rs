//! Reach behind NAT, measured in the network-namespace bed of
//! `buurt_tests::netns` (a hub, two homes behind NAT routers; needs root):
//!
//! - time from starting the two home nodes to the first listing exchanged,
//!   direct (port-preserving NAT, after a hole punch) and relayed (random
//!   ports: no hole punch can work), 5 runs each;
//! - the hub's CPU time and bytes on its port while 1,000 listings cross
//!   it relayed, and its resident memory before and after the circuits
//!   opened;
//! - how often a hole punch succeeds here (TCP), over the direct runs.
//!
//! Prints figures, asserts nothing. `cargo bench -p buurt-cli --bench nat`
//! (as root).

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use buurt_protocol::sample::Identity;
use buurt_tests::netns::{Bed, Nat, HUB_IP};
use buurt_tests::process::{cpu_seconds, rss_kb};
use buurt_tests::TestNode;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";
const LISTEN: &str = "/ip4/0.0.0.0/tcp/4001";
const LISTINGS: usize = 1_000;

fn generous(f: &mut buurt_node::config::FileConfig) {
    f.rate_limits.author_per_hour = 10_000;
    f.rate_limits.author_per_day = 10_000;
    f.rate_limits.node_per_hour = 1_000_000;
    f.rate_limits.node_new_members_per_day = 10_000;
}

fn node_id(n: &TestNode) -> String {
    n.ok(&["--json", "status"]).json()["node_id"]
        .as_str()
        .expect("a node id")
        .to_owned()
}

/// Runs `f` on a thread inside namespace `ns` (its loopback is the node's).
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("the namespace");
        // SAFETY: setns on a valid namespace fd; it moves this thread only.
        assert_eq!(
            unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
            0
        );
        f()
    })
    .join()
    .expect("the thread in the namespace")
}

struct Run {
    first_listing: Duration,
    path: String,
}

/// A home node in namespace `ns` of `bed`, with the hub at `hub_addr`.
fn home(bed: &Bed, ns: &str, hub_addr: &str) -> TestNode {
    TestNode::start_netns(
        BIN.as_ref(),
        SCOPE,
        &bed.ns(ns),
        &["--listen", LISTEN, "--hub", hub_addr],
        generous,
    )
}

/// One bed: hub, then both homes at once; A posts as soon as its API
/// answers; the time until B finds it.
fn once(tag: &str, nat: Nat) -> Run {
    let bed = Bed::new(tag, nat);
    let hub = TestNode::start_netns(
        BIN.as_ref(),
        "nl/amsterdam",
        &bed.ns("hub"),
        &["--listen", LISTEN, "--serve-hub"],
        generous,
    );
    let hub_addr = format!("/ip4/{HUB_IP}/tcp/4001/p2p/{}", node_id(&hub));
    let start = Instant::now();
    let a = home(&bed, "a", &hub_addr);
    let b = home(&bed, "b", &hub_addr);
    let id = a.ok(&["--json", "offer", "Boormachine te leen"]).json()["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let found = b.finds(&["boormachine"], &id, true, 120);
    let first_listing = start.elapsed();
    assert!(found, "B never found the listing; B log:\n{}", b.log());
    let peer = node_id(&b);
    let path = a
        .ok(&["--json", "peers"])
        .json()
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["node_id"] == peer.as_str()).cloned())
        .map(|p| p["path"].as_str().unwrap_or("?").to_owned())
        .unwrap_or_else(|| "?".into());
    Run {
        first_listing,
        path,
    }
}

fn relay_cost() {
    let bed = Bed::new("c", Nat::Random);
    let hub = TestNode::start_netns(
        BIN.as_ref(),
        "nl/amsterdam",
        &bed.ns("hub"),
        &["--listen", LISTEN, "--serve-hub"],
        generous,
    );
    let hub_pid = hub.pid().expect("the hub runs");
    let hub_addr = format!("/ip4/{HUB_IP}/tcp/4001/p2p/{}", node_id(&hub));
    let rss_alone = rss_kb(hub_pid);
    let a = home(&bed, "a", &hub_addr);
    let b = home(&bed, "b", &hub_addr);
    let peer_b = node_id(&b);
    assert!(TestNode::eventually(90, || {
        a.ok(&["--json", "peers"])
            .json()
            .as_array()
            .is_some_and(|ps| {
                ps.iter().any(|p| {
                    p["node_id"] == peer_b.as_str()
                        && p["path"] == "relayed"
                        && p["scopes"]
                            .as_array()
                            .is_some_and(|s| s.iter().any(|x| x == SCOPE))
                })
            })
    }));
    let (cpu0, rss_relayed) = (cpu_seconds(hub_pid), rss_kb(hub_pid));
    let bytes0 = bed.hub_bytes();
    // 1,000 listings from 100 residents, signed here and posted to A's API
    // from inside A's namespace.
    let now = buurt_node::clock::now();
    let listings: Vec<buurt_protocol::SignedListing> = (0..LISTINGS)
        .map(|i| {
            let who = Identity::new([0x30; 32], [(i % 100) as u8 + 1; 32], SCOPE, now - 3_600);
            let mut key = [0x5a; 16];
            key[..4].copy_from_slice(&(i as u32).to_be_bytes());
            let mut l = who.offer(key, &format!("Gereedschap nummer {i} te leen"), now - 60);
            l.expires_at = now + 7 * 86_400;
            l.sign(&who.member).expect("signed")
        })
        .collect();
    // One signature check of each, for the ratio.
    let t = Instant::now();
    for l in &listings {
        let key = buurt_protocol::keys::VerifyingKey::from_bytes(l.listing.author.as_bytes())
            .expect("a key");
        let sig = buurt_protocol::keys::Signature::from_bytes(&l.signature);
        assert!(key.verify_strict(&l.signing_input(), &sig).is_ok());
    }
    let verify = t.elapsed().as_secs_f64() / LISTINGS as f64;
    let signed: Vec<String> = listings.iter().map(|l| hex::encode(l.bytes())).collect();
    let api_a = a.api.clone();
    let posted = Instant::now();
    in_ns(&bed.ns("a"), move || {
        let agent = ureq::Agent::new_with_defaults();
        for s in signed {
            let r = agent
                .post(format!("http://{api_a}/v1/listings"))
                .send_json(serde_json::json!({ "signed": s }))
                .expect("A takes it");
            assert_eq!(r.status(), 201);
        }
    });
    let api_b = b.api.clone();
    let all = in_ns(&bed.ns("b"), move || {
        let agent = ureq::Agent::new_with_defaults();
        TestNode::eventually(120, || {
            agent
                .get(format!("http://{api_b}/v1/status"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<serde_json::Value>().ok())
                .and_then(|v| v["listings"].as_u64())
                .is_some_and(|n| n >= LISTINGS as u64)
        })
    });
    let took = posted.elapsed();
    let cpu1 = cpu_seconds(hub_pid);
    let bytes = bed.hub_bytes() - bytes0;
    let circuits = hub.log().matches("relay: circuit").count();
    println!(
        "relayed, {LISTINGS} listings A -> hub -> B: all on B: {all} after {:.1} s",
        took.as_secs_f64()
    );
    println!(
        "  bytes on the hub's port: {bytes} ({:.0} per listing)",
        bytes as f64 / LISTINGS as f64
    );
    let per = (cpu1 - cpu0) / LISTINGS as f64;
    println!(
        "  hub CPU: {:.3} s ({:.0} µs per listing relayed; one verify_strict here: {:.1} µs; ratio {:.1})",
        cpu1 - cpu0,
        per * 1e6,
        verify * 1e6,
        per / verify
    );
    println!(
        "  hub resident memory: {} kB alone, {} kB with the two homes' reservations and {} circuit(s) open (+{} kB)",
        rss_alone,
        rss_relayed,
        circuits,
        rss_relayed.saturating_sub(rss_alone)
    );
}

fn main() {
    if let Some(why) = Bed::unavailable() {
        println!("buurt NAT benchmark skipped: {why}");
        return;
    }
    // The hub's log names each circuit it opens.
    std::env::set_var("RUST_LOG", "info,buurt_node::net::reach=debug");
    println!("buurt NAT benchmark (network namespaces, TCP)");
    for (name, nat, tag) in [
        ("direct (port-preserving NAT)", Nat::PortPreserving, "p"),
        ("relayed (random-port NAT)", Nat::Random, "q"),
    ] {
        let mut times = Vec::new();
        let mut paths = Vec::new();
        for i in 0..5 {
            let r = once(&format!("{tag}{i}"), nat);
            times.push(r.first_listing);
            paths.push(r.path);
        }
        times.sort();
        println!(
            "{name}: start to first listing found on the other home, n=5: min {:.2} s  median {:.2} s  max {:.2} s; paths {:?}",
            times[0].as_secs_f64(),
            times[2].as_secs_f64(),
            times[4].as_secs_f64(),
            paths
        );
    }
    relay_cost();
}
