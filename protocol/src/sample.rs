//! Deterministic sample keys and listings, for tests, benchmarks and the test
//! vectors of `docs/protocol.md`. Nothing here is random: seeds are fixed or
//! passed in.

use crate::certificate::Certificate;
use crate::id::ListingKey;
use crate::keys::{self, SigningKey};
use crate::limits::DAY;
use crate::listing::{Exchange, Kind, Listing, Status, Terms};
use crate::scope::Scope;

/// Seed of the sample node key: 32 bytes of 0x01.
pub const NODE_SEED: [u8; 32] = [0x01; 32];
/// Seed of the sample member key: 32 bytes of 0x02.
pub const MEMBER_SEED: [u8; 32] = [0x02; 32];
/// 2026-01-01T00:00:00Z, the time the sample listings are created.
pub const T0: i64 = 1_767_225_600;
/// The sample scope.
pub const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

/// A node key and a member key it has admitted.
pub struct Identity {
    pub node: SigningKey,
    pub member: SigningKey,
    pub certificate: Certificate,
}

impl Identity {
    /// Keys from the two seeds; the certificate admits the member to `scope`
    /// from `not_before` for one year.
    pub fn new(
        node_seed: [u8; 32],
        member_seed: [u8; 32],
        scope: &str,
        not_before: i64,
    ) -> Identity {
        let node = keys::from_seed(node_seed);
        let member = keys::from_seed(member_seed);
        let scope = Scope::parse(scope, usize::MAX).expect("sample scope is valid");
        let certificate = Certificate::issue(
            &node,
            keys::member_id(&member),
            scope,
            not_before,
            not_before + 365 * DAY,
        );
        Identity {
            node,
            member,
            certificate,
        }
    }

    /// The fixed sample identity ([`NODE_SEED`], [`MEMBER_SEED`], [`SCOPE`], [`T0`]).
    pub fn fixed() -> Identity {
        Identity::new(NODE_SEED, MEMBER_SEED, SCOPE, T0 - DAY)
    }

    /// A valid open offer created at `created_at`, expiring 30 days later.
    pub fn offer(&self, key: [u8; 16], title: &str, created_at: i64) -> Listing {
        Listing {
            author: keys::member_id(&self.member),
            key: ListingKey(key),
            revision: created_at as u64,
            created_at,
            expires_at: created_at + 30 * DAY,
            kind: Kind::Offer,
            exchange: Exchange::Lend,
            status: Status::Open,
            scope: self.certificate.scope.clone(),
            topics: vec!["goods.tools".into()],
            title: title.into(),
            body: String::new(),
            tags: vec![],
            geohash: None,
            terms: Terms::default(),
            extras: Default::default(),
            certificate: self.certificate.clone(),
        }
    }
}

/// The withdrawal (tombstone) of `l`, as revision `revision` at `now`.
pub fn tombstone(l: &Listing, revision: u64, now: i64) -> Listing {
    l.tombstone(revision, now)
}

/// One test vector of `docs/protocol.md`: a name, the listing, and the time at
/// which it validates.
pub struct Vector {
    pub name: &'static str,
    pub listing: Listing,
    pub now: i64,
}

/// The three test vectors of `docs/protocol.md`: an offer, a request with a
/// price, and the offer's withdrawal (a tombstone).
pub fn vectors() -> Vec<Vector> {
    use crate::listing::{Money, Price};
    let id = Identity::fixed();
    let mut offer = id.offer([0x11; 16], "Boormachine te leen", T0);
    offer.body = "Klopboormachine met set boren. Ophalen in de Dapperbuurt.".into();
    offer.tags = vec!["boor".into(), "klussen".into()];
    offer.geohash = Some("u173zq".into());
    offer.terms.deposit = Some(Money {
        cents: 2_000,
        currency: "EUR".into(),
    });

    let mut request = id.offer(
        [0x22; 16],
        "Wie rijdt mij donderdag naar het ziekenhuis?",
        T0 + 60,
    );
    request.kind = Kind::Request;
    request.exchange = Exchange::Help;
    request.topics = vec!["help.transport".into()];
    request.scope = Scope::parse("nl/amsterdam/oost", usize::MAX).expect("valid");
    request.expires_at = request.created_at + 7 * DAY;
    request.terms.price = Some(Price {
        amount: Money {
            cents: 500,
            currency: "EUR".into(),
        },
        unit: "rit".into(),
    });

    let withdrawal = tombstone(&offer, offer.revision + 3_600, T0 + 3_600);

    // Version 2: a car for three days with a photo, and a weekly meal a
    // broker posts for a resident.
    use crate::calendar::day_of;
    use crate::listing::{Behalf, Media, Period, Photo, Recurrence, Window};
    let mut car = id.offer([0x33; 16], "Auto te huur tijdens de feestdagen", T0 + 120);
    car.exchange = Exchange::Rent;
    car.topics = vec!["goods.car".into()];
    car.expires_at = car.created_at + 14 * DAY;
    car.terms.price = Some(Price {
        amount: Money {
            cents: 3_500,
            currency: "EUR".into(),
        },
        unit: "dag".into(),
    });
    car.extras.availability = vec![
        Window::days(day_of(T0) + 2, day_of(T0) + 4),
        Window {
            weekdays: 0b001_1111,
            start_minute: 18 * 60,
            end_minute: 22 * 60,
            ..Window::days(day_of(T0) + 7, day_of(T0) + 13)
        },
    ];
    car.extras.photo = Some(Photo {
        sha256: [0xab; 32],
        size: 48_213,
        media: Media::Jpeg,
    });
    let mut meal = id.offer([0x44; 16], "Stamppot voor twee, elke dinsdag", T0 + 180);
    meal.exchange = Exchange::Meal;
    meal.topics = vec!["food.meal".into()];
    meal.expires_at = meal.created_at + 28 * DAY;
    meal.extras.every = Some(Recurrence {
        period: Period::Week,
        first: day_of(T0) + 5,
        paused: false,
    });
    meal.extras.behalf = Some(Behalf {
        resident: "mevrouw J.".into(),
        consent_on: day_of(T0),
        statement: "Mevrouw J. vroeg dit aan de telefoon, 31 december.".into(),
    });
    vec![
        Vector {
            name: "offer",
            listing: offer,
            now: T0,
        },
        Vector {
            name: "request-with-price",
            listing: request,
            now: T0 + 60,
        },
        Vector {
            name: "tombstone",
            listing: withdrawal,
            now: T0 + 3_600,
        },
        Vector {
            name: "car-v2",
            listing: car,
            now: T0 + 120,
        },
        Vector {
            name: "meal-on-behalf-v2",
            listing: meal,
            now: T0 + 180,
        },
    ]
}

/// The revocation test vector: the fixed identity's node revokes its
/// member's certificate a day after [`T0`].
pub fn revocation() -> crate::revocation::Revocation {
    let id = Identity::fixed();
    crate::revocation::Revocation {
        node: id.certificate.node,
        member: id.certificate.member,
        certificate: id.certificate.fingerprint(),
        revoked_at: T0 + 86_400,
    }
}

/// The agreement test vector of section 16: a loan between the resident of
/// section 14 (who proposes) and the fixed identity's member (the author,
/// who accepts), the proposer's `returned`, the completion both sign, and
/// the author's thanks with its pledge.
pub struct AgreementVector {
    pub proposer: Identity,
    pub author: Identity,
    pub propose: crate::agreement::SignedEvent,
    pub accept: crate::agreement::SignedEvent,
    pub returned: crate::agreement::SignedEvent,
    pub completion: crate::agreement::Completion,
    pub thanks: crate::thanks::SignedThanks,
    pub pledge: crate::thanks::SignedThanks,
}

/// Builds the agreement vector; every seed and time is fixed.
pub fn agreement() -> AgreementVector {
    use crate::agreement::{Action, AgreementId, Event, Proposal};
    use crate::thanks::{Said, Thanks};
    let author = Identity::fixed();
    let proposer = Identity::new([0x31; 32], [0x32; 32], SCOPE, T0 - 86_400);
    let listing = author
        .offer([7; 16], "Boormachine te leen", T0)
        .listing_id();
    let propose = Event {
        agreement: AgreementId([0; 32]),
        prev: [0; 32],
        member: crate::keys::member_id(&proposer.member),
        at: T0 + 60,
        action: Action::Propose(Proposal {
            listing,
            with: author.certificate.member,
            exchange: crate::Exchange::Lend,
            group: "goods".into(),
            nonce: [0x5a; 16],
            from: T0 + 86_400,
            until: T0 + 3 * 86_400,
            price: None,
            deposit: Some(crate::Money {
                cents: 2_000,
                currency: "EUR".into(),
            }),
            minutes: 0,
            note: "zaterdag 10 uur".into(),
        }),
    }
    .sign(&proposer.member)
    .expect("the vector signs");
    let id = AgreementId(propose.id);
    let accept = Event {
        agreement: id,
        prev: propose.id,
        member: author.certificate.member,
        at: T0 + 120,
        action: Action::Accept,
    }
    .sign(&author.member)
    .expect("the vector signs");
    let completion = crate::agreement::Completion {
        agreement: id,
        proposer: crate::keys::member_id(&proposer.member),
        other: author.certificate.member,
        day: (T0 + 60).div_euclid(86_400),
        group: "goods".into(),
    };
    let returned = Event {
        agreement: id,
        prev: accept.id,
        member: completion.proposer,
        at: T0 + 3_600,
        action: Action::Returned {
            completion: completion.sign(&proposer.member),
        },
    }
    .sign(&proposer.member)
    .expect("the vector signs");
    let thanks = Thanks {
        thanker: author.certificate.clone(),
        thanked: proposer.certificate.clone(),
        completion: completion.clone(),
        proposer_sig: completion.sign(&proposer.member),
        other_sig: completion.sign(&author.member),
        at: T0 + 7_200,
        said: Said::Thanks {
            minutes: 0,
            text: "Netjes teruggebracht, dank!".into(),
        },
    }
    .sign(&author.member)
    .expect("the vector signs");
    let pledge = thanks.pledge(&author.member).expect("the vector signs");
    AgreementVector {
        proposer,
        author,
        propose,
        accept,
        returned,
        completion,
        thanks,
        pledge,
    }
}

/// The circle test vector of section 18: the fixed identity's member owns
/// a circle with the resident of section 14; epoch 1's key record, and a
/// request for the circle sealed under that key with a fixed nonce.
pub struct CircleVector {
    pub key: crate::circle::CircleKey,
    pub listing: crate::listing::SignedListing,
    pub nonce: [u8; 12],
    pub sealed: Vec<u8>,
    pub now: i64,
}

/// Builds the circle vector; every seed and time is fixed.
pub fn circle() -> CircleVector {
    let owner = Identity::fixed();
    let resident = Identity::new([0x31; 32], [0x32; 32], SCOPE, T0 - 86_400);
    let key = crate::circle::CircleKey {
        circle: [0xc1; 16],
        epoch: 1,
        key: [0x4b; 32],
        name: "Hulp voor mevrouw Jansen".into(),
        owner: owner.certificate.member,
        members: vec![
            (owner.certificate.member, owner.certificate.node),
            (resident.certificate.member, resident.certificate.node),
        ],
    };
    let mut l = owner.offer([0x55; 16], "Wie haalt woensdag de medicijnen?", T0 + 240);
    l.kind = Kind::Request;
    l.exchange = Exchange::Help;
    l.topics = vec!["help.care".into()];
    l.expires_at = l.created_at + 7 * DAY;
    l.extras.circle = Some(key.circle);
    let listing = l.sign(&owner.member).expect("the vector signs");
    let nonce = [0x0e; 12];
    let sealed = crate::circle::seal(&key, nonce, listing.bytes());
    CircleVector {
        key,
        listing,
        nonce,
        sealed,
        now: T0 + 240,
    }
}
