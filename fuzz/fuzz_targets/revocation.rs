//! A signed revocation, from gossip or sync.
#![no_main]

use buurt_protocol::revocation::Revocation;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Revocation::verify(data);
});
