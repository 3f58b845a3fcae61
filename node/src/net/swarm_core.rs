//! What every part of the event loop acts on: the swarm and the per-peer
//! bookkeeping, with the one rule that joins them (a peer struck out is
//! disconnected).

use std::time::Instant;

use libp2p::{PeerId, Swarm};

use super::behaviour::Behaviour;
use super::display_peer;
use super::peers::Peers;

pub struct Core {
    pub swarm: Swarm<Behaviour>,
    pub peers: Peers,
    pub local: PeerId,
}

impl Core {
    /// Counts one invalid message (or sync misbehaviour) against a peer and
    /// disconnects it when that bans it.
    pub fn count_invalid(&mut self, peer: PeerId) {
        let now = Instant::now();
        if self.peers.strike(peer, now) {
            tracing::warn!(
                "disconnecting {}: {} invalid messages within {} minutes",
                display_peer(&peer),
                self.peers.strikes(&peer, now),
                super::peers::STRIKE_WINDOW.as_secs() / 60
            );
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    /// Bans a peer that broke the sync protocol and disconnects it.
    pub fn strike_out(&mut self, peer: PeerId, why: &str) {
        tracing::warn!("sync with {}: {why}; disconnected and scored (`buurt peers`); `buurt block` the node if it goes on", display_peer(&peer));
        self.peers.strike_out(peer, Instant::now());
        let _ = self.swarm.disconnect_peer_id(peer);
    }
}
