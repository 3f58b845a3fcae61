//! Faults found by attacking a node the way real machines and neighbours
//! will: each test here failed on the code before its fix.

use buurt_protocol::{Listing, SignedListing};
use buurt_tests::TestNode;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

/// The node operator's member key and certificate.
fn operator(
    node: &TestNode,
) -> (
    buurt_protocol::keys::SigningKey,
    buurt_protocol::Certificate,
) {
    buurt_tests::operator(node.path())
}

/// A listing by the node's operator, signed with their key.
fn operator_listing(node: &TestNode, title: &str, created: i64, expires: i64) -> SignedListing {
    let (key, cert) = operator(node);
    signed_by(&key, &cert, title, created, expires)
}

use buurt_tests::offer_by as signed_by;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Posts signed bytes; returns the HTTP status.
fn post(node: &TestNode, l: &SignedListing) -> u16 {
    post_with(&agent(), &node.url("/v1/listings"), l)
}

fn post_with(agent: &ureq::Agent, url: &str, l: &SignedListing) -> u16 {
    let body = serde_json::json!({ "signed": hex::encode(l.bytes()) });
    agent
        .post(url)
        .send_json(&body)
        .expect("answered")
        .status()
        .as_u16()
}

fn get_status(node: &TestNode, path: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .get(node.url(path))
        .call()
        .expect("answered")
        .status()
        .as_u16()
}

#[test]
fn an_expired_listing_is_gone_on_every_route_before_the_sweep() {
    let node = TestNode::start(BIN.as_ref(), SCOPE);
    let now = buurt_node::clock::now();
    let brief = operator_listing(&node, "Ladder voor even", now - 10, now + 2);
    let lasting = operator_listing(&node, "Ladder voor lang", now - 10, now + 86_400);
    assert_eq!(post(&node, &brief), 201);
    assert_eq!(post(&node, &lasting), 201);
    let id = brief.listing_id().to_string();
    assert_eq!(get_status(&node, &format!("/v1/listings/{id}")), 200);
    // Its expiry passes; the sweep (every 300 s) has not run.
    assert!(
        TestNode::eventually(10, || get_status(&node, &format!("/v1/listings/{id}"))
            == 410),
        "served as expired"
    );
    let shown = node.cli(&["show", &id]);
    assert_eq!(shown.code, 1);
    assert!(shown.stderr.contains("expired on"), "{}", shown.stderr);
    let all = node.search_ids(&["ladder", "--all"]);
    let kept = lasting.listing_id().to_string();
    assert_eq!(
        all,
        vec![kept.clone()],
        "search --all: the other ladder only"
    );
    let mine = node.ok(&["--json", "mine"]).json();
    let ids: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![kept.as_str()], "mine");
}

/// One author may post this burst: only the per-peer gossip rate is tested.
/// The burst comes from one node's members, so both the author limits and
/// the per-node limits of the web (1,000 listings an hour) are raised, as an
/// operator expecting such a burst would.
fn lift_rate_limits(f: &mut buurt_node::config::FileConfig) {
    f.rate_limits.author_per_hour = 1_000_000;
    f.rate_limits.author_per_day = 1_000_000;
    f.rate_limits.node_per_hour = 1_000_000;
}

#[test]
fn a_burst_from_an_honest_peer_arrives_whole_without_a_ban() {
    const POSTS: usize = 8_000;
    let a = TestNode::start_configured(BIN.as_ref(), SCOPE, &[], lift_rate_limits);
    let b = TestNode::start_configured(BIN.as_ref(), SCOPE, &[a.address()], lift_rate_limits);
    assert!(a.wait_subscribed(SCOPE));
    let (key, cert) = operator(&a);
    let now = buurt_node::clock::now();
    let listings: Vec<SignedListing> = (0..POSTS)
        .map(|n| signed_by(&key, &cert, &format!("Ding {n}"), now - 60, now + 86_400))
        .collect();
    // The burst: four posters at once, as fast as A answers.
    let url = a.url("/v1/listings");
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for part in listings.chunks(POSTS / 4) {
            let url = url.clone();
            s.spawn(move || {
                let agent = agent();
                for l in part {
                    assert_eq!(post_with(&agent, &url, l), 201);
                }
            });
        }
    });
    let burst = started.elapsed();
    eprintln!(
        "{POSTS} posts in {:.1} s ({:.0}/s)",
        burst.as_secs_f64(),
        POSTS as f64 / burst.as_secs_f64()
    );
    let on_b = || {
        b.ok(&["--json", "status"]).json()["listings"]
            .as_u64()
            .unwrap_or(0)
    };
    assert!(
        TestNode::eventually(30, || on_b() == POSTS as u64),
        "B has {} of {POSTS} 30 s after the burst; B's log:\n{}",
        on_b(),
        b.log()
    );
    eprintln!(
        "B had all {POSTS} {:.1} s after the burst ended",
        started.elapsed().as_secs_f64() - burst.as_secs_f64()
    );
    // No ban, no strike: A is still B's peer, and nothing A sent was invalid.
    assert_eq!(b.peer_count(), 1, "B's log:\n{}", b.log());
    assert!(!b.log().contains("invalid messages"), "{}", b.log());
    let rejected = &b.ok(&["--json", "status"]).json()["ingest"]["rejected"];
    assert_eq!(rejected, &serde_json::json!({}), "{rejected}");
}

/// Sends raw bytes to the API and reads until it closes, for up to `secs`.
fn raw(api: &str, bytes: &[u8], secs: u64) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(api).expect("connects");
    s.set_read_timeout(Some(std::time::Duration::from_secs(secs)))
        .unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The JSON body of a raw answer.
fn json_body(answer: &str) -> serde_json::Value {
    let body = answer.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {answer:?}"))
}

#[test]
fn every_api_error_is_json_with_a_reason() {
    let node = TestNode::start(BIN.as_ref(), SCOPE);
    let big_header = format!(
        "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(40_000)
    );
    let long_uri = format!(
        "GET /v1/listings/{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(10_000)
    );
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (
            b"POST /v1/listings HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_vec(),
            "400",
            "bad_request",
        ),
        (
            b"POST /v1/listings HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello".to_vec(),
            "400",
            "bad_request",
        ),
        (b"NOT HTTP AT ALL\r\n\r\n".to_vec(), "400", "bad_request"),
        (
            b"GET /v1/listings/%FF HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            "400",
            "bad_path",
        ),
        (
            b"DELETE /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            "405",
            "method_not_allowed",
        ),
        (big_header.into_bytes(), "431", "headers_too_large"),
        (long_uri.into_bytes(), "414", "uri_too_long"),
    ];
    for (request, status, reason) in cases {
        let answer = raw(&node.api, &request, 10);
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{reason}: {answer:?}"
        );
        assert_eq!(json_body(&answer)["reason"], reason, "{answer:?}");
    }
}

/// Lets this process open a few thousand sockets.
fn raise_open_files() {
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[test]
fn slow_clients_are_cut_off_and_do_not_keep_residents_out() {
    use std::io::{Read, Write};
    raise_open_files();
    let node = TestNode::start(BIN.as_ref(), SCOPE);
    // A thousand slow clients: bare connections, half request lines, and
    // bodies that never come.
    let mut slow = Vec::new();
    for n in 0..1_000 {
        let mut s = std::net::TcpStream::connect(&node.api).expect("connects");
        match n % 3 {
            0 => {}
            1 => {
                let _ = s.write_all(b"GET /v1/sta");
            }
            _ => {
                let _ = s.write_all(
                    b"POST /v1/listings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"sig",
                );
            }
        }
        slow.push((n % 3, s));
    }
    // A resident is still answered meanwhile.
    let status = node.cli(&["--json", "status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    // The stalled bodies get a JSON 408; everything slow is closed.
    for (kind, s) in &mut slow {
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut out = Vec::new();
        let read = s.read_to_end(&mut out);
        assert!(read.is_ok(), "closed by the node, not timed out: {read:?}");
        let answer = String::from_utf8_lossy(&out);
        if *kind == 2 {
            assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
            assert_eq!(json_body(&answer)["reason"], "body_timeout");
        }
    }
}

#[test]
fn connections_over_the_cap_get_a_json_503() {
    let node = TestNode::start_configured(BIN.as_ref(), SCOPE, &[], |f| f.api_max_connections = 20);
    let held: Vec<std::net::TcpStream> = (0..20)
        .map(|_| std::net::TcpStream::connect(&node.api).expect("connects"))
        .collect();
    // Each held connection is counted once the node has accepted it; one
    // more then finds the cap. (The refusal is read from that one request:
    // a second one could meet a slot freed by the head timeout, which cuts
    // held connections that sent nothing for 10 s.)
    let mut answer = String::new();
    assert!(TestNode::eventually(10, || {
        answer = raw(
            &node.api,
            b"GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            5,
        );
        answer.starts_with("HTTP/1.1 503 ")
    }));
    assert_eq!(
        json_body(&answer)["reason"],
        "too_many_connections",
        "{answer}"
    );
    drop(held);
    assert!(
        TestNode::eventually(10, || node.cli(&["status"]).code == 0),
        "served again once they close"
    );
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    /// `None` (and a message) where this process may not mount one.
    fn mount(megabytes: u32) -> Option<Tmpfs> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: could not mount a tmpfs here");
            return None;
        }
        Some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_recovers_without_restart() {
    let Some(fs) = Tmpfs::mount(24) else { return };
    let data = tempfile::tempdir_in(fs.0.path()).unwrap();
    let node = TestNode::start_in(BIN.as_ref(), data, SCOPE, &[], |f| {
        lift_rate_limits(f);
        f.storage_reserve_mb = 4;
    });
    // Leave about 3 MB above the reserve.
    let free = buurt_node::space::free_bytes(fs.0.path()).unwrap();
    let filler = fs.0.path().join("filler");
    let keep = 4_000_000 + 3_000_000;
    std::fs::write(&filler, vec![0u8; free.saturating_sub(keep) as usize]).unwrap();

    let (key, cert) = operator(&node);
    let now = buurt_node::clock::now();
    let agent = agent();
    let url = node.url("/v1/listings");
    let mut stored = Vec::new();
    let mut refused = None;
    for n in 0..20_000 {
        let mut l = Listing::clone(&signed_by(&key, &cert, "Ding", now - 60, now + 86_400).listing);
        l.body = format!("{n} {}", "x".repeat(3_500));
        let l = l.sign(&key).unwrap();
        let body = serde_json::json!({ "signed": hex::encode(l.bytes()) });
        let mut resp = agent.post(&url).send_json(&body).expect("answered");
        match resp.status().as_u16() {
            201 => stored.push(l.listing_id().to_string()),
            code => {
                let v: serde_json::Value = resp.body_mut().read_json().unwrap();
                refused = Some((code, v));
                break;
            }
        }
    }
    let (code, v) = refused.expect("the disk fills up");
    assert_eq!(code, 507, "{v}");
    assert_eq!(v["reason"], "storage_full", "{v}");
    assert!(stored.len() > 100, "{} stored first", stored.len());
    // Reads go on.
    let status = node.ok(&["--json", "status"]).json();
    assert_eq!(status["disk"], "full", "{status}");
    assert_eq!(status["listings"], stored.len(), "{status}");
    assert!(node.ok(&["show", &stored[0]]).stdout.contains("Ding"));
    assert!(!node.search_ids(&["ding"]).is_empty());
    let refused_cli = node.cli(&["offer", "Ladder"]);
    assert_eq!(refused_cli.code, 1);
    assert!(
        refused_cli.stderr.contains("disk"),
        "{}",
        refused_cli.stderr
    );
    // Space freed: writes work again, no restart.
    std::fs::remove_file(&filler).unwrap();
    assert!(
        TestNode::eventually(10, || node.cli(&["offer", "Ladder"]).code == 0),
        "posting works again"
    );
    assert_eq!(node.ok(&["--json", "status"]).json()["disk"], "ok");
}
