//! What a new operator and a new resident meet in their first hour: a second
//! node on the same host, a closed pipe, logs in a file, errors that say
//! what to do, help that teaches, and one node id in either form.

use std::process::{Command, Stdio};

use buurt_tests::{buurt, TestNode};

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

/// A TCP port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs `buurt --data-dir DIR ARGS` and gives its exit code and stderr.
fn run(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let r = buurt(BIN.as_ref(), dir, args);
    (r.code, r.stderr)
}

#[test]
fn a_second_node_on_the_same_p2p_port_fails_and_says_how_to_choose_another() {
    let port = free_port();
    let listen = format!("/ip4/127.0.0.1/tcp/{port}");
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    for d in [&first, &second] {
        assert_eq!(run(d.path(), &["init", "--scope", SCOPE]).0, 0);
    }
    let mut a = Command::new(BIN)
        .arg("--data-dir")
        .arg(first.path())
        .args([
            "--api",
            "127.0.0.1:0",
            "node",
            "--no-mdns",
            "--listen",
            &listen,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(TestNode::eventually(30, || first
        .path()
        .join("api.addr")
        .exists()));
    let (code, err) = run(
        second.path(),
        &[
            "--api",
            "127.0.0.1:0",
            "node",
            "--no-mdns",
            "--listen",
            &listen,
        ],
    );
    let _ = a.kill();
    let _ = a.wait();
    assert_eq!(code, 1, "{err}");
    let said: Vec<&str> = err.lines().filter(|l| l.starts_with("buurt:")).collect();
    assert_eq!(said.len(), 1, "one error line: {err}");
    assert!(
        said[0].contains(&format!("port {port} is in use")) && said[0].contains("--listen"),
        "{err}"
    );
    assert!(
        !err.contains("rebuilding the search index"),
        "a new data directory has nothing to rebuild: {err}"
    );
}

#[test]
fn an_api_port_in_use_is_said_once_with_the_flag_to_use() {
    let node = TestNode::start(BIN.as_ref(), SCOPE);
    let other = tempfile::tempdir().unwrap();
    assert_eq!(run(other.path(), &["init", "--scope", SCOPE]).0, 0);
    let (code, err) = run(
        other.path(),
        &[
            "--api",
            &node.api,
            "node",
            "--no-mdns",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.matches("in use").count(), 1, "said once: {err}");
    assert!(err.contains("--api HOST:PORT"), "{err}");
}

#[test]
fn a_closed_pipe_ends_the_cli_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("topics")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like `| head -0`: the reader is gone before anything is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.is_empty(), "nothing on stderr: {err}");
    assert_ne!(out.status.code(), Some(101), "no panic");
}

#[test]
fn logs_in_a_file_are_plain_and_rust_log_is_honoured() {
    let node = TestNode::start(BIN.as_ref(), SCOPE);
    let log = node.log();
    assert!(log.contains("buurt node running"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "no colour codes in a file: {log:?}"
    );
    assert!(
        !log.contains("local_peer_id"),
        "libp2p's own info lines are quiet"
    );

    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["init", "--scope", SCOPE]).0, 0);
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--api", "192.0.2.1:4747", "node", "--no-mdns"])
        .env("RUST_LOG", "debug")
        .env_remove("BUURT_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DEBUG"),
        "RUST_LOG=debug shows debug lines: {err}"
    );
}

#[test]
fn errors_name_what_was_given_and_what_would_do() {
    let node = TestNode::start(BIN.as_ref(), SCOPE);
    let r = node.cli(&["offer", "Ladder", "--geohash", "amsterdam"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("`amsterdam` is not a geohash")
            && r.stderr.contains("names a square of the map"),
        "{}",
        r.stderr
    );
    let r = node.cli(&["search", "--near", "amsterdam"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("names a square of the map"),
        "{}",
        r.stderr
    );

    let r = node.cli(&["offer", "Ladder", "--scope", "nl/utrecht"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(SCOPE) && r.stderr.contains("nl/utrecht"),
        "both scopes named: {}",
        r.stderr
    );

    let r = node.cli(&["sync"]);
    assert_eq!(r.code, 1, "no sync started is an error: {}", r.stdout);
    assert!(r.stderr.contains("no peer is connected"), "{}", r.stderr);
}

#[test]
fn help_shows_global_options_apart_defaults_and_the_statuses_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let help = buurt(BIN.as_ref(), dir.path(), &["offer", "--help"]).stdout;
    assert!(help.contains("Global options"), "{help}");
    let node = buurt(BIN.as_ref(), dir.path(), &["node", "--help"]).stdout;
    for want in [
        "127.0.0.1:4747",
        "/ip4/0.0.0.0/tcp/4001",
        "config.toml",
        "RUST_LOG",
        "Examples",
    ] {
        assert!(node.contains(want), "node --help lacks {want}: {node}");
    }
    let update = buurt(BIN.as_ref(), dir.path(), &["update", "--help"]).stdout;
    let update = update.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(update.contains("open, reserved, closed"), "{update}");
    assert!(update.contains("New title"), "{update}");
    let bad = buurt(
        BIN.as_ref(),
        dir.path(),
        &["update", "abcd", "--status", "withdrawn"],
    );
    assert_eq!(bad.code, 2, "a usage error");
    assert!(
        bad.stderr.contains("open, reserved, closed"),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_node_id_works_in_either_form() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let status = a.ok(&["--json", "status"]).json();
    let node_id = status["node_id"].as_str().unwrap().to_owned();
    let addr = status["listen_addrs"][0].as_str().unwrap().to_owned();
    let peer_id = addr.rsplit('/').next().unwrap().to_owned();
    assert!(peer_id.starts_with("12D3"), "{addr}");
    // A peer given by its bn… id in the multiaddress.
    let by_node_id = addr.replace(&peer_id, &node_id);
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[by_node_id]);
    assert!(TestNode::eventually(20, || a.peer_count() == 1));
    // trust and sync take the libp2p form too, and answer in the bn… form.
    let t = b.ok(&["--json", "trust", &peer_id]).json();
    assert_eq!(t["node_id"], node_id.as_str(), "{t}");
    assert!(TestNode::eventually(20, || b
        .cli(&["sync", "--peer", &peer_id])
        .code
        == 0));
}

#[test]
fn show_tells_created_from_updated() {
    let node = TestNode::start(BIN.as_ref(), SCOPE);
    let id = node
        .ok(&["offer", "Ladder te leen"])
        .stdout
        .trim()
        .to_owned();
    let first = node.ok(&["show", &id]).stdout;
    assert!(
        first.contains("created") && !first.contains("updated"),
        "{first}"
    );
    node.ok(&["update", &id, "--title", "Ladder (3 m) te leen"]);
    let shown = node.ok(&["show", &id]).stdout;
    assert!(
        shown.contains("updated") && shown.contains("(once)"),
        "{shown}"
    );
    let json = node.ok(&["--json", "show", &id]).json();
    assert_eq!(json["revisions"], 2, "{json}");
    node.ok(&["withdraw", &id]);
    let gone = node.ok(&["show", &id]).stdout;
    assert!(gone.contains("withdrawn by its author"), "{gone}");
    assert!(!gone.contains("terms"), "no emptied fields: {gone}");
}
