//! The marks of the watermark (see `watermark.rs`): taken at every flush,
//! checked at open.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::flushes::Turn;
use super::{watermark, SledStore};
use crate::store::StoreError;

impl SledStore {
    /// The mark of what is held now.
    pub(super) fn mark(&self, seq: u64) -> watermark::Mark {
        watermark::Mark {
            seq,
            count: self.count.load(Ordering::Acquire),
            digest: self.digest.load(Ordering::Acquire),
        }
    }

    /// How many times the database's log file was synced (`fdatasync`)
    /// since open: a flush syncs once for every writer waiting on it.
    pub fn log_syncs(&self) -> u64 {
        self.flushes.syncs()
    }

    /// Turns the log file's sync off (`false`) or on: only for the
    /// benchmark that measures the sync's cost (`node/benches/durability.rs`);
    /// a node always syncs, and its acknowledgements promise it.
    #[doc(hidden)]
    pub fn set_log_sync(&self, on: bool) {
        self.flushes.set_sync(on);
    }

    /// Compares what the database holds with its watermark.
    pub(super) fn check_watermark(&self) -> Result<watermark::Verdict, StoreError> {
        let wm = watermark::read(&self.watermark).map_err(|e| StoreError::Watermark {
            detail: e.to_string(),
        })?;
        let stored = self
            .db
            .get(watermark::MARK_KEY)
            .map_err(|e| self.err(e))?
            .and_then(|v| watermark::Mark::decode(&v));
        let seq = stored
            .map(|m| m.seq)
            .max(wm.as_ref().map(|w| w.mark.seq))
            .unwrap_or(0);
        self.flushes.lock().seq = seq;
        Ok(match &wm {
            None => watermark::Verdict::Whole,
            Some(w) => watermark::verdict(w, stored, self.mark(stored.map_or(0, |m| m.seq))),
        })
    }

    /// Writes a new mark into the database, flushes it, and writes the
    /// watermark file; `clean` at a clean stop.
    pub(super) fn write_mark(&self, clean: bool) -> Result<(), StoreError> {
        // Flushes one at a time, so that marks reach the file in order; the
        // write lock only while the mark is taken and stored, so that the
        // mark's count and digest are those of the records before it.
        let (mut flushes, number) = if clean {
            self.flushes.begin()
        } else {
            match self.flushes.turn() {
                // A flush that began after this writer asked covered its
                // writes: nothing to do.
                Turn::Covered => return Ok(()),
                Turn::Flush(state, number) => (state, number),
            }
        };
        flushes.seq += 1;
        let mark = {
            let _write = self.lock();
            let mark = self.mark(flushes.seq);
            let counts = self.counts_now();
            self.db
                .insert(super::counts::COUNTS_KEY, counts.encode())
                .map_err(|e| self.err(e))?;
            self.db
                .insert(watermark::MARK_KEY, &mark.encode())
                .map_err(|e| self.err(e))?;
            self.counted.store(counts.journal, Ordering::Release);
            mark
        };
        self.db.flush().map_err(|e| self.err(e))?;
        self.flushes
            .synced(&mut flushes, number)
            .map_err(|e| self.err(::sled::Error::Io(e)))?;
        // The file costs an fsync: written at most every FILE_SPACING (and
        // at every clean stop), the mark in the database every flush.
        if !clean
            && flushes
                .file_at
                .is_some_and(|t| t.elapsed() < watermark::FILE_SPACING)
        {
            return Ok(());
        }
        flushes.file_at = Some(Instant::now());
        watermark::write(
            &self.watermark,
            &watermark::Watermark {
                mark,
                clean,
                at: crate::clock::now(),
            },
        )
        .map_err(|e| StoreError::Watermark {
            detail: e.to_string(),
        })
    }
}
