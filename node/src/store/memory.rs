//! An in-memory [`Store`]: the same rules as the sled store, nothing on disk.
//!
//! Used by tests that need a store but not a directory, and as a second
//! implementation that keeps the trait honest: both pass the conformance
//! suite. Queries by author and scope scan every listing, which is fine for
//! the sizes it is meant for.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use buurt_protocol::revision::supersedes;
use buurt_protocol::{ContentId, ListingId, MemberId, Scope, SignedListing};

use super::{History, PutOutcome, Store, StoreError};

/// A [`Store`] held in memory; everything is lost when it is dropped.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Latest revision by address.
    listings: BTreeMap<ListingId, SignedListing>,
    /// `(expires_at, id)` of every listing, so a sweep reads only what lapsed.
    expiry: BTreeSet<(i64, ListingId)>,
    /// Addresses with more than one revision stored.
    history: BTreeMap<ListingId, History>,
}

impl Inner {
    fn insert(&mut self, l: &SignedListing) {
        let id = l.listing_id();
        self.expiry.insert((l.listing.expires_at, id));
        self.listings.insert(id, l.clone());
    }

    fn remove(&mut self, id: &ListingId) -> Option<SignedListing> {
        self.history.remove(id);
        let old = self.listings.remove(id)?;
        self.expiry.remove(&(old.listing.expires_at, *id));
        Some(old)
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update below completes before it can panic, so a poisoned
        // lock still guards consistent maps.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn filtered(&self, keep: impl Fn(&SignedListing) -> bool) -> Vec<SignedListing> {
        self.lock()
            .listings
            .values()
            .filter(|l| keep(l))
            .cloned()
            .collect()
    }
}

impl Store for MemoryStore {
    fn put(&self, listing: &SignedListing) -> Result<PutOutcome, StoreError> {
        let mut inner = self.lock();
        let id = listing.listing_id();
        let replaced = match inner.listings.get(&id) {
            Some(old) if old.content_id() == listing.content_id() => {
                return Ok(PutOutcome::Duplicate)
            }
            Some(old) if !supersedes(listing, old) => return Ok(PutOutcome::Superseded),
            Some(_) => {
                let known = inner.history.get(&id).copied();
                let old = inner.remove(&id);
                if let Some(old) = &old {
                    inner.history.insert(id, History::after(old, known));
                }
                old
            }
            None => None,
        };
        inner.insert(listing);
        Ok(PutOutcome::Stored { replaced })
    }

    fn get(&self, id: &ListingId) -> Result<Option<SignedListing>, StoreError> {
        Ok(self.lock().listings.get(id).cloned())
    }

    fn history(&self, id: &ListingId) -> Result<Option<History>, StoreError> {
        let inner = self.lock();
        Ok(inner.listings.get(id).map(|l| {
            inner.history.get(id).copied().unwrap_or(History {
                first_created_at: l.listing.created_at,
                revisions: 1,
            })
        }))
    }

    fn contains_content(&self, at: &ListingId, id: &ContentId) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .listings
            .get(at)
            .is_some_and(|l| l.content_id() == *id))
    }

    fn remove(&self, id: &ListingId) -> Result<Option<SignedListing>, StoreError> {
        Ok(self.lock().remove(id))
    }

    fn by_author(&self, author: &MemberId) -> Result<Vec<SignedListing>, StoreError> {
        Ok(self.filtered(|l| l.listing.author == *author))
    }

    fn by_scope(&self, scope: &Scope) -> Result<Vec<SignedListing>, StoreError> {
        Ok(self.filtered(|l| scope.contains(&l.listing.scope)))
    }

    fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<ListingId>, StoreError> {
        Ok(self
            .lock()
            .listings
            .keys()
            .filter(|id| id.to_hex().starts_with(prefix))
            .take(limit)
            .copied()
            .collect())
    }

    fn sweep_expired(&self, now: i64) -> Result<Vec<ListingId>, StoreError> {
        let mut inner = self.lock();
        let lapsed: Vec<ListingId> = inner
            .expiry
            .range(..=(now, ListingId([0xff; 16])))
            .map(|(_, id)| *id)
            .collect();
        for id in &lapsed {
            inner.remove(id);
        }
        Ok(lapsed)
    }

    fn len(&self) -> Result<usize, StoreError> {
        Ok(self.lock().listings.len())
    }

    fn sync_items(&self, scope: &Scope, now: i64) -> Result<Vec<super::SyncItem>, StoreError> {
        Ok(self
            .lock()
            .listings
            .values()
            .filter(|l| l.listing.scope == *scope && l.listing.expires_at > now)
            .map(|l| (l.listing.created_at, l.listing_id(), l.content_id()))
            .collect())
    }

    fn scope_counts(&self) -> Result<BTreeMap<String, usize>, StoreError> {
        let mut counts = BTreeMap::new();
        for l in self.lock().listings.values() {
            *counts.entry(l.listing.scope.to_string()).or_default() += 1;
        }
        Ok(counts)
    }

    fn all(&self) -> Result<Vec<SignedListing>, StoreError> {
        Ok(self.filtered(|_| true))
    }

    fn for_each_record(&self, f: &mut super::RecordFn) -> Result<(), StoreError> {
        let all: Vec<(ListingId, Vec<u8>)> = self
            .lock()
            .listings
            .iter()
            .map(|(id, l)| (*id, l.bytes().to_vec()))
            .collect();
        for (id, bytes) in all {
            f(id, &bytes)?;
        }
        Ok(())
    }

    fn created_since(&self, since: i64) -> Result<Vec<super::RevisionHead>, StoreError> {
        Ok(self
            .filtered(|l| l.listing.created_at >= since)
            .iter()
            .map(|l| super::RevisionHead {
                author: l.listing.author,
                created_at: l.listing.created_at,
                withdrawn: l.listing.status == buurt_protocol::Status::Withdrawn,
            })
            .collect())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        super::super::conformance::run_all(&|| Box::new(MemoryStore::new()));
    }
}
