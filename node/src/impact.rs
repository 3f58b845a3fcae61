//! Impact: what sharing did for the neighbourhood, kept as anonymous facts
//! and published only under rules that expose no one (docs/operator.md,
//! "For municipalities").
//!
//! Listings expire and leave the store; the figures must not. So the node
//! keeps a ledger in its own sled database (`impact/` in the data
//! directory) of what it needs and nothing more: per listing its kind,
//! topic group, exchange, the day it was first posted, whether its author is
//! a member here, and a pseudonym of the author (the first 8 bytes of
//! SHA-256 of a secret of this node and the member id) so that distinct
//! residents can be counted; per listing of a member here, the hour its
//! first reaction arrived in their mailbox (the envelope says which listing
//! and when; it is sealed, so nothing more). No text, no member id, no
//! place, no time finer than an hour is kept, and the report rounds to
//! months.
//!
//! `report.rs` turns the ledger into published tables: a cell only if at
//! least [`Rules::min_residents`] distinct residents stand behind it,
//! counts rounded to [`Rules::round_to`], and secondary suppression so that
//! a hidden cell cannot be recomputed from a total.

pub mod deals;
pub mod plot;
pub mod report;

use std::path::Path;

use buurt_protocol::calendar::{self, Day};
use buurt_protocol::{taxonomy, Kind, ListingId, MemberId, SignedListing};
use sha2::{Digest, Sha256};

pub use deals::{AgreementReport, Deal, Reached};
pub use report::{Figure, People, Report, Rules};

/// Why the ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("the impact ledger at {path}: {detail}")]
pub struct LedgerError {
    path: String,
    detail: String,
}

/// One listing as the ledger keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fact {
    pub author: [u8; 8],
    pub kind: Kind,
    /// Index into [`groups`].
    pub group: u8,
    pub exchange: u8,
    pub day: Day,
    /// The author is a member of this node.
    pub own: bool,
}

const FACT_BYTES: usize = 8 + 1 + 1 + 1 + 4 + 1;

impl Fact {
    fn encode(&self) -> [u8; FACT_BYTES] {
        let mut b = [0u8; FACT_BYTES];
        b[..8].copy_from_slice(&self.author);
        b[8] = self.kind.code();
        b[9] = self.group;
        b[10] = self.exchange;
        b[11..15].copy_from_slice(&self.day.to_be_bytes());
        b[15] = u8::from(self.own);
        b
    }

    fn decode(b: &[u8]) -> Option<Fact> {
        if b.len() != FACT_BYTES {
            return None;
        }
        Some(Fact {
            author: b[..8].try_into().ok()?,
            kind: Kind::from_code(b[8])?,
            group: b[9],
            exchange: b[10],
            day: u32::from_be_bytes(b[11..15].try_into().ok()?),
            own: b[15] == 1,
        })
    }
}

/// The topic groups the figures are given by: the taxonomy's groups, then
/// its topics outside any group.
pub fn groups() -> Vec<&'static str> {
    let mut g: Vec<&'static str> = taxonomy::GROUPS.iter().map(|g| g.key).collect();
    g.extend(
        taxonomy::TOPICS
            .iter()
            .filter(|t| !t.key.contains('.'))
            .map(|t| t.key),
    );
    g
}

/// The group index of a listing: that of its first topic.
fn group_of(topic: &str) -> u8 {
    let g = topic.split('.').next().unwrap_or(topic);
    groups()
        .iter()
        .position(|x| *x == g)
        .map_or(u8::MAX, |i| i as u8)
}

/// The anonymous facts of a neighbourhood.
pub struct Ledger {
    path: String,
    db: crate::durable::SyncedDb,
    listings: sled::Tree,
    reactions: sled::Tree,
    deals: sled::Tree,
    optouts: sled::Tree,
    /// Each listing's scope, for reports of one scope and below.
    scopes: sled::Tree,
    /// Pseudonym and day of each member here who wrote a letter that day.
    writers: sled::Tree,
    salt: [u8; 32],
}

impl Ledger {
    /// Opens (or creates) the ledger at `path`; `secret` keys the authors'
    /// pseudonyms (the node derives it from its own key).
    pub fn open(path: &Path, secret: &[u8]) -> Result<Ledger, LedgerError> {
        let db = crate::durable::SyncedDb::open_small(path);
        Ledger::with(path.display().to_string(), db, secret)
    }

    /// A ledger in memory, for tests.
    pub fn in_memory(secret: &[u8]) -> Result<Ledger, LedgerError> {
        Ledger::with(
            "(memory)".into(),
            sled::Config::new()
                .temporary(true)
                .open()
                .map(crate::durable::SyncedDb::in_memory),
            secret,
        )
    }

    fn with(
        path: String,
        db: sled::Result<crate::durable::SyncedDb>,
        secret: &[u8],
    ) -> Result<Ledger, LedgerError> {
        let err = |e: sled::Error| LedgerError {
            path: path.clone(),
            detail: e.to_string(),
        };
        let db = db.map_err(err)?;
        let salt = Sha256::digest([b"buurt/impact/v1".as_slice(), secret].concat()).into();
        Ok(Ledger {
            listings: db.open_tree("listings").map_err(err)?,
            reactions: db.open_tree("reactions").map_err(err)?,
            deals: db.open_tree("agreements").map_err(err)?,
            optouts: db.open_tree("optouts").map_err(err)?,
            scopes: db.open_tree("scopes").map_err(err)?,
            writers: db.open_tree("writers").map_err(err)?,
            db,
            salt,
            path,
        })
    }

    fn err(&self, e: sled::Error) -> LedgerError {
        LedgerError {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// The pseudonym of a member in this ledger.
    pub fn pseudonym(&self, member: &MemberId) -> [u8; 8] {
        let h = Sha256::digest([&self.salt[..], member.as_bytes()].concat());
        h[..8].try_into().expect("8 bytes")
    }

    /// Notes a stored listing, once per address (its first revision seen;
    /// a tombstone is not a listing).
    pub fn listing(&self, l: &SignedListing, own: bool) -> Result<(), LedgerError> {
        let x = &l.listing;
        if x.status == buurt_protocol::Status::Withdrawn {
            return Ok(());
        }
        let fact = Fact {
            author: self.pseudonym(&x.author),
            kind: x.kind,
            group: x.topics.first().map_or(u8::MAX, |t| group_of(t)),
            exchange: x.exchange.code(),
            day: calendar::day_of(x.created_at),
            own,
        };
        let id = l.listing_id();
        let new = self
            .listings
            .compare_and_swap(id.0, None as Option<&[u8]>, Some(&fact.encode()[..]))
            .map_err(|e| self.err(e))?
            .is_ok();
        if new {
            self.scopes
                .insert(id.0, x.scope.as_str().as_bytes())
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Notes a fact directly, under `id` (for benchmarks and tests that
    /// make many without signing listings).
    pub fn note(&self, id: &ListingId, fact: &Fact) -> Result<(), LedgerError> {
        self.listings
            .insert(id.0, &fact.encode()[..])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Notes the first reaction to a listing, at `hour` (Unix seconds).
    pub fn reaction(&self, listing: &ListingId, hour: i64) -> Result<(), LedgerError> {
        self.reactions
            .compare_and_swap(
                listing.0,
                None as Option<&[u8]>,
                Some(&hour.to_be_bytes()[..]),
            )
            .map_err(|e| self.err(e))?
            .ok();
        Ok(())
    }

    /// Notes that a member of this node wrote a letter (a reply, a step of
    /// an agreement, thanks) on `day`: active that day, also when they
    /// posted nothing. Kept as pseudonym and day, nothing more.
    pub fn wrote(&self, member: &MemberId, day: Day) -> Result<(), LedgerError> {
        let mut key = [0u8; 12];
        key[..8].copy_from_slice(&self.pseudonym(member));
        key[8..].copy_from_slice(&day.to_be_bytes());
        self.writers.insert(key, &[][..]).map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Every (pseudonym, day) on which a member here wrote a letter.
    pub fn writers(&self) -> Result<Vec<([u8; 8], Day)>, LedgerError> {
        let mut out = Vec::new();
        for k in self.writers.iter().keys() {
            let k = k.map_err(|e| self.err(e))?;
            if k.len() != 12 {
                continue;
            }
            let who: [u8; 8] = k[..8].try_into().expect("8 bytes");
            let day = u32::from_be_bytes(k[8..].try_into().expect("4 bytes"));
            out.push((who, day));
        }
        Ok(out)
    }

    /// The fact of one listing, if noted.
    pub fn listing_fact(&self, id: &ListingId) -> Result<Option<Fact>, LedgerError> {
        Ok(self
            .listings
            .get(id.0)
            .map_err(|e| self.err(e))?
            .and_then(|v| Fact::decode(&v)))
    }

    /// Whether the listing `id` was posted in `scope` or below it (every
    /// listing, without a scope).
    pub fn in_scope(
        &self,
        id: &[u8],
        scope: Option<&buurt_protocol::Scope>,
    ) -> Result<bool, LedgerError> {
        let Some(scope) = scope else {
            return Ok(true);
        };
        let Some(s) = self.scopes.get(id).map_err(|e| self.err(e))? else {
            return Ok(false);
        };
        let s = String::from_utf8_lossy(&s);
        Ok(s == scope.as_str() || s.starts_with(&format!("{}/", scope.as_str())))
    }

    /// Every listing fact, with the hour of its first reaction if any.
    pub fn facts(&self) -> Result<Vec<(Fact, Option<i64>)>, LedgerError> {
        self.facts_in(None)
    }

    /// The listing facts of `scope` and below (all, for `None`).
    pub fn facts_in(
        &self,
        scope: Option<&buurt_protocol::Scope>,
    ) -> Result<Vec<(Fact, Option<i64>)>, LedgerError> {
        let mut out = Vec::new();
        for kv in self.listings.iter() {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            if !self.in_scope(&k, scope)? {
                continue;
            }
            let Some(f) = Fact::decode(&v) else { continue };
            let first = self
                .reactions
                .get(&k)
                .map_err(|e| self.err(e))?
                .and_then(|h| h.as_ref().try_into().ok().map(i64::from_be_bytes));
            out.push((f, first));
        }
        Ok(out)
    }

    /// True when nothing was noted yet.
    pub fn is_empty(&self) -> bool {
        self.listings.is_empty()
    }

    /// Makes what was noted durable.
    pub fn flush(&self) -> Result<(), LedgerError> {
        self.db.flush().map(|_| ()).map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use buurt_protocol::sample::{Identity, T0};

    #[test]
    fn a_listing_is_noted_once_and_its_first_reaction_once() {
        let l = Identity::fixed()
            .offer([1; 16], "Boormachine", T0)
            .sign(&Identity::fixed().member)
            .unwrap();
        let ledger = Ledger::in_memory(b"secret").unwrap();
        ledger.listing(&l, true).unwrap();
        let mut later = l.listing.clone();
        later.revision += 1;
        later.kind = Kind::Request;
        ledger
            .listing(&later.sign(&Identity::fixed().member).unwrap(), true)
            .unwrap();
        ledger.reaction(&l.listing_id(), T0 + 3_600).unwrap();
        ledger.reaction(&l.listing_id(), T0 + 7_200).unwrap();
        let facts = ledger.facts().unwrap();
        assert_eq!(facts.len(), 1);
        assert_eq!(facts[0].0.kind, Kind::Offer, "the first revision counts");
        assert_eq!(facts[0].1, Some(T0 + 3_600), "the first reaction counts");
        assert_eq!(groups()[usize::from(facts[0].0.group)], "goods");
        // The pseudonym is not the member id, and depends on the secret.
        let other = Ledger::in_memory(b"another").unwrap();
        let m = l.listing.author;
        assert_ne!(ledger.pseudonym(&m), other.pseudonym(&m));
        assert_ne!(ledger.pseudonym(&m)[..], m.as_bytes()[..8]);
    }
}
