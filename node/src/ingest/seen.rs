//! The content ids of revisions this process stored, so that most
//! duplicates are answered without touching the database.
//!
//! Each id is kept as its first 8 bytes: a million of them take a table of
//! about 19 MB instead of 69 MB. Two different revisions share those bytes
//! by chance with a probability of about 2^-64 per pair; and since a content
//! id is a SHA-256, making a revision that shares them with a given one
//! costs about 2^64 hashes. A removal can only make the set forget more,
//! which sends a later copy to the store.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};

use buurt_protocol::ContentId;

/// Most ids remembered; the set is cleared when full.
const MAX: usize = 1_000_000;

#[derive(Default)]
pub struct Seen(Mutex<HashSet<u64>>);

fn key(id: &ContentId) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&id.0[..8]);
    u64::from_le_bytes(first)
}

impl Seen {
    fn lock(&self) -> MutexGuard<'_, HashSet<u64>> {
        // A set of plain integers: a poisoned lock holds a whole one.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn contains(&self, id: &ContentId) -> bool {
        self.lock().contains(&key(id))
    }

    /// Remembers `id`, and forgets `replaced` (the revision it replaced).
    pub fn stored(&self, id: &ContentId, replaced: Option<&ContentId>) {
        let mut set = self.lock();
        if let Some(old) = replaced {
            set.remove(&key(old));
        }
        if set.len() >= MAX {
            set.clear();
        }
        set.insert(key(id));
    }

    pub fn forget(&self, id: &ContentId) {
        self.lock().remove(&key(id));
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_forgets_and_replaces() {
        let seen = Seen::default();
        let (a, b) = (ContentId([1; 32]), ContentId([2; 32]));
        assert!(!seen.contains(&a));
        seen.stored(&a, None);
        assert!(seen.contains(&a));
        seen.stored(&b, Some(&a));
        assert!(!seen.contains(&a) && seen.contains(&b));
        seen.forget(&b);
        assert!(!seen.contains(&b));
        seen.stored(&a, None);
        seen.clear();
        assert!(!seen.contains(&a));
    }
}
