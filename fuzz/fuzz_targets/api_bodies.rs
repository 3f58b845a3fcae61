//! The API's request bodies, as a local client sends them: parsing never
//! panics, and a body that parses goes through the API's own checks.
#![no_main]

use buurt_node::api::dto::{AdmitAsk, BackupAsk, BlockAsk, PostBody, SyncAsk, TrustAsk};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = serde_json::from_slice::<PostBody>(data) {
        if let Ok(bytes) = hex_decode(b.signed.trim()) {
            let _ = buurt_protocol::SignedListing::decode(&bytes);
        }
    }
    if let Ok(b) = serde_json::from_slice::<BlockAsk>(data) {
        let _ = buurt_node::moderation::Target::parse(&b.target);
    }
    if let Ok(a) = serde_json::from_slice::<AdmitAsk>(data) {
        let _ = a.member_id.parse::<buurt_protocol::MemberId>();
        if let Some(s) = &a.scope {
            let _ = buurt_protocol::Scope::parse(s, 6);
        }
    }
    if let Ok(t) = serde_json::from_slice::<TrustAsk>(data) {
        let _ = buurt_node::ids::parse_node_id(&t.node_id);
    }
    if let Ok(s) = serde_json::from_slice::<SyncAsk>(data) {
        if let Some(p) = &s.peer {
            let _ = buurt_node::ids::parse_node_id(p);
        }
    }
    let _ = serde_json::from_slice::<BackupAsk>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = buurt_node::ids::parse_peer_addr(text);
    }
});

fn hex_decode(s: &str) -> Result<Vec<u8>, ()> {
    if s.len() % 2 != 0 {
        return Err(());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2).ok_or(())?, 16).map_err(|_| ()))
        .collect()
}
