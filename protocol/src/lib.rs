//! `buurt-protocol`: what crosses the network or the disk, defined once.
//!
//! Identities, membership certificates, listings, their canonical encoding,
//! signing and validation, and the revision order. The crate is pure: no I/O,
//! no clock, no randomness. Callers pass `now` (Unix seconds) and random bytes
//! in, so that every function here is deterministic and testable.
//!
//! The normative description of the formats is `docs/protocol.md`; its test
//! vectors are checked against this crate by `tests/vectors.rs`.

pub mod agreement;
pub mod calendar;
pub mod certificate;
pub mod circle;
pub mod codec;
pub mod geohash;
pub mod id;
pub mod keys;
pub mod limits;
pub mod listing;
pub mod mail;
pub mod photo;
pub mod revision;
pub mod revocation;
pub mod sample;
pub mod scope;
pub mod sync;
pub mod taxonomy;
pub mod thanks;
pub mod validate;
pub mod vouch;

pub use certificate::Certificate;
pub use codec::{DecodeError, EncodeError};
pub use id::{ContentId, IdError, ListingId, ListingKey, MemberId, NodeId};
pub use limits::Limits;
pub use listing::{
    Behalf, Exchange, Extras, Kind, Listing, Media, Money, Period, Photo, Price, Recurrence,
    SignedListing, Status, Terms, Window,
};
pub use scope::{Scope, ScopeError};
pub use validate::{validate, validate_cached, CertificateCache, Rejection};
