//! The durable [`Store`], on sled 0.34.
//!
//! Everything lives in one sled tree. A write is a short sequence of
//! single-key inserts and removes in a crash-safe order, not one
//! `apply_batch`: sled's batches cost about ten times a single insert (105 µs
//! for the six keys a listing had in format 1, against 10 µs, measured
//! here), and the
//! store's write rate bounds the whole ingest pipeline. The record under `L`
//! is the truth and its insert or removal is the commit point of every write:
//!
//! - `put`: first the new revision's index entries, then the record, then
//!   the removal of the replaced revision's entries;
//! - `remove` and the sweep: first the record, then its entries.
//!
//! sled recovers a prefix of the operations after a crash, so an index entry
//! may point at a record that is missing or has moved on, but a record never
//! lacks its entries. Every reader therefore checks each index hit against the
//! record (content id, scope, expiry), and the sweep drops stale entries as it
//! meets them. Writes are serialised by a mutex because `put` is a
//! read-compare-write; reads take no lock.
//!
//! Keys start with one byte naming what they hold; integers are big-endian so
//! that they sort as numbers:
//!
//! | key                                           | value               |
//! |-----------------------------------------------|---------------------|
//! | `M` `format`                                  | format version (u32)|
//! | `L` listing id (16)                           | signed bytes        |
//! | `A` author (32) listing id (16)               | empty               |
//! | `S` scope `/` 0x00 listing id (16)            | empty               |
//! | `E` expires_at (8, sign bit flipped) id (16)  | empty               |
//!
//! The scope key ends the scope with `/` and then 0x00, a byte no scope
//! contains: a prefix scan for `nl/amsterdam/` finds `nl/amsterdam` itself and
//! everything below it, but not `nl/amsterdamse-bos`, and no listing id can
//! extend a shorter scope into a match. The number of listings is counted at
//! open and then kept in memory, so that [`Store::len`] does not scan.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use ::sled::Db;
use buurt_protocol::revision::supersedes;
use buurt_protocol::{ContentId, ListingId, MemberId, Scope, SignedListing};

use super::{PutOutcome, Store, StoreError, FORMAT_VERSION};

const FORMAT_KEY: &[u8] = b"Mformat";
const LISTING: u8 = b'L';
/// Prefix of the content-id keys of store format 1, removed on upgrade.
const FORMAT_1_CONTENT: u8 = b'C';
const AUTHOR: u8 = b'A';
const SCOPE: u8 = b'S';
const EXPIRY: u8 = b'E';

/// Length of a listing id in bytes, the tail of every index key.
const ID_LEN: usize = 16;

/// Most listings removed per round of a sweep, so that a large sweep does not
/// hold the write lock for long.
const SWEEP_CHUNK: usize = 1_024;

/// The part of sled 0.34.7's message when another process holds the
/// database's lock (`Config::try_lock` in its `config.rs`). sled wraps the
/// `WouldBlock` from `flock` in an `io::Error` of kind `Other` with this text,
/// so the text is the only way to tell; sled is pinned to that version.
const SLED_LOCK_MESSAGE: &str = "could not acquire lock";

/// How long [`SledStore::open`] keeps trying a locked database before it
/// reports [`StoreError::Locked`]. sled releases its lock only when its last
/// background job lets go of the file: a file truncation it starts while
/// recovering (`SegmentAccountant::truncate`, a `set_len` and `sync_all` on
/// its thread pool) can outlive the `Db` by some milliseconds, so a close and
/// reopen within one process (a restart in a test) can meet its own lock.
const LOCK_WAIT: Duration = Duration::from_secs(1);
/// Pause between attempts while waiting for the lock.
const LOCK_RETRY: Duration = Duration::from_millis(10);

/// A [`Store`] in a sled database directory. One process at a time may open
/// a directory; a second gets [`StoreError::Locked`].
pub struct SledStore {
    db: Db,
    path: PathBuf,
    /// Serialises writes: put, remove and sweep read before they write.
    write: Mutex<()>,
    /// Number of listing records; changed only under `write`.
    count: AtomicU64,
}

impl SledStore {
    /// Opens the database at `path`, creating it if it does not exist.
    ///
    /// Refuses a directory another process has open ([`StoreError::Locked`],
    /// after waiting up to a second in case it is this process's own
    /// database, closed a moment ago),
    /// a path that is not a directory ([`StoreError::NotADatabase`]), damaged
    /// data ([`StoreError::Corrupt`]) and a layout of another format version
    /// ([`StoreError::UnknownFormat`]).
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        if let Ok(meta) = fs::metadata(path) {
            if !meta.is_dir() {
                return Err(StoreError::NotADatabase {
                    path: path.to_owned(),
                    detail: "it exists and is not a directory".into(),
                });
            }
        }
        // sled reads a log it cannot make sense of as an empty one; remember
        // whether there was one, so that damage is not taken for a new
        // database and silently started afresh.
        let had_data = fs::metadata(path.join("db")).is_ok_and(|m| m.len() > 0);
        let db = open_db(path)?;
        let store = SledStore {
            db,
            path: path.to_owned(),
            write: Mutex::new(()),
            count: AtomicU64::new(0),
        };
        store.check_format(had_data)?;
        Ok(store)
    }

    /// The directory the database lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the format version into a new database, or checks it in an
    /// existing one. `had_data`: sled's log file held bytes before opening,
    /// so the database is not new.
    fn check_format(&self, had_data: bool) -> Result<(), StoreError> {
        match self.db.get(FORMAT_KEY).map_err(|e| self.err(e))? {
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| self.corrupt("the format version is unreadable"))?;
                if found == 1 {
                    self.upgrade_from_1()?;
                } else if found != FORMAT_VERSION {
                    return Err(StoreError::UnknownFormat {
                        path: self.path.clone(),
                        found,
                        known: FORMAT_VERSION,
                    });
                }
                let mut n = 0u64;
                for key in self.db.scan_prefix([LISTING]).keys() {
                    key.map_err(|e| self.err(e))?;
                    n += 1;
                }
                self.count.store(n, Ordering::Release);
                Ok(())
            }
            None => {
                if !self.db.is_empty() {
                    return Err(StoreError::NotADatabase {
                        path: self.path.clone(),
                        detail: "it is a sled database without a buurt format version".into(),
                    });
                }
                if had_data {
                    return Err(self.corrupt(
                        "its files hold no readable data: they are damaged, \
                         or creating the database was interrupted",
                    ));
                }
                self.db
                    .insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())
                    .map_err(|e| self.err(e))?;
                self.flush()
            }
        }
    }

    /// Format 1 kept a `C` key (content id to address) per record; format 2
    /// finds a revision by its address instead. Removing the keys, then
    /// writing the new version, can be interrupted and run again.
    fn upgrade_from_1(&self) -> Result<(), StoreError> {
        let mut n = 0usize;
        for key in self.db.scan_prefix([FORMAT_1_CONTENT]).keys() {
            let key = key.map_err(|e| self.err(e))?;
            self.delete(&key)?;
            n += 1;
        }
        self.insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())?;
        self.flush()?;
        tracing::info!("database upgraded to store format {FORMAT_VERSION} ({n} keys removed)");
        Ok(())
    }

    fn err(&self, e: ::sled::Error) -> StoreError {
        map_error(&self.path, e)
    }

    fn corrupt(&self, detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            detail: detail.into(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // The mutex guards no data, only the order of writes; every state a
        // write can stop in is one readers already cope with.
        self.write.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.db
            .insert(key, value)
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn delete(&self, key: &[u8]) -> Result<(), StoreError> {
        self.db.remove(key).map(|_| ()).map_err(|e| self.err(e))
    }

    /// Removes the record of `l` (the commit point), then its index entries.
    fn erase(&self, l: &SignedListing) -> Result<(), StoreError> {
        self.delete(&listing_key(&l.listing_id()))?;
        self.count.fetch_sub(1, Ordering::AcqRel);
        for key in index_keys(l) {
            self.delete(&key)?;
        }
        Ok(())
    }

    fn decode(&self, id: ListingId, bytes: &[u8]) -> Result<SignedListing, StoreError> {
        SignedListing::decode(bytes).map_err(|error| StoreError::Decode { id, error })
    }

    fn read(&self, id: &ListingId) -> Result<Option<SignedListing>, StoreError> {
        match self.db.get(listing_key(id)).map_err(|e| self.err(e))? {
            Some(bytes) => self.decode(*id, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The listings named by the index entries under `prefix`, skipping
    /// entries whose listing went away since the scan saw them.
    fn listings_under(
        &self,
        prefix: &[u8],
        keep: impl Fn(&SignedListing) -> bool,
    ) -> Result<Vec<SignedListing>, StoreError> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for item in self.db.scan_prefix(prefix) {
            let (key, _) = item.map_err(|e| self.err(e))?;
            let id = self.id_at_end(&key)?;
            if !seen.insert(id) {
                continue;
            }
            if let Some(l) = self.read(&id)? {
                if keep(&l) {
                    out.push(l);
                }
            }
        }
        Ok(out)
    }

    fn id_at_end(&self, key: &[u8]) -> Result<ListingId, StoreError> {
        key.len()
            .checked_sub(ID_LEN)
            .filter(|&start| start > 0)
            .and_then(|start| <[u8; ID_LEN]>::try_from(&key[start..]).ok())
            .map(ListingId)
            .ok_or_else(|| self.corrupt("an index key is too short"))
    }
}

impl Store for SledStore {
    fn put(&self, listing: &SignedListing) -> Result<PutOutcome, StoreError> {
        let _write = self.lock();
        let id = listing.listing_id();
        let replaced = match self.read(&id)? {
            Some(old) if old.content_id() == listing.content_id() => {
                return Ok(PutOutcome::Duplicate)
            }
            Some(old) if !supersedes(listing, &old) => return Ok(PutOutcome::Superseded),
            other => other,
        };
        // Index entries first, the record last: see the module docs.
        let new_keys = index_keys(listing);
        for key in &new_keys {
            self.insert(key, &[])?;
        }
        self.insert(&listing_key(&id), listing.bytes())?;
        match &replaced {
            None => {
                self.count.fetch_add(1, Ordering::AcqRel);
            }
            Some(old) => {
                for key in index_keys(old) {
                    if !new_keys.contains(&key) {
                        self.delete(&key)?;
                    }
                }
            }
        }
        Ok(PutOutcome::Stored { replaced })
    }

    fn get(&self, id: &ListingId) -> Result<Option<SignedListing>, StoreError> {
        self.read(id)
    }

    fn contains_content(&self, at: &ListingId, id: &ContentId) -> Result<bool, StoreError> {
        match self.db.get(listing_key(at)).map_err(|e| self.err(e))? {
            Some(bytes) => Ok(ContentId::of(&bytes) == *id),
            None => Ok(false),
        }
    }

    fn remove(&self, id: &ListingId) -> Result<Option<SignedListing>, StoreError> {
        let _write = self.lock();
        let Some(old) = self.read(id)? else {
            return Ok(None);
        };
        self.erase(&old)?;
        Ok(Some(old))
    }

    fn by_author(&self, author: &MemberId) -> Result<Vec<SignedListing>, StoreError> {
        let mut prefix = vec![AUTHOR];
        prefix.extend_from_slice(author.as_bytes());
        // An address never changes author, so the index needs no re-check.
        self.listings_under(&prefix, |_| true)
    }

    fn by_scope(&self, scope: &Scope) -> Result<Vec<SignedListing>, StoreError> {
        let mut prefix = vec![SCOPE];
        prefix.extend_from_slice(scope.as_str().as_bytes());
        prefix.push(b'/');
        // Re-checked because a new revision may move an address to another
        // scope between the scan and the read.
        self.listings_under(&prefix, |l| scope.contains(&l.listing.scope))
    }

    fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<ListingId>, StoreError> {
        let Some((low, high)) = hex_prefix_range(prefix) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for item in self.db.range(low..high).keys() {
            if out.len() >= limit {
                break;
            }
            let key = item.map_err(|e| self.err(e))?;
            out.push(self.id_at_end(&key)?);
        }
        Ok(out)
    }

    /// Reads each record of the scope's index entries without decoding it:
    /// the times sit at fixed offsets (protocol.md section 5), and the scope
    /// is compared to drop stale entries.
    fn sync_items(&self, scope: &Scope, now: i64) -> Result<Vec<super::SyncItem>, StoreError> {
        let mut prefix = vec![SCOPE];
        prefix.extend_from_slice(scope.as_str().as_bytes());
        prefix.extend_from_slice(b"/\0");
        let want = scope.as_str().as_bytes();
        let mut out = Vec::new();
        for item in self.db.scan_prefix(&prefix).keys() {
            let key = item.map_err(|e| self.err(e))?;
            let id = self.id_at_end(&key)?;
            let Some(bytes) = self.db.get(listing_key(&id)).map_err(|e| self.err(e))? else {
                continue;
            };
            let time = |at: usize| {
                bytes
                    .get(at..at + 8)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(i64::from_be_bytes)
            };
            let (Some(created), Some(expires)) = (time(CREATED_AT), time(EXPIRES_AT)) else {
                return Err(self.corrupt("a stored listing is too short"));
            };
            let len = bytes.get(76).copied().unwrap_or(0) as usize;
            if bytes.get(77..77 + len) != Some(want) {
                continue;
            }
            if expires > now {
                out.push((created, id, ContentId::of(&bytes)));
            }
        }
        Ok(out)
    }

    /// Counts scope index keys, without reading records. Index entries can
    /// only be in excess of records (see the module docs: a record never
    /// lacks its entry, a crash can leave an extra one), so when the entries
    /// add up to the number of records the count is exact; otherwise each
    /// entry is checked against its record.
    fn scope_counts(&self) -> Result<BTreeMap<String, usize>, StoreError> {
        let mut entries = Vec::new();
        for item in self.db.scan_prefix([SCOPE]).keys() {
            let key = item.map_err(|e| self.err(e))?;
            let id = self.id_at_end(&key)?;
            let scope = key
                .get(1..key.len() - ID_LEN)
                .and_then(|s| s.strip_suffix(b"/\0"))
                .and_then(|s| std::str::from_utf8(s).ok())
                .ok_or_else(|| self.corrupt("a scope key is unreadable"))?
                .to_owned();
            entries.push((scope, id));
        }
        let exact = entries.len() as u64 == self.count.load(Ordering::Acquire);
        let mut counts = BTreeMap::new();
        for (scope, id) in entries {
            if !exact {
                match self.read(&id)? {
                    Some(l) if l.listing.scope.as_str() == scope => {}
                    _ => continue,
                }
            }
            *counts.entry(scope).or_default() += 1;
        }
        Ok(counts)
    }

    fn sweep_expired(&self, now: i64) -> Result<Vec<ListingId>, StoreError> {
        let mut removed = Vec::new();
        loop {
            let _write = self.lock();
            let mut lapsed = Vec::new();
            for item in self.db.scan_prefix([EXPIRY]).keys() {
                let key = item.map_err(|e| self.err(e))?;
                let expires = key
                    .get(1..9)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(decode_time)
                    .ok_or_else(|| self.corrupt("an expiry key is too short"))?;
                if expires > now || lapsed.len() >= SWEEP_CHUNK {
                    break;
                }
                lapsed.push((key.clone(), self.id_at_end(&key)?));
            }
            let full = lapsed.len() >= SWEEP_CHUNK;
            if lapsed.is_empty() {
                break;
            }
            for (key, id) in lapsed {
                if let Some(l) = self.read(&id)? {
                    if l.listing.expires_at <= now {
                        self.erase(&l)?;
                        removed.push(id);
                    }
                }
                // Drop the entry itself even if it was stale, so that a sweep
                // always makes progress.
                self.delete(&key)?;
            }
            if !full {
                break;
            }
        }
        Ok(removed)
    }

    fn len(&self) -> Result<usize, StoreError> {
        let count = self.count.load(Ordering::Acquire);
        usize::try_from(count).map_err(|_| self.corrupt("the listing count is out of range"))
    }

    fn all(&self) -> Result<Vec<SignedListing>, StoreError> {
        // No capacity from the stored count: a damaged count must not
        // become a huge allocation.
        let mut out = Vec::new();
        for item in self.db.scan_prefix([LISTING]) {
            let (key, bytes) = item.map_err(|e| self.err(e))?;
            out.push(self.decode(self.id_at_end(&key)?, &bytes)?);
        }
        Ok(out)
    }

    fn created_since(&self, since: i64) -> Result<Vec<super::RevisionHead>, StoreError> {
        let mut out = Vec::new();
        for item in self.db.scan_prefix([LISTING]).values() {
            let bytes = item.map_err(|e| self.err(e))?;
            let head =
                head_of(&bytes).ok_or_else(|| self.corrupt("a stored listing is too short"))?;
            if head.created_at >= since {
                out.push(head);
            }
        }
        Ok(out)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(|e| self.err(e))
    }
}

/// Offsets in a stored listing's bytes (protocol.md, the listing body):
/// author after the version byte, `created_at` after the key and revision,
/// then `expires_at`, kind, exchange and status.
const AUTHOR_AT: usize = 1;
const CREATED_AT: usize = 57;
const EXPIRES_AT: usize = 65;
const STATUS_AT: usize = 75;

/// Author, creation time and tombstone flag of stored listing bytes,
/// without decoding them.
fn head_of(bytes: &[u8]) -> Option<super::RevisionHead> {
    let author: [u8; 32] = bytes.get(AUTHOR_AT..AUTHOR_AT + 32)?.try_into().ok()?;
    let created: [u8; 8] = bytes.get(CREATED_AT..CREATED_AT + 8)?.try_into().ok()?;
    Some(super::RevisionHead {
        author: MemberId(author),
        created_at: i64::from_be_bytes(created),
        withdrawn: *bytes.get(STATUS_AT)? == buurt_protocol::Status::Withdrawn.code(),
    })
}

/// The author, scope and expiry index keys of `l`.
fn index_keys(l: &SignedListing) -> [Vec<u8>; 3] {
    let id = l.listing_id();
    let mut author = vec![AUTHOR];
    author.extend_from_slice(l.listing.author.as_bytes());
    author.extend_from_slice(&id.0);

    let scope_text = l.listing.scope.as_str().as_bytes();
    let mut scope = Vec::with_capacity(scope_text.len() + 3 + ID_LEN);
    scope.push(SCOPE);
    scope.extend_from_slice(scope_text);
    scope.extend_from_slice(b"/\0");
    scope.extend_from_slice(&id.0);

    let mut expiry = vec![EXPIRY];
    expiry.extend_from_slice(&encode_time(l.listing.expires_at));
    expiry.extend_from_slice(&id.0);
    [author, scope, expiry]
}

fn listing_key(id: &ListingId) -> Vec<u8> {
    let mut k = vec![LISTING];
    k.extend_from_slice(&id.0);
    k
}

/// A signed time as 8 bytes that sort like the number: big-endian with the
/// sign bit flipped, so that negative times sort before positive ones.
fn encode_time(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

fn decode_time(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

/// The key range `[low, high)` of listing records whose id's hexadecimal
/// form starts with `prefix`, or `None` if no id can (not lowercase
/// hexadecimal, or too long). An odd last digit fixes the high half of the
/// next byte only.
fn hex_prefix_range(prefix: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    if prefix.len() > ID_LEN * 2 {
        return None;
    }
    let mut low = vec![LISTING];
    let mut high_incl = vec![LISTING];
    let digits: Option<Vec<u8>> = prefix
        .bytes()
        .map(|c| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        })
        .collect();
    let digits = digits?;
    for pair in digits.chunks(2) {
        match *pair {
            [hi, lo] => {
                low.push(hi << 4 | lo);
                high_incl.push(hi << 4 | lo);
            }
            [hi] => {
                low.push(hi << 4);
                high_incl.push(hi << 4 | 0x0f);
            }
            _ => return None,
        }
    }
    Some((low, successor(high_incl)?))
}

/// The smallest key greater than every key starting with `prefix`.
fn successor(mut prefix: Vec<u8>) -> Option<Vec<u8>> {
    while let Some(last) = prefix.pop() {
        if last < 0xff {
            prefix.push(last + 1);
            return Some(prefix);
        }
    }
    None
}

/// Opens the sled database, waiting up to [`LOCK_WAIT`] for a lock held by
/// a database this process closed a moment ago.
fn open_db(path: &Path) -> Result<Db, StoreError> {
    let start = Instant::now();
    loop {
        // sled may panic on data it cannot make sense of instead of returning
        // an error; a damaged database must give a message, not a crash.
        let opened = catch_unwind(AssertUnwindSafe(|| {
            ::sled::Config::new()
                .path(path)
                .mode(::sled::Mode::HighThroughput)
                .open()
        }));
        match opened {
            Ok(Ok(db)) => return Ok(db),
            Ok(Err(e)) => match map_open_error(path, e) {
                StoreError::Locked { .. } if start.elapsed() < LOCK_WAIT => {
                    thread::sleep(LOCK_RETRY);
                }
                other => return Err(other),
            },
            Err(panic) => {
                return Err(StoreError::Corrupt {
                    path: path.to_owned(),
                    detail: format!("the database failed while opening: {}", panic_text(&*panic)),
                })
            }
        }
    }
}

/// Maps an error from `sled::open`, where a held lock shows up.
fn map_open_error(path: &Path, e: ::sled::Error) -> StoreError {
    match e {
        ::sled::Error::Io(ref io) if io.to_string().contains(SLED_LOCK_MESSAGE) => {
            StoreError::Locked {
                path: path.to_owned(),
            }
        }
        ::sled::Error::Io(io) if io.kind() == io::ErrorKind::InvalidData => StoreError::Corrupt {
            path: path.to_owned(),
            detail: io.to_string(),
        },
        other => map_error(path, other),
    }
}

/// Maps a sled error to a [`StoreError`] naming the database.
fn map_error(path: &Path, e: ::sled::Error) -> StoreError {
    let path = path.to_owned();
    match e {
        ::sled::Error::Io(error) => StoreError::Io { path, error },
        ::sled::Error::Corruption { at, .. } => StoreError::Corrupt {
            path,
            detail: match at {
                Some(at) => format!("damaged data found at {at}"),
                None => "damaged data found".into(),
            },
        },
        ::sled::Error::ReportableBug(detail) => StoreError::Backend {
            path,
            detail: format!("sled reports a bug: {detail}"),
        },
        other => StoreError::Backend {
            path,
            detail: other.to_string(),
        },
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &tempfile::TempDir) -> SledStore {
        SledStore::open(&dir.path().join("db")).expect("opens")
    }

    #[test]
    fn conformance() {
        // The temporary directories must outlive the stores made in them.
        let dirs = Mutex::new(Vec::new());
        super::super::conformance::run_all(&|| {
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

    #[test]
    fn format_1_is_upgraded_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ident = buurt_protocol::sample::Identity::fixed();
        let l = ident
            .offer([1; 16], "Ladder", buurt_protocol::sample::T0)
            .sign(&ident.member)
            .expect("signs");
        {
            // A format 1 database: the record plus its content-id key.
            let store = open(&dir);
            store.put(&l).expect("puts");
            let mut old_key = vec![FORMAT_1_CONTENT];
            old_key.extend_from_slice(&l.content_id().0);
            store.insert(&old_key, &l.listing_id().0).expect("inserts");
            store
                .insert(FORMAT_KEY, &1u32.to_be_bytes())
                .expect("inserts");
            store.flush().expect("flushes");
        }
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
                    known: 2,
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
}
