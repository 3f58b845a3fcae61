//! The envelope: a sealed letter as nodes carry and keep it.
//!
//! ```text
//! body   = version (1) | to node (32) | to member (32) | listing id (16) | hour (i64)
//!        | encapsulated key (32) | ciphertext (u16 length, bytes) | from node (32)
//! signed = body | ed25519 signature of "buurt/envelope/v1" | body, by the sending node
//! ```
//!
//! The ciphertext is HPKE base mode (RFC 9180; X25519-HKDF-SHA256,
//! HKDF-SHA256, ChaCha20-Poly1305) to the recipient's reply key, with
//! `info = "buurt/mail/v1" | to member` and the listing id as associated
//! data, over the signed letter padded to a size bucket (256 … 16,384
//! bytes; the ciphertext adds a 16-byte tag). `hour` is the sending time
//! rounded down to the hour. A node sees where it goes, about which listing,
//! from which node, and how big — never who wrote it or what.

use ed25519_dalek::SigningKey;
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use sha2::{Digest, Sha256};

use super::key::{public_of, ReplySecret};
use super::seal::{is_bucket, pad, unpad, SeedRng};
use super::{signing_input, Letter, MailError, ReplyKey};
use crate::codec::{DecodeError, Reader, Writer};
use crate::id::{ListingId, MemberId, NodeId};

/// Domain-separation prefix of an envelope's signature.
pub const ENVELOPE_DOMAIN: &[u8] = b"buurt/envelope/v1";
/// The HPKE `info` prefix (the recipient's member id follows).
pub const HPKE_INFO: &[u8] = b"buurt/mail/v1";
/// Format version byte of envelopes.
pub const ENVELOPE_VERSION: u8 = 1;
/// The AEAD's tag length.
pub const TAG_LEN: usize = 16;
/// Largest signed envelope: the fixed fields, the largest ciphertext and
/// the signature.
pub const MAX_ENVELOPE_BYTES: usize =
    1 + 32 + 32 + 16 + 8 + 32 + 2 + super::MAX_BUCKET + TAG_LEN + 32 + 64;

/// A sealed letter on its way, or in a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub to_node: NodeId,
    pub to_member: MemberId,
    pub listing: ListingId,
    /// The sending time, rounded down to the hour.
    pub hour: i64,
    pub encapped: [u8; 32],
    pub ciphertext: Vec<u8>,
    pub from_node: NodeId,
}

fn info(to: &MemberId) -> Vec<u8> {
    signing_input(HPKE_INFO, to.as_bytes())
}

impl Envelope {
    /// Seals a signed letter to `to` (a verified reply key), for its home
    /// node `to_node`, at `now`, signed by the sending node's key; `seed`
    /// gives the ephemeral key (fresh random bytes, except in test vectors).
    pub fn seal(
        letter: &[u8],
        to: &ReplyKey,
        to_node: NodeId,
        listing: ListingId,
        now: i64,
        from_node_key: &SigningKey,
        seed: [u8; 32],
    ) -> Result<Vec<u8>, MailError> {
        Envelope::seal_unsigned(letter, to, to_node, listing, now, seed)?.sign(from_node_key)
    }

    /// The sealing half of [`Envelope::seal`], done where the letter was
    /// written (the resident's device): an envelope whose `from_node` is
    /// still zero, for the sending node to [`sign`](Envelope::sign).
    pub fn seal_unsigned(
        letter: &[u8],
        to: &ReplyKey,
        to_node: NodeId,
        listing: ListingId,
        now: i64,
        seed: [u8; 32],
    ) -> Result<Envelope, MailError> {
        let padded = pad(letter)?;
        let pk = public_of(&to.key)?;
        let (encapped, ciphertext) =
            hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
                &OpModeS::Base,
                &pk,
                &info(&to.member),
                &padded,
                &listing.0,
                &mut SeedRng::new(seed),
            )
            .map_err(|_| MailError::DoesNotOpen)?;
        let mut enc = [0u8; 32];
        enc.copy_from_slice(&encapped.to_bytes());
        Ok(Envelope {
            to_node,
            to_member: to.member,
            listing,
            hour: now - now.rem_euclid(3_600),
            encapped: enc,
            ciphertext,
            from_node: NodeId([0; 32]),
        })
    }

    /// Signs as the sending node (setting `from_node`): the envelope as it
    /// travels.
    pub fn sign(mut self, from_node_key: &SigningKey) -> Result<Vec<u8>, MailError> {
        self.from_node = NodeId::from(from_node_key.verifying_key());
        Ok(super::signed(ENVELOPE_DOMAIN, self.body()?, from_node_key))
    }

    /// What a member asks their node to sign and send, as a member's
    /// [`Op::Send`](super::mailbox::Op::Send) request names it: SHA-256
    /// over the envelopes' bodies without `from_node`, in order.
    pub fn send_digest(envelopes: &[Envelope]) -> Result<[u8; 32], MailError> {
        let mut h = Sha256::new();
        for e in envelopes {
            let body = e.body()?;
            h.update(&body[..body.len() - 32]);
        }
        Ok(h.finalize().into())
    }

    fn body(&self) -> Result<Vec<u8>, MailError> {
        let mut w = Writer::default();
        w.u8(ENVELOPE_VERSION);
        w.bytes(self.to_node.as_bytes());
        w.bytes(self.to_member.as_bytes());
        w.bytes(&self.listing.0);
        w.i64(self.hour);
        w.bytes(&self.encapped);
        let len = u16::try_from(self.ciphertext.len()).map_err(|_| MailError::BadSize)?;
        w.bytes(&len.to_be_bytes());
        w.bytes(&self.ciphertext);
        w.bytes(self.from_node.as_bytes());
        Ok(w.finish()?)
    }

    /// Decodes and checks a signed envelope: its size, a ciphertext of a
    /// padded size, and the sending node's signature. (What is inside is
    /// for the recipient: [`Envelope::open`].)
    pub fn verify(bytes: &[u8]) -> Result<Envelope, MailError> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(MailError::BadSize);
        }
        let mut r = Reader::new(bytes);
        let version = r.u8("version")?;
        if version != ENVELOPE_VERSION {
            return Err(DecodeError::UnknownVersion(version).into());
        }
        let to_node = NodeId(r.array("to node")?);
        let to_member = MemberId(r.array("to member")?);
        let listing = ListingId(r.array("listing")?);
        let hour = r.i64("hour")?;
        let encapped: [u8; 32] = r.array("encapsulated key")?;
        let len = r.u16("ciphertext")? as usize;
        let ciphertext = r.take(len, "ciphertext")?.to_vec();
        let from_node = NodeId(r.array("from node")?);
        let body_len = r.position();
        let sig: [u8; 64] = r.array("signature")?;
        r.finish()?;
        if len < TAG_LEN || !is_bucket(len - TAG_LEN) {
            return Err(MailError::BadSize);
        }
        let key = from_node
            .verifying_key()
            .map_err(|_| MailError::BadSignature)?;
        if key.is_weak() {
            return Err(MailError::BadSignature);
        }
        key.verify_strict(
            &signing_input(ENVELOPE_DOMAIN, &bytes[..body_len]),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .map_err(|_| MailError::BadSignature)?;
        Ok(Envelope {
            to_node,
            to_member,
            listing,
            hour,
            encapped,
            ciphertext,
            from_node,
        })
    }

    /// Opens the envelope with the recipient's reply secret and checks the
    /// letter inside at `now`: signed, about this listing, and either
    /// addressed to this mailbox's member or written by them (the sender's
    /// own copy, sealed to the sender's reply key).
    pub fn open(&self, secret: &ReplySecret, now: i64) -> Result<Letter, MailError> {
        let encapped = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&self.encapped)
            .map_err(|_| MailError::DoesNotOpen)?;
        let padded = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            secret,
            &encapped,
            &info(&self.to_member),
            &self.ciphertext,
            &self.listing.0,
        )
        .map_err(|_| MailError::DoesNotOpen)?;
        let letter = Letter::verify(unpad(&padded)?, now)?;
        let ours = letter.to == self.to_member || letter.from() == self.to_member;
        if !ours || letter.listing != self.listing {
            return Err(MailError::Misaddressed);
        }
        Ok(letter)
    }

    /// An envelope's id: SHA-256 of its signed bytes.
    pub fn id(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }
}
