//! The search index: Dutch and English matching, typo tolerance, filters,
//! persistence. Every behaviour runs against an in-memory index; the scenario
//! in `disk_index_survives_reopen` runs the same checks on a reopened on-disk
//! index.

use buurt_node::search::{Hit, Query, SearchError, SearchIndex, DEFAULT_LIMIT};
use buurt_protocol::limits::DAY;
use buurt_protocol::sample::{tombstone, Identity, T0};
use buurt_protocol::{Exchange, Kind, Listing, ListingId, Scope, SignedListing, Status};

fn key(n: u32) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..4].copy_from_slice(&n.to_be_bytes());
    k
}

/// An open offer (goods.tools, lend, nl/amsterdam/oost/dapperbuurt) created
/// `n` minutes after T0.
fn offer(id: &Identity, n: u32, title: &str) -> Listing {
    id.offer(key(n), title, T0 + 60 * n as i64)
}

fn sign(id: &Identity, l: Listing) -> SignedListing {
    l.sign(&id.member).unwrap()
}

fn index_with(id: &Identity, listings: Vec<Listing>) -> SearchIndex {
    let ix = SearchIndex::in_memory().unwrap();
    for l in listings {
        ix.upsert(&sign(id, l)).unwrap();
    }
    ix.commit().unwrap();
    ix
}

fn text(t: &str) -> Query {
    Query {
        text: t.into(),
        ..Query::default()
    }
}

fn ids(hits: &[Hit]) -> Vec<ListingId> {
    hits.iter().map(|h| h.id).collect()
}

fn find(ix: &SearchIndex, q: &Query) -> Vec<ListingId> {
    ids(&ix.search(q, T0 + DAY).unwrap())
}

fn scope(s: &str) -> Scope {
    Scope::parse(s, 6).unwrap()
}

// ---------------------------------------------------------------- analysis

/// Documents what the Dutch Snowball stemmer shipped with tantivy does with
/// the words of the brief. If this changes on an upgrade, bump the analyzer
/// version in `search/schema.rs` so old indexes are rebuilt.
#[test]
fn dutch_stemmer_behaviour() {
    use tantivy::tokenizer::{Language, LowerCaser, SimpleTokenizer, Stemmer, TextAnalyzer};
    let stem = |lang: Language, word: &str| {
        let mut a = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(Stemmer::new(lang))
            .build();
        let mut s = a.token_stream(word);
        assert!(s.advance());
        s.token().text.clone()
    };
    assert_eq!(stem(Language::Dutch, "boormachine"), "boormachine");
    assert_eq!(stem(Language::Dutch, "Boormachines"), "boormachine");
    assert_eq!(stem(Language::Dutch, "fietsen"), "fiets");
    // The stemmer disagrees with itself here (and on kinderwagen/s), which
    // is why the index runs the Dutch stemmer twice: then both give `fiet`.
    assert_eq!(stem(Language::Dutch, "fiets"), "fiet");
    assert_eq!(stem(Language::Dutch, "kinderwagens"), "kinderwagen");
    assert_eq!(stem(Language::Dutch, "kinderwagen"), "kinderwaag");
    assert_eq!(stem(Language::Dutch, "boren"), "boor");
    assert_eq!(stem(Language::Dutch, "boor"), "boor");
    assert_eq!(stem(Language::English, "boormachine"), "boormachin");
    assert_eq!(stem(Language::English, "drills"), "drill");
}

// ---------------------------------------------------------------- matching

#[test]
fn empty_index_and_empty_query_give_empty_results() {
    let ix = SearchIndex::in_memory().unwrap();
    assert_eq!(ix.num_docs(), 0);
    assert!(ix.search(&Query::default(), T0).unwrap().is_empty());
    assert!(ix.search(&text("boormachine"), T0).unwrap().is_empty());
    let filtered = Query {
        kind: Some(Kind::Offer),
        topic: Some("goods".into()),
        near: Some("u173zq".into()),
        ..Query::default()
    };
    assert!(ix.search(&filtered, T0).unwrap().is_empty());
}

#[test]
fn boormachine_finds_boormachine_te_leen() {
    let id = Identity::fixed();
    let drill = offer(&id, 1, "Boormachine te leen");
    let other = offer(&id, 2, "Ladder te leen");
    let (d, _) = (drill.listing_id(), other.listing_id());
    let ix = index_with(&id, vec![drill, other]);
    assert_eq!(find(&ix, &text("boormachine")), vec![d]);
    assert_eq!(find(&ix, &text("Boormachine")), vec![d]);
    assert_eq!(find(&ix, &text("boormachines")), vec![d]);
}

#[test]
fn fiets_finds_fietsen_te_leen_and_back() {
    let id = Identity::fixed();
    let bikes = offer(&id, 1, "Fietsen te leen");
    let bike = offer(&id, 2, "Kinderzitje voor op de fiets");
    let other = offer(&id, 3, "Fietspomp");
    let (b, one) = (bikes.listing_id(), bike.listing_id());
    let ix = index_with(&id, vec![bikes, bike, other]);
    let found = find(&ix, &text("fiets"));
    assert!(found.contains(&b), "fiets must find Fietsen: {found:?}");
    assert!(found.contains(&one));
    let found = find(&ix, &text("fietsen"));
    assert!(found.contains(&b));
    assert!(found.contains(&one), "fietsen must find fiets: {found:?}");
    assert_eq!(find(&ix, &text("fietsje")).len(), 2);
}

#[test]
fn singular_and_plural_meet_in_dutch() {
    let id = Identity::fixed();
    let one = offer(&id, 1, "Kinderwagen");
    let two = offer(&id, 2, "Twee kinderwagens");
    let ix = index_with(&id, vec![one, two]);
    assert_eq!(find(&ix, &text("kinderwagen")).len(), 2);
    assert_eq!(find(&ix, &text("kinderwagens")).len(), 2);
}

#[test]
fn boren_finds_helping_with_drilling() {
    let id = Identity::fixed();
    let mut help = offer(&id, 1, "Klushulp");
    help.body = "Ik kan helpen met boren en ophangen.".into();
    help.exchange = Exchange::Help;
    let h = help.listing_id();
    let ix = index_with(&id, vec![help, offer(&id, 2, "Ladder te leen")]);
    assert_eq!(find(&ix, &text("boren")), vec![h]);
    assert_eq!(find(&ix, &text("helpen")), vec![h]);
    let mut lowercase = offer(&id, 3, "ik kan helpen met boren");
    lowercase.exchange = Exchange::Help;
    let l = lowercase.listing_id();
    ix.upsert(&sign(&id, lowercase)).unwrap();
    ix.commit().unwrap();
    let found = find(&ix, &text("boren"));
    assert_eq!(found.len(), 2);
    assert_eq!(found[0], l, "a title match ranks above a body match");
}

#[test]
fn english_is_stemmed_too() {
    let id = Identity::fixed();
    let drill = offer(&id, 1, "Cordless drill to lend");
    let bikes = offer(&id, 2, "Two bikes for lending");
    let (d, b) = (drill.listing_id(), bikes.listing_id());
    let ix = index_with(&id, vec![drill, bikes]);
    assert_eq!(find(&ix, &text("drills")), vec![d]);
    assert_eq!(find(&ix, &text("bike")), vec![b]);
    assert_eq!(find(&ix, &text("lend")).len(), 2);
}

#[test]
fn typos_are_tolerated_and_exact_matches_rank_first() {
    let id = Identity::fixed();
    let drill = offer(&id, 1, "Boormachine te leen");
    // Newer, so that it would come first if scores were equal.
    let typo = offer(&id, 2, "Boormachien voor klussers");
    let ladder = offer(&id, 3, "Ladder te leen");
    let (d, t) = (drill.listing_id(), typo.listing_id());
    let ix = index_with(&id, vec![drill, typo, ladder]);
    // Two edits allowed from 8 characters: a transposition counts as one.
    assert_eq!(find(&ix, &text("boormachien")), vec![t, d]);
    assert_eq!(find(&ix, &text("boormahcine")), vec![d, t]);
    assert_eq!(find(&ix, &text("boormachine")), vec![d, t]);
    let hits = ix.search(&text("boormachine"), T0 + DAY).unwrap();
    assert!(hits[0].score > hits[1].score);
    // One edit from 4 to 7 characters.
    assert_eq!(find(&ix, &text("ladedr")).len(), 1);
    assert_eq!(find(&ix, &text("lader")).len(), 1);
    assert!(
        find(&ix, &text("ladxyr")).is_empty(),
        "two edits on 6 letters"
    );
    // No fuzzy matching below 4 characters.
    assert!(find(&ix, &text("tr")).is_empty());
}

#[test]
fn a_prefix_finds_dutch_compounds_below_exact_matches() {
    let id = Identity::fixed();
    let drill = offer(&id, 1, "Boormachine te leen");
    let mut bit = offer(&id, 2, "Set houtboren");
    bit.tags = vec!["boor".into()];
    let (d, b) = (drill.listing_id(), bit.listing_id());
    let ix = index_with(&id, vec![drill, bit, offer(&id, 3, "Ladder")]);
    assert_eq!(find(&ix, &text("boor")), vec![b, d]);
    // `boorm` is a prefix of "boormachine", and one edit from the tag "boor".
    assert_eq!(find(&ix, &text("boorm")), vec![d, b]);
}

#[test]
fn title_tags_and_body_are_searched_with_title_first() {
    let id = Identity::fixed();
    let mut in_body = offer(&id, 1, "Spullen");
    in_body.body = "Een grote ladder, drie meter.".into();
    let mut in_tags = offer(&id, 2, "Klimmen");
    in_tags.tags = vec!["ladder".into()];
    let in_title = offer(&id, 3, "Ladder");
    let expect = vec![
        in_title.listing_id(),
        in_tags.listing_id(),
        in_body.listing_id(),
    ];
    let ix = index_with(&id, vec![in_body, in_tags, in_title]);
    assert_eq!(find(&ix, &text("ladder")), expect);
}

#[test]
fn all_words_must_match_then_any_word() {
    let id = Identity::fixed();
    let drill = offer(&id, 1, "Boormachine te leen");
    let mut drill_bits = offer(&id, 2, "Boormachine");
    drill_bits.body = "Met set houtboren".into();
    let saw = offer(&id, 3, "Zaag te leen");
    let (d, db, s) = (
        drill.listing_id(),
        drill_bits.listing_id(),
        saw.listing_id(),
    );
    let ix = index_with(&id, vec![drill, drill_bits, saw]);
    // AND: only the listing with both words.
    assert_eq!(find(&ix, &text("boormachine leen")), vec![d]);
    assert_eq!(find(&ix, &text("zaag leen")), vec![s]);
    // Function words are optional.
    assert_eq!(find(&ix, &text("een zaag")), vec![s]);
    assert_eq!(find(&ix, &text("de boormachine")).len(), 2);
    // Nothing has both: any word will do, best first.
    let found = find(&ix, &text("zaag boormachine"));
    assert_eq!(found.len(), 3);
    assert!(found.contains(&d) && found.contains(&db) && found.contains(&s));
    // Only function words: they are required then.
    assert_eq!(find(&ix, &text("te")).len(), 2);
}

#[test]
fn any_text_is_a_valid_query() {
    let id = Identity::fixed();
    let ix = index_with(&id, vec![offer(&id, 1, "Boormachine te leen")]);
    let long = "boormachine ".repeat(2_000);
    let huge_word = "a".repeat(10_000);
    let nasty = [
        "\"",
        "\"boormachine",
        "title:boormachine",
        "boormachine:",
        ":",
        "(",
        ")",
        "[a TO z]",
        "AND OR NOT",
        "+boormachine -leen",
        "boor*",
        "*",
        "boormachine~2",
        "boormachine^3",
        "\\",
        "/regex/",
        "\0",
        "🔨 boormachine",
        "ÄÖÜ ëï ß",
        "日本語",
        long.as_str(),
        huge_word.as_str(),
        "   ",
        "-",
    ];
    for t in nasty {
        let r = ix.search(&text(t), T0 + DAY);
        assert!(r.is_ok(), "{t:?}: {r:?}");
    }
    assert_eq!(find(&ix, &text("\"boormachine")).len(), 1);
    assert_eq!(find(&ix, &text("title:boormachine")).len(), 1);
    assert_eq!(find(&ix, &text(&long)).len(), 1);
    // No letters or digits: like an empty text.
    assert_eq!(find(&ix, &text("\"")).len(), 1);
    // A word too long to be indexed matches nothing.
    assert!(find(&ix, &text(&huge_word)).is_empty());
}

mod arbitrary_text {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn never_fails(t in ".{0,80}") {
            let id = Identity::fixed();
            let ix = index_with(&id, vec![offer(&id, 1, "Boormachine te leen")]);
            prop_assert!(ix.search(&text(&t), T0).is_ok());
        }
    }
}

// ---------------------------------------------------------------- filters

#[test]
fn kind_and_exchange_filter() {
    let id = Identity::fixed();
    let lend = offer(&id, 1, "Ladder");
    let mut give = offer(&id, 2, "Ladder");
    give.exchange = Exchange::Give;
    let mut want = offer(&id, 3, "Ladder");
    want.kind = Kind::Request;
    let (l, g, w) = (lend.listing_id(), give.listing_id(), want.listing_id());
    let ix = index_with(&id, vec![lend, give, want]);
    let q = |kind, exchange| Query {
        text: "ladder".into(),
        kind,
        exchange,
        ..Query::default()
    };
    assert_eq!(find(&ix, &q(Some(Kind::Request), None)), vec![w]);
    let offers = find(&ix, &q(Some(Kind::Offer), None));
    assert_eq!(offers.len(), 2);
    assert!(offers.contains(&l) && offers.contains(&g));
    assert_eq!(find(&ix, &q(None, Some(Exchange::Give))), vec![g]);
    assert_eq!(
        find(&ix, &q(Some(Kind::Offer), Some(Exchange::Lend))),
        vec![l]
    );
    assert!(find(&ix, &q(Some(Kind::Request), Some(Exchange::Give))).is_empty());
}

#[test]
fn topic_filter_takes_a_key_or_a_group() {
    let id = Identity::fixed();
    let tools = offer(&id, 1, "Set om mee te snijden");
    let mut kitchen = offer(&id, 2, "Messen om mee te snijden");
    kitchen.topics = vec!["goods.kitchen".into()];
    let mut help = offer(&id, 3, "Hulp bij snijden");
    help.topics = vec!["help.chores".into(), "skills".into()];
    let (t, k, h) = (tools.listing_id(), kitchen.listing_id(), help.listing_id());
    let ix = index_with(&id, vec![tools, kitchen, help]);
    let q = |topic: &str| Query {
        text: "snijden".into(),
        topic: Some(topic.into()),
        ..Query::default()
    };
    assert_eq!(find(&ix, &text("snijden")).len(), 3);
    assert_eq!(find(&ix, &q("goods.tools")), vec![t]);
    assert_eq!(find(&ix, &q("goods.kitchen")), vec![k]);
    let goods = find(&ix, &q("goods"));
    assert_eq!(goods.len(), 2);
    assert!(goods.contains(&t) && goods.contains(&k));
    assert_eq!(find(&ix, &q("help")), vec![h]);
    assert_eq!(find(&ix, &q("skills")), vec![h]);
    // Labels in either language resolve to keys.
    assert_eq!(find(&ix, &q("Gereedschap")), vec![t]);
    assert_eq!(find(&ix, &q("kitchen")), vec![k]);
    let err = ix.search(&q("goods.drills"), T0).unwrap_err();
    assert!(matches!(err, SearchError::UnknownTopic(_)), "{err}");
}

#[test]
fn scope_filter_is_a_prefix_by_whole_segments() {
    let id = Identity::fixed();
    let mut oost = offer(&id, 1, "Ladder");
    oost.scope = scope("nl/amsterdam/oost/x");
    let mut city = offer(&id, 2, "Ladder");
    city.scope = scope("nl/amsterdam");
    let mut bos = offer(&id, 3, "Ladder");
    bos.scope = scope("nl/amsterdamse-bos");
    let (o, c, b) = (oost.listing_id(), city.listing_id(), bos.listing_id());
    let ix = index_with(&id, vec![oost, city, bos]);
    let q = |s: &str| Query {
        scope: Some(scope(s)),
        ..Query::default()
    };
    assert_eq!(find(&ix, &q("nl/amsterdam")), vec![c, o]);
    assert_eq!(find(&ix, &q("nl/amsterdam/oost")), vec![o]);
    assert_eq!(find(&ix, &q("nl/amsterdamse-bos")), vec![b]);
    assert_eq!(find(&ix, &q("nl")).len(), 3);
    assert!(find(&ix, &q("nl/amster")).is_empty());
    assert!(find(&ix, &q("nl/amsterdam/oost/x/y")).is_empty());
}

#[test]
fn near_matches_a_geohash_prefix_and_its_neighbours() {
    let id = Identity::fixed();
    let here = |n: u32, g: Option<&str>| {
        let mut l = offer(&id, n, "Ladder");
        l.geohash = g.map(Into::into);
        l
    };
    // gbsuv's neighbours include gbsvj (north) and gbsuu (west).
    let same = here(1, Some("gbsuvq"));
    let north = here(2, Some("gbsvj"));
    let west = here(3, Some("gbsuu1"));
    let far = here(4, Some("u173zq"));
    let none = here(5, None);
    let (s, n, w) = (same.listing_id(), north.listing_id(), west.listing_id());
    let ix = index_with(&id, vec![same, north, west, far, none]);
    let near = |g: &str| Query {
        near: Some(g.into()),
        ..Query::default()
    };
    let found = find(&ix, &near("gbsuv"));
    assert_eq!(found, vec![w, n, s], "newest first");
    assert_eq!(find(&ix, &near("GBSUV")).len(), 3);
    assert_eq!(find(&ix, &near("gbsuvq")), vec![s]);
    // Longer than a listing's geohash can be: cut to 6 characters.
    assert_eq!(find(&ix, &near("gbsuvqxyz")), vec![s]);
    assert_eq!(find(&ix, &near("u17")).len(), 1);
    for bad in ["", "gbsua", "gb suv", "0123456789bcd"] {
        let err = ix.search(&near(bad), T0).unwrap_err();
        assert!(matches!(err, SearchError::InvalidNear(_)), "{bad:?}: {err}");
    }
}

#[test]
fn only_open_unexpired_listings_unless_inactive_included() {
    let id = Identity::fixed();
    let open = offer(&id, 1, "Ladder");
    let mut reserved = offer(&id, 2, "Ladder");
    reserved.status = Status::Reserved;
    let mut closed = offer(&id, 3, "Ladder");
    closed.status = Status::Closed;
    let mut expired = offer(&id, 4, "Ladder");
    expired.expires_at = T0 + 3_600;
    let o = open.listing_id();
    let ix = index_with(&id, vec![open, reserved, closed, expired]);
    let at = |q: &Query, now: i64| ids(&ix.search(q, now).unwrap());
    assert_eq!(at(&text("ladder"), T0 + DAY), vec![o]);
    assert_eq!(at(&Query::default(), T0 + DAY), vec![o]);
    // Before its expiry the expired one is found; at expiry it is not.
    assert_eq!(at(&text("ladder"), T0 + 3_599).len(), 2);
    assert_eq!(at(&text("ladder"), T0 + 3_600), vec![o]);
    let all = Query {
        text: "ladder".into(),
        include_inactive: true,
        ..Query::default()
    };
    assert_eq!(at(&all, T0 + DAY).len(), 4);
    assert_eq!(at(&all, T0 + 90 * DAY).len(), 4);
    assert!(at(&text("ladder"), T0 + 90 * DAY).is_empty());
}

/// A newest-only query (no words, no filter but scope) is answered from the
/// store's creation-time keys (`api::search`); it must show what the index
/// shows, after the API's expiry check: the same listings in the same order.
#[test]
fn the_store_shows_the_newest_as_the_index_does() {
    use buurt_node::store::{SledStore, Store};
    use buurt_protocol::{Period, Recurrence};
    let id = Identity::fixed();
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    let ix = SearchIndex::in_memory().unwrap();
    let scopes = [
        "nl/amsterdam/oost/dapperbuurt",
        "nl/amsterdam/oost",
        "nl/amsterdam/west",
        "nl/amsterdamse-bos",
    ];
    let topics = ["goods.tools", "goods.kitchen", "food.meal", "help.admin"];
    for n in 0..240u32 {
        let mut l = offer(&id, n, "Ladder");
        l.scope = scope(scopes[n as usize % scopes.len()]);
        // Kinds, exchanges and topics vary on other cycles than scope.
        if n % 3 == 0 {
            l.kind = Kind::Request;
        }
        l.exchange = [Exchange::Lend, Exchange::Give, Exchange::Help][n as usize / 2 % 3];
        l.topics = vec![topics[n as usize / 3 % topics.len()].to_owned()];
        if n % 17 == 0 {
            l.topics.push("help.admin".to_owned());
        }
        l.status = match n % 5 {
            0 => Status::Reserved,
            1 => Status::Closed,
            _ => Status::Open,
        };
        if n % 7 == 0 {
            l.expires_at = T0 + DAY / 2;
        }
        if n % 11 == 0 {
            l.extras.every = Some(Recurrence {
                period: Period::Week,
                first: buurt_protocol::calendar::day_of(T0),
                paused: true,
            });
        }
        if n % 13 == 0 {
            l = l.tombstone(l.revision + 1, l.created_at + 30);
        }
        let signed = sign(&id, l);
        store.put(&signed).unwrap();
        ix.upsert(&signed).unwrap();
    }
    ix.commit().unwrap();
    let now = T0 + DAY;
    let unexpired = |ids: Vec<ListingId>| -> Vec<ListingId> {
        ids.into_iter()
            .filter(|i| store.get(i).unwrap().unwrap().listing.expires_at > now)
            .collect()
    };
    let queries = [
        Query::default(),
        text(" -- "),
        Query {
            include_inactive: true,
            ..Query::default()
        },
        Query {
            scope: Some(scope("nl/amsterdam/oost")),
            ..Query::default()
        },
        Query {
            scope: Some(scope("nl/amsterdam")),
            include_inactive: true,
            ..Query::default()
        },
        Query {
            scope: Some(scope("nl/amsterdam/noord")),
            ..Query::default()
        },
        Query {
            kind: Some(Kind::Request),
            ..Query::default()
        },
        Query {
            exchange: Some(Exchange::Give),
            scope: Some(scope("nl/amsterdam")),
            include_inactive: true,
            ..Query::default()
        },
        Query {
            topic: Some("goods".into()),
            ..Query::default()
        },
        Query {
            topic: Some("Paperwork".into()),
            kind: Some(Kind::Offer),
            ..Query::default()
        },
        Query {
            // A label, as people type it.
            topic: Some("Gereedschap".into()),
            exchange: Some(Exchange::Lend),
            ..Query::default()
        },
    ];
    for q in queries {
        assert!(q.is_newest_only(), "{q:?}");
        let every = Query {
            limit: 1_000,
            ..q.clone()
        };
        let from_index = unexpired(ids(&ix.search(&every, now).unwrap()));
        for limit in [1, 7, 20, 1_000] {
            let q = Query { limit, ..q.clone() };
            let rule = q.shows_newest(now);
            let shows = |l: &SignedListing| rule(&l.listing);
            let from_store: Vec<ListingId> = store
                .newest(q.page_size(), 10_000, &shows)
                .unwrap()
                .unwrap()
                .iter()
                .map(|l| l.listing_id())
                .collect();
            let want = &from_index[..from_index.len().min(limit)];
            assert_eq!(from_store, want, "{q:?}");
        }
        if q.scope.is_none() || q.has_listing_filters() {
            assert!(from_index.len() > 7, "{} found: {q:?}", from_index.len());
        }
    }
    assert!(!text("ladder").is_newest_only());
    assert!(!Query {
        near: Some("u173zq".into()),
        ..Query::default()
    }
    .is_newest_only());
    assert!(!Query {
        topic: Some("no such topic".into()),
        ..Query::default()
    }
    .is_newest_only());
}

#[test]
fn a_withdrawn_listing_is_never_found() {
    let id = Identity::fixed();
    let drill = offer(&id, 1, "Boormachine te leen");
    let gone = tombstone(&drill, drill.revision + 1, T0 + 120);
    let ix = index_with(&id, vec![drill, offer(&id, 2, "Ladder")]);
    assert_eq!(find(&ix, &text("boormachine")).len(), 1);
    ix.upsert(&sign(&id, gone.clone())).unwrap();
    ix.commit().unwrap();
    assert_eq!(ix.num_docs(), 1);
    assert!(find(&ix, &text("boormachine")).is_empty());
    let everything = Query {
        include_inactive: true,
        ..Query::default()
    };
    assert_eq!(find(&ix, &everything).len(), 1);
    // A tombstone arriving first is never added either.
    let ix = SearchIndex::in_memory().unwrap();
    ix.upsert(&sign(&id, gone)).unwrap();
    ix.commit().unwrap();
    assert_eq!(ix.num_docs(), 0);
}

// ---------------------------------------------------------------- ordering

#[test]
fn empty_text_lists_newest_first_with_limits() {
    let id = Identity::fixed();
    let listings: Vec<Listing> = (1..=30).map(|n| offer(&id, n, "Ding")).collect();
    let newest: Vec<ListingId> = listings.iter().rev().map(|l| l.listing_id()).collect();
    let ix = index_with(&id, listings);
    let hits = ix.search(&Query::default(), T0 + DAY).unwrap();
    assert_eq!(hits.len(), DEFAULT_LIMIT);
    assert_eq!(ids(&hits), newest[..DEFAULT_LIMIT]);
    assert!(hits.iter().all(|h| h.score == 0.0));
    let five = Query {
        limit: 5,
        ..Query::default()
    };
    assert_eq!(find(&ix, &five), newest[..5]);
    let all = Query {
        limit: usize::MAX,
        ..Query::default()
    };
    assert_eq!(find(&ix, &all).len(), 30);
    let text_all = Query {
        text: "ding".into(),
        limit: 100,
        ..Query::default()
    };
    // Equal scores: newest first.
    assert_eq!(find(&ix, &text_all), newest);
}

// ---------------------------------------------------------------- writes

#[test]
fn upsert_replaces_remove_deletes_clear_empties() {
    let id = Identity::fixed();
    let first = offer(&id, 1, "Boormachine te leen");
    let mut revised = first.clone();
    revised.revision += 1;
    revised.title = "Schroefmachine te leen".into();
    let ix = index_with(&id, vec![first.clone(), offer(&id, 2, "Ladder")]);
    ix.upsert(&sign(&id, revised)).unwrap();
    // Not visible before the commit.
    assert_eq!(find(&ix, &text("boormachine")).len(), 1);
    ix.commit().unwrap();
    assert!(find(&ix, &text("boormachine")).is_empty());
    assert_eq!(find(&ix, &text("schroefmachine")), vec![first.listing_id()]);
    assert_eq!(ix.num_docs(), 2);
    // Upserting the same revision twice keeps one document.
    let again = offer(&id, 2, "Ladder");
    ix.upsert(&sign(&id, again.clone())).unwrap();
    ix.upsert(&sign(&id, again)).unwrap();
    ix.commit().unwrap();
    assert_eq!(ix.num_docs(), 2);

    ix.remove(&first.listing_id()).unwrap();
    ix.remove(&ListingId([9; 16])).unwrap();
    ix.commit().unwrap();
    assert_eq!(ix.num_docs(), 1);
    assert!(find(&ix, &text("schroefmachine")).is_empty());

    ix.upsert(&sign(&id, offer(&id, 3, "Pending"))).unwrap();
    ix.clear().unwrap();
    // Old documents stay searchable until the commit.
    assert_eq!(ix.num_docs(), 1);
    ix.upsert(&sign(&id, offer(&id, 4, "Nieuw"))).unwrap();
    ix.commit().unwrap();
    assert_eq!(ix.num_docs(), 1);
    assert_eq!(find(&ix, &text("nieuw")).len(), 1);
    assert!(find(&ix, &text("pending")).is_empty());
    assert!(find(&ix, &text("ladder")).is_empty());
}

#[test]
fn marker_is_kept_by_later_commits_and_dropped_by_clear() {
    let id = Identity::fixed();
    let ix = SearchIndex::in_memory().unwrap();
    assert_eq!(ix.marker(), None);
    ix.upsert(&sign(&id, offer(&id, 1, "Ladder"))).unwrap();
    ix.commit_with_marker(41).unwrap();
    assert_eq!(ix.marker(), Some(41));
    assert_eq!(ix.num_docs(), 1);
    ix.commit_with_marker(u64::MAX).unwrap();
    assert_eq!(ix.marker(), Some(u64::MAX));
    ix.upsert(&sign(&id, offer(&id, 2, "Ladder"))).unwrap();
    ix.commit().unwrap();
    assert_eq!(ix.marker(), Some(u64::MAX));
    ix.clear().unwrap();
    assert_eq!(ix.marker(), Some(u64::MAX), "until the clear is committed");
    ix.commit().unwrap();
    assert_eq!(ix.marker(), None);
}

#[test]
fn the_index_is_shared_between_threads() {
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<SearchIndex>();
    let id = Identity::fixed();
    let ix = std::sync::Arc::new(SearchIndex::in_memory().unwrap());
    std::thread::scope(|s| {
        for t in 0..4u32 {
            let ix = ix.clone();
            let id = &id;
            s.spawn(move || {
                for n in 0..25 {
                    ix.upsert(&sign(id, offer(id, t * 100 + n, "Ladder")))
                        .unwrap();
                    ix.search(&text("ladder"), T0).unwrap();
                }
            });
        }
    });
    ix.commit().unwrap();
    assert_eq!(ix.num_docs(), 100);
}

// ---------------------------------------------------------------- on disk

/// The listings of the disk scenario, and the checks made on them.
fn scenario(id: &Identity) -> Vec<Listing> {
    let drill = offer(id, 1, "Boormachine te leen");
    let bikes = offer(id, 2, "Fietsen te leen");
    let mut help = offer(id, 3, "Klushulp");
    help.body = "ik kan helpen met boren".into();
    help.exchange = Exchange::Help;
    help.kind = Kind::Request;
    help.topics = vec!["help.chores".into()];
    help.geohash = Some("u173zq".into());
    let mut knives = offer(id, 4, "Messen te leen");
    knives.topics = vec!["goods.kitchen".into()];
    knives.scope = scope("nl/amsterdamse-bos");
    let mut closed = offer(id, 5, "Boormachine gesloten");
    closed.status = Status::Closed;
    vec![drill, bikes, help, knives, closed]
}

fn check_scenario(ix: &SearchIndex, l: &[Listing]) {
    let id = |i: usize| l[i].listing_id();
    assert_eq!(ix.num_docs(), 5);
    assert_eq!(find(ix, &text("boormachine")), vec![id(0)]);
    assert_eq!(find(ix, &text("fiets")), vec![id(1)]);
    assert_eq!(find(ix, &text("boren")), vec![id(2)]);
    assert_eq!(find(ix, &text("boormachien")), vec![id(0)]);
    assert_eq!(find(ix, &text("boor")), vec![id(2), id(0)]);
    assert_eq!(find(ix, &text("leen")).len(), 3);
    let q = |f: fn(&mut Query)| {
        let mut q = text("leen");
        f(&mut q);
        find(ix, &q)
    };
    assert_eq!(q(|q| q.topic = Some("goods.kitchen".into())), vec![id(3)]);
    assert_eq!(q(|q| q.topic = Some("goods".into())).len(), 3);
    assert_eq!(
        q(|q| q.scope = Some(scope("nl/amsterdam"))),
        vec![id(1), id(0)]
    );
    assert_eq!(
        q(|q| q.scope = Some(scope("nl/amsterdamse-bos"))),
        vec![id(3)]
    );
    let mut all = Query {
        kind: Some(Kind::Request),
        ..Query::default()
    };
    assert_eq!(find(ix, &all), vec![id(2)]);
    all.kind = None;
    all.exchange = Some(Exchange::Help);
    all.near = Some("u173zq".into());
    assert_eq!(find(ix, &all), vec![id(2)]);
    let inactive = Query {
        text: "boormachine".into(),
        include_inactive: true,
        ..Query::default()
    };
    assert_eq!(find(ix, &inactive).len(), 2);
}

#[test]
fn disk_index_survives_reopen() {
    let id = Identity::fixed();
    let listings = scenario(&id);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    {
        let ix = SearchIndex::open(&path).unwrap();
        assert_eq!(ix.marker(), None);
        assert!(ix.search(&Query::default(), T0).unwrap().is_empty());
        for l in &listings {
            ix.upsert(&sign(&id, l.clone())).unwrap();
        }
        ix.commit_with_marker(7).unwrap();
        check_scenario(&ix, &listings);
        // One writer per directory.
        assert!(SearchIndex::open(&path).is_err());
    }
    {
        let ix = SearchIndex::open(&path).unwrap();
        assert_eq!(ix.marker(), Some(7));
        check_scenario(&ix, &listings);
        // Changes after reopening persist too.
        let gone = tombstone(&listings[0], listings[0].revision + 1, T0 + 600);
        ix.upsert(&sign(&id, gone)).unwrap();
        ix.commit().unwrap();
        assert!(find(&ix, &text("boormachine")).is_empty());
    }
    let ix = SearchIndex::open(&path).unwrap();
    assert_eq!(ix.marker(), Some(7));
    assert_eq!(ix.num_docs(), 4);
    assert!(find(&ix, &text("boormachine")).is_empty());
}

#[test]
fn in_memory_index_passes_the_disk_scenario() {
    let id = Identity::fixed();
    let listings = scenario(&id);
    let ix = index_with(&id, listings.clone());
    check_scenario(&ix, &listings);
}

#[test]
fn a_damaged_index_is_an_error_not_a_panic() {
    let id = Identity::fixed();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    {
        let ix = SearchIndex::open(&path).unwrap();
        ix.upsert(&sign(&id, offer(&id, 1, "Ladder"))).unwrap();
        ix.commit().unwrap();
    }
    std::fs::write(path.join("meta.json"), b"{ not json").unwrap();
    let err = SearchIndex::open(&path).err().expect("damaged index opens");
    assert!(matches!(err, SearchError::Open { .. }), "{err}");
    assert!(err.to_string().contains(&path.display().to_string()));

    // A file where the directory should be.
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(SearchIndex::open(&file).is_err());
}

// ---------------------------------------------------------------- speed

/// Prints query latencies over 100,000 synthetic listings. Never asserts a
/// time: run it by hand with
/// `cargo test -p buurt-node --release --test search -- --ignored --nocapture`.
#[test]
#[ignore]
fn latency_at_100k_listings() {
    use std::time::Instant;
    const WORDS: &[&str] = &[
        "boormachine",
        "fiets",
        "fietsen",
        "ladder",
        "zaag",
        "hamer",
        "tent",
        "kinderwagen",
        "boeken",
        "soep",
        "maaltijd",
        "helpen",
        "verhuizen",
        "tuin",
        "gras",
        "maaier",
        "schroevendraaier",
        "bakfiets",
        "oppas",
        "hond",
        "uitlaten",
        "computer",
        "hulp",
        "drill",
        "bike",
        "lend",
        "soup",
        "moving",
        "garden",
        "books",
        "te",
        "leen",
        "de",
        "het",
        "een",
        "met",
        "voor",
        "van",
        "nieuw",
        "oud",
        "groot",
        "klein",
        "goed",
        "mooi",
        "snel",
        "morgen",
        "weekend",
        "buurt",
        "straat",
        "plein",
        "markt",
        "school",
        "kast",
        "tafel",
        "stoel",
        "bank",
        "lamp",
        "fietspomp",
        "boren",
        "klussen",
    ];
    const GEO: &[&str] = &["u173zq", "u173zr", "u173zw", "u173zx", "u173zm", "u17b0p"];
    const SCOPES: &[&str] = &[
        "nl/amsterdam/oost/dapperbuurt",
        "nl/amsterdam/oost/oostpoort",
        "nl/amsterdam/west",
        "nl/amsterdam",
        "nl/utrecht/centrum",
    ];
    let topics: Vec<&str> = buurt_protocol::taxonomy::TOPICS
        .iter()
        .map(|t| t.key)
        .collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let id = Identity::fixed();
    let ix = SearchIndex::in_memory().unwrap();
    let started = Instant::now();
    for n in 0..100_000u32 {
        let words = |k: usize, rnd: &mut dyn FnMut(usize) -> usize| {
            (0..k)
                .map(|_| WORDS[rnd(WORDS.len())])
                .collect::<Vec<_>>()
                .join(" ")
        };
        let title_len = 2 + rnd(4);
        let title = words(title_len, &mut rnd);
        let mut l = id.offer(key(n), &title, T0 - 20 * DAY + n as i64 * 20);
        let body_len = 10 + rnd(50);
        l.body = words(body_len, &mut rnd);
        l.topics = vec![topics[rnd(topics.len())].into()];
        l.scope = scope(SCOPES[rnd(SCOPES.len())]);
        l.geohash = Some(GEO[rnd(GEO.len())].into());
        l.kind = if rnd(3) == 0 {
            Kind::Request
        } else {
            Kind::Offer
        };
        l.exchange = Exchange::ALL[rnd(Exchange::ALL.len())];
        if rnd(10) == 0 {
            l.status = Status::Closed;
        }
        ix.upsert(&sign(&id, l)).unwrap();
        if n % 20_000 == 19_999 {
            ix.commit().unwrap();
        }
    }
    ix.commit().unwrap();
    println!(
        "indexed {} listings in {:?}",
        ix.num_docs(),
        started.elapsed()
    );
    let queries: Vec<Query> = vec![
        text("boormachine"),
        text("fiets"),
        text("boor"),
        text("boormachien"),
        text("fietsen te leen"),
        text("de"),
        text("ladder zaag hamer"),
        text("schroevendraaier bakfiets"),
        text("xyzzy"),
        text("help moving garden"),
        Query::default(),
        Query {
            near: Some("u173zq".into()),
            ..Query::default()
        },
        Query {
            text: "tent".into(),
            topic: Some("goods".into()),
            scope: Some(scope("nl/amsterdam/oost")),
            kind: Some(Kind::Offer),
            ..Query::default()
        },
        Query {
            text: "soep maaltijd".into(),
            include_inactive: true,
            limit: 100,
            ..Query::default()
        },
    ];
    let pct = |v: &[std::time::Duration], p: usize| v[(v.len() * p / 100).min(v.len() - 1)];
    let mut all = Vec::new();
    for q in &queries {
        let mut times = Vec::new();
        let mut n = 0;
        for _ in 0..200 {
            let t = Instant::now();
            n = ix.search(q, T0).unwrap().len();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "{:<28} hits {:>3}  p50 {:>9.3?}  p99 {:>9.3?}",
            format!("{:?}", q.text),
            n,
            pct(&times, 50),
            pct(&times, 99),
        );
        all.extend(times);
    }
    all.sort();
    println!(
        "all queries: p50 {:?} p99 {:?} max {:?}",
        pct(&all, 50),
        pct(&all, 99),
        all[all.len() - 1]
    );
}

#[test]
fn filter_share_is_the_narrowest_filter_s_share_of_documents() {
    let id = Identity::fixed();
    let ix = SearchIndex::in_memory().unwrap();
    assert_eq!(ix.filter_share(&Query::default()), 1.0, "no documents");
    for n in 0..20u32 {
        let mut l = offer(&id, n, "Ladder");
        if n < 5 {
            l.kind = Kind::Request;
        }
        l.topics = vec![if n < 2 { "help.admin" } else { "goods.tools" }.to_owned()];
        ix.upsert(&sign(&id, l)).unwrap();
    }
    ix.commit().unwrap();
    let share = |q: Query| ix.filter_share(&q);
    assert_eq!(share(Query::default()), 1.0);
    assert_eq!(
        share(Query {
            kind: Some(Kind::Request),
            ..Query::default()
        }),
        0.25
    );
    // The narrowest of two filters; a group counts its topics.
    assert_eq!(
        share(Query {
            kind: Some(Kind::Request),
            topic: Some("Paperwork".into()),
            ..Query::default()
        }),
        0.1
    );
    assert_eq!(
        share(Query {
            topic: Some("goods".into()),
            ..Query::default()
        }),
        0.9
    );
    assert_eq!(
        share(Query {
            scope: Some(scope("nl/utrecht")),
            ..Query::default()
        }),
        0.0
    );
}
