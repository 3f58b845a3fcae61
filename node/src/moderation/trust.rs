//! Federation policy: which nodes' certificates this node accepts.
//!
//! Under `web` (the default for new data directories) a listing is
//! accepted when the node that admitted its author is this node or in the
//! web of vouches within `trust_depth` ([`Web`]). Under `allowlist` only
//! certificates of this node itself and of the nodes the operator trusts
//! (`buurt trust NODE_ID`) are accepted. Under `open` any node's are. A
//! listing from any other node's member is neither stored nor passed on.
//! `buurt trust` both lists the node in `trusted.json` and makes this
//! node's public vouch for it.

use std::collections::HashSet;
use std::path::PathBuf;

use buurt_protocol::NodeId;
use serde::{Deserialize, Serialize};

use buurt_protocol::keys::SigningKey;

use super::web::{Web, WebNews};
use super::ModerationError;
use crate::config::Policy;

/// One trusted node, as listed by `buurt trusted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Trusted {
    pub node_id: String,
    /// When it was trusted (RFC 3339).
    pub since: String,
}

/// The trusted nodes, in memory and (unless in-memory only) on disk.
pub struct Trust {
    path: Option<PathBuf>,
    policy: Policy,
    own: NodeId,
    key: SigningKey,
    list: Vec<Trusted>,
    nodes: HashSet<NodeId>,
    web: Web,
}

impl Trust {
    /// Loads `path` and `vouches` (missing files are empty lists) for the
    /// node whose key is `key`, running `policy` with `depth`.
    pub fn load(
        path: PathBuf,
        vouches: PathBuf,
        policy: Policy,
        key: SigningKey,
        depth: u8,
    ) -> Result<Trust, ModerationError> {
        let list: Vec<Trusted> = crate::datadir::read_json_list(&path)?;
        let nodes = list
            .iter()
            .map(|t| t.node_id.parse::<NodeId>())
            .collect::<Result<_, _>>()
            .map_err(|e| ModerationError::bad_entry(&path, e))?;
        let own = NodeId::from(key.verifying_key());
        Ok(Trust {
            path: Some(path),
            policy,
            own,
            web: Web::load(vouches, own, depth)?,
            key,
            list,
            nodes,
        })
    }

    /// No trusted nodes and nothing on disk, for the node whose key is `key`.
    pub fn in_memory(policy: Policy, key: SigningKey, depth: u8) -> Trust {
        let own = NodeId::from(key.verifying_key());
        Trust {
            path: None,
            policy,
            own,
            web: Web::in_memory(own, depth),
            key,
            list: vec![],
            nodes: HashSet::new(),
        }
    }

    pub fn web(&self) -> &Web {
        &self.web
    }

    /// Takes a vouch statement from a peer.
    pub fn take_vouch(
        &mut self,
        bytes: &[u8],
    ) -> Result<WebNews, buurt_protocol::vouch::VouchError> {
        self.web.take(bytes)
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Whether a certificate issued by `node` is accepted.
    pub fn accepts(&self, node: &NodeId) -> bool {
        match self.policy {
            Policy::Open => true,
            Policy::Allowlist => self.own == *node || self.nodes.contains(node),
            Policy::Web => self.web.reaches(node),
        }
    }

    pub fn list(&self) -> &[Trusted] {
        &self.list
    }

    /// Trusts a node, saves the list, and makes this node's vouch for it
    /// (made again even when already trusted, so that a lost statement can
    /// be sent anew). Returns whether it is new, the signed statement and
    /// what it changed in the web.
    pub fn add(
        &mut self,
        node: NodeId,
        note: &str,
        now: i64,
    ) -> Result<(bool, Vec<u8>, WebNews), ModerationError> {
        let new = self.nodes.insert(node);
        if new {
            self.list.push(Trusted {
                node_id: node.to_string(),
                since: crate::clock::rfc3339(now),
            });
            super::save(&self.path, &self.list)?;
        }
        let (bytes, news) = self.web.state(&self.key, node, true, note, now)?;
        Ok((new, bytes, news))
    }

    /// Stops trusting a node, saves the list, and makes this node's
    /// withdrawal of its vouch. Returns whether it was trusted, the signed
    /// withdrawal and what it changed in the web.
    pub fn remove(
        &mut self,
        node: NodeId,
        now: i64,
    ) -> Result<(bool, Vec<u8>, WebNews), ModerationError> {
        let was = self.nodes.remove(&node);
        if was {
            let text = node.to_string();
            self.list.retain(|t| t.node_id != text);
            super::save(&self.path, &self.list)?;
        }
        let (bytes, news) = self.web.state(&self.key, node, false, "", now)?;
        Ok((was, bytes, news))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use buurt_protocol::keys;

    #[test]
    fn allowlist_accepts_own_and_trusted_nodes_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trusted.json");
        let vouches = dir.path().join("vouches.json");
        let key = keys::from_seed([1; 32]);
        let own = keys::node_id(&key);
        let other = keys::node_id(&keys::from_seed([2; 32]));
        let load =
            |policy| Trust::load(path.clone(), vouches.clone(), policy, key.clone(), 2).unwrap();
        let mut t = load(Policy::Allowlist);
        assert!(t.accepts(&own) && !t.accepts(&other));
        assert!(t.add(other, "", 0).unwrap().0);
        assert!(!t.add(other, "", 0).unwrap().0);
        assert!(t.accepts(&other));
        let mut again = load(Policy::Allowlist);
        assert!(again.accepts(&other), "kept on disk");
        assert!(load(Policy::Web).accepts(&other), "vouched, so in the web");
        assert!(again.remove(other, 5).unwrap().0);
        assert!(!load(Policy::Allowlist).accepts(&other));
        assert!(!load(Policy::Web).accepts(&other), "the withdrawal holds");
        assert!(load(Policy::Open).accepts(&other));
    }
}
