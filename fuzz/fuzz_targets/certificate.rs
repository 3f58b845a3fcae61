//! A membership certificate, as it comes in a listing or from a node's API.
#![no_main]

use buurt_protocol::Certificate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Certificate::from_bytes(data) {
        let _ = c.verify_signature();
        let bytes = c.to_bytes().expect("a decoded certificate encodes");
        assert_eq!(Certificate::from_bytes(&bytes).ok(), Some(c));
    }
});
