//! One failing case for every rejection reason of `validate`.

use buurt_protocol::codec::DecodeError;
use buurt_protocol::keys;
use buurt_protocol::limits::DAY;
use buurt_protocol::sample::{self, Identity, T0};
use buurt_protocol::{
    validate, Behalf, Certificate, Limits, Listing, Media, Money, Period, Photo, Price, Recurrence,
    Rejection, Scope, ScopeError, Status, Window,
};

fn id() -> Identity {
    Identity::fixed()
}

fn base() -> Listing {
    id().offer([9; 16], "Boormachine te leen", T0)
}

/// Signs `l` with the sample member key and validates it at `T0`.
fn check(l: Listing) -> Result<(), Rejection> {
    let signed = l.sign(&id().member).expect("encodable");
    validate(signed.bytes(), T0, &Limits::default()).map(|_| ())
}

fn scope(s: &str) -> Scope {
    Scope::parse(s, usize::MAX).unwrap()
}

#[test]
fn the_base_listing_is_valid() {
    assert_eq!(check(base()), Ok(()));
}

#[test]
fn too_large() {
    let limits = Limits {
        max_body_bytes: 100_000,
        ..Limits::default()
    };
    let mut l = base();
    l.body = "x".repeat(9_000);
    let signed = l.sign(&id().member).unwrap();
    assert!(matches!(
        validate(signed.bytes(), T0, &limits),
        Err(Rejection::TooLarge { max: 8192, .. })
    ));
}

#[test]
fn malformed_truncated_trailing_version() {
    let signed = base().sign(&id().member).unwrap();
    let b = signed.bytes();
    let limits = Limits::default();
    assert!(matches!(
        validate(&b[..b.len() - 1], T0, &limits),
        Err(Rejection::Malformed(DecodeError::Truncated(_)))
    ));
    let mut longer = b.to_vec();
    longer.push(0);
    assert_eq!(
        validate(&longer, T0, &limits),
        Err(Rejection::Malformed(DecodeError::TrailingBytes(1)))
    );
    let mut v3 = b.to_vec();
    v3[0] = 3;
    assert_eq!(
        validate(&v3, T0, &limits),
        Err(Rejection::Malformed(DecodeError::UnknownVersion(3)))
    );
    assert!(matches!(
        validate(&[], T0, &limits),
        Err(Rejection::Malformed(_))
    ));
}

#[test]
fn malformed_enum_and_option_tag() {
    let signed = base().sign(&id().member).unwrap();
    let mut b = signed.bytes().to_vec();
    // version 1 + author 32 + key 16 + revision 8 + created 8 + expires 8 = 73: kind
    b[73] = 9;
    assert!(matches!(
        validate(&b, T0, &Limits::default()),
        Err(Rejection::Malformed(DecodeError::BadEnum {
            field: "kind",
            value: 9
        }))
    ));
}

#[test]
fn bad_scope_syntax_and_depth() {
    let mut l = base();
    l.scope = scope("nl");
    let signed = l.sign(&id().member).unwrap();
    let mut b = signed.bytes().to_vec();
    // scope string follows kind, exchange, status at offset 76: length 2, then "nl"
    assert_eq!(&b[76..79], b"\x02nl");
    b[77] = b'N';
    assert!(matches!(
        validate(&b, T0, &Limits::default()),
        Err(Rejection::BadScope(ScopeError::BadSegment(_)))
    ));
    let limits = Limits {
        max_scope_levels: 3,
        ..Limits::default()
    };
    let signed = base().sign(&id().member).unwrap();
    assert_eq!(
        validate(signed.bytes(), T0, &limits),
        Err(Rejection::BadScope(ScopeError::TooDeep(3)))
    );
}

#[test]
fn weak_author_key() {
    // The identity point (a small-order key) as author, with a certificate for it.
    let mut weak = [0u8; 32];
    weak[0] = 1;
    let ident = id();
    let cert = Certificate::issue(
        &ident.node,
        buurt_protocol::MemberId(weak),
        ident.certificate.scope.clone(),
        T0 - DAY,
        T0 + DAY,
    );
    let mut l = base();
    l.author = buurt_protocol::MemberId(weak);
    l.certificate = cert;
    assert_eq!(check(l), Err(Rejection::WeakKey));
}

#[test]
fn bad_certificate_signature() {
    let mut l = base();
    l.certificate.signature[0] ^= 1;
    assert_eq!(check(l), Err(Rejection::BadCertificate));
}

#[test]
fn certificate_from_another_node_key_does_not_verify() {
    let mut l = base();
    l.certificate.node = keys::node_id(&keys::from_seed([5; 32]));
    assert_eq!(check(l), Err(Rejection::BadCertificate));
}

#[test]
fn certificate_mismatch() {
    let other = Identity::new(sample::NODE_SEED, [3; 32], sample::SCOPE, T0 - DAY);
    let mut l = base();
    l.certificate = other.certificate;
    assert_eq!(check(l), Err(Rejection::CertificateMismatch));
}

#[test]
fn certificate_not_yet_valid_and_expired() {
    let early = Identity::new(
        sample::NODE_SEED,
        sample::MEMBER_SEED,
        sample::SCOPE,
        T0 + 60,
    );
    let mut l = base();
    l.certificate = early.certificate;
    assert_eq!(check(l), Err(Rejection::CertificateNotYetValid));

    let ident = id();
    let mut l = base();
    l.certificate = Certificate::issue(
        &ident.node,
        l.author,
        ident.certificate.scope.clone(),
        T0 - 10 * DAY,
        T0 - DAY,
    );
    assert_eq!(check(l), Err(Rejection::CertificateExpired));
}

#[test]
fn a_withdrawal_is_valid_after_the_certificate_lapsed() {
    let ident = id();
    let mut l = base();
    l.certificate = Certificate::issue(
        &ident.node,
        l.author,
        ident.certificate.scope.clone(),
        T0 - 10 * DAY,
        T0 - DAY,
    );
    let t = sample::tombstone(&l, l.revision + 1, T0);
    assert_eq!(check(t), Ok(()));
    let mut t = sample::tombstone(&l, l.revision + 1, T0);
    t.certificate.signature[5] ^= 4;
    assert_eq!(check(t), Err(Rejection::BadCertificate));
}

#[test]
fn scope_not_covered() {
    let mut l = base();
    l.scope = scope("nl/amsterdam/west");
    assert_eq!(check(l), Err(Rejection::ScopeNotCovered));
}

#[test]
fn ancestor_scope_is_covered() {
    let mut l = base();
    l.scope = scope("nl/amsterdam");
    assert_eq!(check(l), Ok(()));
}

#[test]
fn bad_signature() {
    let mut signed = base().sign(&id().member).unwrap().bytes().to_vec();
    let n = signed.len();
    signed[n - 1] ^= 0x01;
    assert_eq!(
        validate(&signed, T0, &Limits::default()),
        Err(Rejection::BadSignature)
    );
}

#[test]
fn signed_by_someone_else() {
    let l = base();
    let signed = l.sign(&keys::from_seed([8; 32])).unwrap();
    assert_eq!(
        validate(signed.bytes(), T0, &Limits::default()),
        Err(Rejection::BadSignature)
    );
}

#[test]
fn title_rules() {
    let mut l = base();
    l.title = " ".into();
    assert_eq!(check(l), Err(Rejection::EmptyTitle));
    let mut l = base();
    l.title = "é".repeat(121);
    assert_eq!(check(l), Err(Rejection::TitleTooLong(120)));
    let mut l = base();
    l.title = "é".repeat(120);
    assert_eq!(check(l), Ok(()));
}

#[test]
fn body_too_long() {
    let mut l = base();
    l.body = "x".repeat(4_001);
    assert_eq!(check(l), Err(Rejection::BodyTooLong(4_000)));
}

#[test]
fn tag_rules() {
    let mut l = base();
    l.tags = (0..11).map(|i| format!("t{i}")).collect();
    assert_eq!(check(l), Err(Rejection::TooManyTags(10)));
    let mut l = base();
    l.tags = vec!["x".repeat(33)];
    assert_eq!(check(l), Err(Rejection::BadTag(32)));
    let mut l = base();
    l.tags = vec![String::new()];
    assert_eq!(check(l), Err(Rejection::BadTag(32)));
}

#[test]
fn topic_rules() {
    let mut l = base();
    l.topics = vec![];
    assert_eq!(check(l), Err(Rejection::NoTopics));
    let mut l = base();
    l.topics = vec![
        "goods.tools".into(),
        "goods.garden".into(),
        "help.chores".into(),
        "other".into(),
    ];
    assert_eq!(check(l), Err(Rejection::TooManyTopics(3)));
    let mut l = base();
    l.topics = vec!["goods.drills".into()];
    assert_eq!(
        check(l),
        Err(Rejection::UnknownTopic("goods.drills".into()))
    );
    let mut l = base();
    l.topics = vec!["goods.tools".into(), "goods.tools".into()];
    assert_eq!(
        check(l),
        Err(Rejection::DuplicateTopic("goods.tools".into()))
    );
}

#[test]
fn control_characters() {
    let mut l = base();
    l.title = "Boor\u{7}".into();
    assert_eq!(check(l), Err(Rejection::ControlCharacter("title")));
    let mut l = base();
    l.body = "regel 1\nregel 2\tmet tab".into();
    assert_eq!(check(l), Ok(()));
    let mut l = base();
    l.body = "tekst \u{202E}omgekeerd".into();
    assert_eq!(check(l), Err(Rejection::ControlCharacter("body")));
    let mut l = base();
    l.tags = vec!["a\u{0}".into()];
    assert_eq!(check(l), Err(Rejection::ControlCharacter("tag")));
}

#[test]
fn created_in_future() {
    let mut l = base();
    l.created_at = T0 + 601;
    l.expires_at = l.created_at + DAY;
    l.certificate = Identity::new(
        sample::NODE_SEED,
        sample::MEMBER_SEED,
        sample::SCOPE,
        T0 - DAY,
    )
    .certificate;
    assert_eq!(check(l), Err(Rejection::CreatedInFuture(600)));
    let mut l = base();
    l.created_at = T0 + 600;
    assert_eq!(check(l), Ok(()));
}

#[test]
fn expiry_rules() {
    let mut l = base();
    l.expires_at = l.created_at;
    assert_eq!(check(l), Err(Rejection::ExpiryBeforeCreation));
    let mut l = base();
    l.expires_at = l.created_at + 90 * DAY + 1;
    assert_eq!(check(l), Err(Rejection::ExpiryTooFar(90)));
    let mut l = base();
    l.created_at = T0 - 2 * DAY;
    l.certificate = Identity::new(
        sample::NODE_SEED,
        sample::MEMBER_SEED,
        sample::SCOPE,
        T0 - 5 * DAY,
    )
    .certificate;
    l.expires_at = T0;
    assert_eq!(check(l), Err(Rejection::Expired));
}

#[test]
fn geohash_rules() {
    for bad in ["", "u173zq1", "u17a", "U173"] {
        let mut l = base();
        l.geohash = Some(bad.into());
        assert_eq!(check(l), Err(Rejection::BadGeohash), "{bad:?}");
    }
    let mut l = base();
    l.geohash = Some("u173zq".into());
    assert_eq!(check(l), Ok(()));
}

#[test]
fn money_rules() {
    let price = |cents, cur: &str, unit: &str| Price {
        amount: Money {
            cents,
            currency: cur.into(),
        },
        unit: unit.into(),
    };
    let mut l = base();
    l.terms.price = Some(price(500, "eur", "day"));
    assert_eq!(check(l), Err(Rejection::BadCurrency));
    let mut l = base();
    l.terms.price = Some(price(0, "EUR", "day"));
    assert_eq!(check(l), Err(Rejection::BadAmount));
    let mut l = base();
    l.terms.deposit = Some(Money {
        cents: 0,
        currency: "EUR".into(),
    });
    assert_eq!(check(l), Err(Rejection::BadAmount));
    let mut l = base();
    l.terms.price = Some(price(500, "EUR", "per zeer lange eenheid"));
    assert_eq!(check(l), Err(Rejection::BadUnit));
    let mut l = base();
    l.terms.price = Some(price(500, "EUR", "dag"));
    l.terms.deposit = Some(Money {
        cents: 2_000,
        currency: "EUR".into(),
    });
    assert_eq!(check(l), Ok(()));
}

#[test]
fn tombstone_must_be_empty() {
    let l = base();
    let t = sample::tombstone(&l, l.revision + 1, T0);
    assert_eq!(check(t.clone()), Ok(()));
    let mut t2 = t;
    t2.body = "nog steeds hier".into();
    assert_eq!(check(t2), Err(Rejection::TombstoneNotEmpty));
    let mut l = base();
    l.status = Status::Withdrawn;
    assert_eq!(check(l), Err(Rejection::TombstoneNotEmpty));
}

#[test]
fn every_reason_has_a_distinct_code() {
    use std::collections::HashSet;
    let all = [
        Rejection::TooLarge { size: 0, max: 0 },
        Rejection::Malformed(DecodeError::NonCanonical),
        Rejection::BadScope(ScopeError::Empty),
        Rejection::WeakKey,
        Rejection::BadCertificate,
        Rejection::CertificateMismatch,
        Rejection::CertificateNotYetValid,
        Rejection::CertificateExpired,
        Rejection::ScopeNotCovered,
        Rejection::BadSignature,
        Rejection::EmptyTitle,
        Rejection::TitleTooLong(0),
        Rejection::BodyTooLong(0),
        Rejection::TooManyTags(0),
        Rejection::BadTag(0),
        Rejection::NoTopics,
        Rejection::TooManyTopics(0),
        Rejection::UnknownTopic(String::new()),
        Rejection::DuplicateTopic(String::new()),
        Rejection::ControlCharacter(""),
        Rejection::CreatedInFuture(0),
        Rejection::ExpiryBeforeCreation,
        Rejection::Expired,
        Rejection::ExpiryTooFar(0),
        Rejection::BadGeohash,
        Rejection::BadCurrency,
        Rejection::BadAmount,
        Rejection::BadUnit,
        Rejection::TombstoneNotEmpty,
        Rejection::TooManyWindows(0),
        Rejection::BadWindow,
        Rejection::WindowOutsideLife,
        Rejection::BadRecurrence,
        Rejection::BadBehalf(""),
        Rejection::BadPhoto,
    ];
    let codes: HashSet<&str> = all.iter().map(|r| r.code()).collect();
    assert_eq!(codes.len(), all.len());
}

fn day(s: &str) -> u32 {
    buurt_protocol::calendar::parse(s).unwrap()
}

/// The base listing lives from T0 for 30 days.
fn life() -> (u32, u32) {
    let l = base();
    (
        buurt_protocol::calendar::day_of(l.created_at),
        buurt_protocol::calendar::day_of(l.expires_at),
    )
}

#[test]
fn version_2_fields_are_checked() {
    let (born, lapses) = life();
    let mut l = base();
    l.extras.availability = vec![Window::days(born, born + 2)];
    assert_eq!(check(l.clone()), Ok(()));
    l.extras.availability = vec![Window::days(born, born); 9];
    assert_eq!(check(l.clone()), Err(Rejection::TooManyWindows(8)));
    l.extras.availability = vec![Window::days(born + 2, born)];
    assert_eq!(check(l.clone()), Err(Rejection::BadWindow));
    l.extras.availability = vec![Window {
        weekdays: 0,
        ..Window::days(born, born)
    }];
    assert_eq!(check(l.clone()), Err(Rejection::BadWindow));
    l.extras.availability = vec![Window {
        start_minute: 600,
        end_minute: 600,
        ..Window::days(born, born)
    }];
    assert_eq!(check(l.clone()), Err(Rejection::BadWindow));
    l.extras.availability = vec![Window::days(lapses + 1, lapses + 2)];
    assert_eq!(check(l.clone()), Err(Rejection::WindowOutsideLife));
    l.extras.availability = vec![Window::days(born - 3, born - 1)];
    assert_eq!(check(l.clone()), Err(Rejection::WindowOutsideLife));

    let mut l = base();
    l.extras.every = Some(Recurrence {
        period: Period::Week,
        first: lapses + 1,
        paused: false,
    });
    assert_eq!(check(l), Err(Rejection::BadRecurrence));

    let behalf = |resident: &str, statement: &str, consent_on: u32| {
        let mut l = base();
        l.extras.behalf = Some(Behalf {
            resident: resident.into(),
            consent_on,
            statement: statement.into(),
        });
        check(l)
    };
    assert_eq!(
        behalf("mevrouw J.", "Gevraagd aan de telefoon", born),
        Ok(())
    );
    for (who, what) in [
        ("", "ok"),
        ("j@example.org", "ok"),
        ("Jansen 0612345678", "ok"),
        ("mevrouw J.", " "),
        ("mevrouw J.", "\u{7}"),
    ] {
        assert!(
            matches!(behalf(who, what, born), Err(Rejection::BadBehalf(_))),
            "{who:?} {what:?}"
        );
    }
    assert!(matches!(
        behalf("mevrouw J.", "ok", born + 2),
        Err(Rejection::BadBehalf(_))
    ));

    let photo = |size: u32| {
        let mut l = base();
        l.extras.photo = Some(Photo {
            sha256: [7; 32],
            size,
            media: Media::Jpeg,
        });
        check(l)
    };
    assert_eq!(photo(1), Ok(()));
    assert_eq!(photo(0), Err(Rejection::BadPhoto));
    assert_eq!(photo(300 * 1024 + 1), Err(Rejection::BadPhoto));

    let mut t = base().tombstone(2, T0);
    t.extras.photo = Some(Photo {
        sha256: [7; 32],
        size: 1,
        media: Media::Png,
    });
    assert_eq!(check(t), Err(Rejection::TombstoneNotEmpty));
    let _ = day("2026-12-21");
}

#[test]
fn version_2_without_extras_is_not_canonical_and_version_1_is_unchanged() {
    let plain = base().sign(&id().member).unwrap();
    assert_eq!(plain.bytes()[0], 1);
    let mut l = base();
    l.extras.photo = Some(Photo {
        sha256: [7; 32],
        size: 1,
        media: Media::Webp,
    });
    let v2 = l.sign(&id().member).unwrap();
    assert_eq!(v2.bytes()[0], 2);
    // The same listing with every extra absent, announced as version 2.
    let mut forged = plain.bytes().to_vec();
    forged[0] = 2;
    assert!(matches!(
        validate(&forged, T0, &Limits::default()),
        Err(Rejection::Malformed(_))
    ));
    let back = buurt_protocol::SignedListing::decode(v2.bytes()).unwrap();
    assert_eq!(back.listing.extras, v2.listing.extras);
}
