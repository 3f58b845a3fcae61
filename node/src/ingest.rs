//! The ingest pipeline: the one path by which a listing enters a node,
//! whatever its source (local API, gossip, sync).
//!
//! `decode -> validate -> policy -> store -> index -> announce`. A duplicate
//! is recognised by its content id before any signature check, since a node
//! sees the same bytes from many peers. The policy stage is
//! [`Moderation::admits`]. Storing and queueing the index change happen
//! under one write lock, so that the index sees changes in store order. A
//! listing from [`Source::Local`] is flushed to disk before it is announced,
//! and the announcement goes to the one publisher (`net`) on a bounded
//! channel. Expected outcomes are values ([`Outcome`]); only failures of the
//! node itself are errors.

mod batch;
mod certs;
mod maintenance;
mod revocation;
mod seen;
mod thanks;
mod vouch;

pub use self::revocation::Revoked;
pub use self::vouch::Vouched;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use buurt_protocol::{validate_cached, ContentId, Limits, SignedListing};
use tokio::sync::mpsc;

use crate::moderation::{Moderation, ModerationError};
use crate::search::indexer::{Change, Indexer, IndexerError};
use crate::search::{SearchError, SearchIndex};
use crate::space::Space;
use crate::store::{PutOutcome, Store, StoreError};

pub use crate::outcome::{Announcement, Outcome, Reason, Source};

/// Capacity of the announce channel. A local post waits for room (the
/// publisher paces the poster); a delivery from a peer is announced only if
/// there is room.
pub const ANNOUNCE: usize = 1_024;

/// A failure of the node itself (disk, database), not of the listing.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("search index: {0}")]
    Search(#[from] SearchError),
    #[error(transparent)]
    Indexer(#[from] IndexerError),
    #[error("moderation: {0}")]
    Moderation(#[from] ModerationError),
    /// The node is stopping: nothing more is written.
    #[error("the node is stopping")]
    Closed,
    #[error("{0}")]
    Thanks(String),
    /// Less free disk space than the reserve: nothing is written.
    #[error("{}: {} MB free, under the {} MB reserve; free some space (nothing was stored)", crate::space::FULL, free / 1_000_000, reserve / 1_000_000)]
    StorageFull { free: u64, reserve: u64 },
}

/// Counters since start, for `status`.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Stats {
    pub stored: u64,
    pub duplicate: u64,
    pub superseded: u64,
    /// Rejections by reason code.
    pub rejected: BTreeMap<String, u64>,
    /// What was ignored rather than refused, by reason code: listings of
    /// members of nodes outside the web (`unvouched_node`).
    #[serde(default)]
    pub ignored: BTreeMap<String, u64>,
}

/// A listing that passed the checks, or the outcome that stopped it.
type Checked = Result<Result<SignedListing, Outcome>, IngestError>;

/// The pipeline. Cheap to share (`Arc`); safe to call from many threads.
/// Its entry points block on disk: call them from blocking threads.
pub struct Ingest {
    store: Arc<dyn Store>,
    index: Arc<SearchIndex>,
    indexer: Indexer,
    limits: Limits,
    moderation: Arc<Moderation>,
    certs: certs::Certs,
    /// Content ids of revisions this process stored (and that are still the
    /// latest at their address): most duplicates are answered from here
    /// without touching the database. A miss falls back to the store.
    seen: seen::Seen,
    announce: Option<mpsc::Sender<Announcement>>,
    /// The free space under the store, when it is on disk.
    space: Option<Arc<Space>>,
    /// Set by [`Ingest::close`]: every write is refused from then on, so
    /// that the store's clean-stop mark is the last word.
    closed: std::sync::atomic::AtomicBool,
    stats: Mutex<Stats>,
    /// Serialises store-then-enqueue so that index changes reach the indexer
    /// in store order, and the index never keeps an older revision.
    write: Mutex<()>,
    /// Counts changes to the store, so that what is derived from it (the
    /// sync items) knows when to rebuild.
    version: AtomicU64,
    /// The thanks this node keeps.
    thanks: Arc<crate::thanks::Book>,
    /// The members' watches, checked against every listing stored.
    watches: Option<Arc<crate::watch::Watches>>,
    impact: std::sync::OnceLock<Arc<crate::impact::Ledger>>,
}

impl Ingest {
    /// The pipeline over `store` and `index`, with the node's listing
    /// limits and index commit interval from `config`, the policy stage
    /// `moderation` (built completely beforehand), and the sender of the
    /// announce channel (`None`: nobody listens), and the free space to
    /// keep (`None`: a store in memory).
    pub fn new(
        store: Arc<dyn Store>,
        index: Arc<SearchIndex>,
        config: &crate::config::Config,
        moderation: Arc<Moderation>,
        announce: Option<mpsc::Sender<Announcement>>,
        space: Option<Arc<Space>>,
    ) -> Ingest {
        let thanks = crate::thanks::Book::in_memory_for(&moderation);
        Ingest::with_thanks(store, index, config, moderation, announce, space, thanks)
    }

    /// Like [`Ingest::new`], with the thanks kept in `thanks`.
    pub fn with_thanks(
        store: Arc<dyn Store>,
        index: Arc<SearchIndex>,
        config: &crate::config::Config,
        moderation: Arc<Moderation>,
        announce: Option<mpsc::Sender<Announcement>>,
        space: Option<Arc<Space>>,
        thanks: Arc<crate::thanks::Book>,
    ) -> Ingest {
        Ingest {
            indexer: Indexer::start(index.clone(), config.index_commit),
            store,
            index,
            limits: config.limits.clone(),
            moderation,
            certs: certs::Certs::default(),
            seen: seen::Seen::default(),
            announce,
            space,
            closed: std::sync::atomic::AtomicBool::new(false),
            stats: Mutex::new(Stats::default()),
            write: Mutex::new(()),
            version: AtomicU64::new(0),
            thanks,
            watches: None,
            impact: std::sync::OnceLock::new(),
        }
    }

    /// The same pipeline, checking every listing it stores against
    /// `watches`.
    pub fn with_watches(mut self, watches: Arc<crate::watch::Watches>) -> Ingest {
        self.watches = Some(watches);
        self
    }

    /// The members' watches, if this pipeline checks any.
    pub fn watches(&self) -> Option<&Arc<crate::watch::Watches>> {
        self.watches.as_ref()
    }

    /// The impact ledger, once set.
    pub fn impact(&self) -> Option<&Arc<crate::impact::Ledger>> {
        self.impact.get()
    }

    /// Notes every listing stored from now on in the impact ledger.
    pub fn set_impact(&self, ledger: Arc<crate::impact::Ledger>) {
        let _ = self.impact.set(ledger);
    }

    /// Checks a stored listing against the watches, and notes it in the
    /// impact ledger.
    fn watch(&self, l: &SignedListing, now: i64) {
        if let Some(w) = &self.watches {
            w.on_stored(l, now);
        }
        if let Some(ledger) = self.impact.get() {
            let own = l.listing.certificate.node == self.moderation.own_node();
            if let Err(e) = ledger.listing(l, own) {
                tracing::warn!("{e}; the impact figures miss this listing (check that the data directory is writable and has free space)");
            }
        }
    }

    /// Runs one listing through the pipeline at time `now` (Unix seconds).
    /// A stored listing from [`Source::Local`] is flushed to disk before
    /// this returns (so the answer may acknowledge it) and before it is
    /// announced; others are left to the store's background flush.
    pub fn submit(&self, bytes: &[u8], source: Source, now: i64) -> Result<Outcome, IngestError> {
        let started = std::time::Instant::now();
        self.room()?;
        let outcome = match self.check(bytes, now, source)? {
            Ok(signed) => self.commit_listing(signed, now, source)?,
            Err(outcome) => outcome,
        };
        self.count(&outcome, source);
        if let Outcome::Stored(l) = &outcome {
            self.watch(l, now);
            if source.publishes() {
                self.store.flush()?;
            }
            self.announce(Announcement::Listing {
                listing: l.clone(),
                source,
            });
        }
        crate::metrics::took(|m| &m.ingest_seconds, source.name(), started.elapsed());
        Ok(outcome)
    }

    /// The stages that need no write lock: the duplicate check by content id
    /// (before any signature check), validation and policy.
    fn check(&self, bytes: &[u8], now: i64, source: Source) -> Checked {
        let content_id = ContentId::of(bytes);
        let stored = |at| self.store.contains_content(&at, &content_id);
        if self.seen.contains(&content_id)
            || SignedListing::address_of(bytes).map_or(Ok(false), stored)?
        {
            return Ok(Err(Outcome::Duplicate(content_id)));
        }
        // A member of a node outside the policy is ignored before any
        // signature is checked: a flood from self-made nodes costs a decode.
        if let Ok(claimed) = SignedListing::decode(bytes) {
            if let Some(r) = self
                .moderation
                .node_refusal(&claimed.listing.certificate.node)
            {
                return Ok(Err(Outcome::Rejected(r)));
            }
        }
        let signed = match validate_cached(bytes, now, &self.limits, &mut self.certs.cache()) {
            Ok(s) => s,
            Err(r) => return Ok(Err(Outcome::Rejected(Reason::Invalid(r)))),
        };
        if let Err(r) = self.moderation.admits(&signed.listing, now, source) {
            return Ok(Err(Outcome::Rejected(r)));
        }
        Ok(Ok(signed))
    }

    /// Store and queue for the index, under the write lock.
    fn commit_listing(
        &self,
        signed: SignedListing,
        now: i64,
        source: Source,
    ) -> Result<Outcome, IngestError> {
        let _w = self.lock_writes();
        let mut changes = Vec::with_capacity(1);
        let outcome = self.commit_locked(signed, &mut changes, now, source)?;
        self.indexer.apply(changes, self.store.journal_head());
        Ok(outcome)
    }

    /// Waits, if a stored listing is not searchable yet, until it is: the
    /// index commits at once. Costs nothing otherwise, so every search calls
    /// it: a resident finds what they just posted, and what arrived from
    /// peers since the last commit (the indexer commits for readers, see
    /// `search::indexer`).
    pub fn searchable(&self) -> Result<(), IngestError> {
        if self.indexer.is_all_committed() {
            return Ok(());
        }
        self.commit_index()
    }

    /// Stores one checked listing; the caller holds the write lock and hands
    /// `changes` to the indexer before it lets go, so that the index sees
    /// changes in store order.
    fn commit_locked(
        &self,
        signed: SignedListing,
        changes: &mut Vec<Change>,
        now: i64,
        source: Source,
    ) -> Result<Outcome, IngestError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(IngestError::Closed);
        }
        let content_id = signed.content_id();
        // Checked again under the write lock: a block made while this
        // listing was being checked has already purged the store, and the
        // rate check in `check` ran on many threads at once.
        if let Err(r) = self.moderation.still_admits(&signed.listing, now, source) {
            return Ok(Outcome::Rejected(r));
        }
        let replaced = match self.store.put(&signed)? {
            PutOutcome::Duplicate => return Ok(Outcome::Duplicate(content_id)),
            PutOutcome::Superseded => return Ok(Outcome::Superseded(content_id)),
            PutOutcome::Stored { replaced } => replaced,
        };
        let signed = Arc::new(signed);
        changes.push(Change::for_listing(&signed));
        self.version.fetch_add(1, Ordering::Release);
        self.moderation.stored(&signed.listing, now, source);
        let replaced = replaced.map(|old| old.content_id());
        self.seen.stored(&content_id, replaced.as_ref());
        Ok(Outcome::Stored(signed))
    }

    /// Sends an announcement: a local one waits for room in the channel,
    /// one from a peer is dropped when the channel is full (nothing
    /// publishes it).
    fn announce(&self, a: Announcement) {
        let Some(tx) = &self.announce else { return };
        if a.source().publishes() {
            // Fails only when the publisher has stopped (no network).
            let _ = tx.blocking_send(a);
        } else {
            let _ = tx.try_send(a);
        }
    }

    /// Refuses to write once closed, or while less free disk space than the
    /// reserve is left (read at most every 200 ms).
    fn room(&self) -> Result<(), IngestError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(IngestError::Closed);
        }
        let Some(space) = &self.space else {
            return Ok(());
        };
        match space.free() {
            Some(free) if free < space.reserve() => Err(IngestError::StorageFull {
                free,
                reserve: space.reserve(),
            }),
            _ => Ok(()),
        }
    }

    fn count(&self, o: &Outcome, source: Source) {
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        let (outcome, reason) = match o {
            Outcome::Stored(_) => {
                s.stored += 1;
                ("stored", "")
            }
            Outcome::Duplicate(_) => {
                s.duplicate += 1;
                ("duplicate", "")
            }
            Outcome::Superseded(_) => {
                s.superseded += 1;
                ("superseded", "")
            }
            Outcome::Rejected(r @ Reason::Unvouched(_)) => {
                *s.ignored.entry(r.code().to_owned()).or_default() += 1;
                ("ignored", r.code())
            }
            Outcome::Rejected(r) => {
                *s.rejected.entry(r.code().to_owned()).or_default() += 1;
                ("rejected", r.code())
            }
        };
        drop(s);
        crate::metrics::ingested(source.name(), outcome, reason);
    }

    fn lock_writes(&self) -> std::sync::MutexGuard<'_, ()> {
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A number that changes whenever the store does (not persistent).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
