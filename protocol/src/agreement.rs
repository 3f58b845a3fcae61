//! Agreements: the signed events of one exchange between the two members of
//! a conversation, and the completion both of them sign. Defined in
//! `docs/protocol.md` section 16.
//!
//! ```text
//! event  = version (1) | agreement (32) | prev (32) | member (32) | at (i64)
//!        | action (1) | payload
//! signed = event | ed25519 signature of "buurt/agreement/v1" | event, by member
//! id     = SHA-256(signed)
//! ```
//!
//! A `propose` has an all-zero agreement and prev; its id is the agreement's
//! id. Every later event names the agreement and, as `prev`, an event of it
//! that its signer had seen, so that no event can be moved to another
//! agreement or before what it answers. Events travel inside the
//! conversation's sealed letters; no node sees them.
//!
//! The completing events (`returned`, `done`) carry their signer's
//! signature over the [`Completion`]: the agreement, the two members, the
//! day of the proposal and the topic group. A completion signed by both is
//! what a thanks must show (see [`crate::thanks`]); it reveals nothing else
//! of the exchange.

use ed25519_dalek::{Signature, Signer, SigningKey};
use sha2::{Digest, Sha256};

use crate::codec::{DecodeError, Reader, Writer};
use crate::id::{ListingId, MemberId};
use crate::listing::{Exchange, Money};

mod state;

pub use self::state::{Agreement, Stage};

/// Domain-separation prefix of an event's signature.
pub const AGREEMENT_DOMAIN: &[u8] = b"buurt/agreement/v1";
/// Domain-separation prefix of a completion's signatures.
pub const COMPLETION_DOMAIN: &[u8] = b"buurt/completion/v1";
/// Format version byte of agreement events.
pub const AGREEMENT_VERSION: u8 = 1;
/// Longest note of a proposal or a problem, in bytes.
pub const MAX_NOTE_BYTES: usize = 1_000;
/// Longest topic group, in bytes.
pub const MAX_GROUP_BYTES: usize = 32;
/// Most hours one `done` may record (in minutes): 24 hours a day for 90 days.
pub const MAX_MINUTES: u64 = 90 * 24 * 60;

/// An agreement's id: the SHA-256 of its signed `propose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgreementId(pub [u8; 32]);

impl AgreementId {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    pub fn from_hex(s: &str) -> Option<AgreementId> {
        let b = hex::decode(s).ok()?;
        Some(AgreementId(b.try_into().ok()?))
    }
}

/// The terms proposed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub listing: ListingId,
    /// The other member (the one who may accept).
    pub with: MemberId,
    /// How the thing or help changes hands.
    pub exchange: Exchange,
    /// The listing's topic group (the first part of its first topic).
    pub group: String,
    /// Random, so that an agreement's id cannot be guessed from its terms.
    pub nonce: [u8; 16],
    /// From and until, Unix seconds; 0 for none.
    pub from: i64,
    pub until: i64,
    pub price: Option<Money>,
    pub deposit: Option<Money>,
    /// Hours of help foreseen, in minutes; 0 for none.
    pub minutes: u64,
    pub note: String,
}

/// What an event does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Propose(Proposal),
    Accept,
    Decline,
    Cancel,
    /// The thing changed hands (lend, rent, give, sell, meal, swap).
    HandedOver,
    /// The help began.
    Started,
    /// A lent or rented thing came back; with the signer's completion
    /// signature.
    Returned {
        completion: [u8; 64],
    },
    /// Given, sold, eaten or helped; with the hours of help (minutes, 0 for
    /// none) and the signer's completion signature.
    Done {
        minutes: u64,
        completion: [u8; 64],
    },
    /// Something is wrong; the agreement stays open.
    Problem {
        note: String,
    },
}

impl Action {
    fn code(&self) -> u8 {
        match self {
            Action::Propose(_) => 1,
            Action::Accept => 2,
            Action::Decline => 3,
            Action::Cancel => 4,
            Action::HandedOver => 5,
            Action::Started => 6,
            Action::Returned { .. } => 7,
            Action::Done { .. } => 8,
            Action::Problem { .. } => 9,
        }
    }

    /// Lowercase name, as on the command line and in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Propose(_) => "propose",
            Action::Accept => "accept",
            Action::Decline => "decline",
            Action::Cancel => "cancel",
            Action::HandedOver => "handed_over",
            Action::Started => "started",
            Action::Returned { .. } => "returned",
            Action::Done { .. } => "done",
            Action::Problem { .. } => "problem",
        }
    }
}

/// One signed event of an agreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// All zero in a `propose`.
    pub agreement: AgreementId,
    /// An earlier event of the agreement; all zero in a `propose`.
    pub prev: [u8; 32],
    /// The signer.
    pub member: MemberId,
    pub at: i64,
    pub action: Action,
}

/// A verified event with its id and signed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEvent {
    pub event: Event,
    pub id: [u8; 32],
    pub bytes: Vec<u8>,
}

/// Why event bytes, a completion or a chain were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgreementError {
    #[error("malformed agreement event: {0}")]
    Malformed(#[from] DecodeError),
    #[error("the event's signature does not verify with its member's key")]
    BadSignature,
    #[error("a note is over {MAX_NOTE_BYTES} bytes")]
    NoteTooLong,
    #[error("the topic group is empty or over {MAX_GROUP_BYTES} bytes")]
    BadGroup,
    #[error("over {MAX_MINUTES} minutes of help")]
    TooManyMinutes,
    #[error("a propose has no agreement or prev; every other event has both")]
    BadLink,
    #[error("a member cannot propose to themselves")]
    WithItself,
    #[error("the event belongs to another agreement")]
    OtherAgreement,
    #[error("the event's prev is not an event of this agreement")]
    UnknownPrev,
    #[error("only the two members of an agreement sign its events")]
    NotAParty,
    #[error("`{action}` is not possible now: the agreement is {state}")]
    NotNow {
        action: &'static str,
        state: &'static str,
    },
    #[error("the completion signature does not verify")]
    BadCompletion,
}

impl Event {
    fn body(&self) -> Result<Vec<u8>, AgreementError> {
        let mut w = Writer::default();
        w.u8(AGREEMENT_VERSION);
        w.bytes(&self.agreement.0);
        w.bytes(&self.prev);
        w.bytes(self.member.as_bytes());
        w.i64(self.at);
        w.u8(self.action.code());
        match &self.action {
            Action::Propose(p) => {
                check_proposal(p, &self.member)?;
                w.bytes(&p.listing.0);
                w.bytes(p.with.as_bytes());
                w.u8(p.exchange.code());
                w.str8(&p.group, "group");
                w.bytes(&p.nonce);
                w.i64(p.from);
                w.i64(p.until);
                money(&mut w, &p.price);
                money(&mut w, &p.deposit);
                w.u64(p.minutes);
                w.str16(&p.note, "note");
            }
            Action::Returned { completion } => w.bytes(completion),
            Action::Done {
                minutes,
                completion,
            } => {
                if *minutes > MAX_MINUTES {
                    return Err(AgreementError::TooManyMinutes);
                }
                w.u64(*minutes);
                w.bytes(completion);
            }
            Action::Problem { note } => {
                if note.len() > MAX_NOTE_BYTES {
                    return Err(AgreementError::NoteTooLong);
                }
                w.str16(note, "note");
            }
            _ => {}
        }
        w.finish().map_err(|_| AgreementError::NoteTooLong)
    }

    /// Signs with the member's key (which sets `member`).
    pub fn sign(mut self, key: &SigningKey) -> Result<SignedEvent, AgreementError> {
        self.member = MemberId::from(key.verifying_key());
        check_link(&self)?;
        let body = self.body()?;
        let mut input = AGREEMENT_DOMAIN.to_vec();
        input.extend_from_slice(&body);
        let sig = key.sign(&input).to_bytes();
        let mut bytes = body;
        bytes.extend_from_slice(&sig);
        Ok(SignedEvent {
            id: Sha256::digest(&bytes).into(),
            event: self,
            bytes,
        })
    }
}

fn check_proposal(p: &Proposal, member: &MemberId) -> Result<(), AgreementError> {
    if p.note.len() > MAX_NOTE_BYTES {
        return Err(AgreementError::NoteTooLong);
    }
    if p.group.is_empty() || p.group.len() > MAX_GROUP_BYTES {
        return Err(AgreementError::BadGroup);
    }
    if p.minutes > MAX_MINUTES {
        return Err(AgreementError::TooManyMinutes);
    }
    if p.with == *member {
        return Err(AgreementError::WithItself);
    }
    Ok(())
}

fn check_link(e: &Event) -> Result<(), AgreementError> {
    let zero = e.agreement.0 == [0; 32] && e.prev == [0; 32];
    let none = e.agreement.0 != [0; 32] && e.prev != [0; 32];
    match (&e.action, zero, none) {
        (Action::Propose(_), true, _) => Ok(()),
        (Action::Propose(_), false, _) => Err(AgreementError::BadLink),
        (_, _, true) => Ok(()),
        _ => Err(AgreementError::BadLink),
    }
}

fn money(w: &mut Writer, m: &Option<Money>) {
    match m {
        None => w.u8(0),
        Some(m) => {
            w.u8(1);
            w.u64(m.cents);
            w.str8(&m.currency, "currency");
        }
    }
}

fn read_money(r: &mut Reader<'_>) -> Result<Option<Money>, DecodeError> {
    if !r.option("money")? {
        return Ok(None);
    }
    Ok(Some(Money {
        cents: r.u64("amount")?,
        currency: r.str8("currency")?,
    }))
}

impl SignedEvent {
    /// Decodes the signed form and checks the member's signature (strict).
    pub fn verify(bytes: &[u8]) -> Result<SignedEvent, AgreementError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("version")?;
        if version != AGREEMENT_VERSION {
            return Err(DecodeError::UnknownVersion(version).into());
        }
        let agreement = AgreementId(r.array("agreement")?);
        let prev = r.array("prev")?;
        let member = MemberId(r.array("member")?);
        let at = r.i64("at")?;
        let action = match r.u8("action")? {
            1 => {
                let listing = ListingId(r.array("listing")?);
                let with = MemberId(r.array("with")?);
                let code = r.u8("exchange")?;
                let exchange = Exchange::from_code(code).ok_or(DecodeError::BadEnum {
                    field: "exchange",
                    value: code,
                })?;
                Action::Propose(Proposal {
                    listing,
                    with,
                    exchange,
                    group: r.str8("group")?,
                    nonce: r.array("nonce")?,
                    from: r.i64("from")?,
                    until: r.i64("until")?,
                    price: read_money(&mut r)?,
                    deposit: read_money(&mut r)?,
                    minutes: r.u64("minutes")?,
                    note: r.str16("note")?,
                })
            }
            2 => Action::Accept,
            3 => Action::Decline,
            4 => Action::Cancel,
            5 => Action::HandedOver,
            6 => Action::Started,
            7 => Action::Returned {
                completion: r.array("completion")?,
            },
            8 => Action::Done {
                minutes: r.u64("minutes")?,
                completion: r.array("completion")?,
            },
            9 => Action::Problem {
                note: r.str16("note")?,
            },
            value => {
                return Err(DecodeError::BadEnum {
                    field: "action",
                    value,
                }
                .into())
            }
        };
        let body_len = r.position();
        let sig: [u8; 64] = r.array("signature")?;
        r.finish()?;
        let event = Event {
            agreement,
            prev,
            member,
            at,
            action,
        };
        check_link(&event)?;
        match &event.action {
            Action::Propose(p) => check_proposal(p, &member)?,
            Action::Done { minutes, .. } if *minutes > MAX_MINUTES => {
                return Err(AgreementError::TooManyMinutes)
            }
            Action::Problem { note } if note.len() > MAX_NOTE_BYTES => {
                return Err(AgreementError::NoteTooLong)
            }
            _ => {}
        }
        let key = member
            .verifying_key()
            .map_err(|_| AgreementError::BadSignature)?;
        if key.is_weak() {
            return Err(AgreementError::BadSignature);
        }
        let mut input = AGREEMENT_DOMAIN.to_vec();
        input.extend_from_slice(&bytes[..body_len]);
        key.verify_strict(&input, &Signature::from_bytes(&sig))
            .map_err(|_| AgreementError::BadSignature)?;
        Ok(SignedEvent {
            id: Sha256::digest(bytes).into(),
            event,
            bytes: bytes.to_vec(),
        })
    }
}

/// What both members sign when the exchange is complete: the agreement, the
/// proposer, the other member, the day of the proposal (Unix days) and the
/// topic group. A thanks carries it with both signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub agreement: AgreementId,
    pub proposer: MemberId,
    pub other: MemberId,
    pub day: i64,
    pub group: String,
}

impl Completion {
    /// Exactly the bytes each member signs.
    pub fn signing_input(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(COMPLETION_DOMAIN);
        w.bytes(&self.agreement.0);
        w.bytes(self.proposer.as_bytes());
        w.bytes(self.other.as_bytes());
        w.i64(self.day);
        w.str8(&self.group, "group");
        w.finish().unwrap_or_default()
    }

    /// The member's signature over the completion.
    pub fn sign(&self, key: &SigningKey) -> [u8; 64] {
        key.sign(&self.signing_input()).to_bytes()
    }

    /// Checks `sig` as `member`'s signature over the completion (strict).
    pub fn check(&self, member: &MemberId, sig: &[u8; 64]) -> Result<(), AgreementError> {
        let key = member
            .verifying_key()
            .map_err(|_| AgreementError::BadCompletion)?;
        if key.is_weak() {
            return Err(AgreementError::BadCompletion);
        }
        key.verify_strict(&self.signing_input(), &Signature::from_bytes(sig))
            .map_err(|_| AgreementError::BadCompletion)
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.bytes(&self.agreement.0);
        w.bytes(self.proposer.as_bytes());
        w.bytes(self.other.as_bytes());
        w.i64(self.day);
        w.str8(&self.group, "group");
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Completion, DecodeError> {
        Ok(Completion {
            agreement: AgreementId(r.array("agreement")?),
            proposer: MemberId(r.array("proposer")?),
            other: MemberId(r.array("other")?),
            day: r.i64("day")?,
            group: r.str8("group")?,
        })
    }
}
