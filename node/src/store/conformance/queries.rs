//! The suite's checks of queries, sweeps, removals, counts and history.

use std::collections::BTreeSet;

use buurt_protocol::sample::{self, Identity, NODE_SEED, SCOPE, T0};
use buurt_protocol::{Listing, ListingId, SignedListing};

use super::*;
use crate::store::{History, PutOutcome, Store};

pub(super) fn by_author(store: &dyn Store) {
    let a1 = plain(1, 10);
    let a2 = plain(2, 10);
    let b1 = listing(&bob(), 1, 10, |_| {});
    for l in [&a1, &a2, &b1] {
        stored(store, l);
    }
    let a2v2 = plain(2, 11);
    stored(store, &a2v2);
    assert_eq!(
        contents(store.by_author(&a1.listing.author).expect("by_author")),
        contents(vec![a1.clone(), a2v2])
    );
    assert_eq!(
        contents(store.by_author(&b1.listing.author).expect("by_author")),
        contents(vec![b1])
    );
    let nobody = Identity::new(NODE_SEED, [0x09; 32], SCOPE, T0);
    let nobody = buurt_protocol::keys::member_id(&nobody.member);
    assert!(store.by_author(&nobody).expect("by_author").is_empty());
}

pub(super) fn by_scope_is_segment_wise(store: &dyn Store) {
    let place = |key: u8, s: &str| listing(&alice(), key, 10, |l| l.scope = scope(s));
    let city = place(1, "nl/amsterdam");
    let oost = place(2, "nl/amsterdam/oost");
    let dapper = place(3, "nl/amsterdam/oost/dapperbuurt");
    let bos = place(4, "nl/amsterdamse-bos");
    let rdam = place(5, "nl/rotterdam");
    let be = place(6, "be/antwerpen");
    let all = [&city, &oost, &dapper, &bos, &rdam, &be];
    for l in all {
        stored(store, l);
    }
    let query = |s: &str| ids(&store.by_scope(&scope(s)).expect("by_scope"));
    let expect = |ls: &[&SignedListing]| ls.iter().map(|l| l.listing_id()).collect();
    assert_eq!(query("nl/amsterdam"), expect(&[&city, &oost, &dapper]));
    assert_eq!(query("nl/amsterdam/oost"), expect(&[&oost, &dapper]));
    assert_eq!(query("nl/amsterdam/oost/dapperbuurt"), expect(&[&dapper]));
    assert_eq!(query("nl/amsterdamse-bos"), expect(&[&bos]));
    assert_eq!(query("nl"), expect(&[&city, &oost, &dapper, &bos, &rdam]));
    assert_eq!(query("nl/amsterdam/west"), expect(&[]));
    assert_eq!(query("n"), expect(&[]));
    assert_eq!(query("be"), expect(&[&be]));
}

pub(super) fn new_revision_moves_scope(store: &dyn Store) {
    let before = listing(&alice(), 1, 10, |l| l.scope = scope("nl/amsterdam/oost"));
    let after = listing(&alice(), 1, 11, |l| l.scope = scope("nl/amsterdam/west"));
    stored(store, &before);
    stored(store, &after);
    assert!(store
        .by_scope(&scope("nl/amsterdam/oost"))
        .expect("by_scope")
        .is_empty());
    assert_eq!(
        store.by_scope(&scope("nl/amsterdam")).expect("by_scope"),
        std::slice::from_ref(&after)
    );
    assert_eq!(
        store
            .by_scope(&scope("nl/amsterdam/west"))
            .expect("by_scope"),
        [after]
    );
}

pub(super) fn ids_with_prefix(store: &dyn Store) {
    let ls: Vec<SignedListing> = (1..=40).map(|k| plain(k, 10)).collect();
    for l in &ls {
        stored(store, l);
    }
    let hexes: Vec<String> = ls.iter().map(|l| l.listing_id().to_hex()).collect();
    let matching = |p: &str| -> BTreeSet<ListingId> {
        ls.iter()
            .filter(|l| l.listing_id().to_hex().starts_with(p))
            .map(|l| l.listing_id())
            .collect()
    };
    let got = |p: &str, limit: usize| -> BTreeSet<ListingId> {
        let v = store.ids_with_prefix(p, limit).expect("ids_with_prefix");
        assert!(v.len() <= limit, "{p}: {} > {limit}", v.len());
        v.into_iter().collect()
    };
    let full = &hexes[0];
    assert_eq!(got(full, 5), matching(full));
    assert_eq!(got(full, 5).len(), 1);
    for n in [1, 2, 3, 7, 31] {
        let p = &full[..n];
        assert_eq!(got(p, 100), matching(p), "prefix {p}");
    }
    for digit in "0123456789abcdef".chars() {
        let p = digit.to_string();
        assert_eq!(got(&p, 100), matching(&p), "prefix {p}");
    }
    assert_eq!(got("", 100).len(), 40);
    assert_eq!(got("", 3).len(), 3);
    assert_eq!(got(&full[..1], 0).len(), 0);
    let limited = got(&full[..1], 1);
    assert_eq!(limited.len(), 1);
    assert!(limited.is_subset(&matching(&full[..1])));
    // Not an id: too long, or not lowercase hexadecimal.
    assert!(got(&format!("{full}0"), 10).is_empty());
    assert!(got("xyz", 10).is_empty());
    assert!(got("A", 10).is_empty());
}

pub(super) fn sweep_expired(store: &dyn Store) {
    let expiring = |key: u8, at: i64, s: &str| {
        listing(&alice(), key, 10, |l| {
            l.expires_at = at;
            l.scope = scope(s);
        })
    };
    let early = expiring(1, T0 + 100, "nl/amsterdam/oost");
    let exact = expiring(2, T0 + 200, "nl/amsterdam/oost");
    let late = expiring(3, T0 + 201, "nl/amsterdam/oost");
    let negative = expiring(4, -50, "nl/utrecht");
    let who = alice();
    let gone_offer = who.offer([5; 16], "Fiets", T0);
    let gone = sample::tombstone(&gone_offer, gone_offer.revision + 1, T0 + 1);
    let gone = Listing {
        expires_at: T0 + 150,
        ..gone
    }
    .sign(&who.member)
    .expect("signs");
    for l in [&early, &exact, &late, &negative, &gone] {
        stored(store, l);
    }
    assert!(store.sweep_expired(-51).expect("sweep").is_empty());
    assert_eq!(
        store.sweep_expired(0).expect("sweep"),
        [negative.listing_id()]
    );
    let swept: BTreeSet<ListingId> = store
        .sweep_expired(T0 + 200)
        .expect("sweep")
        .into_iter()
        .collect();
    assert_eq!(swept, ids(&[early.clone(), exact.clone(), gone.clone()]));
    assert_eq!(store.len().expect("len"), 1);
    for l in [&early, &exact, &negative, &gone] {
        assert_eq!(store.get(&l.listing_id()).expect("get"), None);
        assert!(!store
            .contains_content(&l.listing_id(), &l.content_id())
            .expect("contains"));
    }
    assert_eq!(
        store.by_scope(&scope("nl")).expect("by_scope"),
        std::slice::from_ref(&late)
    );
    assert_eq!(
        store.by_author(&late.listing.author).expect("by_author"),
        std::slice::from_ref(&late)
    );
    assert_eq!(store.all().expect("all"), std::slice::from_ref(&late));
    assert!(store.sweep_expired(T0 + 200).expect("sweep").is_empty());
    // A swept tombstone no longer blocks the revision it withdrew.
    let revived = gone_offer.sign(&who.member).expect("signs");
    assert_eq!(stored(store, &revived), None);
    assert_eq!(
        store.sweep_expired(i64::MAX).expect("sweep").len(),
        2,
        "everything expires at the end of time"
    );
    assert_eq!(store.len().expect("len"), 0);
}

pub(super) fn remove(store: &dyn Store) {
    let l = listing(&alice(), 1, 10, |l| l.scope = scope("nl/amsterdam"));
    let other = plain(2, 10);
    stored(store, &l);
    stored(store, &other);
    assert_eq!(
        store.remove(&l.listing_id()).expect("remove"),
        Some(l.clone())
    );
    assert_eq!(store.remove(&l.listing_id()).expect("remove"), None);
    assert_eq!(store.get(&l.listing_id()).expect("get"), None);
    assert!(!store
        .contains_content(&l.listing_id(), &l.content_id())
        .expect("contains"));
    assert_eq!(store.len().expect("len"), 1);
    assert_eq!(
        store.by_author(&l.listing.author).expect("by_author"),
        std::slice::from_ref(&other)
    );
    assert!(store
        .by_scope(&scope("nl/amsterdam"))
        .expect("by_scope")
        .iter()
        .all(|x| x.listing_id() != l.listing_id()));
    assert!(store
        .ids_with_prefix(&l.listing_id().to_hex(), 5)
        .expect("ids")
        .is_empty());
    assert!(!store
        .sweep_expired(i64::MAX)
        .expect("sweep")
        .contains(&l.listing_id()));
    // Removal forgets the address: even an older revision may come back.
    assert_eq!(stored(store, &plain(1, 5)), None);
}

pub(super) fn len_and_all(store: &dyn Store) {
    assert_eq!(store.len().expect("len"), 0);
    assert!(store.is_empty().expect("is_empty"));
    assert!(store.all().expect("all").is_empty());
    let ls: Vec<SignedListing> = (1..=5).map(|k| plain(k, 10)).collect();
    for (n, l) in ls.iter().enumerate() {
        stored(store, l);
        assert_eq!(store.len().expect("len"), n + 1);
    }
    stored(store, &plain(3, 11));
    assert_eq!(
        store.put(&plain(4, 9)).expect("put"),
        PutOutcome::Superseded
    );
    assert_eq!(store.len().expect("len"), 5);
    let mut expect = ls.clone();
    expect[2] = plain(3, 11);
    assert_eq!(contents(store.all().expect("all")), contents(expect));
    store.flush().expect("flush");
}

pub(super) fn scope_counts(store: &dyn Store) {
    assert!(store.scope_counts().expect("counts").is_empty());
    let place =
        |key: u8, revision: u64, s: &str| listing(&alice(), key, revision, |l| l.scope = scope(s));
    stored(store, &place(1, 10, "nl/amsterdam/oost"));
    stored(store, &place(2, 10, "nl/amsterdam/oost"));
    stored(store, &place(3, 10, "nl/amsterdam"));
    stored(store, &place(4, 10, "nl/amsterdam/oost/dapperbuurt"));
    // A new revision that moves to another scope moves its count; a removed
    // address no longer counts.
    stored(store, &place(2, 11, "nl/amsterdam"));
    store
        .remove(&place(4, 10, "nl").listing_id())
        .expect("remove");
    let counts = store.scope_counts().expect("counts");
    let expect: Vec<(String, usize)> =
        vec![("nl/amsterdam".into(), 2), ("nl/amsterdam/oost".into(), 1)];
    assert_eq!(counts.into_iter().collect::<Vec<_>>(), expect);
    assert_eq!(store.len().expect("len"), 3);
}

pub(super) fn sync_items(store: &dyn Store) {
    let who = alice();
    let at = |key: u8, s: &str, expires: i64| {
        listing(&who, key, 10, |l| {
            l.scope = scope(s);
            l.expires_at = expires;
        })
    };
    let here = at(1, "nl/amsterdam/oost", T0 + 100);
    let below = at(2, "nl/amsterdam/oost/dapperbuurt", T0 + 100);
    let lapsed = at(3, "nl/amsterdam/oost", T0 + 10);
    let offer = who.offer([4; 16], "Weg", T0);
    let mut dead = sample::tombstone(&offer, offer.revision + 1, T0 + 1);
    dead.scope = scope("nl/amsterdam/oost");
    dead.expires_at = T0 + 100;
    let dead = dead.sign(&who.member).expect("signs");
    for l in [&here, &below, &lapsed, &dead] {
        stored(store, l);
    }
    let mut got = store
        .sync_items(&scope("nl/amsterdam/oost"), T0 + 50)
        .expect("items");
    got.sort();
    let mut want: Vec<_> = [&here, &dead]
        .iter()
        .map(|l| (l.listing.created_at, l.listing_id(), l.content_id()))
        .collect();
    want.sort();
    assert_eq!(got, want, "exact scope, unexpired, tombstones included");
}

pub(super) fn contains_content_is_latest_only(store: &dyn Store) {
    let old = plain(1, 10);
    let new = plain(1, 11);
    assert!(!store
        .contains_content(&old.listing_id(), &old.content_id())
        .expect("contains"));
    stored(store, &old);
    assert!(store
        .contains_content(&old.listing_id(), &old.content_id())
        .expect("contains"));
    stored(store, &new);
    assert!(!store
        .contains_content(&old.listing_id(), &old.content_id())
        .expect("contains"));
    assert!(store
        .contains_content(&new.listing_id(), &new.content_id())
        .expect("contains"));
}

pub(super) fn history_counts_revisions(store: &dyn Store) {
    let who = alice();
    let at = |created: i64| {
        move |l: &mut Listing| {
            l.created_at = created;
        }
    };
    let first = listing(&who, 1, 10, at(T0 - 300));
    let id = first.listing_id();
    assert_eq!(store.history(&id).expect("history"), None);
    stored(store, &first);
    let h = |first_created_at, revisions| {
        Some(History {
            first_created_at,
            revisions,
        })
    };
    assert_eq!(store.history(&id).expect("history"), h(T0 - 300, 1));
    stored(store, &listing(&who, 1, 11, at(T0 - 200)));
    stored(store, &listing(&who, 1, 12, at(T0 - 100)));
    assert_eq!(store.history(&id).expect("history"), h(T0 - 300, 3));
    // A duplicate or an older revision changes nothing.
    assert_eq!(store.put(&first).expect("put"), PutOutcome::Superseded);
    assert_eq!(store.history(&id).expect("history"), h(T0 - 300, 3));
    // Removed, the address starts afresh.
    store.remove(&id).expect("remove");
    assert_eq!(store.history(&id).expect("history"), None);
    let again = listing(&who, 1, 20, at(T0));
    stored(store, &again);
    assert_eq!(store.history(&id).expect("history"), h(T0, 1));
}

pub(super) fn newest_first(store: &dyn Store) {
    let who = alice();
    let at = |key: u8, revision: u64, created: i64| {
        listing(&who, key, revision, |l| l.created_at = created)
    };
    // Put out of time order, two at the same second.
    let made = [
        at(1, 10, T0 - 500),
        at(2, 10, T0 - 100),
        at(3, 10, T0 - 300),
        at(4, 10, T0 - 300),
        at(5, 10, T0 - 400),
    ];
    for l in &made {
        stored(store, l);
    }
    let newest = |limit, reads, keep: &dyn Fn(&SignedListing) -> bool| {
        store
            .newest(limit, reads, keep)
            .expect("newest")
            .map(|ls| ls.iter().map(|l| l.listing_id()).collect::<Vec<_>>())
    };
    let id = |key: u8| made[usize::from(key) - 1].listing_id();
    let (three, four) = if id(3) < id(4) { (3, 4) } else { (4, 3) };
    let all = |_: &SignedListing| true;
    assert_eq!(
        newest(10, 100, &all),
        Some(vec![id(2), id(three), id(four), id(5), id(1)])
    );
    assert_eq!(newest(2, 100, &all), Some(vec![id(2), id(three)]));
    // A new revision moves its address to its own time, once.
    stored(store, &at(1, 11, T0 - 50));
    assert_eq!(
        newest(10, 100, &all),
        Some(vec![id(1), id(2), id(three), id(four), id(5)])
    );
    // Gone when removed.
    store.remove(&id(2)).expect("remove");
    assert_eq!(
        newest(10, 100, &all),
        Some(vec![id(1), id(three), id(four), id(5)])
    );
    // `keep` chooses; the read budget is counted in records read.
    let only_five = |l: &SignedListing| l.listing_id() == id(5);
    assert_eq!(newest(10, 100, &only_five), Some(vec![id(5)]));
    assert_eq!(newest(1, 3, &only_five), None);
    assert_eq!(newest(1, 4, &only_five), Some(vec![id(5)]));
    // The revisions created since a time, and only those.
    let mut since: Vec<i64> = store
        .created_since(T0 - 300)
        .expect("created_since")
        .iter()
        .map(|h| h.created_at)
        .collect();
    since.sort_unstable();
    assert_eq!(since, vec![T0 - 300, T0 - 300, T0 - 50]);
}
