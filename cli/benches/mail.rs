//! The replies benchmark: prints figures, asserts nothing.
//!
//! `cargo bench -p buurt-cli --bench mail` (add `-- crypto`, `-- line` or
//! `-- inbox` for one part). On this machine it measures:
//! - **crypto**: sealing a letter (HPKE X25519 + HKDF-SHA256 +
//!   ChaCha20-Poly1305, padding) and opening it (with the checks of the
//!   letter inside: its signature, the sender's certificate and reply key)
//!   on one core, against raw X25519 scalar multiplications;
//! - **line**: on a line of three real nodes A–B–C on loopback, `buurt
//!   reply` by C's resident to A's author, from the command's start until
//!   it answers `delivered` (which A's node says only after it stored the
//!   letter durably): p50/p99 over 100 replies;
//! - **inbox**: a mailbox of 10,000 letters in 100 conversations: the first
//!   `buurt inbox` (fetch and open all), then `buurt inbox` as it runs
//!   afterwards (p50/p99 over 20 runs), and the node's resident memory.

use std::process::Command;
use std::time::{Duration, Instant};

use buurt_node::api::mail::{ReplyKeyAnswer, Sealed, SendAnswer, SendBody};
use buurt_protocol::keys;
use buurt_protocol::mail::key::keypair;
use buurt_protocol::mail::mailbox::{MailboxRequest, Op};
use buurt_protocol::mail::{Envelope, Letter, ReplyKey};
use buurt_protocol::sample::{Identity, SCOPE, T0};
use buurt_protocol::{Certificate, ListingId};
use buurt_tests::process::rss_kb;
use buurt_tests::TestNode;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn crypto() {
    let author = Identity::fixed();
    let resident = Identity::new([0x31; 32], [0x32; 32], SCOPE, T0 - 86_400);
    let record = |who: &Identity, seed: u8| {
        ReplyKey {
            member: keys::member_id(&who.member),
            key: keypair(&[seed; 32]).1,
            not_before: T0 - 3_600,
            not_after: T0 + 90 * 86_400,
            certificate: who.certificate.clone(),
        }
        .sign(&who.member)
        .unwrap()
    };
    let to = ReplyKey::verify(&record(&author, 0x44), T0).unwrap();
    let secret = keypair(&[0x44; 32]).0;
    let letter = Letter {
        listing: ListingId([0x11; 16]),
        to: to.member,
        created_at: T0,
        text: "Mag ik hem zaterdag lenen? Ik kan om tien uur langskomen.".into(),
        certificate: resident.certificate.clone(),
        reply_key: record(&resident, 0x55),
    }
    .sign(&resident.member)
    .unwrap();
    let n = 2_000u32;

    let start = Instant::now();
    let mut acc = [9u8; 32];
    for i in 0..n {
        let mut scalar = [7u8; 32];
        scalar[0] = i as u8;
        acc = x25519_dalek::x25519(scalar, acc);
    }
    let raw = start.elapsed() / n;
    std::hint::black_box(acc);

    let start = Instant::now();
    let mut sealed = Vec::new();
    for i in 0..n {
        let mut seed = [3u8; 32];
        seed[..4].copy_from_slice(&i.to_be_bytes());
        sealed.push(
            Envelope::seal_unsigned(
                &letter,
                &to,
                author.certificate.node,
                ListingId([0x11; 16]),
                T0,
                seed,
            )
            .unwrap(),
        );
    }
    let seal = start.elapsed() / n;

    let start = Instant::now();
    for e in &sealed {
        std::hint::black_box(e.open(&secret, T0).unwrap());
    }
    let open = start.elapsed() / n;

    let ratio = |d: Duration| d.as_secs_f64() / raw.as_secs_f64();
    println!("crypto (one core, {n} letters of {} bytes):", letter.len());
    println!(
        "  raw X25519 scalar multiplication   {:>8.1} µs  ({:>6.0}/s)",
        raw.as_secs_f64() * 1e6,
        1.0 / raw.as_secs_f64()
    );
    println!(
        "  seal (HPKE, padded)                {:>8.1} µs  ({:>6.0}/s)  {:.2}× X25519",
        seal.as_secs_f64() * 1e6,
        1.0 / seal.as_secs_f64(),
        ratio(seal)
    );
    println!(
        "  open (HPKE + letter's 3 signatures){:>8.1} µs  ({:>6.0}/s)  {:.2}× X25519",
        open.as_secs_f64() * 1e6,
        1.0 / open.as_secs_f64(),
        ratio(open)
    );
}

fn line() {
    let scope = "nl/amsterdam/oost/dapperbuurt";
    let a = TestNode::start(BIN.as_ref(), scope);
    let b = TestNode::start_with_peers(BIN.as_ref(), scope, &[a.address()]);
    let c = TestNode::start_with_peers(BIN.as_ref(), scope, &[b.address()]);
    assert!(TestNode::eventually(30, || a.peer_count() == 1
        && b.peer_count() == 2
        && c.peer_count() == 1));
    assert!(a.wait_subscribed(scope) && b.wait_subscribed(scope));
    let id = a.ok(&["--json", "offer", "Boormachine te leen"]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(c.finds(&["boormachine"], &id, true, 30));
    // The first reply fetches the key and sets things up; not counted.
    c.ok(&["--json", "reply", &id, "eerste"]);
    let mut times = Vec::new();
    for i in 0..100 {
        let start = Instant::now();
        let out = Command::new(BIN)
            .arg("--data-dir")
            .arg(c.path())
            .args(["--json", "reply", &id, &format!("Vraag nummer {i}")])
            .output()
            .unwrap();
        let took = start.elapsed();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["state"], "delivered", "{v}");
        times.push(took);
    }
    times.sort();
    println!("line A–B–C, `buurt reply` until delivered at A (100 replies, through B):");
    println!(
        "  p50 {}  p99 {}  max {}",
        ms(pct(&times, 0.5)),
        ms(pct(&times, 0.99)),
        ms(times[times.len() - 1])
    );
}

fn inbox() {
    let scope = "nl/amsterdam/oost/dapperbuurt";
    let a = TestNode::start_configured(BIN.as_ref(), scope, &[], |c| {
        c.mail.max_messages = 20_000;
    });
    // The author publishes a reply key.
    a.ok(&["inbox"]);
    let empty_rss = a.pid().map(rss_kb).unwrap_or(0);
    let dir = buurt_node::datadir::DataDir::new(a.path());
    let author = keys::member_id(&dir.member_key().unwrap());
    let node = dir.node_id().unwrap();
    // A second member of the same node writes the letters.
    let writer = keys::from_seed([0x66; 32]);
    let wid = keys::member_id(&writer);
    a.ok(&["admit", &wid.to_string(), "--name", "schrijver"]);
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let cert: serde_json::Value = agent
        .get(&a.url(&format!("/v1/members/{wid}/certificate")))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let cert =
        Certificate::from_bytes(&hex::decode(cert["certificate"].as_str().unwrap()).unwrap())
            .unwrap();
    let writer_key = ReplyKey {
        member: wid,
        key: keypair(&[0x67; 32]).1,
        not_before: buurt_node::clock::now() - 60,
        not_after: buurt_node::clock::now() + 80 * 86_400,
        certificate: cert.clone(),
    }
    .sign(&writer)
    .unwrap();
    let k: ReplyKeyAnswer = agent
        .get(&a.url(&format!("/v1/members/{author}/reply-key")))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let to = ReplyKey::verify(&hex::decode(&k.record).unwrap(), buurt_node::clock::now()).unwrap();
    let total = 10_000u32;
    let start = Instant::now();
    let mut i = 0u32;
    while i < total {
        let now = buurt_node::clock::now();
        let mut envs = Vec::new();
        for _ in 0..4 {
            let listing = ListingId([(i % 100) as u8; 16]);
            let letter = Letter {
                listing,
                to: author,
                created_at: now,
                text: format!("Bericht {i}: is het nog beschikbaar?"),
                certificate: cert.clone(),
                reply_key: writer_key.clone(),
            }
            .sign(&writer)
            .unwrap();
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_be_bytes());
            seed[4] = 1;
            envs.push(Envelope::seal_unsigned(&letter, &to, node, listing, now, seed).unwrap());
            i += 1;
        }
        let mut nonce = [0u8; 16];
        nonce[..4].copy_from_slice(&i.to_be_bytes());
        let req = MailboxRequest {
            member: wid,
            at: now,
            nonce,
            op: Op::Send {
                digest: Envelope::send_digest(&envs).unwrap(),
            },
        }
        .sign(&writer)
        .unwrap();
        let body = SendBody {
            request: hex::encode(req),
            envelopes: envs.iter().map(Sealed::from_envelope).collect(),
            wait_ms: Some(0),
        };
        let _: SendAnswer = agent
            .post(&a.url("/v1/mail"))
            .send_json(&body)
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
    }
    let stored = TestNode::eventually(300, || {
        let boxes: serde_json::Value = Command::new(BIN)
            .arg("--data-dir")
            .arg(a.path())
            .args(["--json", "mailboxes"])
            .output()
            .ok()
            .and_then(|o| serde_json::from_slice(&o.stdout).ok())
            .unwrap_or_default();
        boxes
            .as_array()
            .map(|l| {
                l.iter()
                    .any(|b| b["letters"].as_u64() == Some(u64::from(total)))
            })
            .unwrap_or(false)
    });
    assert!(stored, "the letters reached the mailbox");
    let filled_rss = a.pid().map(rss_kb).unwrap_or(0);
    println!(
        "inbox: {total} letters in 100 conversations (sent and delivered in {:.1} s)",
        start.elapsed().as_secs_f64()
    );
    let run = || {
        let start = Instant::now();
        let out = Command::new(BIN)
            .arg("--data-dir")
            .arg(a.path())
            .args(["--json", "inbox"])
            .output()
            .unwrap();
        let took = start.elapsed();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v.as_array().map(|l| l.len()), Some(100));
        took
    };
    let first = run();
    let mut times: Vec<Duration> = (0..20).map(|_| run()).collect();
    times.sort();
    println!(
        "  first `buurt inbox` (fetch and open {total})  {}",
        ms(first)
    );
    println!(
        "  `buurt inbox` after that: p50 {}  p99 {}",
        ms(pct(&times, 0.5)),
        ms(pct(&times, 0.99))
    );
    if let Some(pid) = a.pid() {
        println!(
            "  node resident memory: {} MB empty, {} MB once 10,000 letters were taken in, {} MB after the inbox runs",
            empty_rss / 1024,
            filled_rss / 1024,
            rss_kb(pid) / 1024,
        );
    }
}

fn main() {
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let want = |p: &str| only.as_deref().is_none_or(|o| o == p);
    if want("crypto") {
        crypto();
    }
    if want("line") {
        line();
    }
    if want("inbox") {
        inbox();
    }
}
