//! What an acknowledgement's durability costs: prints figures, asserts
//! nothing.
//!
//! `cargo bench -p buurt-node --bench durability` (set `BENCH_DIR` to
//! measure on another file system; default: the system's temporary
//! folder). Each round stores signed listings from 1, 4 or 16 threads at
//! once, each listing written and then flushed as a post is before the API
//! answers, into a fresh database: once with sled's flush alone (its
//! `sync_file_range`, the node's behaviour before the log file was synced)
//! and once as the node does now (the flush, then `fdatasync` of sled's log
//! file, shared by the writers waiting at the same time). It prints each
//! write's latency, the listings stored a second, and the syncs per listing.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use buurt_node::store::{SledStore, Store};
use buurt_protocol::sample::{Identity, T0};
use buurt_protocol::SignedListing;

/// Listings per round.
const PER_ROUND: usize = 1_600;

fn main() {
    let base = std::env::var_os("BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    println!(
        "durability: {PER_ROUND} listings a round, in {} ({})",
        base.display(),
        file_system(&base)
    );
    let ident = Identity::fixed();
    let listings: Vec<SignedListing> = (0..PER_ROUND as u32)
        .map(|i| {
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&i.to_be_bytes());
            ident
                .offer(key, &format!("Ladder {i}"), T0)
                .sign(&ident.member)
                .expect("signs")
        })
        .collect();
    let listings = Arc::new(listings);
    for threads in [1, 4, 16] {
        for sync in [false, true] {
            round(&base, &listings, threads, sync);
        }
    }
}

fn round(base: &std::path::Path, listings: &Arc<Vec<SignedListing>>, threads: usize, sync: bool) {
    let dir = tempfile::tempdir_in(base).expect("a folder to measure in");
    let store = Arc::new(SledStore::open(&dir.path().join("db")).expect("opens"));
    store.set_log_sync(sync);
    let syncs_before = store.log_syncs();
    let start = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (store, listings, start) = (store.clone(), listings.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut took = Vec::new();
                for l in listings.iter().skip(t).step_by(threads) {
                    let begun = Instant::now();
                    store.put(l).expect("puts");
                    store.flush().expect("flushes");
                    took.push(begun.elapsed());
                }
                took
            })
        })
        .collect();
    start.wait();
    let begun = Instant::now();
    let mut took: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("a writer thread"))
        .collect();
    let elapsed = begun.elapsed();
    took.sort();
    let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
    println!(
        "  {threads:>2} writers, {:<36} p50 {:>9.3} ms  p99 {:>9.3} ms  {:>7.0} listings/s  {:.2} syncs a listing",
        if sync {
            "flush + fdatasync (now)"
        } else {
            "sled's flush alone (before)"
        },
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        took.len() as f64 / elapsed.as_secs_f64(),
        (store.log_syncs() - syncs_before) as f64 / took.len() as f64
    );
    store.close().expect("closes");
}

/// The file system type of the mount that holds `path` (from /proc/mounts).
fn file_system(path: &std::path::Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (_, at, fs) = (w.next()?, w.next()?, w.next()?);
            path.starts_with(at).then(|| (at.len(), fs.to_owned()))
        })
        .max()
        .map_or_else(|| "file system unknown".into(), |(_, fs)| fs)
}
