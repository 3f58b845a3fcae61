//! Nodes gossip listings to each other: three real nodes in a line on
//! loopback, explicit peers only (never mDNS in tests).

use buurt_tests::TestNode;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

fn search_ids(node: &TestNode, args: &[&str]) -> Vec<String> {
    let mut full = vec!["--json", "search"];
    full.extend_from_slice(args);
    let v = node.ok(&full).json();
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect()
}

fn reaches(node: &TestNode, args: &[&str], id: &str, want: bool) -> bool {
    TestNode::eventually(20, || {
        search_ids(node, args).iter().any(|x| x == id) == want
    })
}

#[test]
fn a_listing_travels_a_line_of_three_nodes() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    let c = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[b.address()]);
    assert!(TestNode::eventually(20, || a.peer_count() == 1
        && b.peer_count() == 2
        && c.peer_count() == 1));
    // The mesh needs a heartbeat or two after the subscriptions are known.
    let peers = b.ok(&["--json", "peers"]).json();
    assert!(
        peers[0]["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == SCOPE),
        "{peers}"
    );
    assert!(peers[0]["node_id"].as_str().unwrap().starts_with("bn"));

    let posted = a
        .ok(&[
            "--json",
            "offer",
            "Boormachine te leen",
            "--topic",
            "goods.tools",
        ])
        .json();
    let id = posted["id"].as_str().unwrap().to_owned();
    assert!(
        reaches(&c, &["boormachine"], &id, true),
        "C finds A's offer; C log:\n{}",
        c.log()
    );

    a.ok(&["update", &id, "--title", "Klopboormachine te leen"]);
    assert!(TestNode::eventually(20, || {
        c.ok(&["--json", "show", &id]).json()["title"] == "Klopboormachine te leen"
    }));

    a.ok(&["withdraw", &id]);
    assert!(reaches(&c, &["boormachine", "--all"], &id, false));
    assert_eq!(c.ok(&["--json", "show", &id]).json()["status"], "withdrawn");
}

#[test]
fn scope_decides_what_a_node_keeps() {
    let oost = TestNode::start(BIN.as_ref(), "nl/amsterdam/oost/dapperbuurt");
    let west =
        TestNode::start_with_peers(BIN.as_ref(), "nl/amsterdam/west/jordaan", &[oost.address()]);
    assert!(TestNode::eventually(20, || oost.peer_count() == 1));
    // Both follow nl/amsterdam; give the mesh time to form on it.
    let city = oost
        .ok(&[
            "--json",
            "offer",
            "Rommelmarkt in de hele stad",
            "--scope",
            "nl/amsterdam",
        ])
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let local = oost
        .ok(&["--json", "offer", "Ladder in de Dapperbuurt"])
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reaches(&west, &["rommelmarkt"], &city, true),
        "a city-wide listing reaches the other district"
    );
    let shown = west.cli(&["show", &local]);
    assert_eq!(
        shown.code, 1,
        "a neighbourhood listing stays out of the other district"
    );
    let status = west.ok(&["--json", "status"]).json();
    assert_eq!(status["listings"], 1);
}
