//! Alerts between real nodes: a member's watch on their home node fires for
//! a matching listing that arrives by gossip and for one that arrives by
//! sync, not for one outside its filter, never for the member's own, and
//! the watch never leaves the home node.

use std::path::Path;

use buurt_tests::TestNode;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

fn offer(node: &TestNode, args: &[&str]) -> String {
    let mut all = vec!["--json", "offer"];
    all.extend_from_slice(args);
    node.ok(&all).json()["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

fn request(node: &TestNode, title: &str) -> String {
    node.ok(&["--json", "request", title]).json()["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

fn notified(node: &TestNode) -> Vec<Value> {
    node.ok(&["--json", "notifications", "--all"])
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn listings_notified(node: &TestNode) -> Vec<String> {
    notified(node)
        .iter()
        .map(|n| n["listing"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Whether any file under `dir` holds `needle`.
fn anywhere(dir: &Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
            {
                return true;
            }
        }
    }
    false
}

#[test]
fn a_watch_fires_for_gossip_and_sync_and_not_outside_its_filter() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let mut b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(a.wait_subscribed(SCOPE) && b.wait_subscribed(SCOPE));

    let w = b.ok(&["--json", "watch", "add", "boormachine"]).json();
    assert_eq!(w["id"], 1, "{w}");
    b.ok(&["watch", "add", "ladder", "--kind", "request"]);
    b.ok(&["watch", "add", "kwispelstaart"]);
    assert_eq!(
        b.ok(&["--json", "watch", "list"])
            .json()
            .as_array()
            .map(Vec::len),
        Some(3)
    );

    // By gossip: a match, a listing outside the ladder watch's filter (an
    // offer, not a request), then a marker that matches.
    let drill = offer(&a, &["Boormachine te leen"]);
    let ladder = offer(&a, &["Ladder te leen"]);
    let marker = offer(&a, &["Tweede boormachine, Bosch"]);
    assert!(
        TestNode::eventually(20, || listings_notified(&b).contains(&marker)),
        "{:?}\nB log:\n{}",
        notified(&b),
        b.log()
    );
    let got = listings_notified(&b);
    assert!(got.contains(&drill), "{got:?}");
    assert!(
        !got.contains(&ladder),
        "an offer does not match a request watch"
    );
    // A request for a ladder does match.
    let wanted = request(&a, "Wie leent mij een ladder?");
    assert!(TestNode::eventually(20, || listings_notified(&b).contains(&wanted)));
    // B's own matching listing does not notify B.
    let own = offer(&b, &["Mijn eigen boormachine"]);
    let after_own = offer(&a, &["Derde boormachine"]);
    assert!(TestNode::eventually(20, || listings_notified(&b).contains(&after_own)));
    assert!(!listings_notified(&b).contains(&own));

    // The inbox says there is something new; reading them clears it.
    let inbox = b.ok(&["inbox"]).stdout;
    assert!(inbox.contains("new notification"), "{inbox}");
    let shown = b.ok(&["notifications"]).stdout;
    assert!(shown.contains("Boormachine te leen"), "{shown}");
    assert!(b.ok(&["notifications"]).stdout.contains("Nothing new"));

    // By sync: B is down while A posts, and catches up when it is back.
    assert_eq!(b.signal("TERM"), Some(0));
    let missed = offer(&a, &["Boormachine met klopfunctie"]);
    b.set_peers(&[a.address()]);
    b.spawn();
    assert!(
        TestNode::eventually(30, || listings_notified(&b).contains(&missed)),
        "{:?}\nB log:\n{}",
        notified(&b),
        b.log()
    );

    // Watches stay on B: A holds nothing of them.
    assert!(!anywhere(a.path(), b"kwispelstaart"));
    assert!(anywhere(b.path(), b"kwispelstaart"));
    // Bounded, and removable.
    for n in 0..17 {
        b.ok(&["watch", "add", &format!("woord{n}")]);
    }
    let over = b.cli(&["watch", "add", "eenentwintigste"]);
    assert_eq!(over.code, 1, "{}", over.stdout);
    assert!(over.stderr.contains("20 watches"), "{}", over.stderr);
    b.ok(&["watch", "remove", "3"]);
    assert_eq!(b.cli(&["watch", "remove", "3"]).code, 1);
}
