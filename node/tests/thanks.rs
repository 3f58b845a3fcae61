//! The thanks book in process: what every node refuses (a forged proof, a
//! proof of another pair, a replayed proof, a second thanks for one
//! agreement, a thanks that is not the one its pledge named), what it
//! ignores (a thanker of a node outside its policy), how a member's thanks
//! is held and revealed (when the other member pledges, or 7 days on), and
//! how thanks count (distinct thankers; blocked or revoked thankers not).

use std::sync::Arc;

use buurt_node::config::{Config, FileConfig, Overrides, Policy};
use buurt_node::moderation::{Moderation, Target};
use buurt_node::thanks::{Book, HoldError, Took};
use buurt_protocol::agreement::{AgreementId, Completion};
use buurt_protocol::sample::{Identity, NODE_SEED, SCOPE, T0};
use buurt_protocol::thanks::{Said, SignedThanks, Thanks, REVEAL_AFTER_SECS};
use buurt_protocol::{keys, NodeId};

fn moderation(policy: Policy) -> Arc<Moderation> {
    let file = FileConfig {
        scope: SCOPE.into(),
        policy,
        ..FileConfig::default()
    };
    let config = Arc::new(Config::build(file, Overrides::default()).expect("config"));
    Arc::new(Moderation::in_memory(config, keys::from_seed(NODE_SEED)))
}

/// The sample node's own member, and a member of another node.
fn pair() -> (Identity, Identity) {
    let own = Identity::new(NODE_SEED, [0x02; 32], SCOPE, T0 - 10 * 86_400);
    let other = Identity::new([0x31; 32], [0x32; 32], SCOPE, T0 - 10 * 86_400);
    (own, other)
}

fn completion(p: &Identity, o: &Identity, agreement: u8) -> Completion {
    Completion {
        agreement: AgreementId([agreement; 32]),
        proposer: keys::member_id(&p.member),
        other: keys::member_id(&o.member),
        day: T0 / 86_400,
        group: "goods".into(),
    }
}

fn thanks(
    from: &Identity,
    to: &Identity,
    c: &Completion,
    p: &Identity,
    o: &Identity,
    text: &str,
) -> Thanks {
    Thanks {
        thanker: from.certificate.clone(),
        thanked: to.certificate.clone(),
        completion: c.clone(),
        proposer_sig: c.sign(&p.member),
        other_sig: c.sign(&o.member),
        at: T0,
        said: Said::Thanks {
            minutes: 0,
            text: text.into(),
        },
    }
}

fn book(policy: Policy) -> (Book, Arc<Moderation>) {
    let m = moderation(policy);
    let own = NodeId::from(keys::from_seed(NODE_SEED).verifying_key());
    (Book::in_memory(m.clone(), own).expect("book"), m)
}

#[test]
fn forged_foreign_replayed_and_second_thanks_are_refused() {
    let (b, _) = book(Policy::Open);
    let (p, o) = pair();
    let c = completion(&p, &o, 1);
    let good = thanks(&o, &p, &c, &p, &o, "Dank je")
        .sign(&o.member)
        .unwrap();
    assert!(matches!(b.take(&good.bytes).unwrap(), Took::New { .. }));
    assert_eq!(b.take(&good.bytes).unwrap(), Took::Known);

    // Forged: the proposer's signature made by the thanker.
    let mut forged = thanks(&o, &p, &c, &p, &o, "Dank je");
    forged.proposer_sig = c.sign(&o.member);
    let forged = resign(forged, &o);
    assert!(matches!(b.take(&forged).unwrap(), Took::Invalid(_)));

    // A proof of another pair, used by a stranger to thank one of them.
    let x = Identity::new([0x41; 32], [0x42; 32], SCOPE, T0 - 10 * 86_400);
    let mut foreign = thanks(&o, &p, &c, &p, &o, "Dank je");
    foreign.thanker = x.certificate.clone();
    let foreign = resign(foreign, &x);
    assert!(matches!(b.take(&foreign).unwrap(), Took::Invalid(_)));

    // The same proof again, for a second thanks by the same thanker.
    let again = thanks(&o, &p, &c, &p, &o, "Nog eens dank")
        .sign(&o.member)
        .unwrap();
    assert_eq!(
        b.take(&again.bytes).unwrap(),
        Took::Refused("a second thanks for one agreement")
    );
    // Thanks from the other side of the same agreement is its own.
    let back = thanks(&p, &o, &c, &p, &o, "Graag gedaan")
        .sign(&p.member)
        .unwrap();
    assert!(matches!(b.take(&back.bytes).unwrap(), Took::New { .. }));
    assert_eq!(b.len(), 2);
    assert_eq!(b.thanked_by(&keys::member_id(&p.member)), 1);
    assert_eq!(b.thanked_by(&keys::member_id(&o.member)), 1);
}

/// Signs `t` with `by`'s member key without the checks `Thanks::sign`
/// makes (what a hostile peer would send).
fn resign(t: Thanks, by: &Identity) -> Vec<u8> {
    t.sign_unchecked(&by.member).expect("encodes")
}

#[test]
fn a_pledge_names_its_thanks_and_a_members_thanks_is_held_until_revealed() {
    let (b, m) = book(Policy::Open);
    let (p, o) = pair();
    m.record_member(&p.certificate, "p").unwrap();
    let c = completion(&p, &o, 2);
    let mine = thanks(&p, &o, &c, &p, &o, "Dank voor de ladder")
        .sign(&p.member)
        .unwrap();
    let pledge = mine.pledge(&p.member).unwrap();
    let hold = b.hold(&mine.bytes, &pledge.bytes).unwrap();
    assert_eq!(hold.publish, vec![pledge.bytes.clone()], "the pledge only");
    assert_eq!(hold.reveal_at, Some(T0 + REVEAL_AFTER_SECS));
    assert!(matches!(
        b.hold(&mine.bytes, &pledge.bytes),
        Err(HoldError::Twice)
    ));
    assert_eq!(b.thanked_by(&keys::member_id(&o.member)), 0, "held, unseen");
    // Not yet at 7 days less a second; at 7 days it is revealed.
    assert!(b.due(T0 + REVEAL_AFTER_SECS - 1).unwrap().is_empty());
    assert_eq!(
        b.due(T0 + REVEAL_AFTER_SECS).unwrap(),
        vec![mine.bytes.clone()]
    );
    assert_eq!(b.thanked_by(&keys::member_id(&o.member)), 1);

    // Another agreement: the other member's pledge sets it free at once.
    let c3 = completion(&p, &o, 3);
    let mine = thanks(&p, &o, &c3, &p, &o, "Weer dank")
        .sign(&p.member)
        .unwrap();
    let hold = b
        .hold(&mine.bytes, &mine.pledge(&p.member).unwrap().bytes)
        .unwrap();
    assert!(hold.reveal_at.is_some());
    let theirs = thanks(&o, &p, &c3, &p, &o, "Jij ook")
        .sign(&o.member)
        .unwrap();
    let their_pledge = theirs.pledge(&o.member).unwrap();
    assert_eq!(
        b.take(&their_pledge.bytes).unwrap(),
        Took::New {
            released: vec![mine.bytes.clone()]
        }
    );
    // Their thanks must be the one they pledged.
    let other_text = thanks(&o, &p, &c3, &p, &o, "Iets anders")
        .sign(&o.member)
        .unwrap();
    assert_eq!(
        b.take(&other_text.bytes).unwrap(),
        Took::Refused("not the thanks its pledge named")
    );
    assert!(matches!(b.take(&theirs.bytes).unwrap(), Took::New { .. }));

    // Only this node's own members hand it thanks to hold.
    let c4 = completion(&p, &o, 4);
    let foreign = thanks(&o, &p, &c4, &p, &o, "x").sign(&o.member).unwrap();
    assert!(matches!(
        b.hold(&foreign.bytes, &foreign.pledge(&o.member).unwrap().bytes),
        Err(HoldError::Bad(_))
    ));
}

#[test]
fn thanks_count_per_thanker_and_not_from_blocked_or_unaccepted_nodes() {
    let (b, m) = book(Policy::Open);
    let (p, o) = pair();
    let pm = keys::member_id(&p.member);
    for n in 10..14 {
        let c = completion(&p, &o, n);
        let t = thanks(&o, &p, &c, &p, &o, "Dank").sign(&o.member).unwrap();
        assert!(matches!(b.take(&t.bytes).unwrap(), Took::New { .. }));
    }
    let s = b.standing(&pm).unwrap();
    assert_eq!(s.thanked_by, 1, "one thanker, four thanks");
    assert_eq!(s.thanks.len(), 4);
    assert_eq!(
        s.thanks.iter().filter(|t| t.counted).count(),
        3,
        "of one pair, three in 30 days count towards hours"
    );
    m.block(Target::Member(keys::member_id(&o.member)), "", T0)
        .unwrap();
    assert_eq!(b.thanked_by(&pm), 0, "a blocked thanker does not count");

    // Under the web policy a thanks from a node outside it is ignored.
    let (w, _) = book(Policy::Web);
    let c = completion(&p, &o, 20);
    let t = thanks(&o, &p, &c, &p, &o, "Dank").sign(&o.member).unwrap();
    assert_eq!(w.take(&t.bytes).unwrap(), Took::Ignored);
    assert!(w.is_empty());
}

#[test]
fn sync_pages_cover_every_statement_once() {
    let (b, _) = book(Policy::Open);
    let (p, o) = pair();
    let mut want = std::collections::BTreeSet::new();
    for n in 0..30u8 {
        let c = completion(&p, &o, 100 + n);
        let t = thanks(&o, &p, &c, &p, &o, "Dank").sign(&o.member).unwrap();
        let pl = t.pledge(&o.member).unwrap();
        b.take(&pl.bytes).unwrap();
        b.take(&t.bytes).unwrap();
        want.insert(t.bytes);
        want.insert(pl.bytes);
    }
    let mut got = std::collections::BTreeSet::new();
    let mut after = vec![];
    let mut pages = 0;
    loop {
        let (page, next) = b.page(&after, 7).unwrap();
        pages += 1;
        for s in page {
            assert!(got.insert(s), "a statement twice");
        }
        if next.is_empty() {
            break;
        }
        after = next;
    }
    assert_eq!(got, want);
    assert_eq!(pages, 9, "60 statements in pages of 7");
    let _ = SignedThanks::verify(got.iter().next().unwrap()).unwrap();
}

#[test]
fn when_both_members_are_of_this_node_the_second_thanks_reveals_both() {
    let (b, m) = book(Policy::Open);
    let p = Identity::new(NODE_SEED, [0x02; 32], SCOPE, T0 - 10 * 86_400);
    let o = Identity::new(NODE_SEED, [0x03; 32], SCOPE, T0 - 10 * 86_400);
    m.record_member(&p.certificate, "p").unwrap();
    m.record_member(&o.certificate, "o").unwrap();
    let c = completion(&p, &o, 9);
    let first = thanks(&p, &o, &c, &p, &o, "Dank").sign(&p.member).unwrap();
    let hold = b
        .hold(&first.bytes, &first.pledge(&p.member).unwrap().bytes)
        .unwrap();
    assert!(hold.reveal_at.is_some());
    let second = thanks(&o, &p, &c, &p, &o, "Jij ook")
        .sign(&o.member)
        .unwrap();
    let pledge = second.pledge(&o.member).unwrap();
    let hold = b.hold(&second.bytes, &pledge.bytes).unwrap();
    assert_eq!(hold.reveal_at, None);
    assert_eq!(
        hold.publish,
        vec![pledge.bytes, second.bytes, first.bytes],
        "the pledge, the thanks, and the one held"
    );
    assert_eq!(b.held_len(), 0);
    assert_eq!(b.thanked_by(&keys::member_id(&o.member)), 1);
    assert_eq!(b.thanked_by(&keys::member_id(&p.member)), 1);
}
