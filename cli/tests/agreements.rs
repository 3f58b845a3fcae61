//! Agreements and thanks between real nodes on loopback: a loan between
//! members of two nodes from proposal to both thanks, seen by a third node;
//! help with hours; a one-sided step that does not complete, a cancelled
//! agreement that puts the listing back; an agreement that goes on across
//! a kill -9 of each home node.

use buurt_tests::TestNode;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

fn status_of(node: &TestNode, key: &str) -> String {
    node.ok(&["--json", "status"]).json()[key]
        .as_str()
        .expect("a field of status")
        .to_owned()
}

fn offer(node: &TestNode, title: &str, exchange: &str) -> String {
    node.ok(&["--json", "offer", title, "--exchange", exchange])
        .json()["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

fn listing_status(node: &TestNode, id: &str) -> String {
    node.ok(&["--json", "show", id]).json()["status"]
        .as_str()
        .unwrap_or("?")
        .to_owned()
}

fn agreement(node: &TestNode, id: &str) -> Value {
    let all = node.ok(&["--json", "agreements", "--all"]).json();
    all.as_array()
        .expect("a list")
        .iter()
        .find(|a| a["id"].as_str().is_some_and(|x| x.starts_with(id)))
        .cloned()
        .unwrap_or(Value::Null)
}

fn thanked_by(node: &TestNode, member: &str) -> u64 {
    node.ok(&["--json", "member", member]).json()["thanked_by"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_loan_from_proposal_to_thanks_between_two_nodes() {
    let (a, b, c) = TestNode::line(BIN.as_ref(), SCOPE);
    let (ma, mb) = (status_of(&a, "member_id"), status_of(&b, "member_id"));
    let drill = offer(&a, "Boormachine te leen", "lend");
    assert!(b.finds(&["boormachine"], &drill, true, 20));
    b.ok(&["reply", &drill, "Mag ik hem zaterdag lenen?"]);

    // B proposes; A sees it and accepts; A's listing is reserved, on C too.
    let proposed = b
        .ok(&[
            "--json",
            "propose",
            &drill,
            "--until",
            "3d",
            "--deposit",
            "20",
            "--note",
            "zaterdag 10 uur",
        ])
        .json();
    let id = proposed["agreement"]
        .as_str()
        .expect("an agreement id")
        .to_owned();
    let at_a = agreement(&a, &id[..8]);
    assert_eq!(at_a["stage"], "proposed", "{at_a}");
    assert_eq!(at_a["deposit"], "EUR 20.00", "{at_a}");
    assert_eq!(at_a["note"], "zaterdag 10 uur");
    assert_eq!(at_a["next"], "yours: accept or decline");
    // The proposer cannot accept their own proposal.
    let own = b.cli(&["accept", &id[..8]]);
    assert_eq!(own.code, 1, "{}", own.stdout);
    assert_eq!(listing_status(&a, &drill), "open");
    a.ok(&["accept", &id[..8]]);
    assert_eq!(listing_status(&a, &drill), "reserved");
    assert!(
        TestNode::eventually(20, || listing_status(&c, &drill) == "reserved"),
        "C sees the reserved revision"
    );

    // One side's handover is not a handover.
    a.ok(&["handover", &id[..8]]);
    assert_eq!(agreement(&b, &id[..8])["stage"], "accepted");
    b.ok(&["handover", &id[..8]]);
    assert_eq!(agreement(&a, &id[..8])["stage"], "underway");
    // A loan comes back: `done` is refused, `return` by one side does not
    // complete, a thanks before completion is refused.
    assert_eq!(b.cli(&["done", &id[..8]]).code, 1);
    b.ok(&["return", &id[..8]]);
    assert_eq!(agreement(&a, &id[..8])["stage"], "underway");
    let early = b.cli(&["thank", &id[..8], "Dank!"]);
    assert_eq!(early.code, 1);
    assert!(early.stderr.contains("underway"), "{}", early.stderr);
    a.ok(&["return", &id[..8]]);
    let done = agreement(&b, &id[..8]);
    assert_eq!(done["stage"], "completed", "{done}");
    // The lent drill is open again once the author's CLI has seen it.
    assert_eq!(agreement(&a, &id[..8])["stage"], "completed");
    assert_eq!(listing_status(&a, &drill), "open");

    // Both thank: the first is held unseen, the second reveals both.
    let first = a
        .ok(&["--json", "thank", &id[..8], "Netjes teruggebracht"])
        .json();
    assert_eq!(first["state"], "held", "{first}");
    assert_eq!(thanked_by(&a, &mb), 0, "held: not public yet");
    let twice = a.cli(&["thank", &id[..8], "Nog eens"]);
    assert_eq!(twice.code, 1, "one thanks per agreement per side");
    let second = b
        .ok(&["--json", "thank", &id[..8], "Top boormachine, dank!"])
        .json();
    assert_eq!(second["state"], "published", "{second}");
    assert!(
        TestNode::eventually(20, || thanked_by(&c, &ma) == 1 && thanked_by(&c, &mb) == 1),
        "C counts one thanks for each: A {}, B {}\nA log:\n{}",
        c.ok(&["--json", "member", &ma]).stdout,
        c.ok(&["--json", "member", &mb]).stdout,
        a.log()
    );
    let shown = c.ok(&["show", &drill]).stdout;
    assert!(shown.contains("by 1 neighbour"), "{shown}");
    // Search finds open listings: the reopened revision reaches C's store
    // and then its index (committed within a second).
    assert!(TestNode::eventually(20, || listing_status(&c, &drill) == "open"));
    assert!(c.finds(&["boormachine"], &drill, true, 20));
    let found = c.ok(&["--json", "search", "boormachine"]).json();
    assert_eq!(found[0]["thanked_by"], 1, "{found}");
    let table = c.ok(&["search", "boormachine"]).stdout;
    assert!(table.contains("THANKED BY"), "{table}");
    let text = c.ok(&["member", &ma]).stdout;
    assert!(text.contains("Top boormachine, dank!"), "{text}");
}

#[test]
fn help_with_hours_and_a_cancelled_agreement() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(a.wait_subscribed(SCOPE) && b.wait_subscribed(SCOPE));
    let mb = status_of(&b, "member_id");
    let help = offer(&b, "Hulp bij belastingaangifte", "help");
    assert!(a.finds(&["belastingaangifte"], &help, true, 20));
    let id = a.ok(&["--json", "propose", &help, "--hours", "2"]).json()["agreement"]
        .as_str()
        .unwrap()
        .to_owned();
    b.ok(&["accept", &id[..8]]);
    assert_eq!(listing_status(&b, &help), "reserved");
    // Help starts rather than is handed over; it is done, not returned.
    a.ok(&["handover", &id[..8]]);
    b.ok(&["handover", &id[..8]]);
    assert_eq!(a.cli(&["return", &id[..8]]).code, 1);
    a.ok(&["done", &id[..8], "--hours", "2"]);
    b.ok(&["done", &id[..8], "--hours", "2"]);
    let record = agreement(&a, &id[..8]);
    assert_eq!(record["stage"], "completed", "{record}");
    let hours: Vec<&Value> = record["hours_done"].as_object().unwrap().values().collect();
    assert_eq!(hours, [&Value::from("2"), &Value::from("2")], "{record}");
    b.ok(&["thank", &id[..8], "Fijn geholpen"]);
    a.ok(&["thank", &id[..8], "Heel erg bedankt voor de hulp"]);
    let standing = a.ok(&["--json", "member", &mb]).json();
    assert_eq!(standing["thanked_by"], 1, "{standing}");
    assert_eq!(standing["minutes"], 120, "{standing}");
    assert_eq!(standing["thanks"][0]["minutes"], 120);

    // A cancelled agreement puts the listing back to open.
    let ladder = offer(&b, "Ladder te leen", "lend");
    assert!(a.finds(&["ladder"], &ladder, true, 20));
    let id2 = a.ok(&["--json", "propose", &ladder]).json()["agreement"]
        .as_str()
        .unwrap()
        .to_owned();
    b.ok(&["accept", &id2[..8]]);
    assert_eq!(listing_status(&b, &ladder), "reserved");
    a.ok(&["cancel", &id2[..8]]);
    assert_eq!(agreement(&a, &id2[..8])["stage"], "cancelled");
    b.ok(&["agreements"]);
    assert_eq!(listing_status(&b, &ladder), "open");
}

#[test]
fn an_agreement_goes_on_across_a_kill_9_of_either_home_node() {
    let mut a = TestNode::start(BIN.as_ref(), SCOPE);
    let mut b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(a.wait_subscribed(SCOPE) && b.wait_subscribed(SCOPE));
    let bike = offer(&a, "Bakfiets te leen", "lend");
    assert!(b.finds(&["bakfiets"], &bike, true, 20));
    let id = b.ok(&["--json", "propose", &bike, "--until", "2d"]).json()["agreement"]
        .as_str()
        .unwrap()
        .to_owned();
    // The author's home node dies with the proposal in its mailbox: the
    // proposal was acknowledged, and survives.
    a.kill9();
    a.set_peers(&[b.address()]);
    a.spawn();
    assert!(TestNode::eventually(20, || a.peer_count() == 1 && b.peer_count() == 1));
    assert_eq!(agreement(&a, &id[..8])["stage"], "proposed");
    a.ok(&["accept", &id[..8]]);
    // The proposer's node dies after the acceptance reached it.
    b.kill9();
    b.set_peers(&[a.address()]);
    b.spawn();
    assert!(TestNode::eventually(20, || a.peer_count() == 1 && b.peer_count() == 1));
    assert_eq!(agreement(&b, &id[..8])["stage"], "accepted");
    a.ok(&["handover", &id[..8]]);
    b.ok(&["handover", &id[..8]]);
    a.kill9();
    a.set_peers(&[b.address()]);
    a.spawn();
    assert!(TestNode::eventually(20, || a.peer_count() == 1 && b.peer_count() == 1));
    a.ok(&["return", &id[..8]]);
    b.ok(&["return", &id[..8]]);
    assert_eq!(agreement(&a, &id[..8])["stage"], "completed");
    assert_eq!(agreement(&b, &id[..8])["stage"], "completed");
    assert_eq!(agreement(&b, &id[..8])["events"], 6);
}
