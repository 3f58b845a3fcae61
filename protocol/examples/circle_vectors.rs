//! Prints the circle test vector of `docs/protocol.md` section 18 (the body
//! of its ```` ```circle ```` block):
//! `cargo run -q -p buurt-protocol --example circle_vectors`.

use buurt_protocol::circle::{self, CIRCLE_DOMAIN};
use buurt_protocol::sample::circle as vector;
use serde_json::json;

fn main() {
    let v = vector();
    let record = v.key.encode().expect("the record encodes");
    let aad = [CIRCLE_DOMAIN, &v.key.circle[..], &v.key.epoch.to_be_bytes()].concat();
    let out = json!({
        "name": "circle",
        "now": v.now,
        "circle": hex::encode(v.key.circle),
        "epoch": v.key.epoch,
        "key": hex::encode(v.key.key),
        "key_record": hex::encode(&record),
        "key_letter_text": v.key.letter_text().expect("the record encodes"),
        "listing": hex::encode(v.listing.bytes()),
        "nonce": hex::encode(v.nonce),
        "aad": hex::encode(aad),
        "sealed": hex::encode(&v.sealed),
        "listing_letter_text": circle::listing_letter_text(&v.sealed),
    });
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
}
