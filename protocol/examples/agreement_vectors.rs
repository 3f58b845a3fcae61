//! Prints the agreement test vector of `docs/protocol.md` section 16 (the
//! body of its ```` ```agreement ```` block):
//! `cargo run -q -p buurt-protocol --example agreement_vectors`.
//!
//! The resident of section 14 proposes to borrow the fixed identity's
//! member's drill; the author accepts; the proposer confirms the return;
//! the completion both sign; the author's thanks and its pledge
//! (`buurt_protocol::sample::agreement`). Every seed is fixed, so the output
//! never changes unless the format does.

use buurt_protocol::agreement::{AGREEMENT_DOMAIN, COMPLETION_DOMAIN};
use buurt_protocol::sample::agreement;
use serde_json::json;

fn main() {
    let v = agreement();
    let input = |b: &[u8]| hex::encode([AGREEMENT_DOMAIN, &b[..b.len() - 64]].concat());
    let out = json!({
        "name": "agreement",
        "proposer_member_seed": hex::encode([0x32u8; 32]),
        "proposer": v.completion.proposer.to_string(),
        "author": v.completion.other.to_string(),
        "propose_signing_input": input(&v.propose.bytes),
        "propose": hex::encode(&v.propose.bytes),
        "agreement_id": hex::encode(v.propose.id),
        "accept": hex::encode(&v.accept.bytes),
        "accept_id": hex::encode(v.accept.id),
        "returned": hex::encode(&v.returned.bytes),
        "completion_signing_input": hex::encode(v.completion.signing_input()),
        "completion_domain": String::from_utf8_lossy(COMPLETION_DOMAIN),
        "proposer_completion_signature": hex::encode(v.completion.sign(&v.proposer.member)),
        "author_completion_signature": hex::encode(v.completion.sign(&v.author.member)),
        "thanks": hex::encode(&v.thanks.bytes),
        "thanks_digest": hex::encode(v.thanks.digest()),
        "pledge": hex::encode(&v.pledge.bytes),
    });
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
}
