//! Nothing acknowledged is lost: not on a clean stop, not on `kill -9`.

use buurt_tests::TestNode;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");

#[test]
fn acknowledged_posts_survive_kill_9() {
    let mut node = TestNode::start(BIN.as_ref(), "nl/amsterdam/noord");
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(
            node.ok(&[
                "offer",
                &format!("Gereedschap nummer {i}"),
                "--topic",
                "goods.tools",
            ])
            .stdout
            .trim()
            .to_owned(),
        );
    }
    // The last acknowledgement has just arrived; kill at once.
    node.kill9();
    node.spawn();
    let mine = node.ok(&["--json", "mine"]).json();
    assert_eq!(mine.as_array().unwrap().len(), 25);
    for id in &ids {
        assert_eq!(node.ok(&["--json", "show", id]).json()["id"], id.as_str());
    }
    // The index was left dirty by the kill and is rebuilt at start: all are searchable.
    let found = node
        .ok(&["--json", "search", "gereedschap", "--limit", "100"])
        .json();
    assert_eq!(found.as_array().unwrap().len(), 25, "log:\n{}", node.log());
}

#[test]
fn sigterm_stops_cleanly_and_keeps_everything() {
    let mut node = TestNode::start(BIN.as_ref(), "nl/amsterdam/west");
    let id = node
        .ok(&["offer", "Partytent te leen", "--topic", "goods.party"])
        .stdout
        .trim()
        .to_owned();
    assert_eq!(node.signal("TERM"), Some(0), "log:\n{}", node.log());
    assert!(
        !node.path().join("api.addr").exists(),
        "api.addr removed on clean stop"
    );
    assert!(
        !node.path().join("index.dirty").exists(),
        "index marked clean"
    );
    node.spawn();
    assert!(TestNode::eventually(5, || {
        node.ok(&["--json", "search", "partytent"])
            .json()
            .as_array()
            .map(|a| a.len())
            == Some(1)
    }));
    assert_eq!(
        node.ok(&["--json", "show", &id]).json()["title"],
        "Partytent te leen"
    );
    assert_eq!(node.signal("INT"), Some(0));
}

#[test]
fn node_on_a_fresh_directory_initialises_itself() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new");
    let child = std::process::Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(buurt_tests::NODE_ARGS)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(TestNode::eventually(30, || data.join("api.addr").exists()));
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Initialised a new buurt node"), "{err}");
    assert!(
        err.contains("scope: local") && err.contains("config.toml"),
        "explains the default scope: {err}"
    );
    assert!(data.join("node.key").exists() && data.join("member.cert").exists());
}

#[test]
fn node_takes_a_scope_and_a_name_on_its_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("named");
    let child = std::process::Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(buurt_tests::NODE_ARGS)
        .args([
            "--scope",
            "nl/amsterdam/oost/dapperbuurt",
            "--name",
            "Dapperbuurt",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(TestNode::eventually(30, || data.join("api.addr").exists()));
    let status = buurt_tests::buurt(BIN.as_ref(), &data, &["--json", "status"]).json();
    assert_eq!(status["name"], "Dapperbuurt", "{status}");
    assert_eq!(status["scope"], "nl/amsterdam/oost/dapperbuurt", "{status}");
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    assert!(child.wait_with_output().unwrap().status.success());
}

#[test]
fn an_index_from_another_version_is_replaced_and_rebuilt() {
    let mut node = TestNode::start(BIN.as_ref(), "nl/amsterdam/zuid");
    let id = node
        .ok(&["offer", "Steekwagen te leen", "--topic", "goods.tools"])
        .stdout
        .trim()
        .to_owned();
    assert_eq!(node.signal("TERM"), Some(0), "log:\n{}", node.log());
    // Another version's index: same files, a different schema in meta.json.
    let meta = node.path().join("index").join("meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    let changed = text.replace("\"geo\"", "\"geo_v0\"");
    assert_ne!(text, changed, "meta.json names the geo field");
    std::fs::write(&meta, changed).unwrap();
    node.spawn();
    assert!(
        TestNode::eventually(5, || node.search_ids(&["steekwagen"]) == vec![id.clone()]),
        "log:\n{}",
        node.log()
    );
    assert!(
        node.log().contains("built by another version"),
        "log:\n{}",
        node.log()
    );
    let leftovers: Vec<_> = std::fs::read_dir(node.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("index."))
        .filter(|e| e.file_name() != "index.dirty")
        .collect();
    assert!(leftovers.is_empty(), "old index kept: {leftovers:?}");
    let meta = std::fs::read_to_string(node.path().join("index").join("meta.json")).unwrap();
    assert!(meta.contains("\"geo\""));
}
