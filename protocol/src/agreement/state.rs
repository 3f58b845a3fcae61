//! The state an agreement's events make: both members fold the same
//! events into the same [`Agreement`], whatever order they arrive in, and
//! only the steps the lifecycle allows are taken (docs/protocol.md
//! section 16, "The state").

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, AgreementError, AgreementId, Completion, Proposal, SignedEvent};
use crate::id::MemberId;
use crate::listing::Exchange;

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
    use super::super::Event;
    use super::*;
    use crate::id::ListingId;
    use crate::keys;
    use crate::listing::Money;
    use ed25519_dalek::SigningKey;

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
