//! Blocks: an operator keeps a member's listings off their node, on every
//! path, with real `buurt node` processes on loopback.

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
    assert!(TestNode::eventually(20, || a.peer_count() == 1));
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
    assert!(TestNode::eventually(20, || b
        .ok(&["--json", "sync"])
        .json()["sessions"]
        == 1));
    std::thread::sleep(std::time::Duration::from_secs(2));
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
    assert!(TestNode::eventually(20, || b
        .ok(&["--json", "sync"])
        .json()["sessions"]
        == 1));
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
    let r = buurt(
        BIN.as_ref(),
        resident.path(),
        &["--api", &a.api, "block", &member],
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
