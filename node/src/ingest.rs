//! The ingest pipeline: the one path by which a listing enters a node,
//! whatever its source (local API, gossip, sync).
//!
//! `decode -> validate -> policy -> store -> index -> announce`. A duplicate is
//! recognised by its content id before any signature check, since a node sees
//! the same bytes from many peers. Expected outcomes are values
//! ([`Outcome`]); only failures of the node itself are errors.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use buurt_protocol::{
    validate_cached, CertificateCache, ContentId, ListingId, Rejection, SignedListing, Status,
};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::search::{SearchError, SearchIndex};
use crate::store::{PutOutcome, Store, StoreError};

/// Where a listing came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Posted through this node's API by a resident.
    Local,
    /// Received from a peer by gossip.
    Gossip,
    /// Fetched from a peer by catch-up sync.
    Sync,
}

/// Why the pipeline refused a listing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// The listing breaks a protocol rule.
    #[error("{0}")]
    Invalid(Rejection),
    /// Valid, but of a scope this node does not follow.
    #[error("this node does not follow scope {0}")]
    NotFollowed(String),
}

impl Reason {
    /// A stable snake_case name for APIs, logs and counters.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Invalid(r) => r.code(),
            Reason::NotFollowed(_) => "not_followed",
        }
    }

    /// True when the sender provably sent bad data (a peer to score down),
    /// false when the listing is merely stale or not for us.
    pub fn is_invalid(&self) -> bool {
        match self {
            Reason::Invalid(r) => r.is_invalid(),
            Reason::NotFollowed(_) => false,
        }
    }
}

/// What happened to one listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// New or newer: stored, indexed and announced.
    Stored(Box<SignedListing>),
    /// This exact revision is already stored.
    Duplicate(ContentId),
    /// A newer revision of the address is already stored.
    Superseded(ContentId),
    Rejected(Reason),
}

impl Outcome {
    /// A stable name: `stored`, `duplicate`, `superseded` or `rejected`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Stored(_) => "stored",
            Outcome::Duplicate(_) => "duplicate",
            Outcome::Superseded(_) => "superseded",
            Outcome::Rejected(_) => "rejected",
        }
    }
}

/// A failure of the node itself (disk, database), not of the listing.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("search index: {0}")]
    Search(#[from] SearchError),
}

/// Most certificates remembered as verified; the cache is cleared when full.
const CERT_CACHE_MAX: usize = 100_000;

struct CertCache(HashSet<[u8; 32]>);

impl CertificateCache for CertCache {
    fn is_verified(&self, fp: &[u8; 32]) -> bool {
        self.0.contains(fp)
    }
    fn remember(&mut self, fp: [u8; 32]) {
        if self.0.len() >= CERT_CACHE_MAX {
            self.0.clear();
        }
        self.0.insert(fp);
    }
}

/// Counters since start, for `status`.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Stats {
    pub stored: u64,
    pub duplicate: u64,
    pub superseded: u64,
    /// Rejections by reason code.
    pub rejected: BTreeMap<String, u64>,
}

/// The pipeline. Cheap to share (`Arc`); safe to call from many threads.
pub struct Ingest {
    store: Arc<dyn Store>,
    index: Arc<SearchIndex>,
    config: Arc<Config>,
    certs: Mutex<CertCache>,
    announce: Option<mpsc::Sender<SignedListing>>,
    stats: Mutex<Stats>,
    index_dirty: AtomicBool,
    /// Serialises store-then-index so that the index never ends up holding an
    /// older revision than the store when two revisions race.
    write: Mutex<()>,
    generation: AtomicU64,
}

impl Ingest {
    pub fn new(
        store: Arc<dyn Store>,
        index: Arc<SearchIndex>,
        config: Arc<Config>,
        announce: Option<mpsc::Sender<SignedListing>>,
    ) -> Ingest {
        Ingest {
            store,
            index,
            config,
            certs: Mutex::new(CertCache(HashSet::new())),
            announce,
            stats: Mutex::new(Stats::default()),
            index_dirty: AtomicBool::new(false),
            write: Mutex::new(()),
            generation: AtomicU64::new(0),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn index(&self) -> &Arc<SearchIndex> {
        &self.index
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Runs one listing through the pipeline at time `now` (Unix seconds).
    /// Does not flush: call [`Ingest::flush`] before acknowledging to a user.
    pub fn submit(&self, bytes: &[u8], _source: Source, now: i64) -> Result<Outcome, IngestError> {
        let outcome = self.run(bytes, now)?;
        self.count(&outcome);
        Ok(outcome)
    }

    fn run(&self, bytes: &[u8], now: i64) -> Result<Outcome, IngestError> {
        let content_id = ContentId::of(bytes);
        if self.store.contains_content(&content_id)? {
            return Ok(Outcome::Duplicate(content_id));
        }
        let signed = {
            let mut certs = self.certs.lock().unwrap_or_else(|p| p.into_inner());
            match validate_cached(bytes, now, &self.config.limits, &mut *certs) {
                Ok(s) => s,
                Err(r) => return Ok(Outcome::Rejected(Reason::Invalid(r))),
            }
        };
        if !self.config.follows(&signed.listing.scope) {
            return Ok(Outcome::Rejected(Reason::NotFollowed(
                signed.listing.scope.to_string(),
            )));
        }
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        match self.store.put(&signed)? {
            PutOutcome::Duplicate => return Ok(Outcome::Duplicate(content_id)),
            PutOutcome::Superseded => return Ok(Outcome::Superseded(content_id)),
            PutOutcome::Stored { .. } => {}
        }
        self.generation.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.index.upsert(&signed) {
            // The store is the truth; the index is rebuilt from it at next start.
            tracing::warn!("search index update failed, will rebuild: {e}");
        }
        self.index_dirty.store(true, Ordering::Release);
        drop(_w);
        if let Some(tx) = &self.announce {
            if tx.try_send(signed.clone()).is_err() {
                tracing::debug!(
                    "announce queue full; catch-up sync will deliver {}",
                    signed.listing_id()
                );
            }
        }
        Ok(Outcome::Stored(Box::new(signed)))
    }

    fn count(&self, o: &Outcome) {
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        match o {
            Outcome::Stored(_) => s.stored += 1,
            Outcome::Duplicate(_) => s.duplicate += 1,
            Outcome::Superseded(_) => s.superseded += 1,
            Outcome::Rejected(r) => *s.rejected.entry(r.code().to_owned()).or_default() += 1,
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Makes every stored listing durable.
    pub fn flush(&self) -> Result<(), IngestError> {
        Ok(self.store.flush()?)
    }

    /// Commits the search index if anything changed since the last commit.
    pub fn commit_index(&self) -> Result<(), IngestError> {
        if self.index_dirty.swap(false, Ordering::AcqRel) {
            if let Err(e) = self.index.commit() {
                self.index_dirty.store(true, Ordering::Release);
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Removes expired listings from the store and the index.
    pub fn sweep(&self, now: i64) -> Result<usize, IngestError> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let removed = self.store.sweep_expired(now)?;
        for id in &removed {
            self.index.remove(id)?;
        }
        if !removed.is_empty() {
            self.index_dirty.store(true, Ordering::Release);
            self.store.flush()?;
        }
        Ok(removed.len())
    }

    /// Removes one address from store and index (moderation).
    pub fn remove(&self, id: &ListingId) -> Result<Option<SignedListing>, IngestError> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let removed = self.store.remove(id)?;
        self.index.remove(id)?;
        self.index_dirty.store(true, Ordering::Release);
        Ok(removed)
    }

    /// Rebuilds the search index from the store, reporting `(done, total)`.
    pub fn reindex(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<usize, IngestError> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let all = self.store.all()?;
        let total = all.len();
        self.index.clear()?;
        let mut indexed = 0;
        for (i, l) in all.iter().enumerate() {
            if l.listing.status != Status::Withdrawn {
                self.index.upsert(l)?;
                indexed += 1;
            }
            if i % 1_000 == 0 {
                progress(i, total);
            }
        }
        self.index.commit()?;
        self.index_dirty.store(false, Ordering::Release);
        progress(total, total);
        Ok(indexed)
    }
}
