//! Replies: end-to-end encrypted mail between two members about a listing,
//! delivered store-and-forward to the recipient's home node. Specified in
//! `docs/protocol.md`, section 14.
//!
//! - [`key`]: a member's *reply key* — an X25519 key of its own, never the
//!   Ed25519 signing key — published as a record the member signs, so that
//!   no node can put its own key in its place.
//! - [`letter`]: what the sender writes (listing, recipient, text, time, the
//!   sender's certificate and reply key), signed by the sender's member key.
//!   Only the recipient ever sees it.
//! - [`envelope`]: the sealed letter as nodes carry it: HPKE (RFC 9180, base
//!   mode, X25519 + HKDF-SHA256 + ChaCha20-Poly1305) to the recipient's reply
//!   key with the listing id as associated data, padded to a size bucket,
//!   addressed to a home node and mailbox, signed by the *sending node* (so
//!   the home node applies its policy to a node, never learning the member).
//! - [`mailbox`]: a member's signed requests to fetch or delete their mail.
//!
//! Pure like the rest of the crate: the time and the random seed of every
//! seal come in as arguments.

pub mod envelope;
pub mod key;
pub mod letter;
pub mod mailbox;
mod seal;
pub mod wire;

use crate::codec::{DecodeError, EncodeError};

pub use self::envelope::Envelope;
pub use self::key::ReplyKey;
pub use self::letter::Letter;
pub use self::mailbox::MailboxRequest;

/// Longest text of one letter, in bytes.
pub const MAX_TEXT_BYTES: usize = 4_000;
/// Smallest padded plaintext: every sealed letter is 256 bytes or a power
/// of two above, so that its length tells little.
pub const MIN_BUCKET: usize = 256;
/// Largest padded plaintext.
pub const MAX_BUCKET: usize = 16 * 1024;
/// Longest a reply key may be valid; members rotate at least this often.
pub const MAX_KEY_SECS: i64 = 120 * 86_400;
/// How far a signed time may lie ahead of the receiver's clock.
pub const MAX_SKEW_SECS: i64 = 600;

/// Why mail bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("malformed: {0}")]
    Malformed(#[from] DecodeError),
    #[error("cannot be encoded: {0}")]
    Encode(#[from] EncodeError),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the member's certificate does not verify")]
    BadCertificate,
    #[error("signed by another member than it names")]
    WrongSigner,
    #[error("the reply key is not valid at this time")]
    KeyExpired,
    #[error("the reply key is valid for longer than 120 days")]
    KeyTooLong,
    #[error("the text is over {MAX_TEXT_BYTES} bytes")]
    TextTooLong,
    #[error("the sealed letter is not one of the padded sizes")]
    BadSize,
    #[error("it does not open with this key (tampered, or for someone else or another listing)")]
    DoesNotOpen,
    #[error("the letter inside is not addressed to this mailbox or listing")]
    Misaddressed,
    #[error("signed too far in the future")]
    FromTheFuture,
}

/// Checks an Ed25519 signature strictly, as listings are checked.
pub(crate) fn verify_member(
    member: &crate::id::MemberId,
    input: &[u8],
    sig: &[u8; 64],
) -> Result<(), MailError> {
    let key = member
        .verifying_key()
        .map_err(|_| MailError::BadSignature)?;
    if key.is_weak() {
        return Err(MailError::BadSignature);
    }
    key.verify_strict(input, &ed25519_dalek::Signature::from_bytes(sig))
        .map_err(|_| MailError::BadSignature)
}

/// `body` followed by `key`'s signature of the domain prefix and `body`.
pub(crate) fn signed(domain: &[u8], body: Vec<u8>, key: &ed25519_dalek::SigningKey) -> Vec<u8> {
    use ed25519_dalek::Signer;
    let sig = key.sign(&signing_input(domain, &body));
    let mut out = body;
    out.extend_from_slice(&sig.to_bytes());
    out
}

/// The domain prefix and then `body`: what is signed.
pub(crate) fn signing_input(domain: &[u8], body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(domain.len() + body.len());
    v.extend_from_slice(domain);
    v.extend_from_slice(body);
    v
}
