//! Blocks: the operator's local decision to keep a member's listings, or the
//! listings of every member admitted by a node, off this node.
//!
//! A block is checked in the ingest pipeline's policy stage, so it holds on
//! every path (API, gossip, sync); a blocked listing is neither stored nor
//! passed on. Blocks are kept in `blocks.json` in the data directory,
//! rewritten atomically on every change.

use std::collections::HashSet;
use std::path::PathBuf;

use buurt_protocol::{IdError, Listing, MemberId, NodeId};
use serde::{Deserialize, Serialize};

use super::ModerationError;
use crate::store::Candidates;

/// One block, as listed by `buurt blocks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Block {
    /// A member id (`bm…`) or a node id (`bn…`).
    pub target: String,
    /// `member` or `node`.
    pub kind: String,
    pub reason: String,
    /// When the block was made (RFC 3339).
    pub since: String,
}

/// Why a block target was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Id(#[from] IdError),
    #[error(
        "`{0}` is neither a member id (bm…) nor a node id (bn…, or a libp2p peer id 12D3Koo…)"
    )]
    Neither(String),
}

/// What a block target names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Member(MemberId),
    Node(NodeId),
}

impl Target {
    /// Parses a member id or a node id, with a message that says which was
    /// expected.
    pub fn parse(text: &str) -> Result<Target, TargetError> {
        let text = text.trim();
        if text.starts_with("bn") {
            Ok(Target::Node(text.parse()?))
        } else if text.starts_with("bm") {
            Ok(Target::Member(text.parse()?))
        } else {
            crate::ids::parse_node_id(text)
                .map(Target::Node)
                .map_err(|_| TargetError::Neither(text.to_owned()))
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Target::Member(_) => "member",
            Target::Node(_) => "node",
        }
    }

    pub fn text(&self) -> String {
        match self {
            Target::Member(m) => m.to_string(),
            Target::Node(n) => n.to_string(),
        }
    }

    /// The stored listings a block of this target may cover.
    pub fn candidates(&self) -> Candidates {
        match self {
            Target::Member(m) => Candidates::Author(*m),
            Target::Node(_) => Candidates::All,
        }
    }

    /// Whether this target covers a listing: its author, or the node that
    /// admitted its author.
    pub fn covers(&self, l: &Listing) -> bool {
        match self {
            Target::Member(m) => l.author == *m,
            Target::Node(n) => l.certificate.node == *n,
        }
    }
}

/// The block list, in memory and (unless in-memory only) on disk.
#[derive(Debug, Default)]
pub struct Blocks {
    path: Option<PathBuf>,
    list: Vec<Block>,
    members: HashSet<MemberId>,
    nodes: HashSet<NodeId>,
}

impl Blocks {
    /// Loads `path`; a missing file is an empty list.
    pub fn load(path: PathBuf) -> Result<Blocks, ModerationError> {
        let list: Vec<Block> = crate::datadir::read_json_list(&path)?;
        let mut blocks = Blocks {
            path: Some(path.clone()),
            ..Default::default()
        };
        for b in list {
            let t = Target::parse(&b.target).map_err(|e| ModerationError::bad_entry(&path, e))?;
            blocks.insert(t, b);
        }
        Ok(blocks)
    }

    fn insert(&mut self, t: Target, b: Block) {
        match t {
            Target::Member(m) => self.members.insert(m),
            Target::Node(n) => self.nodes.insert(n),
        };
        self.list.push(b);
    }

    /// Whether a listing is blocked, by its author or its author's node.
    pub fn blocks(&self, l: &Listing) -> bool {
        self.members.contains(&l.author) || self.nodes.contains(&l.certificate.node)
    }

    /// Whether the member of `cert` or its node is blocked.
    pub fn blocks_certificate(&self, cert: &buurt_protocol::Certificate) -> bool {
        self.members.contains(&cert.member) || self.nodes.contains(&cert.node)
    }

    /// Whether a node is blocked (its members' listings, and its mail).
    pub fn blocks_node(&self, n: &NodeId) -> bool {
        self.nodes.contains(n)
    }

    pub fn list(&self) -> &[Block] {
        &self.list
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Adds a block and saves the list; false if it was already there.
    pub fn add(&mut self, t: Target, reason: &str, now: i64) -> Result<bool, ModerationError> {
        let text = t.text();
        if self.list.iter().any(|b| b.target == text) {
            return Ok(false);
        }
        self.insert(
            t,
            Block {
                target: text,
                kind: t.kind().into(),
                reason: reason.to_owned(),
                since: crate::clock::rfc3339(now),
            },
        );
        super::save(&self.path, &self.list)?;
        Ok(true)
    }

    /// Removes a block and saves the list; false if there was none.
    pub fn remove(&mut self, t: Target) -> Result<bool, ModerationError> {
        let text = t.text();
        let before = self.list.len();
        self.list.retain(|b| b.target != text);
        match t {
            Target::Member(m) => self.members.remove(&m),
            Target::Node(n) => self.nodes.remove(&n),
        };
        if self.list.len() == before {
            return Ok(false);
        }
        super::save(&self.path, &self.list)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use buurt_protocol::sample::{Identity, T0};

    #[test]
    fn blocks_persist_and_match_author_or_node() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.json");
        let alice = Identity::fixed();
        let bob = Identity::new([9; 32], [8; 32], "nl/amsterdam", T0 - 10);
        let a = alice.offer([1; 16], "Ladder", T0);
        let b = bob.offer([2; 16], "Fiets", T0);
        let mut blocks = Blocks::load(path.clone()).unwrap();
        assert!(!blocks.blocks(&a) && !blocks.blocks(&b));
        let member = Target::parse(&a.author.to_string()).unwrap();
        assert!(blocks.add(member, "spam", T0).unwrap());
        assert!(!blocks.add(member, "again", T0).unwrap());
        assert!(blocks.blocks(&a) && !blocks.blocks(&b));
        let node = Target::parse(&b.certificate.node.to_string()).unwrap();
        assert!(blocks.add(node, "", T0).unwrap());
        // Reloaded from disk: the same decisions.
        let again = Blocks::load(path.clone()).unwrap();
        assert!(again.blocks(&a) && again.blocks(&b));
        assert_eq!(again.list().len(), 2);
        let mut again = again;
        assert!(again.remove(member).unwrap());
        assert!(!again.remove(member).unwrap());
        assert!(!Blocks::load(path).unwrap().blocks(&a));
        assert!(Target::parse("hello").is_err());
        assert!(Target::parse("bm2222").is_err());
    }
}
