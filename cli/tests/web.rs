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

#[test]
fn a_flood_from_self_made_nodes_is_ignored_and_honest_posts_still_flow() {
    use buurt_protocol::sample::Identity;
    let a = web_node(&[], 2);
    let c = web_node(&[a.address()], 2);
    assert!(TestNode::eventually(20, || a.peer_count() == 1));
    assert!(a.wait_subscribed(SCOPE) && c.wait_subscribed(SCOPE));
    c.ok(&["trust", &node_id(&a)]);
    // 1,000 self-made nodes, each with a member, 10 valid listings each.
    let now = buurt_node::clock::now();
    let mut messages = Vec::with_capacity(10_000);
    for n in 0..1_000u32 {
        let mut node_seed = [0x70; 32];
        node_seed[..4].copy_from_slice(&n.to_be_bytes());
        let mut member_seed = [0x71; 32];
        member_seed[..4].copy_from_slice(&n.to_be_bytes());
        let id = Identity::new(node_seed, member_seed, SCOPE, now - 86_400);
        for k in 0..10u8 {
            let mut key = [k; 16];
            key[..4].copy_from_slice(&n.to_be_bytes());
            let l = id.offer(key, &format!("Gratis spam {n}-{k}"), now);
            messages.push(l.sign(&id.member).unwrap().bytes().to_vec());
        }
    }
    let target = a.address();
    let attack = std::thread::spawn(move || {
        buurt_tests::hostile::flood(
            &target,
            SCOPE,
            messages,
            190,
            std::time::Duration::from_secs(2),
        )
    });
    // While the flood runs (once it has started), an honest post still
    // reaches C.
    assert!(
        TestNode::eventually(30, || ignored(&a) >= 100),
        "{}",
        status(&a)
    );
    let started = std::time::Instant::now();
    let honest = offer(&a, "Echte ladder te leen");
    assert!(
        c.finds(&["ladder"], &honest, true, 20),
        "C log:\n{}",
        c.log()
    );
    let took = started.elapsed();
    let during = ignored(&a);
    let report = attack.join().unwrap();
    assert_eq!(report.published, 10_000, "{report:?}");
    assert!(!report.disconnected, "ignored, not held against the peer");
    eprintln!(
        "honest post reached C in {} ms with {during} flood listings already ignored by A",
        took.as_millis()
    );
    // Every flood listing that reached A was ignored; none stored or
    // forwarded: A and C hold the honest listing only.
    assert!(
        TestNode::eventually(20, || ignored(&a) >= 9_000),
        "{}",
        status(&a)
    );
    eprintln!("A ignored {} of the 10,000", ignored(&a));
    for n in [&a, &c] {
        assert_eq!(status(n)["listings"], 1, "{}", status(n));
    }
    assert_eq!(ignored(&c), 0, "nothing was passed on to C");
}
