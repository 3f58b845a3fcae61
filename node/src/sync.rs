//! Catch-up sync: range-based set reconciliation (negentropy) per scope over
//! `/buurt/sync/1`, then fetching what this node lacks through the ingest
//! pipeline.
//!
//! Gossip reaches only nodes that are online and connected at the moment of
//! posting; sync makes every node converge anyway. When a connection opens,
//! and then every `sync_interval_secs` (with jitter), a node runs one session
//! with each connected peer: for every scope it subscribes to, it reconciles
//! the sync items (see `buurt_protocol::sync`) of exactly that scope, then
//! fetches the listings it lacks in pages and submits them to ingest like
//! gossip. The peer runs its own session the other way, so each side pulls
//! what it lacks. The side that answers keeps no state between requests.
//!
//! Bounds: at most [`MAX_ROUNDS`] negentropy rounds per scope, messages of at
//! most `FRAME_LIMIT` bytes, fetches of at most `MAX_FETCH_IDS` ids and
//! `MAX_RESPONSE` bytes, one session per peer at a time, [`SERVING`] requests
//! being answered at once, and a session time limit. A peer that sends
//! malformed sync messages or invalid listings is reported as misbehaving
//! (the same counter as invalid gossip) and the session ends.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buurt_protocol::sync::{
    address_of_sync_id, sync_id, Request, Response, FRAME_LIMIT, MAX_FETCH_IDS, MAX_REQUEST,
    MAX_RESPONSE,
};
use buurt_protocol::Scope;
use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::{request_response, PeerId, StreamProtocol};
use negentropy::{Id, Negentropy, NegentropyStorageBase, NegentropyStorageVector};

use crate::ingest::{Ingest, Outcome, Source};

/// Most negentropy rounds for one scope in one session. A session that
/// reaches it fetches what it has learnt so far; the next one goes on.
pub const MAX_ROUNDS: usize = 64;
/// Sync requests answered at once; more are refused as busy.
pub const SERVING: usize = 4;
/// Longest a whole session with one peer may take.
pub const SESSION_LIMIT: Duration = Duration::from_secs(300);
/// Most ids one session fetches; the rest wait for the next session.
pub const MAX_NEED: usize = 1_000_000;

/// The protocol name as libp2p wants it.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new(buurt_protocol::sync::PROTOCOL);

/// A sync message as read from a stream: decoded, or why it did not decode.
/// Decoding happens in the codec, but a message that does not decode must
/// reach the event loop (to count against the peer) rather than vanish as a
/// stream error, so it travels as `Err`.
pub type Wire<T> = Result<T, String>;

/// Reads and writes sync messages: the whole stream is one message (the
/// sender closes its side), read with a size bound.
#[derive(Debug, Clone, Default)]
pub struct SyncCodec;

async fn read_bounded<T: AsyncRead + Unpin + Send>(
    io: &mut T,
    max: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    io.take(max as u64 + 1).read_to_end(&mut buf).await?;
    Ok((buf.len() <= max).then_some(buf))
}

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = Wire<Request>;
    type Response = Wire<Response>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Wire<Request>>
    where
        T: AsyncRead + Unpin + Send,
    {
        Ok(match read_bounded(io, MAX_REQUEST).await? {
            Some(b) => Request::decode(&b).map_err(|e| e.to_string()),
            None => Err("request too large".into()),
        })
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Wire<Response>>
    where
        T: AsyncRead + Unpin + Send,
    {
        Ok(match read_bounded(io, MAX_RESPONSE).await? {
            Some(b) => Response::decode(&b).map_err(|e| e.to_string()),
            None => Err("response too large".into()),
        })
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Wire<Request>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match req {
            Ok(r) => io.write_all(&r.encode()).await,
            Err(_) => Ok(()),
        }
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Wire<Response>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match res {
            Ok(r) => io.write_all(&r.encode()).await,
            Err(_) => Ok(()),
        }
    }
}

/// Why a sync request got no usable answer.
#[derive(Debug)]
pub enum RequestError {
    /// No answer: connection closed, timeout, the network stopped.
    Transport(String),
    /// An answer that does not decode.
    Malformed(String),
}

/// The sync items of exactly `scope`: latest revisions, tombstones included,
/// expired ones left out.
pub fn items(ingest: &Ingest, scope: &Scope, now: i64) -> Result<NegentropyStorageVector, String> {
    let items = ingest
        .store()
        .sync_items(scope, now)
        .map_err(|e| e.to_string())?;
    let mut storage = NegentropyStorageVector::with_capacity(items.len());
    for (created, listing, content) in items {
        storage
            .insert(
                created.max(0) as u64,
                Id::from_byte_array(sync_id(&listing, &content)),
            )
            .map_err(|e| e.to_string())?;
    }
    storage.seal().map_err(|e| e.to_string())?;
    Ok(storage)
}

/// Sync items per scope, kept until the store changes or a minute passes
/// (listings expire with time alone), so that the rounds of one session and
/// sessions with several peers do not each read the whole scope.
#[derive(Default)]
pub struct ItemsCache {
    map: Mutex<std::collections::HashMap<String, Cached>>,
}

struct Cached {
    version: u64,
    built: i64,
    items: NegentropyStorageVector,
}

/// How long cached sync items stay valid when the store does not change.
const ITEMS_TTL: i64 = 60;

impl ItemsCache {
    /// The items of `scope`, from the cache when the store has not changed.
    pub fn get(
        &self,
        ingest: &Ingest,
        scope: &Scope,
        now: i64,
    ) -> Result<NegentropyStorageVector, String> {
        let version = ingest.version();
        if let Some(c) = self.lock().get(scope.as_str()) {
            if c.version == version && now - c.built < ITEMS_TTL {
                return Ok(c.items.clone());
            }
        }
        let items = items(ingest, scope, now)?;
        let mut map = self.lock();
        // Followed scopes are few; a peer cannot add entries (only scopes
        // this node follows are built).
        map.insert(
            scope.to_string(),
            Cached {
                version,
                built: now,
                items: items.clone(),
            },
        );
        Ok(items)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Cached>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Answers one request (blocking: reads the store). The flag is true when the
/// request itself was malformed, which counts against the peer.
pub fn answer(ingest: &Ingest, cache: &ItemsCache, request: Request, now: i64) -> (Response, bool) {
    let refuse = |reason: &str| Response::Refused {
        reason: reason.to_owned(),
    };
    match request {
        Request::Reconcile { scope, message } => {
            let levels = ingest.config().limits.max_scope_levels;
            let Ok(scope) = Scope::parse(&scope, levels) else {
                return (refuse("bad scope"), true);
            };
            if !ingest.config().follows(&scope) {
                return (refuse("scope not followed"), false);
            }
            let storage = match cache.get(ingest, &scope, now) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("sync: cannot list scope {scope}: {e}");
                    return (refuse("internal error"), false);
                }
            };
            let reply = Negentropy::owned(storage, FRAME_LIMIT as u64)
                .and_then(|mut n| n.reconcile(&message));
            match reply {
                Ok(message) => (Response::Reconcile { message }, false),
                Err(e) => (refuse(&format!("bad negentropy message: {e}")), true),
            }
        }
        Request::Revocations => (
            Response::Revocations {
                revocations: ingest.revocations(buurt_protocol::sync::MAX_REVOCATIONS),
            },
            false,
        ),
        Request::Fetch { ids } => {
            let mut listings = Vec::new();
            let mut size = 16;
            for id in &ids {
                let got = ingest.store().get(&address_of_sync_id(id));
                let Ok(Some(l)) = got else { continue };
                if l.listing.expires_at <= now {
                    continue;
                }
                if size + l.bytes().len() + 4 > MAX_RESPONSE {
                    break;
                }
                size += l.bytes().len() + 4;
                listings.push(l.bytes().to_vec());
            }
            (Response::Listings { listings }, false)
        }
    }
}

/// The last sync of one scope, for `status`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
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
    pub busy: Mutex<HashSet<PeerId>>,
    /// Last result per scope.
    pub scopes: Mutex<BTreeMap<String, ScopeSync>>,
    /// Sync items per scope, shared by sessions and answers.
    pub items: ItemsCache,
}

impl SyncState {
    pub fn record(&self, s: ScopeSync) {
        self.scopes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(s.scope.clone(), s);
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

/// Why a session with a peer stopped early.
#[derive(Debug)]
pub enum SessionError {
    /// The request did not get an answer (connection closed, timeout).
    Transport(String),
    /// The peer broke the protocol or sent invalid listings.
    Misbehaved(String),
    /// This node failed (store, index).
    Local(String),
}

impl From<RequestError> for SessionError {
    fn from(e: RequestError) -> SessionError {
        match e {
            RequestError::Transport(e) => SessionError::Transport(e),
            RequestError::Malformed(e) => {
                SessionError::Misbehaved(format!("malformed answer: {e}"))
            }
        }
    }
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionError::Transport(e) => write!(f, "no answer: {e}"),
            SessionError::Misbehaved(e) => write!(f, "peer misbehaved: {e}"),
            SessionError::Local(e) => write!(f, "{e}"),
        }
    }
}

/// Sends one request to the peer and waits for its answer.
pub trait Requester: Send + Sync {
    fn request(
        &self,
        peer: PeerId,
        request: Request,
    ) -> impl std::future::Future<Output = Result<Response, RequestError>> + Send;
}

/// Reconciles one scope with `peer` and fetches what this node lacks.
pub async fn sync_scope<R: Requester>(
    net: &R,
    ingest: &Arc<Ingest>,
    state: &Arc<SyncState>,
    peer: PeerId,
    peer_name: &str,
    scope: &Scope,
) -> Result<ScopeSync, SessionError> {
    let now = crate::run::now();
    let mut report = ScopeSync {
        scope: scope.to_string(),
        peer: peer_name.to_owned(),
        in_progress: true,
        ..Default::default()
    };
    let (i, s, st) = (ingest.clone(), scope.clone(), state.clone());
    let storage = tokio::task::spawn_blocking(move || st.items.get(&i, &s, now))
        .await
        .map_err(|e| SessionError::Local(e.to_string()))?
        .map_err(SessionError::Local)?;
    let local = storage.size().unwrap_or(0);
    let mut neg = Negentropy::owned(storage, FRAME_LIMIT as u64)
        .map_err(|e| SessionError::Local(e.to_string()))?;
    let mut message = neg
        .initiate()
        .map_err(|e| SessionError::Local(e.to_string()))?;
    let (mut have, mut need) = (Vec::new(), Vec::new());
    loop {
        if report.rounds >= MAX_ROUNDS {
            report.result = format!("partial: {MAX_ROUNDS} rounds");
            break;
        }
        report.rounds += 1;
        let request = Request::Reconcile {
            scope: scope.to_string(),
            message,
        };
        match net.request(peer, request).await? {
            Response::Reconcile { message: answer } => {
                match neg.reconcile_with_ids(&answer, &mut have, &mut need) {
                    Ok(Some(next)) => message = next,
                    Ok(None) => break,
                    Err(e) => return Err(SessionError::Misbehaved(format!("negentropy: {e}"))),
                }
                if need.len() > MAX_NEED {
                    break;
                }
            }
            Response::Refused { reason } => {
                report.result = format!("refused: {reason}");
                report.in_progress = false;
                return Ok(report);
            }
            Response::Listings { .. } | Response::Revocations { .. } => {
                return Err(SessionError::Misbehaved(
                    "the wrong answer to a reconcile request".into(),
                ))
            }
        }
    }
    need.truncate(MAX_NEED);
    report.needed = need.len();
    report.offered = have.len();
    if !need.is_empty() {
        tracing::info!(
            "sync {scope} with {peer_name}: {} listings to fetch ({local} here)",
            need.len()
        );
    }
    for chunk in need.chunks(MAX_FETCH_IDS) {
        let ids: Vec<[u8; 32]> = chunk.iter().map(|id| id.to_bytes()).collect();
        let asked = ids.len();
        let listings = match net.request(peer, Request::Fetch { ids }).await? {
            Response::Listings { listings } => listings,
            Response::Refused { reason } => {
                report.result = format!("refused: {reason}");
                break;
            }
            Response::Reconcile { .. } | Response::Revocations { .. } => {
                return Err(SessionError::Misbehaved(
                    "the wrong answer to a fetch".into(),
                ))
            }
        };
        if listings.len() > asked {
            return Err(SessionError::Misbehaved(format!(
                "{} listings for {asked} ids",
                listings.len()
            )));
        }
        // A listing may expire or be removed between reconciliation and
        // fetch, but not most of a page.
        if 2 * listings.len() < asked {
            return Err(SessionError::Misbehaved(format!(
                "delivered {} of {asked} listings it announced",
                listings.len()
            )));
        }
        report.fetched += listings.len();
        let i = ingest.clone();
        let outcomes = tokio::task::spawn_blocking(move || {
            i.submit_batch(&listings, Source::Sync, crate::run::now())
        })
        .await
        .map_err(|e| SessionError::Local(e.to_string()))?
        .map_err(|e| SessionError::Local(e.to_string()))?;
        ingest
            .flush()
            .map_err(|e| SessionError::Local(e.to_string()))?;
        let mut invalid = 0;
        for o in &outcomes {
            match o {
                Outcome::Stored(_) => report.stored += 1,
                Outcome::Rejected(r) if r.is_invalid() => invalid += 1,
                _ => {}
            }
        }
        if invalid > 0 {
            return Err(SessionError::Misbehaved(format!(
                "{invalid} invalid listings"
            )));
        }
        state.record(report.clone());
        if report.needed > 10 * MAX_FETCH_IDS && report.fetched % (10 * MAX_FETCH_IDS) < asked {
            tracing::info!(
                "sync {scope} with {peer_name}: {} of {} listings fetched",
                report.fetched,
                report.needed
            );
        }
    }
    if report.result.is_empty() {
        report.result = "done".into();
    }
    report.in_progress = false;
    Ok(report)
}

/// Fetches the peer's revocations and takes in those this node lacks.
/// Returns how many were new.
pub async fn sync_revocations<R: Requester>(
    net: &R,
    ingest: &Arc<Ingest>,
    peer: PeerId,
) -> Result<usize, SessionError> {
    let revocations = match net.request(peer, Request::Revocations).await? {
        Response::Revocations { revocations } => revocations,
        Response::Refused { .. } => return Ok(0),
        _ => {
            return Err(SessionError::Misbehaved(
                "the wrong answer to a revocations request".into(),
            ))
        }
    };
    let i = ingest.clone();
    tokio::task::spawn_blocking(move || {
        let mut new = 0;
        for r in &revocations {
            match i
                .revoke(r)
                .map_err(|e| SessionError::Local(e.to_string()))?
            {
                Some((true, _)) => new += 1,
                Some((false, _)) => {}
                None => return Err(SessionError::Misbehaved("an invalid revocation".into())),
            }
        }
        Ok(new)
    })
    .await
    .map_err(|e| SessionError::Local(e.to_string()))?
}
