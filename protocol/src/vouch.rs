//! Vouches: a node's signed, public statement that it vouches for another
//! node — or that it no longer does. Defined in `docs/protocol.md`
//! section 15.
//!
//! ```text
//! body   = version (1) | voucher (32) | subject (32) | at (i64) | kind (1: 1 vouch, 0 withdraw)
//!        | note (str8, at most 140 bytes of UTF-8)
//! signed = body | ed25519 signature of "buurt/vouch/v1" | body, by the voucher's node key
//! ```
//!
//! Statements travel like revocations (gossip on a topic every node
//! follows, and in every catch-up sync session). For one voucher and one
//! subject the newest statement holds ([`Vouch::supersedes`]); under the
//! `web` policy a node accepts the members of the nodes it reaches through
//! holding vouches within its trust depth.

use ed25519_dalek::{Signature, Signer, SigningKey};

use crate::codec::{DecodeError, Reader, Writer};
use crate::id::NodeId;

/// Domain-separation prefix of the bytes a node signs for a vouch.
pub const VOUCH_DOMAIN: &[u8] = b"buurt/vouch/v1";
/// Format version byte of vouches.
pub const VOUCH_VERSION: u8 = 1;
/// Longest note, in bytes.
pub const MAX_NOTE_BYTES: usize = 140;
/// Longest signed statement.
pub const MAX_VOUCH_LEN: usize = 1 + 32 + 32 + 8 + 1 + 1 + MAX_NOTE_BYTES + 64;

/// "Node `voucher` vouches for node `subject` from `at`" — or withdraws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vouch {
    pub voucher: NodeId,
    pub subject: NodeId,
    /// When the statement was made, Unix seconds.
    pub at: i64,
    /// `true` vouches; `false` withdraws an earlier vouch.
    pub vouches: bool,
    pub note: String,
}

/// Why vouch bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VouchError {
    #[error("malformed vouch: {0}")]
    Malformed(#[from] DecodeError),
    #[error("the note is over {MAX_NOTE_BYTES} bytes")]
    NoteTooLong,
    #[error("a node cannot vouch for itself")]
    ForItself,
    #[error("the vouch's signature does not verify with its voucher's key")]
    BadSignature,
}

impl Vouch {
    fn body(&self) -> Result<Vec<u8>, VouchError> {
        if self.note.len() > MAX_NOTE_BYTES {
            return Err(VouchError::NoteTooLong);
        }
        let mut w = Writer::default();
        w.u8(VOUCH_VERSION);
        w.bytes(self.voucher.as_bytes());
        w.bytes(self.subject.as_bytes());
        w.i64(self.at);
        w.u8(u8::from(self.vouches));
        w.str8(&self.note, "note");
        w.finish().map_err(|_| VouchError::NoteTooLong)
    }

    /// Signs with the voucher's node key (which sets `voucher`): the signed
    /// form, body || signature.
    pub fn sign(mut self, node_key: &SigningKey) -> Result<Vec<u8>, VouchError> {
        self.voucher = NodeId::from(node_key.verifying_key());
        if self.voucher == self.subject {
            return Err(VouchError::ForItself);
        }
        let body = self.body()?;
        let mut input = VOUCH_DOMAIN.to_vec();
        input.extend_from_slice(&body);
        let sig = node_key.sign(&input).to_bytes();
        let mut out = body;
        out.extend_from_slice(&sig);
        Ok(out)
    }

    /// Decodes the signed form and checks the voucher's signature (strict).
    pub fn verify(bytes: &[u8]) -> Result<Vouch, VouchError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("version")?;
        if version != VOUCH_VERSION {
            return Err(DecodeError::UnknownVersion(version).into());
        }
        let voucher = NodeId(r.array("voucher")?);
        let subject = NodeId(r.array("subject")?);
        let at = r.i64("at")?;
        let vouches = match r.u8("kind")? {
            0 => false,
            1 => true,
            value => {
                return Err(DecodeError::BadEnum {
                    field: "kind",
                    value,
                }
                .into())
            }
        };
        let note = r.str8("note")?;
        let body_len = r.position();
        let sig: [u8; 64] = r.array("signature")?;
        r.finish()?;
        if note.len() > MAX_NOTE_BYTES {
            return Err(VouchError::NoteTooLong);
        }
        if voucher == subject {
            return Err(VouchError::ForItself);
        }
        let key = voucher
            .verifying_key()
            .map_err(|_| VouchError::BadSignature)?;
        if key.is_weak() {
            return Err(VouchError::BadSignature);
        }
        let mut input = VOUCH_DOMAIN.to_vec();
        input.extend_from_slice(&bytes[..body_len]);
        key.verify_strict(&input, &Signature::from_bytes(&sig))
            .map_err(|_| VouchError::BadSignature)?;
        Ok(Vouch {
            voucher,
            subject,
            at,
            vouches,
            note,
        })
    }

    /// Whether this statement replaces `other` about the same voucher and
    /// subject: the later one holds; at the same second a withdrawal wins.
    pub fn supersedes(&self, other: &Vouch) -> bool {
        (self.at, !self.vouches) > (other.at, !other.vouches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;

    #[test]
    fn vouches_sign_verify_and_refuse_tampering() {
        let a = keys::from_seed([1; 32]);
        let b = keys::node_id(&keys::from_seed([2; 32]));
        let v = Vouch {
            voucher: NodeId([0; 32]),
            subject: b,
            at: 1_800_000_000,
            vouches: true,
            note: "buurtcentrum Dapperbuurt".into(),
        };
        let signed = v.clone().sign(&a).unwrap();
        let back = Vouch::verify(&signed).unwrap();
        assert_eq!(back.voucher, keys::node_id(&a));
        assert_eq!(back.subject, b);
        assert!(back.vouches);
        for i in 0..signed.len() {
            let mut bad = signed.clone();
            bad[i] ^= 1;
            assert!(Vouch::verify(&bad).is_err(), "byte {i}");
        }
        assert!(Vouch::verify(&signed[..signed.len() - 1]).is_err());
        let own = Vouch {
            subject: keys::node_id(&a),
            ..v.clone()
        };
        assert_eq!(own.sign(&a), Err(VouchError::ForItself));
        let long = Vouch {
            note: "x".repeat(141),
            ..v.clone()
        };
        assert_eq!(long.sign(&a), Err(VouchError::NoteTooLong));
        let withdraw = Vouch {
            vouches: false,
            ..back.clone()
        };
        assert!(withdraw.supersedes(&back) && !back.supersedes(&withdraw));
        let later = Vouch {
            at: back.at + 1,
            ..back.clone()
        };
        assert!(later.supersedes(&withdraw));
    }
}
