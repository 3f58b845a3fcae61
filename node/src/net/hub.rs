//! What a hub offers other nodes, and on what terms: the relay's limits
//! (generous for nodes the hub accepts, bounded for strangers) and the
//! rendezvous registrations' lifetime. Used where the swarm is built and
//! by `reach.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libp2p::{relay, rendezvous, Multiaddr, PeerId};

/// How long a registration at a hub lasts; it is renewed after half.
pub const REGISTRATION_TTL: Duration = Duration::from_secs(2 * 3600);
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

/// The hub's rendezvous server: registrations from a minute to twice
/// [`REGISTRATION_TTL`].
pub fn rendezvous_config() -> rendezvous::server::Config {
    rendezvous::server::Config::default()
        .with_min_ttl(60)
        .with_max_ttl(REGISTRATION_TTL.as_secs() * 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strangers_are_bounded_and_accepted_nodes_are_not() {
        let friend = PeerId::random();
        let stranger = PeerId::random();
        let known: Known = Arc::new(move |p: &PeerId| *p == friend);
        let mut config = relay_config(Some(known));
        let addr: Multiaddr = "/ip4/203.0.113.1/tcp/4001".parse().unwrap();
        let t0 = Instant::now();
        let limiter = &mut config.reservation_rate_limiters[0];
        for _ in 0..100 {
            assert!(limiter.try_next(friend, &addr, t0));
        }
        for i in 0..STRANGER_PER_WINDOW {
            assert!(limiter.try_next(stranger, &addr, t0), "reservation {i}");
        }
        assert!(!limiter.try_next(stranger, &addr, t0), "one over the bound");
        assert!(
            limiter.try_next(stranger, &addr, t0 + STRANGER_WINDOW),
            "a new window"
        );
        assert_eq!(config.max_circuit_duration, CIRCUIT_DURATION);
        assert_eq!(config.max_circuit_bytes, CIRCUIT_BYTES);
    }
}
