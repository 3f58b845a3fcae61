//! Faults found by attacking a node the way real machines and neighbours
//! will: each test here failed on the code before its fix.

use buurt_node::datadir::DataDir;
use buurt_protocol::{Exchange, Kind, Listing, ListingKey, SignedListing, Status, Terms};
use buurt_tests::TestNode;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

/// A listing by the node's operator, signed with their key.
fn operator_listing(node: &TestNode, title: &str, created: i64, expires: i64) -> SignedListing {
    let dir = DataDir::new(node.path());
    let key = dir.member_key().unwrap();
    let cert = dir
        .certificate()
        .unwrap()
        .expect("the operator's certificate");
    Listing {
        author: buurt_protocol::keys::member_id(&key),
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
        certificate: cert,
    }
    .sign(&key)
    .unwrap()
}

/// Posts signed bytes; returns the HTTP status.
fn post(node: &TestNode, l: &SignedListing) -> u16 {
    let body = serde_json::json!({ "signed": hex::encode(l.bytes()) });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .post(node.url("/v1/listings"))
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
