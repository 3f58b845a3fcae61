//! The one event loop that owns the swarm: it takes commands from
//! [`NetClient`](super::NetClient)s, announcements from ingest, events from
//! the swarm, and the results of work it ran off the loop (gossip
//! validation, sync answers), and it redials configured peers and starts
//! periodic sync sessions.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use buurt_protocol::sync::Response as SyncResponse;
use buurt_protocol::Scope;
use libp2p::futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::OutboundRequestId;
use libp2p::swarm::SwarmEvent;
use libp2p::{gossipsub, mdns, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::behaviour::{Behaviour, BehaviourEvent};
use super::client::{Command, PeerInfo};
use super::gossip::Validated;
use super::peers::{Connection, Peers};
use super::requests::Answer;
use super::{display_peer, node_id_of, topic, TOPIC_PREFIX, VALIDATING};
use crate::clock;
use crate::ingest::Announcement;
use crate::sync::{self, RequestError};

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
}

pub struct EventLoop {
    /// A handle to this loop for the sync sessions it starts; weak, so that
    /// the loop still ends when the last outside handle is dropped.
    pub(super) weak: mpsc::WeakSender<Command>,
    pub(super) swarm: Swarm<Behaviour>,
    pub(super) local: PeerId,
    commands: mpsc::Receiver<Command>,
    announcements: mpsc::Receiver<Announcement>,
    pub(super) sync: Arc<sync::Context>,
    pub(super) scopes: Vec<Scope>,
    sync_interval: Duration,
    pub(super) max_listing: usize,
    pub(super) peers: Peers,
    /// Sync requests sent, waiting for their answer.
    pub(super) pending:
        HashMap<OutboundRequestId, oneshot::Sender<Result<SyncResponse, RequestError>>>,
    /// Sync answers computed off the loop, on their way back.
    pub(super) answers_tx: mpsc::Sender<Answer>,
    answers: mpsc::Receiver<Answer>,
    /// Permits for answering sync requests ([`sync::SERVING`]).
    pub(super) serving: Arc<Semaphore>,
    /// Gossip validations done off the loop, on their way back.
    pub(super) validated_tx: mpsc::Sender<Validated>,
    validated: mpsc::Receiver<Validated>,
    /// Permits for validating gossip ([`VALIDATING`]).
    pub(super) validating: Arc<Semaphore>,
}

impl EventLoop {
    pub fn new(p: Parts) -> EventLoop {
        let (answers_tx, answers) = mpsc::channel(sync::SERVING);
        let (validated_tx, validated) = mpsc::channel(VALIDATING);
        EventLoop {
            weak: p.weak,
            swarm: p.swarm,
            local: p.local,
            commands: p.commands,
            announcements: p.announcements,
            sync: p.sync,
            scopes: p.scopes,
            sync_interval: p.sync_interval,
            max_listing: p.max_listing,
            peers: p.peers,
            pending: HashMap::new(),
            answers_tx,
            answers,
            serving: Arc::new(Semaphore::new(sync::SERVING)),
            validated_tx,
            validated,
            validating: Arc::new(Semaphore::new(VALIDATING)),
        }
    }

    pub async fn run(mut self) {
        let mut redial = tokio::time::interval(Duration::from_secs(1));
        let mut periodic = tokio::time::interval(self.sync_interval);
        periodic.tick().await;
        tracing::info!("network up as node {}", display_peer(&self.local));
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_event(event),
                command = self.commands.recv() => match command {
                    Some(c) => self.on_command(c),
                    None => return,
                },
                Some(a) = self.announcements.recv() => self.on_announcement(a),
                Some(v) = self.validated.recv() => self.report(v),
                Some(a) = self.answers.recv() => self.answered(a),
                _ = redial.tick() => self.redial(),
                _ = periodic.tick() => {
                    let peers: Vec<PeerId> =
                        self.peers.connected_peers().map(|(p, _)| *p).collect();
                    for p in peers {
                        self.start_session(p, jitter(self.sync_interval / 5));
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
                    .peers
                    .connected_peers()
                    .map(|(p, _)| *p)
                    .filter(|p| {
                        peer.as_ref().is_none_or(|want| {
                            node_id_of(p).is_some_and(|n| n.to_string() == *want)
                                || p.to_string() == *want
                        })
                    })
                    .collect();
                let started = peers
                    .into_iter()
                    .filter(|p| self.start_session(*p, Duration::ZERO))
                    .count();
                let _ = reply.send(started);
            }
            Command::Misbehaved { peer, why } => {
                tracing::warn!("sync with {}: {why}", display_peer(&peer));
                self.peers.strike_out(peer, Instant::now());
                let _ = self.swarm.disconnect_peer_id(peer);
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

    /// Connected peers that have announced a subscription to `scope`.
    fn followers(&self, scope: &Scope) -> usize {
        let hash = topic(scope).hash();
        self.swarm
            .behaviour()
            .gossipsub
            .all_peers()
            .filter(|(_, topics)| topics.contains(&&hash))
            .count()
    }

    fn peer_list(&self) -> Vec<PeerInfo> {
        let gossip = &self.swarm.behaviour().gossipsub;
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
        self.peers
            .connected_peers()
            .map(|(p, c)| PeerInfo {
                node_id: display_peer(p),
                address: c.addr.to_string(),
                scopes: topics.get(p).cloned().unwrap_or_default(),
                since: clock::rfc3339(c.since),
            })
            .collect()
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!("listening on {}", address.with(Protocol::P2p(self.local)));
            }
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                let addr = endpoint.get_remote_address().clone();
                match self
                    .peers
                    .connected(peer_id, addr, Instant::now(), clock::now())
                {
                    Connection::Refused => {
                        let _ = self.swarm.disconnect_peer_id(peer_id);
                    }
                    Connection::New => {
                        self.start_session(peer_id, super::SYNC_DELAY);
                        tracing::info!("connected to {}", display_peer(&peer_id));
                    }
                    Connection::Again => {}
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.peers.disconnected(&peer_id);
                tracing::info!("disconnected from {}", display_peer(&peer_id));
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                let now = Instant::now();
                for (peer, addr) in found {
                    if !self.swarm.is_connected(&peer) && !self.peers.is_banned(&peer, now) {
                        let _ = self.swarm.dial(addr);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.on_message(propagation_source, message_id, message),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(e)) => self.on_sync(e),
            _ => {}
        }
    }

    /// Counts one invalid message (or sync misbehaviour) against a peer and
    /// disconnects it when that bans it.
    pub(super) fn count_invalid(&mut self, peer: PeerId) {
        if self.peers.strike(peer, Instant::now()) {
            tracing::warn!(
                "disconnecting {}: {} invalid messages",
                display_peer(&peer),
                self.peers.strikes(&peer)
            );
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    fn redial(&mut self) {
        for addr in self.peers.due_dials(Instant::now()) {
            if let Err(e) = self.swarm.dial(addr.clone()) {
                tracing::debug!("dial {addr}: {e}");
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
