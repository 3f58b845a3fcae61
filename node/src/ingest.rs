//! The ingest pipeline: the one path by which a listing enters a node,
//! whatever its source (local API, gossip, sync).
//!
//! `decode -> validate -> policy -> store -> index -> announce`. A duplicate is
//! recognised by its content id before any signature check, since a node sees
//! the same bytes from many peers. Expected outcomes are values
//! ([`Outcome`]); only failures of the node itself are errors.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use buurt_protocol::keys::VerifyingKey;
use buurt_protocol::{
    validate_cached, CertificateCache, ContentId, ListingId, MemberId, Rejection, SignedListing,
    Status,
};
use tokio::sync::mpsc;

use crate::blocks::{Block, Blocks, Target};
use crate::config::Config;
use crate::indexer::{Change, Indexer, IndexerError};
use crate::revocations::Revocations;
use crate::search::{SearchError, SearchIndex};
use crate::store::{PutOutcome, Store, StoreError};
use crate::trust::{Policy, Trust, Trusted};

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
    /// The operator blocked its author, or the node that admitted its author.
    #[error("the operator of this node blocked its author or the author's node")]
    Blocked,
    /// The node that admitted its author revoked that membership.
    #[error("the membership of its author was revoked by the node that granted it")]
    Revoked,
    /// Under the `allowlist` policy, its author's certificate comes from a
    /// node this node does not trust.
    #[error("this node accepts members of trusted nodes only, and {0} is not one")]
    Untrusted(String),
    /// Its author already has as many listings as allowed in that hour or day.
    #[error(
        "its author already posted {limit} listings or revisions in that {per}; try again later"
    )]
    RateLimited { per: &'static str, limit: u32 },
}

impl Reason {
    /// A stable snake_case name for APIs, logs and counters.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Invalid(r) => r.code(),
            Reason::NotFollowed(_) => "not_followed",
            Reason::Blocked => "blocked",
            Reason::Untrusted(_) => "untrusted_node",
            Reason::Revoked => "revoked",
            Reason::RateLimited { .. } => "rate_limited",
        }
    }

    /// True when the sender provably sent bad data (a peer to score down),
    /// false when the listing is merely stale or not for us.
    pub fn is_invalid(&self) -> bool {
        match self {
            Reason::Invalid(r) => r.is_invalid(),
            Reason::NotFollowed(_)
            | Reason::Blocked
            | Reason::Untrusted(_)
            | Reason::Revoked
            | Reason::RateLimited { .. } => false,
        }
    }
}

/// What happened to one listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// New or newer: stored, indexed and announced.
    Stored(Arc<SignedListing>),
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
    #[error(transparent)]
    Indexer(#[from] IndexerError),
    #[error("moderation lists: {0}")]
    Blocks(String),
}

/// Most certificates remembered as verified; the cache is cleared when full.
const CERT_CACHE_MAX: usize = 100_000;

/// Verified certificates (by fingerprint) with their member keys, shared by
/// validating threads. The lock is taken per look-up, never across a
/// signature check.
struct CertCache<'a>(&'a Mutex<HashMap<[u8; 32], VerifyingKey>>);

impl CertificateCache for CertCache<'_> {
    fn get(&self, fp: &[u8; 32]) -> Option<VerifyingKey> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(fp)
            .copied()
    }
    fn remember(&mut self, fp: [u8; 32], key: VerifyingKey) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CERT_CACHE_MAX {
            map.clear();
        }
        map.insert(fp, key);
    }
}

/// A listing that passed the checks, or the outcome that stopped it.
type Checked = Result<Result<SignedListing, Outcome>, IngestError>;

/// Most content ids remembered as stored; the set is cleared when full.
const SEEN_MAX: usize = 1_000_000;

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
    indexer: Indexer,
    config: Arc<Config>,
    certs: Mutex<HashMap<[u8; 32], VerifyingKey>>,
    /// Content ids of revisions this process stored (and that are still the
    /// latest at their address): most duplicates are answered from here
    /// without touching the database. A miss falls back to the store.
    seen: Mutex<HashSet<ContentId>>,
    announce: Option<mpsc::Sender<SignedListing>>,
    stats: Mutex<Stats>,
    /// Serialises store-then-enqueue so that index changes reach the indexer
    /// in store order, and the index never keeps an older revision.
    write: Mutex<()>,
    /// Counts changes to the store, so that what is derived from it (the
    /// sync items) knows when to rebuild.
    version: AtomicU64,
    /// The operator's blocks (policy stage).
    blocks: RwLock<Blocks>,
    /// The federation policy and trusted nodes (policy stage).
    trust: RwLock<Trust>,
    /// Revoked memberships (policy stage).
    revocations: RwLock<Revocations>,
    /// Stored revisions per author per hour and per day of `created_at`.
    rates: Mutex<HashMap<MemberId, AuthorRate>>,
}

/// Most authors whose rates are remembered; the map is cleared when full.
const RATES_MAX: usize = 100_000;

/// Stored revisions of one author, by hour and by day of their `created_at`.
#[derive(Default)]
struct AuthorRate {
    hours: BTreeMap<i64, u32>,
    days: BTreeMap<i64, u32>,
}

impl AuthorRate {
    /// The limit this listing would break, if any.
    fn exceeded(&self, created: i64, limits: &crate::config::RateLimits) -> Option<Reason> {
        let hour = self
            .hours
            .get(&created.div_euclid(3_600))
            .copied()
            .unwrap_or(0);
        let day = self
            .days
            .get(&created.div_euclid(86_400))
            .copied()
            .unwrap_or(0);
        if hour >= limits.author_per_hour {
            Some(Reason::RateLimited {
                per: "hour",
                limit: limits.author_per_hour,
            })
        } else if day >= limits.author_per_day {
            Some(Reason::RateLimited {
                per: "day",
                limit: limits.author_per_day,
            })
        } else {
            None
        }
    }

    fn count(&mut self, created: i64) {
        *self.hours.entry(created.div_euclid(3_600)).or_default() += 1;
        *self.days.entry(created.div_euclid(86_400)).or_default() += 1;
        // Listings live at most 90 days: older buckets can go.
        let oldest_day = created.div_euclid(86_400) - 91;
        if self
            .days
            .first_key_value()
            .is_some_and(|(d, _)| *d < oldest_day)
        {
            self.days = self.days.split_off(&oldest_day);
        }
        if self
            .hours
            .first_key_value()
            .is_some_and(|(h, _)| *h < oldest_day * 24)
        {
            self.hours = self.hours.split_off(&(oldest_day * 24));
        }
    }
}

impl Ingest {
    pub fn new(
        store: Arc<dyn Store>,
        index: Arc<SearchIndex>,
        config: Arc<Config>,
        announce: Option<mpsc::Sender<SignedListing>>,
    ) -> Ingest {
        Ingest {
            indexer: Indexer::start(index.clone(), config.index_commit),
            store,
            index,
            config,
            certs: Mutex::new(HashMap::new()),
            seen: Mutex::new(HashSet::new()),
            announce,
            stats: Mutex::new(Stats::default()),
            write: Mutex::new(()),
            version: AtomicU64::new(0),
            blocks: RwLock::new(Blocks::default()),
            trust: RwLock::new(Trust::default()),
            revocations: RwLock::new(Revocations::default()),
            rates: Mutex::new(HashMap::new()),
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
        let outcome = match self.check(bytes, now)? {
            Ok(signed) => self.commit_listing(signed)?,
            Err(outcome) => outcome,
        };
        self.count(&outcome);
        Ok(outcome)
    }

    /// Runs a page of listings through the pipeline: worker threads (one per
    /// core) run the checks (duplicate, validation, policy) while this thread
    /// stores the checked listings in page order as soon as each is ready,
    /// and checks listings itself while it waits for the next one.
    /// Outcomes come back in the order of `items`.
    pub fn submit_batch(
        &self,
        items: &[Vec<u8>],
        _source: Source,
        now: i64,
    ) -> Result<Vec<Outcome>, IngestError> {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8);
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut changes = Vec::with_capacity(items.len());
        let mut out = Vec::with_capacity(items.len());
        let mut failed = None;
        let mut store =
            |checked: Checked, out: &mut Vec<Outcome>, changes: &mut Vec<Change>| -> bool {
                let outcome = match checked {
                    Ok(Ok(signed)) => self.commit_locked(signed, changes),
                    Ok(Err(outcome)) => Ok(outcome),
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok(o) => {
                        self.count(&o);
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
                if !store(self.check(b, now), &mut out, &mut changes) {
                    break;
                }
            }
        } else {
            // Items are claimed one at a time from a shared counter, by the
            // workers and by this thread whenever the next item in page
            // order is not ready yet, so no core idles while there is work.
            let claim = std::sync::atomic::AtomicUsize::new(0);
            let claim = &claim;
            std::thread::scope(|scope| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Checked)>(items.len());
                for _ in 0..workers {
                    let tx = tx.clone();
                    scope.spawn(move || loop {
                        let i = claim.fetch_add(1, Ordering::Relaxed);
                        if i >= items.len() || tx.send((i, self.check(&items[i], now))).is_err() {
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
                                (i, self.check(&items[i], now))
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
        self.indexer.apply(changes);
        match failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// The stages that need no write lock: the duplicate check by content id
    /// (before any signature check), validation and policy.
    fn check(&self, bytes: &[u8], now: i64) -> Checked {
        let content_id = ContentId::of(bytes);
        let stored = |at| self.store.contains_content(&at, &content_id);
        if self.seen_contains(&content_id)
            || SignedListing::address_of(bytes).map_or(Ok(false), stored)?
        {
            return Ok(Err(Outcome::Duplicate(content_id)));
        }
        let mut certs = CertCache(&self.certs);
        let signed = match validate_cached(bytes, now, &self.config.limits, &mut certs) {
            Ok(s) => s,
            Err(r) => return Ok(Err(Outcome::Rejected(Reason::Invalid(r)))),
        };
        if !self.config.follows(&signed.listing.scope) {
            return Ok(Err(Outcome::Rejected(Reason::NotFollowed(
                signed.listing.scope.to_string(),
            ))));
        }
        if self.is_blocked(&signed) {
            return Ok(Err(Outcome::Rejected(self.block_reason(&signed))));
        }
        let node = signed.listing.certificate.node;
        if !self.read_trust().accepts(&node) {
            return Ok(Err(Outcome::Rejected(Reason::Untrusted(node.to_string()))));
        }
        // An early look, skipped when another thread holds the counts: the
        // authoritative check is made when storing.
        if let Some(r) = self.rate_exceeded_now(&signed) {
            return Ok(Err(Outcome::Rejected(r)));
        }
        Ok(Ok(signed))
    }

    /// Store, index, announce: in order, under the write lock.
    fn commit_listing(&self, signed: SignedListing) -> Result<Outcome, IngestError> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut changes = Vec::with_capacity(1);
        let outcome = self.commit_locked(signed, &mut changes)?;
        self.indexer.apply(changes);
        Ok(outcome)
    }

    /// Stores one checked listing; the caller holds the write lock and hands
    /// `changes` to the indexer before it lets go, so that the index sees
    /// changes in store order.
    fn commit_locked(
        &self,
        signed: SignedListing,
        changes: &mut Vec<Change>,
    ) -> Result<Outcome, IngestError> {
        let content_id = signed.content_id();
        // Checked again under the write lock: a block made while this
        // listing was being checked has already swept the store.
        if self.is_blocked(&signed) {
            return Ok(Outcome::Rejected(self.block_reason(&signed)));
        }
        // The authoritative rate check: the one in `check` ran without the
        // lock, on many threads at once.
        if let Some(r) = self.rate_exceeded(&signed) {
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
        if signed.listing.status != Status::Withdrawn {
            let mut rates = self.rates.lock().unwrap_or_else(|p| p.into_inner());
            if rates.len() >= RATES_MAX && !rates.contains_key(&signed.listing.author) {
                rates.clear();
            }
            rates
                .entry(signed.listing.author)
                .or_default()
                .count(signed.listing.created_at);
        }
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(old) = replaced {
                seen.remove(&old.content_id());
            }
            if seen.len() >= SEEN_MAX {
                seen.clear();
            }
            seen.insert(content_id);
        }
        if let Some(tx) = &self.announce {
            if tx.try_send(SignedListing::clone(&signed)).is_err() {
                tracing::debug!(
                    "announce queue full; catch-up sync will deliver {}",
                    signed.listing_id()
                );
            }
        }
        Ok(Outcome::Stored(signed))
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

    fn read_blocks(&self) -> std::sync::RwLockReadGuard<'_, Blocks> {
        self.blocks.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The author rate limit this listing would break (withdrawals never do).
    fn rate_exceeded(&self, l: &SignedListing) -> Option<Reason> {
        if l.listing.status == Status::Withdrawn {
            return None;
        }
        let rates = self.rates.lock().unwrap_or_else(|p| p.into_inner());
        rates
            .get(&l.listing.author)?
            .exceeded(l.listing.created_at, &self.config.rate_limits)
    }

    /// Like [`Ingest::rate_exceeded`], but `None` rather than waiting when
    /// the counts are locked.
    fn rate_exceeded_now(&self, l: &SignedListing) -> Option<Reason> {
        if l.listing.status == Status::Withdrawn {
            return None;
        }
        let rates = self.rates.try_lock().ok()?;
        rates
            .get(&l.listing.author)?
            .exceeded(l.listing.created_at, &self.config.rate_limits)
    }

    fn is_blocked(&self, l: &SignedListing) -> bool {
        let b = self.read_blocks();
        if !b.is_empty() && b.blocks(&l.listing) {
            return true;
        }
        drop(b);
        let r = self.revocations.read().unwrap_or_else(|p| p.into_inner());
        !r.is_empty() && r.covers(&l.listing)
    }

    /// Why a listing that `is_blocked` is kept out.
    fn block_reason(&self, l: &SignedListing) -> Reason {
        if self.read_blocks().blocks(&l.listing) {
            Reason::Blocked
        } else {
            Reason::Revoked
        }
    }

    /// Replaces the known revocations (at start).
    pub fn set_revocations(&self, r: Revocations) {
        *self.revocations.write().unwrap_or_else(|p| p.into_inner()) = r;
    }

    /// The signed revocations known here, newest first, at most `max`.
    pub fn revocations(&self, max: usize) -> Vec<Vec<u8>> {
        self.revocations
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .signed(max)
    }

    pub fn revocation_count(&self) -> usize {
        self.revocations
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Takes in a signed revocation (made here, or received): verifies it,
    /// keeps it, and removes the listings it covers from store and index.
    /// `Ok(None)` for bytes that do not verify; otherwise whether it was new
    /// and how many listings went.
    pub fn revoke(&self, bytes: &[u8]) -> Result<Option<(bool, usize)>, IngestError> {
        let Ok(rev) = buurt_protocol::revocation::Revocation::verify(bytes) else {
            return Ok(None);
        };
        let added = self
            .revocations
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .add(rev.clone(), bytes)
            .map_err(IngestError::Blocks)?;
        if !added {
            return Ok(Some((false, 0)));
        }
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let candidates = self.store.by_author(&rev.member)?;
        let removed = self.remove_covered(candidates, |l| rev.covers(l))?;
        Ok(Some((true, removed)))
    }

    fn read_trust(&self) -> std::sync::RwLockReadGuard<'_, Trust> {
        self.trust.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the federation policy and trusted nodes (at start).
    pub fn set_trust(&self, trust: Trust) {
        *self.trust.write().unwrap_or_else(|p| p.into_inner()) = trust;
    }

    pub fn policy(&self) -> Policy {
        self.read_trust().policy()
    }

    pub fn trusted(&self) -> Vec<Trusted> {
        self.read_trust().list().to_vec()
    }

    /// Trusts a node's certificates (under `allowlist`); false if it already
    /// was. Its members' listings are accepted from now on; those refused
    /// before come with the next sync.
    pub fn trust(&self, node: buurt_protocol::NodeId, now: i64) -> Result<bool, IngestError> {
        self.trust
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .add(node, now)
            .map_err(IngestError::Blocks)
    }

    /// Stops trusting a node; false if it was not trusted. Listings already
    /// stored stay until they expire or are blocked.
    pub fn untrust(&self, node: buurt_protocol::NodeId) -> Result<bool, IngestError> {
        self.trust
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(node)
            .map_err(IngestError::Blocks)
    }

    /// Replaces the block list (at start, from the data directory).
    pub fn set_blocks(&self, blocks: Blocks) {
        *self.blocks.write().unwrap_or_else(|p| p.into_inner()) = blocks;
    }

    /// The current blocks.
    pub fn blocks(&self) -> Vec<Block> {
        self.read_blocks().list().to_vec()
    }

    /// Blocks a member or a node: from now on their listings are refused on
    /// every path, and those stored are removed from store and index at
    /// once. Returns whether the block is new and how many listings went.
    pub fn block(&self, t: Target, reason: &str, now: i64) -> Result<(bool, usize), IngestError> {
        let added = self
            .blocks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .add(t, reason, now)
            .map_err(IngestError::Blocks)?;
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let candidates = match t {
            Target::Member(m) => self.store.by_author(&m)?,
            Target::Node(_) => self.store.all()?,
        };
        let removed = self.remove_covered(candidates, |l| t.covers(l))?;
        Ok((added, removed))
    }

    /// Lifts a block; false if there was none. Removed listings come back
    /// only when they are sent again (a new post, gossip, the next sync).
    pub fn unblock(&self, t: Target) -> Result<bool, IngestError> {
        self.blocks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(t)
            .map_err(IngestError::Blocks)
    }

    /// A number that changes whenever the store does (not persistent).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn seen_contains(&self, id: &ContentId) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    fn forget_seen(&self) {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Makes every stored listing durable.
    pub fn flush(&self) -> Result<(), IngestError> {
        Ok(self.store.flush()?)
    }

    /// Waits until every change so far is committed to the search index.
    pub fn commit_index(&self) -> Result<(), IngestError> {
        Ok(self.indexer.barrier()?)
    }

    /// Removes expired listings from the store and the index.
    pub fn sweep(&self, now: i64) -> Result<usize, IngestError> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let removed = self.store.sweep_expired(now)?;
        self.version.fetch_add(1, Ordering::Release);
        for id in &removed {
            self.indexer.remove(*id);
        }
        if !removed.is_empty() {
            // An expired revision sent again must be refused as expired, not
            // answered as a duplicate.
            self.forget_seen();
            self.store.flush()?;
        }
        Ok(removed.len())
    }

    /// Removes one address from store and index (moderation).
    pub fn remove(&self, id: &ListingId) -> Result<Option<SignedListing>, IngestError> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        self.remove_locked(id)
    }

    /// Removes one address from store, index and the seen set; the caller
    /// holds the write lock.
    fn remove_locked(&self, id: &ListingId) -> Result<Option<SignedListing>, IngestError> {
        let removed = self.store.remove(id)?;
        self.version.fetch_add(1, Ordering::Release);
        self.indexer.remove(*id);
        if let Some(l) = &removed {
            self.seen
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&l.content_id());
        }
        Ok(removed)
    }

    /// Removes every one of `candidates` that `covers` (a block or a
    /// revocation), then flushes; the caller holds the write lock. Returns
    /// how many.
    fn remove_covered(
        &self,
        candidates: Vec<SignedListing>,
        covers: impl Fn(&buurt_protocol::Listing) -> bool,
    ) -> Result<usize, IngestError> {
        let mut removed = 0;
        for l in candidates.iter().filter(|l| covers(&l.listing)) {
            self.remove_locked(&l.listing_id())?;
            removed += 1;
        }
        self.store.flush()?;
        Ok(removed)
    }

    /// Rebuilds the search index from the store, reporting `(done, total)`.
    pub fn reindex(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<usize, IngestError> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        // Let queued changes land first, so none of them lands after the rebuild.
        self.indexer.barrier()?;
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
        progress(total, total);
        Ok(indexed)
    }
}
