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
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, identity, mdns, noise, ping, tcp, yamux, Multiaddr, PeerId, Swarm};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::ingest::{Ingest, Outcome, Source};

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
/// Prefix of gossipsub topic names: `buurt/v1/scope/nl/amsterdam`.
pub const TOPIC_PREFIX: &str = "buurt/v1/scope/";

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

    pub async fn listen_addrs(&self) -> Vec<String> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Command::ListenAddrs { reply }).await.is_err() {
            return vec![];
        }
        rx.await.unwrap_or_default()
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
            Ok(Behaviour {
                gossipsub,
                identify,
                ping: ping::Behaviour::default(),
                mdns: Toggle::from(mdns),
            })
        })
        .map_err(|e| NetError::Setup(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    for scope in &cfg.scopes {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&topic(scope))
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
    let event_loop = EventLoop {
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
    Ok((NetClient { tx }, event_loop.run()))
}

struct EventLoop {
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
                _ = redial.tick() => self.redial(),
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
            let n = self.invalid.entry(v.source).or_default();
            *n += 1;
            if *n >= MAX_INVALID {
                tracing::warn!(
                    "disconnecting {}: {} invalid messages",
                    node_id_of(&v.source)
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                    n
                );
                self.banned.insert(v.source, Instant::now() + BAN);
                let _ = self.swarm.disconnect_peer_id(v.source);
            }
        }
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
