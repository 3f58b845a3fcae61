//! Federation: the libp2p swarm and the one event loop that owns it.
//!
//! TCP + Noise + Yamux; identify; ping; mDNS (optional); gossipsub with one
//! topic per scope level. Gossipsub runs in `Anonymous` mode with
//! content-addressed message ids and manual validation: the listing carries
//! its author's signature, which ingest checks once, so the libp2p signature
//! of every copy would be wasted work. A message is forwarded only after the
//! ingest pipeline accepted it; a peer that keeps sending invalid data is
//! disconnected and refused for a while.
//!
//! The rest of the node talks to the loop through [`NetClient`], a cheap
//! handle that sends [`Command`]s over a bounded channel.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use buurt_protocol::{NodeId, Scope, SignedListing};
use libp2p::futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageAuthenticity, ValidationMode};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, identity, mdns, noise, ping, tcp, yamux, Multiaddr, PeerId, Swarm};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::ingest::{Ingest, Outcome, Source};
use crate::sync::{RequestError, ScopeSync, SessionError, SyncCodec, SyncState};
use buurt_protocol::sync::{Request as SyncRequest, Response as SyncResponse};

/// Capacity of the command channel.
pub const COMMANDS: usize = 256;
/// Most gossip messages being validated at once; more are ignored (not
/// forwarded) and reach us again through sync.
pub const VALIDATING: usize = 256;
/// Invalid messages a peer may send before it is disconnected.
pub const MAX_INVALID: u32 = 3;
/// How long a disconnected misbehaving peer is refused.
pub const BAN: Duration = Duration::from_secs(600);
/// Longest wait between two dials of a configured peer.
pub const MAX_REDIAL: Duration = Duration::from_secs(60);
/// Largest gossip message, whatever the listing limit says (design brief:
/// 64 KiB).
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Peers per topic that a node forwards each message to (gossipsub's D; its
/// default is 6). Each node receives up to about this many copies of a
/// listing. The federation benchmark (50 nodes, 10 listings/s) measured 4.1
/// copies per node per listing with 6 and 2.6 with 4, against a goal of at
/// most 3. IDONTWANT (gossipsub 1.2) stays at its default, which leaves
/// listings under 1,000 bytes out: with it on for every listing, copies fell
/// to 2.0 but the extra control messages cost more CPU than they saved.
pub const MESH_N: usize = 4;
/// Longest wait for the answer to one sync request.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between a new connection and the first sync session, so that both
/// sides have exchanged their subscriptions.
pub const SYNC_DELAY: Duration = Duration::from_secs(1);
/// Prefix of gossipsub topic names: `buurt/v1/scope/nl/amsterdam`.
pub const TOPIC_PREFIX: &str = "buurt/v1/scope/";

/// The gossipsub topic every node follows for membership revocations.
pub fn revocation_topic() -> IdentTopic {
    IdentTopic::new("buurt/v1/revocations")
}

/// The gossipsub topic of one scope.
pub fn topic(scope: &Scope) -> IdentTopic {
    IdentTopic::new(format!("{TOPIC_PREFIX}{scope}"))
}

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("network key: {0}")]
    Key(String),
    #[error("network setup: {0}")]
    Setup(String),
    #[error("bad address `{0}`: expected a multiaddress such as /ip4/192.0.2.7/tcp/4001")]
    BadAddress(String),
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: String, message: String },
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    gossipsub: gossipsub::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
    sync: request_response::Behaviour<SyncCodec>,
}

/// What the network is told to do.
pub enum Command {
    /// Publish a stored listing on its scope's topic; answers with the number
    /// of peers known to follow that topic (0: stored locally only for now).
    Publish {
        listing: Box<SignedListing>,
        reply: oneshot::Sender<usize>,
    },
    Peers {
        reply: oneshot::Sender<Vec<PeerInfo>>,
    },
    ListenAddrs {
        reply: oneshot::Sender<Vec<String>>,
    },
    /// Send one sync request and hand back the answer.
    SyncRequest {
        peer: PeerId,
        request: SyncRequest,
        reply: oneshot::Sender<Result<SyncResponse, RequestError>>,
    },
    /// Start a sync session now with every connected peer, or with the one
    /// whose node id is given; answers with the number of sessions started.
    SyncNow {
        peer: Option<String>,
        reply: oneshot::Sender<usize>,
    },
    /// Publish a signed revocation (already taken in by ingest).
    PublishRevocation {
        bytes: Vec<u8>,
    },
    /// A sync session found the peer breaking the protocol.
    Misbehaved {
        peer: PeerId,
        why: String,
    },
}

/// A connected peer, as `buurt peers` shows it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PeerInfo {
    pub node_id: String,
    pub address: String,
    pub scopes: Vec<String>,
    pub since: String,
}

/// Cheap, cloneable handle to the event loop.
#[derive(Clone)]
pub struct NetClient {
    tx: mpsc::Sender<Command>,
    sync: Arc<SyncState>,
}

impl NetClient {
    /// Publishes a listing; returns how many peers follow its scope.
    pub async fn publish(&self, listing: SignedListing) -> usize {
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .send(Command::Publish {
                listing: Box::new(listing),
                reply,
            })
            .await
            .is_err()
        {
            return 0;
        }
        rx.await.unwrap_or(0)
    }

    pub async fn peers(&self) -> Vec<PeerInfo> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Command::Peers { reply }).await.is_err() {
            return vec![];
        }
        rx.await.unwrap_or_default()
    }

    /// Publishes a signed revocation to the federation.
    pub async fn publish_revocation(&self, bytes: Vec<u8>) {
        let _ = self.tx.send(Command::PublishRevocation { bytes }).await;
    }

    /// The last sync result per scope.
    pub fn sync_status(&self) -> Vec<ScopeSync> {
        self.sync.snapshot()
    }

    /// Starts sync sessions now; returns how many.
    pub async fn sync_now(&self, peer: Option<String>) -> usize {
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .send(Command::SyncNow { peer, reply })
            .await
            .is_err()
        {
            return 0;
        }
        rx.await.unwrap_or(0)
    }

    pub async fn listen_addrs(&self) -> Vec<String> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Command::ListenAddrs { reply }).await.is_err() {
            return vec![];
        }
        rx.await.unwrap_or_default()
    }
}

impl crate::sync::Requester for NetClient {
    async fn request(
        &self,
        peer: PeerId,
        request: SyncRequest,
    ) -> Result<SyncResponse, RequestError> {
        let stopped = || RequestError::Transport("the network has stopped".into());
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::SyncRequest {
                peer,
                request,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }
}

/// Settings of the network, from the node's config.
pub struct NetConfig {
    pub node_key: [u8; 32],
    pub listen: Vec<String>,
    pub peers: Vec<String>,
    pub mdns: bool,
    /// Scopes to subscribe to: own scope, its ancestors, followed scopes.
    pub scopes: Vec<Scope>,
    /// Largest listing accepted from a peer; a larger gossip message is
    /// invalid. (The transport refuses anything over [`MAX_MESSAGE`].)
    pub max_listing: usize,
    /// Time between two sync sessions with a connected peer.
    pub sync_interval: Duration,
    /// Gossip messages a peer may send per second.
    pub peer_per_second: u32,
}

/// The node id of a peer, from its libp2p identity.
pub fn node_id_of(peer: &PeerId) -> Option<NodeId> {
    let key = identity::PublicKey::try_decode_protobuf(peer.as_ref().digest()).ok()?;
    let ed = key.try_into_ed25519().ok()?;
    Some(NodeId(ed.to_bytes()))
}

/// A configured peer that is redialled with backoff while not connected.
struct Explicit {
    addr: Multiaddr,
    peer: Option<PeerId>,
    next_try: Instant,
    backoff: Duration,
}

struct Validated {
    message_id: gossipsub::MessageId,
    source: PeerId,
    acceptance: MessageAcceptance,
}

/// Builds the swarm, starts listening, and returns the handle and the event
/// loop future (to be spawned).
///
/// With `metrics`, gossipsub records its counters (messages received with and
/// without duplicates, sent, IDONTWANTs) there; the federation benchmark
/// reads amplification from them.
pub fn start(
    cfg: NetConfig,
    ingest: Arc<Ingest>,
    metrics: Option<&mut libp2p::metrics::Registry>,
) -> Result<(NetClient, impl std::future::Future<Output = ()>), NetError> {
    let mut seed = cfg.node_key;
    let keypair = identity::Keypair::ed25519_from_bytes(&mut seed)
        .map_err(|e| NetError::Key(e.to_string()))?;
    let local = keypair.public().to_peer_id();
    let max_listing = cfg.max_listing;
    let gossip_config = gossipsub::ConfigBuilder::default()
        .validation_mode(ValidationMode::Anonymous)
        .validate_messages()
        .max_transmit_size(MAX_MESSAGE)
        .message_id_fn(|m: &gossipsub::Message| {
            gossipsub::MessageId::from(Sha256::digest(&m.data).to_vec())
        })
        .heartbeat_interval(Duration::from_millis(700))
        .mesh_n(MESH_N)
        .mesh_n_low(MESH_N - 1)
        .mesh_n_high(2 * MESH_N)
        .mesh_outbound_min(MESH_N / 2)
        .build()
        .map_err(|e| NetError::Setup(e.to_string()))?;
    let mdns_on = cfg.mdns;
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetError::Setup(e.to_string()))?
        .with_behaviour(|key| {
            let mut gossipsub =
                gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, gossip_config)?;
            if let Some(registry) = metrics {
                gossipsub = gossipsub.with_metrics(registry, Default::default());
            }
            let identify = identify::Behaviour::new(
                identify::Config::new("/buurt/1".into(), key.public())
                    .with_agent_version(format!("buurt/{}", env!("CARGO_PKG_VERSION"))),
            );
            // Local discovery is a convenience: a host without multicast
            // still federates through configured peers.
            let mdns = if mdns_on {
                match mdns::tokio::Behaviour::new(
                    mdns::Config::default(),
                    key.public().to_peer_id(),
                ) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        tracing::warn!(
                            "mDNS is unavailable ({e}); running without local discovery"
                        );
                        None
                    }
                }
            } else {
                None
            };
            let sync = request_response::Behaviour::new(
                [(crate::sync::PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(SYNC_TIMEOUT)
                    .with_max_concurrent_streams(16),
            );
            Ok(Behaviour {
                gossipsub,
                identify,
                ping: ping::Behaviour::default(),
                mdns: Toggle::from(mdns),
                sync,
            })
        })
        .map_err(|e| NetError::Setup(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    for t in cfg.scopes.iter().map(topic).chain([revocation_topic()]) {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&t)
            .map_err(|e| NetError::Setup(e.to_string()))?;
    }
    for l in &cfg.listen {
        let addr: Multiaddr = l.parse().map_err(|_| NetError::BadAddress(l.clone()))?;
        swarm.listen_on(addr).map_err(|e| NetError::Listen {
            addr: l.clone(),
            message: e.to_string(),
        })?;
    }
    let mut explicit = Vec::new();
    for p in &cfg.peers {
        let addr: Multiaddr = p.parse().map_err(|_| NetError::BadAddress(p.clone()))?;
        let peer = addr.iter().find_map(|proto| match proto {
            Protocol::P2p(id) => Some(id),
            _ => None,
        });
        explicit.push(Explicit {
            addr,
            peer,
            next_try: Instant::now(),
            backoff: Duration::from_secs(1),
        });
    }
    let (tx, rx) = mpsc::channel(COMMANDS);
    let sync = Arc::new(SyncState::default());
    let (answers_tx, answers) = mpsc::channel(crate::sync::SERVING);
    let event_loop = EventLoop {
        weak: tx.downgrade(),
        sync: sync.clone(),
        scopes: cfg.scopes.clone(),
        sync_interval: cfg.sync_interval,
        pending: HashMap::new(),
        answers_tx,
        answers,
        serving: Arc::new(Semaphore::new(crate::sync::SERVING)),
        peer_per_second: cfg.peer_per_second,
        rates: HashMap::new(),
        swarm,
        local,
        commands: rx,
        ingest,
        explicit,
        since: HashMap::new(),
        invalid: HashMap::new(),
        banned: HashMap::new(),
        validating: Arc::new(Semaphore::new(VALIDATING)),
        max_listing,
    };
    Ok((NetClient { tx, sync }, event_loop.run()))
}

/// An answer to a sync request, computed off the event loop.
struct Answer {
    channel: ResponseChannel<crate::sync::Wire<SyncResponse>>,
    response: SyncResponse,
    peer: PeerId,
    malformed: bool,
}

struct EventLoop {
    /// A handle to this loop for the sync sessions it starts; weak, so that
    /// the loop still ends when the last outside handle is dropped.
    weak: mpsc::WeakSender<Command>,
    sync: Arc<SyncState>,
    scopes: Vec<Scope>,
    sync_interval: Duration,
    /// Sync requests sent, waiting for their answer.
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<SyncResponse, RequestError>>>,
    answers_tx: mpsc::Sender<Answer>,
    answers: mpsc::Receiver<Answer>,
    serving: Arc<Semaphore>,
    peer_per_second: u32,
    /// Gossip messages per peer in the current second: `(second, count)`.
    rates: HashMap<PeerId, (i64, u32)>,
    swarm: Swarm<Behaviour>,
    local: PeerId,
    commands: mpsc::Receiver<Command>,
    ingest: Arc<Ingest>,
    explicit: Vec<Explicit>,
    /// When each connected peer connected, and on which address.
    since: HashMap<PeerId, (i64, Multiaddr)>,
    /// Invalid messages per peer since it connected.
    invalid: HashMap<PeerId, u32>,
    banned: HashMap<PeerId, Instant>,
    validating: Arc<Semaphore>,
    max_listing: usize,
}

impl EventLoop {
    async fn run(mut self) {
        let (done_tx, mut done_rx) = mpsc::channel::<Validated>(VALIDATING);
        let mut redial = tokio::time::interval(Duration::from_secs(1));
        let mut periodic = tokio::time::interval(self.sync_interval);
        periodic.tick().await;
        tracing::info!(
            "network up as node {}",
            node_id_of(&self.local)
                .map(|n| n.to_string())
                .unwrap_or_default()
        );
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_event(event, &done_tx),
                command = self.commands.recv() => match command {
                    Some(c) => self.on_command(c),
                    None => return,
                },
                Some(v) = done_rx.recv() => self.report(v),
                Some(a) = self.answers.recv() => self.answered(a),
                _ = redial.tick() => self.redial(),
                _ = periodic.tick() => {
                    let peers: Vec<PeerId> = self.since.keys().copied().collect();
                    for p in peers {
                        self.start_session(p, jitter(self.sync_interval / 5));
                    }
                }
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { listing, reply } => {
                let t = topic(&listing.listing.scope);
                let hash = t.hash();
                let followers = self
                    .swarm
                    .behaviour()
                    .gossipsub
                    .all_peers()
                    .filter(|(_, topics)| topics.contains(&&hash))
                    .count();
                match self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(t, listing.bytes().to_vec())
                {
                    Ok(_) | Err(gossipsub::PublishError::Duplicate) => {}
                    Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                        tracing::debug!(
                            "no peer follows {} yet; sync will deliver",
                            listing.listing.scope
                        )
                    }
                    Err(e) => tracing::warn!("publish of {} failed: {e}", listing.listing_id()),
                }
                let _ = reply.send(followers);
            }
            Command::Peers { reply } => {
                let gossip = &self.swarm.behaviour().gossipsub;
                let topics: HashMap<PeerId, Vec<String>> = gossip
                    .all_peers()
                    .map(|(p, ts)| {
                        let scopes = ts
                            .iter()
                            .filter_map(|t| {
                                t.as_str().strip_prefix(TOPIC_PREFIX).map(str::to_owned)
                            })
                            .collect();
                        (*p, scopes)
                    })
                    .collect();
                let peers = self
                    .since
                    .iter()
                    .map(|(p, (t, addr))| PeerInfo {
                        node_id: node_id_of(p)
                            .map(|n| n.to_string())
                            .unwrap_or_else(|| p.to_string()),
                        address: addr.to_string(),
                        scopes: topics.get(p).cloned().unwrap_or_default(),
                        since: crate::view::rfc3339(*t),
                    })
                    .collect();
                let _ = reply.send(peers);
            }
            Command::SyncRequest {
                peer,
                request,
                reply,
            } => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_request(&peer, Ok(request));
                self.pending.insert(id, reply);
            }
            Command::SyncNow { peer, reply } => {
                let peers: Vec<PeerId> = self
                    .since
                    .keys()
                    .filter(|p| {
                        peer.as_ref().is_none_or(|want| {
                            node_id_of(p).is_some_and(|n| n.to_string() == *want)
                                || p.to_string() == *want
                        })
                    })
                    .copied()
                    .collect();
                let started = peers
                    .into_iter()
                    .filter(|p| self.start_session(*p, Duration::ZERO))
                    .count();
                let _ = reply.send(started);
            }
            Command::PublishRevocation { bytes } => {
                if let Err(e) = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(revocation_topic(), bytes)
                {
                    tracing::debug!("publishing a revocation: {e}");
                }
            }
            Command::Misbehaved { peer, why } => {
                tracing::warn!(
                    "sync with {}: {why}",
                    node_id_of(&peer).map(|n| n.to_string()).unwrap_or_default()
                );
                self.invalid.insert(peer, MAX_INVALID - 1);
                self.count_invalid(peer);
            }
            Command::ListenAddrs { reply } => {
                let local = self.local;
                let addrs = self
                    .swarm
                    .listeners()
                    .map(|a| a.clone().with(Protocol::P2p(local)).to_string())
                    .collect();
                let _ = reply.send(addrs);
            }
        }
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>, done: &mpsc::Sender<Validated>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!("listening on {}", address.with(Protocol::P2p(self.local)));
            }
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                if let Some(until) = self.banned.get(&peer_id) {
                    if *until > Instant::now() {
                        let _ = self.swarm.disconnect_peer_id(peer_id);
                        return;
                    }
                    self.banned.remove(&peer_id);
                }
                let addr = endpoint.get_remote_address().clone();
                for e in &mut self.explicit {
                    if e.peer == Some(peer_id) || (e.peer.is_none() && e.addr == addr) {
                        e.peer = Some(peer_id);
                        e.backoff = Duration::from_secs(1);
                    }
                }
                if !self.since.contains_key(&peer_id) {
                    self.start_session(peer_id, SYNC_DELAY);
                }
                self.since
                    .entry(peer_id)
                    .or_insert((crate::run::now(), addr));
                tracing::info!(
                    "connected to {}",
                    node_id_of(&peer_id)
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                );
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.since.remove(&peer_id);
                self.invalid.remove(&peer_id);
                self.rates.remove(&peer_id);
                tracing::info!(
                    "disconnected from {}",
                    node_id_of(&peer_id)
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                );
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                for (peer, addr) in found {
                    if !self.swarm.is_connected(&peer) && !self.banned.contains_key(&peer) {
                        let _ = self.swarm.dial(addr);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.on_message(propagation_source, message_id, message, done),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(e)) => self.on_sync(e),
            _ => {}
        }
    }

    /// Hands a gossip message to the ingest pipeline off the event loop.
    fn on_message(
        &mut self,
        source: PeerId,
        message_id: gossipsub::MessageId,
        message: gossipsub::Message,
        done: &mpsc::Sender<Validated>,
    ) {
        let reject = |this: &mut Self, id, why: &str| {
            tracing::debug!("rejected a message from {source}: {why}");
            this.report(Validated {
                message_id: id,
                source,
                acceptance: MessageAcceptance::Reject,
            });
        };
        // Over its rate, a peer's messages are dropped unread; the first one
        // over in a second counts against it.
        let second = crate::run::now();
        let rate = self.rates.entry(source).or_insert((second, 0));
        if rate.0 != second {
            *rate = (second, 0);
        }
        rate.1 = rate.1.saturating_add(1);
        let count = rate.1;
        if count > self.peer_per_second {
            if count == self.peer_per_second.saturating_add(1) {
                tracing::debug!(
                    "{source} sends more than {} messages a second",
                    self.peer_per_second
                );
                self.count_invalid(source);
            }
            self.report(Validated {
                message_id,
                source,
                acceptance: MessageAcceptance::Ignore,
            });
            return;
        }
        if message.topic == revocation_topic().hash() {
            let ingest = self.ingest.clone();
            let done = done.clone();
            tokio::task::spawn_blocking(move || {
                let acceptance = match ingest.revoke(&message.data) {
                    Ok(Some((true, removed))) => {
                        tracing::info!("revocation received: {removed} listings removed");
                        MessageAcceptance::Accept
                    }
                    Ok(Some((false, _))) => MessageAcceptance::Ignore,
                    Ok(None) => MessageAcceptance::Reject,
                    Err(e) => {
                        tracing::warn!("taking in a revocation failed: {e}");
                        MessageAcceptance::Ignore
                    }
                };
                let _ = done.blocking_send(Validated {
                    message_id,
                    source,
                    acceptance,
                });
            });
            return;
        }
        if message.data.len() > self.max_listing {
            return reject(self, message_id, "too large");
        }
        // The listing must travel on its own scope's topic.
        let on_topic = buurt_protocol::SignedListing::decode(&message.data)
            .map(|l| topic(&l.listing.scope).hash() == message.topic);
        match on_topic {
            Err(_) => return reject(self, message_id, "malformed"),
            Ok(false) => return reject(self, message_id, "listing on another scope's topic"),
            Ok(true) => {}
        }
        let Ok(permit) = self.validating.clone().try_acquire_owned() else {
            self.report(Validated {
                message_id,
                source,
                acceptance: MessageAcceptance::Ignore,
            });
            return;
        };
        let ingest = self.ingest.clone();
        let done = done.clone();
        tokio::task::spawn_blocking(move || {
            let acceptance = match ingest.submit(&message.data, Source::Gossip, crate::run::now()) {
                Ok(Outcome::Stored(_)) => MessageAcceptance::Accept,
                Ok(Outcome::Duplicate(_)) | Ok(Outcome::Superseded(_)) => MessageAcceptance::Ignore,
                Ok(Outcome::Rejected(r)) if r.is_invalid() => MessageAcceptance::Reject,
                Ok(Outcome::Rejected(_)) => MessageAcceptance::Ignore,
                Err(e) => {
                    tracing::warn!("ingest failed on a gossip message: {e}");
                    MessageAcceptance::Ignore
                }
            };
            drop(permit);
            let _ = done.blocking_send(Validated {
                message_id,
                source,
                acceptance,
            });
        });
    }

    fn report(&mut self, v: Validated) {
        let rejected = matches!(v.acceptance, MessageAcceptance::Reject);
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(&v.message_id, &v.source, v.acceptance);
        if rejected {
            self.count_invalid(v.source);
        }
    }

    /// Counts one invalid message (or sync misbehaviour) against a peer and
    /// disconnects and bans it at [`MAX_INVALID`].
    fn count_invalid(&mut self, peer: PeerId) {
        let n = self.invalid.entry(peer).or_default();
        *n += 1;
        if *n >= MAX_INVALID {
            tracing::warn!(
                "disconnecting {}: {} invalid messages",
                node_id_of(&peer).map(|n| n.to_string()).unwrap_or_default(),
                n
            );
            self.banned.insert(peer, Instant::now() + BAN);
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    /// A sync request from a peer is answered off the loop; an answer to one
    /// of ours goes to the session waiting for it.
    fn on_sync(
        &mut self,
        event: request_response::Event<
            crate::sync::Wire<SyncRequest>,
            crate::sync::Wire<SyncResponse>,
        >,
    ) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let request = match request {
                    Ok(r) => r,
                    Err(why) => {
                        tracing::debug!("malformed sync request from {peer}: {why}");
                        let refused = SyncResponse::Refused {
                            reason: "malformed request".into(),
                        };
                        let _ = self
                            .swarm
                            .behaviour_mut()
                            .sync
                            .send_response(channel, Ok(refused));
                        self.count_invalid(peer);
                        return;
                    }
                };
                let Ok(permit) = self.serving.clone().try_acquire_owned() else {
                    let busy = SyncResponse::Refused {
                        reason: "busy".into(),
                    };
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .sync
                        .send_response(channel, Ok(busy));
                    return;
                };
                let ingest = self.ingest.clone();
                let answers = self.answers_tx.clone();
                let state = self.sync.clone();
                tokio::task::spawn_blocking(move || {
                    let (response, malformed) =
                        crate::sync::answer(&ingest, &state.items, request, crate::run::now());
                    drop(permit);
                    let _ = answers.blocking_send(Answer {
                        channel,
                        response,
                        peer,
                        malformed,
                    });
                });
            }
            Event::Message {
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(response.map_err(RequestError::Malformed));
                }
            }
            Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(RequestError::Transport(error.to_string())));
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                tracing::debug!("sync request from {peer} failed: {error}");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    fn answered(&mut self, a: Answer) {
        let _ = self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(a.channel, Ok(a.response));
        if a.malformed {
            self.count_invalid(a.peer);
        }
    }

    /// Starts a sync session with `peer` after `delay`, unless one is
    /// running. Returns whether it started one.
    fn start_session(&mut self, peer: PeerId, delay: Duration) -> bool {
        let Some(tx) = self.weak.upgrade() else {
            return false;
        };
        if !self
            .sync
            .busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(peer)
        {
            return false;
        }
        let client = NetClient {
            tx,
            sync: self.sync.clone(),
        };
        let ingest = self.ingest.clone();
        let scopes = self.scopes.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let run = session(&client, &ingest, peer, &scopes);
            if tokio::time::timeout(crate::sync::SESSION_LIMIT, run)
                .await
                .is_err()
            {
                tracing::warn!("sync session with {peer} timed out");
            }
            client
                .sync
                .busy
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&peer);
        });
        true
    }

    fn redial(&mut self) {
        let now = Instant::now();
        self.banned.retain(|_, until| *until > now);
        for i in 0..self.explicit.len() {
            let connected = self.explicit[i]
                .peer
                .is_some_and(|p| self.swarm.is_connected(&p));
            if connected || self.explicit[i].next_try > now {
                continue;
            }
            let addr = self.explicit[i].addr.clone();
            if let Err(e) = self.swarm.dial(addr.clone()) {
                tracing::debug!("dial {addr}: {e}");
            }
            let e = &mut self.explicit[i];
            e.next_try = now + e.backoff;
            e.backoff = (e.backoff * 2).min(MAX_REDIAL);
        }
    }
}

/// A random duration between zero and `max`.
fn jitter(max: Duration) -> Duration {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    let ms = max.as_millis().max(1) as u64;
    Duration::from_millis(u64::from_be_bytes(b) % ms)
}

/// One sync session: the peer's revocations, then every subscribed scope in
/// turn.
async fn session(client: &NetClient, ingest: &Arc<Ingest>, peer: PeerId, scopes: &[Scope]) {
    let name = node_id_of(&peer)
        .map(|n| n.to_string())
        .unwrap_or_else(|| peer.to_string());
    match crate::sync::sync_revocations(client, ingest, peer).await {
        Ok(0) => {}
        Ok(n) => tracing::info!("sync with {name}: {n} revocations received"),
        Err(SessionError::Misbehaved(why)) => {
            let _ = client.tx.send(Command::Misbehaved { peer, why }).await;
            return;
        }
        Err(e) => {
            tracing::debug!("sync of revocations with {name}: {e}");
            return;
        }
    }
    for scope in scopes {
        let result =
            crate::sync::sync_scope(client, ingest, &client.sync, peer, &name, scope).await;
        let now = crate::view::rfc3339(crate::run::now());
        match result {
            Ok(mut r) => {
                r.last_at = now;
                let refused = r.result.starts_with("refused");
                let known = client
                    .sync
                    .scopes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains_key(scope.as_str());
                // A peer that does not follow a scope says nothing about it.
                if !refused || !known {
                    client.sync.record(r);
                }
            }
            Err(e) => {
                client.sync.record(ScopeSync {
                    scope: scope.to_string(),
                    last_at: now,
                    peer: name.clone(),
                    result: format!("failed: {e}"),
                    ..Default::default()
                });
                if let SessionError::Misbehaved(why) = e {
                    let _ = client.tx.send(Command::Misbehaved { peer, why }).await;
                }
                return;
            }
        }
    }
}
