//! What a node knows of its own reachability, in words for its operator.

use std::net::IpAddr;

use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;
use serde::{Deserialize, Serialize};

/// What `buurt status` says about reach.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
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

/// The reachability and the line `buurt status` shows: `public` when an
/// address of this node is confirmed (or it is a hub); `relayed` while a
/// hub holds a reservation for it; `unreachable` when it is seen behind
/// NAT without one; `unknown` before any peer said how it sees this node.
pub fn classify(
    public: bool,
    relayed_via: &[String],
    behind: bool,
    has_hubs: bool,
    seen: &str,
) -> (&'static str, String) {
    if public {
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
    } else if behind && !has_hubs {
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
    }
}

/// Whether an address runs through a relay.
pub fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

pub fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(a) => Some(IpAddr::V4(a)),
        Protocol::Ip6(a) => Some(IpAddr::V6(a)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_says_what_it_means_and_what_to_do() {
        let seen = "/ip4/203.0.113.1/tcp/4001";
        assert_eq!(classify(true, &[], true, true, seen).0, "public");
        let (r, s) = classify(false, &["bnhub".into()], true, true, seen);
        assert_eq!(r, "relayed");
        assert!(s.contains("relayed via bnhub"));
        let (r, s) = classify(false, &[], true, false, seen);
        assert_eq!(r, "unreachable");
        assert!(s.contains("--hub") && s.contains("forward TCP port 4001") && s.contains(seen));
        let (r, s) = classify(false, &[], true, true, seen);
        assert_eq!(r, "unreachable");
        assert!(s.contains("hub = true"));
        assert_eq!(classify(false, &[], false, true, seen).0, "unknown");
        let relayed: Multiaddr = "/ip4/203.0.113.10/tcp/4001/p2p/12D3KooWAw2Bs1Hd1uampgtK38HQrzDimD3diWZ3DzfuN5rcQVrW/p2p-circuit"
            .parse()
            .unwrap();
        assert!(is_relayed(&relayed));
        assert!(!is_relayed(&seen.parse().unwrap()));
        assert_eq!(ip_of(&relayed), Some("203.0.113.10".parse().unwrap()));
    }
}
