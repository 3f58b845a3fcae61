//! The counts a node keeps in memory (records, records per scope, the
//! watermark's digest), saved with every mark so that a start does not read
//! every record to make them again.
//!
//! At every flush, under the write lock, the store writes `Mcounts`: the
//! journal's position, the record count, the digest and the count per
//! scope. At open it reads them and replays the journal written after that
//! position: each journal entry names the address it is about to change
//! and what the address held before (absent, or its revision and scope), so
//! the first entry of an address after the position says what the saved
//! counts counted for it, and its record now says what to count instead.
//! sled recovers a prefix of the writes after a crash; an entry is written
//! before its change, so every change that survived has its entry, and an
//! entry whose change was lost finds the record as it was. Where anything
//! is missing (no saved counts, a journal pruned past them, an entry of the
//! older 16-byte form), the counts are made by reading every record.

use std::collections::HashMap;

use buurt_protocol::ListingId;

use super::keys::*;
use super::{watermark, SledStore};
use crate::store::StoreError;

/// The database key of the saved counts.
pub const COUNTS_KEY: &[u8] = b"Mcounts";

/// The counts as saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// The journal's position when they were taken.
    pub journal: u64,
    pub count: u64,
    pub digest: u64,
    pub scopes: HashMap<String, usize>,
}

impl Counts {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(28 + self.scopes.len() * 40);
        b.extend_from_slice(&self.journal.to_be_bytes());
        b.extend_from_slice(&self.count.to_be_bytes());
        b.extend_from_slice(&self.digest.to_be_bytes());
        b.extend_from_slice(&(self.scopes.len() as u32).to_be_bytes());
        for (scope, n) in &self.scopes {
            let s = &scope.as_bytes()[..scope.len().min(255)];
            b.push(s.len() as u8);
            b.extend_from_slice(s);
            b.extend_from_slice(&(*n as u64).to_be_bytes());
        }
        b
    }

    pub fn decode(b: &[u8]) -> Option<Counts> {
        let mut at = 0;
        let mut take = |n: usize| -> Option<&[u8]> {
            let s = b.get(at..at + n)?;
            at += n;
            Some(s)
        };
        let word = |s: &[u8]| -> Option<u64> { Some(u64::from_be_bytes(s.try_into().ok()?)) };
        let journal = word(take(8)?)?;
        let count = word(take(8)?)?;
        let digest = word(take(8)?)?;
        let n = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
        let mut scopes = HashMap::with_capacity(n.min(4_096));
        for _ in 0..n {
            let len = *take(1)?.first()? as usize;
            let scope = std::str::from_utf8(take(len)?).ok()?.to_owned();
            let c = word(take(8)?)? as usize;
            scopes.insert(scope, c);
        }
        (at == b.len()).then_some(Counts {
            journal,
            count,
            digest,
            scopes,
        })
    }
}

/// What an address held before a journalled change: its revision and
/// scope, or nothing.
pub type Before = Option<(u64, String)>;

/// A journal entry's value: the address, then `00` (it held nothing) or
/// `01`, its revision and its scope.
pub fn entry(id: &ListingId, before: Option<(u64, &str)>) -> Vec<u8> {
    let mut v = id.0.to_vec();
    match before {
        None => v.push(0),
        Some((revision, scope)) => {
            v.push(1);
            v.extend_from_slice(&revision.to_be_bytes());
            v.extend_from_slice(scope.as_bytes());
        }
    }
    v
}

/// Reads an entry: the address, and what it held before (`None` for an
/// entry of the older form, which does not say).
pub fn read_entry(v: &[u8]) -> Option<(ListingId, Option<Before>)> {
    let id = ListingId(v.get(..ID_LEN)?.try_into().ok()?);
    let before = match v.get(ID_LEN) {
        None => None,
        Some(0) if v.len() == ID_LEN + 1 => Some(None),
        Some(1) => {
            let revision = u64::from_be_bytes(v.get(ID_LEN + 1..ID_LEN + 9)?.try_into().ok()?);
            let scope = std::str::from_utf8(v.get(ID_LEN + 9..)?).ok()?.to_owned();
            Some(Some((revision, scope)))
        }
        _ => return None,
    };
    Some((id, before))
}

impl SledStore {
    /// The counts as of now, to save with a mark. Called under the write
    /// lock.
    pub(super) fn counts_now(&self) -> Counts {
        use std::sync::atomic::Ordering;
        Counts {
            journal: self.journal.load(Ordering::Acquire),
            count: self.count.load(Ordering::Acquire),
            digest: self.digest.load(Ordering::Acquire),
            scopes: self.scope_counts_lock().clone(),
        }
    }

    /// The saved counts brought up to date by the journal written after
    /// them; `None` when they cannot be (see the module docs).
    pub(super) fn saved_counts(&self) -> Result<Option<Counts>, StoreError> {
        let Some(v) = self.db.get(COUNTS_KEY).map_err(|e| self.err(e))? else {
            return Ok(None);
        };
        let Some(mut c) = Counts::decode(&v) else {
            return Ok(None);
        };
        // What each address changed since held then: its first entry's
        // `before`.
        let mut first: HashMap<ListingId, Before> = HashMap::new();
        let mut expect = c.journal + 1;
        for item in self.db.range(journal_key(c.journal + 1)..) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            if k.first() != Some(&JOURNAL) {
                break;
            }
            if journal_seq(&k) != Some(expect) {
                return Ok(None);
            }
            expect += 1;
            let Some((id, Some(before))) = read_entry(&v) else {
                return Ok(None);
            };
            first.entry(id).or_insert(before);
        }
        if expect == c.journal + 1 {
            // Nothing after the counts; but were entries pruned past them?
            if self.journal_pruned_to()? > c.journal {
                return Ok(None);
            }
        }
        for (id, before) in first {
            if let Some((revision, scope)) = before {
                c.count = c.count.wrapping_sub(1);
                c.digest ^= watermark::record_hash(&id.0, revision);
                if let Some(n) = c.scopes.get_mut(&scope) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        c.scopes.remove(&scope);
                    }
                }
            }
            if let Some(bytes) = self.db.get(listing_key(&id)).map_err(|e| self.err(e))? {
                let unreadable = || self.corrupt("a stored listing is unreadable");
                let revision = revision_of(&bytes).ok_or_else(unreadable)?;
                let scope = scope_of(&bytes).ok_or_else(unreadable)?;
                c.count += 1;
                c.digest ^= watermark::record_hash(&id.0, revision);
                *c.scopes.entry(scope.to_owned()).or_default() += 1;
            }
        }
        c.journal = expect - 1;
        Ok(Some(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_entries_round_trip() {
        let c = Counts {
            journal: 7,
            count: 3,
            digest: 0xdead_beef,
            scopes: [("nl/amsterdam".to_owned(), 2), ("nl".to_owned(), 1)]
                .into_iter()
                .collect(),
        };
        assert_eq!(Counts::decode(&c.encode()), Some(c.clone()));
        assert_eq!(Counts::decode(&c.encode()[..20]), None);
        let id = ListingId([9; 16]);
        assert_eq!(read_entry(&entry(&id, None)), Some((id, Some(None))));
        assert_eq!(
            read_entry(&entry(&id, Some((5, "nl/amsterdam")))),
            Some((id, Some(Some((5, "nl/amsterdam".to_owned())))))
        );
        assert_eq!(read_entry(&id.0), Some((id, None)), "the older form");
    }
}
