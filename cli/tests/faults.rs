//! Faults found by attacking a node the way real machines and neighbours
//! will: each test here failed on the code before its fix.

use buurt_node::datadir::DataDir;
use buurt_protocol::{Exchange, Kind, Listing, ListingKey, SignedListing, Status, Terms};
use buurt_tests::TestNode;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

/// The node operator's member key and certificate.
fn operator(
    node: &TestNode,
) -> (
    buurt_protocol::keys::SigningKey,
    buurt_protocol::Certificate,
) {
    let dir = DataDir::new(node.path());
    let key = dir.member_key().unwrap();
    let cert = dir
        .certificate()
        .unwrap()
        .expect("the operator's certificate");
    (key, cert)
}

/// A listing by the node's operator, signed with their key.
fn operator_listing(node: &TestNode, title: &str, created: i64, expires: i64) -> SignedListing {
    let (key, cert) = operator(node);
    signed_by(&key, &cert, title, created, expires)
}

fn signed_by(
    key: &buurt_protocol::keys::SigningKey,
    cert: &buurt_protocol::Certificate,
    title: &str,
    created: i64,
    expires: i64,
) -> SignedListing {
    Listing {
        author: buurt_protocol::keys::member_id(key),
        key: ListingKey(buurt_node::datadir::random_bytes::<16>().unwrap()),
        revision: created as u64,
        created_at: created,
        expires_at: expires,
        kind: Kind::Offer,
        exchange: Exchange::Lend,
        status: Status::Open,
        scope: cert.scope.clone(),
        topics: vec!["goods.tools".into()],
        title: title.into(),
        body: String::new(),
        tags: vec![],
        geohash: None,
        terms: Terms::default(),
        certificate: cert.clone(),
    }
    .sign(key)
    .unwrap()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Posts signed bytes; returns the HTTP status.
fn post(node: &TestNode, l: &SignedListing) -> u16 {
    post_with(&agent(), &node.url("/v1/listings"), l)
}

fn post_with(agent: &ureq::Agent, url: &str, l: &SignedListing) -> u16 {
    let body = serde_json::json!({ "signed": hex::encode(l.bytes()) });
    agent
        .post(url)
        .send_json(&body)
        .expect("answered")
        .status()
        .as_u16()
}

fn get_status(node: &TestNode, path: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .get(node.url(path))
        .call()
        .expect("answered")
        .status()
        .as_u16()
}

#[test]
fn an_expired_listing_is_gone_on_every_route_before_the_sweep() {
    let node = TestNode::start(BIN.as_ref(), SCOPE);
    let now = buurt_node::clock::now();
    let brief = operator_listing(&node, "Ladder voor even", now - 10, now + 2);
    let lasting = operator_listing(&node, "Ladder voor lang", now - 10, now + 86_400);
    assert_eq!(post(&node, &brief), 201);
    assert_eq!(post(&node, &lasting), 201);
    let id = brief.listing_id().to_string();
    assert_eq!(get_status(&node, &format!("/v1/listings/{id}")), 200);
    // Its expiry passes; the sweep (every 300 s) has not run.
    assert!(
        TestNode::eventually(10, || get_status(&node, &format!("/v1/listings/{id}"))
            == 410),
        "served as expired"
    );
    let shown = node.cli(&["show", &id]);
    assert_eq!(shown.code, 1);
    assert!(shown.stderr.contains("expired on"), "{}", shown.stderr);
    let all = node.search_ids(&["ladder", "--all"]);
    let kept = lasting.listing_id().to_string();
    assert_eq!(
        all,
        vec![kept.clone()],
        "search --all: the other ladder only"
    );
    let mine = node.ok(&["--json", "mine"]).json();
    let ids: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![kept.as_str()], "mine");
}

/// One author may post this burst: only the per-peer gossip rate is tested.
fn lift_author_limits(f: &mut buurt_node::config::FileConfig) {
    f.rate_limits.author_per_hour = 1_000_000;
    f.rate_limits.author_per_day = 1_000_000;
}

#[test]
fn a_burst_from_an_honest_peer_arrives_whole_without_a_ban() {
    const POSTS: usize = 8_000;
    let a = TestNode::start_configured(BIN.as_ref(), SCOPE, &[], lift_author_limits);
    let b = TestNode::start_configured(BIN.as_ref(), SCOPE, &[a.address()], lift_author_limits);
    assert!(a.wait_subscribed(SCOPE));
    let (key, cert) = operator(&a);
    let now = buurt_node::clock::now();
    let listings: Vec<SignedListing> = (0..POSTS)
        .map(|n| signed_by(&key, &cert, &format!("Ding {n}"), now - 60, now + 86_400))
        .collect();
    // The burst: four posters at once, as fast as A answers.
    let url = a.url("/v1/listings");
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for part in listings.chunks(POSTS / 4) {
            let url = url.clone();
            s.spawn(move || {
                let agent = agent();
                for l in part {
                    assert_eq!(post_with(&agent, &url, l), 201);
                }
            });
        }
    });
    let burst = started.elapsed();
    eprintln!(
        "{POSTS} posts in {:.1} s ({:.0}/s)",
        burst.as_secs_f64(),
        POSTS as f64 / burst.as_secs_f64()
    );
    let on_b = || {
        b.ok(&["--json", "status"]).json()["listings"]
            .as_u64()
            .unwrap_or(0)
    };
    assert!(
        TestNode::eventually(30, || on_b() == POSTS as u64),
        "B has {} of {POSTS} 30 s after the burst; B's log:\n{}",
        on_b(),
        b.log()
    );
    eprintln!(
        "B had all {POSTS} {:.1} s after the burst ended",
        started.elapsed().as_secs_f64() - burst.as_secs_f64()
    );
    // No ban, no strike: A is still B's peer, and nothing A sent was invalid.
    assert_eq!(b.peer_count(), 1, "B's log:\n{}", b.log());
    assert!(!b.log().contains("invalid messages"), "{}", b.log());
    let rejected = &b.ok(&["--json", "status"]).json()["ingest"]["rejected"];
    assert_eq!(rejected, &serde_json::json!({}), "{rejected}");
}
