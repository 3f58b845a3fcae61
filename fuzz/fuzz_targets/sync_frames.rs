//! `/buurt/sync/1` requests and answers from a peer: decoding never panics,
//! and what decodes encodes back to the same message.
#![no_main]

use buurt_protocol::sync::{Request, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Request::decode(data) {
        assert_eq!(Request::decode(&r.encode()).ok(), Some(r));
    }
    if let Ok(r) = Response::decode(data) {
        assert_eq!(Response::decode(&r.encode()).ok(), Some(r));
    }
});
