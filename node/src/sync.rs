//! Catch-up sync: range-based set reconciliation (negentropy) per scope over
//! `/buurt/sync/1`, then fetching what this node lacks through the ingest
//! pipeline.
//!
//! Gossip reaches only nodes that are online and connected at the moment of
//! posting; sync makes every node converge anyway. When a connection opens,
//! and then every `sync_interval_secs` (with jitter), a node runs one
//! [`session`] with each connected peer: first the peer's revocations, then
//! for every scope it subscribes to, it reconciles the sync [`items`] of
//! exactly that scope, then fetches the listings it lacks in pages and
//! submits them to ingest. The peer runs its own session the other way, so
//! each side pulls what it lacks. The side that answers ([`serve`]) keeps no
//! state between requests.
//!
//! Sync does not touch the network itself: a session sends each request
//! through a [`session::Requester`] (the network's client, or a test double),
//! and `net` hands requests from peers to [`serve::answer`].
//!
//! Bounds: at most [`MAX_ROUNDS`] negentropy rounds per scope, messages of at
//! most `FRAME_LIMIT` bytes, fetches of at most `MAX_FETCH_IDS` ids and
//! `MAX_RESPONSE` bytes, one session per peer at a time, [`SERVING`] requests
//! being answered at once, and a session time limit. A peer that sends
//! malformed sync messages or invalid listings is reported as misbehaving
//! (the same counter as invalid gossip) and the session ends.

pub mod codec;
pub mod items;
pub mod serve;
pub mod session;
pub mod state;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::ingest::Ingest;
use crate::moderation::Moderation;
use crate::store::Store;

pub use self::codec::{Codec, Malformed, Message, SyncCodec, Wire, PROTOCOL};
pub use self::items::ItemsCache;
pub use self::session::{RequestError, Requester, SessionError};
pub use self::state::{ScopeSync, SyncState};

/// Most negentropy rounds for one scope in one session. A session that
/// reaches it fetches what it has learnt so far; the next one goes on.
pub const MAX_ROUNDS: usize = 64;
/// Sync requests answered at once; more are refused as busy.
pub const SERVING: usize = 4;
/// Longest a whole session with one peer may take.
pub const SESSION_LIMIT: Duration = Duration::from_secs(300);
/// Most ids one session fetches; the rest wait for the next session.
pub const MAX_NEED: usize = 1_000_000;
/// Blocking steps of sessions (listing items, storing a page, taking in
/// revocations) that run at once, whatever the number of peers.
pub const SESSION_WORK: usize = 4;

/// What sync works with: the pipeline to submit to, the store to compare,
/// the config (followed scopes, limits), moderation (revocations to hand
/// out), and its own state. One per node, shared by sessions and answers.
pub struct Context {
    pub ingest: Arc<Ingest>,
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub moderation: Arc<Moderation>,
    pub state: SyncState,
    pub items: ItemsCache,
    /// Permits for the sessions' blocking steps ([`SESSION_WORK`]).
    work: tokio::sync::Semaphore,
}

impl Context {
    pub fn new(
        ingest: Arc<Ingest>,
        store: Arc<dyn Store>,
        config: Arc<Config>,
        moderation: Arc<Moderation>,
    ) -> Context {
        Context {
            ingest,
            store,
            config,
            moderation,
            state: SyncState::default(),
            items: ItemsCache::default(),
            work: tokio::sync::Semaphore::new(SESSION_WORK),
        }
    }

    /// Runs a session's blocking step on a blocking thread, holding one of
    /// the [`SESSION_WORK`] permits.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, SessionError> {
        let _permit = self
            .work
            .acquire()
            .await
            .map_err(|e| SessionError::Local(e.to_string()))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| SessionError::Local(e.to_string()))
    }

    /// The items of `scope` at `now`, from the cache when possible.
    pub fn items(
        &self,
        scope: &buurt_protocol::Scope,
        now: i64,
    ) -> Result<negentropy::NegentropyStorageVector, items::ItemsError> {
        self.items.get(&self.ingest, &*self.store, scope, now)
    }
}
