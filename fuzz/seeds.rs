//! Writes the seed corpus of every target (`cargo run --bin seeds` in
//! fuzz/): valid inputs from the protocol's fixed-seed samples, so that the
//! fuzzer starts from bytes that get past the first checks.

use std::path::Path;

use buurt_protocol::sample::{self, Identity, T0};
use buurt_protocol::sync::{Request, Response};

fn put(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    std::fs::create_dir_all(&dir).expect("corpus folder");
    std::fs::write(dir.join(name), bytes).expect("seed written");
}

fn main() {
    let id = Identity::fixed();
    for v in sample::vectors() {
        let signed = v.listing.clone().sign(&id.member).expect("signs");
        put("listing", v.name, signed.bytes());
        put("certificate", v.name, &v.listing.certificate.to_bytes().expect("encodes"));
    }
    let rev = buurt_protocol::revocation::Revocation {
        node: id.certificate.node,
        member: id.certificate.member,
        certificate: id.certificate.fingerprint(),
        revoked_at: T0,
    }
    .sign(&id.node);
    put("revocation", "one", &rev);
    put("sync_frames", "revocations", &Request::Revocations.encode());
    put(
        "sync_frames",
        "fetch",
        &Request::Fetch {
            ids: vec![[7; 32], [8; 32]],
        }
        .encode(),
    );
    put(
        "sync_frames",
        "reconcile",
        &Request::Reconcile {
            scope: sample::SCOPE.into(),
            message: vec![0x61, 0, 1, 2],
        }
        .encode(),
    );
    put(
        "sync_frames",
        "refused",
        &Response::Refused {
            reason: "busy".into(),
        }
        .encode(),
    );
    put(
        "sync_frames",
        "listings",
        &Response::Listings {
            listings: vec![vec![1, 2, 3]],
        }
        .encode(),
    );
    put(
        "api_bodies",
        "post",
        br#"{"signed": "0120"}"#,
    );
    put(
        "api_bodies",
        "admit",
        br#"{"member_id": "bm", "name": "Fatima", "scope": "nl/amsterdam", "valid_secs": 3600}"#,
    );
    put("api_bodies", "block", br#"{"target": "bn", "reason": "spam"}"#);
    put("api_bodies", "sync", br#"{"peer": "12D3KooW"}"#);
    put("api_bodies", "peer_addr", b"/ip4/127.0.0.1/tcp/4001/p2p/bnaaaa");
    println!("seed corpus written under fuzz/corpus/");
}
