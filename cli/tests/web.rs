//! The web of vouching nodes between real nodes on loopback, under the
//! `web` policy: a chain of vouches within the trust depth, a withdrawal
//! that drops listings, and a new node that joins the web and whose earlier
//! listing then arrives by catch-up sync.

use buurt_node::config::Policy;
use buurt_tests::TestNode;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

fn web_node(peers: &[String], depth: u8) -> TestNode {
    TestNode::start_configured(BIN.as_ref(), SCOPE, peers, |c| {
        c.policy = Policy::Web;
        c.trust_depth = depth;
    })
}

fn status(n: &TestNode) -> Value {
    n.ok(&["--json", "status"]).json()
}

fn node_id(n: &TestNode) -> String {
    status(n)["node_id"].as_str().unwrap().to_owned()
}

fn ignored(n: &TestNode) -> u64 {
    status(n)["ingest"]["ignored"]["unvouched_node"]
        .as_u64()
        .unwrap_or(0)
}

fn offer(n: &TestNode, title: &str) -> String {
    n.ok(&["--json", "offer", title]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn stores(n: &TestNode, id: &str) -> bool {
    n.cli(&["--json", "show", id]).code == 0
}

#[test]
fn a_chain_of_vouches_reaches_as_deep_as_the_trust_depth() {
    let b = web_node(&[], 2);
    let a = web_node(&[b.address()], 2);
    let c = web_node(&[b.address()], 2);
    // D follows only one step of vouches.
    let d = web_node(&[b.address()], 1);
    assert!(TestNode::eventually(20, || b.peer_count() == 3));
    for n in [&a, &b, &c, &d] {
        assert!(n.wait_subscribed(SCOPE));
    }
    let (bid, cid) = (node_id(&b), node_id(&c));
    let s = c.ok(&["status"]).stdout;
    assert!(
        s.contains("no node vouches for this node yet") && s.contains(&cid),
        "{s}"
    );
    a.ok(&["trust", &bid]);
    d.ok(&["trust", &bid]);
    b.ok(&["trust", &cid, "--note", "buurtcentrum"]);
    // A hears B's vouch for C.
    assert!(
        TestNode::eventually(20, || status(&a)["web_nodes"] == 3),
        "{}",
        status(&a)
    );
    let peers = b.ok(&["--json", "peers"]).json();
    let c_row = peers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["node_id"] == cid.as_str())
        .expect("C is a peer of B")
        .clone();
    assert_eq!(c_row["accepted"], true);
    assert_eq!(c_row["vouched_by"], serde_json::json!([bid]));

    let from_c = offer(&c, "Ladder te leen bij C");
    assert!(
        a.finds(&["ladder"], &from_c, true, 20),
        "A: two vouches away"
    );
    // D got it from B too, and ignored it: one vouch is all D follows.
    assert!(
        TestNode::eventually(20, || ignored(&d) >= 1),
        "{}",
        status(&d)
    );
    assert!(!stores(&d, &from_c));

    // B withdraws its vouch: A drops C's member's listing.
    let r = b.ok(&["untrust", &cid]);
    assert!(r.stdout.contains("withdrawn"), "{}", r.stdout);
    assert!(
        TestNode::eventually(20, || !stores(&a, &from_c)),
        "A dropped it"
    );
    assert_eq!(status(&a)["web_nodes"], 2);
}

#[test]
fn a_new_node_is_ignored_until_vouched_and_then_its_listing_comes_by_sync() {
    let b = web_node(&[], 2);
    let a = web_node(&[b.address()], 2);
    let n = web_node(&[b.address()], 2);
    assert!(TestNode::eventually(20, || b.peer_count() == 2));
    for x in [&a, &b, &n] {
        assert!(x.wait_subscribed(SCOPE));
    }
    a.ok(&["trust", &node_id(&b)]);
    let early = offer(&n, "Bakfiets te leen");
    // B ignores it (N is a stranger), so it goes no further.
    assert!(
        TestNode::eventually(20, || ignored(&b) >= 1),
        "{}",
        status(&b)
    );
    assert!(!stores(&b, &early) && !stores(&a, &early));

    let nid = node_id(&n);
    b.ok(&["trust", &nid]);
    let s = n.ok(&["status"]).stdout;
    assert!(
        TestNode::eventually(20, || n.ok(&["status"]).stdout.contains(&node_id(&b))),
        "N sees who vouches for it: {s}"
    );
    // No resend: B fetches it from N by sync, A from B.
    assert!(
        TestNode::eventually(30, || stores(&b, &early)),
        "{}",
        b.log()
    );
    assert!(
        TestNode::eventually(30, || stores(&a, &early)),
        "{}",
        a.log()
    );
}
