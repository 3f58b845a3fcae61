//! The ingest pipeline end to end in process: one listing at a time and in
//! pages, with the store and the search index it feeds.

use buurt_node::config::{Config, FileConfig, Overrides};
use buurt_node::ingest::{Outcome, Reason, Source};
use buurt_node::run::Parts;
use buurt_node::search::Query;
use buurt_protocol::sample::{self, Identity, NODE_SEED, T0};
use buurt_protocol::{keys, Rejection, SignedListing};

/// A pipeline in memory, with nobody publishing (the announce channel's
/// receiver is dropped).
fn ingest() -> Parts {
    let file = FileConfig {
        // Listings of other nodes' members: accepted whatever node admitted them.
        policy: buurt_node::config::Policy::Open,
        scope: "nl/amsterdam/oost".into(),
        // One test author posts more than an hour's default allowance.
        rate_limits: buurt_node::config::RateLimits {
            author_per_hour: 1_000,
            author_per_day: 1_000,
            ..Default::default()
        },
        ..FileConfig::default()
    };
    let config = Config::build(file, Overrides::default()).expect("valid config");
    let mut parts = Parts::in_memory(config, keys::from_seed(NODE_SEED)).expect("parts");
    parts.announcements.close();
    parts
}

fn signed(id: &Identity, key: u8, title: &str, revision: u64) -> SignedListing {
    let mut l = id.offer([key; 16], title, T0);
    l.revision = revision;
    l.sign(&id.member).expect("signs")
}

fn found(p: &Parts, text: &str) -> usize {
    p.ingest.commit_index().expect("commits");
    let q = Query {
        text: text.into(),
        ..Default::default()
    };
    p.index.search(&q, T0).expect("searches").len()
}

#[test]
fn a_page_gives_outcomes_in_order() {
    let ing = ingest();
    let id = Identity::fixed();
    let a1 = signed(&id, 1, "Ladder te leen", 10);
    let a2 = signed(&id, 1, "Ladder (gereserveerd)", 11);
    let b = signed(&id, 2, "Partytent", 10);
    let mut forged = signed(&id, 3, "Vervalst", 10).bytes().to_vec();
    let n = forged.len();
    forged[n - 1] ^= 1;
    let elsewhere = Identity::new([9; 32], [10; 32], "nl/rotterdam", T0 - 100);
    let far = elsewhere
        .offer([4; 16], "Elders", T0)
        .sign(&elsewhere.member)
        .expect("signs");
    // Enough items that the page is checked on worker threads.
    let mut page: Vec<Vec<u8>> = vec![
        a2.bytes().to_vec(),
        a1.bytes().to_vec(),
        b.bytes().to_vec(),
        b.bytes().to_vec(),
        forged,
        far.bytes().to_vec(),
        vec![1, 2, 3],
    ];
    let extra: Vec<SignedListing> = (0..40)
        .map(|i| signed(&id, 100 + i, &format!("Ding {i}"), 10))
        .collect();
    page.extend(extra.iter().map(|l| l.bytes().to_vec()));

    let out = ing
        .ingest
        .submit_batch(&page, Source::Sync, T0)
        .expect("no node failure");
    assert_eq!(out.len(), page.len());
    assert!(matches!(&out[0], Outcome::Stored(l) if l.content_id() == a2.content_id()));
    assert_eq!(
        out[1],
        Outcome::Superseded(a1.content_id()),
        "the older revision, later in the page, loses"
    );
    assert!(matches!(&out[2], Outcome::Stored(_)));
    assert_eq!(out[3], Outcome::Duplicate(b.content_id()));
    assert_eq!(
        out[4],
        Outcome::Rejected(Reason::Invalid(Rejection::BadSignature))
    );
    assert_eq!(
        out[5],
        Outcome::Rejected(Reason::NotFollowed("nl/rotterdam".into()))
    );
    assert!(matches!(
        out[6],
        Outcome::Rejected(Reason::Invalid(Rejection::Malformed(_)))
    ));
    assert!(out[7..].iter().all(|o| matches!(o, Outcome::Stored(_))));

    assert_eq!(ing.store.len().expect("len"), 42);
    assert_eq!(
        ing.store.get(&a1.listing_id()).expect("get"),
        Some(a2.clone())
    );
    assert_eq!(found(&ing, "gereserveerd"), 1);
    assert_eq!(found(&ing, "ding"), 20, "default limit");
    let stats = ing.ingest.stats();
    assert_eq!(
        (stats.stored, stats.duplicate, stats.superseded),
        (42, 1, 1)
    );
    assert_eq!(stats.rejected.get("bad_signature"), Some(&1));

    // The same page again: everything stored is a duplicate now.
    let again = ing
        .ingest
        .submit_batch(&page, Source::Sync, T0)
        .expect("no node failure");
    assert!(matches!(again[0], Outcome::Duplicate(_)));
    assert!(again[7..]
        .iter()
        .all(|o| matches!(o, Outcome::Duplicate(_))));
}

#[test]
fn a_withdrawal_leaves_the_index_and_an_old_revision_cannot_return() {
    let ing = ingest();
    let id = Identity::fixed();
    let first = id.offer([7; 16], "Naaimachine te leen", T0);
    let s1 = first.clone().sign(&id.member).expect("signs");
    assert!(matches!(
        ing.ingest
            .submit(s1.bytes(), Source::Local, T0)
            .expect("ok"),
        Outcome::Stored(_)
    ));
    assert_eq!(found(&ing, "naaimachine"), 1);
    let tomb = sample::tombstone(&first, first.revision + 1, T0);
    let t = tomb.sign(&id.member).expect("signs");
    assert!(matches!(
        ing.ingest
            .submit(t.bytes(), Source::Gossip, T0)
            .expect("ok"),
        Outcome::Stored(_)
    ));
    assert_eq!(found(&ing, "naaimachine"), 0);
    assert_eq!(
        ing.ingest.submit(s1.bytes(), Source::Sync, T0).expect("ok"),
        Outcome::Superseded(s1.content_id())
    );
    assert_eq!(found(&ing, "naaimachine"), 0);
    let stored = ing
        .store
        .get(&s1.listing_id())
        .expect("get")
        .expect("tombstone kept");
    assert!(stored.listing.body.is_empty() && stored.listing.title.is_empty());
}

#[test]
fn sweeping_forgets_expired_listings_everywhere() {
    let ing = ingest();
    let id = Identity::fixed();
    let l = id
        .offer([8; 16], "Grasmaaier", T0)
        .sign(&id.member)
        .expect("signs");
    ing.ingest.submit(l.bytes(), Source::Local, T0).expect("ok");
    assert_eq!(found(&ing, "grasmaaier"), 1);
    let later = l.listing.expires_at + 1;
    assert_eq!(ing.ingest.sweep(later).expect("sweeps"), 1);
    assert_eq!(ing.store.len().expect("len"), 0);
    ing.ingest.commit_index().expect("commits");
    let q = Query {
        text: "grasmaaier".into(),
        include_inactive: true,
        ..Default::default()
    };
    assert!(ing.index.search(&q, T0).expect("searches").is_empty());
    // Sent again after the sweep: refused as expired, not taken for a duplicate.
    assert_eq!(
        ing.ingest
            .submit(l.bytes(), Source::Gossip, later)
            .expect("ok"),
        Outcome::Rejected(Reason::Invalid(Rejection::Expired))
    );
}

/// Commits follow the readers: with a commit interval far longer than the
/// test, what arrived from a peer is not committed by itself, and the next
/// search (`searchable`, which every search calls first) commits it.
#[test]
fn a_search_commits_what_arrived_from_peers() {
    let file = FileConfig {
        policy: buurt_node::config::Policy::Open,
        scope: "nl/amsterdam/oost".into(),
        index_commit_ms: 600_000,
        ..FileConfig::default()
    };
    let config = Config::build(file, Overrides::default()).expect("valid config");
    let mut p = Parts::in_memory(config, keys::from_seed(NODE_SEED)).expect("parts");
    p.announcements.close();
    let id = Identity::fixed();
    let searched = |text: &str| {
        p.ingest.searchable().expect("commits");
        let q = Query {
            text: text.into(),
            ..Default::default()
        };
        p.index.search(&q, T0).expect("searches").len()
    };
    assert_eq!(searched("ladder"), 0);
    for (n, source) in [(1u8, Source::Gossip), (2, Source::Sync), (3, Source::Local)] {
        let l = signed(&id, n, &format!("Ladder {n}"), 10);
        let out = p.ingest.submit(l.bytes(), source, T0).expect("ingests");
        assert!(matches!(out, Outcome::Stored(_)), "{out:?}");
        // Not committed until a search asks: the index holds the earlier ones.
        assert_eq!(p.index.num_docs(), u64::from(n) - 1);
        assert_eq!(searched("ladder"), usize::from(n), "after {source:?}");
    }
}
