//! Reach with real NAT on one machine (`buurt_tests::netns`): a hub with a
//! public address, two home nodes each behind its own NAT router. Needs
//! root; skipped with a message otherwise, unless `BUURT_NETNS_TESTS=
//! required` (as `.ci/run` sets), when not being able to build the bed
//! fails.

use std::time::{Duration, Instant};

use buurt_tests::netns::{Bed, Nat, HUB_IP};
use buurt_tests::TestNode;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";
const LISTEN: &str = "/ip4/0.0.0.0/tcp/4001";

/// A bed, or `None` (with the reason printed) when this machine cannot
/// build one and the tests are not required.
fn bed(tag: &str, nat: Nat) -> Option<Bed> {
    if let Some(why) = Bed::unavailable() {
        assert!(!Bed::required(), "the NAT tests are required here: {why}");
        eprintln!("skipped: cannot build network namespaces: {why}");
        return None;
    }
    Some(Bed::new(tag, nat))
}

/// The hub, in the bed's public namespace; and its full address.
fn hub(bed: &Bed) -> (TestNode, String) {
    let hub = TestNode::start_netns(
        BIN.as_ref(),
        "nl/amsterdam",
        &bed.ns("hub"),
        &["--listen", LISTEN, "--serve-hub"],
        |_| {},
    );
    let id = hub.ok(&["--json", "status"]).json()["node_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (hub, format!("/ip4/{HUB_IP}/tcp/4001/p2p/{id}"))
}

fn home(bed: &Bed, ns: &str, args: &[&str]) -> TestNode {
    let mut all = vec!["--listen", LISTEN];
    all.extend_from_slice(args);
    TestNode::start_netns(BIN.as_ref(), SCOPE, &bed.ns(ns), &all, |_| {})
}

fn node_id(n: &TestNode) -> String {
    n.ok(&["--json", "status"]).json()["node_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The entry of `buurt peers` for `peer`, if connected.
fn peer_entry(n: &TestNode, peer: &str) -> Option<Value> {
    n.ok(&["--json", "peers"])
        .json()
        .as_array()?
        .iter()
        .find(|p| p["node_id"] == peer)
        .cloned()
}

fn reach(n: &TestNode) -> Value {
    n.ok(&["--json", "status"]).json()["reach"].clone()
}

fn post(n: &TestNode, title: &str) -> String {
    n.ok(&["--json", "offer", title, "--exchange", "lend"])
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A posts a drill; B finds it. Returns its id and the time from the post
/// to B's finding it.
fn posted_and_found(a: &TestNode, b: &TestNode) -> (String, Duration) {
    let t = Instant::now();
    let drill = post(a, "Boormachine te leen");
    assert!(
        b.finds(&["boormachine"], &drill, true, 30),
        "B log:\n{}",
        b.log()
    );
    (drill, t.elapsed())
}

/// Both directions subscribed to the scope, so that gossip flows.
fn wait_path(a: &TestNode, b: &TestNode, path: &str, secs: u64) -> bool {
    let (ia, ib) = (node_id(a), node_id(b));
    TestNode::eventually(secs, || {
        [(a, &ib), (b, &ia)].iter().all(|(n, other)| {
            peer_entry(n, other).is_some_and(|p| {
                p["path"] == path
                    && p["scopes"]
                        .as_array()
                        .is_some_and(|s| s.iter().any(|x| x == SCOPE))
            })
        })
    })
}

#[test]
fn behind_port_preserving_nat_two_homes_punch_a_hole_and_connect_directly() {
    let Some(bed) = bed("d", Nat::PortPreserving) else {
        return;
    };
    let started = Instant::now();
    let (hub, hub_addr) = hub(&bed);
    let a = home(&bed, "a", &["--hub", &hub_addr]);
    let b = home(&bed, "b", &["--hub", &hub_addr]);
    assert!(
        wait_path(&a, &b, "direct", 90),
        "A and B never connected directly.\nA peers: {}\nA log:\n{}\nB log:\n{}",
        a.ok(&["peers"]).stdout,
        a.log(),
        b.log()
    );
    let connected = started.elapsed();
    // Each is behind NAT and holds a reservation at the hub.
    for n in [&a, &b] {
        let r = reach(n);
        assert_eq!(r["reachability"], "relayed", "{r}");
        assert!(r["summary"].as_str().unwrap().contains("behind NAT"), "{r}");
    }
    assert_eq!(reach(&hub)["reachability"], "public");
    let (_, took) = posted_and_found(&a, &b);
    eprintln!(
        "direct: connected {:.1} s after the hub started; a listing searchable on B {} ms after A posted it",
        connected.as_secs_f64(),
        took.as_millis()
    );
    // The human form says it too.
    assert!(a.ok(&["peers"]).stdout.contains("direct"));
    assert!(a.ok(&["status"]).stdout.contains("behind NAT, relayed via"));
}

#[test]
fn behind_random_port_nat_two_homes_stay_relayed_and_still_share_sync_and_mail() {
    let Some(mut bed) = bed("r", Nat::Random) else {
        return;
    };
    // 30 ms each way and 1 % loss on the routers.
    let impaired = bed.impair(30, 1.0);
    let (_hub, hub_addr) = hub(&bed);
    let a = home(&bed, "a", &["--hub", &hub_addr]);
    let mut b = home(&bed, "b", &["--hub", &hub_addr]);
    assert!(
        wait_path(&a, &b, "relayed", 90),
        "A and B never connected through the hub.\nA peers: {}\nA log:\n{}\nB log:\n{}",
        a.ok(&["peers"]).stdout,
        a.log(),
        b.log()
    );
    let (drill, took) = posted_and_found(&a, &b);
    eprintln!(
        "relayed, {impaired}: a listing searchable on B {} ms after A posted it",
        took.as_millis()
    );
    // A hole punch was tried and failed: still relayed.
    assert_eq!(peer_entry(&a, &node_id(&b)).unwrap()["path"], "relayed");
    // A punch that gets no answer waits out its dials.
    assert!(
        TestNode::eventually(60, || format!("{}{}", a.log(), b.log())
            .contains("staying relayed")),
        "no hole punch was tried"
    );

    // B is down while A posts; B catches up by sync when back.
    b.signal("TERM");
    let ladder = post(&a, "Ladder te leen");
    b.spawn();
    assert!(
        b.finds(&["ladder"], &ladder, true, 90),
        "B did not catch up.\nB log:\n{}",
        b.log()
    );
    // A reply from B reaches A's mailbox over the relayed path.
    assert!(wait_path(&a, &b, "relayed", 60));
    let sent = b
        .ok(&["--json", "reply", &drill, "Mag ik hem zaterdag lenen?"])
        .json();
    assert_eq!(sent["state"], "delivered", "{sent}\nB log:\n{}", b.log());
    let inbox = a.ok(&["--json", "inbox"]).json();
    assert_eq!(
        inbox[0]["last_text"], "Mag ik hem zaterdag lenen?",
        "{inbox}"
    );
}

#[test]
fn behind_nat_without_a_hub_a_node_says_no_one_can_reach_it() {
    let Some(bed) = bed("n", Nat::PortPreserving) else {
        return;
    };
    let (_hub, hub_addr) = hub(&bed);
    // A public node as an ordinary peer, not as a hub.
    let a = home(&bed, "a", &["--peer", &hub_addr]);
    assert!(
        TestNode::eventually(60, || reach(&a)["reachability"] == "unreachable"),
        "{}\nA log:\n{}",
        reach(&a),
        a.log()
    );
    let r = reach(&a);
    let summary = r["summary"].as_str().unwrap();
    assert!(
        summary.contains("cannot reach") && summary.contains("--hub"),
        "{summary}"
    );
    assert!(a
        .ok(&["status"])
        .stdout
        .contains("other nodes cannot reach this node"));
    // And it said so in its log, as a warning.
    assert!(
        TestNode::eventually(30, || a
            .log()
            .lines()
            .any(|l| l.contains("WARN") && l.contains("cannot reach this node"))),
        "{}",
        a.log()
    );
}
