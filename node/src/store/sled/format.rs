//! The store format: written into a new database, checked in an existing
//! one (with the counts the node keeps in memory made on the way), and the
//! upgrade from format 1.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use super::keys::*;
use super::SledStore;
use crate::store::{StoreError, FORMAT_VERSION};

impl SledStore {
    /// Writes the format version into a new database, or checks it in an
    /// existing one. `had_data`: sled's log file held bytes before opening,
    /// so the database is not new.
    /// `saved`: take the counts saved with the last mark, brought up to date
    /// by the journal, instead of reading every record, when they can be.
    pub(super) fn check_format(&self, had_data: bool, saved: bool) -> Result<(), StoreError> {
        match self.db.get(FORMAT_KEY).map_err(|e| self.err(e))? {
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| self.corrupt("the format version is unreadable"))?;
                if found == 1 {
                    self.upgrade_from_1()?;
                }
                if found == 1 || found == 2 {
                    self.upgrade_from_2()?;
                } else if found != FORMAT_VERSION {
                    return Err(StoreError::UnknownFormat {
                        path: self.path.clone(),
                        found,
                        known: FORMAT_VERSION,
                    });
                }
                if saved {
                    if let Some(c) = self.saved_counts()? {
                        self.count.store(c.count, Ordering::Release);
                        self.digest.store(c.digest, Ordering::Release);
                        *self.scope_counts_lock() = c.scopes;
                        self.saved_counts_used.store(true, Ordering::Release);
                        return Ok(());
                    }
                }
                // One pass over the records, reading only their heads:
                // the count, the count per scope, and the watermark's digest.
                let mut n = 0u64;
                let mut digest = 0u64;
                let mut scopes = HashMap::new();
                for item in self.db.scan_prefix([LISTING]) {
                    let (key, bytes) = item.map_err(|e| self.err(e))?;
                    let unreadable = || self.corrupt("a stored listing is unreadable");
                    let scope = scope_of(&bytes).ok_or_else(unreadable)?;
                    let revision = revision_of(&bytes).ok_or_else(unreadable)?;
                    digest ^= super::watermark::record_hash(&key[1..], revision);
                    *scopes.entry(scope.to_owned()).or_default() += 1;
                    n += 1;
                }
                self.count.store(n, Ordering::Release);
                self.digest.store(digest, Ordering::Release);
                *self.scope_counts_lock() = scopes;
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
                // A new database (also one whose files were emptied: the
                // watermark beside it tells).
                self.db.flush().map(|_| ()).map_err(|e| self.err(e))
            }
        }
    }

    /// Format 1 kept a `C` key (content id to address) per record; format 2
    /// finds a revision by its address instead. Removing the keys can be
    /// interrupted and run again; the upgrade to format 3 follows.
    fn upgrade_from_1(&self) -> Result<(), StoreError> {
        let mut n = 0usize;
        for key in self.db.scan_prefix([FORMAT_1_CONTENT]).keys() {
            let key = key.map_err(|e| self.err(e))?;
            self.delete(&key)?;
            n += 1;
        }
        tracing::info!("database upgraded from store format 1 ({n} keys removed)");
        Ok(())
    }

    /// Format 3 adds a `T` key (creation time, newest first) per record.
    /// Writing them, then the new version, can be interrupted and run again.
    fn upgrade_from_2(&self) -> Result<(), StoreError> {
        let n = self.write_time_keys()?;
        self.insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())?;
        self.db.flush().map_err(|e| self.err(e))?;
        tracing::info!(
            "database upgraded to store format {FORMAT_VERSION} ({n} time keys written)"
        );
        Ok(())
    }
}
