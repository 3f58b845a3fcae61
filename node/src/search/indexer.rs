//! The indexer thread: applies index changes off the ingest path and commits
//! them in batches.
//!
//! A tantivy commit takes milliseconds of CPU whatever it holds (it builds a
//! term dictionary per field and sizes a fresh term table) and needs the
//! writer to itself; doing it on the ingest path would stall every post
//! behind it. Ingest queues each change while it holds its write lock, so
//! the queue holds changes in store order.
//!
//! The queue holds the changes until the next commit, and the thread applies
//! them all just before it: a change is not searchable before the commit
//! anyway, and applying a batch at once wakes this thread and tantivy's
//! indexing thread once per commit instead of once per listing (thread
//! wake-ups were most of a node's CPU per received listing,
//! docs/performance.md). Queuing wakes the thread only for the first change
//! after a commit (to start its deadline), a full batch, a barrier or the
//! end.
//!
//! Commits follow the readers, not the arrivals: a search first asks for a
//! commit of whatever is pending (`Ingest::searchable`, through
//! [`Indexer::barrier`]), so it sees every listing stored before it. Without
//! searches the thread commits every [`MAX_BATCH`] changes, and otherwise
//! once the oldest pending change has waited the configured interval
//! (`index_commit_ms`, 30 s by default). A node that receives a trickle of listings and is
//! seldom searched thus pays one commit per search or per interval, not one
//! per arrival.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use buurt_protocol::{ListingId, SignedListing, Status};

use super::SearchIndex;

/// The indexer could not commit, or is gone.
#[derive(Debug, thiserror::Error)]
#[error("search indexer: {0}")]
pub struct IndexerError(String);

/// Most changes applied between two commits under load.
pub const MAX_BATCH: usize = 5_000;
/// Most changes the queue holds; ingest waits while it is full (each holds
/// a listing that the store already has, about 1.5 KB).
pub const MAX_HELD: usize = 2 * MAX_BATCH;
/// Longest time between two commits while changes wait, however long
/// commits take.
pub const MAX_SPACING: Duration = Duration::from_secs(1);

/// One change to the index.
pub enum Change {
    Upsert(Arc<SignedListing>),
    Remove(ListingId),
}

impl Change {
    /// The change that brings the index in line with a newly stored
    /// revision: indexed, or (a tombstone) removed.
    pub fn for_listing(l: &Arc<SignedListing>) -> Change {
        if l.listing.status == Status::Withdrawn {
            Change::Remove(l.listing_id())
        } else {
            Change::Upsert(l.clone())
        }
    }
}

/// What waits for the thread.
#[derive(Default)]
struct Queue {
    /// Changes in store order.
    changes: Vec<Change>,
    /// The store's journal sequence after the last of them.
    journal: u64,
    /// When the oldest change came; `None` while none waits.
    since: Option<Instant>,
    /// Callers waiting for everything before them to be committed.
    barriers: Vec<SyncSender<Result<(), String>>>,
    /// The handle is gone: apply what is left, commit and stop.
    closed: bool,
    /// The thread has ended (it panicked): nothing is applied any more.
    stopped: bool,
}

/// The queue, the two ways to wait on it, and the count of what came.
#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Calls of [`Indexer::apply`] so far, counted under the queue's lock
    /// (callers queue under ingest's write lock, so in queue order), and
    /// readable without it.
    sent: AtomicU64,
    /// The thread waits here for work.
    work: Condvar,
    /// Ingest waits here for room.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue's fields are each left whole by every holder.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Handle to the indexer thread.
pub struct Indexer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// Calls of [`Indexer::apply`] whose changes are committed, as the
    /// thread counts them.
    committed: Arc<AtomicU64>,
}

impl Indexer {
    /// Starts the thread that owns writes to `index`; without a barrier it
    /// commits pending changes once they have waited `interval`, or at
    /// [`MAX_BATCH`].
    pub fn start(index: Arc<SearchIndex>, interval: Duration) -> Indexer {
        let shared = Arc::new(Shared::default());
        let committed = Arc::new(AtomicU64::new(0));
        let (s, c) = (shared.clone(), committed.clone());
        let thread = std::thread::Builder::new()
            .name("buurt-indexer".into())
            .spawn(move || {
                let _stopped = Stopped(&s);
                run(index, &s, interval, &c)
            })
            .ok();
        if thread.is_none() {
            tracing::warn!(
                "the indexer thread could not start: new listings are not searchable until the \
                 node is restarted"
            );
            shared.lock().stopped = true;
        }
        Indexer {
            shared,
            thread,
            committed,
        }
    }

    /// Queues changes, in order; `journal` is the store's journal sequence
    /// once they are stored, committed with them as the index's marker (so
    /// that after a crash only the journal's tail is replayed). Returns the
    /// mark to give [`Indexer::is_committed`]: the changes are searchable
    /// once it holds. Waits while the queue is full.
    pub fn apply(&self, changes: Vec<Change>, journal: u64) -> u64 {
        if changes.is_empty() {
            return self.shared.sent.load(Ordering::Acquire);
        }
        let mut q = self.shared.lock();
        while q.changes.len() >= MAX_HELD && !q.stopped {
            q = self.shared.room.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        let first = q.since.is_none();
        q.changes.extend(changes);
        q.journal = q.journal.max(journal);
        let sent = self.shared.sent.fetch_add(1, Ordering::AcqRel) + 1;
        if first {
            q.since = Some(Instant::now());
        }
        let full = q.changes.len() >= MAX_BATCH;
        if q.stopped {
            // No thread to apply them: they are searchable after the next
            // start, which catches the index up from the store's journal.
            q.changes.clear();
        }
        drop(q);
        if first || full {
            self.shared.work.notify_one();
        }
        sent
    }

    /// Whether the changes of `mark` (from [`Indexer::apply`]) are committed.
    pub fn is_committed(&self, mark: u64) -> bool {
        self.committed.load(Ordering::Acquire) >= mark
    }

    /// Whether every change queued so far is committed.
    pub fn is_all_committed(&self) -> bool {
        self.is_committed(self.shared.sent.load(Ordering::Acquire))
    }

    /// Queues the removal of an address.
    pub fn remove(&self, id: ListingId, journal: u64) {
        self.apply(vec![Change::Remove(id)], journal);
    }

    /// Waits until every change queued so far is committed and searchable.
    pub fn barrier(&self) -> Result<(), IndexerError> {
        let (tx, rx) = mpsc::sync_channel(1);
        {
            let mut q = self.shared.lock();
            if q.stopped {
                return Err(IndexerError("the indexer thread has stopped".into()));
            }
            q.barriers.push(tx);
        }
        self.shared.work.notify_one();
        match rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(IndexerError(e)),
            Err(_) => Err(IndexerError("the indexer thread has stopped".into())),
        }
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Marks the queue stopped when the thread ends, however it ends: waiting
/// callers get an error instead of waiting for ever.
struct Stopped<'a>(&'a Shared);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        let mut q = self.0.lock();
        if !q.closed {
            tracing::warn!(
                "the indexer thread has stopped: new listings are not searchable until the node \
                 is restarted, which catches the index up from the store"
            );
        }
        q.stopped = true;
        q.changes.clear();
        q.barriers.clear();
        drop(q);
        self.0.room.notify_all();
    }
}

/// What the thread took from the queue for one commit.
struct Taken {
    changes: Vec<Change>,
    journal: u64,
    sent: u64,
    barriers: Vec<SyncSender<Result<(), String>>>,
    closed: bool,
}

/// Waits until there is something to commit: a barrier, a full batch,
/// changes that have waited `spacing`, or the end.
fn take(shared: &Shared, spacing: Duration) -> Taken {
    let mut q = shared.lock();
    loop {
        let due = match q.since {
            None => None,
            Some(_) if q.changes.len() >= MAX_BATCH => Some(Duration::ZERO),
            Some(since) => Some(spacing.saturating_sub(since.elapsed())),
        };
        if q.closed || !q.barriers.is_empty() || due == Some(Duration::ZERO) {
            break;
        }
        q = match due {
            None => shared.work.wait(q).unwrap_or_else(|p| p.into_inner()),
            Some(wait) => match shared.work.wait_timeout(q, wait) {
                Ok((q, _)) => q,
                Err(p) => p.into_inner().0,
            },
        };
    }
    q.since = None;
    let taken = Taken {
        changes: std::mem::take(&mut q.changes),
        journal: q.journal,
        sent: shared.sent.load(Ordering::Acquire),
        barriers: std::mem::take(&mut q.barriers),
        closed: q.closed,
    };
    drop(q);
    shared.room.notify_all();
    taken
}

fn run(index: Arc<SearchIndex>, shared: &Shared, interval: Duration, committed: &AtomicU64) {
    // How long a change may wait: the configured interval, stretched under
    // load so that commits take at most a tenth of the indexer's time.
    let mut spacing = interval;
    // Changes applied since the last commit.
    let mut pending = 0usize;
    loop {
        let taken = take(shared, spacing);
        for change in taken.changes {
            let applied = match change {
                Change::Upsert(l) => index.upsert(&l),
                Change::Remove(id) => index.remove(&id),
            };
            match applied {
                Ok(()) => pending += 1,
                Err(e) => tracing::warn!(
                    "search index update failed: {e}; if search misses listings, `buurt reindex` \
                     rebuilds the index from the store"
                ),
            }
        }
        let result = if pending > 0 {
            let (r, next) = commit(&index, interval, taken.journal);
            spacing = next;
            pending = 0;
            r
        } else {
            Ok(())
        };
        committed.store(taken.sent, Ordering::Release);
        for reply in taken.barriers {
            let _ = reply.send(result.clone());
        }
        if taken.closed {
            return;
        }
    }
}

/// Commits; returns how it went, and the spacing until the next commit:
/// ten times what this one took, at least `interval` and at most
/// [`MAX_SPACING`] (or `interval`, if that is longer).
fn commit(index: &SearchIndex, interval: Duration, journal: u64) -> (Result<(), String>, Duration) {
    let started = Instant::now();
    let result = commit_marked(index, journal).map_err(|e| e.to_string());
    if let Err(e) = &result {
        tracing::warn!(
            "search index commit failed: {e}; if search misses listings, `buurt reindex` \
             rebuilds the index from the store"
        );
    }
    let took = started.elapsed();
    if let Some(m) = crate::metrics::get() {
        m.index_commit_seconds.observe(took.as_secs_f64());
    }
    (
        result,
        (10 * took).clamp(interval, MAX_SPACING.max(interval)),
    )
}

/// Commits with the store's journal sequence as the marker (a plain commit
/// while no journal is kept).
fn commit_marked(index: &SearchIndex, journal: u64) -> Result<(), crate::search::SearchError> {
    if journal > 0 {
        index.commit_with_marker(journal)
    } else {
        index.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use buurt_protocol::sample::{Identity, T0};

    fn listings(n: usize) -> Vec<Arc<SignedListing>> {
        let id = Identity::fixed();
        (0..n)
            .map(|i| {
                let mut key = [0u8; 16];
                key[..8].copy_from_slice(&(i as u64).to_be_bytes());
                Arc::new(id.offer(key, "Boormachine", T0).sign(&id.member).unwrap())
            })
            .collect()
    }

    fn upserts(ls: &[Arc<SignedListing>]) -> Vec<Change> {
        ls.iter().map(|l| Change::Upsert(l.clone())).collect()
    }

    /// Waits up to 10 s for `ok`.
    fn eventually(mut ok: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn held_changes_are_committed_once_the_oldest_has_waited() {
        let index = Arc::new(SearchIndex::in_memory().unwrap());
        let ix = Indexer::start(index.clone(), Duration::from_millis(50));
        let mark = ix.apply(upserts(&listings(3)), 1);
        assert!(
            eventually(|| ix.is_committed(mark)),
            "committed by the deadline"
        );
        assert_eq!(index.num_docs(), 3);
        assert_eq!(index.marker(), Some(1));
    }

    #[test]
    fn a_barrier_commits_what_is_held_at_once() {
        let index = Arc::new(SearchIndex::in_memory().unwrap());
        let ix = Indexer::start(index.clone(), Duration::from_secs(600));
        let ls = listings(4);
        ix.apply(upserts(&ls[..2]), 1);
        ix.apply(upserts(&ls[2..]), 2);
        // Held, not applied: nothing is in the index before the barrier.
        assert!(!ix.is_all_committed());
        assert_eq!(index.num_docs(), 0);
        ix.barrier().unwrap();
        assert!(ix.is_all_committed());
        assert_eq!(index.num_docs(), 4);
        assert_eq!(index.marker(), Some(2));
        // A removal is applied in order after the upserts it follows.
        ix.remove(ls[0].listing_id(), 3);
        ix.barrier().unwrap();
        assert_eq!(index.num_docs(), 3);
        // A barrier with nothing held answers too.
        ix.barrier().unwrap();
    }

    #[test]
    fn a_full_batch_is_committed_without_a_reader() {
        let index = Arc::new(SearchIndex::in_memory().unwrap());
        let ix = Indexer::start(index.clone(), Duration::from_secs(600));
        let mark = ix.apply(upserts(&listings(MAX_BATCH)), 7);
        assert!(
            eventually(|| ix.is_committed(mark)),
            "committed at a full batch"
        );
        assert_eq!(index.num_docs(), MAX_BATCH as u64);
    }

    #[test]
    fn the_end_commits_what_is_held() {
        let index = Arc::new(SearchIndex::in_memory().unwrap());
        let ix = Indexer::start(index.clone(), Duration::from_secs(600));
        ix.apply(upserts(&listings(2)), 5);
        drop(ix);
        assert_eq!(index.num_docs(), 2);
        assert_eq!(index.marker(), Some(5));
    }
}
