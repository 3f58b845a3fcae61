//! The node at rest, and two reads by the newest and by author: part of
//! the single-node benchmark (`node.rs`).
//!
//! *Idle*: the node with its listings, connected to five peers, nothing
//! posted, for two windows of `BENCH_IDLE_SECS` (60 by default) each: its
//! CPU as a share of one core, and the search index commits it made (from
//! its own `/metrics`).
//! The peers are nodes of another scope, so that no listing flows and what
//! is measured is the cost of being connected: keep-alives, gossip
//! heartbeats, the periodic catch-up sync (which the peers refuse for a
//! scope they do not follow), sweeps and timers.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use buurt_tests::process::cpu_seconds;

use super::{summary, BIN};

fn get_json(agent: &ureq::Agent, url: &str) -> serde_json::Value {
    agent
        .get(url)
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap()
}

/// The value of the `buurt_index_commit_seconds_count` series.
fn commits(agent: &ureq::Agent, addr: &str) -> f64 {
    let text = agent
        .get(format!("http://{addr}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("buurt_index_commit_seconds_count "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Starts a node of scope `nl/utrecht/lombok` in `dir` that dials `peer`.
fn peer(dir: &Path, peer: &str) -> Child {
    let init = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(["init", "--scope", "nl/utrecht/lombok"])
        .output()
        .unwrap();
    assert!(init.status.success());
    Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(buurt_tests::NODE_ARGS)
        .args(["--peer", peer])
        .env("BUURT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The node `pid` at `addr` at rest with five peers.
pub fn idle(pid: u32, addr: &str, agent: &ureq::Agent) {
    let status = get_json(agent, &format!("http://{addr}/v1/status"));
    let Some(dial) = status["listen_addrs"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .find(|a| a.contains("/p2p/"))
        })
        .map(str::to_owned)
    else {
        println!("  idle: the node has no address to dial: {status}");
        return;
    };
    let dirs: Vec<tempfile::TempDir> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut peers: Vec<Child> = dirs.iter().map(|d| peer(d.path(), &dial)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let connected = loop {
        let n = get_json(agent, &format!("http://{addr}/v1/status"))["peers"]
            .as_u64()
            .unwrap_or(0);
        if n >= 5 || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let secs: u64 = std::env::var("BENCH_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    // Two windows one after the other: the first begins right after a
    // restart, while sled may still be cleaning its log.
    for which in ["first", "second"] {
        let (cpu0, commits0) = (cpu_seconds(pid), commits(agent, addr));
        let peers0: f64 = peers.iter().map(|p| cpu_seconds(p.id())).sum();
        let begun = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        let window = begun.elapsed().as_secs_f64();
        let (cpu1, commits1) = (cpu_seconds(pid), commits(agent, addr));
        let peers1: f64 = peers.iter().map(|p| cpu_seconds(p.id())).sum();
        println!(
            "  idle, {connected} peers, {which} {window:.0} s: node CPU {:.3} % of one core ({:.0} ms), {} index commits; an empty peer {:.3} %",
            (cpu1 - cpu0) / window * 100.0,
            (cpu1 - cpu0) * 1e3,
            commits1 - commits0,
            (peers1 - peers0) / 5.0 / window * 100.0
        );
    }
    for p in &mut peers {
        let _ = Command::new("kill").arg(p.id().to_string()).status();
        let _ = p.wait();
    }
}

/// The 50 newest listings (`GET /v1/search?limit=50`, no words) and one
/// member's listings (`GET /v1/members/{id}/listings`), 200 times each.
pub fn newest_and_by_author(addr: &str, agent: &ureq::Agent) {
    let newest = format!("http://{addr}/v1/search?limit=50");
    // A member of the generated neighbourhood (about 100 listings each at
    // 100,000), not the operator who posted in the post round.
    let found = get_json(agent, &format!("http://{addr}/v1/search?q=ladder&limit=1"));
    let Some(author) = found[0]["author"].as_str().map(str::to_owned) else {
        println!("  by author: no listing found: {found}");
        return;
    };
    for (name, url) in [
        ("GET /v1/search?limit=50 (newest first)".to_owned(), newest),
        (
            "GET /v1/members/{id}/listings".to_owned(),
            format!("http://{addr}/v1/members/{author}/listings"),
        ),
    ] {
        let mut times = Vec::new();
        let mut hits = 0;
        for _ in 0..200 {
            let t = Instant::now();
            let v = get_json(agent, &url);
            times.push(t.elapsed());
            hits = v.as_array().map_or(0, Vec::len);
        }
        summary(&format!("{name} ({hits} hits)"), times);
    }
}
