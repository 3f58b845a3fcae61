//! A listing from a peer: validation (decode, every rule, the signature) must
//! never panic, and what decodes is the one canonical encoding.
#![no_main]

use buurt_protocol::sample::T0;
use buurt_protocol::{validate, Limits, SignedListing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = validate(data, T0, &Limits::default());
    let _ = SignedListing::address_of(data);
    if let Ok(l) = SignedListing::decode(data) {
        // Decoding refuses every byte string that is not the canonical one.
        assert_eq!(l.bytes(), data);
        let again = SignedListing::decode(l.bytes()).expect("decodes again");
        assert_eq!(again, l);
        assert_eq!(l.listing.encode_body().ok().as_deref(), Some(l.body_bytes()));
    }
});
