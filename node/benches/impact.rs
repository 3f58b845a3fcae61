//! `buurt impact`'s work at a city's scale: the report over 100,000
//! listings, 30,000 first reactions and 20,000 agreements, from a ledger on
//! disk. Prints figures, asserts nothing.
//!
//! `cargo bench -p buurt-node --bench impact`

use std::time::{Duration, Instant};

use buurt_node::impact::report::{report, By};
use buurt_node::impact::{Deal, Fact, Ledger, Reached, Rules};
use buurt_protocol::calendar;
use buurt_protocol::{Kind, ListingId};

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let ledger = Ledger::open(&dir.path().join("impact"), b"bench").expect("a ledger");
    let first = calendar::from_civil(2026, 1, 1).unwrap();
    let t = Instant::now();
    for i in 0..100_000u32 {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&i.to_be_bytes());
        let fact = Fact {
            author: [
                (i % 251) as u8,
                (i % 241) as u8,
                (i % 239) as u8,
                0,
                0,
                0,
                0,
                (i % 7) as u8,
            ],
            kind: if i % 2 == 0 {
                Kind::Offer
            } else {
                Kind::Request
            },
            group: (i % 6) as u8,
            exchange: (i % 7) as u8,
            day: first + i % 330,
            own: i % 3 != 0,
        };
        ledger.note(&ListingId(id), &fact).unwrap();
        if i % 10 < 3 {
            ledger
                .reaction(
                    &ListingId(id),
                    calendar::start_of(fact.day) + i64::from(i % 96) * 3_600,
                )
                .unwrap();
        }
    }
    for k in 0..20_000u32 {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&k.to_be_bytes());
        let deal = Deal {
            giver: [(k % 251) as u8, 1, 2, 3, 4, 5, 6, 7],
            receiver: [(k % 241) as u8, 9, 9, 9, 9, 9, 9, (k % 5) as u8],
            group: (k % 6) as u8,
            exchange: (k % 7) as u8,
            reached: if k % 4 == 0 {
                Reached::Accepted
            } else {
                Reached::Completed
            },
            accepted: first + k % 300,
            completed: first + k % 300 + 2,
            minutes: (k % 5) * 30,
            across_nodes: k % 9 == 0,
            listing: ListingId([(k % 256) as u8; 16]),
        };
        ledger.note_deal(&id, &deal).unwrap();
    }
    ledger.flush().unwrap();
    println!("buurt impact benchmark: 100,000 listings, 30,000 first reactions, 20,000 agreements");
    println!("  ledger written in {:.1} s", t.elapsed().as_secs_f64());
    let last = first + 364;
    let mut times: Vec<Duration> = Vec::new();
    for by in [By::Topic, By::Month, By::Quarter].iter().cycle().take(30) {
        let t = Instant::now();
        let facts = ledger.facts().unwrap();
        let deals = ledger.deals().unwrap();
        let r = report(
            &facts,
            &deals,
            &Default::default(),
            first,
            last,
            *by,
            &Rules::default(),
        );
        let json = serde_json::to_string(&r).unwrap();
        times.push(t.elapsed());
        assert!(!json.is_empty());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    println!(
        "  report (read the ledger, compute, JSON), n=30: p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        ms(times[times.len() / 2]),
        ms(times[((times.len() - 1) as f64 * 0.99).round() as usize]),
        ms(*times.last().unwrap())
    );
    println!(
        "  peak resident memory of the process: {} MB",
        rss_kb() / 1024
    );
    hot_path(&ledger);
}

/// What the ledger adds to ingest: `Ledger::listing` for each stored
/// listing (a pseudonym, a compare-and-swap, the scope), beside the cost of
/// one `verify_strict` of the same listings, measured in the same run.
fn hot_path(ledger: &Ledger) {
    use buurt_protocol::sample::{Identity, T0};
    let who = Identity::fixed();
    let signed: Vec<_> = (0..10_000u32)
        .map(|i| {
            let mut id = [0xB0u8; 16];
            id[..4].copy_from_slice(&i.to_be_bytes());
            who.offer(id, "Boormachine te leen", T0)
                .sign(&who.member)
                .unwrap()
        })
        .collect();
    let t = Instant::now();
    for l in &signed {
        ledger.listing(l, true).unwrap();
    }
    let noted = t.elapsed();
    let t = Instant::now();
    let key = who.member.verifying_key();
    for l in &signed {
        let sig = ed25519_dalek::Signature::from_bytes(&l.signature);
        assert!(key.verify_strict(&l.signing_input(), &sig).is_ok());
    }
    let verified = t.elapsed();
    let us = |d: Duration| d.as_secs_f64() * 1e6 / signed.len() as f64;
    println!(
        "  ledger note per stored listing, n=10,000: {:.1} µs; a signature check: {:.1} µs; ratio {:.2}",
        us(noted),
        us(verified),
        noted.as_secs_f64() / verified.as_secs_f64()
    );
}
