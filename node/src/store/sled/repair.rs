//! What `buurt check` and `buurt repair` ask of the store: records that do
//! not decode, their removal, and a clean stop's mark.

use std::sync::atomic::Ordering;

use buurt_protocol::ListingId;

use super::keys::*;
use super::{watermark, SledStore};
use crate::store::Store;
use crate::store::StoreError;
use buurt_protocol::SignedListing;

impl SledStore {
    /// Every record that does not decode, with why (`buurt check`).
    pub fn undecodable(&self) -> Result<Vec<(ListingId, String)>, StoreError> {
        self.undecodable_with(&mut || {})
    }

    /// [`Self::undecodable`], calling `seen` after each record.
    pub fn undecodable_with(
        &self,
        seen: &mut dyn FnMut(),
    ) -> Result<Vec<(ListingId, String)>, StoreError> {
        let mut bad = Vec::new();
        self.for_each_record(&mut |id, bytes| {
            seen();
            match SignedListing::decode(bytes) {
                Ok(l) if l.listing_id() == id => {}
                Ok(_) => bad.push((id, "stored under another id".into())),
                Err(e) => bad.push((id, e.to_string())),
            }
            Ok(())
        })?;
        Ok(bad)
    }

    /// Removes a record that does not decode (`buurt repair`): its index
    /// entries cannot be told and stay behind, which readers and the sweep
    /// already take (every hit is checked against its record).
    pub fn remove_undecodable(&self, id: &ListingId) -> Result<bool, StoreError> {
        let _write = self.lock();
        let key = listing_key(id);
        let Some(bytes) = self.db.get(&key).map_err(|e| self.err(e))? else {
            return Ok(false);
        };
        self.journal_unknown(id)?;
        self.delete(&key)?;
        self.count.fetch_sub(1, Ordering::AcqRel);
        if let Some(r) = revision_of(&bytes) {
            self.digest
                .fetch_xor(watermark::record_hash(&id.0, r), Ordering::AcqRel);
        }
        self.count_scope(scope_of(&bytes), None);
        self.delete(&history_key(id))?;
        Ok(true)
    }

    /// Flushes and marks the stop as clean: the next open checks that the
    /// database holds exactly what it held now.
    pub fn close_clean(&self) -> Result<(), StoreError> {
        self.write_mark(true)
    }
}
