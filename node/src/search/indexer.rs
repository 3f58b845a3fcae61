//! The indexer thread: applies index changes off the ingest path and commits
//! them in batches.
//!
//! A tantivy commit takes milliseconds of CPU whatever it holds (it builds a
//! term dictionary per field and sizes a fresh term table) and needs the
//! writer to itself; doing it on the ingest path would stall every post
//! behind it. Ingest enqueues each change while it holds its write lock, so
//! the queue carries changes in store order.
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
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use buurt_protocol::{ListingId, SignedListing, Status};

use super::SearchIndex;

/// The indexer could not commit, or is gone.
#[derive(Debug, thiserror::Error)]
#[error("search indexer: {0}")]
pub struct IndexerError(String);

/// Capacity of the queue, in messages; ingest waits when it is full.
pub const QUEUE: usize = 128;
/// Most changes in one message: with [`QUEUE`], at most 32,768 listings wait
/// for the indexer at any time.
pub const MAX_CHANGES_PER_MESSAGE: usize = 256;
/// Most changes applied between two commits under load.
pub const MAX_BATCH: usize = 5_000;
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

enum Op {
    /// Changes in store order, and the store's journal sequence after them;
    /// one message per page wakes the thread once.
    Changes(Vec<Change>, u64),
    /// Commit everything before this point, then answer.
    Barrier(SyncSender<Result<(), String>>),
}

/// Handle to the indexer thread.
pub struct Indexer {
    tx: Option<SyncSender<Op>>,
    thread: Option<JoinHandle<()>>,
    /// Messages of changes sent so far. The callers send under ingest's
    /// write lock, so this counts them in channel order.
    sent: AtomicU64,
    /// Messages of changes committed so far, as the thread counts them.
    committed: Arc<AtomicU64>,
}

impl Indexer {
    /// Starts the thread that owns writes to `index`; without a barrier it
    /// commits pending changes once they have waited `interval`, or at
    /// [`MAX_BATCH`].
    pub fn start(index: Arc<SearchIndex>, interval: Duration) -> Indexer {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let committed = Arc::new(AtomicU64::new(0));
        let c = committed.clone();
        let thread = std::thread::Builder::new()
            .name("buurt-indexer".into())
            .spawn(move || run(index, rx, interval, &c))
            .ok();
        Indexer {
            tx: Some(tx),
            thread,
            sent: AtomicU64::new(0),
            committed,
        }
    }

    fn send(&self, op: Op) {
        if let Some(tx) = &self.tx {
            if tx.send(op).is_err() {
                tracing::warn!(
                    "the indexer thread has stopped: new listings are not searchable until the \
                     node is restarted, which rebuilds the index"
                );
            }
        }
    }

    /// Queues changes, in order; `journal` is the store's journal sequence
    /// once they are stored, committed with them as the index's marker (so
    /// that after a crash only the journal's tail is replayed). Returns the
    /// mark to give [`Indexer::is_committed`]: the changes are searchable
    /// once it holds.
    pub fn apply(&self, mut changes: Vec<Change>, journal: u64) -> u64 {
        while changes.len() > MAX_CHANGES_PER_MESSAGE {
            let rest = changes.split_off(MAX_CHANGES_PER_MESSAGE);
            self.send_changes(changes, journal);
            changes = rest;
        }
        if !changes.is_empty() {
            self.send_changes(changes, journal);
        }
        self.sent.load(Ordering::Acquire)
    }

    fn send_changes(&self, changes: Vec<Change>, journal: u64) {
        self.sent.fetch_add(1, Ordering::AcqRel);
        self.send(Op::Changes(changes, journal));
    }

    /// Whether the changes of `mark` (from [`Indexer::apply`]) are committed.
    pub fn is_committed(&self, mark: u64) -> bool {
        self.committed.load(Ordering::Acquire) >= mark
    }

    /// Whether every change queued so far is committed.
    pub fn is_all_committed(&self) -> bool {
        self.is_committed(self.sent.load(Ordering::Acquire))
    }

    /// Queues the removal of an address.
    pub fn remove(&self, id: ListingId, journal: u64) {
        self.apply(vec![Change::Remove(id)], journal);
    }

    /// Waits until every change queued so far is committed and searchable.
    pub fn barrier(&self) -> Result<(), IndexerError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Op::Barrier(tx));
        match rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(IndexerError(e)),
            Err(_) => Err(IndexerError("the indexer thread has stopped".into())),
        }
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(index: Arc<SearchIndex>, rx: Receiver<Op>, interval: Duration, committed: &AtomicU64) {
    let mut pending = 0usize;
    // Messages of changes received; a commit makes all of them searchable.
    let mut received = 0u64;
    // The store's journal sequence of the last change applied: committed
    // as the index's marker.
    let mut journal = 0u64;
    // Since when the oldest uncommitted change has waited.
    let mut last_commit = Instant::now();
    // How long a change may wait: the configured interval, stretched under
    // load so that commits take at most a tenth of the indexer's time.
    let mut spacing = interval;
    loop {
        let op = if pending == 0 {
            match rx.recv() {
                Ok(op) => op,
                Err(_) => return,
            }
        } else {
            let wait = spacing.saturating_sub(last_commit.elapsed());
            match rx.recv_timeout(wait) {
                Ok(op) => op,
                Err(RecvTimeoutError::Timeout) => {
                    spacing = commit(&index, &mut pending, &mut last_commit, interval, journal);
                    committed.store(received, Ordering::Release);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    commit(&index, &mut pending, &mut last_commit, interval, journal);
                    return;
                }
            }
        };
        let changes = match op {
            Op::Changes(changes, j) => {
                journal = journal.max(j);
                changes
            }
            Op::Barrier(reply) => {
                let r = if pending > 0 {
                    commit_marked(&index, journal)
                } else {
                    Ok(())
                };
                pending = 0;
                last_commit = Instant::now();
                committed.store(received, Ordering::Release);
                let _ = reply.send(r.map_err(|e| e.to_string()));
                continue;
            }
        };
        received += 1;
        if pending == 0 {
            last_commit = Instant::now();
        }
        for change in changes {
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
        if pending >= MAX_BATCH || (pending > 0 && last_commit.elapsed() >= spacing) {
            spacing = commit(&index, &mut pending, &mut last_commit, interval, journal);
        }
        if pending == 0 {
            committed.store(received, Ordering::Release);
        }
    }
}

/// Commits, and returns the spacing until the next commit: ten times what
/// this one took, at least `interval` and at most [`MAX_SPACING`] (or
/// `interval`, if that is longer).
fn commit(
    index: &SearchIndex,
    pending: &mut usize,
    last: &mut Instant,
    interval: Duration,
    journal: u64,
) -> Duration {
    let started = Instant::now();
    if let Err(e) = commit_marked(index, journal) {
        tracing::warn!(
            "search index commit failed: {e}; if search misses listings, `buurt reindex` \
             rebuilds the index from the store"
        );
    }
    *pending = 0;
    *last = Instant::now();
    let took = started.elapsed();
    if let Some(m) = crate::metrics::get() {
        m.index_commit_seconds.observe(took.as_secs_f64());
    }
    (10 * took).clamp(interval, MAX_SPACING.max(interval))
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
