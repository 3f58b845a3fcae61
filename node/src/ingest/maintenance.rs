//! Work on what is already stored: flushing, the expiry sweep, removals
//! (moderation's purges), and rebuilding the search index. Each takes the
//! pipeline's write lock, so it never interleaves with a listing being
//! stored.

use buurt_protocol::{Listing, ListingId, SignedListing, Status};

use super::{Ingest, IngestError};
use crate::store::Candidates;

impl Ingest {
    /// Makes every stored listing durable.
    pub fn flush(&self) -> Result<(), IngestError> {
        Ok(self.store.flush()?)
    }

    /// At a clean stop: commits the index, then flushes the store and lets
    /// it note that nothing came after.
    pub fn close(&self) -> Result<(), IngestError> {
        {
            // No write is under way once the lock is ours, and none starts
            // after (every entry point checks `closed` first).
            let _w = self.lock_writes();
            self.closed
                .store(true, std::sync::atomic::Ordering::Release);
        }
        self.indexer.barrier()?;
        self.prune_journal()?;
        Ok(self.store.close()?)
    }

    /// Runs `f` with every write paused (a consistent backup of the store).
    pub fn paused<T>(&self, f: impl FnOnce() -> T) -> T {
        let _w = self.lock_writes();
        f()
    }

    /// Waits until every change so far is committed to the search index.
    pub fn commit_index(&self) -> Result<(), IngestError> {
        Ok(self.indexer.barrier()?)
    }

    /// Removes expired listings from the store and the index.
    pub fn sweep(&self, now: i64) -> Result<usize, IngestError> {
        let _w = self.lock_writes();
        self.still_open()?;
        let removed = self.store.sweep_expired(now)?;
        self.bump_version();
        for id in &removed {
            self.indexer.remove(*id, self.store.journal_head());
        }
        if !removed.is_empty() {
            // An expired revision sent again must be refused as expired, not
            // answered as a duplicate.
            self.seen.clear();
            self.store.flush()?;
        }
        Ok(removed.len())
    }

    /// Removes one address from store and index (moderation).
    pub fn remove(&self, id: &ListingId) -> Result<Option<SignedListing>, IngestError> {
        let _w = self.lock_writes();
        self.remove_locked(id)
    }

    /// Removes every stored listing among `candidates` that `covers` (a new
    /// block or revocation, already in force in moderation), then flushes.
    /// Returns how many went.
    pub fn purge(
        &self,
        candidates: Candidates,
        covers: impl Fn(&Listing) -> bool,
    ) -> Result<usize, IngestError> {
        let _w = self.lock_writes();
        self.still_open()?;
        let mut removed = 0;
        for l in self.store.candidates(candidates)? {
            if covers(&l.listing) {
                self.remove_locked(&l.listing_id())?;
                removed += 1;
            }
        }
        self.store.flush()?;
        Ok(removed)
    }

    /// Removes one address from store, index and the seen set; the caller
    /// holds the write lock.
    fn remove_locked(&self, id: &ListingId) -> Result<Option<SignedListing>, IngestError> {
        let removed = self.store.remove(id)?;
        self.bump_version();
        self.indexer.remove(*id, self.store.journal_head());
        if let Some(l) = &removed {
            self.seen.forget(&l.content_id());
        }
        Ok(removed)
    }

    /// Refuses a write once [`Ingest::close`] ran; the caller holds the
    /// write lock.
    fn still_open(&self) -> Result<(), IngestError> {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(IngestError::Closed);
        }
        Ok(())
    }

    fn bump_version(&self) {
        self.version
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// Rebuilds the search index from the store, reporting `(done, total)`.
    pub fn reindex(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<usize, IngestError> {
        let _w = self.lock_writes();
        // Let queued changes land first, so none of them lands after the rebuild.
        self.indexer.barrier()?;
        let all = self.store.all()?;
        let total = all.len();
        self.index.clear()?;
        let mut indexed = 0;
        for (i, l) in all.iter().enumerate() {
            if l.listing.status != Status::Withdrawn {
                self.index.upsert(l)?;
                indexed += 1;
            }
            if i % 1_000 == 0 {
                progress(i, total);
            }
        }
        // Committed with the store's journal sequence: from here on, a
        // crash costs only the journal's tail.
        self.index.commit_with_marker(self.store.journal_head())?;
        self.store.prune_journal(self.store.journal_head())?;
        progress(total, total);
        Ok(indexed)
    }

    /// After a crash: brings the index up to the store by replaying the
    /// addresses the store's journal names since the index's marker (each
    /// indexed as it stands now, or removed). `None` when the journal does
    /// not reach back that far (a full rebuild is needed).
    pub fn catch_up_index(&self) -> Result<Option<usize>, IngestError> {
        let _w = self.lock_writes();
        self.indexer.barrier()?;
        let Some(marker) = self.index.marker() else {
            return Ok(None);
        };
        let Some(ids) = self.store.changed_since(marker)? else {
            return Ok(None);
        };
        let unique: std::collections::BTreeSet<ListingId> = ids.into_iter().collect();
        let mut changes = Vec::with_capacity(unique.len());
        for id in &unique {
            changes.push(match self.store.get(id)? {
                Some(l) => crate::search::indexer::Change::for_listing(&std::sync::Arc::new(l)),
                None => crate::search::indexer::Change::Remove(*id),
            });
        }
        self.indexer.apply(changes, self.store.journal_head());
        self.indexer.barrier()?;
        Ok(Some(unique.len()))
    }

    /// Forgets what the index has committed from the store's journal.
    pub fn prune_journal(&self) -> Result<(), IngestError> {
        if let Some(m) = self.index.marker() {
            self.store.prune_journal(m)?;
        }
        Ok(())
    }
}
