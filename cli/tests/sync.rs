//! Catch-up sync: a node that was offline converges with its peer, through
//! real `buurt node` processes on loopback.

use std::collections::BTreeSet;

use buurt_node::datadir::DataDir;
use buurt_protocol::keys::SigningKey;
use buurt_protocol::limits::DAY;
use buurt_protocol::{
    Certificate, Exchange, Kind, Listing, ListingKey, Scope, SignedListing, Status, Terms,
};
use buurt_tests::TestNode;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

/// The operator's member key and certificate of a node's data directory.
fn operator(node: &TestNode) -> (SigningKey, Certificate) {
    let dir = DataDir::new(node.path());
    let key = dir.member_key().expect("member key");
    let cert = dir.certificate().expect("reads").expect("certificate");
    (key, cert)
}

/// `k` residents admitted by a node (certificates signed with its key), so
/// that many listings stay within each author's rate limit.
fn residents(node: &TestNode, k: u8) -> Vec<(SigningKey, Certificate)> {
    let node_key = DataDir::new(node.path()).node_key().expect("node key");
    let now = buurt_node::clock::now();
    (0..k)
        .map(|i| {
            // Distinct per node and per resident, and never the node's key.
            let mut seed = node_key.to_bytes();
            seed[0] ^= 0x5A;
            seed[31] ^= i.wrapping_add(1);
            let key = buurt_protocol::keys::from_seed(seed);
            let cert = Certificate::issue(
                &node_key,
                buurt_protocol::keys::member_id(&key),
                Scope::parse(SCOPE, 6).unwrap(),
                now - 2 * DAY,
                now + 30 * DAY,
            );
            (key, cert)
        })
        .collect()
}

/// Every `(id, revision_id)` a node stores of these residents.
fn all_revisions(node: &TestNode, who: &[(SigningKey, Certificate)]) -> BTreeSet<(String, String)> {
    who.iter()
        .flat_map(|w| revisions(node, &buurt_protocol::keys::member_id(&w.0).to_string()))
        .collect()
}

fn listing(
    who: &(SigningKey, Certificate),
    n: u32,
    title: &str,
    revision: u64,
    at: i64,
) -> Listing {
    let mut key = [0u8; 16];
    key[12..].copy_from_slice(&n.to_be_bytes());
    Listing {
        author: buurt_protocol::keys::member_id(&who.0),
        key: ListingKey(key),
        revision,
        created_at: at,
        expires_at: at + 30 * DAY,
        kind: Kind::Offer,
        exchange: Exchange::Lend,
        status: Status::Open,
        scope: Scope::parse(SCOPE, 6).unwrap(),
        topics: vec!["goods.tools".into()],
        title: title.into(),
        body: format!("Ophalen in de buurt, nummer {n}."),
        tags: vec![],
        geohash: None,
        terms: Terms::default(),
        extras: Default::default(),
        certificate: who.1.clone(),
    }
}

fn post(node: &TestNode, l: &SignedListing) {
    let body = serde_json::json!({ "signed": hex::encode(l.bytes()) });
    let resp = ureq::post(node.url("/v1/listings"))
        .send_json(&body)
        .expect("post answered");
    assert!(resp.status().is_success(), "{:?}", resp.status());
}

/// `(id, revision_id)` of every listing of `member` a node stores,
/// withdrawals included.
fn revisions(node: &TestNode, member: &str) -> BTreeSet<(String, String)> {
    let list: serde_json::Value = ureq::get(node.url(&format!("/v1/members/{member}/listings")))
        .call()
        .expect("answered")
        .body_mut()
        .read_json()
        .expect("json");
    list.as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap().to_owned(),
                l["revision_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_node_back_from_offline_converges() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let mut c = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(TestNode::eventually(20, || a.peer_count() == 1));
    assert_eq!(c.signal("TERM"), Some(0));

    // While C is down: 1,000 listings on A by 40 residents, then 50 updated
    // and 50 withdrawn.
    let who = residents(&a, 40);
    let now = buurt_node::clock::now();
    let base = now - 2_000;
    let mut originals = Vec::new();
    for n in 0..1_000u32 {
        let at = base + i64::from(n);
        let w = &who[n as usize % who.len()];
        let l = listing(w, n, &format!("Ladder {n}"), at as u64, at);
        post(&a, &l.clone().sign(&w.0).unwrap());
        originals.push(l);
    }
    for (n, o) in originals.iter().enumerate().take(50) {
        let w = &who[n % who.len()];
        let mut l = o.clone();
        l.title = format!("Trapladder {n} bijgewerkt");
        l.revision += 5_000;
        l.created_at = now;
        post(&a, &l.sign(&w.0).unwrap());
    }
    for (n, o) in originals.iter().enumerate().take(150).skip(100) {
        let w = &who[n % who.len()];
        let dead = buurt_protocol::sample::tombstone(o, o.revision + 5_000, now);
        post(&a, &dead.sign(&w.0).unwrap());
    }
    let on_a = all_revisions(&a, &who);
    assert_eq!(on_a.len(), 1_000);

    c.spawn();
    let converged = TestNode::eventually(60, || all_revisions(&c, &who) == on_a);
    assert!(
        converged,
        "C has {} of A's {} revisions; C's log:\n{}",
        all_revisions(&c, &who).intersection(&on_a).count(),
        on_a.len(),
        c.log()
    );
    // Withdrawn listings are not found on C, updated ones are.
    // The index commits within a second of the store.
    assert!(
        TestNode::eventually(10, || !c.search_ids(&["Ladder 120"]).is_empty()),
        "the other ladders are found"
    );
    let found = c.search_ids(&["Ladder 120"]);
    let withdrawn = originals[120].listing_id().to_string();
    assert!(!found.contains(&withdrawn), "{found:?}");
    assert_eq!(
        c.ok(&["--json", "show", &withdrawn]).json()["status"],
        "withdrawn"
    );
    for id in &found {
        assert_ne!(c.ok(&["--json", "show", id]).json()["status"], "withdrawn");
    }
    // The index commits within a second of the store.
    let updated = || c.search_ids(&["trapladder", "--limit", "100"]).len();
    assert!(
        TestNode::eventually(10, || updated() == 50),
        "{}",
        updated()
    );

    // status reports the sync of the neighbourhood scope.
    let status = c.ok(&["--json", "status"]).json();
    let sync = status["sync"].as_array().expect("sync in status");
    let own = sync
        .iter()
        .find(|s| s["scope"] == SCOPE)
        .unwrap_or_else(|| panic!("{status}"));
    assert_eq!(own["result"], "done", "{own}");
    assert!(own["stored"].as_u64().unwrap() >= 1_000, "{own}");
}

#[test]
fn a_partition_heals_and_a_new_node_catches_up() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let mut b = TestNode::start(BIN.as_ref(), SCOPE);
    let (ra, rb) = (residents(&a, 5), residents(&b, 5));
    let wa = ra[0].clone();
    let now = buurt_node::clock::now();
    // Cut off from each other, both sides post: 100 listings each, by five
    // residents each.
    for n in 0..100u32 {
        let at = now - 500 + i64::from(n);
        let (xa, xb) = (&ra[n as usize % 5], &rb[n as usize % 5]);
        post(
            &a,
            &listing(xa, n, "Boormachine", at as u64, at)
                .sign(&xa.0)
                .unwrap(),
        );
        post(
            &b,
            &listing(xb, n, "Naaimachine", at as u64, at)
                .sign(&xb.0)
                .unwrap(),
        );
    }
    // One of A's listings reached B before the cut; A updated it after.
    let old = listing(&wa, 1_000, "Boormachine", (now - 493) as u64, now - 493);
    post(&b, &old.clone().sign(&wa.0).unwrap());
    post(&a, &old.clone().sign(&wa.0).unwrap());
    let mut newer = old.clone();
    newer.revision += 100;
    newer.created_at = now;
    newer.title = "Klopboormachine".into();
    post(&a, &newer.clone().sign(&wa.0).unwrap());

    // Heal: B restarts knowing A.
    assert_eq!(b.signal("TERM"), Some(0));
    b.set_peers(&[a.address()]);
    b.spawn();
    let everyone: Vec<_> = ra.iter().chain(&rb).cloned().collect();
    let same =
        |x: &TestNode, y: &TestNode| all_revisions(x, &everyone) == all_revisions(y, &everyone);
    assert!(
        TestNode::eventually(60, || same(&a, &b)),
        "A and B differ; B's log:\n{}",
        b.log()
    );
    assert_eq!(all_revisions(&a, &ra).len(), 101);
    assert_eq!(all_revisions(&a, &rb).len(), 100);
    // The stale revision B held did not overwrite the newer one.
    let id = newer.listing_id().to_hex();
    assert_eq!(
        b.ok(&["--json", "show", &id]).json()["title"],
        "Klopboormachine"
    );
    assert_eq!(
        a.ok(&["--json", "show", &id]).json()["title"],
        "Klopboormachine"
    );

    // A new, empty node of the neighbourhood gets everything from one peer.
    let n = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(
        TestNode::eventually(60, || same(&n, &a)),
        "the new node lacks listings; log:\n{}",
        n.log()
    );
    // A sync on demand with a peer that has nothing new stores nothing.
    // (Once the session started at connect has finished.)
    assert!(TestNode::eventually(20, || n.cli(&["--json", "sync"]).code == 0));
    assert!(TestNode::eventually(20, || {
        let s = n.ok(&["--json", "status"]).json();
        s["sync"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["scope"] == SCOPE && x["result"] == "done" && x["needed"] == 0)
    }));
}

#[test]
fn a_peer_sending_malformed_sync_messages_is_dropped() {
    use buurt_protocol::sync::Request;
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let who = operator(&a);
    let now = buurt_node::clock::now();
    post(
        &a,
        &listing(&who, 1, "Ladder", now as u64, now)
            .sign(&who.0)
            .unwrap(),
    );
    let bad_negentropy = Request::Reconcile {
        scope: SCOPE.into(),
        message: vec![0x61, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
    }
    .encode();
    let requests = vec![
        b"not a sync request".to_vec(),
        bad_negentropy,
        vec![0x02, 0x00, 0x00], // a fetch of no ids
        vec![0x01],
        vec![0xFF; 64],
    ];
    let report = buurt_tests::hostile::sync_garbage(
        &a.address(),
        requests,
        std::time::Duration::from_secs(20),
    );
    assert!(
        report.disconnected && report.published <= 4,
        "{report:?}; log:\n{}",
        a.log()
    );
    // The node is unharmed: it still answers and keeps its listing.
    let s = a.ok(&["--json", "status"]).json();
    assert_eq!(s["listings"], 1, "{s}");
    assert_eq!(s["peers"], 0, "{s}");
}
