//! The impact figures of a generated neighbourhood: 200 members, 1,000
//! listings, 300 first reactions, 120 agreements accepted and 90 completed,
//! with known hours and pairs. The expected figures are computed here from
//! the generator's own record, not by the code under test; then a member
//! opts out and their agreements leave the figures.

use std::collections::{BTreeMap, BTreeSet};

use buurt_node::impact::report::{report, By};
use buurt_node::impact::{AgreementReport, Ledger, People, Reached, Report, Rules};
use buurt_protocol::calendar::{self, start_of};
use buurt_protocol::sample::{Identity, SCOPE, T0};
use buurt_protocol::{keys, Kind, MemberId};

const TOPICS: [&str; 3] = ["goods.tools", "food.meal", "help.chores"];
const EXCHANGES: [&str; 3] = ["lend", "meal", "help"];

fn value(r: &Report, table: &str, row: &str, column: &str) -> Option<u64> {
    r.figures
        .iter()
        .find(|f| f.table == table && f.row == row && f.column == column)
        .unwrap_or_else(|| panic!("{table}/{row}/{column}"))
        .value
}

fn round5(v: u64) -> u64 {
    (v + 2) / 5 * 5
}

#[test]
fn a_generated_neighbourhood_gives_the_figures_its_record_says() {
    let ledger = Ledger::in_memory(b"the node's secret").unwrap();
    let first_day = calendar::from_civil(2026, 11, 1).unwrap();
    let people: Vec<Identity> = (0..200u32)
        .map(|i| {
            let b = i.to_be_bytes();
            let seed = |tag: u8| {
                let mut s = [tag; 32];
                s[..4].copy_from_slice(&b);
                s
            };
            Identity::new(seed(1), seed(2), SCOPE, T0 - 86_400)
        })
        .collect();
    let id = |i: usize| keys::member_id(&people[i].member);

    // 1,000 listings: author j % 200, offers and requests in turn, three
    // topic groups in turn, posted on one of the first 20 days of November.
    let mut listings = Vec::new();
    for j in 0..1_000usize {
        let who = &people[j % 200];
        let day = first_day + (j % 20) as u32;
        let mut l = who.offer(
            [
                (j % 256) as u8,
                (j / 256) as u8,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
                7,
            ],
            "Iets",
            start_of(day) + 36_000,
        );
        l.kind = if j % 2 == 0 {
            Kind::Offer
        } else {
            Kind::Request
        };
        l.topics = vec![TOPICS[j % 3].into()];
        if j % 3 == 2 {
            l.exchange = buurt_protocol::Exchange::Help;
        }
        l.expires_at = l.created_at + 30 * 86_400;
        let signed = l.sign(&who.member).unwrap();
        ledger.listing(&signed, true).unwrap();
        listings.push((signed, day));
    }
    // 300 first reactions, j % 72 hours after the day began.
    for (j, (l, day)) in listings.iter().enumerate().take(300) {
        ledger
            .reaction(&l.listing_id(), start_of(*day) + (j % 72) as i64 * 3_600)
            .unwrap();
    }
    // 120 agreements about listing 8b + b % 2 (offers and requests in
    // turn): its author and the author of agreement b + 2 (of the same
    // kind, so that many both give and receive), who proposed; agreements 60 to 89 are the same pairs as 0 to 29 again
    // (b = k - 60); the first 90 completed, help for 2 hours.
    let mut record = Vec::new();
    for k in 0..120usize {
        let b = if (60..90).contains(&k) { k - 60 } else { k };
        let j = 8 * b + b % 2;
        let (l, day) = &listings[j];
        let author = j % 200;
        let other = (8 * (b + 2) + b % 2) % 200;
        let done = k < 90;
        let r = AgreementReport {
            agreement: hex::encode([k as u8; 32]),
            listing: l.listing_id(),
            proposer: id(other),
            other: id(author),
            reached: if done {
                Reached::Completed
            } else {
                Reached::Accepted
            },
            accepted: day + 1,
            completed: done.then_some(day + 3),
            minutes: if j % 3 == 2 { 120 } else { 0 },
            exchange: EXCHANGES[j % 3].into(),
            group: TOPICS[j % 3].split('.').next().unwrap().into(),
            across_nodes: false,
        };
        // Both members report it; it counts once.
        assert!(ledger.agreement(&id(author), &r).unwrap());
        assert!(ledger.agreement(&id(other), &r).unwrap());
        let (giver, receiver) = if l.listing.kind == Kind::Offer {
            (author, other)
        } else {
            (other, author)
        };
        record.push((k, j, giver, receiver, done));
    }
    let last = first_day + 29;
    let facts = ledger.facts().unwrap();
    // 12 members joined in November, 9 in October.
    let joined: Vec<([u8; 8], u32)> = (0..21)
        .map(|i| {
            (
                ledger.pseudonym(&id(i)),
                if i < 12 {
                    first_day + 3
                } else {
                    first_day - 10
                },
            )
        })
        .collect();
    // 13 members wrote letters in October (when nobody posted), member 0
    // on two days: active then, though they posted nothing.
    for i in 0..13 {
        ledger.wrote(&id(i), first_day - 5).unwrap();
    }
    ledger.wrote(&id(0), first_day - 6).unwrap();
    let members = People {
        joined,
        wrote: ledger.writers().unwrap(),
    };
    assert_eq!(members.wrote.len(), 14);
    let deals = ledger.deals().unwrap();
    let r = report(
        &facts,
        &deals,
        &members,
        first_day,
        last,
        By::Topic,
        &Rules::default(),
    );
    assert_eq!(
        value(&r, "members", "total", "joined"),
        Some(10),
        "12 rounds to 10"
    );
    assert_eq!(value(&r, "members", "total", "active"), Some(200));
    let helpers: BTreeSet<usize> = (0..1_000usize)
        .filter(|j| j % 2 == 0 && j % 3 == 2)
        .map(|j| j % 200)
        .collect();
    assert_eq!(
        value(&r, "members", "total", "first_time_helpers"),
        Some(round5(helpers.len() as u64))
    );
    let by_month = report(
        &facts,
        &deals,
        &members,
        first_day - 31,
        last,
        By::Month,
        &Rules::default(),
    );
    // October's 9 are hidden; November's 12 too, or October would be the
    // total (21, shown as 20) less November.
    assert_eq!(value(&by_month, "members", "total", "joined"), Some(20));
    assert_eq!(value(&by_month, "members", "2026-11", "joined"), None);
    assert_eq!(
        value(&by_month, "members", "2026-10", "joined"),
        None,
        "9 residents"
    );
    assert_eq!(
        value(&by_month, "members", "2026-10", "active"),
        Some(15),
        "13 who only wrote letters, rounded"
    );

    // Listings: 500 offers and 500 requests from 200 residents; each group
    // a third of them.
    assert_eq!(value(&r, "listings", "total", "offers"), Some(500));
    assert_eq!(value(&r, "listings", "total", "requests"), Some(500));
    for (g, group) in ["goods", "food", "help"].iter().enumerate() {
        let offers = (0..1_000).filter(|j| j % 3 == g && j % 2 == 0).count() as u64;
        assert_eq!(
            value(&r, "listings", group, "offers"),
            Some(round5(offers)),
            "{group}"
        );
    }
    // Requests answered within 48 hours: those of the first 300 with
    // j % 72 <= 48.
    let answered = (0..300usize).filter(|j| j % 2 == 1 && j % 72 <= 48).count() as u64;
    assert_eq!(
        value(&r, "requests", "total", "answered_within_48h"),
        Some(round5(answered))
    );
    assert_eq!(
        value(&r, "funnel", "total", "with_first_reaction"),
        Some(300)
    );

    // Agreements, from the record.
    assert_eq!(value(&r, "agreements", "total", "accepted"), Some(120));
    assert_eq!(value(&r, "agreements", "total", "completed"), Some(90));
    let hours: u64 = record
        .iter()
        .filter(|x| x.4 && x.1 % 3 == 2)
        .map(|_| 2)
        .sum();
    assert_eq!(
        value(&r, "agreements", "total", "hours_of_help"),
        Some(round5(hours))
    );
    let lent = record.iter().filter(|x| x.4 && x.1 % 3 == 0).count() as u64;
    assert_eq!(
        value(&r, "agreements", "total", "items_lent"),
        Some(round5(lent))
    );
    let meals = record.iter().filter(|x| x.4 && x.1 % 3 == 1).count() as u64;
    assert_eq!(
        value(&r, "agreements", "total", "meals_shared"),
        Some(round5(meals))
    );
    let gave: BTreeSet<usize> = record.iter().filter(|x| x.4).map(|x| x.2).collect();
    let got: BTreeSet<usize> = record.iter().filter(|x| x.4).map(|x| x.3).collect();
    let both = gave.intersection(&got).count() as u64;
    let mut pairs: BTreeMap<(usize, usize), u32> = BTreeMap::new();
    for x in record.iter().filter(|x| x.4) {
        *pairs.entry((x.2.min(x.3), x.2.max(x.3))).or_default() += 1;
    }
    let repeat = pairs.values().filter(|n| **n > 1).count() as u64;
    let shown = |n: u64, residents: u64| (residents >= 10).then(|| round5(n));
    assert_eq!(
        value(&r, "reciprocity", "total", "gave_and_received"),
        shown(both, both)
    );
    assert_eq!(
        value(&r, "reciprocity", "total", "repeat_pairs"),
        shown(repeat, 2 * repeat)
    );

    // The picture draws what the tables show, and says the rules.
    let svg = buurt_node::impact::plot::svg(&r).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("</svg>"));
    assert!(svg.contains("goods") && svg.contains("food") && svg.contains("help"));
    assert!(
        svg.matches("<rect").count() > 12,
        "bars for 3 groups in two charts"
    );
    assert!(svg.contains("10 distinct residents"));
    if std::env::var_os("BUURT_SCREENSHOTS").is_some() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/screenshots/impact.svg"
        );
        std::fs::write(path, &svg).unwrap();
    }

    // A member opts out: their agreements leave every figure.
    let leaver = record[0].2;
    ledger.opt_out(&id(leaver), true).unwrap();
    let theirs = record
        .iter()
        .filter(|x| x.4 && (x.2 == leaver || x.3 == leaver))
        .count() as u64;
    assert!(theirs > 0);
    let r = report(
        &ledger.facts().unwrap(),
        &ledger.deals().unwrap(),
        &members,
        first_day,
        last,
        By::Topic,
        &Rules::default(),
    );
    assert_eq!(
        value(&r, "agreements", "total", "completed"),
        Some(round5(90 - theirs))
    );
    // And what they report from now on is not taken.
    let (_, j, _, _, _) = record[0];
    let again = AgreementReport {
        agreement: hex::encode([0xEE; 32]),
        listing: listings[j].0.listing_id(),
        proposer: id((leaver + 1) % 200),
        other: id(leaver),
        reached: Reached::Completed,
        accepted: first_day,
        completed: Some(first_day),
        minutes: 0,
        exchange: "lend".into(),
        group: "goods".into(),
        across_nodes: false,
    };
    assert!(!ledger.agreement(&id(leaver), &again).unwrap());
    // No member id in the export.
    let json = serde_json::to_string(&r).unwrap();
    for i in 0..200 {
        assert!(!json.contains(&id(i).to_string()));
    }
    let _: MemberId = id(0);
}
