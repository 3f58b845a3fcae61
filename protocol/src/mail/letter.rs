//! What a member writes: the sealed plaintext of a reply.
//!
//! ```text
//! body   = version (1) | listing id (16) | to member (32) | created_at (i64)
//!        | text (u16 length, UTF-8, at most 4,000 bytes) | sender's certificate
//!        | sender's signed reply key (u16 length, bytes)
//! signed = body | ed25519 signature of "buurt/letter/v1" | body, by the sender
//! ```
//!
//! The sender is the member of the certificate; the reply key inside is
//! where the answer goes. Nothing of this is visible outside the envelope.

use ed25519_dalek::SigningKey;

use super::{signing_input, verify_member, MailError, ReplyKey, MAX_SKEW_SECS, MAX_TEXT_BYTES};
use crate::certificate::Certificate;
use crate::codec::{DecodeError, Reader, Writer};
use crate::id::{ListingId, MemberId};

/// Domain-separation prefix of a letter's signature.
pub const LETTER_DOMAIN: &[u8] = b"buurt/letter/v1";
/// Format version byte of letters.
pub const LETTER_VERSION: u8 = 1;

/// One message of a conversation about a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    /// The listing the conversation is about.
    pub listing: ListingId,
    /// The recipient.
    pub to: MemberId,
    pub created_at: i64,
    pub text: String,
    /// The sender's certificate; the sender is its member.
    pub certificate: Certificate,
    /// The sender's signed reply key record: where an answer goes.
    pub reply_key: Vec<u8>,
}

impl Letter {
    /// The sender.
    pub fn from(&self) -> MemberId {
        self.certificate.member
    }

    fn body(&self) -> Result<Vec<u8>, MailError> {
        if self.text.len() > MAX_TEXT_BYTES {
            return Err(MailError::TextTooLong);
        }
        let mut w = Writer::default();
        w.u8(LETTER_VERSION);
        w.bytes(&self.listing.0);
        w.bytes(self.to.as_bytes());
        w.i64(self.created_at);
        w.str16(&self.text, "text");
        self.certificate.encode(&mut w);
        let len = u16::try_from(self.reply_key.len())
            .map_err(|_| crate::codec::EncodeError("reply key"))?;
        w.bytes(&len.to_be_bytes());
        w.bytes(&self.reply_key);
        Ok(w.finish()?)
    }

    /// Signs the letter with the sender's member key: body || signature.
    pub fn sign(&self, sender_key: &SigningKey) -> Result<Vec<u8>, MailError> {
        Ok(super::signed(LETTER_DOMAIN, self.body()?, sender_key))
    }

    /// Decodes and checks a signed letter at `now`: the sender's signature,
    /// their certificate, their reply key record (theirs, valid), the text's
    /// length, and a creation time not ahead of `now` by more than the skew.
    pub fn verify(bytes: &[u8], now: i64) -> Result<Letter, MailError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("version")?;
        if version != LETTER_VERSION {
            return Err(DecodeError::UnknownVersion(version).into());
        }
        let listing = ListingId(r.array("listing")?);
        let to = MemberId(r.array("to")?);
        let created_at = r.i64("created_at")?;
        let text = r.str16("text")?;
        let certificate = Certificate::decode(&mut r)?;
        let len = r.u16("reply key")? as usize;
        let reply_key = r.take(len, "reply key")?.to_vec();
        let body_len = r.position();
        let sig: [u8; 64] = r.array("signature")?;
        r.finish()?;
        let letter = Letter {
            listing,
            to,
            created_at,
            text,
            certificate,
            reply_key,
        };
        if letter.text.len() > MAX_TEXT_BYTES {
            return Err(MailError::TextTooLong);
        }
        verify_member(
            &letter.from(),
            &signing_input(LETTER_DOMAIN, &bytes[..body_len]),
            &sig,
        )?;
        letter
            .certificate
            .verify_signature()
            .map_err(|_| MailError::BadCertificate)?;
        if letter.created_at > now + MAX_SKEW_SECS {
            return Err(MailError::FromTheFuture);
        }
        // The reply key must be the sender's and valid when the letter was
        // written (an answer may come later, with a newer key).
        let key = ReplyKey::verify(&letter.reply_key, letter.created_at)?;
        if key.member != letter.from() {
            return Err(MailError::WrongSigner);
        }
        Ok(letter)
    }
}
