//! Revocations: a node's signed statement that a membership certificate it
//! issued no longer holds. Defined in `docs/protocol.md` section 13.
//!
//! A revocation names the issuing node, the member and the fingerprint of
//! the certificate it ends. It travels like a listing (gossip, sync); every
//! node that receives a valid one drops the member's listings under that
//! certificate and refuses new ones. Only the node that issued a certificate
//! can revoke it: the statement is signed with that node's key.

use ed25519_dalek::{Signature, Signer, SigningKey};

use crate::codec::{DecodeError, Reader};
use crate::id::{MemberId, NodeId};
use crate::listing::Listing;

/// Domain-separation prefix of the bytes a node signs for a revocation.
pub const REVOCATION_DOMAIN: &[u8] = b"buurt/revocation/v1";
/// Format version byte of revocations.
pub const REVOCATION_VERSION: u8 = 1;
/// Length of the signed form: body (105) and signature (64).
pub const REVOCATION_LEN: usize = 169;

/// "Node N ends the certificate F it issued to member M, from `revoked_at`."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub node: NodeId,
    pub member: MemberId,
    /// [`crate::Certificate::fingerprint`] of the revoked certificate.
    pub certificate: [u8; 32],
    /// When the node revoked it, Unix seconds.
    pub revoked_at: i64,
}

/// Why revocation bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevocationError {
    #[error("malformed revocation: {0}")]
    Malformed(#[from] DecodeError),
    #[error("the revocation's signature does not verify with its node's key")]
    BadSignature,
}

impl Revocation {
    /// The body: version, node, member, certificate fingerprint, time.
    pub fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(REVOCATION_LEN);
        b.push(REVOCATION_VERSION);
        b.extend_from_slice(self.node.as_bytes());
        b.extend_from_slice(self.member.as_bytes());
        b.extend_from_slice(&self.certificate);
        b.extend_from_slice(&self.revoked_at.to_be_bytes());
        b
    }

    /// What the node signs: the domain prefix, then the body.
    pub fn signing_input(&self) -> Vec<u8> {
        let mut v = REVOCATION_DOMAIN.to_vec();
        v.extend_from_slice(&self.body());
        v
    }

    /// Signs with the issuing node's key: the signed form, body || signature.
    /// The `node` field is set from the key.
    pub fn sign(mut self, node_key: &SigningKey) -> Vec<u8> {
        self.node = NodeId::from(node_key.verifying_key());
        let sig = node_key.sign(&self.signing_input()).to_bytes();
        let mut out = self.body();
        out.extend_from_slice(&sig);
        out
    }

    /// Decodes the signed form and checks the node's signature (strict).
    pub fn verify(bytes: &[u8]) -> Result<Revocation, RevocationError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("version")?;
        if version != REVOCATION_VERSION {
            return Err(DecodeError::UnknownVersion(version).into());
        }
        let rev = Revocation {
            node: NodeId(r.array("node")?),
            member: MemberId(r.array("member")?),
            certificate: r.array("certificate")?,
            revoked_at: r.i64("revoked_at")?,
        };
        let sig: [u8; 64] = r.array("signature")?;
        r.finish()?;
        let key = rev
            .node
            .verifying_key()
            .map_err(|_| RevocationError::BadSignature)?;
        if key.is_weak() {
            return Err(RevocationError::BadSignature);
        }
        key.verify_strict(&rev.signing_input(), &Signature::from_bytes(&sig))
            .map_err(|_| RevocationError::BadSignature)?;
        Ok(rev)
    }

    /// Whether this revocation covers a listing: its author, under the
    /// revoked certificate.
    pub fn covers(&self, l: &Listing) -> bool {
        l.author == self.member && self.covers_certificate(&l.certificate)
    }

    /// Whether this revocation ends the membership `cert` states.
    pub fn covers_certificate(&self, cert: &crate::Certificate) -> bool {
        cert.member == self.member
            && cert.node == self.node
            && cert.fingerprint() == self.certificate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{Identity, T0};

    #[test]
    fn revocations_sign_verify_and_refuse_tampering() {
        let id = Identity::fixed();
        let rev = Revocation {
            node: id.certificate.node,
            member: id.certificate.member,
            certificate: id.certificate.fingerprint(),
            revoked_at: T0 + 10,
        };
        let bytes = rev.clone().sign(&id.node);
        assert_eq!(bytes.len(), REVOCATION_LEN);
        assert_eq!(Revocation::verify(&bytes).unwrap(), rev);
        assert!(rev.covers(&id.offer([1; 16], "Ladder", T0)));
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(Revocation::verify(&bad).is_err(), "flip at {i}");
        }
        assert!(Revocation::verify(&bytes[..100]).is_err());
        // Another node cannot revoke this node's certificate.
        let other = crate::keys::from_seed([0x77; 32]);
        let forged = rev.clone().sign(&other);
        let taken = Revocation::verify(&forged).unwrap();
        assert_ne!(taken.node, rev.node);
        assert!(!taken.covers(&id.offer([1; 16], "Ladder", T0)));
    }
}
