//! Per-peer bookkeeping of the event loop: who is connected since when and
//! on which address, strikes for invalid data (which run out), bans, gossip
//! rates, peers whose gossip this node had to skip and that it must catch up
//! with, and the configured peers to redial. A plain struct that is given
//! the time, so that its rules are tested without a network.
//!
//! Only provably bad data strikes: gossip over a peer's rate is skipped, not
//! held against it, and the skipped listings are fetched by a catch-up sync
//! as soon as the peer has been quiet for [`CATCH_UP_QUIET`].

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

/// Invalid messages a peer may send before it is disconnected.
pub const MAX_INVALID: u32 = 3;
/// How long a disconnected misbehaving peer is refused.
pub const BAN: Duration = Duration::from_secs(600);
/// Longest wait between two dials of a configured peer.
pub const MAX_REDIAL: Duration = Duration::from_secs(60);
/// First wait between two dials of a configured peer.
pub const FIRST_REDIAL: Duration = Duration::from_secs(1);
/// How long a strike counts: [`MAX_INVALID`] strikes within this window ban
/// a peer; older ones are forgotten.
pub const STRIKE_WINDOW: Duration = Duration::from_secs(600);
/// How long after the last skipped gossip message a catch-up sync with its
/// sender starts (a burst is over when its sender has been quiet this long).
pub const CATCH_UP_QUIET: Duration = Duration::from_secs(1);

/// A configured peer that is redialled with backoff while not connected.
struct Explicit {
    addr: Multiaddr,
    peer: Option<PeerId>,
    next_try: Instant,
    backoff: Duration,
}

/// A connected peer.
#[derive(Debug, Clone)]
pub struct Connected {
    /// When it connected, Unix seconds.
    pub since: i64,
    pub addr: Multiaddr,
}

/// What a new connection means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// The peer is banned: close it.
    Refused,
    /// The first connection to this peer: start a sync session.
    New,
    /// Another connection to a peer already connected.
    Again,
}

/// Where a gossip message stands against its sender's rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    Within,
    /// Over the rate; `first` for the first message over in this second.
    Over {
        first: bool,
    },
}

pub struct Peers {
    explicit: Vec<Explicit>,
    connected: HashMap<PeerId, Connected>,
    /// When each peer sent invalid data, within the last [`STRIKE_WINDOW`].
    strikes: HashMap<PeerId, VecDeque<Instant>>,
    /// Peers whose gossip was skipped, and when last.
    behind: HashMap<PeerId, Instant>,
    banned: HashMap<PeerId, Instant>,
    /// Gossip messages per peer in the current second: `(second, count)`.
    rates: HashMap<PeerId, (i64, u32)>,
    per_second: u32,
}

impl Peers {
    /// `explicit`: the configured peers, dialled from `now` on.
    pub fn new(explicit: Vec<Multiaddr>, per_second: u32, now: Instant) -> Peers {
        let explicit = explicit
            .into_iter()
            .map(|addr| Explicit {
                peer: addr.iter().find_map(|p| match p {
                    Protocol::P2p(id) => Some(id),
                    _ => None,
                }),
                addr,
                next_try: now,
                backoff: FIRST_REDIAL,
            })
            .collect();
        Peers {
            explicit,
            connected: HashMap::new(),
            strikes: HashMap::new(),
            behind: HashMap::new(),
            banned: HashMap::new(),
            rates: HashMap::new(),
            per_second,
        }
    }

    /// Whether `peer` is banned at `now` (an expired ban is forgotten).
    pub fn is_banned(&mut self, peer: &PeerId, now: Instant) -> bool {
        match self.banned.get(peer) {
            Some(until) if *until > now => true,
            Some(_) => {
                self.banned.remove(peer);
                false
            }
            None => false,
        }
    }

    /// A connection to `peer` on `addr` opened at `now` (`unix`: the same
    /// in Unix seconds).
    pub fn connected(
        &mut self,
        peer: PeerId,
        addr: Multiaddr,
        now: Instant,
        unix: i64,
    ) -> Connection {
        if self.is_banned(&peer, now) {
            return Connection::Refused;
        }
        for e in &mut self.explicit {
            if e.peer == Some(peer) || (e.peer.is_none() && e.addr == addr) {
                e.peer = Some(peer);
                e.backoff = FIRST_REDIAL;
            }
        }
        if self.connected.contains_key(&peer) {
            return Connection::Again;
        }
        self.connected.insert(peer, Connected { since: unix, addr });
        Connection::New
    }

    /// The last connection to `peer` closed.
    pub fn disconnected(&mut self, peer: &PeerId) {
        self.connected.remove(peer);
        self.strikes.remove(peer);
        self.rates.remove(peer);
        self.behind.remove(peer);
    }

    pub fn connected_peers(&self) -> impl Iterator<Item = (&PeerId, &Connected)> {
        self.connected.iter()
    }

    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.connected.contains_key(peer)
    }

    /// Counts one gossip message from `peer` in Unix second `second`.
    pub fn message(&mut self, peer: PeerId, second: i64) -> Rate {
        let rate = self.rates.entry(peer).or_insert((second, 0));
        if rate.0 != second {
            *rate = (second, 0);
        }
        rate.1 = rate.1.saturating_add(1);
        if rate.1 <= self.per_second {
            Rate::Within
        } else {
            Rate::Over {
                first: rate.1 == self.per_second.saturating_add(1),
            }
        }
    }

    /// Counts one invalid message (or sync misbehaviour) against `peer` at
    /// `now`; true when that makes [`MAX_INVALID`] within
    /// [`STRIKE_WINDOW`], and the peer is now banned until `now + BAN` (the
    /// caller disconnects it).
    pub fn strike(&mut self, peer: PeerId, now: Instant) -> bool {
        let s = self.strikes.entry(peer).or_default();
        while s
            .front()
            .is_some_and(|t| now.duration_since(*t) >= STRIKE_WINDOW)
        {
            s.pop_front();
        }
        s.push_back(now);
        if s.len() >= MAX_INVALID as usize {
            self.banned.insert(peer, now + BAN);
            true
        } else {
            false
        }
    }

    /// Strikes `peer` out at once (a sync session caught it breaking the
    /// protocol): banned until `now + BAN`.
    pub fn strike_out(&mut self, peer: PeerId, now: Instant) {
        let s = self.strikes.entry(peer).or_default();
        s.clear();
        s.extend(std::iter::repeat_n(now, MAX_INVALID as usize - 1));
        self.strike(peer, now);
    }

    /// Strikes against `peer` that still count at `now`.
    pub fn strikes(&self, peer: &PeerId, now: Instant) -> usize {
        self.strikes.get(peer).map_or(0, |s| {
            s.iter()
                .filter(|t| now.duration_since(**t) < STRIKE_WINDOW)
                .count()
        })
    }

    /// Gossip from `peer` was skipped at `now` (over its rate, or no room to
    /// validate it): what it sent must come by catch-up sync.
    pub fn fell_behind(&mut self, peer: PeerId, now: Instant) {
        self.behind.insert(peer, now);
    }

    /// The peers to catch up with at `now`: connected, behind, and quiet for
    /// [`CATCH_UP_QUIET`]. They are no longer behind; one whose session
    /// cannot start yet is marked again with [`Peers::fell_behind`].
    pub fn due_catch_ups(&mut self, now: Instant) -> Vec<PeerId> {
        let due: Vec<PeerId> = self
            .behind
            .iter()
            .filter(|(p, t)| {
                self.connected.contains_key(p) && now.duration_since(**t) >= CATCH_UP_QUIET
            })
            .map(|(p, _)| *p)
            .collect();
        for p in &due {
            self.behind.remove(p);
        }
        due
    }

    /// The configured peers to dial at `now` (not connected, backoff
    /// passed); each gets its next try and a doubled backoff. Forgets bans
    /// that have run out.
    pub fn due_dials(&mut self, now: Instant) -> Vec<Multiaddr> {
        self.banned.retain(|_, until| *until > now);
        let mut due = Vec::new();
        for e in &mut self.explicit {
            let connected = e.peer.is_some_and(|p| self.connected.contains_key(&p));
            if connected || e.next_try > now {
                continue;
            }
            due.push(e.addr.clone());
            e.next_try = now + e.backoff;
            e.backoff = (e.backoff * 2).min(MAX_REDIAL);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> PeerId {
        PeerId::random()
    }

    fn addr(port: u16) -> Multiaddr {
        format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()
    }

    #[test]
    fn three_strikes_ban_until_the_ban_runs_out() {
        let t0 = Instant::now();
        let mut p = Peers::new(vec![], 10, t0);
        let bad = peer();
        assert_eq!(p.connected(bad, addr(1), t0, 0), Connection::New);
        assert!(!p.strike(bad, t0));
        assert!(!p.strike(bad, t0));
        assert!(p.strike(bad, t0), "the third strike bans");
        p.disconnected(&bad);
        let later = t0 + BAN - Duration::from_secs(1);
        assert_eq!(p.connected(bad, addr(1), later, 0), Connection::Refused);
        assert_eq!(
            p.connected(bad, addr(1), t0 + BAN, 0),
            Connection::New,
            "the ban runs out"
        );
        assert_eq!(p.strikes(&bad, t0 + BAN), 0, "strikes start afresh");
    }

    #[test]
    fn strikes_run_out() {
        let t0 = Instant::now();
        let mut p = Peers::new(vec![], 10, t0);
        let x = peer();
        p.connected(x, addr(1), t0, 0);
        assert!(!p.strike(x, t0));
        assert!(!p.strike(x, t0 + STRIKE_WINDOW / 2));
        // The first has run out by the time of the third: two count.
        let later = t0 + STRIKE_WINDOW + Duration::from_secs(1);
        assert!(!p.strike(x, later), "no ban from strikes spread out");
        assert_eq!(p.strikes(&x, later), 2);
        assert!(p.strike(x, later), "three within the window ban");
    }

    #[test]
    fn a_peer_behind_is_caught_up_with_once_it_is_quiet() {
        let t0 = Instant::now();
        let mut p = Peers::new(vec![], 10, t0);
        let (x, away) = (peer(), peer());
        p.connected(x, addr(1), t0, 0);
        p.fell_behind(x, t0);
        p.fell_behind(away, t0);
        assert!(p.due_catch_ups(t0).is_empty(), "not while it still sends");
        p.fell_behind(x, t0 + CATCH_UP_QUIET / 2);
        assert!(p.due_catch_ups(t0 + CATCH_UP_QUIET).is_empty());
        let quiet = t0 + CATCH_UP_QUIET * 2;
        assert_eq!(p.due_catch_ups(quiet), vec![x], "only connected peers");
        assert!(p.due_catch_ups(quiet).is_empty(), "once");
    }

    #[test]
    fn strike_out_bans_at_once() {
        let t0 = Instant::now();
        let mut p = Peers::new(vec![], 10, t0);
        let bad = peer();
        p.connected(bad, addr(1), t0, 0);
        p.strike_out(bad, t0);
        assert!(p.is_banned(&bad, t0));
    }

    #[test]
    fn rate_counts_per_second_and_flags_the_first_over() {
        let mut p = Peers::new(vec![], 2, Instant::now());
        let x = peer();
        assert_eq!(p.message(x, 100), Rate::Within);
        assert_eq!(p.message(x, 100), Rate::Within);
        assert_eq!(p.message(x, 100), Rate::Over { first: true });
        assert_eq!(p.message(x, 100), Rate::Over { first: false });
        assert_eq!(p.message(x, 101), Rate::Within, "a new second");
    }

    #[test]
    fn configured_peers_are_redialled_with_backoff_until_connected() {
        let t0 = Instant::now();
        let a = addr(7);
        let mut p = Peers::new(vec![a.clone()], 10, t0);
        assert_eq!(p.due_dials(t0), vec![a.clone()]);
        assert!(p.due_dials(t0).is_empty(), "not again before the backoff");
        assert_eq!(p.due_dials(t0 + FIRST_REDIAL), vec![a.clone()]);
        assert!(
            p.due_dials(t0 + FIRST_REDIAL * 2).is_empty(),
            "the backoff doubled"
        );
        let who = peer();
        assert_eq!(p.connected(who, a.clone(), t0, 0), Connection::New);
        assert_eq!(p.connected(who, a, t0, 0), Connection::Again);
        assert!(
            p.due_dials(t0 + MAX_REDIAL * 2).is_empty(),
            "connected peers are not dialled"
        );
        p.disconnected(&who);
        assert_eq!(p.due_dials(t0 + MAX_REDIAL * 2).len(), 1);
    }
}
