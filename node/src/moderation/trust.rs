//! Federation policy: which nodes' certificates this node accepts.
//!
//! Under `open` (the default) a listing is accepted whatever node admitted
//! its author. Under `allowlist` only certificates of this node itself and
//! of the nodes the operator trusts (`buurt trust NODE_ID`) are accepted; a
//! listing from any other node's member is neither stored nor passed on.
//! Trusted nodes are kept in `trusted.json` in the data directory.

use std::collections::HashSet;
use std::path::PathBuf;

use buurt_protocol::NodeId;
use serde::{Deserialize, Serialize};

use super::ModerationError;
use crate::config::Policy;

/// One trusted node, as listed by `buurt trusted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trusted {
    pub node_id: String,
    /// When it was trusted (RFC 3339).
    pub since: String,
}

/// The trusted nodes, in memory and (unless in-memory only) on disk.
#[derive(Debug, Default)]
pub struct Trust {
    path: Option<PathBuf>,
    policy: Policy,
    own: Option<NodeId>,
    list: Vec<Trusted>,
    nodes: HashSet<NodeId>,
}

impl Trust {
    /// Loads `path` (a missing file is an empty list) for a node with id
    /// `own` running `policy`.
    pub fn load(path: PathBuf, policy: Policy, own: NodeId) -> Result<Trust, ModerationError> {
        let list: Vec<Trusted> = crate::datadir::read_json_list(&path)?;
        let nodes = list
            .iter()
            .map(|t| t.node_id.parse::<NodeId>())
            .collect::<Result<_, _>>()
            .map_err(|e| ModerationError::bad_entry(&path, e))?;
        Ok(Trust {
            path: Some(path),
            policy,
            own: Some(own),
            list,
            nodes,
        })
    }

    /// No trusted nodes and nothing on disk, for a node with id `own`.
    pub fn in_memory(policy: Policy, own: NodeId) -> Trust {
        Trust {
            policy,
            own: Some(own),
            ..Default::default()
        }
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Whether a certificate issued by `node` is accepted.
    pub fn accepts(&self, node: &NodeId) -> bool {
        self.policy == Policy::Open || self.own.as_ref() == Some(node) || self.nodes.contains(node)
    }

    pub fn list(&self) -> &[Trusted] {
        &self.list
    }

    /// Trusts a node and saves the list; false if it already was.
    pub fn add(&mut self, node: NodeId, now: i64) -> Result<bool, ModerationError> {
        if !self.nodes.insert(node) {
            return Ok(false);
        }
        self.list.push(Trusted {
            node_id: node.to_string(),
            since: crate::clock::rfc3339(now),
        });
        super::save(&self.path, &self.list)?;
        Ok(true)
    }

    /// Stops trusting a node and saves the list; false if it was not.
    pub fn remove(&mut self, node: NodeId) -> Result<bool, ModerationError> {
        if !self.nodes.remove(&node) {
            return Ok(false);
        }
        let text = node.to_string();
        self.list.retain(|t| t.node_id != text);
        super::save(&self.path, &self.list)?;
        Ok(true)
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
        let own = keys::node_id(&keys::from_seed([1; 32]));
        let other = keys::node_id(&keys::from_seed([2; 32]));
        let mut t = Trust::load(path.clone(), Policy::Allowlist, own).unwrap();
        assert!(t.accepts(&own) && !t.accepts(&other));
        assert!(t.add(other, 0).unwrap());
        assert!(!t.add(other, 0).unwrap());
        assert!(t.accepts(&other));
        let mut again = Trust::load(path.clone(), Policy::Allowlist, own).unwrap();
        assert!(again.accepts(&other), "kept on disk");
        assert!(again.remove(other).unwrap());
        assert!(!Trust::load(path.clone(), Policy::Allowlist, own)
            .unwrap()
            .accepts(&other));
        assert!(Trust::load(path, Policy::Open, own)
            .unwrap()
            .accepts(&other));
    }
}
