//! Reads through an index: in creation order (the `T` keys), for the newest
//! revisions of a page without a search and for what was created since a
//! time; and a scope's sync items (the `S` keys).

use std::collections::HashSet;

use buurt_protocol::{ContentId, ListingId, Scope, SignedListing};

use super::keys::*;
use super::SledStore;
use crate::store::{take_newest, RevisionHead, StoreError, SyncItem};

impl SledStore {
    /// The records the `T` keys name, newest first, with their heads. An
    /// entry whose record is gone or moved on (another `created_at`) is
    /// stale and skipped, as is a second entry for the same record.
    fn by_time(
        &self,
    ) -> impl Iterator<Item = Result<(ListingId, RevisionHead, ::sled::IVec), StoreError>> + '_
    {
        let mut seen = HashSet::new();
        self.db.scan_prefix([TIME]).keys().filter_map(move |key| {
            let entry = (|| {
                let key = key.map_err(|e| self.err(e))?;
                let time = key
                    .get(1..9)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(decode_newest_first)
                    .ok_or_else(|| self.corrupt("a time key is too short"))?;
                let id = self.id_at_end(&key)?;
                let bytes = self.db.get(listing_key(&id)).map_err(|e| self.err(e))?;
                Ok(bytes.and_then(|b| {
                    let head = head_of(&b).filter(|h| h.created_at == time)?;
                    Some((id, head, b))
                }))
            })();
            match entry {
                Ok(Some((id, head, bytes))) => seen.insert(id).then_some(Ok((id, head, bytes))),
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            }
        })
    }

    /// [`crate::store::Store::newest`] through the `T` keys.
    pub(super) fn newest_by_time(
        &self,
        limit: usize,
        reads: usize,
        keep: &dyn Fn(&SignedListing) -> bool,
    ) -> Result<Option<Vec<SignedListing>>, StoreError> {
        let decoded = self
            .by_time()
            .map(|r| r.and_then(|(id, _, bytes)| self.decode(id, &bytes)));
        take_newest(decoded, limit, reads, keep)
    }

    /// [`crate::store::Store::created_since`] through the `T` keys: only the
    /// records created at or after `since` are read.
    pub(super) fn created_since_by_time(
        &self,
        since: i64,
    ) -> Result<Vec<RevisionHead>, StoreError> {
        let mut out = Vec::new();
        for entry in self.by_time() {
            let (_, head, _) = entry?;
            if head.created_at < since {
                break;
            }
            out.push(head);
        }
        Ok(out)
    }

    /// Writes the `T` key of every record (the upgrade from format 2).
    pub(super) fn write_time_keys(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        for item in self.db.scan_prefix([LISTING]) {
            let (key, bytes) = item.map_err(|e| self.err(e))?;
            let id = self.id_at_end(&key)?;
            let head =
                head_of(&bytes).ok_or_else(|| self.corrupt("a stored listing is too short"))?;
            self.db
                .insert(time_key(head.created_at, &id), &[])
                .map_err(|e| self.err(e))?;
            n += 1;
        }
        Ok(n)
    }

    /// Reads each record of the scope's index entries without decoding it:
    /// the times sit at fixed offsets (protocol.md section 5), and the scope
    /// is compared to drop stale entries.
    pub(super) fn scope_sync_items(
        &self,
        scope: &Scope,
        now: i64,
    ) -> Result<Vec<SyncItem>, StoreError> {
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
            if scope_of(&bytes).map(str::as_bytes) != Some(want) {
                continue;
            }
            if expires > now {
                out.push((created, id, ContentId::of(&bytes)));
            }
        }
        Ok(out)
    }
}
