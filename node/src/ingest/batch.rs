//! A page of listings through the pipeline at once (catch-up sync): the
//! checks run on worker threads while the calling thread stores in page
//! order.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Announcement, Checked, Ingest, IngestError, Outcome, Source};
use crate::search::indexer::Change;

impl Ingest {
    /// Runs a page of listings through the pipeline: worker threads (one per
    /// core) run the checks (duplicate, validation, policy) while this thread
    /// stores the checked listings in page order as soon as each is ready,
    /// and checks listings itself while it waits for the next one.
    /// Outcomes come back in the order of `items`; stored listings are then
    /// announced (after a flush, for a local source).
    pub fn submit_batch(
        &self,
        items: &[Vec<u8>],
        source: Source,
        now: i64,
    ) -> Result<Vec<Outcome>, IngestError> {
        let started = std::time::Instant::now();
        self.room()?;
        let out = self.store_batch(items, now, source)?;
        let stored = out.iter().filter_map(|o| match o {
            Outcome::Stored(l) => Some(l.clone()),
            _ => None,
        });
        let mut stored = stored.peekable();
        if stored.peek().is_some() && source.publishes() {
            self.store.flush()?;
        }
        for listing in stored {
            self.watch(&listing, now);
            self.announce(Announcement::Listing { listing, source });
        }
        crate::metrics::took(|m| &m.ingest_page_seconds, source.name(), started.elapsed());
        Ok(out)
    }

    fn store_batch(
        &self,
        items: &[Vec<u8>],
        now: i64,
        source: Source,
    ) -> Result<Vec<Outcome>, IngestError> {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8);
        let _w = self.lock_writes();
        let mut changes = Vec::with_capacity(items.len());
        let mut out = Vec::with_capacity(items.len());
        let mut failed = None;
        let mut store =
            |checked: Checked, out: &mut Vec<Outcome>, changes: &mut Vec<Change>| -> bool {
                let outcome = match checked {
                    Ok(Ok(signed)) => self.commit_locked(signed, changes, now, source),
                    Ok(Err(outcome)) => Ok(outcome),
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok(o) => {
                        self.count(&o, source);
                        out.push(o);
                        true
                    }
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                }
            };
        if workers < 2 || items.len() < 2 * workers {
            for b in items {
                if !store(self.check(b, now, source), &mut out, &mut changes) {
                    break;
                }
            }
        } else {
            // Items are claimed one at a time from a shared counter, by the
            // workers and by this thread whenever the next item in page
            // order is not ready yet, so no core idles while there is work.
            let claim = AtomicUsize::new(0);
            let claim = &claim;
            std::thread::scope(|scope| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Checked)>(items.len());
                for _ in 0..workers {
                    let tx = tx.clone();
                    scope.spawn(move || loop {
                        let i = claim.fetch_add(1, Ordering::Relaxed);
                        if i >= items.len()
                            || tx.send((i, self.check(&items[i], now, source))).is_err()
                        {
                            return;
                        }
                    });
                }
                drop(tx);
                // Results arrive out of order; store them in order.
                let mut ready: Vec<Option<Checked>> = (0..items.len()).map(|_| None).collect();
                let mut next = 0;
                while next < items.len() {
                    if let Some(c) = ready[next].take() {
                        next += 1;
                        if !store(c, &mut out, &mut changes) {
                            return;
                        }
                        continue;
                    }
                    let (i, c) = match rx.try_recv() {
                        Ok(r) => r,
                        Err(_) => {
                            let i = claim.fetch_add(1, Ordering::Relaxed);
                            if i < items.len() {
                                (i, self.check(&items[i], now, source))
                            } else {
                                // Everything is claimed: wait for the workers.
                                let Ok(r) = rx.recv() else { break };
                                r
                            }
                        }
                    };
                    ready[i] = Some(c);
                }
            });
        }
        // What was stored reaches the index even when a later store failed.
        self.indexer.apply(changes, self.store.journal_head());
        match failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}
