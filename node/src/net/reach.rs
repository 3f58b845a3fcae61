//! Reach: how a node hosted at home, behind NAT, federates, and how a node
//! finds the other nodes of its scopes.
//!
//! - A **hub** (a node with a public address whose operator says so) runs a
//!   relay v2 server, an AutoNAT v2 server and a rendezvous server, and
//!   takes its own listen addresses as its external addresses.
//! - Every node runs the relay client, DCUtR, the AutoNAT v2 client and the
//!   rendezvous client. A node with hubs configured dials them, and once a
//!   hub has identified it, reserves a relayed address there
//!   (`…/p2p/HUB/p2p-circuit`), registers that address at the hub under
//!   each scope it lives in or follows (`buurt/SCOPE`), and asks the hub
//!   for the other nodes registered there, which it dials through their
//!   relayed addresses. DCUtR then tries to turn each relayed connection
//!   into a direct one; when that fails the relayed path stays, and gossip,
//!   sync and mail run over it like over any other.
//! - Reachability is what the node has learnt: `public` when an address
//!   of its own is confirmed (AutoNAT v2 dialled it back, or it is a hub),
//!   `relayed` while it holds a reservation at a hub, `unreachable` when
//!   peers see it at an address that is not its own or a dial-back failed,
//!   `unknown` before any of that.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::ConnectionId;
use libp2p::{autonat, dcutr, identify, relay, rendezvous, Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

use super::display_peer;
use super::swarm_core::Core;

/// How long a registration at a hub lasts; it is renewed after half.
pub const REGISTRATION_TTL: Duration = Duration::from_secs(2 * 3600);
/// Time between two discoveries at each hub.
pub const DISCOVER_EVERY: Duration = Duration::from_secs(30);
/// Wait before a lost reservation is asked for again.
pub const RESERVE_RETRY: Duration = Duration::from_secs(5);
/// How long a node is unreachable before it warns.
pub const WARN_AFTER: Duration = Duration::from_secs(10);
/// Most nodes dialled from one discovery answer.
pub const DIAL_PER_DISCOVERY: usize = 16;
/// How long a relayed circuit between two nodes the hub accepts may last,
/// and how many bytes it may carry (libp2p's defaults, 2 minutes and
/// 128 KiB, are far too small for a catch-up sync). Past either, the
/// circuit closes and the nodes open a new one.
pub const CIRCUIT_DURATION: Duration = Duration::from_secs(3600);
pub const CIRCUIT_BYTES: u64 = 64 << 20;
/// A stranger (a node the hub does not accept) is bounded: at most this
/// many reservations and circuits per peer per [`STRANGER_WINDOW`], and its
/// circuits cut after [`STRANGER_CIRCUIT`].
pub const STRANGER_PER_WINDOW: u32 = 4;
pub const STRANGER_WINDOW: Duration = Duration::from_secs(600);
pub const STRANGER_CIRCUIT: Duration = Duration::from_secs(120);

/// Whether the hub accepts a node (its web of vouches, or every node
/// under the open policy): such nodes get the generous limits.
pub type Known = Arc<dyn Fn(&PeerId) -> bool + Send + Sync>;

/// What `buurt status` says about reach.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReachInfo {
    /// `public`, `relayed`, `unreachable` or `unknown`.
    pub reachability: String,
    /// One line for people: how others reach this node, and what to do.
    pub summary: String,
    /// The hubs holding a reservation for this node (node ids).
    pub relayed_via: Vec<String>,
    /// Addresses of this node that others can dial, as far as it knows.
    pub external_addrs: Vec<String>,
    /// The address peers see this node at (identify), if any.
    pub seen_as: Option<String>,
    /// Whether this node serves as a hub.
    pub hub: bool,
    /// The hubs configured.
    pub hubs: Vec<String>,
}

struct Hub {
    peer: PeerId,
    addr: Multiaddr,
    identified: bool,
    /// The listener of the relayed address, while asked for or held.
    listener: Option<ListenerId>,
    reserved: bool,
    next_reserve: Instant,
    registered_at: Option<Instant>,
    next_discover: Instant,
}

pub struct Reach {
    hubs: Vec<Hub>,
    serve: bool,
    /// The namespaces this node registers and discovers under.
    namespaces: Vec<rendezvous::Namespace>,
    /// Each peer's open connections and whether each is relayed.
    paths: HashMap<PeerId, HashMap<ConnectionId, bool>>,
    /// Addresses of this node confirmed as reachable (not relayed).
    confirmed: HashSet<Multiaddr>,
    /// Addresses a dial-back failed for.
    failed: HashSet<Multiaddr>,
    seen_as: Option<Multiaddr>,
    /// The IP addresses this node listens on.
    own_ips: HashSet<IpAddr>,
    warned: bool,
    /// Since when this node has been unreachable, without a pause.
    unreachable_since: Option<Instant>,
    /// The hub's stranger circuits, to be cut when their time is up.
    stranger_circuits: Vec<(Instant, PeerId)>,
    known: Option<Known>,
}

/// The rendezvous namespace of a scope.
pub fn namespace(scope: &buurt_protocol::Scope) -> Option<rendezvous::Namespace> {
    rendezvous::Namespace::new(format!("buurt/{scope}")).ok()
}

impl Reach {
    /// `hubs`: full addresses with `/p2p/`; `serve`: this node is a hub.
    pub fn new(
        hubs: Vec<Multiaddr>,
        serve: bool,
        scopes: &[buurt_protocol::Scope],
        known: Option<Known>,
        now: Instant,
    ) -> Reach {
        let hubs = hubs
            .into_iter()
            .filter_map(|addr| {
                let peer = addr.iter().find_map(|p| match p {
                    Protocol::P2p(id) => Some(id),
                    _ => None,
                })?;
                Some(Hub {
                    peer,
                    addr,
                    identified: false,
                    listener: None,
                    reserved: false,
                    next_reserve: now,
                    registered_at: None,
                    next_discover: now,
                })
            })
            .collect();
        Reach {
            hubs,
            serve,
            namespaces: scopes.iter().filter_map(namespace).collect(),
            paths: HashMap::new(),
            confirmed: HashSet::new(),
            failed: HashSet::new(),
            seen_as: None,
            own_ips: HashSet::new(),
            warned: false,
            unreachable_since: None,
            stranger_circuits: Vec::new(),
            known,
        }
    }

    fn is_hub(&self, peer: &PeerId) -> bool {
        self.hubs.iter().any(|h| h.peer == *peer)
    }

    /// A connection opened; `relayed` when it runs through a relay.
    pub fn opened(&mut self, peer: PeerId, id: ConnectionId, relayed: bool) {
        self.paths.entry(peer).or_default().insert(id, relayed);
    }

    pub fn closed(&mut self, core: &Core, peer: PeerId, id: ConnectionId) {
        if let Some(p) = self.paths.get_mut(&peer) {
            p.remove(&id);
            if p.is_empty() {
                self.paths.remove(&peer);
            }
        }
        if !core.swarm.is_connected(&peer) {
            for h in self.hubs.iter_mut().filter(|h| h.peer == peer) {
                h.identified = false;
                h.registered_at = None;
            }
        }
    }

    /// `direct` when any connection to `peer` is direct, `relayed` when
    /// all run through a relay.
    pub fn path(&self, peer: &PeerId) -> &'static str {
        match self.paths.get(peer) {
            Some(p) if p.values().any(|relayed| !relayed) => "direct",
            Some(p) if !p.is_empty() => "relayed",
            _ => "direct",
        }
    }

    /// This node listens on `addr`. A hub offers its listen addresses to
    /// others (loopback ones only when it has no other).
    pub fn listening(&mut self, core: &mut Core, addr: &Multiaddr) {
        if is_relayed(addr) {
            return;
        }
        if let Some(ip) = ip_of(addr) {
            self.own_ips.insert(ip);
        }
        if self.serve {
            let loopback = ip_of(addr).is_some_and(|ip| ip.is_loopback());
            let others = core
                .swarm
                .listeners()
                .any(|a| ip_of(a).is_some_and(|ip| !ip.is_loopback()));
            if !loopback || !others {
                core.swarm.add_external_address(addr.clone());
            }
        }
    }

    /// An address of this node was confirmed (AutoNAT, a hub's own, or a
    /// relayed one held at a hub).
    pub fn confirmed(&mut self, addr: &Multiaddr) {
        if !is_relayed(addr) {
            self.confirmed.insert(addr.clone());
        }
    }

    pub fn expired(&mut self, addr: &Multiaddr) {
        self.confirmed.remove(addr);
    }

    pub fn on_identify(&mut self, core: &mut Core, e: identify::Event) {
        if let identify::Event::Received { peer_id, info, .. } = e {
            if !is_relayed(&info.observed_addr) {
                self.seen_as = Some(info.observed_addr.clone());
            }
            if let Some(h) = self.hubs.iter_mut().find(|h| h.peer == peer_id) {
                h.identified = true;
            }
            self.tick(core, Instant::now());
        }
    }

    pub fn on_relay_client(&mut self, e: relay::client::Event) {
        match e {
            relay::client::Event::ReservationReqAccepted {
                relay_peer_id,
                renewal,
                ..
            } => {
                if let Some(h) = self.hubs.iter_mut().find(|h| h.peer == relay_peer_id) {
                    h.reserved = true;
                }
                if !renewal {
                    tracing::info!(
                        "reachable through hub {}: other nodes reach this one relayed",
                        display_peer(&relay_peer_id)
                    );
                }
            }
            relay::client::Event::OutboundCircuitEstablished { relay_peer_id, .. } => {
                tracing::debug!("relayed circuit out via {}", display_peer(&relay_peer_id));
            }
            relay::client::Event::InboundCircuitEstablished { src_peer_id, .. } => {
                tracing::debug!("relayed circuit in from {}", display_peer(&src_peer_id));
            }
        }
    }

    /// A listener closed: when it held a relayed address, ask again later.
    pub fn listener_closed(&mut self, id: ListenerId, why: Option<String>) {
        let now = Instant::now();
        for h in self.hubs.iter_mut().filter(|h| h.listener == Some(id)) {
            h.listener = None;
            h.reserved = false;
            h.next_reserve = now + RESERVE_RETRY;
            tracing::warn!(
                "the reservation at hub {} ended{}; asking again in {} s",
                display_peer(&h.peer),
                why.as_deref()
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default(),
                RESERVE_RETRY.as_secs()
            );
        }
    }

    pub fn on_relay(&mut self, core: &mut Core, e: relay::Event) {
        match e {
            relay::Event::ReservationReqAccepted { src_peer_id, .. } => {
                tracing::debug!("relay: reservation for {}", display_peer(&src_peer_id));
            }
            relay::Event::CircuitReqAccepted {
                src_peer_id,
                dst_peer_id,
            } => {
                let known = |p: &PeerId| self.known.as_ref().is_none_or(|k| k(p));
                if !known(&src_peer_id) {
                    self.stranger_circuits
                        .push((Instant::now() + STRANGER_CIRCUIT, src_peer_id));
                }
                tracing::debug!(
                    "relay: circuit {} -> {}",
                    display_peer(&src_peer_id),
                    display_peer(&dst_peer_id)
                );
            }
            relay::Event::CircuitReqDenied {
                src_peer_id,
                dst_peer_id,
                status,
            } => tracing::debug!(
                "relay: circuit {} -> {} denied ({status:?})",
                display_peer(&src_peer_id),
                display_peer(&dst_peer_id)
            ),
            _ => {}
        }
        let _ = core;
    }

    pub fn on_dcutr(&mut self, e: dcutr::Event) {
        match e.result {
            Ok(_) => tracing::info!(
                "direct connection to {} (hole punched)",
                display_peer(&e.remote_peer_id)
            ),
            Err(err) => tracing::info!(
                "no direct connection to {} ({err}); staying relayed",
                display_peer(&e.remote_peer_id)
            ),
        }
    }

    pub fn on_autonat(&mut self, e: autonat::v2::client::Event) {
        match e.result {
            Ok(()) => {
                tracing::info!("reachable at {} (dialled back)", e.tested_addr);
                self.confirmed.insert(e.tested_addr);
            }
            Err(err) => {
                tracing::debug!("not reachable at {}: {err}", e.tested_addr);
                self.failed.insert(e.tested_addr);
            }
        }
    }

    pub fn on_rendezvous(&mut self, core: &mut Core, e: rendezvous::client::Event) {
        match e {
            rendezvous::client::Event::Discovered { registrations, .. } => {
                let local = core.local;
                let mut dialled = 0;
                for r in registrations {
                    let peer = r.record.peer_id();
                    if peer == local || core.swarm.is_connected(&peer) {
                        continue;
                    }
                    if dialled >= DIAL_PER_DISCOVERY || core.peers.is_banned(&peer, Instant::now())
                    {
                        continue;
                    }
                    let opts = DialOpts::peer_id(peer)
                        .addresses(r.record.addresses().to_vec())
                        .condition(PeerCondition::DisconnectedAndNotDialing)
                        .build();
                    match core.swarm.dial(opts) {
                        Ok(()) => {
                            dialled += 1;
                            tracing::info!(
                                "found node {} in {}; connecting",
                                display_peer(&peer),
                                r.namespace
                            );
                        }
                        Err(err) => tracing::debug!("dial {}: {err}", display_peer(&peer)),
                    }
                }
            }
            rendezvous::client::Event::Registered {
                rendezvous_node,
                namespace,
                ..
            } => {
                tracing::debug!(
                    "registered in {namespace} at hub {}",
                    display_peer(&rendezvous_node)
                );
                // Registered: look for the others now, not at the next round.
                for h in self.hubs.iter_mut().filter(|h| h.peer == rendezvous_node) {
                    h.next_discover = Instant::now();
                }
            }
            rendezvous::client::Event::RegisterFailed {
                rendezvous_node,
                namespace,
                error,
            } => {
                tracing::warn!(
                    "hub {} refused the registration in {namespace} ({error:?})",
                    display_peer(&rendezvous_node)
                );
                for h in self.hubs.iter_mut().filter(|h| h.peer == rendezvous_node) {
                    h.registered_at = None;
                }
            }
            rendezvous::client::Event::DiscoverFailed {
                rendezvous_node,
                error,
                ..
            } => tracing::debug!(
                "discovery at hub {} failed ({error:?})",
                display_peer(&rendezvous_node)
            ),
            rendezvous::client::Event::Expired { .. } => {}
        }
    }

    /// Every second, and when a hub identified this node: reserve at hubs
    /// that identified it, register and discover, cut strangers' circuits
    /// whose time is up, and warn once when no one can reach this node.
    pub fn tick(&mut self, core: &mut Core, now: Instant) {
        let has_external = core.swarm.external_addresses().next().is_some();
        for h in &mut self.hubs {
            let connected = core.swarm.is_connected(&h.peer);
            if connected && h.identified && h.listener.is_none() && now >= h.next_reserve {
                let circuit = h.addr.clone().with(Protocol::P2pCircuit);
                match core.swarm.listen_on(circuit) {
                    Ok(id) => h.listener = Some(id),
                    Err(e) => {
                        tracing::warn!("cannot reserve at hub {}: {e}", display_peer(&h.peer));
                        h.next_reserve = now + RESERVE_RETRY;
                    }
                }
            }
            if !connected || !h.identified {
                continue;
            }
            let renew = h
                .registered_at
                .is_none_or(|t| now.duration_since(t) >= REGISTRATION_TTL / 2);
            if renew && has_external {
                let rv = &mut core.swarm.behaviour_mut().rendezvous;
                let mut ok = true;
                for ns in &self.namespaces {
                    if let Err(e) =
                        rv.register(ns.clone(), h.peer, Some(REGISTRATION_TTL.as_secs()))
                    {
                        tracing::debug!("register in {ns}: {e}");
                        ok = false;
                    }
                }
                if ok {
                    h.registered_at = Some(now);
                }
            }
            if now >= h.next_discover {
                h.next_discover = now + DISCOVER_EVERY;
                let rv = &mut core.swarm.behaviour_mut().rendezvous;
                for ns in &self.namespaces {
                    rv.discover(Some(ns.clone()), None, None, h.peer);
                }
            }
        }
        while let Some(i) = self.stranger_circuits.iter().position(|(t, _)| *t <= now) {
            let (_, peer) = self.stranger_circuits.swap_remove(i);
            tracing::info!(
                "relay: a stranger's circuit time is up; disconnecting {}",
                display_peer(&peer)
            );
            let _ = core.swarm.disconnect_peer_id(peer);
        }
        // Warn once, when the node has been unreachable for a while (a
        // reservation usually follows a hub's identify within a second).
        let info = self.info(core);
        if info.reachability == "unreachable" {
            let since = *self.unreachable_since.get_or_insert(now);
            if !self.warned && now.duration_since(since) >= WARN_AFTER {
                self.warned = true;
                tracing::warn!("{}", info.summary);
            }
        } else {
            self.unreachable_since = None;
        }
    }

    /// Reachability as `buurt status` shows it.
    pub fn info(&self, core: &Core) -> ReachInfo {
        let external: Vec<Multiaddr> = core.swarm.external_addresses().cloned().collect();
        let relayed_via: Vec<String> = self
            .hubs
            .iter()
            .filter(|h| h.reserved)
            .map(|h| display_peer(&h.peer))
            .collect();
        let public = self.serve
            || external
                .iter()
                .any(|a| !is_relayed(a) && self.confirmed.contains(a))
            || self.confirmed.iter().any(|a| !is_relayed(a));
        let behind = !self.failed.is_empty()
            || self
                .seen_as
                .as_ref()
                .and_then(ip_of)
                .is_some_and(|ip| !self.own_ips.is_empty() && !self.own_ips.contains(&ip));
        let seen = self
            .seen_as
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "another address".into());
        let (reachability, summary) = if public {
            (
                "public",
                "public: other nodes can dial this node directly".to_owned(),
            )
        } else if !relayed_via.is_empty() {
            (
                "relayed",
                format!(
                    "behind NAT, relayed via {}: other nodes reach this node through the hub, \
                     and directly once a hole punch succeeds",
                    relayed_via.join(", ")
                ),
            )
        } else if behind && self.hubs.is_empty() {
            (
                "unreachable",
                format!(
                    "behind NAT: other nodes cannot reach this node (peers see it as {seen}); \
                     add a hub with `buurt node --hub /ip4/…/tcp/4001/p2p/bn…` or `hubs = [...]` \
                     in config.toml, or forward TCP port 4001 on the router to this machine"
                ),
            )
        } else if behind {
            (
                "unreachable",
                format!(
                    "behind NAT, and no hub holds a reservation for it yet (peers see it as \
                     {seen}): other nodes cannot reach this node until a hub answers; check \
                     `hubs` in config.toml and that the hub runs with `hub = true`"
                ),
            )
        } else {
            (
                "unknown",
                "unknown: no peer has told this node how it is seen yet".to_owned(),
            )
        };
        ReachInfo {
            reachability: reachability.into(),
            summary,
            relayed_via,
            external_addrs: external.iter().map(|a| a.to_string()).collect(),
            seen_as: self.seen_as.as_ref().map(|a| a.to_string()),
            hub: self.serve,
            hubs: self.hubs.iter().map(|h| h.addr.to_string()).collect(),
        }
    }

    pub fn is_hub_peer(&self, peer: &PeerId) -> bool {
        self.is_hub(peer)
    }
}

/// Whether an address runs through a relay.
pub fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(a) => Some(IpAddr::V4(a)),
        Protocol::Ip6(a) => Some(IpAddr::V6(a)),
        _ => None,
    })
}

/// The hub's relay settings: generous for the nodes it accepts, bounded
/// for strangers (see [`STRANGER_PER_WINDOW`]).
pub fn relay_config(known: Option<Known>) -> relay::Config {
    let limiter = move || -> Box<dyn relay::RateLimiter> {
        let known = known.clone();
        let seen: Arc<Mutex<HashMap<PeerId, (Instant, u32)>>> = Arc::default();
        Box::new(move |peer: PeerId, _: &Multiaddr, now: Instant| {
            if known.as_ref().is_none_or(|k| k(&peer)) {
                return true;
            }
            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            seen.retain(|_, (start, _)| now.duration_since(*start) < STRANGER_WINDOW);
            let e = seen.entry(peer).or_insert((now, 0));
            e.1 += 1;
            e.1 <= STRANGER_PER_WINDOW
        })
    };
    relay::Config {
        max_reservations: 1024,
        max_reservations_per_peer: 4,
        reservation_duration: Duration::from_secs(3600),
        reservation_rate_limiters: vec![limiter()],
        max_circuits: 512,
        max_circuits_per_peer: 32,
        max_circuit_duration: CIRCUIT_DURATION,
        max_circuit_bytes: CIRCUIT_BYTES,
        circuit_src_rate_limiters: vec![limiter()],
    }
}
