//! A member's reply key: an X25519 public key, with its validity and the
//! member's certificate, signed by the member's Ed25519 key.
//!
//! ```text
//! body   = version (1) | member (32) | key (32) | not_before (i64) | not_after (i64) | certificate
//! signed = body | ed25519 signature of "buurt/replykey/v1" | body, by the member
//! ```
//!
//! The secret half is derived from a 32-byte seed that only the member's
//! device holds (HPKE's DeriveKeyPair, RFC 9180 section 7.1.3).

use ed25519_dalek::SigningKey;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, Serializable};

use super::{signing_input, verify_member, MailError, MAX_KEY_SECS, MAX_SKEW_SECS};
use crate::certificate::Certificate;
use crate::codec::{Reader, Writer};
use crate::id::MemberId;

/// Domain-separation prefix of a reply key record's signature.
pub const REPLY_KEY_DOMAIN: &[u8] = b"buurt/replykey/v1";
/// Format version byte of reply key records.
pub const REPLY_KEY_VERSION: u8 = 1;

/// The secret half of a reply key.
pub type ReplySecret = <X25519HkdfSha256 as Kem>::PrivateKey;

/// A member's published reply key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyKey {
    pub member: MemberId,
    /// The X25519 public key.
    pub key: [u8; 32],
    pub not_before: i64,
    pub not_after: i64,
    /// The member's certificate: which node vouches for them.
    pub certificate: Certificate,
}

/// The reply key pair of a seed: the secret, and the public key's bytes.
pub fn keypair(seed: &[u8; 32]) -> (ReplySecret, [u8; 32]) {
    let (sk, pk) = X25519HkdfSha256::derive_keypair(seed);
    let mut public = [0u8; 32];
    public.copy_from_slice(&pk.to_bytes());
    (sk, public)
}

/// The public key of a record, as HPKE takes it.
pub(crate) fn public_of(key: &[u8; 32]) -> Result<<X25519HkdfSha256 as Kem>::PublicKey, MailError> {
    <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(key).map_err(|_| MailError::BadSignature)
}

impl ReplyKey {
    fn body(&self) -> Result<Vec<u8>, MailError> {
        let mut w = Writer::default();
        w.u8(REPLY_KEY_VERSION);
        w.bytes(self.member.as_bytes());
        w.bytes(&self.key);
        w.i64(self.not_before);
        w.i64(self.not_after);
        self.certificate.encode(&mut w);
        Ok(w.finish()?)
    }

    /// Signs the record with the member's key: body || signature.
    pub fn sign(&self, member_key: &SigningKey) -> Result<Vec<u8>, MailError> {
        Ok(super::signed(REPLY_KEY_DOMAIN, self.body()?, member_key))
    }

    /// Decodes and checks a signed record: the member's signature, the
    /// certificate (its node's signature, and that it names this member),
    /// a validity of at most 120 days that holds at `now`.
    pub fn verify(bytes: &[u8], now: i64) -> Result<ReplyKey, MailError> {
        let (k, body_len) = ReplyKey::decode(bytes)?;
        let sig: [u8; 64] = bytes[body_len..]
            .try_into()
            .map_err(|_| MailError::BadSignature)?;
        verify_member(
            &k.member,
            &signing_input(REPLY_KEY_DOMAIN, &bytes[..body_len]),
            &sig,
        )?;
        if k.certificate.member != k.member {
            return Err(MailError::WrongSigner);
        }
        k.certificate
            .verify_signature()
            .map_err(|_| MailError::BadCertificate)?;
        if k.not_after <= k.not_before
            || k.not_after
                .checked_sub(k.not_before)
                .is_none_or(|d| d > MAX_KEY_SECS)
        {
            return Err(MailError::KeyTooLong);
        }
        if now.saturating_add(MAX_SKEW_SECS) < k.not_before || now >= k.not_after {
            return Err(MailError::KeyExpired);
        }
        public_of(&k.key)?;
        Ok(k)
    }

    /// The record and the length of its body.
    fn decode(bytes: &[u8]) -> Result<(ReplyKey, usize), MailError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("version")?;
        if version != REPLY_KEY_VERSION {
            return Err(crate::codec::DecodeError::UnknownVersion(version).into());
        }
        let k = ReplyKey {
            member: MemberId(r.array("member")?),
            key: r.array("key")?,
            not_before: r.i64("not_before")?,
            not_after: r.i64("not_after")?,
            certificate: Certificate::decode(&mut r)?,
        };
        let body_len = r.position();
        let _sig: [u8; 64] = r.array("signature")?;
        r.finish()?;
        Ok((k, body_len))
    }
}
