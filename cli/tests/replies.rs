//! Replies between real nodes on loopback: a resident answers a listing of
//! another node's member, the author reads and answers, both see the whole
//! conversation; through a relay without any node seeing the text; to a
//! home node that is down, across a kill -9 of the sender's node; and the
//! home node's refusals reaching the sender's delivery state.

use std::path::Path;

use buurt_tests::TestNode;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_buurt");
const SCOPE: &str = "nl/amsterdam/oost/dapperbuurt";

fn offer(node: &TestNode, title: &str) -> String {
    node.ok(&["--json", "offer", title]).json()["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

fn member_of(node: &TestNode) -> String {
    node.ok(&["--json", "status"]).json()["member_id"]
        .as_str()
        .expect("a member id")
        .to_owned()
}

fn node_of(node: &TestNode) -> String {
    node.ok(&["--json", "status"]).json()["node_id"]
        .as_str()
        .expect("a node id")
        .to_owned()
}

fn texts(thread: &Value) -> Vec<String> {
    thread["letters"]
        .as_array()
        .expect("letters")
        .iter()
        .map(|l| l["text"].as_str().expect("text").to_owned())
        .collect()
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    hits.push(p.display().to_string());
                }
            }
        }
    }
    hits
}

#[test]
fn a_reply_and_its_answer_between_two_nodes() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(TestNode::eventually(20, || a.peer_count() == 1 && b.peer_count() == 1));
    assert!(a.wait_subscribed(SCOPE) && b.wait_subscribed(SCOPE));
    let id = offer(&a, "Boormachine te leen");
    assert!(b.finds(&["boormachine"], &id, true, 20), "B has A's offer");

    let sent = b
        .ok(&["--json", "reply", &id[..10], "Mag ik hem zaterdag lenen?"])
        .json();
    assert_eq!(sent["state"], "delivered", "{sent}\nB log:\n{}", b.log());
    let conv = sent["conversation"].as_str().unwrap().to_owned();

    let inbox = a.ok(&["--json", "inbox"]).json();
    let list = inbox.as_array().unwrap();
    assert_eq!(list.len(), 1, "{inbox}");
    assert_eq!(list[0]["conversation"], conv.as_str());
    assert_eq!(list[0]["unread"], 1);
    assert_eq!(list[0]["with"], member_of(&b).as_str());
    assert_eq!(list[0]["last_text"], "Mag ik hem zaterdag lenen?");
    let human = a.ok(&["inbox"]).stdout;
    assert!(human.contains("* ") && human.contains(&conv), "{human}");

    let seen = a.ok(&["--json", "thread", &conv[..6]]).json();
    assert_eq!(texts(&seen), ["Mag ik hem zaterdag lenen?"]);
    assert_eq!(a.ok(&["--json", "inbox"]).json()[0]["unread"], 0);

    let answer = a
        .ok(&["--json", "reply", &conv, "Ja hoor, kom om tien uur."])
        .json();
    assert_eq!(answer["state"], "delivered", "{answer}");
    assert_eq!(answer["conversation"], conv.as_str());

    let want = ["Mag ik hem zaterdag lenen?", "Ja hoor, kom om tien uur."];
    let at_b = b.ok(&["--json", "thread", &conv]).json();
    assert_eq!(texts(&at_b), want, "B sees both sides");
    let at_a = a.ok(&["--json", "thread", &conv]).json();
    assert_eq!(texts(&at_a), want, "A sees both sides");
    assert_eq!(b.ok(&["--json", "inbox"]).json()[0]["letters"], 2);

    // The listing id works for its one conversation, on both sides.
    let by_listing = a.ok(&["--json", "reply", &id, "Tot zaterdag!"]).json();
    assert_eq!(by_listing["conversation"], conv.as_str(), "{by_listing}");
    assert_eq!(texts(&b.ok(&["--json", "thread", &id]).json()).len(), 3);
    // On a new device with the same keys (member key and reply keys), the
    // whole conversation comes back from the mailbox: the other side's
    // letters and the sender's own copies.
    std::fs::remove_dir_all(b.path().join("letters")).unwrap();
    let again = b.ok(&["--json", "thread", &conv]).json();
    assert_eq!(
        texts(&again),
        [want[0], want[1], "Tot zaterdag!"],
        "B's thread rebuilt from its mailbox"
    );

    // An own listing that nobody answered has no conversation to answer.
    let other = offer(&a, "Ladder te leen");
    let own = a.cli(&["reply", &other, "hallo"]);
    assert_eq!(own.code, 1);
    assert!(own.stderr.contains("your own"), "{}", own.stderr);
}

#[test]
fn a_reply_through_a_relay_is_read_by_no_node() {
    let (a, b, c) = TestNode::line(BIN.as_ref(), SCOPE);
    let id = offer(&a, "Ladder te leen");
    assert!(c.finds(&["ladder"], &id, true, 20), "C has A's offer");

    let marker = "Geheim-adres-Dapperstraat-88-bel-drie-keer";
    let sent = c.ok(&["--json", "reply", &id, marker]).json();
    assert_eq!(sent["state"], "delivered", "{sent}\nC log:\n{}", c.log());
    let inbox = a.ok(&["--json", "inbox"]).json();
    assert_eq!(inbox[0]["last_text"], marker, "{inbox}");
    assert_eq!(inbox[0]["with"], member_of(&c).as_str());

    // B carried it and holds nothing readable, in any file; A's and C's
    // nodes (their databases, index and logs) hold it sealed only. The
    // residents' own letters folders hold it opened, as a mail client does.
    let needle = marker.as_bytes();
    assert_eq!(files_containing(b.path(), needle), Vec::<String>::new());
    for n in [&a, &c] {
        for part in ["db", "mail", "index", "node.log"] {
            let p = n.path().join(part);
            let hits = if p.is_dir() {
                files_containing(&p, needle)
            } else {
                std::fs::read(&p)
                    .ok()
                    .filter(|b| b.windows(needle.len()).any(|w| w == needle))
                    .map(|_| vec![p.display().to_string()])
                    .unwrap_or_default()
            };
            assert_eq!(hits, Vec::<String>::new());
        }
    }
    assert!(!files_containing(&a.path().join("letters"), needle).is_empty());
}

#[test]
fn a_reply_waits_for_a_home_node_that_is_down_across_a_kill_9() {
    let mut b = TestNode::start(BIN.as_ref(), SCOPE);
    let mut a = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[b.address()]);
    assert!(TestNode::eventually(20, || a.peer_count() == 1 && b.peer_count() == 1));
    assert!(a.wait_subscribed(SCOPE) && b.wait_subscribed(SCOPE));
    let id = offer(&a, "Kinderfiets te leen");
    assert!(b.finds(&["kinderfiets"], &id, true, 20));
    // B's node learns A's member's reply key while A is up.
    let path = format!(
        "/v1/members/{}/reply-key?node={}",
        member_of(&a),
        node_of(&a)
    );
    let key = ureq::get(&b.url(&path)).call().expect("the key");
    assert_eq!(key.status(), 200);

    a.kill9();
    assert!(TestNode::eventually(20, || b.peer_count() == 0));
    let sent = b
        .ok(&["--json", "reply", &id, "Is hij er zondag nog?"])
        .json();
    assert_eq!(sent["state"], "queued", "{sent}");
    let mail_id = sent["id"].as_str().unwrap().to_owned();

    // The sender's node dies right after answering `queued`.
    b.kill9();
    b.spawn();
    let state = b.ok(&["--json", "mail", &mail_id]).json();
    assert_eq!(state["state"], "queued", "{state}");
    assert_eq!(b.ok(&["--json", "status"]).json()["mail"]["queued"], 1);

    a.set_peers(&[b.address()]);
    a.spawn();
    assert!(
        TestNode::eventually(30, || b.ok(&["--json", "mail", &mail_id]).json()["state"]
            == "delivered"),
        "delivered after both came back; B log:\n{}",
        b.log()
    );
    let inbox = a.ok(&["--json", "inbox"]).json();
    assert_eq!(inbox[0]["last_text"], "Is hij er zondag nog?", "{inbox}");
    assert_eq!(b.ok(&["--json", "status"]).json()["mail"]["queued"], 0);
    // A holds the letter, and B its member's own copy: counts, not text.
    assert_eq!(a.ok(&["--json", "status"]).json()["mail"]["letters"], 1);
    let boxes = a.ok(&["--json", "mailboxes"]).json();
    assert_eq!(boxes[0]["letters"], 1, "{boxes}");
}

#[test]
fn a_full_mailbox_and_a_blocked_node_reach_the_senders_state() {
    let a = TestNode::start_configured(BIN.as_ref(), SCOPE, &[], |c| c.mail.max_messages = 2);
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(TestNode::eventually(20, || a.peer_count() == 1 && b.peer_count() == 1));
    assert!(a.wait_subscribed(SCOPE) && b.wait_subscribed(SCOPE));
    let id = offer(&a, "Naaimachine te leen");
    assert!(b.finds(&["naaimachine"], &id, true, 20));

    // The author's own copy of nothing yet: two letters fill the mailbox.
    for text in ["Eerste vraag", "Tweede vraag"] {
        let sent = b.ok(&["--json", "reply", &id, text]).json();
        assert_eq!(sent["state"], "delivered", "{sent}");
    }
    let full = b.cli(&["--json", "reply", &id, "Derde vraag"]);
    assert_eq!(full.code, 0, "{}", full.stderr);
    let v = full.json();
    assert_eq!(v["state"], "failed", "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("mailbox is full"),
        "{v}"
    );
    let human = b.cli(&["reply", &id, "Vierde vraag"]);
    assert_eq!(human.code, 1);
    assert!(
        human
            .stdout
            .contains("failed: the recipient's mailbox is full"),
        "{}",
        human.stdout
    );

    // The author reads and deletes nothing; the operator blocks B's node.
    let blocked = a.ok(&["block", &node_of(&b), "--reason", "spam"]);
    assert!(blocked.stdout.contains("mail"), "{}", blocked.stdout);
    let sent = b.ok(&["--json", "reply", &id, "Na het blok"]).json();
    assert_eq!(sent["state"], "failed", "{sent}");
    assert!(
        sent["detail"].as_str().unwrap().contains("blocked"),
        "{sent}"
    );
    let inbox = a.ok(&["--json", "inbox"]).json();
    assert_eq!(inbox[0]["letters"], 2, "nothing more was stored: {inbox}");
}

#[test]
fn a_blocked_member_is_dropped_by_the_reader() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(TestNode::eventually(20, || a.peer_count() == 1 && b.peer_count() == 1));
    assert!(a.wait_subscribed(SCOPE) && b.wait_subscribed(SCOPE));
    let id = offer(&a, "Grasmaaier te leen");
    assert!(b.finds(&["grasmaaier"], &id, true, 20));
    a.ok(&["block", &member_of(&b), "--reason", "hinderlijk"]);
    let sent = b.ok(&["--json", "reply", &id, "Hallo?"]).json();
    // Sealed sender: the home node cannot tell who wrote, so it stores it.
    assert_eq!(sent["state"], "delivered", "{sent}");
    let inbox = a.ok(&["--json", "inbox"]).json();
    assert_eq!(inbox, serde_json::json!([]), "dropped unread: {inbox}");
}

#[test]
fn the_mailbox_api_refuses_a_replayed_or_forged_fetch() {
    use buurt_protocol::mail::mailbox::{MailboxRequest, Op};
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let dir = buurt_node::datadir::DataDir::new(a.path());
    let key = dir.member_key().unwrap();
    let me = buurt_protocol::keys::member_id(&key);
    let signed = |k: &buurt_protocol::keys::SigningKey, nonce: u8| {
        let r = MailboxRequest {
            member: me,
            at: buurt_node::clock::now(),
            nonce: [nonce; 16],
            op: Op::Fetch { after: 0 },
        };
        serde_json::json!({ "signed": hex::encode(r.sign(k).unwrap()) })
    };
    let post = |body: &Value| {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = agent.post(&a.url("/v1/mailbox")).send_json(body).unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_json::<Value>().unwrap())
    };
    let body = signed(&key, 1);
    let (status, v) = post(&body);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["letters"], serde_json::json!([]));
    let (status, v) = post(&body);
    assert_eq!(status, 403, "{v}");
    assert!(v["error"].as_str().unwrap().contains("replayed"), "{v}");
    let other = buurt_protocol::keys::from_seed([0x77; 32]);
    let (status, v) = post(&signed(&other, 2));
    assert_eq!(status, 403, "{v}");
    assert!(v["error"].as_str().unwrap().contains("signature"), "{v}");
}

#[test]
fn a_report_reaches_the_authors_operator_once_per_member() {
    let a = TestNode::start(BIN.as_ref(), SCOPE);
    let b = TestNode::start_with_peers(BIN.as_ref(), SCOPE, &[a.address()]);
    assert!(TestNode::eventually(20, || a.peer_count() == 1 && b.peer_count() == 1));
    assert!(a.wait_subscribed(SCOPE) && b.wait_subscribed(SCOPE));
    let id = offer(&a, "Gratis iPhone, stuur eerst geld");
    assert!(b.finds(&["iphone"], &id, true, 20));
    assert_eq!(a.ok(&["--json", "reports"]).json(), serde_json::json!([]));

    let bad = b.cli(&["report", &id, "boos"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("spam, unsafe, illegal, other"),
        "{}",
        bad.stderr
    );
    let sent = b
        .ok(&[
            "--json",
            "report",
            &id,
            "spam",
            "--note",
            "vraagt om geld vooraf",
        ])
        .json();
    assert_eq!(sent["state"], "delivered", "{sent}");
    assert_eq!(sent["home_node"], node_of(&a).as_str());
    let again = b.cli(&["report", &id, "unsafe"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already"), "{}", again.stderr);
    // A reinstall forgets that; the operator still counts the member once.
    std::fs::remove_dir_all(b.path().join("letters")).unwrap();
    b.ok(&["report", &id, "unsafe"]);

    let reports = a.ok(&["--json", "reports"]).json();
    assert_eq!(reports.as_array().unwrap().len(), 1, "{reports}");
    let r = &reports[0];
    assert_eq!(r["listing"], id.as_str());
    assert_eq!(r["reporters"], 1, "{r}");
    assert_eq!(
        r["reasons"],
        serde_json::json!({"spam": 1}),
        "the first report counts"
    );
    assert_eq!(r["from_nodes"], serde_json::json!([node_of(&b)]));
    assert_eq!(r["notes"], serde_json::json!(["vraagt om geld vooraf"]));
    // Reports are not conversations.
    assert_eq!(a.ok(&["--json", "inbox"]).json(), serde_json::json!([]));
    let human = a.ok(&["reports"]).stdout;
    assert!(human.contains(&id) && human.contains("spam 1"), "{human}");
}
