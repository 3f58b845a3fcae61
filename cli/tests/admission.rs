//! Admission: a resident with their own key, on their own data directory,
//! posts through a node after its operator admitted them.

use buurt_tests::{buurt, Run, TestNode};

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

/// Runs the CLI as a resident: their own data directory, node `a`'s API.
fn as_resident(a: &TestNode, home: &std::path::Path, args: &[&str]) -> Run {
    let mut full = vec!["--api", a.api.as_str()];
    full.extend_from_slice(args);
    buurt(BIN.as_ref(), home, &full)
}

#[test]
fn a_resident_posts_through_the_node_after_admission() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(a.wait_subscribed(SCOPE));
    let home = tempfile::tempdir().unwrap();
    let resident = |args: &[&str]| as_resident(&a, home.path(), args);

    // Their own key, made on their own machine.
    let me = resident(&["--json", "id"]);
    assert_eq!(me.code, 0, "{}", me.stderr);
    let me = me.json();
    assert_eq!(me["created"], true, "{me}");
    let member = me["member_id"].as_str().unwrap().to_owned();

    // Not admitted yet: a clear refusal, nothing posted.
    let r = resident(&["offer", "Ladder te leen"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("not admitted") && r.stderr.contains("buurt admit"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert_eq!(a.ok(&["--json", "status"]).json()["listings"], 0);

    // The operator admits them; the member list has them and the operator.
    a.ok(&["admit", &member, "--name", "Fatima", "--valid", "1y"]);
    let list = a.ok(&["--json", "members"]).json();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["member_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&member.as_str()) && ids.len() == 2, "{list}");

    // Now the post goes through; the certificate is fetched on the way.
    let posted = resident(&["--json", "offer", "Ladder te leen"]);
    assert_eq!(posted.code, 0, "{}", posted.stderr);
    assert!(posted
        .stderr
        .contains("Fetched your membership certificate"));
    let id = posted.json()["id"].as_str().unwrap().to_owned();
    assert!(a.finds(&["ladder"], &id, true, 10));
    assert!(
        TestNode::eventually(20, || {
            let there = b.cli(&["show", &id]).code == 0;
            if !there {
                b.cli(&["sync"]);
            }
            there
        }),
        "and it federates"
    );
    let shown = a.ok(&["--json", "show", &id]).json();
    assert_eq!(shown["author"], member.as_str(), "{shown}");
    let node = a.ok(&["--json", "status"]).json()["node_id"].clone();
    assert_eq!(
        resident(&["--json", "id"]).json()["certificate"]["node_id"],
        node
    );

    // Operator commands stay the operator's.
    let r = resident(&["members"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("operator"), "{}", r.stderr);
}

#[test]
fn a_revocation_on_one_node_makes_the_other_drop_the_listings() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(a.wait_subscribed(SCOPE));
    let home = tempfile::tempdir().unwrap();
    let resident = |args: &[&str]| as_resident(&a, home.path(), args);
    let member = resident(&["--json", "id"]).json()["member_id"]
        .as_str()
        .unwrap()
        .to_owned();
    a.ok(&["admit", &member]);
    let posted = resident(&["--json", "offer", "Ladder te leen"]);
    assert_eq!(posted.code, 0, "{}", posted.stderr);
    let id = posted.json()["id"].as_str().unwrap().to_owned();
    assert!(b.finds(&["ladder"], &id, true, 20), "B has the listing");

    let r = a.ok(&["--json", "revoke", &member]).json();
    assert_eq!(r["removed"], 1, "{r}");
    assert!(a.cli(&["show", &id]).code == 1, "A dropped it");
    assert!(
        TestNode::eventually(20, || b.cli(&["show", &id]).code == 1),
        "B dropped it; B's log:\n{}",
        b.log()
    );
    assert!(b.finds(&["ladder"], &id, false, 10));
    assert_eq!(b.ok(&["--json", "status"]).json()["revocations"], 1);

    // The resident's certificate is still on their machine, but a new post
    // is refused with a clear reason.
    let again = resident(&["offer", "Boormachine te leen"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("revoked"), "{}", again.stderr);
}

#[test]
fn a_node_that_missed_a_revocation_gets_it_by_sync() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let mut b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(a.wait_subscribed(SCOPE));
    let home = tempfile::tempdir().unwrap();
    let resident = |args: &[&str]| as_resident(&a, home.path(), args);
    let member = resident(&["--json", "id"]).json()["member_id"]
        .as_str()
        .unwrap()
        .to_owned();
    a.ok(&["admit", &member]);
    let posted = resident(&["--json", "offer", "Ladder te leen"]);
    let id = posted.json()["id"].as_str().unwrap().to_owned();
    assert!(b.finds(&["ladder"], &id, true, 20));

    // B is offline when A revokes; it hears of it by sync when it is back.
    assert_eq!(b.signal("TERM"), Some(0));
    a.ok(&["revoke", &member]);
    b.spawn();
    assert!(
        TestNode::eventually(30, || b.cli(&["show", &id]).code == 1),
        "B still has the listing; B's log:\n{}",
        b.log()
    );
    assert_eq!(b.ok(&["--json", "status"]).json()["revocations"], 1);
}

/// Regression: a member key of small order (here the identity point, `01`
/// and 31 zero bytes) could be admitted, though anyone can forge its
/// signatures and every node refuses its listings (`weak_key`).
#[test]
fn a_member_key_of_small_order_is_not_admitted() {
    use serde_json::{json, Value};
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = buurt_protocol::MemberId(identity).to_string();

    // `buurt admit` refuses it before asking the node, in one line.
    let r = a.cli(&["admit", &weak, "--name", "Niemand"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("small order") && r.stderr.contains(&weak),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);

    // The node refuses it too, whatever client asks.
    let token = std::fs::read_to_string(a.path().join("operator.token")).unwrap();
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let mut answer = agent
        .post(a.url("/v1/admin/members"))
        .header("Authorization", format!("Bearer {}", token.trim()))
        .send_json(json!({"member_id": weak, "name": "Niemand"}))
        .unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    let v: Value = answer.body_mut().read_json().unwrap();
    assert_eq!(v["reason"], "weak_member_key", "{v}");
    let message = v["error"].as_str().unwrap();
    assert!(
        message.contains("small order") && message.contains(&weak),
        "{v}"
    );

    // Only the operator is a member.
    let list = a.ok(&["--json", "members"]).json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}
