//! Alerts in process: words stemmed as search does, the topic, kind and
//! geohash filters, the author's own listings, a member's hourly share and
//! the bound on watches.

use std::sync::atomic::Ordering;

use buurt_node::watch::{WatchError, Watches, MAX_PER_HOUR, MAX_WATCHES};
use buurt_protocol::sample::{Identity, T0};
use buurt_protocol::{MemberId, SignedListing};

fn listing(
    id: &Identity,
    key: u8,
    title: &str,
    topic: &str,
    geohash: Option<&str>,
) -> SignedListing {
    let mut l = id.offer([key; 16], title, T0);
    l.topics = vec![topic.into()];
    l.geohash = geohash.map(str::to_owned);
    l.sign(&id.member).unwrap()
}

#[test]
fn words_are_stemmed_and_filters_hold() {
    let w = Watches::in_memory().unwrap();
    let author = Identity::fixed();
    let m = MemberId([7; 32]);
    // A plural watch finds the singular, as search does.
    w.add(&m, "fietsen", None, None, None, T0).unwrap();
    w.add(
        &m,
        "tent",
        Some("goods".into()),
        None,
        Some("u17".into()),
        T0,
    )
    .unwrap();
    let fiets = listing(&author, 1, "Kinderfiets te leen", "goods.bikes", None);
    let plain = listing(&author, 2, "Fiets te leen", "goods.bikes", None);
    assert_eq!(w.on_stored(&fiets, T0), 0, "kinderfiets is another word");
    assert_eq!(w.on_stored(&plain, T0), 1);
    let tent_far = listing(&author, 3, "Tent", "goods.camping", Some("u2abcd"));
    let tent_near = listing(&author, 4, "Tent", "goods.camping", Some("u173zq"));
    let tent_food = listing(&author, 5, "Tent", "food.meal", Some("u173zq"));
    assert_eq!(w.on_stored(&tent_far, T0), 0);
    assert_eq!(w.on_stored(&tent_food, T0), 0);
    assert_eq!(w.on_stored(&tent_near, T0), 1);
    let got = w.notifications(&m, 0).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].title, "Fiets te leen");
    assert_eq!(w.notifications(&m, got[0].seq).unwrap().len(), 1);
    // The author's own listings never notify the author.
    let own = MemberId(author.certificate.member.0);
    w.add(&own, "fiets", None, None, None, T0).unwrap();
    assert_eq!(w.on_stored(&plain, T0), 1, "only the other member");
}

#[test]
fn a_member_gets_at_most_the_hours_share_and_a_bounded_number_of_watches() {
    let w = Watches::in_memory().unwrap();
    let author = Identity::fixed();
    let m = MemberId([8; 32]);
    w.add(&m, "ladder", None, None, None, T0).unwrap();
    for k in 0..70u8 {
        w.on_stored(&listing(&author, k, "Ladder", "goods.tools", None), T0);
    }
    assert_eq!(w.notifications(&m, 0).unwrap().len(), MAX_PER_HOUR as usize);
    assert_eq!(w.dropped.load(Ordering::Relaxed), 10);
    // The next hour has room again.
    assert_eq!(
        w.on_stored(
            &listing(&author, 99, "Ladder", "goods.tools", None),
            T0 + 3_600
        ),
        1
    );
    for n in 0..MAX_WATCHES - 1 {
        w.add(&m, &format!("woord{n}"), None, None, None, T0)
            .unwrap();
    }
    assert!(matches!(
        w.add(&m, "een te veel", None, None, None, T0),
        Err(WatchError::TooMany)
    ));
    assert!(
        w.add(&m, "", None, None, None, T0).is_err(),
        "a watch needs something"
    );
}
