//! A damaged database never opens as if it were whole, and what it lost
//! comes back: `buurt check`, `buurt repair` and catch-up sync, `buurt
//! backup` while the node runs and `buurt restore`.

use std::path::Path;

use buurt_tests::{buurt, TestNode};

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

fn lift_author_limits(f: &mut buurt_node::config::FileConfig) {
    f.rate_limits.author_per_hour = 1_000_000;
    f.rate_limits.author_per_day = 1_000_000;
}

/// Posts `n` offers through the CLI's API path, as the operator.
fn post_many(node: &TestNode, n: usize, word: &str) -> Vec<String> {
    (0..n)
        .map(|k| {
            node.ok(&["offer", &format!("{word} {k}")])
                .stdout
                .trim()
                .to_owned()
        })
        .collect()
}

fn listings(node: &TestNode) -> u64 {
    node.ok(&["--json", "status"]).json()["listings"]
        .as_u64()
        .unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Starts `buurt node` on `dir`: `Ok(listings held)` once its API answers,
/// `Err(stderr)` when it refuses to start.
fn try_start(dir: &Path) -> Result<u64, String> {
    let _ = std::fs::remove_file(dir.join("api.addr"));
    let log = dir.join("trial.log");
    let mut child = std::process::Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(buurt_tests::NODE_ARGS)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(1), "a refusal is exit 1");
            return Err(std::fs::read_to_string(&log).unwrap());
        }
        if dir.join("api.addr").exists() {
            let r = buurt(BIN.as_ref(), dir, &["--json", "status"]);
            if r.code == 0 {
                let n = r.json()["listings"].as_u64().unwrap();
                let _ = child.kill();
                let _ = child.wait();
                return Ok(n);
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "neither started nor refused"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_damaged_database_is_refused_or_whole_never_silently_short() {
    let trials: u64 = std::env::var("BUURT_DAMAGE_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(12);
    let mut node = TestNode::start_configured(BIN.as_ref(), SCOPE, &[], lift_author_limits);
    post_many(&node, 300, "Ding");
    assert_eq!(listings(&node), 300);
    assert_eq!(node.signal("TERM"), Some(0), "a clean stop");
    let pristine = tempfile::tempdir().unwrap();
    copy_dir(node.path(), pristine.path());
    let size = std::fs::metadata(pristine.path().join("db/db"))
        .unwrap()
        .len();
    let (mut refused, mut whole) = (0, 0);
    let mut rng = 0x5eed_u64;
    for t in 0..trials {
        let work = tempfile::tempdir().unwrap();
        copy_dir(pristine.path(), work.path());
        let db = work.path().join("db/db");
        let what = match t {
            0 => {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&db)
                    .unwrap()
                    .set_len(0)
                    .unwrap();
                "truncated to zero".to_owned()
            }
            1 => {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&db)
                    .unwrap()
                    .set_len(size / 2)
                    .unwrap();
                "truncated to half".to_owned()
            }
            _ => {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let at = rng % size;
                let mut bytes = std::fs::read(&db).unwrap();
                bytes[at as usize] ^= 1 << (rng % 8);
                std::fs::write(&db, bytes).unwrap();
                format!("bit flipped at {at} of {size}")
            }
        };
        match try_start(work.path()) {
            Err(log) => {
                assert!(
                    log.contains("lost listings it had acknowledged") || log.contains("damaged"),
                    "{what}: a refusal says why: {log}"
                );
                refused += 1;
            }
            Ok(n) => {
                assert_eq!(
                    n, 300,
                    "{what}: started with {n} of 300 listings and said nothing"
                );
                whole += 1;
            }
        }
    }
    eprintln!("{trials} trials: {refused} refused, {whole} whole");
    assert!(refused >= 2, "the truncations are refused");
}

#[test]
fn repair_keeps_what_is_intact_and_sync_brings_back_the_rest() {
    let mut a = TestNode::start_configured(BIN.as_ref(), SCOPE, &[], lift_author_limits);
    let mut b = TestNode::start_configured(BIN.as_ref(), SCOPE, &[a.address()], lift_author_limits);
    assert!(a.wait_subscribed(SCOPE));
    let shared = post_many(&a, 40, "Gedeeld");
    assert!(
        TestNode::eventually(30, || listings(&b) == 40),
        "B holds all 40"
    );
    // One more that no peer holds: B is down when it is posted.
    assert_eq!(b.signal("TERM"), Some(0));
    let alone = post_many(&a, 1, "Alleen").remove(0);
    assert_eq!(a.signal("TERM"), Some(0));

    // The database's log is emptied: everything acknowledged is gone.
    let db = a.path().join("db/db");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(0)
        .unwrap();
    let refused = try_start(a.path()).expect_err("a node that lost listings does not start");
    assert!(
        refused.contains("lost listings it had acknowledged") && refused.contains("held 41"),
        "{refused}"
    );
    let checked = a.cli(&["--json", "check"]);
    assert_eq!(checked.code, 1, "check says it is not whole");
    let report: serde_json::Value = serde_json::from_str(&checked.stdout).unwrap();
    assert_eq!(report["lost_per_watermark"], 41, "{report}");
    assert_eq!(report["only_in_index"].as_array().unwrap().len(), 41);

    let repaired = a.ok(&["--json", "repair"]).json();
    assert_eq!(repaired["kept"], 0, "{repaired}");
    assert_eq!(repaired["missing"], 41, "{repaired}");
    assert_eq!(repaired["missing_own"], 41, "{repaired}");

    // Back with its peer: sync returns what B holds; the one no peer holds
    // stays missing, and is named as this node's own.
    b.spawn();
    a.set_peers(&[b.address()]);
    a.spawn();
    assert!(
        TestNode::eventually(60, || {
            let s = a.ok(&["--json", "status"]).json();
            s["repair"]["missing"] == 1 && s["repair"]["missing_own"] == 1
        }),
        "A's status: {}; log:\n{}",
        a.ok(&["--json", "status"]).json(),
        a.log()
    );
    assert_eq!(listings(&a), 40);
    assert!(shared.iter().all(|id| a.cli(&["show", id]).code == 0));
    assert_eq!(a.cli(&["show", &alone]).code, 1);
    let checked = a.cli(&["check"]);
    assert_eq!(checked.code, 1, "the node runs: check refuses");
}

#[test]
fn a_backup_made_while_the_node_runs_restores_into_a_new_directory() {
    let node = TestNode::start_configured(BIN.as_ref(), SCOPE, &[], lift_author_limits);
    let before = post_many(&node, 25, "Bewaard");
    let someone = buurt_protocol::keys::member_id(&buurt_protocol::keys::from_seed([9; 32]));
    node.ok(&["block", &someone.to_string(), "--reason", "test"]);
    let folder = tempfile::tempdir().unwrap();
    let to = folder.path().join("backup");
    let made = node.ok(&["--json", "backup", to.to_str().unwrap()]).json();
    assert_eq!(made["listings"], 25, "{made}");
    let after = post_many(&node, 3, "Later");
    // Into an existing non-empty folder: refused.
    let again = node.cli(&["backup", to.to_str().unwrap()]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("not empty"), "{}", again.stderr);

    let target = tempfile::tempdir().unwrap();
    let restored = buurt(
        BIN.as_ref(),
        target.path(),
        &["--json", "restore", to.to_str().unwrap()],
    );
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    assert_eq!(restored.json()["stored"], 25);
    let node_id = node.ok(&["--json", "status"]).json()["node_id"].clone();
    let mut copy = TestNode::start_in(BIN.as_ref(), target, SCOPE, &[], |_| {});
    let s = copy.ok(&["--json", "status"]).json();
    assert_eq!(s["node_id"], node_id, "the same node");
    assert_eq!(s["listings"], 25);
    assert_eq!(s["blocks"], 1, "the operator's lists came too");
    assert!(before.iter().all(|id| copy.cli(&["show", id]).code == 0));
    assert!(after.iter().all(|id| copy.cli(&["show", id]).code == 1));
    assert!(
        copy.finds(&["bewaard", "--limit", "100"], &before[0], true, 10),
        "the index is rebuilt"
    );
    assert_eq!(copy.signal("TERM"), Some(0));
}
