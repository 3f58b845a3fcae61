//! Membership certificates: a node's signature admitting a member to a scope
//! for a period.
//!
//! Every listing embeds its author's certificate, so that any node can check
//! on its own, with no look-up, which node vouches for the author.

use ed25519_dalek::{Signature, Signer, SigningKey};
use sha2::{Digest, Sha256};

use crate::codec::{DecodeError, EncodeError, Reader, Writer};
use crate::id::{MemberId, NodeId};
use crate::scope::Scope;
use crate::validate::Rejection;

/// Domain-separation prefix of the bytes a node signs for a certificate.
pub const CERTIFICATE_DOMAIN: &[u8] = b"buurt/certificate/v1";
/// Format version byte of certificates.
pub const CERTIFICATE_VERSION: u8 = 1;

/// A node's statement "member M belongs to scope S from not_before to not_after".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The issuing node.
    pub node: NodeId,
    /// The admitted member.
    pub member: MemberId,
    /// The scope the member is admitted to; see [`Scope::covers`].
    pub scope: Scope,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds, inclusive.
    pub not_after: i64,
    /// The node's ed25519 signature over [`Certificate::signing_input`].
    pub signature: [u8; 64],
}

impl Certificate {
    /// Issues (signs) a certificate with the node's key.
    pub fn issue(
        node_key: &SigningKey,
        member: MemberId,
        scope: Scope,
        not_before: i64,
        not_after: i64,
    ) -> Certificate {
        let mut cert = Certificate {
            node: NodeId::from(node_key.verifying_key()),
            member,
            scope,
            not_before,
            not_after,
            signature: [0; 64],
        };
        let input = cert.signing_input();
        cert.signature = node_key.sign(&input).to_bytes();
        cert
    }

    fn encode_unsigned(&self, w: &mut Writer) {
        w.u8(CERTIFICATE_VERSION);
        w.bytes(&self.node.0);
        w.bytes(&self.member.0);
        w.str8(self.scope.as_str(), "certificate scope");
        w.i64(self.not_before);
        w.i64(self.not_after);
    }

    /// Exactly the bytes the node's signature covers:
    /// `"buurt/certificate/v1" || unsigned encoding`.
    pub fn signing_input(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(CERTIFICATE_DOMAIN);
        self.encode_unsigned(&mut w);
        // A scope always fits (the type bounds it), so this cannot fail.
        w.finish().unwrap_or_default()
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        self.encode_unsigned(w);
        w.bytes(&self.signature);
    }

    /// The full encoding: unsigned fields followed by the 64-byte signature.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = Writer::default();
        self.encode(&mut w);
        w.finish()
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Certificate, DecodeError> {
        let version = r.u8("certificate version")?;
        if version != CERTIFICATE_VERSION {
            return Err(DecodeError::UnknownVersion(version));
        }
        let node = NodeId(r.array("certificate node")?);
        let member = MemberId(r.array("certificate member")?);
        let scope = r.str8("certificate scope")?;
        let scope = Scope::parse(&scope, usize::MAX).map_err(DecodeError::BadScope)?;
        let not_before = r.i64("certificate not_before")?;
        let not_after = r.i64("certificate not_after")?;
        let signature = r.array("certificate signature")?;
        Ok(Certificate {
            node,
            member,
            scope,
            not_before,
            not_after,
            signature,
        })
    }

    /// Decodes a standalone certificate, rejecting trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Certificate, DecodeError> {
        let mut r = Reader::new(bytes);
        let cert = Certificate::decode(&mut r)?;
        r.finish()?;
        Ok(cert)
    }

    /// A stable fingerprint of the whole certificate, for caches.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.signing_input());
        h.update(self.signature);
        h.finalize().into()
    }

    /// Checks the node's signature (`verify_strict`, weak node keys refused).
    /// Validity times are checked by the caller, against the listing.
    pub fn verify_signature(&self) -> Result<(), Rejection> {
        let key = self
            .node
            .verifying_key()
            .map_err(|_| Rejection::BadCertificate)?;
        if key.is_weak() {
            return Err(Rejection::WeakKey);
        }
        let sig = Signature::from_bytes(&self.signature);
        key.verify_strict(&self.signing_input(), &sig)
            .map_err(|_| Rejection::BadCertificate)
    }
}
