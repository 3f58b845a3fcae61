//! Private circles: a listing for a circle's members only, never stored or
//! passed on in clear (protocol.md, section 18).
//!
//! The circle's owner makes a random key per *epoch* and sends it, in a
//! [`CircleKey`] record, to each member as a letter (section 14): sealed to
//! that member's reply key, delivered to their home node. A listing for the
//! circle (a signed listing whose `circle` field names it) is encrypted
//! under the current epoch's key with ChaCha20-Poly1305 and sent the same
//! way to each member. Adding or removing a member starts a new epoch with
//! a new key, sent to the members of the new epoch only.
//!
//! A letter that carries a circle key or listing has the circle id as its
//! `listing` and a text that starts with [`KEY_PREFIX`] or
//! [`LISTING_PREFIX`], followed by the record in standard base64.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use data_encoding::BASE64;

use crate::codec::{DecodeError, Reader, Writer};
use crate::id::{MemberId, NodeId};

/// How a circle-key letter's text begins.
pub const KEY_PREFIX: &str = "buurt-circle/v1 key ";
/// How a circle-listing letter's text begins.
pub const LISTING_PREFIX: &str = "buurt-circle/v1 listing ";
/// Domain separation of the AEAD's associated data.
pub const CIRCLE_DOMAIN: &[u8] = b"buurt/circle/v1";
/// Most members of one circle, the owner included.
pub const MAX_MEMBERS: usize = 50;
/// Longest circle name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Why a circle record or listing could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CircleError {
    #[error("malformed circle record: {0}")]
    Malformed(#[from] DecodeError),
    #[error("not base64")]
    NotBase64,
    #[error(
        "a circle has 1 to {MAX_MEMBERS} members and a name of 1 to {MAX_NAME_CHARS} characters"
    )]
    Bounds,
    #[error("no key of this circle for epoch {0}")]
    NoKey(u32),
    #[error("the listing does not open with the circle's key")]
    DoesNotOpen,
}

/// One epoch of a circle: its key, name, owner and members (with their
/// home nodes, where the circle's letters go).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircleKey {
    pub circle: [u8; 16],
    pub epoch: u32,
    pub key: [u8; 32],
    pub name: String,
    pub owner: MemberId,
    pub members: Vec<(MemberId, NodeId)>,
}

impl CircleKey {
    /// `circle ‖ epoch u32 ‖ key ‖ name str8 ‖ owner ‖ list8<member ‖ node>`.
    pub fn encode(&self) -> Result<Vec<u8>, crate::EncodeError> {
        let mut w = Writer::default();
        w.bytes(&self.circle);
        w.u32(self.epoch);
        w.bytes(&self.key);
        w.str8(&self.name, "circle name");
        w.bytes(&self.owner.0);
        crate::listing::count(&mut w, self.members.len(), "circle members");
        for (m, n) in &self.members {
            w.bytes(&m.0);
            w.bytes(&n.0);
        }
        w.finish()
    }

    pub fn decode(b: &[u8]) -> Result<CircleKey, CircleError> {
        let mut r = Reader::new(b);
        let circle = r.array("circle")?;
        let epoch = r.u32("epoch")?;
        let key = r.array("circle key")?;
        let name = r.str8("circle name")?;
        let owner = MemberId(r.array("owner")?);
        let n = r.u8("circle members")?;
        let mut members = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            members.push((MemberId(r.array("member")?), NodeId(r.array("node")?)));
        }
        r.finish()?;
        let k = CircleKey {
            circle,
            epoch,
            key,
            name,
            owner,
            members,
        };
        let chars = k.name.chars().count();
        if k.members.is_empty()
            || k.members.len() > MAX_MEMBERS
            || chars == 0
            || chars > MAX_NAME_CHARS
        {
            return Err(CircleError::Bounds);
        }
        Ok(k)
    }

    /// The text of the letter that carries this key.
    pub fn letter_text(&self) -> Result<String, crate::EncodeError> {
        Ok(format!("{KEY_PREFIX}{}", BASE64.encode(&self.encode()?)))
    }

    /// The key a letter's text carries, if it carries one.
    pub fn from_letter(text: &str) -> Option<Result<CircleKey, CircleError>> {
        let b64 = text.strip_prefix(KEY_PREFIX)?;
        Some(
            BASE64
                .decode(b64.trim().as_bytes())
                .map_err(|_| CircleError::NotBase64)
                .and_then(|b| CircleKey::decode(&b)),
        )
    }

    /// True when `member` is in this epoch.
    pub fn has(&self, member: &MemberId) -> bool {
        self.members.iter().any(|(m, _)| m == member)
    }
}

fn aad(circle: &[u8; 16], epoch: u32) -> Vec<u8> {
    [CIRCLE_DOMAIN, circle, &epoch.to_be_bytes()].concat()
}

/// A signed listing encrypted for the circle: `circle ‖ epoch u32 ‖ nonce
/// (12) ‖ ciphertext`, the associated data being `"buurt/circle/v1" ‖
/// circle ‖ epoch`. `nonce` must be random and never reused with a key.
pub fn seal(key: &CircleKey, nonce: [u8; 12], signed_listing: &[u8]) -> Vec<u8> {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(&key.key));
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: signed_listing,
                aad: &aad(&key.circle, key.epoch),
            },
        )
        .expect("ChaCha20-Poly1305 encrypts any message of this size");
    [&key.circle[..], &key.epoch.to_be_bytes(), &nonce, &ct].concat()
}

/// The circle and epoch a sealed listing is for.
pub fn sealed_for(sealed: &[u8]) -> Option<([u8; 16], u32)> {
    let circle = sealed.get(..16)?.try_into().ok()?;
    let epoch = u32::from_be_bytes(sealed.get(16..20)?.try_into().ok()?);
    Some((circle, epoch))
}

/// Opens a sealed listing with the circle key of its epoch; the result is
/// signed listing bytes, still to be validated.
pub fn open(
    sealed: &[u8],
    key_of: impl Fn(&[u8; 16], u32) -> Option<[u8; 32]>,
) -> Result<Vec<u8>, CircleError> {
    let (circle, epoch) = sealed_for(sealed).ok_or(CircleError::DoesNotOpen)?;
    let key = key_of(&circle, epoch).ok_or(CircleError::NoKey(epoch))?;
    let nonce = sealed.get(20..32).ok_or(CircleError::DoesNotOpen)?;
    ChaCha20Poly1305::new(Key::from_slice(&key))
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: &sealed[32..],
                aad: &aad(&circle, epoch),
            },
        )
        .map_err(|_| CircleError::DoesNotOpen)
}

/// The text of the letter that carries a sealed listing.
pub fn listing_letter_text(sealed: &[u8]) -> String {
    format!("{LISTING_PREFIX}{}", BASE64.encode(sealed))
}

/// The sealed listing a letter's text carries, if it carries one.
pub fn listing_from_letter(text: &str) -> Option<Vec<u8>> {
    BASE64
        .decode(text.strip_prefix(LISTING_PREFIX)?.trim().as_bytes())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(epoch: u32, k: u8) -> CircleKey {
        CircleKey {
            circle: [5; 16],
            epoch,
            key: [k; 32],
            name: "Hulp voor mevrouw Jansen".into(),
            owner: MemberId([1; 32]),
            members: vec![
                (MemberId([1; 32]), NodeId([2; 32])),
                (MemberId([3; 32]), NodeId([4; 32])),
            ],
        }
    }

    #[test]
    fn a_key_record_round_trips_through_its_letter() {
        let k = key(1, 9);
        let text = k.letter_text().unwrap();
        assert!(text.starts_with(KEY_PREFIX));
        assert_eq!(CircleKey::from_letter(&text), Some(Ok(k.clone())));
        assert_eq!(CircleKey::from_letter("Hallo"), None);
        let mut bytes = k.encode().unwrap();
        bytes.push(0);
        assert!(CircleKey::decode(&bytes).is_err());
    }

    #[test]
    fn only_the_epochs_key_opens_a_listing() {
        let k1 = key(1, 9);
        let sealed = seal(&k1, [7; 12], b"signed listing bytes");
        let text = listing_letter_text(&sealed);
        let back = listing_from_letter(&text).unwrap();
        assert_eq!(sealed_for(&back), Some(([5; 16], 1)));
        let keys = |_: &[u8; 16], e: u32| (e == 1).then_some([9; 32]);
        assert_eq!(open(&back, keys).unwrap(), b"signed listing bytes");
        // The next epoch's key (a member removed holds only the old one).
        let wrong = |_: &[u8; 16], e: u32| (e == 1).then_some([8; 32]);
        assert_eq!(open(&back, wrong), Err(CircleError::DoesNotOpen));
        let none = |_: &[u8; 16], _: u32| None;
        assert_eq!(open(&back, none), Err(CircleError::NoKey(1)));
        let mut tampered = back.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(open(&tampered, keys), Err(CircleError::DoesNotOpen));
    }
}
