//! The web of vouching nodes: the vouch statements this node holds, and
//! which nodes it reaches through them.
//!
//! A statement "X vouches for Y" (or its withdrawal) is signed by X's node
//! key (`buurt_protocol::vouch`). For one voucher and one subject the newest
//! statement holds. From this node, the nodes reached through holding
//! vouches in at most `depth` steps are *in the web*: under the `web`
//! policy their members' certificates are accepted. The reach is computed
//! once per change and kept as a set, so the check per listing is one hash
//! lookup.
//!
//! Only statements whose voucher is within `depth - 1` steps are kept
//! (those of anyone further cannot change the reach), and statements about
//! this node itself (so that it can say who vouches for it), at most
//! [`MAX_PER_VOUCHER`] per voucher; a statement that becomes relevant later
//! comes with the next catch-up sync. The statements are kept in
//! `vouches.json` in the data directory, rewritten on every change.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;

use buurt_protocol::keys::SigningKey;
use buurt_protocol::vouch::{Vouch, VouchError};
use buurt_protocol::NodeId;

use super::ModerationError;

/// Most statements kept about this node (who vouches for it), from
/// vouchers outside its own web.
pub const MAX_ABOUT_US: usize = 1_024;
/// Most statements kept from one voucher (other than this node).
pub const MAX_PER_VOUCHER: usize = 256;

/// What became of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebNews {
    /// Kept; the reach changed (`grew`: some node joined it; `shrank`: some
    /// node left it).
    New { grew: bool, shrank: bool },
    /// Already known, or older than the one held.
    Known,
    /// Valid, but not kept (its voucher is out of reach, or over its limit).
    NotTaken,
}

/// The statements and the reach.
pub struct Web {
    path: Option<PathBuf>,
    own: NodeId,
    depth: u8,
    statements: HashMap<(NodeId, NodeId), (Vouch, Vec<u8>)>,
    /// Distance from this node (itself 0) of every node in reach.
    reach: HashMap<NodeId, u8>,
}

impl Web {
    /// Loads `path` (a missing file: no statements), for node `own`.
    pub fn load(path: PathBuf, own: NodeId, depth: u8) -> Result<Web, ModerationError> {
        let list: Vec<String> = crate::datadir::read_json_list(&path)?;
        let mut w = Web::in_memory(own, depth);
        for hex_text in &list {
            let bytes = hex::decode(hex_text).map_err(|e| ModerationError::bad_entry(&path, e))?;
            let v = Vouch::verify(&bytes).map_err(|e| ModerationError::bad_entry(&path, e))?;
            w.statements.insert((v.voucher, v.subject), (v, bytes));
        }
        w.recompute();
        w.path = Some(path);
        Ok(w)
    }

    pub fn in_memory(own: NodeId, depth: u8) -> Web {
        let mut w = Web {
            path: None,
            own,
            depth,
            statements: HashMap::new(),
            reach: HashMap::new(),
        };
        w.recompute();
        w
    }

    /// Whether `node` is in the web (this node included).
    pub fn reaches(&self, node: &NodeId) -> bool {
        self.reach.contains_key(node)
    }

    /// How many nodes are in the web, this node included.
    pub fn reach_len(&self) -> usize {
        self.reach.len()
    }

    /// How many vouches away `node` is.
    pub fn distance(&self, node: &NodeId) -> Option<u8> {
        self.reach.get(node).copied()
    }

    /// The nodes whose holding vouches name `node`.
    pub fn vouchers_of(&self, node: &NodeId) -> Vec<NodeId> {
        let mut v: Vec<NodeId> = self
            .statements
            .values()
            .filter(|(s, _)| s.vouches && s.subject == *node)
            .map(|(s, _)| s.voucher)
            .collect();
        v.sort_by_key(|n| n.0);
        v
    }

    /// The nodes this node vouches for now.
    pub fn own_vouches(&self) -> Vec<Vouch> {
        let mut v: Vec<Vouch> = self
            .statements
            .values()
            .filter(|(s, _)| s.vouches && s.voucher == self.own)
            .map(|(s, _)| s.clone())
            .collect();
        v.sort_by_key(|s| s.at);
        v
    }

    /// Every statement held, signed, at most `max`, newest first.
    pub fn signed(&self, max: usize) -> Vec<Vec<u8>> {
        let mut all: Vec<&(Vouch, Vec<u8>)> = self.statements.values().collect();
        all.sort_by_key(|(v, _)| std::cmp::Reverse(v.at));
        all.into_iter().take(max).map(|(_, b)| b.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.statements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Takes a signed statement from a peer (or made here).
    pub fn take(&mut self, bytes: &[u8]) -> Result<WebNews, VouchError> {
        let v = Vouch::verify(bytes)?;
        let about_us = v.subject == self.own;
        let relevant = v.voucher == self.own
            || about_us
            || self.distance(&v.voucher).is_some_and(|d| d < self.depth);
        if !relevant {
            return Ok(WebNews::NotTaken);
        }
        if about_us
            && !self.statements.contains_key(&(v.voucher, v.subject))
            && self
                .statements
                .keys()
                .filter(|(_, s)| *s == self.own)
                .count()
                >= MAX_ABOUT_US
        {
            return Ok(WebNews::NotTaken);
        }
        let key = (v.voucher, v.subject);
        match self.statements.get(&key) {
            Some((old, _)) if !v.supersedes(old) => return Ok(WebNews::Known),
            Some(_) => {}
            None => {
                let from_voucher = self
                    .statements
                    .keys()
                    .filter(|(voucher, _)| *voucher == v.voucher)
                    .count();
                // This node's own statements are the operator's choice: no limit.
                if from_voucher >= MAX_PER_VOUCHER && v.voucher != self.own {
                    return Ok(WebNews::NotTaken);
                }
            }
        }
        let before: HashSet<NodeId> = self.reach.keys().copied().collect();
        self.statements.insert(key, (v, bytes.to_vec()));
        self.recompute();
        let after: HashSet<NodeId> = self.reach.keys().copied().collect();
        if let Err(e) = self.save() {
            tracing::warn!(
                "saving vouches failed: {e}; check that the data directory is writable and has \
                 free space (all vouches are saved again with the next one)"
            );
        }
        Ok(WebNews::New {
            grew: after.difference(&before).next().is_some(),
            shrank: before.difference(&after).next().is_some(),
        })
    }

    /// Makes and takes this node's own statement about `subject`; returns
    /// the signed bytes and what it changed.
    pub fn state(
        &mut self,
        key: &SigningKey,
        subject: NodeId,
        vouches: bool,
        note: &str,
        now: i64,
    ) -> Result<(Vec<u8>, WebNews), ModerationError> {
        // One second after the last statement about it, so that the new one
        // holds even within the same second.
        let at = match self.statements.get(&(self.own, subject)) {
            Some((old, _)) if old.at >= now => old.at + 1,
            _ => now,
        };
        let bytes = Vouch {
            voucher: self.own,
            subject,
            at,
            vouches,
            note: note.to_owned(),
        }
        .sign(key)
        .map_err(|e| ModerationError::Vouch(e.to_string()))?;
        let news = self
            .take(&bytes)
            .map_err(|e| ModerationError::Vouch(e.to_string()))?;
        Ok((bytes, news))
    }

    /// Breadth-first from this node over holding vouches, `depth` steps.
    fn recompute(&mut self) {
        let mut edges: HashMap<NodeId, Vec<NodeId>> = HashMap::new();
        for (v, _) in self.statements.values() {
            if v.vouches {
                edges.entry(v.voucher).or_default().push(v.subject);
            }
        }
        let mut reach = HashMap::from([(self.own, 0u8)]);
        let mut queue = VecDeque::from([self.own]);
        while let Some(n) = queue.pop_front() {
            let d = reach[&n];
            if d >= self.depth {
                continue;
            }
            for next in edges.get(&n).into_iter().flatten() {
                if !reach.contains_key(next) {
                    reach.insert(*next, d + 1);
                    queue.push_back(*next);
                }
            }
        }
        self.reach = reach;
    }

    fn save(&self) -> Result<(), ModerationError> {
        let list: Vec<String> = self
            .statements
            .values()
            .map(|(_, b)| hex::encode(b))
            .collect();
        super::save(&self.path, &list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use buurt_protocol::keys;

    fn node(seed: u8) -> (SigningKey, NodeId) {
        let k = keys::from_seed([seed; 32]);
        let id = keys::node_id(&k);
        (k, id)
    }

    fn vouch(by: &SigningKey, subject: NodeId, at: i64, vouches: bool) -> Vec<u8> {
        Vouch {
            voucher: NodeId([0; 32]),
            subject,
            at,
            vouches,
            note: String::new(),
        }
        .sign(by)
        .unwrap()
    }

    #[test]
    fn reach_follows_vouches_within_the_depth() {
        let (a, ida) = node(1);
        let (b, idb) = node(2);
        let (c, idc) = node(3);
        let (_, idd) = node(4);
        let mut w = Web::in_memory(ida, 2);
        assert!(w.reaches(&ida) && !w.reaches(&idb));
        // B's statement first: B is out of reach, so it is not kept.
        assert_eq!(
            w.take(&vouch(&b, idc, 10, true)).unwrap(),
            WebNews::NotTaken
        );
        let news = w.take(&vouch(&a, idb, 10, true)).unwrap();
        assert_eq!(
            news,
            WebNews::New {
                grew: true,
                shrank: false
            }
        );
        assert_eq!(w.take(&vouch(&a, idb, 10, true)).unwrap(), WebNews::Known);
        w.take(&vouch(&b, idc, 11, true)).unwrap();
        assert_eq!(w.distance(&idc), Some(2));
        // C is at the depth: its own vouches do not count and are not kept.
        assert_eq!(
            w.take(&vouch(&c, idd, 12, true)).unwrap(),
            WebNews::NotTaken
        );
        assert!(!w.reaches(&idd));
        assert_eq!(w.vouchers_of(&idc), vec![idb]);
        // B withdraws: C leaves the web.
        let news = w.take(&vouch(&b, idc, 13, false)).unwrap();
        assert_eq!(
            news,
            WebNews::New {
                grew: false,
                shrank: true
            }
        );
        assert!(!w.reaches(&idc));
        // An older vouch does not undo the withdrawal.
        assert_eq!(w.take(&vouch(&b, idc, 12, true)).unwrap(), WebNews::Known);
        let mut one = Web::in_memory(ida, 1);
        one.take(&vouch(&a, idb, 10, true)).unwrap();
        assert_eq!(
            one.take(&vouch(&b, idc, 11, true)).unwrap(),
            WebNews::NotTaken
        );
        assert!(!one.reaches(&idc));
    }

    #[test]
    fn statements_are_kept_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vouches.json");
        let (a, ida) = node(1);
        let (_, idb) = node(2);
        let mut w = Web::load(path.clone(), ida, 2).unwrap();
        w.state(&a, idb, true, "buren", 100).unwrap();
        let again = Web::load(path, ida, 2).unwrap();
        assert!(again.reaches(&idb));
        assert_eq!(again.own_vouches()[0].note, "buren");
    }
}
