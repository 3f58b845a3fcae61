//! Blocks: an operator keeps a member's listings off their node, on every
//! path, with real `buurt node` processes on loopback.

use buurt_node::datadir::DataDir;
use buurt_protocol::keys::SigningKey;
use buurt_protocol::limits::DAY;
use buurt_protocol::{Certificate, Exchange, Kind, Listing, ListingKey, Scope, Status, Terms};
use buurt_tests::{buurt, TestNode};

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

fn offer(node: &TestNode, title: &str) -> String {
    node.ok(&["--json", "offer", title]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn stores(node: &TestNode, id: &str) -> bool {
    node.cli(&["show", id]).code == 0
}

#[test]
fn a_block_removes_and_keeps_out_on_every_path() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(a.wait_subscribed(SCOPE));
    let member = a.ok(&["--json", "id"]).json()["member_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let first = offer(&a, "Ladder te leen");
    assert!(b.finds(&["ladder"], &first, true, 20), "gossip works");

    // The block removes what B stores of that member, from store and index.
    let r = b
        .ok(&["--json", "block", &member, "--reason", "spam"])
        .json();
    assert_eq!(r["removed"], 1, "{r}");
    assert_eq!(r["kind"], "member", "{r}");
    assert!(!stores(&b, &first));
    assert!(b.finds(&["ladder"], &first, false, 10));

    // New listings are refused by gossip and by sync.
    let second = offer(&a, "Boormachine te leen");
    assert!(TestNode::eventually(20, || {
        b.ok(&["--json", "status"]).json()["ingest"]["rejected"]["blocked"]
            .as_u64()
            .unwrap_or(0)
            >= 1
    }));
    assert!(TestNode::eventually(20, || b.cli(&["--json", "sync"]).code == 0));
    // The barrier: a finished session that fetched both blocked listings
    // from A (B lacked them) and stored neither.
    assert!(
        TestNode::eventually(20, || b.sync_of(SCOPE).is_some_and(|s| {
            s["in_progress"] == false && s["fetched"] == 2 && s["stored"] == 0
        })),
        "{:?}",
        b.sync_of(SCOPE)
    );
    assert!(!stores(&b, &second), "a blocked listing came in");
    assert!(!stores(&b, &first), "a blocked listing came back by sync");
    // And B does not pass them on: the status counts none.
    assert_eq!(b.ok(&["--json", "status"]).json()["listings"], 0);

    let list = b.ok(&["--json", "blocks"]).json();
    assert_eq!(list[0]["target"], member.as_str(), "{list}");
    assert_eq!(list[0]["reason"], "spam", "{list}");
    assert_eq!(b.ok(&["--json", "status"]).json()["blocks"], 1);

    // Lifted: new listings arrive again, and sync brings back the others.
    b.ok(&["unblock", &member]);
    let third = offer(&a, "Fiets te leen");
    assert!(b.finds(&["fiets"], &third, true, 20));
    assert!(TestNode::eventually(20, || b.cli(&["--json", "sync"]).code == 0));
    assert!(TestNode::eventually(20, || stores(&b, &first) && stores(&b, &second)));
}

#[test]
fn blocking_needs_the_operator_token_and_a_real_id() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let member = a.ok(&["--json", "id"]).json()["member_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A resident with their own data directory, talking to A's API.
    let resident = tempfile::tempdir().unwrap();
    // A resident may block a member from their own mail (on their device)…
    let r = buurt(
        BIN.as_ref(),
        resident.path(),
        &["--api", &a.api, "block", &member],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("from writing to you"), "{}", r.stdout);
    assert_eq!(a.ok(&["--json", "blocks"]).json(), serde_json::json!([]));
    // …but blocking on the node (here: a node) needs the operator token.
    let node = a.ok(&["--json", "status"]).json()["node_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = buurt(
        BIN.as_ref(),
        resident.path(),
        &["--api", &a.api, "block", &node],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("operator"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);

    let bad = a.cli(&["block", "bm-not-an-id"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("member id"), "{}", bad.stderr);
    let none = a.cli(&["unblock", &member]);
    assert_eq!(none.code, 1);
    assert!(none.stderr.contains("not blocked"), "{}", none.stderr);
    assert_eq!(a.ok(&["--json", "blocks"]).json(), serde_json::json!([]));
}

/// A resident admitted by `node` (a certificate signed with its node key).
fn resident(node: &TestNode, n: u8) -> (SigningKey, Certificate) {
    let node_key = DataDir::new(node.path()).node_key().unwrap();
    let key = buurt_protocol::keys::from_seed([n; 32]);
    let now = buurt_node::clock::now();
    let cert = Certificate::issue(
        &node_key,
        buurt_protocol::keys::member_id(&key),
        Scope::parse(SCOPE, 6).unwrap(),
        now - DAY,
        now + DAY,
    );
    (key, cert)
}

/// Posts a listing signed by `who` through the API; the HTTP status and
/// the error reason, if any.
fn post(node: &TestNode, who: &(SigningKey, Certificate), n: u32, now: i64) -> (u16, String) {
    let mut key = [0u8; 16];
    key[12..].copy_from_slice(&n.to_be_bytes());
    let l = Listing {
        author: buurt_protocol::keys::member_id(&who.0),
        key: ListingKey(key),
        revision: now as u64,
        created_at: now,
        expires_at: now + 7 * DAY,
        kind: Kind::Offer,
        exchange: Exchange::Give,
        status: Status::Open,
        scope: Scope::parse(SCOPE, 6).unwrap(),
        topics: vec!["goods.tools".into()],
        title: format!("Spul {n}"),
        body: String::new(),
        tags: vec![],
        geohash: None,
        terms: Terms::default(),
        extras: Default::default(),
        certificate: who.1.clone(),
    }
    .sign(&who.0)
    .unwrap();
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let mut r = agent
        .post(node.url("/v1/listings"))
        .send_json(serde_json::json!({ "signed": hex::encode(l.bytes()) }))
        .unwrap();
    let status = r.status().as_u16();
    let body: serde_json::Value = r.body_mut().read_json().unwrap_or_default();
    (status, body["reason"].as_str().unwrap_or("").to_owned())
}

#[test]
fn a_flooding_author_is_cut_off_while_others_keep_posting() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(a.wait_subscribed(SCOPE));
    let (flood, calm) = (resident(&a, 0x61), resident(&a, 0x62));
    // One creation time for all: the limit counts per clock hour.
    let at = buurt_node::clock::now();
    let mut stored = 0;
    let mut refused = Vec::new();
    for n in 0..40 {
        match post(&a, &flood, n, at) {
            (201, _) => stored += 1,
            (_, reason) => refused.push(reason),
        }
    }
    // The default limit is 30 listings an hour per author.
    assert_eq!(stored, 30, "{refused:?}");
    assert_eq!(refused.len(), 10);
    assert!(refused.iter().all(|r| r == "rate_limited"), "{refused:?}");
    for n in 0..5 {
        assert_eq!(
            post(&a, &calm, n, at).0,
            201,
            "another author is not limited"
        );
    }
    let s = a.ok(&["--json", "status"]).json();
    assert_eq!(s["listings"], 35, "{s}");
    assert_eq!(s["ingest"]["rejected"]["rate_limited"], 10, "{s}");
    // Only what A stored travels: the other node gets the same 35, by
    // gossip or, for any gossip missed, by sync.
    assert!(
        TestNode::eventually(20, || {
            let done = b.ok(&["--json", "status"]).json()["listings"] == 35;
            if !done {
                b.cli(&["sync"]);
            }
            done
        }),
        "{}",
        b.ok(&["--json", "status"]).json()
    );
    assert_eq!(b.ok(&["--json", "status"]).json()["listings"], 35);
}

#[test]
fn allowlist_refuses_an_untrusted_nodes_members_until_trusted() {
    use buurt_node::config::FileConfig;
    use buurt_node::config::Policy;
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let mut b = TestNode::start(BIN.as_ref(), SCOPE);
    assert_eq!(b.signal("TERM"), Some(0));
    let path = b.path().join("config.toml");
    let mut file = FileConfig::load(&path).unwrap();
    file.policy = Policy::Allowlist;
    buurt_node::datadir::write_secret(&path, file.to_toml().as_bytes()).unwrap();
    b.set_peers(&[a.address()]);
    b.spawn();
    assert!(a.wait_subscribed(SCOPE));
    assert_eq!(b.ok(&["--json", "status"]).json()["policy"], "allowlist");

    let first = offer(&a, "Ladder te leen");
    assert!(TestNode::eventually(20, || {
        b.ok(&["--json", "status"]).json()["ingest"]["rejected"]["untrusted_node"]
            .as_u64()
            .unwrap_or(0)
            >= 1
    }));
    assert!(!stores(&b, &first));
    // B's own members are always accepted.
    let own = offer(&b, "Eigen ladder");
    assert!(stores(&b, &own));

    let a_node = a.ok(&["--json", "status"]).json()["node_id"]
        .as_str()
        .unwrap()
        .to_owned();
    b.ok(&["trust", &a_node]);
    let listed = b.ok(&["--json", "trusted"]).json();
    assert_eq!(listed["trusted"][0]["node_id"], a_node.as_str(), "{listed}");
    let second = offer(&a, "Boormachine te leen");
    assert!(b.finds(&["boormachine"], &second, true, 20));
    // What was refused before comes with the next sync.
    assert!(TestNode::eventually(20, || b.cli(&["--json", "sync"]).code == 0));
    assert!(TestNode::eventually(20, || stores(&b, &first)));

    b.ok(&["untrust", &a_node]);
    let third = offer(&a, "Fiets te leen");
    assert!(TestNode::eventually(20, || {
        b.ok(&["--json", "status"]).json()["ingest"]["rejected"]["untrusted_node"]
            .as_u64()
            .unwrap_or(0)
            >= 2
    }));
    assert!(!stores(&b, &third));
}
