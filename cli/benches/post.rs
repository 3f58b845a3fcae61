//! What one post costs the node through its HTTP API: prints figures,
//! asserts nothing.
//!
//! `cargo bench -p buurt-cli --bench post` starts a `buurt node` (limits
//! lifted, like the node benchmark), signs the listings first, then posts
//! them one at a time: a round as hex in JSON (`{"signed": "…"}`), and a
//! round as the signed bytes (`application/octet-stream`, what `buurt
//! offer` sends). For each it prints the node process's CPU per post (from
//! /proc), the post latency, and the CPU as a multiple of one
//! `verify_strict` measured in the same run. Then four clients at once, to
//! show the posts that share one sync of the database (group commit).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use buurt_node::config::FileConfig;
use buurt_protocol::keys;
use buurt_protocol::SignedListing;
use buurt_tests::process::cpu_seconds;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
/// Posts a round.
const POSTS: usize = 2_000;

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let init = buurt_tests::buurt(BIN.as_ref(), dir, &["init", "--scope", "nl/amsterdam/oost"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let mut file = FileConfig::load(&dir.join("config.toml")).unwrap();
    file.rate_limits.author_per_hour = u32::MAX;
    file.rate_limits.author_per_day = u32::MAX;
    file.rate_limits.node_per_hour = u32::MAX;
    buurt_node::datadir::write_secret(&dir.join("config.toml"), file.to_toml().as_bytes()).unwrap();

    let mut node = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(buurt_tests::NODE_ARGS)
        .env("BUURT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = loop {
        if let Ok(a) = std::fs::read_to_string(dir.join("api.addr")) {
            let a = a.trim().to_owned();
            if ureq::get(format!("http://{a}/v1/status")).call().is_ok() {
                break a;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (key, cert) = buurt_tests::operator(dir);
    let now = buurt_node::clock::now();
    let sign = |word: &str| -> Arc<Vec<SignedListing>> {
        let title = |i| format!("Ladder {word} {i}");
        Arc::new(
            (0..POSTS)
                .map(|i| buurt_tests::offer_by(&key, &cert, &title(i), now, now + 86_400))
                .collect(),
        )
    };
    let verify = verify_strict_us(&buurt_tests::offer_by(
        &key,
        &cert,
        "Ladder",
        now,
        now + 86_400,
    ));
    println!("post: {POSTS} posts a round; one verify_strict: {verify:.1} µs");
    let round = Round {
        url: format!("http://{addr}/v1/listings"),
        pid: node.id(),
        verify,
    };
    round.run("hex in JSON  one client", &sign("hex"), false, 1);
    round.run("raw bytes    one client", &sign("raw"), true, 1);
    round.run("raw bytes    four clients", &sign("samen"), true, 4);
    let _ = Command::new("kill").arg(node.id().to_string()).status();
    let _ = node.wait();
}

/// Where the posts go, the node's process, and one signature check's cost.
struct Round {
    url: String,
    pid: u32,
    verify: f64,
}

impl Round {
    /// Posts `listings` from `clients` threads at once, as raw bytes or hex
    /// in JSON, and prints the node's CPU per post and the latencies.
    fn run(&self, name: &str, listings: &Arc<Vec<SignedListing>>, raw: bool, clients: usize) {
        let cpu0 = cpu_seconds(self.pid);
        let begun = Instant::now();
        let threads: Vec<_> = (0..clients)
            .map(|c| {
                let (listings, url) = (listings.clone(), self.url.clone());
                std::thread::spawn(move || {
                    let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().build());
                    let mut took = Vec::new();
                    for l in listings.iter().skip(c).step_by(clients) {
                        let t = Instant::now();
                        let r = if raw {
                            agent
                                .post(&url)
                                .header("Content-Type", "application/octet-stream")
                                .send(l.bytes())
                        } else {
                            agent
                                .post(&url)
                                .send_json(serde_json::json!({ "signed": hex::encode(l.bytes()) }))
                        };
                        assert_eq!(r.unwrap().status().as_u16(), 201);
                        took.push(t.elapsed());
                    }
                    took
                })
            })
            .collect();
        let mut took: Vec<Duration> = threads
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        let wall = begun.elapsed();
        let cpu = (cpu_seconds(self.pid) - cpu0) / took.len() as f64 * 1e6;
        took.sort();
        println!(
            "  {name:<26} node CPU {cpu:>6.0} µs a post ({:.1} × verify_strict)  p50 {:.3} ms  p99 {:.3} ms  {:.0} posts/s",
            cpu / self.verify,
            at(&took, 0.50),
            at(&took, 0.99),
            took.len() as f64 / wall.as_secs_f64()
        );
    }
}

fn at(sorted: &[Duration], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// One `verify_strict` of a listing's signature, in µs (median of 5
/// rounds of 2,000).
fn verify_strict_us(l: &SignedListing) -> f64 {
    let vk = l.listing.author.verifying_key().unwrap();
    let msg = l.signing_input();
    let sig = keys::Signature::from_bytes(&l.signature);
    let mut rounds: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..2_000 {
                assert!(vk.verify_strict(&msg, &sig).is_ok());
            }
            t.elapsed().as_secs_f64() * 1e6 / 2_000.0
        })
        .collect();
    rounds.sort_by(|a, b| a.total_cmp(b));
    rounds[2]
}
