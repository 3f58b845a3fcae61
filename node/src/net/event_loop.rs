//! The one event loop that owns the swarm: it takes commands from
//! [`NetClient`](super::NetClient)s, announcements from ingest, events from
//! the swarm, and the results of work it ran off the loop (gossip
//! verdicts, sync answers), and it redials configured peers and starts
//! periodic sync sessions. The work itself is in [`Gossip`] and
//! [`Requests`]; both act on the [`Core`] (swarm and peers) the loop lends
//! them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use buurt_protocol::Scope;
use libp2p::futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{gossipsub, mdns, PeerId, Swarm};
use tokio::sync::mpsc;

use super::behaviour::{Behaviour, BehaviourEvent};
use super::client::{Command, PeerInfo};
use super::gossip::{self, Gossip, Validated};
use super::mail::{self, MailAnswer, Mailroom};
use super::peers::{Connection, Peers};
use super::photos::Darkroom;
use super::reach::{self, Reach};
use super::requests::{self, Answer, Requests};
use super::swarm_core::Core;
use super::{display_peer, node_id_of, topic, SYNC_DELAY, TOPIC_PREFIX};
use crate::clock;
use crate::ingest::Announcement;
use crate::sync;

/// After the web grew, the second catch-up with every peer waits this long
/// (plus the quiet time of a catch-up).
const WEB_CATCH_UP: Duration = Duration::from_secs(2);

/// Longest wait for a listener before configured peers are dialled.
const LISTEN_WAIT: Duration = Duration::from_secs(3);

/// What [`EventLoop::new`] is built from.
pub struct Parts {
    pub weak: mpsc::WeakSender<Command>,
    pub swarm: Swarm<Behaviour>,
    pub local: PeerId,
    pub commands: mpsc::Receiver<Command>,
    pub announcements: mpsc::Receiver<Announcement>,
    pub sync: Arc<sync::Context>,
    pub scopes: Vec<Scope>,
    pub sync_interval: Duration,
    pub max_listing: usize,
    pub peers: Peers,
    pub mail: Option<Arc<crate::mail::Mail>>,
    pub photos: Option<Arc<crate::photos::Photos>>,
    pub reach: Reach,
    /// libp2p's own metrics (swarm, identify, ping, relay, DCUtR).
    pub recorder: Option<libp2p::metrics::Metrics>,
}

pub struct EventLoop {
    core: Core,
    gossip: Gossip,
    requests: Requests,
    commands: mpsc::Receiver<Command>,
    announcements: mpsc::Receiver<Announcement>,
    verdicts: mpsc::Receiver<Validated>,
    answers: mpsc::Receiver<Answer>,
    mailroom: Mailroom,
    mail_answers: mpsc::Receiver<MailAnswer>,
    darkroom: Darkroom,
    reach: Reach,
    recorder: Option<libp2p::metrics::Metrics>,
    sync_interval: Duration,
    started: Instant,
}

impl EventLoop {
    pub fn new(p: Parts) -> EventLoop {
        let (gossip, verdicts) = Gossip::new(p.sync.ingest.clone(), p.max_listing, p.mail.clone());
        let (mailroom, mail_answers) = Mailroom::new(p.mail, p.weak.clone(), p.sync.clone());
        let (requests, answers) = Requests::new(p.sync, p.scopes, p.weak);
        EventLoop {
            core: Core {
                swarm: p.swarm,
                peers: p.peers,
                local: p.local,
            },
            gossip,
            requests,
            commands: p.commands,
            announcements: p.announcements,
            verdicts,
            answers,
            mailroom,
            mail_answers,
            darkroom: Darkroom::new(p.photos),
            reach: p.reach,
            recorder: p.recorder,
            started: Instant::now(),
            sync_interval: p.sync_interval,
        }
    }

    pub async fn run(mut self) {
        let mut redial = tokio::time::interval(Duration::from_secs(1));
        let mut periodic = tokio::time::interval(self.sync_interval);
        periodic.tick().await;
        tracing::info!("network up as node {}", display_peer(&self.core.local));
        loop {
            tokio::select! {
                event = self.core.swarm.select_next_some() => self.on_event(event),
                command = self.commands.recv() => match command {
                    Some(c) => self.on_command(c),
                    None => return,
                },
                Some(a) = self.announcements.recv() => {
                    if let Announcement::Listing { listing, .. } = &a {
                        if let Some(photo) = listing.listing.extras.photo {
                            self.darkroom.want(&mut self.core, photo);
                        }
                    }
                    gossip::publish(&mut self.core, a);
                }
                Some(v) = self.verdicts.recv() => {
                    let grew = v.grew;
                    gossip::report(&mut self.core, v);
                    if grew {
                        // A node joined the web: fetch what it posted, now
                        // and once more a few seconds later, when a peer
                        // that vouched for it has fetched it from it too.
                        let later = Instant::now() + WEB_CATCH_UP;
                        let peers: Vec<PeerId> =
                            self.core.peers.connected_peers().map(|(p, _)| *p).collect();
                        for p in peers {
                            self.requests.start_session(p, Duration::ZERO);
                            self.core.peers.fell_behind(p, later);
                        }
                    }
                }
                Some(a) = self.answers.recv() => requests::answered(&mut self.core, a),
                Some(a) = self.mail_answers.recv() => mail::answered(&mut self.core, a),
                _ = redial.tick() => {
                    self.redial();
                    self.reach.tick(&mut self.core, Instant::now());
                    self.darkroom.pump(&mut self.core);
                }
                _ = periodic.tick() => {
                    for (p, _) in self.core.peers.connected_peers() {
                        self.requests.start_session(*p, jitter(self.sync_interval / 5));
                    }
                }
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Followers { scope, reply } => {
                let _ = reply.send(self.followers(&scope));
            }
            Command::Peers { reply } => {
                let _ = reply.send(self.peer_list());
            }
            Command::SyncRequest {
                peer,
                request,
                reply,
            } => self.requests.send(&mut self.core, peer, request, reply),
            Command::SyncNow { peer, reply } => {
                let started = self
                    .core
                    .peers
                    .connected_peers()
                    .map(|(p, _)| *p)
                    .filter(|p| {
                        peer.as_ref().is_none_or(|want| {
                            node_id_of(p).is_some_and(|n| n.to_string() == *want)
                        })
                    })
                    .filter(|p| self.requests.start_session(*p, Duration::ZERO))
                    .count();
                let _ = reply.send(started);
            }
            Command::Misbehaved { peer, why } => self.core.strike_out(peer, &why),
            Command::MailRequest {
                peer,
                request,
                reply,
            } => self.mailroom.send(&mut self.core, peer, request, reply),
            Command::WantPhoto { photo } => self.darkroom.want(&mut self.core, photo),
            Command::PublishReplyKey { bytes } => gossip::publish_reply_key(&mut self.core, bytes),
            Command::Connected { reply } => {
                let peers = self.core.peers.connected_peers().map(|(p, _)| *p).collect();
                let _ = reply.send(peers);
            }
            Command::Reach { reply } => {
                let _ = reply.send(self.reach.info(&self.core));
            }
            Command::ListenAddrs { reply } => {
                let local = self.core.local;
                let addrs = self
                    .core
                    .swarm
                    .listeners()
                    .map(|a| a.clone().with(Protocol::P2p(local)).to_string())
                    .collect();
                let _ = reply.send(addrs);
            }
        }
    }

    /// Connected peers that have announced a subscription to `scope`.
    fn followers(&self, scope: &Scope) -> usize {
        let hash = topic(scope).hash();
        self.core
            .swarm
            .behaviour()
            .gossipsub
            .all_peers()
            .filter(|(_, topics)| topics.contains(&&hash))
            .count()
    }

    fn peer_list(&self) -> Vec<PeerInfo> {
        let gossip = &self.core.swarm.behaviour().gossipsub;
        let topics: HashMap<PeerId, Vec<String>> = gossip
            .all_peers()
            .map(|(p, ts)| {
                let scopes = ts
                    .iter()
                    .filter_map(|t| t.as_str().strip_prefix(TOPIC_PREFIX).map(str::to_owned))
                    .collect();
                (*p, scopes)
            })
            .collect();
        self.core
            .peers
            .connected_peers()
            .map(|(p, c)| PeerInfo {
                node_id: display_peer(p),
                address: c.addr.to_string(),
                path: self.reach.path(p).into(),
                scopes: topics.get(p).cloned().unwrap_or_default(),
                since: clock::rfc3339(c.since),
                accepted: false,
                vouched_by: vec![],
            })
            .collect()
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        if let Some(r) = &self.recorder {
            use libp2p::metrics::Recorder;
            r.record(&event);
            match &event {
                SwarmEvent::Behaviour(BehaviourEvent::Identify(e)) => r.record(e),
                SwarmEvent::Behaviour(BehaviourEvent::Ping(e)) => r.record(e),
                SwarmEvent::Behaviour(BehaviourEvent::Relay(e)) => r.record(e),
                SwarmEvent::Behaviour(BehaviourEvent::Dcutr(e)) => r.record(e),
                _ => {}
            }
        }
        let core = &mut self.core;
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                self.reach.listening(core, &address);
                if !reach::is_relayed(&address) {
                    tracing::info!("listening on {}", address.with(Protocol::P2p(core.local)));
                }
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => self
                .reach
                .listener_closed(listener_id, reason.err().map(|e| e.to_string())),
            SwarmEvent::ExternalAddrConfirmed { address } => self.reach.confirmed(&address),
            SwarmEvent::ExternalAddrExpired { address } => self.reach.expired(&address),
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                connection_id,
                ..
            } => {
                self.reach
                    .opened(peer_id, connection_id, endpoint.is_relayed());
                let addr = endpoint.get_remote_address().clone();
                match core
                    .peers
                    .connected(peer_id, addr, Instant::now(), clock::now())
                {
                    Connection::Refused => {
                        let _ = core.swarm.disconnect_peer_id(peer_id);
                    }
                    Connection::New => {
                        self.requests.start_session(peer_id, SYNC_DELAY);
                        self.mailroom.connected();
                        tracing::info!("connected to {}", display_peer(&peer_id));
                    }
                    Connection::Again => {}
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } => {
                self.reach.closed(core, peer_id, connection_id);
                if num_established == 0 {
                    core.peers.disconnected(&peer_id);
                    tracing::info!("disconnected from {}", display_peer(&peer_id));
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(e)) => self.reach.on_identify(core, e),
            SwarmEvent::Behaviour(BehaviourEvent::RelayClient(e)) => self.reach.on_relay_client(e),
            SwarmEvent::Behaviour(BehaviourEvent::Relay(e)) => self.reach.on_relay(e),
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(e)) => self.reach.on_dcutr(e),
            SwarmEvent::Behaviour(BehaviourEvent::Autonat(e)) => self.reach.on_autonat(e),
            SwarmEvent::Behaviour(BehaviourEvent::Rendezvous(e)) => {
                self.reach.on_rendezvous(core, e)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                let now = Instant::now();
                for (peer, addr) in found {
                    if !core.swarm.is_connected(&peer) && !core.peers.is_banned(&peer, now) {
                        let _ = core.swarm.dial(addr);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self
                .gossip
                .on_message(core, propagation_source, message_id, message),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(e)) => self.requests.on_event(core, e),
            SwarmEvent::Behaviour(BehaviourEvent::Mail(e)) => self.mailroom.on_event(core, e),
            SwarmEvent::Behaviour(BehaviourEvent::Photo(e)) => self.darkroom.on_event(core, e),
            _ => {}
        }
    }

    /// Every second: dials configured peers that are due, and starts a
    /// catch-up sync with each peer whose gossip was skipped and that has
    /// gone quiet (one whose session is still running is tried again).
    fn redial(&mut self) {
        let now = Instant::now();
        // Dial once this node listens (or after a few seconds without a
        // listener): TCP dials then leave from the listening port, which is
        // the port peers see and what a hole punch needs.
        let listening = self.core.swarm.listeners().next().is_some();
        if !listening && now.duration_since(self.started) < LISTEN_WAIT {
            return;
        }
        for addr in self.core.peers.due_dials(now) {
            if let Err(e) = self.core.swarm.dial(addr.clone()) {
                tracing::debug!("dial {addr}: {e}");
            }
        }
        for peer in self.core.peers.due_catch_ups(now) {
            if self.requests.start_session(peer, Duration::ZERO) {
                tracing::info!("catching up with {} by sync", display_peer(&peer));
            } else {
                self.core.peers.fell_behind(peer, now);
            }
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
