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
//! | `T` created_at (8, sign bit flipped, inverted) id (16) | empty      |
//! | `H` listing id (16)                           | first created_at (8), revisions (4), for addresses with more than one |
//!
//! The scope key ends the scope with `/` and then 0x00, a byte no scope
//! contains: a prefix scan for `nl/amsterdam/` finds `nl/amsterdam` itself and
//! everything below it, but not `nl/amsterdamse-bos`, and no listing id can
//! extend a shorter scope into a match. The number of listings is counted at
//! open and then kept in memory, so that [`Store::len`] does not scan.

use std::collections::{BTreeMap, HashMap, HashSet};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use ::sled::Db;
use buurt_protocol::revision::supersedes;
use buurt_protocol::{ContentId, ListingId, MemberId, Scope, SignedListing};

use super::{History, PutOutcome, Store, StoreError};

mod counts;
mod flushes;
mod format;
mod journal;
mod keys;
mod marks;
mod open;
mod reads;
mod repair;
#[cfg(test)]
mod tests;
pub mod watermark;

use self::keys::*;
use self::open::map_error;

/// A [`Store`] in a sled database directory. One process at a time may open
/// a directory; a second gets [`StoreError::Locked`].
pub struct SledStore {
    db: Db,
    path: PathBuf,
    /// Serialises writes: put, remove and sweep read before they write.
    write: Mutex<()>,
    /// Number of listing records; changed only under `write`.
    count: AtomicU64,
    /// Number of listing records per scope (each scope on its own), counted
    /// at open and kept up to date under `write`, so that `status` does not
    /// scan.
    scopes: Mutex<HashMap<String, usize>>,
    /// XOR of `watermark::record_hash` over the records held; changed only
    /// under `write`.
    digest: AtomicU64,
    /// The sequence of the last journal entry; changed only under `write`.
    journal: AtomicU64,
    /// The journal's position in the counts saved with the last mark: the
    /// journal is not pruned past it (a start replays it from there).
    counted: AtomicU64,
    /// Whether the open took the saved counts (else it read every record).
    saved_counts_used: std::sync::atomic::AtomicBool,
    /// Flushes: the watermark's sequence, when its file was last written,
    /// sled's log file to sync, and the group commit of waiting writers.
    flushes: flushes::Flushes,
    /// The watermark file beside the database.
    watermark: PathBuf,
}

/// How [`SledStore::open_with`] treats a database that lost records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnLoss {
    /// Refuse to open it ([`StoreError::Lost`]); a database that opens is
    /// marked as running (a crash is then no clean stop).
    Refuse,
    /// Open it as it is and say what was lost, writing no mark: `buurt
    /// repair` writes a new one when it is done, `buurt check` none.
    Open,
}

impl SledStore {
    /// Folds one record in or out of the digest (XOR either way).
    fn toggle_digest(&self, l: &SignedListing) {
        let h = watermark::record_hash(&l.listing_id().0, l.listing.revision);
        self.digest.fetch_xor(h, Ordering::AcqRel);
    }

    /// Whether this open took the counts saved with the last mark instead
    /// of reading every record.
    pub fn opened_from_saved_counts(&self) -> bool {
        self.saved_counts_used.load(Ordering::Acquire)
    }

    /// The directory the database lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: ::sled::Error) -> StoreError {
        map_error(&self.path, e)
    }

    fn scope_counts_lock(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.scopes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves one record's count from scope `from` (none: a new record) to
    /// `to` (none: removed). Called under `write`.
    fn count_scope(&self, from: Option<&str>, to: Option<&str>) {
        if from == to {
            return;
        }
        let mut scopes = self.scope_counts_lock();
        if let Some(f) = from {
            if let Some(n) = scopes.get_mut(f) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    scopes.remove(f);
                }
            }
        }
        if let Some(t) = to {
            *scopes.entry(t.to_owned()).or_default() += 1;
        }
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
        self.journal(
            &l.listing_id(),
            Some((l.listing.revision, l.listing.scope.as_str())),
        )?;
        self.delete(&listing_key(&l.listing_id()))?;
        self.count.fetch_sub(1, Ordering::AcqRel);
        self.toggle_digest(l);
        self.count_scope(Some(l.listing.scope.as_str()), None);
        for key in index_keys(l) {
            self.delete(&key)?;
        }
        self.delete(&history_key(&l.listing_id()))
    }

    /// The history kept for an address with more than one revision.
    fn read_history(&self, id: &ListingId) -> Result<Option<History>, StoreError> {
        let v = self.db.get(history_key(id)).map_err(|e| self.err(e))?;
        Ok(v.and_then(|b| decode_history(&b)))
    }

    /// A record read back: it passed the full decode before it was written,
    /// so its canonical encoding is not checked again on every read
    /// (`buurt check` still decodes every record in full).
    fn decode(&self, id: ListingId, bytes: &[u8]) -> Result<SignedListing, StoreError> {
        SignedListing::decode_kept(bytes).map_err(|error| StoreError::Decode { id, error })
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
        if let Some(old) = &replaced {
            let h = History::after(old, self.read_history(&id)?);
            self.insert(&history_key(&id), &encode_history(h))?;
        }
        self.journal(
            &id,
            replaced
                .as_ref()
                .map(|o| (o.listing.revision, o.listing.scope.as_str())),
        )?;
        self.insert(&listing_key(&id), listing.bytes())?;
        self.toggle_digest(listing);
        if let Some(old) = &replaced {
            self.toggle_digest(old);
        }
        self.count_scope(
            replaced.as_ref().map(|o| o.listing.scope.as_str()),
            Some(listing.listing.scope.as_str()),
        );
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

    fn history(&self, id: &ListingId) -> Result<Option<History>, StoreError> {
        let Some(l) = self.read(id)? else {
            return Ok(None);
        };
        let single = History {
            first_created_at: l.listing.created_at,
            revisions: 1,
        };
        Ok(Some(
            self.read_history(id)?
                .filter(|h| h.first_created_at <= l.listing.created_at)
                .unwrap_or(single),
        ))
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

    fn sync_items(&self, scope: &Scope, now: i64) -> Result<Vec<super::SyncItem>, StoreError> {
        self.scope_sync_items(scope, now)
    }

    /// The counts kept in memory since open (one pass over the records).
    fn scope_counts(&self) -> Result<BTreeMap<String, usize>, StoreError> {
        Ok(self
            .scope_counts_lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect())
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

    fn for_each_record(&self, f: &mut super::RecordFn) -> Result<(), StoreError> {
        for item in self.db.scan_prefix([LISTING]) {
            let (key, bytes) = item.map_err(|e| self.err(e))?;
            f(self.id_at_end(&key)?, &bytes)?;
        }
        Ok(())
    }

    fn created_since(&self, since: i64) -> Result<Vec<super::RevisionHead>, StoreError> {
        self.created_since_by_time(since)
    }

    fn newest(
        &self,
        limit: usize,
        reads: usize,
        keep: &dyn Fn(&SignedListing) -> bool,
    ) -> Result<Option<Vec<SignedListing>>, StoreError> {
        self.newest_by_time(limit, reads, keep)
    }

    /// Flushes, with a new mark in the database and in the watermark file.
    fn flush(&self) -> Result<(), StoreError> {
        self.write_mark(false)
    }

    fn close(&self) -> Result<(), StoreError> {
        self.close_clean()
    }

    fn journal_head(&self) -> u64 {
        self.journal.load(Ordering::Acquire)
    }

    fn changed_since(&self, seq: u64) -> Result<Option<Vec<ListingId>>, StoreError> {
        self.journal_since(seq)
    }

    fn prune_journal(&self, seq: u64) -> Result<(), StoreError> {
        self.prune_journal_to(seq)
    }
}
