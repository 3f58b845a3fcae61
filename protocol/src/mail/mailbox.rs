//! A member's requests to their home node's mailbox, signed by the member:
//! fetch what is there, or delete what was read.
//!
//! ```text
//! body   = version (1) | member (32) | at (i64) | nonce (16) | op (1: 0 fetch, 1 delete)
//!        | for fetch: after (u64), the last mailbox sequence number the member has
//!        | for delete: count (u16) and that many envelope ids (32 each)
//!        | for send (op 2): digest (32), Envelope::send_digest of the envelopes to send
//!        | for a call (op 3): digest (32), the SHA-256 of the call's bytes (a
//!          member's request to their home node, e.g. about their watches)
//! signed = body | ed25519 signature of "buurt/mailbox/v1" | body, by the member
//! ```
//!
//! The home node answers only a request signed by the mailbox's member,
//! at most 10 minutes from its own clock, with a nonce it has not seen in
//! that window (no replay).

use ed25519_dalek::SigningKey;

use super::{signing_input, verify_member, MailError};
use crate::codec::{DecodeError, Reader, Writer};
use crate::id::MemberId;

/// Domain-separation prefix of a mailbox request's signature.
pub const MAILBOX_DOMAIN: &[u8] = b"buurt/mailbox/v1";
/// Format version byte of mailbox requests.
pub const MAILBOX_VERSION: u8 = 1;
/// Most envelopes one delete names.
pub const MAX_DELETE: usize = 1_024;

/// What the member asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// What arrived after the mailbox's sequence number `after` (0: all).
    Fetch { after: u64 },
    /// Envelope ids (SHA-256 of the signed envelope).
    Delete(Vec<[u8; 32]>),
    /// Sign and send these sealed envelopes (their
    /// [`send_digest`](super::Envelope::send_digest)).
    Send { digest: [u8; 32] },
    /// Carry out this call of the member's (the SHA-256 of its bytes).
    Call { digest: [u8; 32] },
}

/// A signed request of a member to their mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxRequest {
    pub member: MemberId,
    pub at: i64,
    pub nonce: [u8; 16],
    pub op: Op,
}

impl MailboxRequest {
    fn body(&self) -> Result<Vec<u8>, MailError> {
        let mut w = Writer::default();
        w.u8(MAILBOX_VERSION);
        w.bytes(self.member.as_bytes());
        w.i64(self.at);
        w.bytes(&self.nonce);
        match &self.op {
            Op::Fetch { after } => {
                w.u8(0);
                w.u64(*after);
            }
            Op::Delete(ids) => {
                w.u8(1);
                let n = u16::try_from(ids.len())
                    .ok()
                    .filter(|n| usize::from(*n) <= MAX_DELETE)
                    .ok_or(crate::codec::EncodeError("delete"))?;
                w.bytes(&n.to_be_bytes());
                for id in ids {
                    w.bytes(id);
                }
            }
            Op::Send { digest } => {
                w.u8(2);
                w.bytes(digest);
            }
            Op::Call { digest } => {
                w.u8(3);
                w.bytes(digest);
            }
        }
        Ok(w.finish()?)
    }

    /// Signs with the member's key: body || signature.
    pub fn sign(&self, member_key: &SigningKey) -> Result<Vec<u8>, MailError> {
        Ok(super::signed(MAILBOX_DOMAIN, self.body()?, member_key))
    }

    /// Decodes and checks the member's signature. Freshness and replay are
    /// the home node's to check (it has the clock and the seen nonces).
    pub fn verify(bytes: &[u8]) -> Result<MailboxRequest, MailError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("version")?;
        if version != MAILBOX_VERSION {
            return Err(DecodeError::UnknownVersion(version).into());
        }
        let member = MemberId(r.array("member")?);
        let at = r.i64("at")?;
        let nonce: [u8; 16] = r.array("nonce")?;
        let op = match r.u8("op")? {
            0 => Op::Fetch {
                after: r.u64("after")?,
            },
            1 => {
                let n = r.u16("delete")? as usize;
                if n > MAX_DELETE {
                    return Err(DecodeError::Truncated("delete").into());
                }
                let mut ids = Vec::with_capacity(n);
                for _ in 0..n {
                    ids.push(r.array("envelope id")?);
                }
                Op::Delete(ids)
            }
            2 => Op::Send {
                digest: r.array("digest")?,
            },
            3 => Op::Call {
                digest: r.array("digest")?,
            },
            value => return Err(DecodeError::BadEnum { field: "op", value }.into()),
        };
        let body_len = r.position();
        let sig: [u8; 64] = r.array("signature")?;
        r.finish()?;
        verify_member(
            &member,
            &signing_input(MAILBOX_DOMAIN, &bytes[..body_len]),
            &sig,
        )?;
        Ok(MailboxRequest {
            member,
            at,
            nonce,
            op,
        })
    }
}
