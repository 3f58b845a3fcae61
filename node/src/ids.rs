//! Node ids as people give them. A node's id is its ed25519 key, shown as
//! `bn…`; libp2p shows the same key as a peer id (`12D3KooW…`). Everything
//! that takes a node id takes either form, and multiaddresses may name the
//! node as `/p2p/bn…`. A leaf module: moderation, the API and the network
//! all read ids here.

use buurt_protocol::NodeId;
use libp2p::{identity, Multiaddr, PeerId};

/// A text that is neither form of a node id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a node id: give the bn… id that `buurt status` or `buurt peers` shows \
     (a libp2p peer id, 12D3Koo…, works too)"
)]
pub struct BadNodeId(pub String);

/// A multiaddress that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad address `{0}`: expected a multiaddress such as /ip4/192.0.2.7/tcp/4001/p2p/bn… \
     (the address `buurt status` shows on that node)"
)]
pub struct BadAddress(pub String);

/// The node id of a peer, from its libp2p identity.
pub fn node_id_of(peer: &PeerId) -> Option<NodeId> {
    let key = identity::PublicKey::try_decode_protobuf(peer.as_ref().digest()).ok()?;
    let ed = key.try_into_ed25519().ok()?;
    Some(NodeId(ed.to_bytes()))
}

/// The libp2p peer id of a node id (`None` if its bytes are not a key).
pub fn peer_id_of(node: &NodeId) -> Option<PeerId> {
    let ed = identity::ed25519::PublicKey::try_from_bytes(node.as_bytes()).ok()?;
    Some(identity::PublicKey::from(ed).to_peer_id())
}

/// A node id given as `bn…` or as a libp2p peer id.
pub fn parse_node_id(text: &str) -> Result<NodeId, BadNodeId> {
    let t = text.trim();
    let bad = || BadNodeId(t.to_owned());
    if t.starts_with(NodeId::PREFIX) {
        return t.parse().map_err(|_| bad());
    }
    let peer: PeerId = t.parse().map_err(|_| bad())?;
    node_id_of(&peer).ok_or_else(bad)
}

/// A peer's multiaddress; its `/p2p/` part may name the node as `bn…`.
pub fn parse_peer_addr(text: &str) -> Result<Multiaddr, BadAddress> {
    let t = text.trim();
    let bad = || BadAddress(t.to_owned());
    let mut parts: Vec<String> = t.split('/').map(str::to_owned).collect();
    for i in 1..parts.len() {
        if parts[i - 1] == "p2p" && parts[i].starts_with(NodeId::PREFIX) {
            let node: NodeId = parts[i].parse().map_err(|_| bad())?;
            parts[i] = peer_id_of(&node).ok_or_else(bad)?.to_string();
        }
    }
    parts.join("/").parse().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use buurt_protocol::keys;

    #[test]
    fn both_forms_name_the_same_node() {
        let node = keys::node_id(&keys::from_seed([5; 32]));
        let peer = peer_id_of(&node).expect("a key");
        assert_eq!(node_id_of(&peer), Some(node));
        assert_eq!(parse_node_id(&node.to_string()), Ok(node));
        assert_eq!(parse_node_id(&peer.to_string()), Ok(node));
        assert!(parse_node_id("bn-nonsense").is_err());
        assert!(parse_node_id("hello").is_err());

        let with_peer = format!("/ip4/127.0.0.1/tcp/4001/p2p/{peer}");
        let with_node = format!("/ip4/127.0.0.1/tcp/4001/p2p/{node}");
        assert_eq!(
            parse_peer_addr(&with_node).expect("parses"),
            parse_peer_addr(&with_peer).expect("parses")
        );
        assert!(parse_peer_addr("/ip4/127.0.0.1/tcp/4001/p2p/bnwrong").is_err());
        assert!(parse_peer_addr("127.0.0.1:4001").is_err());
    }
}
