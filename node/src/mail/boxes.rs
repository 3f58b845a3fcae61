//! The mailboxes of this node's members.
//!
//! Records (one sled database, several trees):
//! - `boxes`: member (32) | sequence (u64 BE) → received at (i64) |
//!   expires at (i64) | signed envelope;
//! - `ids`: envelope id (32) → member | sequence, to find duplicates and
//!   what a delete names;
//! - `sizes`: member → letters (u64) | bytes (u64), for the quotas;
//! - `keys`: member → the member's signed reply-key record;
//! - `nonces`: member | nonce → time, the mailbox requests seen (no replay).
//!
//! The sequence numbers come from sled's id generator: they only grow,
//! across restarts too, so a member's `after` cursor never skips a letter.

use buurt_protocol::mail::mailbox::MailboxRequest;
use buurt_protocol::mail::{Envelope, ReplyKey, MAX_SKEW_SECS};
use buurt_protocol::MemberId;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::{Mail, MailDbError};
use crate::outcome::Reason;

/// How far a mailbox request's time may be from the node's clock.
pub const REQUEST_WINDOW_SECS: i64 = 600;
/// Most letters one fetch returns; the member asks again after the last.
pub const FETCH_PAGE: usize = 500;

/// An envelope taken into a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Stored,
    /// The same envelope was stored before (a retry).
    Already,
}

/// Why an envelope or a mailbox request was refused. The text reaches the
/// sender's delivery state, or the member's command.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The bytes do not verify: the peer that sent them broke the protocol.
    #[error("invalid envelope: {0}")]
    Invalid(String),
    #[error("this node is not the recipient's home node")]
    NotHere,
    #[error("the recipient is not a member of this node")]
    NoSuchMailbox,
    #[error("refused by the home node's policy: {0}")]
    Policy(String),
    #[error("the sending node is over its rate of {0} letters a minute")]
    Rate(u32),
    #[error("the recipient's mailbox is full ({0})")]
    Full(String),
    #[error("too old: sealed more than {0} days ago")]
    Expired(u32),
    /// A mailbox request that does not verify, is stale, or is replayed.
    #[error("{0}")]
    Request(String),
    #[error(transparent)]
    Db(#[from] MailDbError),
}

impl Refusal {
    /// Whether the peer that handed it over is to blame.
    pub fn is_invalid(&self) -> bool {
        matches!(self, Refusal::Invalid(_))
    }
}

/// Most reply keys of other nodes' members kept.
pub const MAX_FOREIGN_KEYS: usize = 200_000;

/// What became of a reply key heard from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyNews {
    New,
    Known,
    /// Valid, but not kept (this node's own member, a node it takes no
    /// mail from, or the cache is full).
    NotTaken,
    Invalid,
}

/// One letter in a mailbox, as a fetch returns it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MailboxEntry {
    pub seq: u64,
    /// SHA-256 of the envelope, hex.
    pub id: String,
    pub received_at: i64,
    /// The signed envelope, hex.
    pub envelope: String,
}

/// The count and size of one mailbox, as the operator sees it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Letterbox {
    pub member_id: String,
    pub letters: u64,
    pub bytes: u64,
}

fn box_key(member: &MemberId, seq: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(member.as_bytes());
    k[32..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn sizes_of(v: Option<&[u8]>) -> (u64, u64) {
    match v {
        Some(b) if b.len() == 16 => (
            u64::from_be_bytes(b[..8].try_into().unwrap_or_default()),
            u64::from_be_bytes(b[8..].try_into().unwrap_or_default()),
        ),
        _ => (0, 0),
    }
}

fn sizes_value(count: u64, bytes: u64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&count.to_be_bytes());
    v[8..].copy_from_slice(&bytes.to_be_bytes());
    v
}

fn tx_err(e: TransactionError<()>) -> MailDbError {
    match e {
        TransactionError::Storage(e) => MailDbError::Db(e),
        TransactionError::Abort(()) => MailDbError::Corrupt("a transaction"),
    }
}

impl Mail {
    /// Takes an envelope from a peer (or from this node's own outbox) into
    /// one of this node's mailboxes, durably, at `now`. In order: it
    /// verifies (size, padded size, the sending node's signature), is
    /// addressed to this node and one of its members, comes from a node
    /// this node takes mail from, is not too old, is within the sending
    /// node's rate and the mailbox's quotas.
    pub fn deliver(&self, bytes: &[u8], now: i64) -> Result<Accepted, Refusal> {
        let r = self.deliver_checked(bytes, now);
        crate::metrics::count(
            |m| &m.mail,
            match &r {
                Ok(Accepted::Stored) => "stored",
                Ok(_) => "stored_before",
                Err(_) => "refused",
            },
        );
        r
    }

    fn deliver_checked(&self, bytes: &[u8], now: i64) -> Result<Accepted, Refusal> {
        let env = Envelope::verify(bytes).map_err(|e| Refusal::Invalid(e.to_string()))?;
        if env.to_node != self.node_id {
            return Err(Refusal::NotHere);
        }
        if env.hour > now + MAX_SKEW_SECS {
            return Err(Refusal::Invalid("sealed in the future".into()));
        }
        let keep = self.limits.keep_days;
        if env.hour < now - i64::from(keep) * 86_400 {
            return Err(Refusal::Expired(keep));
        }
        if env.from_node != self.node_id {
            self.moderation
                .accepts_mail_from(&env.from_node)
                .map_err(|r| {
                    Refusal::Policy(match r {
                        Reason::Blocked => format!("node {} is blocked here", env.from_node),
                        other => other.to_string(),
                    })
                })?;
        }
        if !self.moderation.is_member(&env.to_member) {
            return Err(Refusal::NoSuchMailbox);
        }
        let id = Envelope::id(bytes);
        if self.ids.contains_key(id).map_err(MailDbError::from)? {
            return Ok(Accepted::Already);
        }
        if env.from_node != self.node_id {
            self.within_rate(&env.from_node, now)?;
        }
        let expires = self.expiry(&env, now);
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let member = env.to_member;
        let (count, size) = sizes_of(
            self.sizes
                .get(member.as_bytes())
                .map_err(MailDbError::from)?
                .as_deref(),
        );
        let l = self.limits;
        if count >= l.max_messages {
            return Err(Refusal::Full(format!(
                "{count} letters, the limit is {}",
                l.max_messages
            )));
        }
        if size + bytes.len() as u64 > l.max_bytes {
            return Err(Refusal::Full(format!(
                "{size} bytes, the limit is {}",
                l.max_bytes
            )));
        }
        let seq = self.db.generate_id().map_err(MailDbError::from)? + 1;
        let key = box_key(&member, seq);
        let mut value = Vec::with_capacity(16 + bytes.len());
        value.extend_from_slice(&now.to_be_bytes());
        value.extend_from_slice(&expires.to_be_bytes());
        value.extend_from_slice(bytes);
        (&self.boxes, &self.ids, &self.sizes)
            .transaction(|(b, i, s)| {
                b.insert(&key[..], value.as_slice())?;
                i.insert(&id[..], &key[..])?;
                s.insert(
                    member.as_bytes(),
                    &sizes_value(count + 1, size + bytes.len() as u64),
                )?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(tx_err)?;
        self.flush()?;
        self.note_reaction(&env);
        Ok(Accepted::Stored)
    }

    /// A letter about a member's own listing, in their mailbox: the first
    /// is the listing's first reaction (its author cannot write first), and
    /// the impact ledger notes its hour.
    fn note_reaction(&self, env: &Envelope) {
        let Some(ledger) = self.impact.get() else {
            return;
        };
        match self.store.get(&env.listing) {
            Ok(Some(l)) if l.listing.author == env.to_member => {
                if let Err(e) = ledger.reaction(&env.listing, env.hour) {
                    tracing::warn!("{e}; the impact figures miss this reaction (check that the data directory is writable and has free space)");
                }
            }
            _ => {}
        }
    }

    /// When a letter about `env.listing` leaves the mailbox: `keep_days`
    /// after the listing expires, or after now for a listing this node
    /// does not hold.
    fn expiry(&self, env: &Envelope, now: i64) -> i64 {
        let listing_end = self
            .store
            .get(&env.listing)
            .ok()
            .flatten()
            .map(|l| l.listing.expires_at)
            .unwrap_or(now);
        listing_end.max(now) + i64::from(self.limits.keep_days) * 86_400
    }

    fn within_rate(&self, node: &buurt_protocol::NodeId, now: i64) -> Result<(), Refusal> {
        let minute = now.div_euclid(60);
        let limit = self.limits.node_per_minute;
        let mut rates = self.rates.lock().unwrap_or_else(|p| p.into_inner());
        if rates.len() > 10_000 {
            rates.retain(|_, (m, _)| *m == minute);
        }
        let e = rates.entry(*node).or_insert((minute, 0));
        if e.0 != minute {
            *e = (minute, 0);
        }
        if e.1 >= limit {
            return Err(Refusal::Rate(limit));
        }
        e.1 += 1;
        Ok(())
    }

    /// Checks a member's signed mailbox request at `now`: it verifies, the
    /// member is admitted here, its time is within [`REQUEST_WINDOW_SECS`]
    /// and its nonce is new. The nonce is recorded durably.
    pub fn authorise(&self, bytes: &[u8], now: i64) -> Result<MailboxRequest, Refusal> {
        let req = MailboxRequest::verify(bytes)
            .map_err(|e| Refusal::Request(format!("the mailbox request {e}")))?;
        if !self.moderation.is_member(&req.member) {
            return Err(Refusal::NoSuchMailbox);
        }
        if (req.at - now).abs() > REQUEST_WINDOW_SECS {
            return Err(Refusal::Request(format!(
                "the mailbox request was signed {} s from this node's time (at most {REQUEST_WINDOW_SECS} s): check the clock",
                req.at - now
            )));
        }
        let mut key = [0u8; 48];
        key[..32].copy_from_slice(req.member.as_bytes());
        key[32..].copy_from_slice(&req.nonce);
        let seen = self
            .nonces
            .compare_and_swap(key, None as Option<&[u8]>, Some(&now.to_be_bytes()[..]))
            .map_err(MailDbError::from)?;
        if seen.is_err() {
            return Err(Refusal::Request(
                "this mailbox request was used before (replayed)".into(),
            ));
        }
        self.flush()?;
        Ok(req)
    }

    /// The letters in `member`'s mailbox after sequence number `after`,
    /// oldest first, at most [`FETCH_PAGE`].
    pub fn fetch(&self, member: &MemberId, after: u64) -> Result<Vec<MailboxEntry>, MailDbError> {
        let from = box_key(member, after.saturating_add(1));
        let to = box_key(member, u64::MAX);
        let mut out = Vec::new();
        for item in self.boxes.range(from..=to).take(FETCH_PAGE) {
            let (k, v) = item?;
            if v.len() < 16 || k.len() != 40 {
                return Err(MailDbError::Corrupt("boxes"));
            }
            let seq = u64::from_be_bytes(k[32..].try_into().unwrap_or_default());
            let received_at = i64::from_be_bytes(v[..8].try_into().unwrap_or_default());
            let envelope = &v[16..];
            out.push(MailboxEntry {
                seq,
                id: hex::encode(Envelope::id(envelope)),
                received_at,
                envelope: hex::encode(envelope),
            });
        }
        Ok(out)
    }

    /// Deletes letters of `member` by envelope id; ids of other mailboxes
    /// or unknown ids are skipped. Returns how many were deleted.
    pub fn delete(&self, member: &MemberId, ids: &[[u8; 32]]) -> Result<usize, MailDbError> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        for id in ids {
            let Some(key) = self.ids.get(id)? else {
                continue;
            };
            if key.len() != 40 || key[..32] != member.as_bytes()[..] {
                continue;
            }
            if self.remove(&key, id)? {
                n += 1;
            }
        }
        self.flush()?;
        Ok(n)
    }

    /// Removes one letter and updates its mailbox's count and size.
    fn remove(&self, key: &[u8], id: &[u8]) -> Result<bool, MailDbError> {
        let member = &key[..32];
        (&self.boxes, &self.ids, &self.sizes)
            .transaction(|(b, i, s)| {
                let Some(v) = b.remove(key)? else {
                    return Ok(false);
                };
                i.remove(id)?;
                let (count, size) = sizes_of(s.get(member)?.as_deref());
                let len = (v.len() as u64).saturating_sub(16);
                s.insert(
                    member,
                    &sizes_value(count.saturating_sub(1), size.saturating_sub(len)),
                )?;
                Ok::<bool, ConflictableTransactionError<()>>(true)
            })
            .map_err(tx_err)
    }

    /// Removes letters past their expiry and mailbox-request nonces past
    /// the window. Returns the letters removed.
    pub fn sweep(&self, now: i64) -> Result<usize, MailDbError> {
        let mut expired = Vec::new();
        for item in self.boxes.iter() {
            let (k, v) = item?;
            if v.len() >= 16 && i64::from_be_bytes(v[8..16].try_into().unwrap_or_default()) < now {
                expired.push((k, Envelope::id(&v[16..])));
            }
        }
        let n = {
            let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
            let mut n = 0;
            for (k, id) in &expired {
                if self.remove(k, id)? {
                    n += 1;
                }
            }
            n
        };
        for item in self.nonces.iter() {
            let (k, v) = item?;
            let at = v
                .as_ref()
                .try_into()
                .map(i64::from_be_bytes)
                .unwrap_or(i64::MIN);
            if at < now - 2 * REQUEST_WINDOW_SECS {
                self.nonces.remove(k)?;
            }
        }
        self.sweep_sent(now - i64::from(self.limits.keep_days) * 86_400)?;
        self.flush()?;
        Ok(n)
    }

    /// Every mailbox's count and size (never its letters).
    pub fn letterboxes(&self) -> Result<Vec<Letterbox>, MailDbError> {
        let mut out = Vec::new();
        for item in self.sizes.iter() {
            let (k, v) = item?;
            let (letters, bytes) = sizes_of(Some(&v));
            let Ok(m) = <[u8; 32]>::try_from(k.as_ref()) else {
                return Err(MailDbError::Corrupt("sizes"));
            };
            if letters > 0 {
                out.push(Letterbox {
                    member_id: MemberId(m).to_string(),
                    letters,
                    bytes,
                });
            }
        }
        Ok(out)
    }

    /// Keeps a member's reply-key record (the newest by `not_before`). Only
    /// for members of this node, with a record that verifies at `now`.
    pub fn put_reply_key(&self, bytes: &[u8], now: i64) -> Result<ReplyKey, Refusal> {
        let key = ReplyKey::verify(bytes, now)
            .map_err(|e| Refusal::Request(format!("the reply key {e}")))?;
        if !self.moderation.is_member(&key.member) {
            return Err(Refusal::NoSuchMailbox);
        }
        if let Some(old) = self.reply_key(&key.member, now) {
            if old.1.not_before > key.not_before {
                return Ok(key);
            }
        }
        self.keys
            .insert(key.member.as_bytes(), bytes)
            .map_err(MailDbError::from)?;
        self.flush()?;
        Ok(key)
    }

    /// A reply-key record of one of this node's members, if it is still
    /// valid at `now`.
    pub fn reply_key(&self, member: &MemberId, now: i64) -> Option<(Vec<u8>, ReplyKey)> {
        let member = if *member == super::OPERATOR {
            self.operator.get()?
        } else {
            member
        };
        let bytes = self.keys.get(member.as_bytes()).ok()??.to_vec();
        let key = ReplyKey::verify(&bytes, now).ok()?;
        Some((bytes, key))
    }

    /// A reply-key record of another node's member heard earlier, if still
    /// valid at `now`.
    pub fn foreign_key(&self, member: &MemberId, now: i64) -> Option<(Vec<u8>, ReplyKey)> {
        let bytes = self.foreign.get(member.as_bytes()).ok()??.to_vec();
        let key = ReplyKey::verify(&bytes, now).ok()?;
        Some((bytes, key))
    }

    /// Keeps another node's member's reply key, heard by gossip or fetched
    /// from its home node: if it verifies at `now`, its node is one this
    /// node takes mail from, and it is newer than the one kept.
    pub fn take_reply_key(&self, bytes: &[u8], now: i64) -> KeyNews {
        let Ok(key) = ReplyKey::verify(bytes, now) else {
            return KeyNews::Invalid;
        };
        let node = key.certificate.node;
        if node == self.node_id || self.moderation.accepts_mail_from(&node).is_err() {
            return KeyNews::NotTaken;
        }
        if let Some((_, old)) = self.foreign_key(&key.member, now) {
            if old.not_before >= key.not_before {
                return KeyNews::Known;
            }
        } else if self.foreign.len() >= MAX_FOREIGN_KEYS {
            return KeyNews::NotTaken;
        }
        match self.foreign.insert(key.member.as_bytes(), bytes) {
            Ok(_) => KeyNews::New,
            Err(_) => KeyNews::NotTaken,
        }
    }
}
