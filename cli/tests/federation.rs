//! Nodes gossip listings to each other: three real nodes in a line on
//! loopback, explicit peers only (never mDNS in tests).

use buurt_tests::TestNode;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

fn reaches(node: &TestNode, args: &[&str], id: &str, want: bool) -> bool {
    node.finds(args, id, want, 20)
}

#[test]
fn a_listing_travels_a_line_of_three_nodes() {
    let (a, b, c) = TestNode::line(BIN.as_ref(), SCOPE);
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
    // Both follow nl/amsterdam.
    assert!(oost.wait_subscribed("nl/amsterdam"));
    // The neighbourhood listing first, then the city-wide one as the
    // marker: once the marker has arrived, the first had its chance.
    let local = oost
        .ok(&["--json", "offer", "Ladder in de Dapperbuurt"])
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
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
    assert_eq!(
        scope_counts(&status),
        [
            ("nl/amsterdam/west/jordaan", 0, true),
            ("nl/amsterdam/west", 0, true),
            ("nl/amsterdam", 1, true),
            ("nl", 0, true),
        ]
        .map(|(s, n, sub)| (s.to_owned(), n, sub))
    );

    // Following the neighbourhood brings its listings in (after a restart).
    let mut west = west;
    west.ok(&["follow", "nl/amsterdam/oost/dapperbuurt"]);
    assert_eq!(west.signal("TERM"), Some(0));
    west.spawn();
    assert!(oost.wait_subscribed("nl/amsterdam/oost/dapperbuurt"));
    let next = oost
        .ok(&["--json", "offer", "Naaimachine in de Dapperbuurt"])
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reaches(&west, &["naaimachine"], &next, true),
        "a followed scope's listing arrives"
    );
    let counts = scope_counts(&west.ok(&["--json", "status"]).json());
    assert!(
        counts.contains(&("nl/amsterdam/oost/dapperbuurt".to_owned(), 1, true)),
        "{counts:?}"
    );
}

/// `(scope, listings, subscribed)` from `status --json`.
fn scope_counts(status: &serde_json::Value) -> Vec<(String, u64, bool)> {
    status["scopes"]
        .as_array()
        .expect("status has scopes")
        .iter()
        .map(|s| {
            (
                s["scope"].as_str().unwrap().to_owned(),
                s["listings"].as_u64().unwrap(),
                s["subscribed"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_hostile_peer_is_refused_and_honest_traffic_flows() {
    use buurt_protocol::sample::Identity;
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(a.wait_subscribed(SCOPE));

    let now = buurt_node::clock::now();
    let id = Identity::new([0x31; 32], [0x32; 32], SCOPE, now - 60);
    let forged = |key: u8| {
        let mut bytes = id
            .offer([key; 16], "Vervalste boormachine", now)
            .sign(&id.member)
            .unwrap()
            .bytes()
            .to_vec();
        let n = bytes.len();
        bytes[n - 5] ^= 0x20;
        bytes
    };
    let oversized = {
        let mut l = id.offer([0x40; 16], "Te groot", now);
        l.body = "x".repeat(20_000);
        l.sign(&id.member).unwrap().bytes().to_vec()
    };
    let messages = vec![
        forged(0x41),
        oversized,
        b"random bytes, not a listing".to_vec(),
        forged(0x42),
        vec![0xFF; 300],
    ];
    let report = buurt_tests::hostile::attack(
        &a.address(),
        SCOPE,
        messages,
        std::time::Duration::from_secs(20),
    );
    // Cut off after its third invalid message: the rest never go out.
    assert_eq!(report.published, 3, "{report:?}");
    assert!(
        report.disconnected,
        "the hostile peer is disconnected: {report:?}; A log:\n{}",
        a.log()
    );
    assert!(
        report.refused_again,
        "and refused when it comes back: {report:?}"
    );

    // Honest traffic keeps flowing: A's own offer reaches B. It is also the
    // barrier for what follows: anything of the attacker's that A had
    // passed on would have reached B before it.
    let id = a.ok(&["--json", "offer", "Echte boormachine"]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reaches(&b, &["boormachine"], &id, true));
    assert_eq!(a.peer_count(), 1, "only the honest peer remains");

    // Nothing the attacker sent is stored or passed on: each node holds
    // the honest offer only.
    for node in [&a, &b] {
        let s = node.ok(&["--json", "status"]).json();
        assert_eq!(s["listings"], 1, "{s}");
    }
    let rejected = &a.ok(&["--json", "status"]).json()["ingest"]["rejected"];
    assert!(
        rejected["bad_signature"].as_u64().unwrap_or(0) >= 1,
        "{rejected}"
    );
}
