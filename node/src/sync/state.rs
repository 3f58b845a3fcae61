//! What the node knows about its sync sessions: which peers have one
//! running, and the last result per scope (for `buurt status`).

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use libp2p::PeerId;

/// The last sync of one scope, for `status`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ScopeSync {
    pub scope: String,
    /// When the last session for this scope ended (RFC 3339).
    pub last_at: String,
    /// The peer (node id) of that session.
    pub peer: String,
    pub rounds: usize,
    /// Listings the peer has that this node lacked.
    pub needed: usize,
    /// Listings this node has that the peer lacked (the peer fetches them).
    pub offered: usize,
    /// Listings received, and how many of them were stored.
    pub fetched: usize,
    pub stored: usize,
    /// How the session ended: `done`, `refused: ...` or `failed: ...`.
    pub result: String,
    /// Sessions with a fetch still going: listings fetched so far.
    pub in_progress: bool,
}

/// Sync state shared by the event loop, the sessions and `status`.
#[derive(Default)]
pub struct SyncState {
    /// Peers with a session running.
    busy: Mutex<HashSet<PeerId>>,
    /// Last result per scope.
    scopes: Mutex<BTreeMap<String, ScopeSync>>,
}

impl SyncState {
    /// Marks a session with `peer` as running; false if one already was.
    pub fn begin(&self, peer: PeerId) -> bool {
        self.busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(peer)
    }

    /// Marks the session with `peer` as ended.
    pub fn end(&self, peer: &PeerId) {
        self.busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(peer);
    }

    /// How many sessions are running.
    pub fn running(&self) -> usize {
        self.busy.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn record(&self, s: ScopeSync) {
        self.scopes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(s.scope.clone(), s);
    }

    /// Whether a result for `scope` was recorded.
    pub fn knows(&self, scope: &str) -> bool {
        self.scopes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(scope)
    }

    pub fn snapshot(&self) -> Vec<ScopeSync> {
        self.scopes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}
