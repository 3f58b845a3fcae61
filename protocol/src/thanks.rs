//! Thanks: a member's public, signed word about a neighbour, which only a
//! completed exchange can earn. Defined in `docs/protocol.md` section 16.
//!
//! ```text
//! body   = version (1) | kind (1: 0 pledge, 1 thanks)
//!        | thanker's certificate | thanked member's certificate
//!        | completion (agreement 32 | proposer 32 | other 32 | day i64 | group str8)
//!        | proposer's completion signature (64) | other's completion signature (64)
//!        | at (i64)
//!        | kind 1: minutes (u64) | text (str16, at most 500 bytes)
//!        | kind 0: SHA-256 of the signed thanks it pledges (32)
//! signed = body | ed25519 signature of "buurt/thanks/v1" | body, by the thanker
//! ```
//!
//! The completion signed by both members is the proof: a thanks between
//! two members who did not both sign that this agreement was completed
//! cannot be made. A *pledge* says that a thanks exists without its text;
//! the thanker's home node publishes the pledge at once and the thanks
//! when the other member has pledged or thanked too, or 7 days after it
//! was made (double blind: neither reads the other's thanks first).

use ed25519_dalek::{Signature, Signer, SigningKey};
use sha2::{Digest, Sha256};

use crate::agreement::{AgreementId, Completion};
use crate::certificate::Certificate;
use crate::codec::{DecodeError, Reader, Writer};
use crate::id::MemberId;

/// Domain-separation prefix of a thanks' signature.
pub const THANKS_DOMAIN: &[u8] = b"buurt/thanks/v1";
/// Format version byte of thanks.
pub const THANKS_VERSION: u8 = 1;
/// Longest text, in bytes.
pub const MAX_THANKS_BYTES: usize = 500;
/// Longest signed thanks or pledge.
pub const MAX_THANKS_LEN: usize = 2_048;
/// How long a thanks is held back when the other member does not thank.
pub const REVEAL_AFTER_SECS: i64 = 7 * 86_400;

/// What a statement carries: the thanks itself, or a pledge of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Thanks {
        minutes: u64,
        text: String,
    },
    /// The SHA-256 of the signed thanks pledged.
    Pledge {
        digest: [u8; 32],
    },
}

/// A thanks or a pledge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thanks {
    pub thanker: Certificate,
    pub thanked: Certificate,
    pub completion: Completion,
    pub proposer_sig: [u8; 64],
    pub other_sig: [u8; 64],
    pub at: i64,
    pub said: Said,
}

/// A verified statement with its signed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedThanks {
    pub thanks: Thanks,
    pub bytes: Vec<u8>,
}

/// Why thanks bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThanksError {
    #[error("malformed thanks: {0}")]
    Malformed(#[from] DecodeError),
    #[error("the text is over {MAX_THANKS_BYTES} bytes")]
    TextTooLong,
    #[error("over {} minutes of help", crate::agreement::MAX_MINUTES)]
    TooManyMinutes,
    #[error("a member's certificate does not verify")]
    BadCertificate,
    #[error("the thanker and the thanked are not the two members of the agreement")]
    NotTheParties,
    #[error("the completion is not signed by both members")]
    NoProof,
    #[error("the thanker's certificate was not valid when the thanks was made")]
    OutsideCertificate,
    #[error("the signature does not verify with the thanker's key")]
    BadSignature,
}

impl Thanks {
    /// The thanking member.
    pub fn from(&self) -> MemberId {
        self.thanker.member
    }

    /// The thanked member.
    pub fn to(&self) -> MemberId {
        self.thanked.member
    }

    /// The agreement thanked for.
    pub fn agreement(&self) -> AgreementId {
        self.completion.agreement
    }

    /// Whether this is a pledge rather than the thanks.
    pub fn is_pledge(&self) -> bool {
        matches!(self.said, Said::Pledge { .. })
    }

    fn body(&self) -> Result<Vec<u8>, ThanksError> {
        let mut w = Writer::default();
        w.u8(THANKS_VERSION);
        w.u8(match self.said {
            Said::Pledge { .. } => 0,
            Said::Thanks { .. } => 1,
        });
        self.thanker.encode(&mut w);
        self.thanked.encode(&mut w);
        self.completion.encode(&mut w);
        w.bytes(&self.proposer_sig);
        w.bytes(&self.other_sig);
        w.i64(self.at);
        match &self.said {
            Said::Thanks { minutes, text } => {
                if text.len() > MAX_THANKS_BYTES {
                    return Err(ThanksError::TextTooLong);
                }
                if *minutes > crate::agreement::MAX_MINUTES {
                    return Err(ThanksError::TooManyMinutes);
                }
                w.u64(*minutes);
                w.str16(text, "text");
            }
            Said::Pledge { digest } => w.bytes(digest),
        }
        w.finish().map_err(|_| ThanksError::TextTooLong)
    }

    /// Signs with the thanker's member key.
    pub fn sign(self, key: &SigningKey) -> Result<SignedThanks, ThanksError> {
        if MemberId::from(key.verifying_key()) != self.thanker.member {
            return Err(ThanksError::BadSignature);
        }
        // What is signed must pass the checks every node makes.
        SignedThanks::verify(&self.sign_unchecked(key)?)
    }

    /// The signed form without any of the checks a node makes: what a
    /// hostile member could send. For tests of those checks.
    pub fn sign_unchecked(&self, key: &SigningKey) -> Result<Vec<u8>, ThanksError> {
        let body = self.body()?;
        let mut input = THANKS_DOMAIN.to_vec();
        input.extend_from_slice(&body);
        let sig = key.sign(&input).to_bytes();
        let mut bytes = body;
        bytes.extend_from_slice(&sig);
        Ok(bytes)
    }
}

impl SignedThanks {
    /// The SHA-256 of the signed bytes (what a pledge names).
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(&self.bytes).into()
    }

    /// The pledge of this thanks, signed by the same thanker.
    pub fn pledge(&self, key: &SigningKey) -> Result<SignedThanks, ThanksError> {
        Thanks {
            said: Said::Pledge {
                digest: self.digest(),
            },
            ..self.thanks.clone()
        }
        .sign(key)
    }

    /// Decodes the signed form and checks everything a node checks: both
    /// certificates, the two members against the completion, both
    /// completion signatures, the thanker's certificate at `at`, and the
    /// thanker's signature.
    pub fn verify(bytes: &[u8]) -> Result<SignedThanks, ThanksError> {
        let (s, body_len, sig) = SignedThanks::parse(bytes)?;
        s.check(body_len, &sig)?;
        Ok(s)
    }

    /// Decodes a statement this process verified before (kept in its own
    /// database) without checking its signatures again.
    pub fn decode_trusted(bytes: &[u8]) -> Result<SignedThanks, ThanksError> {
        SignedThanks::parse(bytes).map(|(s, _, _)| s)
    }

    fn parse(bytes: &[u8]) -> Result<(SignedThanks, usize, [u8; 64]), ThanksError> {
        if bytes.len() > MAX_THANKS_LEN {
            return Err(ThanksError::TextTooLong);
        }
        let mut r = Reader::new(bytes);
        let version = r.u8("version")?;
        if version != THANKS_VERSION {
            return Err(DecodeError::UnknownVersion(version).into());
        }
        let kind = r.u8("kind")?;
        if kind > 1 {
            return Err(DecodeError::BadEnum {
                field: "kind",
                value: kind,
            }
            .into());
        }
        let thanker = Certificate::decode(&mut r)?;
        let thanked = Certificate::decode(&mut r)?;
        let completion = Completion::decode(&mut r)?;
        let proposer_sig = r.array("proposer signature")?;
        let other_sig = r.array("other signature")?;
        let at = r.i64("at")?;
        let said = if kind == 1 {
            let minutes = r.u64("minutes")?;
            let text = r.str16("text")?;
            if text.len() > MAX_THANKS_BYTES {
                return Err(ThanksError::TextTooLong);
            }
            if minutes > crate::agreement::MAX_MINUTES {
                return Err(ThanksError::TooManyMinutes);
            }
            Said::Thanks { minutes, text }
        } else {
            Said::Pledge {
                digest: r.array("digest")?,
            }
        };
        let body_len = r.position();
        let sig: [u8; 64] = r.array("signature")?;
        r.finish()?;
        let t = Thanks {
            thanker,
            thanked,
            completion,
            proposer_sig,
            other_sig,
            at,
            said,
        };
        Ok((
            SignedThanks {
                thanks: t,
                bytes: bytes.to_vec(),
            },
            body_len,
            sig,
        ))
    }

    fn check(&self, body_len: usize, sig: &[u8; 64]) -> Result<(), ThanksError> {
        let (t, bytes, at) = (&self.thanks, &self.bytes, self.thanks.at);
        let c = &t.completion;
        let pair = (t.thanker.member, t.thanked.member);
        if pair != (c.proposer, c.other) && pair != (c.other, c.proposer) {
            return Err(ThanksError::NotTheParties);
        }
        t.thanker
            .verify_signature()
            .map_err(|_| ThanksError::BadCertificate)?;
        t.thanked
            .verify_signature()
            .map_err(|_| ThanksError::BadCertificate)?;
        if at < t.thanker.not_before || at > t.thanker.not_after {
            return Err(ThanksError::OutsideCertificate);
        }
        c.check(&c.proposer, &t.proposer_sig)
            .map_err(|_| ThanksError::NoProof)?;
        c.check(&c.other, &t.other_sig)
            .map_err(|_| ThanksError::NoProof)?;
        let key = t
            .thanker
            .member
            .verifying_key()
            .map_err(|_| ThanksError::BadSignature)?;
        let mut input = THANKS_DOMAIN.to_vec();
        input.extend_from_slice(&bytes[..body_len]);
        key.verify_strict(&input, &Signature::from_bytes(sig))
            .map_err(|_| ThanksError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agreement::AgreementId;
    use crate::keys;
    use crate::scope::Scope;

    fn cert(node: &SigningKey, member: &SigningKey) -> Certificate {
        Certificate::issue(
            node,
            keys::member_id(member),
            Scope::parse("nl/amsterdam/oost", 64).unwrap(),
            1_700_000_000,
            1_900_000_000,
        )
    }

    #[test]
    fn a_thanks_needs_both_signatures_of_the_completion() {
        let n = keys::from_seed([10; 32]);
        let (p, o, x) = (
            keys::from_seed([1; 32]),
            keys::from_seed([2; 32]),
            keys::from_seed([3; 32]),
        );
        let c = Completion {
            agreement: AgreementId([4; 32]),
            proposer: keys::member_id(&p),
            other: keys::member_id(&o),
            day: 20_833,
            group: "goods".into(),
        };
        let good = Thanks {
            thanker: cert(&n, &o),
            thanked: cert(&n, &p),
            completion: c.clone(),
            proposer_sig: c.sign(&p),
            other_sig: c.sign(&o),
            at: 1_800_000_000,
            said: Said::Thanks {
                minutes: 120,
                text: "Dank voor de boormachine!".into(),
            },
        };
        let signed = good.clone().sign(&o).unwrap();
        assert_eq!(SignedThanks::verify(&signed.bytes).unwrap(), signed);
        let pledge = signed.pledge(&o).unwrap();
        assert!(pledge.thanks.is_pledge());
        for i in 0..signed.bytes.len() {
            let mut bad = signed.bytes.clone();
            bad[i] ^= 1;
            assert!(SignedThanks::verify(&bad).is_err(), "byte {i}");
        }
        // One side's signature alone is no proof.
        let one_sided = Thanks {
            other_sig: c.sign(&p),
            ..good.clone()
        };
        assert_eq!(one_sided.sign(&o), Err(ThanksError::NoProof));
        // A proof of another pair does not make a stranger a party.
        let stranger = Thanks {
            thanker: cert(&n, &x),
            ..good.clone()
        };
        assert_eq!(stranger.sign(&x), Err(ThanksError::NotTheParties));
        // Signed by someone other than the thanker.
        assert_eq!(good.clone().sign(&p), Err(ThanksError::BadSignature));
    }
}
