//! A sled database whose flush reaches stable storage.
//!
//! sled's `flush` writes its log and calls `sync_file_range`, which neither
//! flushes the drive's write cache nor the file's size; sled calls `fsync`
//! only from its background thread, every half second. [`SyncedDb::flush`]
//! is sled's flush followed by `fdatasync` of the log file (`db` in the
//! database's folder), so that what a node acknowledges after a flush
//! survives a power cut (docs/operator.md, "Durability and recovery").
//! The listing store does the same with group commit
//! (`store/sled/flushes.rs`). A leaf.

use std::fs::File;
use std::path::Path;

/// A sled database, dereferencing to it, with a flush that syncs.
pub struct SyncedDb {
    db: sled::Db,
    /// The log file, `None` for a database in memory.
    log: Option<File>,
}

/// sled's page cache for the small databases (thanks, watches, the impact
/// ledger): sled's default is 1 GiB, which a ledger noting every listing
/// fills with pages nobody reads again.
pub const SMALL_CACHE_BYTES: u64 = 4 * 1024 * 1024;

impl SyncedDb {
    /// Opens (or creates) a small database at `dir`, with a page cache of
    /// [`SMALL_CACHE_BYTES`].
    pub fn open_small(dir: &Path) -> sled::Result<SyncedDb> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(SMALL_CACHE_BYTES)
            .open()?;
        SyncedDb::at(db, dir)
    }

    /// The database opened at `dir`: its log file is opened to be synced.
    pub fn at(db: sled::Db, dir: &Path) -> sled::Result<SyncedDb> {
        let log = log_file(dir)?;
        Ok(SyncedDb { db, log: Some(log) })
    }

    /// A database in memory (`temporary`): nothing to sync.
    pub fn in_memory(db: sled::Db) -> SyncedDb {
        SyncedDb { db, log: None }
    }

    /// sled's flush, then `fdatasync` of the log file; returns the bytes
    /// sled flushed.
    pub fn flush(&self) -> sled::Result<usize> {
        let n = self.db.flush()?;
        if let Some(f) = &self.log {
            f.sync_data()?;
        }
        Ok(n)
    }
}

impl std::ops::Deref for SyncedDb {
    type Target = sled::Db;
    fn deref(&self) -> &sled::Db {
        &self.db
    }
}

/// sled's log file in the database folder `dir`, opened to be synced.
pub fn log_file(dir: &Path) -> std::io::Result<File> {
    File::open(dir.join("db"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flush_reaches_the_log_file_of_a_database_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let db = SyncedDb::at(sled::open(dir.path()).unwrap(), dir.path()).unwrap();
        db.insert(b"k", b"v").unwrap();
        assert!(db.flush().unwrap() > 0);
        assert!(db.log.is_some());
        let memory = SyncedDb::in_memory(sled::Config::new().temporary(true).open().unwrap());
        memory.insert(b"k", b"v").unwrap();
        memory.flush().unwrap();
        assert!(memory.log.is_none());
    }
}
