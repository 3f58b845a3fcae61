//! `BENCH_API_INGEST=1`: the corpus posted to a fresh `buurt node` through
//! its HTTP API, as a node fills in real life, instead of in process. Part
//! of the single-node benchmark (`node.rs`); prints figures, asserts
//! nothing.
//!
//! Four clients post the signed bytes (`application/octet-stream`). Then:
//! posts a second and the node's CPU per post; its resident memory, split
//! into anonymous and file-backed, right after and after a restart; and its
//! data directory (store and index) against the signed bytes it holds
//! (issue 23, rows 3 and 4).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use buurt_tests::process::{cpu_seconds, rss_split_kb};

use super::{dir_size, start_node};

/// Clients posting at once.
const CLIENTS: usize = 4;
/// How long the node is left at rest before its memory is read again.
const AT_REST_SECS: u64 = 30;

/// Posts `corpus` to a node started on `dir` (initialised, limits lifted).
pub fn run(dir: &Path, corpus: Vec<Vec<u8>>) {
    let (mut child, _) = start_node(dir);
    let addr = std::fs::read_to_string(dir.join("api.addr"))
        .unwrap()
        .trim()
        .to_owned();
    let url = format!("http://{addr}/v1/listings");
    let raw: u64 = corpus.iter().map(|b| b.len() as u64).sum();
    let n = corpus.len();
    let corpus = Arc::new(corpus);
    let cpu0 = cpu_seconds(child.id());
    let begun = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (corpus, url) = (corpus.clone(), url.clone());
            std::thread::spawn(move || {
                let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().build());
                for b in corpus.iter().skip(c).step_by(CLIENTS) {
                    let r = agent
                        .post(&url)
                        .header("Content-Type", "application/octet-stream")
                        .send(&b[..])
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 201);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let wall = begun.elapsed().as_secs_f64();
    let cpu = cpu_seconds(child.id()) - cpu0;
    println!(
        "  through the API ({CLIENTS} clients, raw bytes): {n} posts in {wall:.1} s, {:.0} posts/s, node CPU {:.0} µs a post",
        n as f64 / wall,
        cpu / n as f64 * 1e6
    );
    let memory = |when: &str, pid: u32| {
        let (anon, file) = rss_split_kb(pid);
        println!(
            "  node resident memory {when}: {} MB ({} MB anonymous, {} MB file-backed)",
            (anon + file) / 1024,
            anon / 1024,
            file / 1024
        );
    };
    memory("after the posts", child.id());
    // What the allocator and the caches give back once the node is at rest.
    std::thread::sleep(Duration::from_secs(AT_REST_SECS));
    memory(&format!("{AT_REST_SECS} s later, at rest"), child.id());
    let size = |when: &str| {
        let (db, index) = (dir_size(&dir.join("db")), dir_size(&dir.join("index")));
        println!(
            "  data directory {when}: store {} MB + index {} MB = {} bytes a listing, {:.2} × the {} MB of signed bytes",
            db / 1_000_000,
            index / 1_000_000,
            (db + index) / n as u64,
            (db + index) as f64 / raw as f64,
            raw / 1_000_000
        );
    };
    size("after the posts");
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    size("after a clean stop");
    let (mut child, start) = start_node(dir);
    println!("  restart: {:.0} ms", start.as_secs_f64() * 1e3);
    memory("after the restart", child.id());
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}
