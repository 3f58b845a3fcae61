//! Model-based test of the sled store, with restarts.
//!
//! Random sequences of puts (revisions of a few addresses, with tied revision
//! numbers and tombstones), removals, sweeps and close-and-reopen cycles are
//! applied both to a [`SledStore`] and to a `BTreeMap` that implements the
//! revision rules in the plainest way. After every step the two must agree:
//! on each operation's outcome, on every address, on the count, and on the
//! author and scope queries. Restarts check that what sled recovers is what
//! was written, index entries and count included.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use buurt_node::store::{PutOutcome, SledStore, Store};
use buurt_protocol::keys::member_id;
use buurt_protocol::limits::DAY;
use buurt_protocol::revision::supersedes;
use buurt_protocol::sample::{tombstone, Identity, NODE_SEED, SCOPE, T0};
use buurt_protocol::{ListingId, MemberId, Scope, SignedListing};
use proptest::prelude::*;

const AUTHORS: usize = 2;
const KEYS_PER_AUTHOR: u8 = 3;
const ADDRESSES: usize = AUTHORS * KEYS_PER_AUTHOR as usize;
const REVISIONS: u64 = 4;
/// Per revision: two open variants (same number, different content id, so
/// ties occur) and a tombstone.
const VARIANTS: usize = 3;
/// Sweeps run at `T0 + STEP * k`; listings expire at `T0 + STEP * (1..=6)`.
const STEP: i64 = 10;

/// Every listing a test case may put, signed once for all cases.
struct Pool {
    listings: Vec<SignedListing>,
    authors: Vec<MemberId>,
    addresses: Vec<ListingId>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let people: Vec<Identity> = (0..AUTHORS)
            .map(|n| Identity::new(NODE_SEED, [0x10 + n as u8; 32], SCOPE, T0 - DAY))
            .collect();
        let scopes = ["nl/amsterdam/oost", "nl/amsterdamse-bos", "nl/amsterdam"];
        let mut listings = Vec::new();
        let mut addresses = Vec::new();
        for (a, who) in people.iter().enumerate() {
            for k in 0..KEYS_PER_AUTHOR {
                let base = who.offer([k; 16], "Ding", T0);
                addresses.push(base.listing_id());
                for r in 1..=REVISIONS {
                    for v in 0..VARIANTS {
                        let mut l = if v == 2 {
                            tombstone(&base, r, T0)
                        } else {
                            let mut l = base.clone();
                            l.revision = r;
                            l.title = format!("Ding {a}/{k} r{r} v{v}");
                            l
                        };
                        l.scope =
                            Scope::parse(scopes[(a + k as usize + v) % 3], 6).expect("valid scope");
                        let slot = (a * 7 + k as usize * 5 + r as usize * 3 + v) % 6;
                        l.expires_at = T0 + STEP * (slot as i64 + 1);
                        listings.push(l.sign(&who.member).expect("signs"));
                    }
                }
            }
        }
        Pool {
            listings,
            authors: people.iter().map(|p| member_id(&p.member)).collect(),
            addresses,
        }
    })
}

#[derive(Debug, Clone)]
enum Op {
    /// Put this listing of the pool.
    Put(usize),
    /// Remove this address.
    Remove(usize),
    /// Sweep at `T0 + STEP * k`.
    Sweep(i64),
    /// Drop the store and open the directory again, flushing first or not.
    Reopen { flush: bool },
}

fn op() -> impl Strategy<Value = Op> {
    let pool_len = ADDRESSES * REVISIONS as usize * VARIANTS;
    prop_oneof![
        8 => (0..pool_len).prop_map(Op::Put),
        1 => (0..ADDRESSES).prop_map(Op::Remove),
        1 => (0i64..=7).prop_map(Op::Sweep),
        1 => any::<bool>().prop_map(|flush| Op::Reopen { flush }),
    ]
}

/// The revision rules in their plainest form.
#[derive(Default)]
struct Model(BTreeMap<ListingId, SignedListing>);

impl Model {
    fn put(&mut self, l: &SignedListing) -> PutOutcome {
        let id = l.listing_id();
        match self.0.get(&id) {
            Some(old) if old.content_id() == l.content_id() => PutOutcome::Duplicate,
            Some(old) if !supersedes(l, old) => PutOutcome::Superseded,
            _ => PutOutcome::Stored {
                replaced: self.0.insert(id, l.clone()),
            },
        }
    }

    fn sweep(&mut self, now: i64) -> BTreeSet<ListingId> {
        let gone: BTreeSet<ListingId> = self
            .0
            .values()
            .filter(|l| l.listing.expires_at <= now)
            .map(|l| l.listing_id())
            .collect();
        self.0.retain(|id, _| !gone.contains(id));
        gone
    }
}

fn bytes_of(ls: impl IntoIterator<Item = SignedListing>) -> BTreeSet<Vec<u8>> {
    ls.into_iter().map(|l| l.bytes().to_vec()).collect()
}

fn agree(store: &SledStore, model: &Model) -> Result<(), TestCaseError> {
    let p = pool();
    for id in &p.addresses {
        prop_assert_eq!(store.get(id).expect("get"), model.0.get(id).cloned());
    }
    prop_assert_eq!(store.len().expect("len"), model.0.len());
    for l in model.0.values() {
        prop_assert!(store
            .contains_content(&l.listing_id(), &l.content_id())
            .expect("contains"));
    }
    for author in &p.authors {
        let want = model
            .0
            .values()
            .filter(|l| l.listing.author == *author)
            .cloned();
        prop_assert_eq!(
            bytes_of(store.by_author(author).expect("by_author")),
            bytes_of(want)
        );
    }
    let city = Scope::parse("nl/amsterdam", 6).expect("valid scope");
    let want = model
        .0
        .values()
        .filter(|l| city.contains(&l.listing.scope))
        .cloned();
    prop_assert_eq!(
        bytes_of(store.by_scope(&city).expect("by_scope")),
        bytes_of(want)
    );
    prop_assert_eq!(
        bytes_of(store.all().expect("all")),
        bytes_of(model.0.values().cloned())
    );
    // Kept in memory and counted at open: equal to a count of the model.
    let mut counts = BTreeMap::new();
    for l in model.0.values() {
        *counts.entry(l.listing.scope.to_string()).or_insert(0usize) += 1;
    }
    prop_assert_eq!(store.scope_counts().expect("scope counts"), counts);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn sled_store_agrees_with_model_across_restarts(ops in prop::collection::vec(op(), 1..40)) {
        let p = pool();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let mut store = Some(SledStore::open(&path).expect("opens"));
        let mut model = Model::default();
        for op in ops {
            let s = store.as_ref().expect("store is open");
            match op {
                Op::Put(i) => {
                    let l = &p.listings[i];
                    prop_assert_eq!(s.put(l).expect("put"), model.put(l));
                }
                Op::Remove(a) => {
                    let id = &p.addresses[a];
                    prop_assert_eq!(s.remove(id).expect("remove"), model.0.remove(id));
                }
                Op::Sweep(k) => {
                    let now = T0 + STEP * k;
                    let swept: BTreeSet<ListingId> =
                        s.sweep_expired(now).expect("sweep").into_iter().collect();
                    prop_assert_eq!(swept, model.sweep(now));
                }
                Op::Reopen { flush } => {
                    if flush {
                        s.flush().expect("flush");
                    }
                    drop(store.take());
                    store = Some(SledStore::open(&path).expect("reopens"));
                }
            }
            agree(store.as_ref().expect("store is open"), &model)?;
        }
    }
}
