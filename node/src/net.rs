//! Federation: the libp2p swarm and the one event loop that owns it.
//!
//! TCP + Noise + Yamux; identify; ping; mDNS (optional); gossipsub with one
//! topic per scope level; `/buurt/sync/1` request-response for catch-up
//! sync; relay, DCUtR, AutoNAT v2 and rendezvous for nodes behind NAT. Gossipsub runs in `Anonymous` mode with content-addressed message
//! ids and manual validation: the listing carries its author's signature,
//! which ingest checks once, so the libp2p signature of every copy would be
//! wasted work. A message is forwarded only after the ingest pipeline
//! accepted it; a peer that keeps sending invalid data is disconnected and
//! refused for a while.
//!
//! The rest of the node talks to the loop through [`NetClient`], a cheap
//! handle that sends [`Command`]s over a bounded channel; the loop is also
//! the one publisher: it reads ingest's announce channel and publishes what
//! was made on this node.
//!
//! - [`behaviour`]: the protocols and how the swarm is built;
//! - [`client`]: the handle and its commands;
//! - [`event_loop`]: the loop, its commands and swarm events;
//! - [`swarm_core`]: the swarm and the peer bookkeeping, which the loop lends to
//!   the two that do the work:
//! - [`gossip`]: validating gossip messages through ingest, and publishing;
//! - [`requests`]: sync requests in and out, and the sessions it starts;
//! - [`exchange`]: a request-response event sorted, for both of those;
//! - [`mail`]: `/buurt/mail/1` requests in and out (store at home, or pass
//!   on one hop);
//! - [`reach`]: reach behind NAT (relay reservations at hubs, hole
//!   punching, reachability) and finding the nodes of a scope at hubs;
//!   [`hub`]: what a hub offers, on what terms;
//! - [`peers`]: per-peer bookkeeping (connections, strikes, bans, rates,
//!   redial), a plain struct that is given the time.

pub mod behaviour;
pub mod client;
pub mod event_loop;
pub mod exchange;
pub mod gossip;
pub mod hub;
pub mod mail;
pub mod peers;
pub mod photos;
pub mod reach;
pub mod requests;
pub mod swarm_core;

use std::sync::Arc;
use std::time::Duration;

use buurt_protocol::Scope;
use libp2p::gossipsub::IdentTopic;
use libp2p::PeerId;
use tokio::sync::mpsc;

use crate::ingest::Announcement;
use crate::sync;

pub use self::client::{Command, NetClient, PeerInfo};

/// Capacity of the command channel.
pub const COMMANDS: usize = 256;
/// Most gossip messages being validated at once; more are ignored (not
/// forwarded) and reach us again through sync.
pub const VALIDATING: usize = 256;
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
/// Longest wait for the answer to one mail request (a relayed one waits
/// for the home node's answer within it).
pub const MAIL_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between a new connection and the first sync session, so that both
/// sides have exchanged their subscriptions.
pub const SYNC_DELAY: Duration = Duration::from_secs(1);
/// Prefix of gossipsub topic names: `buurt/v1/scope/nl/amsterdam`.
pub const TOPIC_PREFIX: &str = "buurt/v1/scope/";

pub use self::peers::{BAN, MAX_INVALID, MAX_REDIAL};

/// The gossipsub topic every node follows for membership revocations.
pub fn revocation_topic() -> IdentTopic {
    IdentTopic::new("buurt/v1/revocations")
}

/// The gossipsub topic every node follows for thanks and pledges.
pub fn thanks_topic() -> IdentTopic {
    IdentTopic::new("buurt/v1/thanks")
}

/// The gossipsub topic every node follows for vouch statements.
pub fn vouch_topic() -> IdentTopic {
    IdentTopic::new("buurt/v1/vouches")
}

/// The gossipsub topic every node follows for members' reply keys, so that
/// a node can seal a reply while the author's home node is offline.
pub fn reply_key_topic() -> IdentTopic {
    IdentTopic::new("buurt/v1/replykeys")
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
    #[error(transparent)]
    BadAddress(#[from] crate::ids::BadAddress),
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: String, message: String },
}

/// Settings of the network, from the node's config.
pub struct NetConfig {
    pub node_key: [u8; 32],
    pub listen: Vec<String>,
    pub peers: Vec<String>,
    /// Hubs to reserve a relayed address at, register with and discover
    /// through (full addresses with `/p2p/`).
    pub hubs: Vec<String>,
    /// Serve as a hub: relay, AutoNAT and rendezvous servers.
    pub serve_hub: bool,
    /// The scopes this node registers and discovers under at hubs: its own
    /// and the followed ones (not the ancestors).
    pub home_scopes: Vec<Scope>,
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
    /// Listings' photos, fetched from and served to peers.
    pub photos: Option<Arc<crate::photos::Photos>>,
}

pub use crate::ids::node_id_of;

/// A peer as people know it: its node id (`bn…`), else its libp2p id.
pub fn display_peer(peer: &PeerId) -> String {
    node_id_of(peer)
        .map(|n| n.to_string())
        .unwrap_or_else(|| peer.to_string())
}

/// Builds the swarm, starts listening, and returns the handle and the event
/// loop future (to be spawned). The loop submits gossip to `sync.ingest`,
/// answers sync from `sync`, and publishes the local announcements it reads
/// from `announcements`.
///
/// With `metrics`, gossipsub records its counters (messages received with and
/// without duplicates, sent, IDONTWANTs) there; the federation benchmark
/// reads amplification from them.
pub fn start(
    cfg: NetConfig,
    sync: Arc<sync::Context>,
    announcements: mpsc::Receiver<Announcement>,
    mail: Option<Arc<crate::mail::Mail>>,
    metrics: Option<&mut libp2p::metrics::Registry>,
) -> Result<(NetClient, impl std::future::Future<Output = ()>), NetError> {
    let moderation = sync.moderation.clone();
    let known: hub::Known = Arc::new(move |peer: &PeerId| {
        crate::ids::node_id_of(peer).is_some_and(|n| moderation.accepts_node(&n))
    });
    let mut metrics = metrics;
    let (swarm, local) = behaviour::build(&cfg, Some(known.clone()), metrics.as_deref_mut())?;
    let recorder = metrics.map(libp2p::metrics::Metrics::new);
    let mut explicit = Vec::new();
    for p in &cfg.peers {
        explicit.push(crate::ids::parse_peer_addr(p)?);
    }
    let mut hubs = Vec::new();
    for h in &cfg.hubs {
        let addr = crate::ids::parse_peer_addr(h)?;
        if !addr
            .iter()
            .any(|p| matches!(p, libp2p::multiaddr::Protocol::P2p(_)))
        {
            return Err(NetError::Setup(format!(
                "hub `{h}`: the address must end in /p2p/ and the hub's node id"
            )));
        }
        explicit.push(addr.clone());
        hubs.push(addr);
    }
    let reach = reach::Reach::new(
        hubs,
        cfg.serve_hub,
        &cfg.home_scopes,
        Some(known),
        std::time::Instant::now(),
    );
    let (tx, rx) = mpsc::channel(COMMANDS);
    let client = NetClient::new(tx.clone(), sync.clone());
    let event_loop = event_loop::EventLoop::new(event_loop::Parts {
        weak: tx.downgrade(),
        swarm,
        local,
        commands: rx,
        announcements,
        sync,
        scopes: cfg.scopes,
        sync_interval: cfg.sync_interval,
        max_listing: cfg.max_listing,
        peers: peers::Peers::new(explicit, cfg.peer_per_second, std::time::Instant::now()),
        mail,
        photos: cfg.photos,
        reach,
        recorder,
    });
    Ok((client, event_loop.run()))
}
