//! Operating a node like any well-made daemon: metrics, completions and
//! the manual, the version, logs for files and shippers, config checks.

use buurt_tests::TestNode;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

fn scrape(node: &TestNode) -> String {
    let mut r = ureq::get(&node.url("/metrics"))
        .call()
        .expect("/metrics answers");
    assert_eq!(r.status(), 200);
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    r.body_mut().read_to_string().expect("text")
}

/// The value of the first sample whose line starts with `series` (a name
/// with labels, as far as given).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn metrics_name_the_work_and_their_counters_move() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(a.wait_subscribed(SCOPE) && b.wait_subscribed(SCOPE));
    let before = scrape(&a);
    let stored = r#"buurt_ingest_total{source="local",outcome="stored",reason=""}"#;
    let stored_before = sample(&before, stored).unwrap_or(0.0);
    let id = a.ok(&["--json", "offer", "Boormachine te leen"]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(b.finds(&["boormachine"], &id, true, 20));
    // A's catch-up sync with B (started on connection, after a short
    // delay): its session and its bytes are counted.
    let completed = r#"buurt_sync_sessions_total{event="completed"}"#;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut after = scrape(&a);
    while sample(&after, completed).unwrap_or(0.0) < 1.0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        after = scrape(&a);
    }
    assert!(
        sample(&after, completed).is_some_and(|n| n >= 1.0),
        "{after}"
    );
    assert_eq!(sample(&after, stored), Some(stored_before + 1.0), "{after}");
    // The same listing arrived at B by gossip.
    let at_b = scrape(&b);
    assert!(
        sample(
            &at_b,
            r#"buurt_ingest_total{source="gossip",outcome="stored""#
        )
        .is_some_and(|n| n >= 1.0),
        "{at_b}"
    );
    for name in [
        "buurt_ingest_seconds_bucket",
        "buurt_api_requests_total{route=\"/v1/listings\",method=\"POST\",status=\"201\"}",
        "buurt_api_request_seconds_count{route=\"/v1/listings\"}",
        "buurt_listings ",
        "buurt_scope_listings{scope=\"nl/amsterdam/oost/dapperbuurt\"}",
        "buurt_store_bytes ",
        "buurt_index_bytes ",
        "buurt_peers{path=\"direct\"}",
        "buurt_index_commit_seconds_count",
        "buurt_sync_sessions_total{event=\"completed\"}",
        "buurt_wire_bytes_total{protocol=\"/buurt/sync/1\",direction=\"out\"}",
        "libp2p_gossipsub",
        "libp2p_identify",
        "libp2p_swarm_connections",
    ] {
        assert!(
            after.lines().any(|l| l.starts_with(name)),
            "{name} is not in:\n{after}"
        );
    }
    assert_eq!(sample(&after, "buurt_peers{path=\"direct\"}"), Some(1.0));
    // The session's requests went out, and their answers came in.
    for direction in ["out", "in"] {
        let series = format!(
            "buurt_wire_bytes_total{{protocol=\"/buurt/sync/1\",direction=\"{direction}\"}}"
        );
        assert!(
            sample(&after, &series).is_some_and(|n| n > 0.0),
            "{series}: {after}"
        );
    }
    assert!(sample(&after, "buurt_listings ").is_some_and(|n| n >= 1.0));
    assert!(sample(&after, "buurt_store_bytes ").is_some_and(|n| n > 0.0));
}

/// The table of docs/operator.md's "Monitoring" names every `buurt_`
/// metric family the node serves, and nothing else.
#[test]
fn the_monitoring_table_lists_what_the_node_serves() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/operator.md"))
        .expect("docs/operator.md");
    let section = doc
        .split("\n## Monitoring\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Monitoring section");
    let mut documented: Vec<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `buurt_"))
        .filter_map(|l| l.split('`').next())
        .map(|n| format!("buurt_{n}"))
        .collect();
    documented.sort();
    assert!(documented.len() >= 10, "{documented:?}");

    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let text = scrape(&a);
    // `# TYPE name type`: a counter's family is named without `_total`.
    let mut served: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE buurt_"))
        .filter_map(|l| {
            let mut w = l.split(' ');
            let (name, kind) = (w.next()?, w.next()?);
            Some(match kind {
                "counter" => format!("buurt_{name}_total"),
                _ => format!("buurt_{name}"),
            })
        })
        .collect();
    served.sort();
    assert_eq!(documented, served, "{text}");
}

/// Long work says how far it got; without a terminal (as here, where
/// stderr is a pipe) in plain lines, with no escape codes.
#[test]
fn long_work_reports_progress_in_plain_lines_without_a_terminal() {
    let mut a = TestNode::start(BIN.as_ref(), SCOPE);
    let ids: Vec<String> = (0..3)
        .map(|i| {
            a.ok(&["--json", "offer", &format!("Schroevendraaier {i}")])
                .json()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // B meets A after the offers were posted: only a sync brings them.
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(TestNode::eventually(20, || b.peer_count() == 1));
    // `buurt sync` follows its session to the end (a session started at
    // connection may be running: then it is asked again).
    let mut synced = None;
    assert!(TestNode::eventually(20, || {
        let r = b.cli(&["--json", "sync"]);
        let ok = r.code == 0;
        synced = Some(r);
        ok
    }));
    let synced = synced.unwrap();
    let answer: serde_json::Value = serde_json::from_str(&synced.stdout).unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert!(
        synced.stderr.contains("sync: ") && synced.stderr.contains("done in"),
        "{}",
        synced.stderr
    );
    let held = b.ok(&["--json", "status"]).json()["listings"].as_u64();
    assert_eq!(held, Some(3), "B holds the three once sync returns");
    for id in &ids {
        assert!(b.ok(&["--json", "show", id]).json()["id"] == id.as_str());
    }

    let r = a.ok(&["reindex"]);
    assert!(
        r.stderr
            .contains("reindex by the running node: 3 listings, done in"),
        "{}",
        r.stderr
    );
    let folder = tempfile::tempdir().unwrap();
    let to = folder.path().join("backup");
    let r = a.ok(&["backup", to.to_str().unwrap()]);
    assert!(
        r.stderr
            .contains("backup by the running node: 3 listings, done in"),
        "{}",
        r.stderr
    );

    // A stopped node: repair and restore count the listings themselves.
    assert_eq!(a.signal("TERM"), Some(0));
    let r = a.ok(&["repair"]);
    assert!(
        r.stderr.contains("repair (") && r.stderr.contains("done in"),
        "{}",
        r.stderr
    );
    let fresh = tempfile::tempdir().unwrap();
    let r = buurt_tests::buurt(
        BIN.as_ref(),
        fresh.path(),
        &["restore", to.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("restore: 3/3 listings (100%), done in"),
        "{}",
        r.stderr
    );
    for out in [&synced.stderr, &r.stderr] {
        assert!(!out.contains('\u{1b}'), "no escape codes: {out:?}");
    }
}
