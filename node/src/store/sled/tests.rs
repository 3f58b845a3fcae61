//! The sled store's own tests: the shared conformance suite, key encoding,
//! and what happens to damaged or foreign databases.

use super::*;
use crate::store::FORMAT_VERSION;
use std::fs;

fn open(dir: &tempfile::TempDir) -> SledStore {
    SledStore::open(&dir.path().join("db")).expect("opens")
}

#[test]
fn conformance() {
    // The temporary directories must outlive the stores made in them.
    let dirs = Mutex::new(Vec::new());
    crate::store::conformance::run_all(&|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(&dir);
        dirs.lock().expect("not poisoned").push(dir);
        Box::new(store)
    });
}

#[test]
fn time_keys_sort_like_numbers() {
    let times = [i64::MIN, -5, -1, 0, 1, 1_767_225_600, i64::MAX];
    for w in times.windows(2) {
        assert!(encode_time(w[0]) < encode_time(w[1]));
    }
    for t in times {
        assert_eq!(decode_time(encode_time(t)), t);
    }
}

#[test]
fn hex_prefix_ranges() {
    assert_eq!(hex_prefix_range(""), Some((vec![b'L'], vec![b'L' + 1])));
    assert_eq!(
        hex_prefix_range("a"),
        Some((vec![b'L', 0xa0], vec![b'L', 0xb0]))
    );
    assert_eq!(
        hex_prefix_range("f"),
        Some((vec![b'L', 0xf0], vec![b'L' + 1]))
    );
    assert_eq!(
        hex_prefix_range("0f1"),
        Some((vec![b'L', 0x0f, 0x10], vec![b'L', 0x0f, 0x20]))
    );
    assert_eq!(hex_prefix_range("A"), None);
    assert_eq!(hex_prefix_range("g"), None);
    assert_eq!(hex_prefix_range(&"0".repeat(33)), None);
}

/// The states an interrupted write can leave (see the module docs):
/// index entries of a revision whose record never landed, and entries of
/// a replaced revision that were not yet removed. Readers must ignore
/// them and the sweep must clear them.
#[test]
fn interrupted_writes_leave_only_harmless_entries() {
    use buurt_protocol::sample::{Identity, T0};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let ident = Identity::fixed();
    let sign = |l: buurt_protocol::Listing| l.sign(&ident.member).expect("signs");
    let first = sign(ident.offer([1; 16], "Ladder", T0));
    let mut moved = ident.offer([1; 16], "Ladder", T0 + 10);
    moved.revision = first.listing.revision + 1;
    moved.scope = Scope::parse("nl/amsterdam", 6).expect("scope");
    moved.expires_at = T0 + 5;
    let second = sign(moved);
    let never = sign(ident.offer([2; 16], "Nooit opgeslagen", T0));

    store.put(&first).expect("puts");
    // A put of `second` that stopped after its index entries: the
    // record is still `first`.
    for key in index_keys(&second) {
        store.insert(&key, &[]).expect("inserts");
    }
    // A put of `never` that stopped before its record.
    for key in index_keys(&never) {
        store.insert(&key, &[]).expect("inserts");
    }
    drop(store);
    let store = open(&dir);

    assert_eq!(store.len().expect("len"), 1);
    assert!(store
        .contains_content(&first.listing_id(), &first.content_id())
        .expect("reads"));
    assert!(!store
        .contains_content(&second.listing_id(), &second.content_id())
        .expect("reads"));
    assert!(!store
        .contains_content(&never.listing_id(), &never.content_id())
        .expect("reads"));
    let author = store.by_author(&first.listing.author).expect("reads");
    assert_eq!(author, vec![first.clone()]);
    // The time keys of `second` and `never` name no record of that time.
    let newest = store.newest(10, 10, &|_| true).expect("reads");
    assert_eq!(newest, Some(vec![first.clone()]));
    let wide = store
        .by_scope(&Scope::parse("nl/amsterdam", 6).expect("scope"))
        .expect("reads");
    assert_eq!(
        wide,
        vec![first.clone()],
        "only the record's own scope counts"
    );
    // The stale expiry entry of `second` (T0 + 5) is dropped without
    // touching `first`, which expires later.
    assert!(store.sweep_expired(T0 + 6).expect("sweeps").is_empty());
    assert_eq!(
        store.get(&first.listing_id()).expect("reads"),
        Some(first.clone())
    );
    // Both revisions can still be stored properly afterwards.
    assert!(matches!(
        store.put(&second).expect("puts"),
        PutOutcome::Stored { .. }
    ));
    assert!(store
        .contains_content(&second.listing_id(), &second.content_id())
        .expect("reads"));
    assert!(!store
        .contains_content(&first.listing_id(), &first.content_id())
        .expect("reads"));
    assert!(matches!(
        store.put(&never).expect("puts"),
        PutOutcome::Stored { .. }
    ));
    assert_eq!(store.len().expect("len"), 2);
}

/// A database of format `version` (1 or 2) holding `l`: the record, no
/// time key, and in format 1 a content-id key.
fn old_format(dir: &tempfile::TempDir, l: &SignedListing, version: u32) {
    let store = open(dir);
    store.put(l).expect("puts");
    store
        .delete(&time_key(l.listing.created_at, &l.listing_id()))
        .expect("deletes");
    if version == 1 {
        let mut old_key = vec![FORMAT_1_CONTENT];
        old_key.extend_from_slice(&l.content_id().0);
        store.insert(&old_key, &l.listing_id().0).expect("inserts");
    }
    store
        .insert(FORMAT_KEY, &version.to_be_bytes())
        .expect("inserts");
    store.flush().expect("flushes");
}

#[test]
fn formats_1_and_2_are_upgraded_in_place() {
    for version in [1, 2] {
        let dir = tempfile::tempdir().expect("tempdir");
        let ident = buurt_protocol::sample::Identity::fixed();
        let l = ident
            .offer([1; 16], "Ladder", buurt_protocol::sample::T0)
            .sign(&ident.member)
            .expect("signs");
        old_format(&dir, &l, version);
        let store = open(&dir);
        assert_eq!(
            store.db.get(FORMAT_KEY).expect("reads").as_deref(),
            Some(&FORMAT_VERSION.to_be_bytes()[..])
        );
        assert_eq!(store.db.scan_prefix([FORMAT_1_CONTENT]).count(), 0);
        assert_eq!(store.get(&l.listing_id()).expect("gets"), Some(l.clone()));
        assert!(store
            .contains_content(&l.listing_id(), &l.content_id())
            .expect("contains"));
        // The time key is written: the record is found newest first.
        let newest = store.newest(10, 10, &|_| true).expect("reads");
        assert_eq!(newest, Some(vec![l.clone()]), "from format {version}");
    }
}

#[test]
fn survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ident = buurt_protocol::sample::Identity::fixed();
    let l = ident
        .offer([1; 16], "Ladder", buurt_protocol::sample::T0)
        .sign(&ident.member)
        .expect("signs");
    {
        let store = open(&dir);
        store.put(&l).expect("puts");
        store.flush().expect("flushes");
    }
    let store = open(&dir);
    assert_eq!(store.get(&l.listing_id()).expect("gets"), Some(l.clone()));
    assert_eq!(store.len().expect("len"), 1);
    assert!(store
        .contains_content(&l.listing_id(), &l.content_id())
        .expect("contains"));
}

#[test]
fn second_open_of_one_directory_is_locked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = open(&dir);
    let second = SledStore::open(&dir.path().join("db"));
    let Err(e) = second else {
        panic!("a second open succeeded")
    };
    assert!(matches!(e, StoreError::Locked { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("in use by another buurt process"), "{text}");
    assert!(text.contains("buurt node"), "{text}");
}

#[test]
fn a_file_where_the_database_should_be_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    fs::write(&path, b"this is not a database").expect("writes");
    let Err(e) = SledStore::open(&path) else {
        panic!("opened a file as a database")
    };
    assert!(matches!(e, StoreError::NotADatabase { .. }), "{e:?}");
    assert!(e.to_string().contains("not a directory"), "{e}");
}

#[test]
fn garbage_database_files_give_a_corrupt_error_not_a_panic() {
    let ident = buurt_protocol::sample::Identity::fixed();
    let l = ident
        .offer([1; 16], "Ladder", buurt_protocol::sample::T0)
        .sign(&ident.member)
        .expect("signs");
    // sled reads junk in its log (`db`) as an empty log: without a check
    // the store would start afresh and lose everything silently.
    for (file, junk) in [
        ("db", vec![0xa5u8; 4096]),
        ("db", b"garbage".to_vec()),
        ("db", vec![0u8; 100_000]),
        ("conf", vec![0x5au8; 64]),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        {
            let store = SledStore::open(&path).expect("opens");
            store.put(&l).expect("puts");
            store.flush().expect("flushes");
        }
        fs::write(path.join(file), &junk).expect("writes");
        let Err(e) = SledStore::open(&path) else {
            panic!("{file}: opened a damaged database")
        };
        assert!(matches!(e, StoreError::Corrupt { .. }), "{file}: {e:?}");
        assert!(e.to_string().contains("damaged"), "{e}");
    }
}

#[test]
fn unknown_format_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    {
        let db = ::sled::open(&path).expect("opens");
        db.insert(FORMAT_KEY, &7u32.to_be_bytes()).expect("inserts");
        db.flush().expect("flushes");
    }
    let Err(e) = SledStore::open(&path) else {
        panic!("opened a database of an unknown format")
    };
    assert!(
        matches!(
            e,
            StoreError::UnknownFormat {
                found: 7,
                known: FORMAT_VERSION,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn a_foreign_sled_database_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    {
        let db = ::sled::open(&path).expect("opens");
        db.insert(b"something", b"else").expect("inserts");
        db.flush().expect("flushes");
    }
    let Err(e) = SledStore::open(&path) else {
        panic!("opened a foreign database")
    };
    assert!(matches!(e, StoreError::NotADatabase { .. }), "{e:?}");
}

#[test]
fn damaged_record_is_a_decode_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ident = buurt_protocol::sample::Identity::fixed();
    let l = ident
        .offer([2; 16], "Zaag", buurt_protocol::sample::T0)
        .sign(&ident.member)
        .expect("signs");
    let store = open(&dir);
    store.put(&l).expect("puts");
    store
        .db
        .insert(listing_key(&l.listing_id()), b"junk".as_ref())
        .expect("inserts");
    let e = store.get(&l.listing_id()).expect_err("decodes junk");
    assert!(matches!(e, StoreError::Decode { .. }), "{e:?}");
    assert!(store.all().is_err());
    assert!(store.put(&l).is_err());
}

#[test]
fn the_journal_names_every_change_in_order_across_a_restart() {
    use buurt_protocol::sample::{Identity, T0};
    let dir = tempfile::tempdir().expect("tempdir");
    let ident = Identity::fixed();
    let l = |key: u8, rev: u64| {
        let mut x = ident.offer([key; 16], "Ding", T0);
        x.revision = rev;
        x.sign(&ident.member).expect("signs")
    };
    let (a1, a2, b) = (l(1, 10), l(1, 11), l(2, 10));
    {
        let s = open(&dir);
        assert_eq!(s.journal_head(), 0);
        s.put(&a1).unwrap();
        s.put(&b).unwrap();
        s.put(&a1).unwrap(); // a duplicate changes nothing
        s.put(&a2).unwrap();
        s.remove(&b.listing_id()).unwrap();
        assert_eq!(s.journal_head(), 4);
        let want = vec![
            a1.listing_id(),
            b.listing_id(),
            a1.listing_id(),
            b.listing_id(),
        ];
        assert_eq!(s.changed_since(0).unwrap(), Some(want));
        assert_eq!(s.changed_since(3).unwrap(), Some(vec![b.listing_id()]));
        assert_eq!(s.changed_since(4).unwrap(), Some(vec![]));
        // Not past the counts saved with the last mark (none since open).
        s.prune_journal(2).unwrap();
        assert_eq!(s.changed_since(1).unwrap().map(|v| v.len()), Some(3));
        s.flush().unwrap();
        s.prune_journal(2).unwrap();
        assert_eq!(s.changed_since(1).unwrap(), None, "pruned past 1");
        assert_eq!(s.changed_since(2).unwrap().map(|v| v.len()), Some(2));
        s.flush().unwrap();
    }
    let s = open(&dir);
    assert_eq!(s.journal_head(), 4, "kept across a restart");
    s.prune_journal(4).unwrap();
    drop(s);
    let s = open(&dir);
    assert_eq!(s.journal_head(), 4, "the head outlives its pruned entries");
    s.put(&l(3, 10)).unwrap();
    assert_eq!(s.journal_head(), 5);
}

#[test]
fn scope_counts_are_kept_not_scanned() {
    use buurt_protocol::sample::{Identity, T0};
    let dir = tempfile::tempdir().expect("tempdir");
    let ident = Identity::fixed();
    let s = open(&dir);
    for k in 0..5u8 {
        s.put(
            &ident
                .offer([k; 16], "Ding", T0)
                .sign(&ident.member)
                .unwrap(),
        )
        .unwrap();
    }
    // The scope index is taken away behind the store's back: counts that
    // were scanned from it would now be empty.
    let keys: Vec<_> =
        s.db.scan_prefix([SCOPE])
            .keys()
            .map(|k| k.unwrap())
            .collect();
    assert_eq!(keys.len(), 5);
    for k in keys {
        s.db.remove(k).unwrap();
    }
    let scope = ident.certificate.scope.to_string();
    assert_eq!(s.scope_counts().unwrap().get(&scope), Some(&5));
    assert_eq!(s.len().unwrap(), 5);
}

/// A store whose counts were made by reading every record.
fn scanned(path: &std::path::Path) -> (u64, u64, HashMap<String, usize>) {
    let (s, _) = SledStore::open_with(path, OnLoss::Open).expect("opens");
    let scopes = s.scope_counts_lock().clone();
    (
        s.count.load(Ordering::Acquire),
        s.digest.load(Ordering::Acquire),
        scopes,
    )
}

#[test]
fn a_start_takes_the_saved_counts_and_the_journal_after_them() {
    use buurt_protocol::sample::{Identity, T0};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let ident = Identity::fixed();
    let l = |key: u8, rev: u64, scope: &str| {
        let mut x = ident.offer([key; 16], "Ding", T0);
        x.revision = rev;
        x.scope = Scope::parse(scope, 8).unwrap();
        x.sign(&ident.member).expect("signs")
    };
    {
        let s = SledStore::open(&path).unwrap();
        for k in 0..20u8 {
            s.put(&l(k, 10, "nl/amsterdam/oost/dapperbuurt")).unwrap();
        }
        s.flush().unwrap();
        // After the mark: new, replaced (into another scope), removed, and
        // replaced twice.
        s.put(&l(30, 10, "nl/amsterdam")).unwrap();
        s.put(&l(1, 11, "nl/amsterdam")).unwrap();
        s.remove(&l(2, 10, "nl").listing_id()).unwrap();
        s.put(&l(3, 11, "nl/amsterdam/oost/dapperbuurt")).unwrap();
        s.put(&l(3, 12, "nl/amsterdam")).unwrap();
        // Not closed: the next start is not after a clean stop.
    }
    let want = scanned(&path);
    assert_eq!(want.0, 20);
    let s = SledStore::open(&path).unwrap();
    let scopes = s.scope_counts_lock().clone();
    assert_eq!(
        (
            s.count.load(Ordering::Acquire),
            s.digest.load(Ordering::Acquire),
            scopes
        ),
        want,
        "the saved counts and the journal's tail give what reading every record gives"
    );
    assert!(s.opened_from_saved_counts(), "and not by reading them all");
    drop(s);
    // Counts that cannot be trusted are not used: without them, the start
    // reads every record.
    {
        let db = ::sled::open(&path).unwrap();
        db.remove(super::counts::COUNTS_KEY).unwrap();
        db.flush().unwrap();
    }
    let s = SledStore::open(&path).unwrap();
    assert!(!s.opened_from_saved_counts());
    assert_eq!(s.count.load(Ordering::Acquire), 20);
}

/// Every flush a writer asks for alone syncs sled's log file (sled's own
/// flush does not: it calls `sync_file_range`).
#[test]
fn a_flush_syncs_the_log_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ident = buurt_protocol::sample::Identity::fixed();
    let store = open(&dir);
    let before = store.log_syncs();
    for i in 0..3u8 {
        let l = ident
            .offer([i; 16], "Ladder", buurt_protocol::sample::T0)
            .sign(&ident.member)
            .expect("signs");
        store.put(&l).expect("puts");
        store.flush().expect("flushes");
    }
    assert_eq!(
        store.log_syncs(),
        before + 3,
        "one sync per flush asked for"
    );
}
