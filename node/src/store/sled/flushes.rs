//! Flushes that make acknowledged writes durable, shared by the writers
//! that wait at the same time (group commit).
//!
//! sled's own flush writes its log and calls `sync_file_range`, which
//! neither flushes the drive's write cache nor the file's size; sled calls
//! `fsync` only from its background thread, every half second. So a flush
//! here is sled's flush followed by `fdatasync` of sled's log file: when it
//! returns, the write is on stable storage, as far as the drive obeys the
//! kernel (docs/operator.md, "Durability and recovery").
//!
//! Writers that call [`SledStore::flush`] while another flush runs wait for
//! it, and then one of them flushes for all: a flush that began after a
//! writer asked covers that writer's write, so the others return without
//! a second sync.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

pub(super) struct Flushes {
    state: Mutex<State>,
    /// Flushes begun so far (each takes its number under `state`).
    begun: AtomicU64,
    /// sled's log file, synced after each flush; `None` where it cannot be
    /// opened (the flush is then sled's alone, and the open said so).
    log: Option<File>,
    syncs: AtomicU64,
    /// Off only in the durability benchmark, to measure what the sync costs.
    sync: std::sync::atomic::AtomicBool,
}

pub(super) struct State {
    /// The watermark's sequence: flushes so far, over the database's life.
    pub seq: u64,
    /// When the watermark file was last written.
    pub file_at: Option<Instant>,
    /// The number (of `begun`) of the last flush that completed.
    done: u64,
}

/// A flush to make, or none needed.
pub(super) enum Turn<'a> {
    /// A flush that began after this writer asked has completed.
    Covered,
    /// This writer flushes, for itself and every writer waiting.
    Flush(MutexGuard<'a, State>, u64),
}

impl Flushes {
    /// For the database at `path`: opens sled's log file to sync it.
    pub fn new(path: &Path) -> Flushes {
        let log = match crate::durable::log_file(path) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(
                    "cannot open {} to sync it ({e}); listings are flushed by the database alone \
                     and may not survive a power loss; check the data directory's permissions",
                    path.join("db").display()
                );
                None
            }
        };
        Flushes {
            state: Mutex::new(State {
                seq: 0,
                file_at: None,
                done: 0,
            }),
            begun: AtomicU64::new(0),
            log,
            syncs: AtomicU64::new(0),
            sync: std::sync::atomic::AtomicBool::new(true),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for the flush running, if any; says whether this writer's
    /// writes (made before this call) are durable already or it must flush.
    pub fn turn(&self) -> Turn<'_> {
        self.turn_for(self.ask())
    }

    /// The number of the first flush to begin from now on: one with that
    /// number or higher covers every write made before this call.
    fn ask(&self) -> u64 {
        self.begun.load(Ordering::Acquire) + 1
    }

    fn turn_for(&self, need: u64) -> Turn<'_> {
        let state = self.lock();
        if state.done >= need {
            return Turn::Covered;
        }
        let number = self.begun.fetch_add(1, Ordering::AcqRel) + 1;
        Turn::Flush(state, number)
    }

    /// A flush whatever ran before (a clean stop): the state and its number.
    pub fn begin(&self) -> (MutexGuard<'_, State>, u64) {
        let state = self.lock();
        let number = self.begun.fetch_add(1, Ordering::AcqRel) + 1;
        (state, number)
    }

    /// After sled's flush: syncs the log file, and notes flush `number` done.
    pub fn synced(&self, state: &mut State, number: u64) -> std::io::Result<()> {
        if let Some(f) = self
            .log
            .as_ref()
            .filter(|_| self.sync.load(Ordering::Relaxed))
        {
            f.sync_data()?;
            self.syncs.fetch_add(1, Ordering::Relaxed);
        }
        state.done = number;
        Ok(())
    }

    /// Whether flushes sync the log file (always, but in the benchmark that
    /// measures what the sync costs).
    pub fn set_sync(&self, on: bool) {
        self.sync.store(on, Ordering::Relaxed);
    }

    /// Syncs of the log file so far.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flushes() -> (tempfile::TempDir, Flushes) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("db"), b"log").unwrap();
        let f = Flushes::new(dir.path());
        assert!(f.log.is_some());
        (dir, f)
    }

    /// Writers that ask while a flush runs share the next one: the first
    /// to get the lock flushes, the others find their writes covered.
    #[test]
    fn writers_waiting_for_a_flush_share_the_next() {
        let (_dir, f) = flushes();
        let a = f.ask();
        let Turn::Flush(mut state, n) = f.turn_for(a) else {
            panic!("the first writer flushes");
        };
        // B and C write and ask while A's flush runs: A's flush began
        // before, so it does not cover them.
        let (b, c) = (f.ask(), f.ask());
        f.synced(&mut state, n).unwrap();
        drop(state);
        let Turn::Flush(mut state, n) = f.turn_for(b) else {
            panic!("B is not covered by a flush that began before it asked");
        };
        f.synced(&mut state, n).unwrap();
        drop(state);
        assert!(
            matches!(f.turn_for(c), Turn::Covered),
            "C is covered by B's flush, which began after C asked"
        );
        // D asks after every flush: it flushes itself.
        let d = f.ask();
        assert!(matches!(f.turn_for(d), Turn::Flush(..)));
        assert_eq!(f.syncs(), 2);
    }

    /// A clean stop flushes even when nothing is waiting.
    #[test]
    fn a_clean_stop_always_syncs() {
        let (_dir, f) = flushes();
        let (mut state, n) = f.begin();
        f.synced(&mut state, n).unwrap();
        drop(state);
        let (mut state, n) = f.begin();
        f.synced(&mut state, n).unwrap();
        assert_eq!(f.syncs(), 2);
    }
}
