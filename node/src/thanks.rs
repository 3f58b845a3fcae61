//! Thanks a node keeps: published thanks and pledges (from gossip, sync or
//! its own members), and its own members' thanks held back until the other
//! member of the agreement has pledged or thanked too, or for 7 days
//! (`buurt_protocol::thanks`, docs/protocol.md section 16).
//!
//! One sled database (`thanks/` in the data directory) with four trees:
//!
//! | tree | key | value |
//! |---|---|---|
//! | `thanks`  | agreement (32) thanker (32) | signed thanks |
//! | `pledges` | agreement (32) thanker (32) | signed pledge |
//! | `held`    | agreement (32) thanker (32) | reveal time (i64) signed thanks |
//! | `by_member` | thanked (32) agreement (32) thanker (32) | empty |
//!
//! A thanks counts for the thanked member when its thanker's node is
//! accepted here and the thanker is neither blocked nor revoked; each
//! thanker counts once ("thanked by N neighbours"), and of one pair's
//! thanks at most [`PAIR_PER_MONTH`] in 30 days count towards hours.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use buurt_protocol::agreement::AgreementId;
use buurt_protocol::thanks::{Said, SignedThanks, REVEAL_AFTER_SECS};
use buurt_protocol::{MemberId, NodeId};

use crate::moderation::Moderation;

/// Of one thanker's thanks to one member, at most this many in 30 days
/// count towards hours.
pub const PAIR_PER_MONTH: usize = 3;
/// Most statements one sync answer carries.
pub const MAX_SYNCED: usize = buurt_protocol::sync::MAX_THANKS;
/// Most pages of thanks one sync session fetches from one peer.
pub const MAX_PAGES: usize = 250;

/// A failure of the database.
#[derive(Debug, thiserror::Error)]
#[error("thanks database {path}: {detail}")]
pub struct BookError {
    pub path: String,
    pub detail: String,
}

/// What became of a statement offered to the book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Took {
    /// Not a valid statement (from a peer: bad data).
    Invalid(String),
    /// Valid, but refused here: a second, different thanks for one
    /// agreement, or a thanks that is not the one its pledge named.
    Refused(&'static str),
    /// Valid, from a node this node does not accept: not kept, not passed on.
    Ignored,
    /// Known already.
    Known,
    /// Kept. `released`: this member's held thanks that it set free (to
    /// publish).
    New { released: Vec<Vec<u8>> },
}

/// What [`Book::hold`] did with a member's thanks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// Statements to publish now: the pledge, and the thanks too when the
    /// other member already pledged or thanked.
    pub publish: Vec<Vec<u8>>,
    /// When the thanks will be revealed, if it is held.
    pub reveal_at: Option<i64>,
}

/// Why a member's thanks was not taken.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    #[error("{0}")]
    Bad(String),
    #[error("you thanked for this agreement already")]
    Twice,
    #[error(transparent)]
    Book(#[from] BookError),
}

/// One thanks as `buurt member` shows it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ThanksEntry {
    pub from: String,
    pub from_node: String,
    pub to: String,
    pub agreement: String,
    /// The completion's day and topic group.
    pub day: String,
    pub group: String,
    pub minutes: u64,
    pub text: String,
    pub at: String,
    /// Whether it counts here (see the module's rules).
    pub counted: bool,
}

/// A member's thanks, as counted here.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Standing {
    /// Distinct thankers that count.
    pub thanked_by: usize,
    /// Hours of help thanked for (minutes), of the counted thanks.
    pub minutes: u64,
    pub thanks: Vec<ThanksEntry>,
}

pub struct Book {
    path: String,
    db: crate::durable::SyncedDb,
    thanks: sled::Tree,
    pledges: sled::Tree,
    held: sled::Tree,
    by_member: sled::Tree,
    moderation: Arc<Moderation>,
    own: NodeId,
}

fn key(a: &AgreementId, thanker: &MemberId) -> Vec<u8> {
    let mut k = a.0.to_vec();
    k.extend_from_slice(thanker.as_bytes());
    k
}

impl Book {
    /// Opens (or creates) the book at `path`.
    pub fn open(path: &Path, moderation: Arc<Moderation>, own: NodeId) -> Result<Book, BookError> {
        let db = crate::durable::SyncedDb::open_small(path).map_err(|e| BookError {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        Book::with_db(path.display().to_string(), db, moderation, own)
    }

    /// A book in memory for the node of `moderation`, for tests and
    /// throw-away nodes.
    pub fn in_memory_for(moderation: &Arc<Moderation>) -> Arc<Book> {
        let own = moderation.own_node();
        Arc::new(Book::in_memory(moderation.clone(), own).expect("a sled database in memory opens"))
    }

    /// A book in memory, for tests and throw-away nodes.
    pub fn in_memory(moderation: Arc<Moderation>, own: NodeId) -> Result<Book, BookError> {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .map(crate::durable::SyncedDb::in_memory)
            .map_err(|e| BookError {
                path: "(memory)".into(),
                detail: e.to_string(),
            })?;
        Book::with_db("(memory)".into(), db, moderation, own)
    }

    fn with_db(
        path: String,
        db: crate::durable::SyncedDb,
        moderation: Arc<Moderation>,
        own: NodeId,
    ) -> Result<Book, BookError> {
        let tree = |name: &str| {
            db.open_tree(name).map_err(|e| BookError {
                path: path.clone(),
                detail: e.to_string(),
            })
        };
        Ok(Book {
            thanks: tree("thanks")?,
            pledges: tree("pledges")?,
            held: tree("held")?,
            by_member: tree("by_member")?,
            db,
            path,
            moderation,
            own,
        })
    }

    fn err(&self, e: sled::Error) -> BookError {
        BookError {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<(), BookError> {
        self.db.flush().map(|_| ()).map_err(|e| self.err(e))
    }

    /// Takes a published statement (a thanks or a pledge) from a peer, sync,
    /// or this node's own release.
    pub fn take(&self, bytes: &[u8]) -> Result<Took, BookError> {
        let s = match SignedThanks::verify(bytes) {
            Ok(s) => s,
            Err(e) => return Ok(Took::Invalid(e.to_string())),
        };
        let t = &s.thanks;
        if !self.moderation.accepts_node(&t.thanker.node) {
            return Ok(Took::Ignored);
        }
        let k = key(&t.agreement(), &t.from());
        match &t.said {
            Said::Pledge { .. } => {
                if self.pledges.get(&k).map_err(|e| self.err(e))?.is_some() {
                    return Ok(Took::Known);
                }
                self.pledges.insert(&k, bytes).map_err(|e| self.err(e))?;
            }
            Said::Thanks { .. } => {
                if let Some(old) = self.thanks.get(&k).map_err(|e| self.err(e))? {
                    return Ok(if &*old == bytes {
                        Took::Known
                    } else {
                        Took::Refused("a second thanks for one agreement")
                    });
                }
                if let Some(p) = self.pledges.get(&k).map_err(|e| self.err(e))? {
                    let pledged = SignedThanks::verify(&p)
                        .ok()
                        .and_then(|p| match p.thanks.said {
                            Said::Pledge { digest } => Some(digest),
                            _ => None,
                        });
                    if pledged != Some(s.digest()) {
                        return Ok(Took::Refused("not the thanks its pledge named"));
                    }
                }
                self.store_thanks(&s)?;
            }
        }
        // The other member of the agreement, if held here, is set free.
        let theirs = key(&t.agreement(), &t.to());
        let released = self.release(&theirs)?.into_iter().collect();
        Ok(Took::New { released })
    }

    /// Takes the thanks held under `k` (if any) out of hold into the
    /// published ones; returns its bytes, to publish. Held thanks were
    /// verified when they were handed over.
    fn release(&self, k: &[u8]) -> Result<Option<Vec<u8>>, BookError> {
        let Some(v) = self.held.remove(k).map_err(|e| self.err(e))? else {
            return Ok(None);
        };
        let held = v.get(8..).unwrap_or_default();
        match SignedThanks::decode_trusted(held) {
            Ok(h) => {
                self.store_thanks(&h)?;
                Ok(Some(held.to_vec()))
            }
            Err(_) => Ok(None),
        }
    }

    fn store_thanks(&self, s: &SignedThanks) -> Result<(), BookError> {
        let t = &s.thanks;
        let k = key(&t.agreement(), &t.from());
        self.thanks
            .insert(&k, s.bytes.as_slice())
            .map_err(|e| self.err(e))?;
        let mut m = t.to().as_bytes().to_vec();
        m.extend_from_slice(&k);
        self.by_member.insert(m, &[]).map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Takes one of this node's members' thanks with its pledge: the pledge
    /// is published at once; the thanks too if the other member already
    /// pledged or thanked, else it is held until they do or until 7 days
    /// after it was made.
    pub fn hold(&self, thanks: &[u8], pledge: &[u8]) -> Result<Hold, HoldError> {
        let s = SignedThanks::verify(thanks).map_err(|e| HoldError::Bad(e.to_string()))?;
        let p = SignedThanks::verify(pledge).map_err(|e| HoldError::Bad(e.to_string()))?;
        let t = &s.thanks;
        if t.is_pledge() {
            return Err(HoldError::Bad("the thanks is a pledge".into()));
        }
        if p.thanks.said != (Said::Pledge { digest: s.digest() }) || p.thanks.from() != t.from() {
            return Err(HoldError::Bad(
                "the pledge does not name this thanks".into(),
            ));
        }
        if t.thanker.node != self.own || !self.moderation.is_member(&t.from()) {
            return Err(HoldError::Bad(
                "only this node's own members hand it their thanks".into(),
            ));
        }
        let k = key(&t.agreement(), &t.from());
        let err = |e| self.err(e);
        if self.held.get(&k).map_err(err)?.is_some()
            || self.thanks.get(&k).map_err(err)?.is_some()
            || self.pledges.get(&k).map_err(err)?.is_some()
        {
            return Err(HoldError::Twice);
        }
        self.pledges.insert(&k, pledge).map_err(err)?;
        let theirs = key(&t.agreement(), &t.to());
        let other_said = self.pledges.get(&theirs).map_err(err)?.is_some()
            || self.thanks.get(&theirs).map_err(err)?.is_some();
        let mut publish = vec![pledge.to_vec()];
        let reveal_at = if other_said {
            self.store_thanks(&s)?;
            publish.push(thanks.to_vec());
            // Both members are of this node: theirs was held here.
            publish.extend(self.release(&theirs)?);
            None
        } else {
            let at = t.at + REVEAL_AFTER_SECS;
            let mut v = at.to_be_bytes().to_vec();
            v.extend_from_slice(thanks);
            self.held.insert(&k, v).map_err(err)?;
            Some(at)
        };
        self.flush()?;
        Ok(Hold { publish, reveal_at })
    }

    /// The held thanks whose time has come at `now`: moved to the published
    /// ones, returned to be published.
    pub fn due(&self, now: i64) -> Result<Vec<Vec<u8>>, BookError> {
        let mut out = vec![];
        for item in self.held.iter() {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let at = v
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map(i64::from_be_bytes);
            if at.is_some_and(|at| at <= now) {
                out.extend(self.release(&k)?);
            }
        }
        if !out.is_empty() {
            self.flush()?;
        }
        Ok(out)
    }

    /// How many of this node's members' thanks are held back.
    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// A page of published statements for a peer's catch-up sync: thanks,
    /// then pledges, each in key order, after the position `after` (tree
    /// byte, then key; empty: from the start), at most `max`; and the
    /// position of the last one returned when there may be more.
    pub fn page(&self, after: &[u8], max: usize) -> Result<(Vec<Vec<u8>>, Vec<u8>), BookError> {
        let (from_tree, from_key) = match after.split_first() {
            Some((t, k)) => (*t, k.to_vec()),
            None => (0, vec![]),
        };
        let mut out = vec![];
        let mut last = vec![];
        for (t, tree) in [(0u8, &self.thanks), (1u8, &self.pledges)] {
            if t < from_tree {
                continue;
            }
            let start = if t == from_tree && !from_key.is_empty() {
                std::ops::Bound::Excluded(from_key.clone())
            } else {
                std::ops::Bound::Unbounded
            };
            for item in tree.range::<Vec<u8>, _>((start, std::ops::Bound::Unbounded)) {
                let (k, v) = item.map_err(|e| self.err(e))?;
                if out.len() == max {
                    return Ok((out, last));
                }
                out.push(v.to_vec());
                last = [&[t][..], &k[..]].concat();
            }
        }
        Ok((out, vec![]))
    }

    /// How many published thanks are kept.
    pub fn len(&self) -> usize {
        self.thanks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.thanks.is_empty()
    }

    /// A member's thanks and how they count here.
    pub fn standing(&self, member: &MemberId) -> Result<Standing, BookError> {
        let mut all = vec![];
        for item in self.by_member.scan_prefix(member.as_bytes()) {
            let (k, _) = item.map_err(|e| self.err(e))?;
            if let Some(v) = self.thanks.get(&k[32..]).map_err(|e| self.err(e))? {
                // Verified when it was taken.
                if let Ok(s) = SignedThanks::decode_trusted(&v) {
                    all.push(s);
                }
            }
        }
        all.sort_by_key(|s| s.thanks.at);
        let mut thankers = BTreeSet::new();
        let mut per_pair_month: BTreeMap<(MemberId, i64), usize> = BTreeMap::new();
        let mut standing = Standing::default();
        for s in all {
            let t = &s.thanks;
            let (minutes, text) = match &t.said {
                Said::Thanks { minutes, text } => (*minutes, text.clone()),
                Said::Pledge { .. } => continue,
            };
            let counts = self.moderation.counts_certificate(&t.thanker);
            let month = per_pair_month
                .entry((t.from(), t.at.div_euclid(30 * 86_400)))
                .or_default();
            *month += 1;
            let counted = counts && *month <= PAIR_PER_MONTH;
            if counts {
                thankers.insert(t.from());
            }
            if counted {
                standing.minutes += minutes;
            }
            standing.thanks.push(ThanksEntry {
                from: t.from().to_string(),
                from_node: t.thanker.node.to_string(),
                to: t.to().to_string(),
                agreement: t.agreement().to_hex(),
                day: crate::clock::rfc3339(t.completion.day * 86_400)[..10].to_owned(),
                group: t.completion.group.clone(),
                minutes,
                text,
                at: crate::clock::rfc3339(t.at),
                counted,
            });
        }
        standing.thanked_by = thankers.len();
        Ok(standing)
    }

    /// Distinct thankers that count for `member` (for listings' views).
    pub fn thanked_by(&self, member: &MemberId) -> usize {
        self.standing(member).map(|s| s.thanked_by).unwrap_or(0)
    }
}
