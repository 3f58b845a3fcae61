//! Agreements in the impact ledger: what members of this node report of
//! their own agreements, with their consent (they may opt out), kept as
//! pseudonyms and days.

use serde::{Deserialize, Serialize};

use buurt_protocol::calendar::Day;
use buurt_protocol::{Kind, ListingId, MemberId};

use super::{Ledger, LedgerError};

/// How far an agreement got.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Reached {
    Accepted = 1,
    Completed = 2,
}

/// What a member reports of one of their agreements (`POST
/// /v1/impact/agreements`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgreementReport {
    /// The agreement id, hex (kept only as the key, hashed).
    pub agreement: String,
    #[schema(value_type = String)]
    pub listing: ListingId,
    #[schema(value_type = String)]
    pub proposer: MemberId,
    #[schema(value_type = String)]
    pub other: MemberId,
    pub reached: Reached,
    /// The day it was accepted.
    #[schema(value_type = u32)]
    pub accepted: Day,
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    pub completed: Option<Day>,
    /// Minutes of help, when completed.
    #[serde(default)]
    pub minutes: u32,
    /// `give`, `lend`, … as in the listing.
    pub exchange: String,
    /// The topic group.
    pub group: String,
    /// The other member's home node is another node.
    #[serde(default)]
    pub across_nodes: bool,
}

/// One agreement as the ledger keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deal {
    pub giver: [u8; 8],
    pub receiver: [u8; 8],
    pub group: u8,
    pub exchange: u8,
    pub reached: Reached,
    pub accepted: Day,
    pub completed: Day,
    pub minutes: u32,
    pub across_nodes: bool,
    /// The listing it is about (for reports of one scope).
    pub listing: ListingId,
}

const DEAL_BYTES: usize = 8 + 8 + 1 + 1 + 1 + 4 + 4 + 4 + 1 + 16;

impl Deal {
    fn encode(&self) -> [u8; DEAL_BYTES] {
        let mut b = [0u8; DEAL_BYTES];
        b[..8].copy_from_slice(&self.giver);
        b[8..16].copy_from_slice(&self.receiver);
        b[16] = self.group;
        b[17] = self.exchange;
        b[18] = self.reached as u8;
        b[19..23].copy_from_slice(&self.accepted.to_be_bytes());
        b[23..27].copy_from_slice(&self.completed.to_be_bytes());
        b[27..31].copy_from_slice(&self.minutes.to_be_bytes());
        b[31] = u8::from(self.across_nodes);
        b[32..48].copy_from_slice(&self.listing.0);
        b
    }

    fn decode(b: &[u8]) -> Option<Deal> {
        if b.len() != DEAL_BYTES {
            return None;
        }
        Some(Deal {
            giver: b[..8].try_into().ok()?,
            receiver: b[8..16].try_into().ok()?,
            group: b[16],
            exchange: b[17],
            reached: match b[18] {
                1 => Reached::Accepted,
                2 => Reached::Completed,
                _ => return None,
            },
            accepted: u32::from_be_bytes(b[19..23].try_into().ok()?),
            completed: u32::from_be_bytes(b[23..27].try_into().ok()?),
            minutes: u32::from_be_bytes(b[27..31].try_into().ok()?),
            across_nodes: b[31] == 1,
            listing: ListingId(b[32..48].try_into().ok()?),
        })
    }
}

/// Why a member's report was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("only a member of the agreement reports it")]
    NotAParty,
    #[error("{0}")]
    Bad(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl Ledger {
    /// Takes `member`'s report of an agreement they are a party to, unless
    /// they opted out. The listing's kind says who gave: an offer's author
    /// gives, a request's author receives. Returns whether it was kept.
    pub fn agreement(&self, member: &MemberId, r: &AgreementReport) -> Result<bool, ReportError> {
        if *member != r.proposer && *member != r.other {
            return Err(ReportError::NotAParty);
        }
        if self.opted_out(&self.pseudonym(member))? {
            return Ok(false);
        }
        let mut key = [0u8; 32];
        hex::decode_to_slice(r.agreement.trim(), &mut key)
            .map_err(|_| ReportError::Bad("the agreement id is not 64 hex characters".into()))?;
        let exchange = r
            .exchange
            .parse::<buurt_protocol::Exchange>()
            .map_err(ReportError::Bad)?
            .code();
        let group = super::groups()
            .iter()
            .position(|g| *g == r.group)
            .map_or(u8::MAX, |i| i as u8);
        // The listing's author, if the ledger knows the listing; else the
        // proposer is taken to be the one who asked (the usual case).
        let listing = self
            .listing_fact(&r.listing)?
            .ok_or_else(|| ReportError::Bad("this node never held that listing".into()))?;
        let (p, o) = (self.pseudonym(&r.proposer), self.pseudonym(&r.other));
        let author_is_other = listing.author == o;
        let author = if author_is_other { o } else { p };
        let counterpart = if author_is_other { p } else { o };
        let (giver, receiver) = match listing.kind {
            Kind::Offer => (author, counterpart),
            Kind::Request => (counterpart, author),
        };
        let deal = Deal {
            giver,
            receiver,
            group,
            exchange,
            reached: r.reached,
            accepted: r.accepted,
            completed: r.completed.unwrap_or(0),
            minutes: r.minutes,
            across_nodes: r.across_nodes,
            listing: r.listing,
        };
        let id = sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), key));
        let id = &id[..16];
        // The furthest stage either member reported stands.
        let keep = match self.deals.get(id).map_err(|e| self.err(e))? {
            Some(old) => Deal::decode(&old).is_none_or(|o| deal.reached >= o.reached),
            None => true,
        };
        if keep {
            self.deals
                .insert(id, &deal.encode()[..])
                .map_err(|e| self.err(e))?;
        }
        Ok(true)
    }

    /// Notes a deal directly under `id` (for benchmarks).
    pub fn note_deal(&self, id: &[u8; 16], deal: &Deal) -> Result<(), LedgerError> {
        self.deals
            .insert(id, &deal.encode()[..])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// A member opts out of (or back into) the figures; opting out also
    /// leaves out every agreement they are a party to.
    pub fn opt_out(&self, member: &MemberId, out: bool) -> Result<(), LedgerError> {
        let p = self.pseudonym(member);
        if out {
            self.optouts
                .insert(p, &[1u8][..])
                .map_err(|e| self.err(e))?;
        } else {
            self.optouts.remove(p).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    pub fn opted_out(&self, p: &[u8; 8]) -> Result<bool, LedgerError> {
        self.optouts.contains_key(p).map_err(|e| self.err(e))
    }

    /// Every agreement kept, but those with a party who opted out.
    pub fn deals(&self) -> Result<Vec<Deal>, LedgerError> {
        self.deals_in(None)
    }

    /// The agreements about listings of `scope` and below (all, for
    /// `None`), but those with a party who opted out.
    pub fn deals_in(
        &self,
        scope: Option<&buurt_protocol::Scope>,
    ) -> Result<Vec<Deal>, LedgerError> {
        let mut out = Vec::new();
        for kv in self.deals.iter() {
            let (_, v) = kv.map_err(|e| self.err(e))?;
            if let Some(d) = Deal::decode(&v) {
                if self.in_scope(&d.listing.0, scope)?
                    && !self.opted_out(&d.giver)?
                    && !self.opted_out(&d.receiver)?
                {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }
}
