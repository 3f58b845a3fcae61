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
use std::time::{Duration, Instant};

use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::ConnectionId;
use libp2p::{autonat, dcutr, identify, relay, rendezvous, Multiaddr, PeerId};

use super::display_peer;
pub use info::{classify, ip_of, is_relayed, ReachInfo};

mod info;
use super::hub::{Known, REGISTRATION_TTL, STRANGER_CIRCUIT};
use super::swarm_core::Core;

/// Time between two discoveries at each hub.
pub const DISCOVER_EVERY: Duration = Duration::from_secs(30);
/// Wait before a lost reservation is asked for again.
pub const RESERVE_RETRY: Duration = Duration::from_secs(5);
/// How long a node is unreachable before it warns.
pub const WARN_AFTER: Duration = Duration::from_secs(10);
/// Most nodes dialled from one discovery answer.
pub const DIAL_PER_DISCOVERY: usize = 16;
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

    pub fn on_relay(&mut self, e: relay::Event) {
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
                    "hub {} refused the registration in {namespace} ({error:?}); nodes of \
                     this scope may not find this node there: check that the hub runs with \
                     `hub = true`",
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
                        tracing::warn!(
                            "cannot reserve at hub {}: {e}; asking again in {} s (check its \
                             address in `hubs` and that it runs with `hub = true`)",
                            display_peer(&h.peer),
                            RESERVE_RETRY.as_secs()
                        );
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
        let (reachability, summary) =
            classify(public, &relayed_via, behind, !self.hubs.is_empty(), &seen);
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
}
