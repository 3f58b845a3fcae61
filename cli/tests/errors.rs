//! Every CLI error path: one clear line on stderr, exit 1 (usage errors: 2),
//! and nothing changed.

use buurt_tests::{buurt, TestNode};

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/utrecht/lombok";

fn one_line_error(r: &buurt_tests::Run, code: i32, needle: &str) {
    assert_eq!(r.code, code, "exit code; stderr: {}", r.stderr);
    assert_eq!(
        r.stderr.trim().lines().count(),
        1,
        "one line: {:?}",
        r.stderr
    );
    assert!(
        r.stderr.contains(needle),
        "expected `{needle}` in: {}",
        r.stderr
    );
}

#[test]
fn no_node_running_says_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    let r = buurt(BIN.as_ref(), dir.path(), &["init", "--scope", SCOPE]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for args in [
        &["search", "x"][..],
        &["status"],
        &["offer", "Ladder"],
        &["show", "abcd"],
    ] {
        one_line_error(
            &buurt(BIN.as_ref(), dir.path(), args),
            1,
            "buurt --data-dir",
        );
    }
    // An address file left by a killed node: same advice, no hang.
    std::fs::write(dir.path().join("api.addr"), "127.0.0.1:1").unwrap();
    one_line_error(&buurt(BIN.as_ref(), dir.path(), &["status"]), 1, "node");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(buurt(BIN.as_ref(), dir.path(), &["offer"]).code, 2);
    assert_eq!(buurt(BIN.as_ref(), dir.path(), &["frobnicate"]).code, 2);
    assert_eq!(
        buurt(
            BIN.as_ref(),
            dir.path(),
            &["search", "--offers", "--requests"]
        )
        .code,
        2
    );
    assert_eq!(buurt(BIN.as_ref(), dir.path(), &["init"]).code, 2);
}

#[test]
fn init_checks_the_scope_and_never_overwrites_keys() {
    let dir = tempfile::tempdir().unwrap();
    one_line_error(
        &buurt(BIN.as_ref(), dir.path(), &["init", "--scope", "nl//x"]),
        1,
        "scope",
    );
    let d2 = tempfile::tempdir().unwrap();
    let first = buurt(
        BIN.as_ref(),
        d2.path(),
        &["--json", "init", "--scope", SCOPE],
    )
    .json();
    let again = buurt(
        BIN.as_ref(),
        d2.path(),
        &["--json", "init", "--scope", SCOPE],
    )
    .json();
    assert_eq!(first["node_id"], again["node_id"]);
    assert_eq!(first["member_id"], again["member_id"]);
    assert_eq!(again["created"], false);
    // A node that holds no listing yet may move to another scope …
    let moved = buurt(
        BIN.as_ref(),
        d2.path(),
        &["--json", "init", "--scope", "nl/utrecht"],
    )
    .json();
    assert_eq!(moved["previous_scope"], SCOPE, "{moved}");
    assert_eq!(moved["node_id"], first["node_id"], "keys kept");
    // … but not once it holds one.
    {
        use buurt_node::store::{SledStore, Store};
        let store = SledStore::open(&d2.path().join("db")).unwrap();
        let id = buurt_protocol::sample::Identity::fixed();
        let l = id
            .offer([1; 16], "Ladder", buurt_protocol::sample::T0)
            .sign(&id.member)
            .unwrap();
        store.put(&l).unwrap();
        store.flush().unwrap();
    }
    one_line_error(
        &buurt(BIN.as_ref(), d2.path(), &["init", "--scope", SCOPE]),
        1,
        "already holds 1 listing(s) under scope nl/utrecht",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["node.key", "member.key", "operator.token"] {
            let mode = std::fs::metadata(d2.path().join(f))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
        let mode = std::fs::metadata(d2.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}

#[test]
fn bad_input_is_refused_and_nothing_is_stored() {
    let node = TestNode::start(BIN.as_ref(), SCOPE);
    one_line_error(
        &node.cli(&["offer", "Ladder", "--topic", "drills"]),
        1,
        "unknown topic",
    );
    one_line_error(
        &node.cli(&["offer", "Ladder", "--expires", "3x"]),
        1,
        "duration",
    );
    one_line_error(
        &node.cli(&["offer", "Ladder", "--expires", "100d"]),
        1,
        "90 days",
    );
    one_line_error(
        &node.cli(&["offer", "Ladder", "--price", "twee euro"]),
        1,
        "amount",
    );
    one_line_error(
        &node.cli(&["offer", "Ladder", "--exchange", "borrow"]),
        1,
        "exchange",
    );
    one_line_error(
        &node.cli(&["offer", "Ladder", "--geohash", "u17a"]),
        1,
        "geohash",
    );
    one_line_error(
        &node.cli(&["offer", "Ladder", "--scope", "nl/amsterdam"]),
        1,
        "scope",
    );
    one_line_error(&node.cli(&["offer", &"x".repeat(121)]), 1, "120");
    one_line_error(&node.cli(&["offer", "   "]), 1, "title");
    one_line_error(
        &node.cli(&["search", "x", "--topic", "drills"]),
        1,
        "unknown topic",
    );
    one_line_error(
        &node.cli(&["search", "x", "--exchange", "borrow"]),
        1,
        "borrow",
    );
    one_line_error(&node.cli(&["search", "x", "--limit", "0"]), 1, "limit");
    one_line_error(&node.cli(&["show", "zzzz"]), 1, "not a listing id");
    one_line_error(&node.cli(&["show", "abcdef"]), 1, "no listing");
    one_line_error(&node.cli(&["update", "abcdef"]), 1, "nothing to change");
    assert_eq!(
        node.ok(&["--json", "status"]).json()["listings"],
        0,
        "nothing was stored"
    );
}

#[test]
fn ambiguous_prefix_is_a_clear_error() {
    let node = TestNode::start(BIN.as_ref(), SCOPE);
    let mut ids = Vec::new();
    // 17 ids over 16 hex digits: at least two share a first character.
    for i in 0..17 {
        ids.push(
            node.ok(&["offer", &format!("Ding {i}")])
                .stdout
                .trim()
                .to_owned(),
        );
    }
    let shared = (0..16u8)
        .map(|d| format!("{d:x}"))
        .find(|p| ids.iter().filter(|id| id.starts_with(p.as_str())).count() >= 2)
        .unwrap();
    one_line_error(&node.cli(&["show", &shared]), 1, "more than one listing");
    let unique = &ids[0];
    assert_eq!(
        node.ok(&["--json", "show", unique]).json()["id"],
        unique.as_str()
    );
}

#[test]
fn a_second_node_on_the_same_directory_is_refused() {
    let node = TestNode::start(BIN.as_ref(), SCOPE);
    let r = node.cli(&buurt_tests::NODE_ARGS);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("in use") || r.stderr.contains("another"),
        "{}",
        r.stderr
    );
    assert_eq!(
        node.ok(&["--json", "status"]).json()["scope"],
        SCOPE,
        "the first node still runs"
    );
}

#[test]
fn follow_and_unfollow_edit_the_config() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        buurt(BIN.as_ref(), dir.path(), &["init", "--scope", SCOPE]).code,
        0
    );
    let r = buurt(
        BIN.as_ref(),
        dir.path(),
        &["--json", "follow", "nl/amsterdam/west"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["follow"], serde_json::json!(["nl/amsterdam/west"]));
    one_line_error(
        &buurt(BIN.as_ref(), dir.path(), &["follow", "nl/amsterdam/west"]),
        1,
        "already",
    );
    one_line_error(
        &buurt(BIN.as_ref(), dir.path(), &["follow", "NL//x"]),
        1,
        "follow",
    );
    let config = std::fs::read_to_string(dir.path().join("config.toml")).unwrap();
    assert!(
        config.contains("nl/amsterdam/west") && !config.contains("NL//x"),
        "{config}"
    );
    assert_eq!(
        buurt(BIN.as_ref(), dir.path(), &["unfollow", "nl/amsterdam/west"]).code,
        0
    );
    one_line_error(
        &buurt(BIN.as_ref(), dir.path(), &["unfollow", "nl/amsterdam/west"]),
        1,
        "not following",
    );
}
