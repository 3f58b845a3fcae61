//! Moderation: the operator's and the federation's say over which listings
//! this node keeps — the policy stage of the ingest pipeline.
//!
//! One [`Moderation`] holds every piece of that state, each in its own
//! file: the operator's [`blocks`], the federation policy and trusted nodes
//! ([`trust`]), revoked memberships ([`revocations`]), per-author rate
//! limits ([`rates`]) and the residents this node admitted ([`members`]).
//! It is built completely (loaded from the data directory, rates rebuilt
//! from the store) before the pipeline starts, and ingest asks it one
//! question: [`Moderation::admits`].
//!
//! Moderation changes state and says what it decided; removing listings
//! that a new block or revocation covers is the pipeline's work
//! (`Ingest::purge`), because it must hold the store's write lock.

pub mod blocks;
pub mod members;
pub mod rates;
pub mod revocations;
pub mod trust;
pub mod web;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use buurt_protocol::keys::SigningKey;
use buurt_protocol::revocation::Revocation;
use buurt_protocol::{Certificate, EncodeError, Listing, MemberId, NodeId, Scope};

use crate::config::{Config, Policy};
use crate::datadir::{DataDir, DataDirError};
use crate::outcome::{Reason, Source};
use crate::store::{Store, StoreError};

pub use self::blocks::{Block, Blocks, Target, TargetError};
pub use self::members::{Member, Members};
pub use self::rates::Rates;
pub use self::revocations::Revocations;
pub use self::trust::{Trust, Trusted};
pub use self::web::{Web, WebNews};

/// Why moderation state could not be read or saved.
#[derive(Debug, thiserror::Error)]
pub enum ModerationError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// An entry of a list on disk is not what this version of buurt wrote.
    #[error("{}: {detail}", path.display())]
    BadEntry { path: PathBuf, detail: String },
    /// A vouch statement could not be made.
    #[error("vouch: {0}")]
    Vouch(String),
    /// A certificate could not be encoded (a bug: certificates are small).
    #[error("encoding a certificate: {0}")]
    Encode(#[from] EncodeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ModerationError {
    pub(crate) fn bad_entry(path: &Path, e: impl std::fmt::Display) -> ModerationError {
        ModerationError::BadEntry {
            path: path.to_owned(),
            detail: e.to_string(),
        }
    }
}

/// Saves one of the lists kept in the data directory; a list kept in memory
/// only (`path` is `None`) is not saved.
fn save<T: serde::Serialize>(path: &Option<PathBuf>, list: &[T]) -> Result<(), ModerationError> {
    match path {
        Some(path) => Ok(crate::datadir::write_json_list(path, list)?),
        None => Ok(()),
    }
}

/// When a listing counts as arrived, for the rate limits: now, except what
/// catch-up sync fetched (a backlog that peers stored earlier) and what a
/// backup brought back.
fn arrival(now: i64, source: Source) -> Option<i64> {
    matches!(source, Source::Local | Source::Gossip).then_some(now)
}

/// Every piece of moderation state, behind one lock each. Cheap to share
/// (`Arc`); safe to call from many threads.
pub struct Moderation {
    config: Arc<Config>,
    blocks: RwLock<Blocks>,
    trust: RwLock<Trust>,
    revocations: RwLock<Revocations>,
    rates: Rates,
    members: Mutex<Members>,
    /// This node.
    own: NodeId,
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl Moderation {
    /// Loads blocks, trusted nodes, revocations and members from `dir`, and
    /// rebuilds the author rates from `store`.
    pub fn open(
        dir: &DataDir,
        config: Arc<Config>,
        store: &dyn Store,
        now: i64,
    ) -> Result<Moderation, ModerationError> {
        let m = Moderation::open_unrated(dir, config)?;
        m.rates.rebuild(store, now)?;
        Ok(m)
    }

    /// Like [`Moderation::open`], with no author rates yet: a node starts
    /// with this and reads them from its store alongside
    /// ([`Rates::rebuild_alongside`]), so that a start does not wait for a
    /// read of every record.
    pub fn open_unrated(dir: &DataDir, config: Arc<Config>) -> Result<Moderation, ModerationError> {
        let node_key = dir.node_key()?;
        let m = Moderation {
            blocks: RwLock::new(Blocks::load(dir.blocks_path())?),
            trust: RwLock::new(Trust::load(
                dir.trusted_path(),
                dir.vouches_path(),
                config.policy,
                node_key.clone(),
                config.trust_depth,
            )?),
            revocations: RwLock::new(Revocations::load(dir.revocations_path())?),
            rates: Rates::new(config.rate_limits, NodeId::from(node_key.verifying_key())),
            own: NodeId::from(node_key.verifying_key()),
            members: Mutex::new(Members::load(dir.members_path(), node_key)?),
            config,
        };
        Ok(m)
    }

    /// Nothing blocked, trusted, revoked or admitted, and nothing kept on
    /// disk: for tests, benchmarks and throw-away nodes whose node key is
    /// `node_key`.
    pub fn in_memory(config: Arc<Config>, node_key: SigningKey) -> Moderation {
        Moderation {
            blocks: RwLock::new(Blocks::default()),
            trust: RwLock::new(Trust::in_memory(
                config.policy,
                node_key.clone(),
                config.trust_depth,
            )),
            revocations: RwLock::new(Revocations::default()),
            rates: Rates::new(config.rate_limits, NodeId::from(node_key.verifying_key())),
            own: NodeId::from(node_key.verifying_key()),
            members: Mutex::new(Members::in_memory(node_key)),
            config,
        }
    }

    /// The policy stage: whether this node keeps `l` (already validated),
    /// arriving at `now` from `source`. Checks, in order: the scope is
    /// followed, the author and the author's node are not blocked, the
    /// membership is not revoked, the author's node is accepted under the
    /// federation policy, and the author is within the rate limits.
    pub fn admits(&self, l: &Listing, now: i64, source: Source) -> Result<(), Reason> {
        if !self.config.follows(&l.scope) {
            return Err(Reason::NotFollowed(l.scope.to_string()));
        }
        self.not_blocked(l)?;
        if let Some(r) = self.node_refusal(&l.certificate.node) {
            return Err(r);
        }
        if l.extras.circle.is_some() {
            return Err(Reason::Private);
        }
        if l.extras.behalf.is_some() && source == Source::Local && !self.is_broker(&l.author) {
            return Err(Reason::NotABroker);
        }
        self.within_rates(l, now, source)
    }

    /// Whether the operator made `member` a broker of this node.
    pub fn is_broker(&self, member: &MemberId) -> bool {
        self.members_lock()
            .certificate(member)
            .is_some_and(|m| m.broker)
    }

    /// Why the members of `node` are not accepted under the policy, if
    /// they are not: outside the web (`web`), or not trusted (`allowlist`).
    /// Cheap (one set lookup): ingest asks it before any signature check.
    pub fn node_refusal(&self, node: &NodeId) -> Option<Reason> {
        let t = read(&self.trust);
        if t.accepts(node) {
            return None;
        }
        Some(match t.policy() {
            Policy::Web => Reason::Unvouched(node.to_string()),
            _ => Reason::Untrusted(node.to_string()),
        })
    }

    /// The checks that can change while a listing is on its way to the
    /// store, made again under ingest's write lock: blocks, revocations and
    /// rates.
    pub fn still_admits(&self, l: &Listing, now: i64, source: Source) -> Result<(), Reason> {
        self.not_blocked(l)?;
        self.within_rates(l, now, source)
    }

    fn not_blocked(&self, l: &Listing) -> Result<(), Reason> {
        let b = read(&self.blocks);
        if !b.is_empty() && b.blocks(l) {
            return Err(Reason::Blocked);
        }
        drop(b);
        let r = read(&self.revocations);
        if !r.is_empty() && r.covers(l) {
            return Err(Reason::Revoked);
        }
        Ok(())
    }

    fn within_rates(&self, l: &Listing, now: i64, source: Source) -> Result<(), Reason> {
        if source == Source::Restore {
            return Ok(());
        }
        match self.rates.exceeded(l, arrival(now, source)) {
            Some(r) => Err(r),
            None => Ok(()),
        }
    }

    /// Counts a revision the store took at `now` from `source` (for the
    /// rate limits).
    pub fn stored(&self, l: &Listing, now: i64, source: Source) {
        self.rates.count(l, arrival(now, source));
    }

    /// The author rates, to rebuild from a store.
    pub fn rates(&self) -> &Rates {
        &self.rates
    }

    /// Whether mail signed by `node` may be delivered here: the node is
    /// not blocked and is accepted under the federation policy.
    pub fn accepts_mail_from(&self, node: &NodeId) -> Result<(), Reason> {
        if read(&self.blocks).blocks_node(node) {
            return Err(Reason::Blocked);
        }
        match self.node_refusal(node) {
            Some(r) => Err(r),
            None => Ok(()),
        }
    }

    /// Whether a member is admitted here and not revoked.
    pub fn is_member(&self, member: &MemberId) -> bool {
        self.members_lock().certificate(member).is_some()
    }

    // --- blocks ---

    /// The current blocks.
    pub fn blocks(&self) -> Vec<Block> {
        read(&self.blocks).list().to_vec()
    }

    /// Blocks a member or a node from now on; false if it already was. The
    /// caller then purges what the block covers from the store.
    pub fn block(&self, t: Target, reason: &str, now: i64) -> Result<bool, ModerationError> {
        write(&self.blocks).add(t, reason, now)
    }

    /// Lifts a block; false if there was none. Removed listings come back
    /// only when they are sent again (a new post, gossip, the next sync).
    pub fn unblock(&self, t: Target) -> Result<bool, ModerationError> {
        write(&self.blocks).remove(t)
    }

    // --- trust ---

    pub fn policy(&self) -> Policy {
        read(&self.trust).policy()
    }

    pub fn trusted(&self) -> Vec<Trusted> {
        read(&self.trust).list().to_vec()
    }

    /// Trusts a node's certificates and vouches for it publicly: whether
    /// it is new, the signed vouch (to publish) and what it changed in the
    /// web. Its members' listings are accepted from now on; those refused
    /// before come with the next sync.
    pub fn trust(
        &self,
        node: NodeId,
        note: &str,
        now: i64,
    ) -> Result<(bool, Vec<u8>, WebNews), ModerationError> {
        write(&self.trust).add(node, note, now)
    }

    /// Stops trusting a node and withdraws this node's vouch: whether it
    /// was trusted, the signed withdrawal (to publish) and what it changed.
    pub fn untrust(
        &self,
        node: NodeId,
        now: i64,
    ) -> Result<(bool, Vec<u8>, WebNews), ModerationError> {
        write(&self.trust).remove(node, now)
    }

    /// Takes a vouch statement from a peer (gossip or sync).
    pub fn take_vouch(&self, bytes: &[u8]) -> Result<WebNews, buurt_protocol::vouch::VouchError> {
        write(&self.trust).take_vouch(bytes)
    }

    /// The vouch statements held, signed, newest first, at most `max`.
    pub fn vouches(&self, max: usize) -> Vec<Vec<u8>> {
        read(&self.trust).web().signed(max)
    }

    /// The nodes that vouch for `node`, as far as this node knows.
    pub fn vouchers_of(&self, node: &NodeId) -> Vec<NodeId> {
        read(&self.trust).web().vouchers_of(node)
    }

    /// How many nodes are in this node's web (itself included).
    pub fn web_size(&self) -> usize {
        read(&self.trust).web().reach_len()
    }

    /// Whether a node's members are accepted under the policy.
    pub fn accepts_node(&self, node: &NodeId) -> bool {
        read(&self.trust).accepts(node)
    }

    /// This node.
    pub fn own_node(&self) -> NodeId {
        self.own
    }

    /// Whether what a member signed under `cert` counts here (a thanks):
    /// the node is accepted, neither member nor node is blocked, and the
    /// certificate is not revoked.
    pub fn counts_certificate(&self, cert: &buurt_protocol::Certificate) -> bool {
        self.accepts_node(&cert.node)
            && !read(&self.blocks).blocks_certificate(cert)
            && !read(&self.revocations).covers_certificate(cert)
    }

    // --- revocations ---

    /// The signed revocations known here, newest first, at most `max`.
    pub fn revocations(&self, max: usize) -> Vec<Vec<u8>> {
        read(&self.revocations).signed(max)
    }

    pub fn revocation_count(&self) -> usize {
        read(&self.revocations).len()
    }

    /// Keeps a verified revocation; false if it was known. The caller then
    /// purges what it covers from the store.
    pub fn add_revocation(&self, rev: Revocation, bytes: &[u8]) -> Result<bool, ModerationError> {
        write(&self.revocations).add(rev, bytes)
    }

    // --- members ---

    fn members_lock(&self) -> MutexGuard<'_, Members> {
        self.members.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The residents this node admitted.
    pub fn members(&self) -> Vec<Member> {
        self.members_lock().list().to_vec()
    }

    pub fn member_count(&self) -> usize {
        self.members_lock().list().len()
    }

    /// The current certificate of a member, if admitted.
    pub fn certificate(&self, member: &MemberId) -> Option<Member> {
        self.members_lock().certificate(member).cloned()
    }

    /// Records a certificate issued elsewhere (the operator's own, made at
    /// `init`) if its member is not listed yet.
    pub fn record_member(&self, cert: &Certificate, name: &str) -> Result<(), ModerationError> {
        self.members_lock().record(cert, name)
    }

    /// Admits a member (or renews their certificate) for `valid` seconds.
    pub fn admit(
        &self,
        member: MemberId,
        name: &str,
        scope: Scope,
        now: i64,
        valid: i64,
    ) -> Result<Member, ModerationError> {
        self.members_lock().admit(member, name, scope, now, valid)
    }

    /// Grants or takes back the broker role; `None` if not admitted.
    pub fn set_broker(
        &self,
        member: &MemberId,
        broker: bool,
    ) -> Result<Option<Member>, ModerationError> {
        self.members_lock().set_broker(member, broker)
    }

    /// Ends a membership: the signed revocation of the member's current
    /// certificate (to be taken in by ingest), or `None` if not admitted.
    pub fn revoke_member(
        &self,
        member: &MemberId,
        now: i64,
    ) -> Result<Option<Vec<u8>>, ModerationError> {
        self.members_lock().revoke(member, now)
    }
}
