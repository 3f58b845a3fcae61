//! Identifiers: member and node ids (ed25519 public keys), listing addresses
//! and content ids, with their text forms.
//!
//! A member or node id is written as a two-letter prefix (`bm` member, `bn`
//! node) followed by lowercase RFC 4648 base32 (no padding) of the 32-byte
//! public key and a 4-byte checksum, 60 characters in all. The checksum is the
//! first 4 bytes of `SHA-256("buurt/id/v1" || kind || key)` with kind `m` or
//! `n`, so a mistyped character, or a node id pasted where a member id is
//! expected, is rejected instead of naming someone else.

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Why an id in text form was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("expected a {expected} id starting with `{prefix}`")]
    WrongPrefix {
        expected: &'static str,
        prefix: &'static str,
    },
    #[error("a {0} id is 60 characters long")]
    WrongLength(&'static str),
    #[error("{0} id contains characters outside a-z and 2-7")]
    BadCharacters(&'static str),
    #[error("{0} id checksum does not match: check for a typing error")]
    BadChecksum(&'static str),
    #[error("{0} id is not a valid ed25519 public key")]
    NotAKey(&'static str),
    #[error("expected {0} hexadecimal characters")]
    BadHex(usize),
}

const ID_TEXT_LEN: usize = 60;

fn checksum(kind: u8, key: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(b"buurt/id/v1");
    h.update([kind]);
    h.update(key);
    let out = h.finalize();
    [out[0], out[1], out[2], out[3]]
}

/// Base32 characters after the two-letter prefix: 36 bytes, 288 bits.
const ID_BASE32_LEN: usize = ID_TEXT_LEN - 2;

/// The text form of an id, written into `out` without allocating (ids are
/// written once per listing in every page the API serves).
fn encode_key<'a>(
    prefix: &str,
    kind: u8,
    key: &[u8; 32],
    out: &'a mut [u8; ID_TEXT_LEN],
) -> &'a str {
    let mut raw = [0u8; 36];
    raw[..32].copy_from_slice(key);
    raw[32..].copy_from_slice(&checksum(kind, key));
    out[..2].copy_from_slice(prefix.as_bytes());
    debug_assert_eq!(BASE32_NOPAD.encode_len(raw.len()), ID_BASE32_LEN);
    BASE32_NOPAD.encode_mut(&raw, &mut out[2..]);
    out[2..].make_ascii_lowercase();
    std::str::from_utf8(out).expect("base32 is ASCII")
}

fn decode_key(
    text: &str,
    what: &'static str,
    prefix: &'static str,
    kind: u8,
) -> Result<[u8; 32], IdError> {
    let text = text.trim();
    let Some(rest) = text.strip_prefix(prefix) else {
        return Err(IdError::WrongPrefix {
            expected: what,
            prefix,
        });
    };
    if text.len() != ID_TEXT_LEN {
        return Err(IdError::WrongLength(what));
    }
    if !rest
        .bytes()
        .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    {
        return Err(IdError::BadCharacters(what));
    }
    let raw = BASE32_NOPAD
        .decode(rest.to_ascii_uppercase().as_bytes())
        .map_err(|_| IdError::BadCharacters(what))?;
    // 58 base32 characters carry 290 bits; the last 2 must be zero so that one
    // id has exactly one spelling.
    if raw.len() != 36 || BASE32_NOPAD.encode(&raw).to_ascii_lowercase() != rest {
        return Err(IdError::BadChecksum(what));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&raw[..32]);
    if raw[32..] != checksum(kind, &key) {
        return Err(IdError::BadChecksum(what));
    }
    Ok(key)
}

macro_rules! key_id {
    ($name:ident, $what:literal, $prefix:literal, $kind:literal) => {
        #[doc = concat!("A ", $what, "'s ed25519 public key; text form `", $prefix, "…`.")]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The text prefix of this kind of id.
            pub const PREFIX: &'static str = $prefix;

            /// The raw 32 public-key bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// The key as an ed25519 verifying key, if it is a valid point.
            pub fn verifying_key(&self) -> Result<VerifyingKey, IdError> {
                VerifyingKey::from_bytes(&self.0).map_err(|_| IdError::NotAKey($what))
            }
        }

        impl From<VerifyingKey> for $name {
            fn from(k: VerifyingKey) -> Self {
                $name(k.to_bytes())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(encode_key($prefix, $kind, &self.0, &mut [0; ID_TEXT_LEN]))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                decode_key(s, $what, $prefix, $kind).map($name)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

key_id!(MemberId, "member", "bm", b'm');
key_id!(NodeId, "node", "bn", b'n');

macro_rules! hex_id {
    ($name:ident, $len:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Lowercase hexadecimal.
            pub fn to_hex(&self) -> String {
                self.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut out = [0u8; $len * 2];
                hex::encode_to_slice(self.0, &mut out).expect("twice the length");
                f.write_str(std::str::from_utf8(&out).expect("hex is ASCII"))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                let mut out = [0u8; $len];
                hex::decode_to_slice(s.trim(), &mut out).map_err(|_| IdError::BadHex($len * 2))?;
                Ok($name(out))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_id!(
    ContentId,
    32,
    "SHA-256 of a listing's full signed bytes: names one revision."
);
hex_id!(
    ListingKey,
    16,
    "The random 128-bit key that, with the author, addresses a listing."
);
hex_id!(
    ListingId,
    16,
    "Short, stable name of a listing address: the first 16 bytes of \
     `SHA-256(\"buurt/address/v1\" || author || key)`, shown as 32 hex characters."
);

impl ContentId {
    /// The content id of a signed encoding.
    pub fn of(signed_bytes: &[u8]) -> ContentId {
        ContentId(Sha256::digest(signed_bytes).into())
    }
}

impl ListingId {
    /// The id of the address (author, key).
    pub fn of(author: &MemberId, key: &ListingKey) -> ListingId {
        let mut h = Sha256::new();
        h.update(b"buurt/address/v1");
        h.update(author.0);
        h.update(key.0);
        let out = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&out[..16]);
        ListingId(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MemberId {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        MemberId::from(sk.verifying_key())
    }

    #[test]
    fn member_id_round_trips_through_text() {
        let id = sample();
        let text = id.to_string();
        assert_eq!(text.len(), 60);
        assert!(text.starts_with("bm"));
        assert_eq!(text.parse::<MemberId>().unwrap(), id);
    }

    #[test]
    fn every_single_character_typo_is_rejected() {
        let text = sample().to_string();
        let alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        for pos in 2..text.len() {
            for c in alphabet.chars() {
                let mut t: Vec<char> = text.chars().collect();
                if t[pos] == c {
                    continue;
                }
                t[pos] = c;
                let typo: String = t.into_iter().collect();
                assert!(typo.parse::<MemberId>().is_err(), "typo accepted: {typo}");
            }
        }
    }

    #[test]
    fn node_id_is_not_a_member_id() {
        let node = NodeId(sample().0).to_string();
        assert!(node.starts_with("bn"));
        assert!(matches!(
            node.parse::<MemberId>(),
            Err(IdError::WrongPrefix { .. })
        ));
        let swapped = format!("bm{}", &node[2..]);
        assert_eq!(
            swapped.parse::<MemberId>(),
            Err(IdError::BadChecksum("member"))
        );
    }

    #[test]
    fn short_and_odd_input_is_rejected() {
        assert!("bm".parse::<MemberId>().is_err());
        assert!("bmAAAA".parse::<MemberId>().is_err());
        assert!("".parse::<NodeId>().is_err());
        assert!("zz".parse::<ContentId>().is_err());
    }
}
