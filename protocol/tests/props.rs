//! Property tests of the wire format: round trips, bit flips, junk input.

use buurt_protocol::calendar::day_of;
use buurt_protocol::listing::{Exchange, Kind, Status};
use buurt_protocol::sample::{Identity, T0};
use buurt_protocol::taxonomy::TOPICS;
use buurt_protocol::{
    validate, Behalf, Limits, Listing, Media, Money, Period, Photo, Price, Recurrence,
    SignedListing, Terms, Window,
};
use proptest::prelude::*;

fn arb_terms() -> impl Strategy<Value = Terms> {
    let money = (
        1u64..1_000_000,
        prop::sample::select(vec!["EUR", "GBP", "USD"]),
    )
        .prop_map(|(cents, c)| Money {
            cents,
            currency: c.to_string(),
        });
    let price = (money.clone(), "[a-z]{0,8}").prop_map(|(amount, unit)| Price { amount, unit });
    (prop::option::of(price), prop::option::of(money))
        .prop_map(|(price, deposit)| Terms { price, deposit })
}

prop_compose! {
    /// Any listing that validates at `T0` (open, reserved or closed).
    fn arb_listing()(
        key in any::<[u8; 16]>(),
        created in (T0 - 3_600)..(T0 + 600),
        // At least an hour and a second, so that even one created an hour
        // before `T0` has not expired at `T0`.
        life in 3_601i64..(90 * 86_400),
        kind in prop::sample::select(Kind::ALL.to_vec()),
        exchange in prop::sample::select(Exchange::ALL.to_vec()),
        status in prop::sample::select(vec![Status::Open, Status::Reserved, Status::Closed]),
        topics in prop::sample::subsequence(TOPICS.iter().map(|t| t.key).collect::<Vec<_>>(), 1..=3),
        title in "[a-zA-Z0-9éëï€ ]{0,40}[a-z]",
        body in "[a-zA-Z0-9 .,\n\t]{0,300}",
        tags in prop::collection::vec("[a-z0-9]{1,12}", 0..5),
        geohash in prop::option::of("[0-9b-hjkmnp-z]{1,6}"),
        terms in arb_terms(),
        revision in any::<u64>(),
        windows in prop::collection::vec((any::<u32>(), 0u32..10, 1u8..=0x7F, 0u16..1439), 0..=8),
        every in prop::option::of((prop::sample::select(vec![Period::Week, Period::Fortnight, Period::Month]), any::<u32>(), any::<bool>())),
        behalf in prop::option::of(("[A-Za-z][A-Za-z. ]{0,20}", "[a-z][a-z ]{0,50}")),
        photo in prop::option::of((any::<[u8; 32]>(), 1u32..=307_200, prop::sample::select(vec![Media::Jpeg, Media::Png, Media::Webp]))),
    ) -> Listing {
        let mut l = Identity::fixed().offer(key, &title, created);
        l.expires_at = created + life;
        l.kind = kind;
        l.exchange = exchange;
        l.status = status;
        l.topics = topics.into_iter().map(String::from).collect();
        l.body = body;
        l.tags = tags;
        l.geohash = geohash;
        l.terms = terms;
        l.revision = revision;
        // Version-2 fields, inside the listing's life.
        let (born, lapses) = (day_of(created), day_of(created + life));
        let span = lapses - born + 1;
        l.extras.availability = windows
            .into_iter()
            .map(|(at, len, weekdays, start)| {
                let from = born + at % span;
                Window {
                    from,
                    to: (from + len).min(lapses),
                    weekdays,
                    start_minute: start,
                    end_minute: 1_440,
                }
            })
            .collect();
        l.extras.every = every.map(|(period, at, paused)| Recurrence {
            period,
            first: born + at % span,
            paused,
        });
        l.extras.behalf = behalf.map(|(resident, statement)| Behalf {
            resident,
            consent_on: born,
            statement,
        });
        l.extras.photo = photo.map(|(sha256, size, media)| Photo { sha256, size, media });
        l
    }
}

fn sign(l: Listing) -> SignedListing {
    l.sign(&Identity::fixed().member)
        .expect("arbitrary listings fit the encoding")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decode_of_encode_is_identity(l in arb_listing()) {
        let signed = sign(l.clone());
        let decoded = SignedListing::decode(signed.bytes()).unwrap();
        prop_assert_eq!(&decoded.listing, &l);
        prop_assert_eq!(decoded.content_id(), signed.content_id());
        // A store's read-back decodes the same listing, ids included.
        let kept = SignedListing::decode_kept(signed.bytes()).unwrap();
        prop_assert_eq!(&kept.listing, &l);
        prop_assert_eq!(kept.content_id(), signed.content_id());
        prop_assert_eq!(kept.listing_id(), signed.listing_id());
        let valid = validate(signed.bytes(), T0, &Limits::default()).unwrap();
        prop_assert_eq!(&valid.listing, &l);
        // The address read from the first bytes is the decoded one.
        prop_assert_eq!(SignedListing::address_of(signed.bytes()), Some(signed.listing_id()));
        prop_assert_eq!(SignedListing::address_of(&signed.bytes()[..48]), None);
        // So is the scope, as written.
        let scope = l.scope.to_string();
        prop_assert_eq!(SignedListing::scope_text_of(signed.bytes()), Some(scope.as_str()));
        prop_assert_eq!(SignedListing::scope_text_of(&signed.bytes()[..76 + scope.len()]), None);
        let mut other = signed.bytes().to_vec();
        other[0] ^= 0xFF;
        prop_assert_eq!(SignedListing::address_of(&other), None);
        prop_assert_eq!(SignedListing::scope_text_of(&other), None);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..2_000)) {
        let _ = SignedListing::address_of(&bytes);
        let _ = SignedListing::decode(&bytes);
        let _ = SignedListing::decode_kept(&bytes);
        let _ = SignedListing::scope_text_of(&bytes);
        let _ = validate(&bytes, T0, &Limits::default());
    }

    #[test]
    fn mutated_listings_never_panic_and_never_validate(
        l in arb_listing(),
        cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        truncate in any::<Option<prop::sample::Index>>(),
    ) {
        let signed = sign(l);
        let mut b = signed.bytes().to_vec();
        for (i, v) in cuts {
            let i = i.index(b.len());
            b[i] = v;
        }
        if let Some(t) = truncate {
            b.truncate(t.index(b.len()));
        }
        let changed = b != signed.bytes();
        let r = validate(&b, T0, &Limits::default());
        if changed {
            prop_assert!(r.is_err());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Every single-bit flip anywhere in the signed bytes makes validation fail.
    #[test]
    fn every_single_bit_flip_fails_validation(l in arb_listing()) {
        let signed = sign(l);
        let limits = Limits::default();
        let bytes = signed.bytes().to_vec();
        for i in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[i / 8] ^= 1 << (i % 8);
            prop_assert!(validate(&b, T0, &limits).is_err(), "bit {} accepted", i);
        }
    }
}
