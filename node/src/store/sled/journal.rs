//! The journal: which address every write changed, in order, so that the
//! search index catches up on the tail after a crash instead of being
//! rebuilt from the whole store (`Store::changed_since`).

use std::sync::atomic::Ordering;

use buurt_protocol::ListingId;

use super::keys::*;
use super::SledStore;
use crate::store::StoreError;

impl SledStore {
    /// Finds where the journal stands: its last entry, or where it was
    /// pruned to.
    pub(super) fn open_journal(&self) -> Result<(), StoreError> {
        let last = match self.db.scan_prefix([JOURNAL]).keys().next_back() {
            Some(k) => journal_seq(&k.map_err(|e| self.err(e))?).unwrap_or(0),
            None => 0,
        };
        let pruned = self.journal_pruned_to()?;
        self.journal.store(last.max(pruned), Ordering::Release);
        Ok(())
    }

    /// Where the journal was pruned to (its entries up to there are gone).
    pub(super) fn journal_pruned_to(&self) -> Result<u64, StoreError> {
        Ok(self
            .db
            .get(JOURNAL_HEAD_KEY)
            .map_err(|e| self.err(e))?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    /// Notes in the journal that `id` is about to change; the caller holds
    /// the write lock. Written before the change itself, so that a change
    /// never lacks its entry.
    /// `before`: the revision and scope it holds now, if it holds one (the
    /// saved counts are brought up to date from this at a start).
    pub(super) fn journal(
        &self,
        id: &ListingId,
        before: Option<(u64, &str)>,
    ) -> Result<(), StoreError> {
        let seq = self.journal.load(Ordering::Acquire) + 1;
        self.insert(&journal_key(seq), &super::counts::entry(id, before))?;
        self.journal.store(seq, Ordering::Release);
        Ok(())
    }

    /// Notes a change whose before is not known (a record that does not
    /// decode, removed by `buurt repair`): an entry of the older form, so
    /// that the next start counts every record again.
    pub(super) fn journal_unknown(&self, id: &ListingId) -> Result<(), StoreError> {
        let seq = self.journal.load(Ordering::Acquire) + 1;
        self.insert(&journal_key(seq), &id.0)?;
        self.journal.store(seq, Ordering::Release);
        Ok(())
    }

    pub(super) fn journal_since(&self, seq: u64) -> Result<Option<Vec<ListingId>>, StoreError> {
        let head = self.journal.load(Ordering::Acquire);
        if seq >= head {
            return Ok(Some(Vec::new()));
        }
        let mut out = Vec::new();
        let mut expect = seq + 1;
        for item in self.db.range(journal_key(seq + 1)..=journal_key(head)) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            if journal_seq(&k) != Some(expect) {
                // A gap: pruned past `seq`.
                return Ok(None);
            }
            expect += 1;
            match super::counts::read_entry(&v) {
                Some((id, _)) => out.push(id),
                None => return Err(self.corrupt("a journal entry is unreadable")),
            }
        }
        Ok((expect == head + 1).then_some(out))
    }

    pub(super) fn prune_journal_to(&self, seq: u64) -> Result<(), StoreError> {
        let upto = seq
            .min(self.journal.load(Ordering::Acquire))
            .min(self.counted.load(Ordering::Acquire));
        self.insert(JOURNAL_HEAD_KEY, &upto.to_be_bytes())?;
        let mut batch = ::sled::Batch::default();
        let mut n = 0;
        for k in self.db.range(journal_key(0)..=journal_key(upto)).keys() {
            batch.remove(k.map_err(|e| self.err(e))?);
            n += 1;
            if n % 4_096 == 0 {
                self.db
                    .apply_batch(std::mem::take(&mut batch))
                    .map_err(|e| self.err(e))?;
            }
        }
        self.db.apply_batch(batch).map_err(|e| self.err(e))
    }
}
