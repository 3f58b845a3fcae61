//! Alerts: a member's saved searches ("watches") on their home node, checked
//! against every listing the node stores, whatever its source (the API,
//! gossip, sync), and the notifications they leave for the member.
//!
//! A watch is some words (all must occur in the listing's title, body or
//! tags, as a search would stem them, Dutch or English), and optionally a
//! topic (the listing has it or one below it), a kind and a geohash prefix.
//! Watches are indexed by the stems of their first word, so checking a
//! listing costs a look-up per word of the listing, not one per watch.
//! Bounded: [`MAX_WATCHES`] per member, [`MAX_PER_HOUR`] notifications per
//! member an hour (the rest are counted, not kept), the newest
//! [`KEEP`] notifications per member. Watches and notifications never
//! leave the home node; only the member reads them, with a signed request.
//!
//! One sled database (`watches/` in the data directory): `watches` (member
//! 32, id 8 → the watch as JSON) and `notes` (member 32, sequence 8 → the
//! notification as JSON).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use buurt_protocol::{Kind, MemberId, SignedListing, Status};
use serde::{Deserialize, Serialize};

/// Most watches of one member.
pub const MAX_WATCHES: usize = 20;
/// Most notifications one member gets in an hour.
pub const MAX_PER_HOUR: u32 = 60;
/// Notifications kept per member (the oldest go first).
pub const KEEP: usize = 500;
/// Longest watch text, in bytes.
pub const MAX_TEXT: usize = 200;

/// A failure of the database.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("{0}")]
    Bad(String),
    #[error("you have {MAX_WATCHES} watches already: remove one first (`buurt watch remove ID`)")]
    TooMany,
    #[error("watches database: {0}")]
    Db(#[from] sled::Error),
}

/// What a member watches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Watch {
    pub id: u64,
    /// Words that must all occur.
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// `offer` or `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A geohash prefix the listing's geohash must share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub near: Option<String>,
    pub created_at: String,
}

/// A listing that matched a watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notification {
    pub seq: u64,
    pub watch: u64,
    pub listing: String,
    pub title: String,
    pub kind: String,
    pub scope: String,
    /// When it was stored here (RFC 3339).
    pub at: String,
}

/// A watch ready to check.
struct Compiled {
    member: MemberId,
    id: u64,
    /// Per word, its Dutch and English stems.
    words: Vec<(String, String)>,
    topic: Option<String>,
    kind: Option<Kind>,
    near: Option<String>,
}

#[derive(Default)]
struct Index {
    watches: Vec<Compiled>,
    /// A stem of a watch's first word → the watches; watches without words
    /// are checked for every listing.
    by_stem: HashMap<String, Vec<usize>>,
    wordless: Vec<usize>,
}

pub struct Watches {
    db: crate::durable::SyncedDb,
    watches: sled::Tree,
    notes: sled::Tree,
    index: RwLock<Index>,
    /// Per member: the hour and how many notifications in it.
    hours: Mutex<HashMap<MemberId, (i64, u32)>>,
    seq: AtomicU64,
    /// Notifications not kept because a member's hour was full.
    pub dropped: AtomicU64,
}

fn key(member: &MemberId, n: u64) -> Vec<u8> {
    let mut k = member.as_bytes().to_vec();
    k.extend_from_slice(&n.to_be_bytes());
    k
}

/// The Dutch and English stems of every word of `text`, as the search
/// index makes them.
pub fn stems(text: &str) -> Vec<(String, String)> {
    crate::search::word_stems(text)
}

impl Watches {
    pub fn open(path: &Path) -> Result<Watches, WatchError> {
        Watches::with_db(crate::durable::SyncedDb::open_small(path)?)
    }

    pub fn in_memory() -> Result<Watches, WatchError> {
        Watches::with_db(crate::durable::SyncedDb::in_memory(
            sled::Config::new().temporary(true).open()?,
        ))
    }

    fn with_db(db: crate::durable::SyncedDb) -> Result<Watches, WatchError> {
        let w = Watches {
            watches: db.open_tree("watches")?,
            notes: db.open_tree("notes")?,
            db,
            index: RwLock::new(Index::default()),
            hours: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        };
        let last = w
            .notes
            .iter()
            .keys()
            .filter_map(Result::ok)
            .filter_map(|k| k.get(32..40).and_then(|b| b.try_into().ok()))
            .map(u64::from_be_bytes)
            .max()
            .unwrap_or(0);
        w.seq.store(last, Ordering::Release);
        w.rebuild()?;
        Ok(w)
    }

    fn rebuild(&self) -> Result<(), WatchError> {
        let mut ix = Index::default();
        for item in self.watches.iter() {
            let (k, v) = item?;
            let Some(member) = k.get(..32).and_then(|b| b.try_into().ok()).map(MemberId) else {
                continue;
            };
            let Ok(w) = serde_json::from_slice::<Watch>(&v) else {
                continue;
            };
            let i = ix.watches.len();
            let words = stems(&w.text);
            match words.first() {
                Some((nl, en)) => {
                    ix.by_stem.entry(nl.clone()).or_default().push(i);
                    if en != nl {
                        ix.by_stem.entry(en.clone()).or_default().push(i);
                    }
                }
                None => ix.wordless.push(i),
            }
            ix.watches.push(Compiled {
                member,
                id: w.id,
                words,
                topic: w.topic.clone(),
                kind: w.kind.as_deref().and_then(|k| k.parse().ok()),
                near: w.near.clone(),
            });
        }
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = ix;
        Ok(())
    }

    /// Adds a watch for `member`.
    pub fn add(
        &self,
        member: &MemberId,
        text: &str,
        topic: Option<String>,
        kind: Option<String>,
        near: Option<String>,
        now: i64,
    ) -> Result<Watch, WatchError> {
        let text = text.trim();
        if text.len() > MAX_TEXT {
            return Err(WatchError::Bad(format!(
                "a watch is at most {MAX_TEXT} bytes"
            )));
        }
        if text.is_empty() && topic.is_none() && kind.is_none() && near.is_none() {
            return Err(WatchError::Bad(
                "a watch needs words, or --topic, --kind or --near".into(),
            ));
        }
        if let Some(k) = &kind {
            k.parse::<Kind>().map_err(WatchError::Bad)?;
        }
        let topic = match topic {
            Some(t) => Some(
                buurt_protocol::taxonomy::parse_filter(&t)
                    .ok_or_else(|| {
                        WatchError::Bad(format!("`{t}` is not a topic (`buurt topics`)"))
                    })?
                    .to_owned(),
            ),
            None => None,
        };
        if let Some(g) = &near {
            if g.is_empty()
                || g.len() > 6
                || !g
                    .chars()
                    .all(|c| "0123456789bcdefghjkmnpqrstuvwxyz".contains(c))
            {
                return Err(WatchError::Bad(format!(
                    "`{g}` is not a geohash of at most 6 characters"
                )));
            }
        }
        let mine = self.list(member)?;
        if mine.len() >= MAX_WATCHES {
            return Err(WatchError::TooMany);
        }
        let id = mine.iter().map(|w| w.id).max().unwrap_or(0) + 1;
        let w = Watch {
            id,
            text: text.to_owned(),
            topic,
            kind,
            near,
            created_at: crate::clock::rfc3339(now),
        };
        self.watches.insert(
            key(member, id),
            serde_json::to_vec(&w).map_err(|e| WatchError::Bad(e.to_string()))?,
        )?;
        self.db.flush()?;
        self.rebuild()?;
        Ok(w)
    }

    /// Removes a watch; false if there was none with that id.
    pub fn remove(&self, member: &MemberId, id: u64) -> Result<bool, WatchError> {
        let gone = self.watches.remove(key(member, id))?.is_some();
        if gone {
            self.db.flush()?;
            self.rebuild()?;
        }
        Ok(gone)
    }

    /// A member's watches.
    pub fn list(&self, member: &MemberId) -> Result<Vec<Watch>, WatchError> {
        let mut out = vec![];
        for item in self.watches.scan_prefix(member.as_bytes()) {
            let (_, v) = item?;
            if let Ok(w) = serde_json::from_slice(&v) {
                out.push(w);
            }
        }
        Ok(out)
    }

    /// How many watches there are, of all members.
    pub fn len(&self) -> usize {
        self.index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .watches
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A member's notifications after `after`, oldest first.
    pub fn notifications(
        &self,
        member: &MemberId,
        after: u64,
    ) -> Result<Vec<Notification>, WatchError> {
        let mut out = vec![];
        for item in self
            .notes
            .range(key(member, after + 1)..=key(member, u64::MAX))
        {
            let (_, v) = item?;
            if let Ok(n) = serde_json::from_slice(&v) {
                out.push(n);
            }
        }
        Ok(out)
    }

    /// Checks a listing just stored against every watch, and leaves a
    /// notification for each member whose watch it matches (once per
    /// member and listing revision). Returns how many were left.
    pub fn on_stored(&self, l: &SignedListing, now: i64) -> usize {
        let ix = self.index.read().unwrap_or_else(|p| p.into_inner());
        if ix.watches.is_empty() || l.listing.status == Status::Withdrawn {
            return 0;
        }
        let x = &l.listing;
        let mut text = String::with_capacity(x.title.len() + x.body.len() + 64);
        text.push_str(&x.title);
        text.push(' ');
        text.push_str(&x.body);
        for t in &x.tags {
            text.push(' ');
            text.push_str(t);
        }
        let have: BTreeSet<String> = stems(&text)
            .into_iter()
            .flat_map(|(nl, en)| [nl, en])
            .collect();
        let mut candidates: BTreeSet<usize> = ix.wordless.iter().copied().collect();
        for s in &have {
            if let Some(v) = ix.by_stem.get(s) {
                candidates.extend(v.iter().copied());
            }
        }
        let mut hit: Vec<(MemberId, u64)> = vec![];
        for i in candidates {
            let w = &ix.watches[i];
            if w.member == x.author || hit.iter().any(|(m, _)| *m == w.member) {
                continue;
            }
            let words = w
                .words
                .iter()
                .all(|(nl, en)| have.contains(nl) || have.contains(en));
            let topic = w.topic.as_ref().is_none_or(|t| {
                x.topics
                    .iter()
                    .any(|lt| lt == t || lt.starts_with(&format!("{t}.")))
            });
            let kind = w.kind.is_none_or(|k| k == x.kind);
            let near = w.near.as_ref().is_none_or(|n| {
                x.geohash
                    .as_ref()
                    .is_some_and(|g| g.starts_with(n.as_str()) || n.starts_with(g.as_str()))
            });
            if words && topic && kind && near {
                hit.push((w.member, w.id));
            }
        }
        drop(ix);
        let mut left = 0;
        for (member, watch) in hit {
            if !self.within_hour(&member, now) {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let seq = self.seq.fetch_add(1, Ordering::AcqRel) + 1;
            let n = Notification {
                seq,
                watch,
                listing: l.listing_id().to_string(),
                title: x.title.clone(),
                kind: x.kind.to_string(),
                scope: x.scope.to_string(),
                at: crate::clock::rfc3339(now),
            };
            let Ok(v) = serde_json::to_vec(&n) else {
                continue;
            };
            if self.notes.insert(key(&member, seq), v).is_ok() {
                left += 1;
                self.trim(&member);
            }
        }
        left
    }

    fn within_hour(&self, member: &MemberId, now: i64) -> bool {
        let mut hours = self.hours.lock().unwrap_or_else(|p| p.into_inner());
        let hour = now.div_euclid(3_600);
        let e = hours.entry(*member).or_insert((hour, 0));
        if e.0 != hour {
            *e = (hour, 0);
        }
        e.1 += 1;
        e.1 <= MAX_PER_HOUR
    }

    /// Keeps the newest [`KEEP`] notifications of a member.
    fn trim(&self, member: &MemberId) {
        let keys: Vec<_> = self
            .notes
            .scan_prefix(member.as_bytes())
            .keys()
            .filter_map(Result::ok)
            .collect();
        if keys.len() > KEEP {
            for k in &keys[..keys.len() - KEEP] {
                let _ = self.notes.remove(k);
            }
        }
    }

    /// Makes the notifications left so far durable.
    pub fn flush(&self) -> Result<(), WatchError> {
        self.db.flush()?;
        Ok(())
    }
}
