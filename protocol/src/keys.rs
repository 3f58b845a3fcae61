//! Secret keys from seeds. The caller supplies the 32 random bytes (from the
//! operating system's generator), keeping this crate free of randomness.

pub use ed25519_dalek::{Signature, SigningKey, VerifyingKey};

use crate::id::{MemberId, NodeId};

/// A signing key from a 32-byte seed.
pub fn from_seed(seed: [u8; 32]) -> SigningKey {
    SigningKey::from_bytes(&seed)
}

/// The member id of a member's secret key.
pub fn member_id(key: &SigningKey) -> MemberId {
    MemberId::from(key.verifying_key())
}

/// The node id of a node's secret key.
pub fn node_id(key: &SigningKey) -> NodeId {
    NodeId::from(key.verifying_key())
}
