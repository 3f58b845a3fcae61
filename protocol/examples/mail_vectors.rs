//! Prints the reply test vector of `docs/protocol.md` section 14 (the body
//! of its ```` ```mail ```` block):
//! `cargo run -q -p buurt-protocol --example mail_vectors`.
//!
//! The author is the fixed sample identity of section 11; a resident of
//! another node asks about the author's `offer` listing. Every seed is fixed,
//! so the output never changes unless the formats do.

use buurt_protocol::keys;
use buurt_protocol::mail::key::keypair;
use buurt_protocol::mail::mailbox::Op;
use buurt_protocol::mail::wire::{Request, Response};
use buurt_protocol::mail::{Envelope, Letter, MailboxRequest, ReplyKey};
use buurt_protocol::sample::{Identity, MEMBER_SEED, NODE_SEED, SCOPE, T0};
use buurt_protocol::{ListingId, ListingKey};
use serde_json::{json, Value};

const RESIDENT_NODE_SEED: [u8; 32] = [0x31; 32];
const RESIDENT_MEMBER_SEED: [u8; 32] = [0x32; 32];
const AUTHOR_REPLY_SEED: [u8; 32] = [0x44; 32];
const RESIDENT_REPLY_SEED: [u8; 32] = [0x55; 32];
const SEAL_SEED: [u8; 32] = [0x09; 32];
const KEY_NOT_BEFORE: i64 = T0 - 3_600;
const KEY_NOT_AFTER: i64 = T0 + 90 * 86_400;
const CREATED_AT: i64 = T0 + 1_200;
const NOW: i64 = T0 + 1_234;
const SEND_NONCE: [u8; 16] = [0x06; 16];
const FETCH_AT: i64 = T0 + 1_300;
const FETCH_NONCE: [u8; 16] = [0x07; 16];
const TEXT: &str = "Mag ik hem zaterdag lenen?";

fn main() {
    let author = Identity::new(NODE_SEED, MEMBER_SEED, SCOPE, T0 - 86_400);
    let resident = Identity::new(RESIDENT_NODE_SEED, RESIDENT_MEMBER_SEED, SCOPE, T0 - 86_400);
    let author_member = keys::member_id(&author.member);
    let resident_member = keys::member_id(&resident.member);
    let record = |who: &Identity, seed: &[u8; 32]| {
        ReplyKey {
            member: keys::member_id(&who.member),
            key: keypair(seed).1,
            not_before: KEY_NOT_BEFORE,
            not_after: KEY_NOT_AFTER,
            certificate: who.certificate.clone(),
        }
        .sign(&who.member)
        .expect("a reply key record encodes")
    };
    let author_key = record(&author, &AUTHOR_REPLY_SEED);
    let resident_key = record(&resident, &RESIDENT_REPLY_SEED);
    // The `offer` listing of section 11: the author's, key 0x11….
    let listing = ListingId::of(&author_member, &ListingKey([0x11; 16]));
    let letter = Letter {
        listing,
        to: author_member,
        created_at: CREATED_AT,
        text: TEXT.into(),
        certificate: resident.certificate.clone(),
        reply_key: resident_key.clone(),
    }
    .sign(&resident.member)
    .expect("the letter encodes");
    let to = ReplyKey::verify(&author_key, NOW).expect("the author's reply key is valid");
    // The resident's device seals; the resident's node signs.
    let unsigned = Envelope::seal_unsigned(
        &letter,
        &to,
        author.certificate.node,
        listing,
        NOW,
        SEAL_SEED,
    )
    .expect("the letter seals");
    let digest = Envelope::send_digest(std::slice::from_ref(&unsigned)).expect("digest");
    let envelope = unsigned.sign(&resident.node).expect("the envelope encodes");
    let send = MailboxRequest {
        member: resident_member,
        at: NOW,
        nonce: SEND_NONCE,
        op: Op::Send { digest },
    }
    .sign(&resident.member)
    .expect("the send request encodes");
    let fetch = MailboxRequest {
        member: author_member,
        at: FETCH_AT,
        nonce: FETCH_NONCE,
        op: Op::Fetch { after: 0 },
    }
    .sign(&author.member)
    .expect("the fetch request encodes");
    // Wire messages: only their first bytes, since the envelope and the
    // record follow in full.
    let head = |bytes: Vec<u8>, n: usize| hex::encode(&bytes[..n]);
    let deliver = |hop: u8| Request::Deliver {
        hop,
        envelope: envelope.clone(),
    };
    let key_request = Request::ReplyKey {
        hop: 0,
        node: author.certificate.node,
        member: author_member,
    };

    let fields: Vec<(&str, Value)> = vec![
        ("name", json!("reply")),
        ("now", json!(NOW)),
        ("author_node_seed", json!(hex::encode(NODE_SEED))),
        ("author_member_seed", json!(hex::encode(MEMBER_SEED))),
        ("resident_node_seed", json!(hex::encode(RESIDENT_NODE_SEED))),
        (
            "resident_member_seed",
            json!(hex::encode(RESIDENT_MEMBER_SEED)),
        ),
        ("author_reply_seed", json!(hex::encode(AUTHOR_REPLY_SEED))),
        (
            "author_reply_public",
            json!(hex::encode(keypair(&AUTHOR_REPLY_SEED).1)),
        ),
        (
            "resident_reply_seed",
            json!(hex::encode(RESIDENT_REPLY_SEED)),
        ),
        (
            "resident_reply_public",
            json!(hex::encode(keypair(&RESIDENT_REPLY_SEED).1)),
        ),
        ("key_not_before", json!(KEY_NOT_BEFORE)),
        ("key_not_after", json!(KEY_NOT_AFTER)),
        ("author_reply_key", json!(hex::encode(&author_key))),
        ("resident_reply_key", json!(hex::encode(&resident_key))),
        ("listing_id", json!(listing.to_string())),
        ("created_at", json!(CREATED_AT)),
        ("text", json!(TEXT)),
        ("letter", json!(hex::encode(&letter))),
        ("seal_seed", json!(hex::encode(SEAL_SEED))),
        (
            "padded_len",
            json!(256usize.max((letter.len() + 1).next_power_of_two())),
        ),
        ("envelope", json!(hex::encode(&envelope))),
        ("envelope_id", json!(hex::encode(Envelope::id(&envelope)))),
        ("send_nonce", json!(hex::encode(SEND_NONCE))),
        ("send_digest", json!(hex::encode(digest))),
        ("mailbox_send", json!(hex::encode(&send))),
        ("fetch_at", json!(FETCH_AT)),
        ("fetch_nonce", json!(hex::encode(FETCH_NONCE))),
        ("mailbox_fetch", json!(hex::encode(&fetch))),
        ("deliver_len", json!(deliver(0).encode().len())),
        ("deliver_hop0_head", json!(head(deliver(0).encode(), 6))),
        ("deliver_hop1_head", json!(head(deliver(1).encode(), 6))),
        (
            "reply_key_request",
            json!(hex::encode(key_request.encode())),
        ),
        (
            "reply_key_response_head",
            json!(head(Response::ReplyKey(author_key.clone()).encode(), 3)),
        ),
        (
            "stored_response",
            json!(hex::encode(Response::Stored.encode())),
        ),
    ];
    let lines: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("  \"{k}\": {v}"))
        .collect();
    println!("{{\n{}\n}}", lines.join(",\n"));
}
