//! The policy stage in process: blocks, trust, revocations and author
//! rates, through `Moderation` alone and through the ingest pipeline, and
//! the rates rebuilt from the store when a node opens again.

use std::sync::Arc;

use buurt_node::config::{Config, FileConfig, Overrides, Policy, RateLimits};
use buurt_node::datadir::DataDir;
use buurt_node::ingest::{Outcome, Reason, Revoked, Source};
use buurt_node::moderation::{Moderation, Target};
use buurt_node::run::Parts;
use buurt_node::store::{Candidates, SledStore, Store};
use buurt_protocol::revocation::Revocation;
use buurt_protocol::sample::{Identity, NODE_SEED, SCOPE, T0};
use buurt_protocol::{keys, Listing, SignedListing};

fn config(policy: Policy, per_hour: u32) -> Config {
    let file = FileConfig {
        scope: SCOPE.into(),
        policy,
        rate_limits: RateLimits {
            author_per_hour: per_hour,
            author_per_day: 1_000,
            ..Default::default()
        },
        ..FileConfig::default()
    };
    Config::build(file, Overrides::default()).expect("valid config")
}

/// A pipeline in memory whose node key is the sample node's, so that the
/// sample identity is one of its own members.
fn parts(policy: Policy, per_hour: u32) -> Parts {
    let mut p =
        Parts::in_memory(config(policy, per_hour), keys::from_seed(NODE_SEED)).expect("parts");
    p.announcements.close();
    p
}

/// A member of another node, in the sample scope.
fn stranger() -> Identity {
    Identity::new([0x51; 32], [0x52; 32], SCOPE, T0 - 10 * 86_400)
}

fn listing(id: &Identity, key: u8, title: &str, at: i64) -> Listing {
    let mut l = id.offer([key; 16], title, at);
    l.created_at = at;
    l
}

fn signed(id: &Identity, l: Listing) -> SignedListing {
    l.sign(&id.member).expect("signs")
}

fn submit(p: &Parts, l: &SignedListing) -> Outcome {
    p.ingest
        .submit(l.bytes(), Source::Gossip, T0)
        .expect("no node failure")
}

#[test]
fn a_block_refuses_and_purges_an_author_or_a_whole_node() {
    let p = parts(Policy::Open, 100);
    let (own, other) = (Identity::fixed(), stranger());
    let mine = signed(&own, listing(&own, 1, "Ladder", T0));
    let theirs = signed(&other, listing(&other, 2, "Fiets", T0));
    assert!(matches!(submit(&p, &mine), Outcome::Stored(_)));
    assert!(matches!(submit(&p, &theirs), Outcome::Stored(_)));

    // A member block: refused from now on, and what is stored goes.
    let member = Target::Member(other.listing_author());
    assert!(p.moderation.block(member, "spam", T0).expect("saved"));
    assert!(!p.moderation.block(member, "again", T0).expect("saved"));
    let purged = p
        .ingest
        .purge(member.candidates(), |l| member.covers(l))
        .expect("purges");
    assert_eq!(purged, 1);
    assert_eq!(p.store.len().expect("len"), 1);
    let next = signed(&other, listing(&other, 3, "Bakfiets", T0));
    assert_eq!(submit(&p, &next), Outcome::Rejected(Reason::Blocked));
    assert_eq!(
        p.moderation.admits(&next.listing, T0, Source::Gossip),
        Err(Reason::Blocked)
    );

    // Lifted: accepted again.
    assert!(p.moderation.unblock(member).expect("saved"));
    assert!(!p.moderation.unblock(member).expect("saved"));
    assert!(matches!(submit(&p, &next), Outcome::Stored(_)));

    // A node block covers every member that node admitted.
    let node = Target::Node(other.certificate.node);
    p.moderation.block(node, "", T0).expect("saved");
    let purged = p
        .ingest
        .purge(node.candidates(), |l| node.covers(l))
        .expect("purges");
    assert_eq!(purged, 1, "the stranger's listing stored since the unblock");
    assert_eq!(
        p.moderation.admits(&theirs.listing, T0, Source::Gossip),
        Err(Reason::Blocked)
    );
    assert_eq!(
        p.moderation.admits(&mine.listing, T0, Source::Gossip),
        Ok(())
    );
    assert_eq!(p.moderation.blocks().len(), 1);
}

#[test]
fn allowlist_accepts_own_and_trusted_nodes_only() {
    let p = parts(Policy::Allowlist, 100);
    let (own, other) = (Identity::fixed(), stranger());
    let mine = signed(&own, listing(&own, 1, "Ladder", T0));
    let theirs = signed(&other, listing(&other, 2, "Fiets", T0));
    assert!(matches!(submit(&p, &mine), Outcome::Stored(_)));
    let node = other.certificate.node;
    assert_eq!(
        submit(&p, &theirs),
        Outcome::Rejected(Reason::Untrusted(node.to_string()))
    );
    assert!(p.moderation.trust(node, "", T0).expect("saved").0);
    assert_eq!(p.moderation.trusted().len(), 1);
    assert!(matches!(submit(&p, &theirs), Outcome::Stored(_)));
    assert!(p.moderation.untrust(node, T0 + 1).expect("saved").0);
    let later = signed(&other, listing(&other, 3, "Bakfiets", T0));
    assert!(matches!(
        submit(&p, &later),
        Outcome::Rejected(Reason::Untrusted(_))
    ));
    assert_eq!(p.moderation.policy(), Policy::Allowlist);
}

#[test]
fn a_revocation_purges_and_keeps_the_member_out_on_every_path() {
    let p = parts(Policy::Open, 100);
    let other = stranger();
    let before = signed(&other, listing(&other, 1, "Ladder", T0));
    assert!(matches!(submit(&p, &before), Outcome::Stored(_)));
    let rev = Revocation {
        node: other.certificate.node,
        member: other.listing_author(),
        certificate: other.certificate.fingerprint(),
        revoked_at: T0,
    }
    .sign(&other.node);
    assert_eq!(
        p.ingest
            .take_revocation(&rev, Source::Gossip)
            .expect("taken"),
        Revoked::New { removed: 1 }
    );
    assert_eq!(
        p.ingest.take_revocation(&rev, Source::Sync).expect("taken"),
        Revoked::Known
    );
    let mut forged = rev.clone();
    let n = forged.len();
    forged[n - 1] ^= 1;
    assert_eq!(
        p.ingest
            .take_revocation(&forged, Source::Gossip)
            .expect("checked"),
        Revoked::Invalid
    );
    assert_eq!(p.store.len().expect("len"), 0);
    assert_eq!(p.moderation.revocation_count(), 1);
    assert_eq!(p.moderation.revocations(10), vec![rev]);
    let after = signed(&other, listing(&other, 2, "Fiets", T0));
    assert_eq!(submit(&p, &after), Outcome::Rejected(Reason::Revoked));
    let page = p
        .ingest
        .submit_batch(&[before.bytes().to_vec()], Source::Sync, T0)
        .expect("no node failure");
    assert_eq!(page, vec![Outcome::Rejected(Reason::Revoked)]);
}

#[test]
fn rates_count_per_hour_and_never_count_withdrawals() {
    let p = parts(Policy::Open, 3);
    let id = Identity::fixed();
    let hour = T0 - T0.rem_euclid(3_600);
    let at = |k: u8| hour + i64::from(k);
    for k in 0..3 {
        let l = signed(&id, listing(&id, k, "Ding", at(k)));
        assert!(matches!(submit(&p, &l), Outcome::Stored(_)), "#{k}");
    }
    let fourth = signed(&id, listing(&id, 3, "Ding", at(3)));
    assert_eq!(
        submit(&p, &fourth),
        Outcome::Rejected(Reason::RateLimited {
            per: "hour",
            limit: 3
        })
    );
    // A withdrawal is always let through, and does not count.
    let first = listing(&id, 0, "Ding", at(0));
    let tomb = signed(&id, first.tombstone(first.revision + 1, at(4)));
    assert!(matches!(submit(&p, &tomb), Outcome::Stored(_)));
    // The next hour starts afresh (by its creation and by its arrival).
    let next = hour + 3_600;
    let next_hour = signed(&id, listing(&id, 5, "Ding", next));
    assert!(matches!(
        p.ingest
            .submit(next_hour.bytes(), Source::Gossip, next)
            .expect("ok"),
        Outcome::Stored(_)
    ));
    // Another author is not limited by this one.
    let other = stranger();
    let theirs = signed(&other, listing(&other, 6, "Fiets", at(6)));
    assert!(matches!(submit(&p, &theirs), Outcome::Stored(_)));
}

#[test]
fn rates_are_rebuilt_from_the_store_when_a_node_opens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = DataDir::new(dir.path());
    buurt_node::run::init(&data, Some(SCOPE), None).expect("init");
    let config = Arc::new(config(Policy::Open, 3));
    let id = Identity::fixed();
    let hour = T0 - T0.rem_euclid(3_600);
    let stored: Vec<SignedListing> = (0..3)
        .map(|k| signed(&id, listing(&id, k, "Ding", hour + i64::from(k))))
        .collect();
    {
        let store = SledStore::open(&data.db_path()).expect("opens");
        for l in &stored {
            store.put(l).expect("put");
        }
        // A tombstone is stored too, and must not count.
        let gone = listing(&id, 9, "Weg", hour);
        let tomb = signed(&id, gone.tombstone(gone.revision + 1, hour + 5));
        store.put(&tomb).expect("put");
        store.flush().expect("flush");
    }
    let store = SledStore::open(&data.db_path()).expect("opens again");
    let m = Moderation::open(&data, config.clone(), &store, T0).expect("opens");
    let fourth = signed(&id, listing(&id, 3, "Ding", hour + 3));
    assert_eq!(
        m.admits(&fourth.listing, T0, Source::Gossip),
        Err(Reason::RateLimited {
            per: "hour",
            limit: 3
        }),
        "the three stored this hour still count after the restart"
    );
    assert_eq!(m.rates().rebuild(&store, T0).expect("rebuilds"), 3);
    // Listings older than the rebuild window are not read back.
    let long_ago = m
        .rates()
        .rebuild(&store, T0 + 10 * 86_400)
        .expect("rebuilds");
    assert_eq!(long_ago, 0);
    assert_eq!(m.admits(&fourth.listing, T0, Source::Gossip), Ok(()));
    // A node starts without them and reads them alongside: what it counted
    // meanwhile is kept, and the store's are added.
    let m = Moderation::open_unrated(&data, config.clone()).expect("opens");
    let early = signed(&id, listing(&id, 7, "Ding", hour + 7));
    assert_eq!(m.admits(&early.listing, T0, Source::Gossip), Ok(()));
    m.stored(&early.listing, T0, Source::Gossip);
    assert_eq!(m.rates().rebuild_alongside(&store, T0).expect("reads"), 3);
    assert_eq!(
        m.admits(&fourth.listing, T0, Source::Gossip),
        Err(Reason::RateLimited {
            per: "hour",
            limit: 3
        }),
        "the store's three and the one counted meanwhile"
    );
    // And the candidates of a purge come from the store by author.
    let by_author = store
        .candidates(Candidates::Author(id.listing_author()))
        .expect("reads");
    assert_eq!(by_author.len(), 4);
}

/// The member id of a sample identity.
trait Author {
    fn listing_author(&self) -> buurt_protocol::MemberId;
}

impl Author for Identity {
    fn listing_author(&self) -> buurt_protocol::MemberId {
        keys::member_id(&self.member)
    }
}

#[test]
fn back_dating_does_not_escape_the_limit_but_a_synced_backlog_comes_in_whole() {
    let p = parts(Policy::Open, 3);
    let id = Identity::fixed();
    let hour = T0 - T0.rem_euclid(3_600);
    // Three posts this hour: the limit.
    for k in 0..3 {
        let l = signed(&id, listing(&id, k, "Ding", hour + i64::from(k)));
        assert!(matches!(submit(&p, &l), Outcome::Stored(_)), "#{k}");
    }
    // Each further one claims an hour earlier than the one before: every
    // claimed hour has room, but they all arrive in this one.
    for back in 1..5u8 {
        let claimed = hour - 3_600 * i64::from(back);
        let l = signed(&id, listing(&id, 10 + back, "Ding", claimed));
        assert_eq!(
            submit(&p, &l),
            Outcome::Rejected(Reason::RateLimited {
                per: "hour",
                limit: 3
            }),
            "claimed {back} h back"
        );
    }
    // A peer's backlog of another author, three an hour over four hours,
    // fetched by sync now: all of it is stored.
    let other = stranger();
    let backlog: Vec<Vec<u8>> = (0..12u8)
        .map(|k| {
            let at = hour - 3_600 * i64::from(k / 3) + i64::from(k);
            signed(&other, listing(&other, 40 + k, "Fiets", at))
                .bytes()
                .to_vec()
        })
        .collect();
    let out = p
        .ingest
        .submit_batch(&backlog, Source::Sync, T0)
        .expect("no node failure");
    assert_eq!(out.len(), 12);
    assert!(
        out.iter().all(|o| matches!(o, Outcome::Stored(_))),
        "{out:?}"
    );
    // The same twelve posted directly would have been cut off at three.
    let fresh = parts(Policy::Open, 3);
    let stored = backlog
        .iter()
        .filter(|b| {
            matches!(
                fresh.ingest.submit(b, Source::Gossip, T0).expect("ok"),
                Outcome::Stored(_)
            )
        })
        .count();
    assert_eq!(stored, 3);
}

#[test]
fn the_web_accepts_nodes_within_the_trust_depth_and_drops_them_when_withdrawn() {
    use buurt_node::ingest::Vouched;
    use buurt_protocol::vouch::Vouch;
    let statement = |by: &Identity, subject: &Identity, at: i64, vouches: bool| {
        Vouch {
            voucher: buurt_protocol::NodeId([0; 32]),
            subject: subject.certificate.node,
            at,
            vouches,
            note: String::new(),
        }
        .sign(&by.node)
        .unwrap()
    };
    for depth in [1u8, 2] {
        let file = FileConfig {
            scope: SCOPE.into(),
            policy: Policy::Web,
            trust_depth: depth,
            ..FileConfig::default()
        };
        let config = Config::build(file, Overrides::default()).expect("valid config");
        let mut p = Parts::in_memory(config, keys::from_seed(NODE_SEED)).expect("parts");
        p.announcements.close();
        let b = stranger();
        let c = Identity::new([0x61; 32], [0x62; 32], SCOPE, T0 - 10 * 86_400);
        let from_c = signed(&c, listing(&c, 1, "Fiets", T0));
        let c_node = c.certificate.node;
        assert_eq!(
            submit(&p, &from_c),
            Outcome::Rejected(Reason::Unvouched(c_node.to_string()))
        );
        assert_eq!(p.ingest.stats().ignored["unvouched_node"], 1);
        // This node vouches for B; B vouches for C (heard from a peer).
        let (new, bytes, news) = p.moderation.trust(b.certificate.node, "", T0).unwrap();
        assert!(new);
        p.ingest.vouch_taken(&bytes, news, Source::Local).unwrap();
        let taken = p
            .ingest
            .take_vouch(&statement(&b, &c, T0, true), Source::Gossip)
            .unwrap();
        if depth == 1 {
            assert_eq!(taken, Vouched::Known, "B's vouches do not reach this far");
            assert!(matches!(
                submit(&p, &from_c),
                Outcome::Rejected(Reason::Unvouched(_))
            ));
            continue;
        }
        assert_eq!(
            taken,
            Vouched::New {
                grew: true,
                removed: 0
            }
        );
        assert!(matches!(submit(&p, &from_c), Outcome::Stored(_)));
        // B withdraws: C leaves the web and its member's listing goes.
        let gone = p
            .ingest
            .take_vouch(&statement(&b, &c, T0 + 1, false), Source::Gossip)
            .unwrap();
        assert_eq!(
            gone,
            Vouched::New {
                grew: false,
                removed: 1
            }
        );
        assert!(p.store.get(&from_c.listing_id()).unwrap().is_none());
        // A statement that does not verify is invalid.
        let mut bad = statement(&b, &c, T0 + 2, true);
        bad[10] ^= 1;
        assert_eq!(
            p.ingest.take_vouch(&bad, Source::Gossip).unwrap(),
            Vouched::Invalid
        );
    }
}

#[test]
fn a_node_whose_members_flood_is_held_back_per_node() {
    let file = FileConfig {
        scope: SCOPE.into(),
        policy: Policy::Open,
        rate_limits: RateLimits {
            node_per_hour: 3,
            node_new_members_per_day: 2,
            ..Default::default()
        },
        ..FileConfig::default()
    };
    let config = Config::build(file, Overrides::default()).expect("valid config");
    let mut p = Parts::in_memory(config, keys::from_seed(NODE_SEED)).expect("parts");
    p.announcements.close();
    // Three members of one other node (same node seed).
    let member = |n: u8| Identity::new([0x51; 32], [0x60 + n; 32], SCOPE, T0 - 10 * 86_400);
    let (m1, m2, m3) = (member(1), member(2), member(3));
    assert!(matches!(
        submit(&p, &signed(&m1, listing(&m1, 1, "Een", T0))),
        Outcome::Stored(_)
    ));
    assert!(matches!(
        submit(&p, &signed(&m2, listing(&m2, 2, "Twee", T0))),
        Outcome::Stored(_)
    ));
    // A third new member of that node today: held back.
    assert_eq!(
        submit(&p, &signed(&m3, listing(&m3, 3, "Drie", T0))).name(),
        "rejected"
    );
    assert!(matches!(
        submit(&p, &signed(&m3, listing(&m3, 3, "Drie", T0))),
        Outcome::Rejected(Reason::NodeRateLimited(_))
    ));
    // A known member may post; the node's third listing of the hour is
    // the last.
    assert!(matches!(
        submit(&p, &signed(&m1, listing(&m1, 4, "Vier", T0))),
        Outcome::Stored(_)
    ));
    assert!(matches!(
        submit(&p, &signed(&m2, listing(&m2, 5, "Vijf", T0))),
        Outcome::Rejected(Reason::NodeRateLimited(_))
    ));
    // This node's own members answer to the author limits only.
    let own = Identity::fixed();
    for k in 10..16 {
        assert!(matches!(
            submit(&p, &signed(&own, listing(&own, k, "Eigen", T0))),
            Outcome::Stored(_)
        ));
    }
}
