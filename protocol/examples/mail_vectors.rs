//! Prints the reply test vector of `docs/protocol.md` section 14:
//! `cargo run -p buurt-protocol --example mail_vectors`.

use buurt_protocol::keys;
use buurt_protocol::mail::key::keypair;
use buurt_protocol::mail::{Envelope, Letter, ReplyKey};
use buurt_protocol::sample::{Identity, SCOPE, T0};
use buurt_protocol::ListingId;

fn main() {
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
    let author_key = record(&author, 0x44);
    let resident_key = record(&resident, 0x55);
    let listing = ListingId([0x11; 16]);
    let letter = Letter {
        listing,
        to: keys::member_id(&author.member),
        created_at: T0 + 1_200,
        text: "Mag ik hem zaterdag lenen?".into(),
        certificate: resident.certificate.clone(),
        reply_key: resident_key.clone(),
    }
    .sign(&resident.member)
    .unwrap();
    let to = ReplyKey::verify(&author_key, T0).unwrap();
    let envelope = Envelope::seal(
        &letter,
        &to,
        author.certificate.node,
        listing,
        T0 + 1_234,
        &resident.node,
        [0x09; 32],
    )
    .unwrap();
    let v = serde_json::json!({
        "name": "reply",
        "author_reply_seed": hex::encode([0x44u8; 32]),
        "resident_reply_seed": hex::encode([0x55u8; 32]),
        "seal_seed": hex::encode([0x09u8; 32]),
        "now": T0 + 1_234,
        "author_reply_key": hex::encode(&author_key),
        "letter": hex::encode(&letter),
        "envelope": hex::encode(&envelope),
        "envelope_id": hex::encode(Envelope::id(&envelope)),
    });
    println!("{}", serde_json::to_string_pretty(&v).unwrap());
}
