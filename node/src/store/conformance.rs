//! The conformance suite every [`Store`] must pass.
//!
//! The rules a store applies (which revision wins, what a tombstone blocks,
//! what a scope query returns) are protocol behaviour: every node must reach
//! the same state from the same listings. Running one suite against each
//! implementation keeps the sled store and the in-memory store in step.

use std::collections::BTreeSet;

use buurt_protocol::limits::DAY;
use buurt_protocol::sample::{self, Identity, NODE_SEED, SCOPE, T0};
use buurt_protocol::{Listing, ListingId, Scope, SignedListing, Status};

mod queries;

use super::{PutOutcome, Store};

/// One named check of the suite.
type Check = (&'static str, fn(&dyn Store));

/// Runs every check, each on a fresh store from `make`.
pub fn run_all(make: &dyn Fn() -> Box<dyn Store>) {
    let checks: &[Check] = &[
        ("put_then_get", put_then_get),
        (
            "same_revision_twice_is_duplicate",
            same_revision_twice_is_duplicate,
        ),
        ("higher_revision_replaces", higher_revision_replaces),
        ("lower_revision_is_superseded", lower_revision_is_superseded),
        ("tie_goes_to_lower_content_id", tie_goes_to_lower_content_id),
        (
            "tombstone_replaces_and_blocks_older",
            tombstone_replaces_and_blocks_older,
        ),
        ("by_author", queries::by_author),
        (
            "by_scope_is_segment_wise",
            queries::by_scope_is_segment_wise,
        ),
        (
            "new_revision_moves_scope",
            queries::new_revision_moves_scope,
        ),
        ("ids_with_prefix", queries::ids_with_prefix),
        ("sweep_expired", queries::sweep_expired),
        ("remove", queries::remove),
        ("len_and_all", queries::len_and_all),
        ("scope_counts", queries::scope_counts),
        (
            "sync_items_are_exact_scope_and_unexpired",
            queries::sync_items,
        ),
        (
            "contains_content_is_latest_only",
            queries::contains_content_is_latest_only,
        ),
        (
            "history_counts_revisions_since_the_first",
            queries::history_counts_revisions,
        ),
        ("newest_first", queries::newest_first),
    ];
    for (name, check) in checks {
        eprintln!("store conformance: {name}");
        let store = make();
        check(&*store);
    }
}

pub(super) fn alice() -> Identity {
    Identity::fixed()
}

pub(super) fn bob() -> Identity {
    Identity::new(NODE_SEED, [0x03; 32], SCOPE, T0 - DAY)
}

pub(super) fn scope(text: &str) -> Scope {
    Scope::parse(text, 16).expect("test scope is valid")
}

/// Revision `revision` of the listing at (`who`, `key`), changed by `edit`.
pub(super) fn listing(
    who: &Identity,
    key: u8,
    revision: u64,
    edit: impl FnOnce(&mut Listing),
) -> SignedListing {
    let mut l = who.offer([key; 16], &format!("Ding {key} r{revision}"), T0);
    l.revision = revision;
    edit(&mut l);
    l.sign(&who.member).expect("test listing encodes")
}

pub(super) fn plain(key: u8, revision: u64) -> SignedListing {
    listing(&alice(), key, revision, |_| {})
}

pub(super) fn stored(store: &dyn Store, l: &SignedListing) -> Option<SignedListing> {
    match store.put(l).expect("put") {
        PutOutcome::Stored { replaced } => replaced,
        other => panic!("expected Stored, got {other:?}"),
    }
}

pub(super) fn ids(ls: &[SignedListing]) -> BTreeSet<ListingId> {
    ls.iter().map(|l| l.listing_id()).collect()
}

pub(super) fn contents(ls: Vec<SignedListing>) -> BTreeSet<Vec<u8>> {
    ls.iter().map(|l| l.bytes().to_vec()).collect()
}

fn put_then_get(store: &dyn Store) {
    let l = plain(1, 10);
    assert_eq!(store.get(&l.listing_id()).expect("get"), None);
    assert_eq!(stored(store, &l), None);
    assert_eq!(store.get(&l.listing_id()).expect("get"), Some(l.clone()));
    assert_eq!(store.get(&plain(2, 10).listing_id()).expect("get"), None);
}

fn same_revision_twice_is_duplicate(store: &dyn Store) {
    let l = plain(1, 10);
    stored(store, &l);
    assert_eq!(store.put(&l).expect("put"), PutOutcome::Duplicate);
    assert_eq!(store.len().expect("len"), 1);
}

fn higher_revision_replaces(store: &dyn Store) {
    let old = plain(1, 10);
    let new = plain(1, 11);
    stored(store, &old);
    assert_eq!(stored(store, &new), Some(old));
    assert_eq!(store.get(&new.listing_id()).expect("get"), Some(new));
    assert_eq!(store.len().expect("len"), 1);
}

fn lower_revision_is_superseded(store: &dyn Store) {
    let old = plain(1, 10);
    let new = plain(1, 11);
    stored(store, &new);
    assert_eq!(store.put(&old).expect("put"), PutOutcome::Superseded);
    assert_eq!(store.get(&new.listing_id()).expect("get"), Some(new));
    assert!(!store
        .contains_content(&old.listing_id(), &old.content_id())
        .expect("contains"));
}

fn tie_goes_to_lower_content_id(store: &dyn Store) {
    let a = listing(&alice(), 1, 10, |l| l.title = "Eerste".into());
    let b = listing(&alice(), 1, 10, |l| l.title = "Tweede".into());
    let (low, high) = if a.content_id() < b.content_id() {
        (a, b)
    } else {
        (b, a)
    };
    // High first: the low one replaces it.
    stored(store, &high);
    assert_eq!(stored(store, &low), Some(high.clone()));
    assert_eq!(
        store.get(&low.listing_id()).expect("get"),
        Some(low.clone())
    );
    // Low first (after clearing): the high one loses.
    store.remove(&low.listing_id()).expect("remove");
    stored(store, &low);
    assert_eq!(store.put(&high).expect("put"), PutOutcome::Superseded);
    assert_eq!(store.get(&low.listing_id()).expect("get"), Some(low));
}

fn tombstone_replaces_and_blocks_older(store: &dyn Store) {
    let who = alice();
    let offer = who.offer([1; 16], "Boormachine", T0);
    let open = offer.clone().sign(&who.member).expect("signs");
    let dead = sample::tombstone(&offer, offer.revision + 100, T0 + 100)
        .sign(&who.member)
        .expect("signs");
    stored(store, &open);
    assert_eq!(stored(store, &dead), Some(open.clone()));
    let got = store
        .get(&open.listing_id())
        .expect("get")
        .expect("present");
    assert_eq!(got.listing.status, Status::Withdrawn);
    assert!(got.listing.title.is_empty());
    assert_eq!(store.put(&open).expect("put"), PutOutcome::Superseded);
    let between = listing(&who, 1, offer.revision + 50, |_| {});
    assert_eq!(store.put(&between).expect("put"), PutOutcome::Superseded);
    assert_eq!(store.len().expect("len"), 1);
    assert!(store
        .contains_content(&dead.listing_id(), &dead.content_id())
        .expect("contains"));
    assert_eq!(
        store.by_author(&open.listing.author).expect("by_author"),
        [dead]
    );
}
