//! Prints the test vectors of `docs/protocol.md` as JSON blocks:
//! `cargo run -p buurt-protocol --example vectors`.

use buurt_protocol::sample::{self, Identity};

fn main() {
    let id = Identity::fixed();
    for v in sample::vectors() {
        let signed = match v.listing.sign(&id.member) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("vector {} does not encode: {e}", v.name);
                std::process::exit(1);
            }
        };
        println!("### Vector `{}`\n", v.name);
        println!("```json");
        println!("{{");
        let fields = [
            ("name", v.name.to_string()),
            ("now", v.now.to_string()),
            ("node_seed", hex::encode(sample::NODE_SEED)),
            ("member_seed", hex::encode(sample::MEMBER_SEED)),
            (
                "node_public_key",
                hex::encode(id.node.verifying_key().as_bytes()),
            ),
            (
                "member_public_key",
                hex::encode(id.member.verifying_key().as_bytes()),
            ),
            ("node_id", id.certificate.node.to_string()),
            ("member_id", id.certificate.member.to_string()),
            ("listing_id", signed.listing_id().to_string()),
            ("signing_input", hex::encode(signed.signing_input())),
            ("signature", hex::encode(signed.signature)),
            ("signed_bytes", hex::encode(signed.bytes())),
            ("content_id", signed.content_id().to_string()),
        ];
        for (i, (k, val)) in fields.iter().enumerate() {
            let comma = if i + 1 < fields.len() { "," } else { "" };
            if *k == "now" {
                println!("  \"{k}\": {val}{comma}");
            } else {
                println!("  \"{k}\": \"{val}\"{comma}");
            }
        }
        println!("}}");
        println!("```\n");
    }
    let rev = sample::revocation();
    let signed = rev.clone().sign(&id.node);
    let certificate = match id.certificate.to_bytes() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("the certificate does not encode: {e}");
            std::process::exit(1);
        }
    };
    println!("### Vector `revocation`\n");
    println!("```revocation");
    println!("node_seed          {}", hex::encode(sample::NODE_SEED));
    println!(
        "node_public_key    {}",
        hex::encode(id.node.verifying_key().as_bytes())
    );
    println!("member_seed        {}", hex::encode(sample::MEMBER_SEED));
    println!(
        "member_public_key  {}",
        hex::encode(id.member.verifying_key().as_bytes())
    );
    println!("certificate_bytes  {}", hex::encode(&certificate));
    println!("certificate        {}", hex::encode(rev.certificate));
    println!("revoked_at         {}", rev.revoked_at);
    println!("signing_input      {}", hex::encode(rev.signing_input()));
    println!("signed_bytes       {}", hex::encode(&signed));
    println!("```");
}
