//! Prints the vouch test vector of `docs/protocol.md` section 15 (the body
//! of its ```` ```vouch ```` block):
//! `cargo run -q -p buurt-protocol --example vouch_vectors`.
//!
//! The voucher is the node of the fixed sample identity of section 11; the
//! subject is the resident's node of section 14. The voucher vouches for it
//! one minute after 2026-01-01T00:00:00Z and withdraws the vouch an hour
//! after that moment. Every seed is fixed, so the output never changes
//! unless the format does.

use buurt_protocol::sample::{Identity, NODE_SEED, SCOPE, T0};
use buurt_protocol::vouch::{Vouch, VOUCH_DOMAIN};
use buurt_protocol::NodeId;
use serde_json::{json, Value};

const SUBJECT_NODE_SEED: [u8; 32] = [0x31; 32];
const SUBJECT_MEMBER_SEED: [u8; 32] = [0x32; 32];
const VOUCH_AT: i64 = T0 + 60;
const WITHDRAW_AT: i64 = T0 + 3_600;
const NOTE: &str = "Buurtcentrum Dapperbuurt";

/// What the voucher signs: the domain prefix, then the body (the signed
/// form without its last 64 bytes).
fn signing_input(signed: &[u8]) -> Vec<u8> {
    [VOUCH_DOMAIN, &signed[..signed.len() - 64]].concat()
}

fn main() {
    let voucher = Identity::fixed();
    let subject = Identity::new(SUBJECT_NODE_SEED, SUBJECT_MEMBER_SEED, SCOPE, T0 - 86_400);
    let voucher_id = NodeId::from(voucher.node.verifying_key());
    let subject_id = subject.certificate.node;
    let statement = |at: i64, vouches: bool, note: &str| {
        Vouch {
            voucher: voucher_id,
            subject: subject_id,
            at,
            vouches,
            note: note.into(),
        }
        .sign(&voucher.node)
        .expect("the statement encodes")
    };
    let vouch = statement(VOUCH_AT, true, NOTE);
    let withdraw = statement(WITHDRAW_AT, false, "");

    let fields: Vec<(&str, Value)> = vec![
        ("name", json!("vouch")),
        ("voucher_seed", json!(hex::encode(NODE_SEED))),
        ("voucher", json!(hex::encode(voucher_id.0))),
        ("voucher_id", json!(voucher_id.to_string())),
        ("subject_seed", json!(hex::encode(SUBJECT_NODE_SEED))),
        ("subject", json!(hex::encode(subject_id.0))),
        ("subject_id", json!(subject_id.to_string())),
        ("vouch_at", json!(VOUCH_AT)),
        ("note", json!(NOTE)),
        (
            "vouch_signing_input",
            json!(hex::encode(signing_input(&vouch))),
        ),
        ("vouch", json!(hex::encode(&vouch))),
        ("withdraw_at", json!(WITHDRAW_AT)),
        (
            "withdraw_signing_input",
            json!(hex::encode(signing_input(&withdraw))),
        ),
        ("withdraw", json!(hex::encode(&withdraw))),
    ];
    let lines: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("  \"{k}\": {v}"))
        .collect();
    println!("{{\n{}\n}}", lines.join(",\n"));
}
