//! The HTTP API's answers to bad input: a 4xx with a JSON error naming the reason.

use buurt_protocol::sample::Identity;
use buurt_tests::TestNode;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_buurt");

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    )
}

fn post_raw(node: &TestNode, path: &str, body: &str) -> (u16, Value) {
    let mut r = agent()
        .post(node.url(path))
        .header("Content-Type", "application/json")
        .send(body)
        .unwrap();
    (
        r.status().as_u16(),
        r.body_mut().read_json().unwrap_or(Value::Null),
    )
}

/// Sends the head of a POST whose body would be `length` bytes, and reads
/// the answer. The limit is checked against Content-Length before any body
/// is read. Sending a real oversized body instead races the server, which
/// answers and closes the connection with the body unread, and the client
/// can then see a reset instead of the answer.
fn declared_too_large(node: &TestNode, path: &str, length: usize) -> (u16, Value) {
    use std::io::{Read, Write};
    let url = node.url(path);
    let addr = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let code = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    (code, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn get(node: &TestNode, path: &str) -> (u16, Value) {
    let mut r = agent().get(node.url(path)).call().unwrap();
    (
        r.status().as_u16(),
        r.body_mut().read_json().unwrap_or(Value::Null),
    )
}

#[test]
fn bad_requests_get_json_errors() {
    let node = TestNode::start(BIN.as_ref(), "nl/amsterdam/oost/dapperbuurt");
    let (code, v) = post_raw(&node, "/v1/listings", "{not json");
    assert_eq!((code, v["reason"].as_str()), (400, Some("bad_json")), "{v}");
    let (code, v) = post_raw(&node, "/v1/listings", r#"{"signed": "xyz"}"#);
    assert_eq!((code, v["reason"].as_str()), (400, Some("bad_hex")));
    let (code, v) = post_raw(&node, "/v1/listings", r#"{"signed": "00", "extra": 1}"#);
    assert_eq!((code, v["reason"].as_str()), (400, Some("bad_json")));
    let (code, v) = post_raw(&node, "/v1/listings", r#"{"signed": "0102"}"#);
    assert_eq!(
        (code, v["reason"].as_str()),
        (422, Some("malformed")),
        "{v}"
    );
    let (code, v) = declared_too_large(&node, "/v1/listings", 400_012);
    assert_eq!(
        (code, v["reason"].as_str()),
        (413, Some("too_large")),
        "{v}"
    );

    // A listing whose signature was forged.
    let id = Identity::fixed();
    let now = buurt_node::clock::now();
    let mut l = id.offer([3; 16], "Vervalst", now);
    l.certificate = buurt_protocol::Certificate::issue(
        &id.node,
        l.author,
        l.scope.clone(),
        now - 60,
        now + 86_400,
    );
    let mut bytes = l.sign(&id.member).unwrap().bytes().to_vec();
    let n = bytes.len();
    bytes[n - 3] ^= 0x10;
    let (code, v) = post_raw(
        &node,
        "/v1/listings",
        &json!({ "signed": hex::encode(&bytes) }).to_string(),
    );
    assert_eq!(
        (code, v["reason"].as_str()),
        (422, Some("bad_signature")),
        "{v}"
    );
    assert!(v["error"].as_str().unwrap().contains("signature"));

    // Out of scope: a listing for a district this node does not follow.
    let other = Identity::new([7; 32], [8; 32], "nl/rotterdam", now - 60);
    let l = other.offer([4; 16], "Elders", now);
    let signed = l.sign(&other.member).unwrap();
    let (code, v) = post_raw(
        &node,
        "/v1/listings",
        &json!({ "signed": hex::encode(signed.bytes()) }).to_string(),
    );
    assert_eq!(
        (code, v["reason"].as_str()),
        (422, Some("not_followed")),
        "{v}"
    );

    // The same valid listing twice: stored, then duplicate.
    let ok = id.offer([5; 16], "Echt", now);
    let signed = ok.sign(&id.member).unwrap();
    let body = json!({ "signed": hex::encode(signed.bytes()) }).to_string();
    let (code, v) = post_raw(&node, "/v1/listings", &body);
    assert_eq!((code, v["outcome"].as_str()), (201, Some("stored")), "{v}");
    let (code, v) = post_raw(&node, "/v1/listings", &body);
    assert_eq!((code, v["outcome"].as_str()), (200, Some("duplicate")));
    assert_eq!(v["id"], signed.listing_id().to_string());

    let (code, v) = get(&node, "/v1/search?kind=borrow");
    assert_eq!((code, v["reason"].as_str()), (400, Some("bad_kind")));
    let (code, v) = get(&node, "/v1/search?limit=abc");
    assert_eq!((code, v["reason"].as_str()), (400, Some("bad_query")));
    let (code, v) = get(&node, "/v1/search?scope=NL//x");
    assert_eq!((code, v["reason"].as_str()), (400, Some("bad_scope")));
    let (code, v) = get(&node, "/v1/listings/zz");
    assert_eq!((code, v["reason"].as_str()), (400, Some("bad_id")));
    let (code, v) = get(&node, "/v1/members/bmnotanid/listings");
    assert_eq!((code, v["reason"].as_str()), (400, Some("bad_member_id")));
    let (code, _) = get(&node, "/v1/nothing");
    assert_eq!(code, 404);
    // Search text is never parsed as query syntax.
    let (code, v) = get(&node, "/v1/search?q=%22boor%20AND%20title:%28");
    assert_eq!(code, 200, "{v}");

    // Operator routes need the token.
    let (code, v) = post_raw(&node, "/v1/admin/reindex", "{}");
    assert_eq!((code, v["reason"].as_str()), (401, Some("operator_only")));
    let token = std::fs::read_to_string(node.path().join("operator.token")).unwrap();
    let mut r = agent()
        .post(node.url("/v1/admin/reindex"))
        .header("Authorization", format!("Bearer {}", token.trim()))
        .send_json(json!({}))
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.body_mut().read_json::<Value>().unwrap()["indexed"], 1);
    let r = node.ok(&["reindex"]);
    assert!(r.stdout.contains("1 listings"), "{}", r.stdout);
}

/// A listing may be posted as its signed bytes (`application/octet-stream`)
/// as well as hex in JSON; both are the same pipeline, and raw bytes that
/// are no listing are refused like a bad hex one.
#[test]
fn a_listing_posts_as_raw_bytes_or_hex_in_json() {
    let node = TestNode::start(BIN.as_ref(), "nl/utrecht/lombok");
    let (key, cert) = buurt_tests::operator(node.path());
    let now = buurt_node::clock::now();
    let post_bytes = |body: &[u8]| {
        let mut r = agent()
            .post(node.url("/v1/listings"))
            .header("Content-Type", "application/octet-stream")
            .send(body)
            .unwrap();
        (
            r.status().as_u16(),
            r.body_mut().read_json::<Value>().unwrap_or(Value::Null),
        )
    };
    let raw = buurt_tests::offer_by(&key, &cert, "Ladder, als bytes", now, now + 86_400);
    let (status, v) = post_bytes(raw.bytes());
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["outcome"], "stored");
    assert_eq!(v["id"], raw.listing_id().to_string());
    // The same bytes again are the same revision, whichever form.
    let again = json!({ "signed": hex::encode(raw.bytes()) }).to_string();
    let (status, v) = post_raw(&node, "/v1/listings", &again);
    assert_eq!(
        (status, v["outcome"].as_str()),
        (200, Some("duplicate")),
        "{v}"
    );
    let hexed = buurt_tests::offer_by(&key, &cert, "Ladder, als hex", now, now + 86_400);
    let body = json!({ "signed": hex::encode(hexed.bytes()) }).to_string();
    let (status, v) = post_raw(&node, "/v1/listings", &body);
    assert_eq!(status, 201, "{v}");
    // Bytes that are no listing: refused as malformed, nothing stored.
    let (status, v) = post_bytes(b"not a listing");
    assert_eq!(
        (status, v["reason"].as_str()),
        (422, Some("malformed")),
        "{v}"
    );
    let status = node.ok(&["--json", "status"]).json();
    assert_eq!(status["listings"], 2, "{status}");
    // Both are found.
    for (word, l) in [("bytes", &raw), ("hex", &hexed)] {
        assert!(node.finds(&[word], &l.listing_id().to_string(), true, 10));
    }
}
