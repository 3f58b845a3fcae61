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

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::{Signature, Signer, SigningKey};
use sha2::{Digest, Sha256};

use crate::codec::{DecodeError, Reader, Writer};
use crate::id::{ListingId, MemberId};
use crate::listing::{Exchange, Money};

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

/// Where an agreement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Proposed, waiting for the other member.
    Proposed,
    Declined,
    Cancelled,
    /// Accepted; the thing has not changed hands (or the help not begun)
    /// in both members' words.
    Accepted,
    /// Both confirmed the handover (or the start of the help).
    Underway,
    /// Both confirmed the return (or that it is done).
    Completed,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Proposed => "proposed",
            Stage::Declined => "declined",
            Stage::Cancelled => "cancelled",
            Stage::Accepted => "accepted",
            Stage::Underway => "underway",
            Stage::Completed => "completed",
        }
    }

    /// Whether the agreement has ended.
    pub fn is_closed(self) -> bool {
        matches!(self, Stage::Declined | Stage::Cancelled | Stage::Completed)
    }
}

/// An agreement as its events make it: folded in a fixed order, so both
/// members see the same state from the same events.
#[derive(Debug, Clone)]
pub struct Agreement {
    pub id: AgreementId,
    pub proposer: MemberId,
    pub proposal: Proposal,
    pub proposed_at: i64,
    pub stage: Stage,
    /// Who confirmed the handover (or start), and the return (or done).
    pub handed: BTreeSet<MemberId>,
    pub finished: BTreeSet<MemberId>,
    /// Each member's completion signature, from their completing event.
    pub completion_sigs: BTreeMap<MemberId, [u8; 64]>,
    /// Hours of help each member recorded with `done`, in minutes.
    pub minutes: BTreeMap<MemberId, u64>,
    /// Problems raised: who, when, what.
    pub problems: Vec<(MemberId, i64, String)>,
    /// Every event taken, in the order folded.
    pub events: Vec<SignedEvent>,
    /// Who ended it (declined or cancelled).
    pub ended_by: Option<MemberId>,
}

impl Agreement {
    /// Starts an agreement from its signed `propose`.
    pub fn new(propose: SignedEvent) -> Result<Agreement, AgreementError> {
        let Action::Propose(p) = &propose.event.action else {
            return Err(AgreementError::BadLink);
        };
        Ok(Agreement {
            id: AgreementId(propose.id),
            proposer: propose.event.member,
            proposal: p.clone(),
            proposed_at: propose.event.at,
            stage: Stage::Proposed,
            handed: BTreeSet::new(),
            finished: BTreeSet::new(),
            completion_sigs: BTreeMap::new(),
            minutes: BTreeMap::new(),
            problems: Vec::new(),
            events: vec![propose],
            ended_by: None,
        })
    }

    /// The member who did not propose.
    pub fn other(&self) -> MemberId {
        self.proposal.with
    }

    /// The two members.
    pub fn parties(&self) -> [MemberId; 2] {
        [self.proposer, self.proposal.with]
    }

    /// Whether the exchange is help (started / done with hours) rather than
    /// a thing changing hands.
    pub fn is_help(&self) -> bool {
        self.proposal.exchange == Exchange::Help
    }

    /// Whether something lent comes back (returned) rather than is done.
    pub fn comes_back(&self) -> bool {
        matches!(self.proposal.exchange, Exchange::Lend | Exchange::Rent)
    }

    /// What both sign at the end.
    pub fn completion(&self) -> Completion {
        Completion {
            agreement: self.id,
            proposer: self.proposer,
            other: self.proposal.with,
            day: self.proposed_at.div_euclid(86_400),
            group: self.proposal.group.clone(),
        }
    }

    /// Both completion signatures, once both members completed.
    pub fn proof(&self) -> Option<([u8; 64], [u8; 64])> {
        Some((
            *self.completion_sigs.get(&self.proposer)?,
            *self.completion_sigs.get(&self.proposal.with)?,
        ))
    }

    /// The ids of every event taken.
    pub fn has(&self, id: &[u8; 32]) -> bool {
        self.events.iter().any(|e| &e.id == id)
    }

    /// The newest event's id: what the next event names as `prev`.
    pub fn head(&self) -> [u8; 32] {
        self.events.last().map(|e| e.id).unwrap_or([0; 32])
    }

    /// Whether `action` by `member` is possible now (without applying it).
    pub fn allows(&self, member: &MemberId, action: &Action) -> Result<(), AgreementError> {
        if !self.parties().contains(member) {
            return Err(AgreementError::NotAParty);
        }
        let not_now = || AgreementError::NotNow {
            action: action.name(),
            state: self.stage.as_str(),
        };
        let step = if self.is_help() {
            Action::Started.name()
        } else {
            Action::HandedOver.name()
        };
        let end = if self.comes_back() {
            "returned"
        } else {
            "done"
        };
        match (action, self.stage) {
            (Action::Propose(_), _) => Err(not_now()),
            (Action::Accept | Action::Decline, Stage::Proposed) if *member != self.proposer => {
                Ok(())
            }
            (Action::Cancel, Stage::Proposed | Stage::Accepted) => Ok(()),
            (Action::HandedOver | Action::Started, Stage::Accepted)
                if action.name() == step && !self.handed.contains(member) =>
            {
                Ok(())
            }
            (Action::Returned { .. } | Action::Done { .. }, Stage::Underway)
                if action.name() == end && !self.finished.contains(member) =>
            {
                Ok(())
            }
            (Action::Problem { .. }, s) if !s.is_closed() => Ok(()),
            _ => Err(not_now()),
        }
    }

    /// Takes one verified event of this agreement.
    pub fn apply(&mut self, e: SignedEvent) -> Result<(), AgreementError> {
        if e.event.agreement != self.id {
            return Err(AgreementError::OtherAgreement);
        }
        if !self.has(&e.event.prev) {
            return Err(AgreementError::UnknownPrev);
        }
        let who = e.event.member;
        self.allows(&who, &e.event.action)?;
        match &e.event.action {
            Action::Accept => self.stage = Stage::Accepted,
            Action::Decline => {
                self.stage = Stage::Declined;
                self.ended_by = Some(who);
            }
            Action::Cancel => {
                self.stage = Stage::Cancelled;
                self.ended_by = Some(who);
            }
            Action::HandedOver | Action::Started => {
                self.handed.insert(who);
                if self.handed.len() == 2 {
                    self.stage = Stage::Underway;
                }
            }
            Action::Returned { completion } | Action::Done { completion, .. } => {
                self.completion().check(&who, completion)?;
                if let Action::Done { minutes, .. } = &e.event.action {
                    self.minutes.insert(who, *minutes);
                }
                self.completion_sigs.insert(who, *completion);
                self.finished.insert(who);
                if self.finished.len() == 2 {
                    self.stage = Stage::Completed;
                }
            }
            Action::Problem { note } => self.problems.push((who, e.event.at, note.clone())),
            Action::Propose(_) => unreachable!("refused by allows"),
        }
        self.events.push(e);
        Ok(())
    }

    /// Folds every event of every agreement in `events` (any order, with
    /// duplicates and strays): each agreement from its `propose`, then its
    /// other events in the order (at, id), each taken once its `prev` is
    /// known. Events that do not fit are left out.
    pub fn fold(events: impl IntoIterator<Item = SignedEvent>) -> Vec<Agreement> {
        let mut proposes = BTreeMap::new();
        let mut rest: BTreeMap<AgreementId, Vec<SignedEvent>> = BTreeMap::new();
        for e in events {
            if matches!(e.event.action, Action::Propose(_)) {
                proposes.entry(e.id).or_insert(e);
            } else {
                rest.entry(e.event.agreement).or_default().push(e);
            }
        }
        let mut out = Vec::new();
        for (id, p) in proposes {
            let Ok(mut a) = Agreement::new(p) else {
                continue;
            };
            let mut pending = rest.remove(&AgreementId(id)).unwrap_or_default();
            pending.sort_by_key(|e| (e.event.at, e.id));
            pending.dedup_by_key(|e| e.id);
            // Take what fits until nothing more does: an event may name a
            // prev that sorts after it (clocks differ).
            loop {
                let before = pending.len();
                pending.retain(|e| a.apply(e.clone()).is_err());
                if pending.len() == before {
                    break;
                }
            }
            out.push(a);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;

    fn proposal(with: MemberId, exchange: Exchange) -> Proposal {
        Proposal {
            listing: ListingId([7; 16]),
            with,
            exchange,
            group: "goods".into(),
            nonce: [9; 16],
            from: 1_800_000_000,
            until: 1_800_172_800,
            price: None,
            deposit: Some(Money {
                cents: 2_000,
                currency: "EUR".into(),
            }),
            minutes: 0,
            note: "zaterdag ophalen".into(),
        }
    }

    fn next(a: &Agreement, key: &SigningKey, at: i64, action: Action) -> SignedEvent {
        Event {
            agreement: a.id,
            prev: a.head(),
            member: MemberId([0; 32]),
            at,
            action,
        }
        .sign(key)
        .unwrap()
    }

    #[test]
    fn a_loan_runs_from_proposal_to_completion() {
        let (p, o) = (keys::from_seed([1; 32]), keys::from_seed([2; 32]));
        let propose = Event {
            agreement: AgreementId([0; 32]),
            prev: [0; 32],
            member: MemberId([0; 32]),
            at: 1_799_990_000,
            action: Action::Propose(proposal(keys::member_id(&o), Exchange::Lend)),
        }
        .sign(&p)
        .unwrap();
        assert_eq!(SignedEvent::verify(&propose.bytes).unwrap(), propose);
        let mut a = Agreement::new(propose).unwrap();
        // The proposer cannot accept their own proposal.
        let own = next(&a, &p, 1_799_990_100, Action::Accept);
        assert!(matches!(a.apply(own), Err(AgreementError::NotNow { .. })));
        let e = next(&a, &o, 1_799_990_100, Action::Accept);
        a.apply(SignedEvent::verify(&e.bytes).unwrap()).unwrap();
        assert_eq!(a.stage, Stage::Accepted);
        // `started` is for help; a loan is handed over, by both.
        let wrong = next(&a, &p, 1_799_990_200, Action::Started);
        assert!(a.apply(wrong).is_err());
        a.apply(next(&a, &p, 1_799_990_200, Action::HandedOver))
            .unwrap();
        assert_eq!(a.stage, Stage::Accepted, "one side alone is not a handover");
        a.apply(next(&a, &o, 1_799_990_300, Action::HandedOver))
            .unwrap();
        assert_eq!(a.stage, Stage::Underway);
        let c = a.completion();
        // A completion signed by the wrong member is refused.
        let forged = next(
            &a,
            &p,
            1_799_990_400,
            Action::Returned {
                completion: c.sign(&o),
            },
        );
        assert_eq!(a.apply(forged), Err(AgreementError::BadCompletion));
        a.apply(next(
            &a,
            &p,
            1_799_990_400,
            Action::Returned {
                completion: c.sign(&p),
            },
        ))
        .unwrap();
        assert_eq!(
            a.stage,
            Stage::Underway,
            "a one-sided return does not complete"
        );
        assert!(a.proof().is_none());
        a.apply(next(
            &a,
            &o,
            1_799_990_500,
            Action::Returned {
                completion: c.sign(&o),
            },
        ))
        .unwrap();
        assert_eq!(a.stage, Stage::Completed);
        let (sp, so) = a.proof().unwrap();
        c.check(&keys::member_id(&p), &sp).unwrap();
        c.check(&keys::member_id(&o), &so).unwrap();
        // Folding the events in any order gives the same agreement.
        let mut shuffled = a.events.clone();
        shuffled.reverse();
        shuffled.push(a.events[2].clone());
        let folded = Agreement::fold(shuffled);
        assert_eq!(folded.len(), 1);
        assert_eq!(folded[0].stage, Stage::Completed);
        assert_eq!(folded[0].events.len(), a.events.len());
    }

    #[test]
    fn tampering_and_strangers_are_refused() {
        let (p, o, x) = (
            keys::from_seed([1; 32]),
            keys::from_seed([2; 32]),
            keys::from_seed([3; 32]),
        );
        let propose = Event {
            agreement: AgreementId([0; 32]),
            prev: [0; 32],
            member: MemberId([0; 32]),
            at: 1_799_990_000,
            action: Action::Propose(proposal(keys::member_id(&o), Exchange::Help)),
        }
        .sign(&p)
        .unwrap();
        for i in 0..propose.bytes.len() {
            let mut bad = propose.bytes.clone();
            bad[i] ^= 1;
            assert!(SignedEvent::verify(&bad).is_err(), "byte {i}");
        }
        let mut a = Agreement::new(propose).unwrap();
        let stranger = next(&a, &x, 1_799_990_100, Action::Accept);
        assert_eq!(a.apply(stranger), Err(AgreementError::NotAParty));
        let mut elsewhere = next(&a, &o, 1_799_990_100, Action::Accept);
        elsewhere.event.prev = [5; 32];
        let elsewhere = elsewhere.event.sign(&o).unwrap();
        assert_eq!(a.apply(elsewhere), Err(AgreementError::UnknownPrev));
        let own = Event {
            agreement: AgreementId([0; 32]),
            prev: [0; 32],
            member: MemberId([0; 32]),
            at: 1,
            action: Action::Propose(proposal(keys::member_id(&p), Exchange::Give)),
        };
        assert_eq!(own.sign(&p), Err(AgreementError::WithItself));
        a.apply(next(&a, &o, 1_799_990_100, Action::Cancel))
            .unwrap();
        assert_eq!(a.stage, Stage::Cancelled);
        assert!(a
            .apply(next(&a, &p, 1_799_990_200, Action::Accept))
            .is_err());
    }
}
