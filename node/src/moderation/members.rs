//! Admission: the residents this node has admitted, with the membership
//! certificates it issued them.
//!
//! A resident makes their own key (`buurt id`) and gives the operator their
//! member id; `buurt admit` issues a certificate signed with the node key and
//! records it here. The resident's CLI fetches the certificate from the node
//! on first use (`GET /v1/members/{id}/certificate`) and from then on signs
//! listings locally: the node never sees a resident's secret key, and a post
//! needs no password because listing and certificate prove who may post.
//! The list is kept in `members.json` in the data directory.

use std::path::PathBuf;

use buurt_protocol::keys::SigningKey;
use buurt_protocol::{Certificate, MemberId, Scope};
use serde::{Deserialize, Serialize};

use super::ModerationError;
use crate::clock::rfc3339;

/// One admitted member, as `buurt members` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Member {
    pub member_id: String,
    pub name: String,
    pub scope: String,
    pub not_before: String,
    pub not_after: String,
    /// The certificate, hex-encoded, as the resident's CLI fetches it.
    pub certificate: String,
    /// A broker posts listings on behalf of residents without a device
    /// (protocol.md, section 5, "Version 2").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub broker: bool,
    /// When the member was first admitted here (RFC 3339); a renewal keeps
    /// it. Empty for members admitted before it was kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub joined: String,
}

/// The admitted members, in memory and (unless in-memory only) on disk.
pub struct Members {
    path: Option<PathBuf>,
    node_key: SigningKey,
    list: Vec<Member>,
}

impl Members {
    /// Loads `path` (a missing file is an empty list) for the node whose key
    /// signs new certificates.
    pub fn load(path: PathBuf, node_key: SigningKey) -> Result<Members, ModerationError> {
        let list = crate::datadir::read_json_list(&path)?;
        Ok(Members {
            path: Some(path),
            node_key,
            list,
        })
    }

    /// No members and nothing on disk, for tests and benchmarks.
    pub fn in_memory(node_key: SigningKey) -> Members {
        Members {
            path: None,
            node_key,
            list: Vec::new(),
        }
    }

    pub fn list(&self) -> &[Member] {
        &self.list
    }

    /// The current certificate of a member, if admitted.
    pub fn certificate(&self, member: &MemberId) -> Option<&Member> {
        let text = member.to_string();
        self.list.iter().rev().find(|m| m.member_id == text)
    }

    /// Records a certificate issued elsewhere (the operator's own, made at
    /// `init`) if its member is not listed yet.
    pub fn record(&mut self, cert: &Certificate, name: &str) -> Result<(), ModerationError> {
        if self.certificate(&cert.member).is_some() {
            return Ok(());
        }
        let bytes = cert.to_bytes()?;
        self.list.push(Member {
            member_id: cert.member.to_string(),
            name: name.to_owned(),
            scope: cert.scope.to_string(),
            not_before: rfc3339(cert.not_before),
            not_after: rfc3339(cert.not_after),
            certificate: hex::encode(bytes),
            broker: false,
            joined: rfc3339(cert.not_before),
        });
        super::save(&self.path, &self.list)
    }

    /// Grants or takes back the broker role; `None` if not admitted.
    pub fn set_broker(
        &mut self,
        member: &MemberId,
        broker: bool,
    ) -> Result<Option<Member>, ModerationError> {
        let text = member.to_string();
        let Some(m) = self.list.iter_mut().rev().find(|m| m.member_id == text) else {
            return Ok(None);
        };
        m.broker = broker;
        let m = m.clone();
        super::save(&self.path, &self.list)?;
        Ok(Some(m))
    }

    /// Ends a membership: the signed revocation of the member's current
    /// certificate, and the member leaves the list. `None` if not admitted.
    pub fn revoke(
        &mut self,
        member: &MemberId,
        now: i64,
    ) -> Result<Option<Vec<u8>>, ModerationError> {
        let Some(m) = self.certificate(member) else {
            return Ok(None);
        };
        let bad = |e: &dyn std::fmt::Display| ModerationError::BadEntry {
            path: self.path.clone().unwrap_or_default(),
            detail: format!("the certificate of {member}: {e}"),
        };
        let bytes = hex::decode(&m.certificate).map_err(|e| bad(&e))?;
        let cert = Certificate::from_bytes(&bytes).map_err(|e| bad(&e))?;
        let signed = buurt_protocol::revocation::Revocation {
            node: cert.node,
            member: cert.member,
            certificate: cert.fingerprint(),
            revoked_at: now,
        }
        .sign(&self.node_key);
        let text = member.to_string();
        self.list.retain(|m| m.member_id != text);
        super::save(&self.path, &self.list)?;
        Ok(Some(signed))
    }

    /// Admits a member (or renews their certificate) for `valid` seconds
    /// from now, in `scope`, and saves the list.
    pub fn admit(
        &mut self,
        member: MemberId,
        name: &str,
        scope: Scope,
        now: i64,
        valid: i64,
    ) -> Result<Member, ModerationError> {
        // A little slack before now, so that a listing signed on a resident's
        // machine with a clock slightly behind is still covered.
        let cert = Certificate::issue(
            &self.node_key,
            member,
            scope.clone(),
            now - 3_600,
            now + valid,
        );
        let bytes = cert.to_bytes()?;
        // A renewal keeps the role and the day the member joined.
        let old = self.certificate(&member);
        let broker = old.is_some_and(|m| m.broker);
        let joined = old
            .map(|m| m.joined.clone())
            .filter(|j| !j.is_empty())
            .unwrap_or_else(|| rfc3339(now));
        let entry = Member {
            member_id: member.to_string(),
            name: name.to_owned(),
            scope: scope.to_string(),
            not_before: rfc3339(cert.not_before),
            not_after: rfc3339(cert.not_after),
            certificate: hex::encode(bytes),
            broker,
            joined,
        };
        self.list.retain(|m| m.member_id != entry.member_id);
        self.list.push(entry.clone());
        super::save(&self.path, &self.list)?;
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use buurt_protocol::keys;

    #[test]
    fn admitted_members_get_a_valid_certificate_that_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("members.json");
        let node = keys::from_seed([3; 32]);
        let resident = keys::member_id(&keys::from_seed([4; 32]));
        let scope = Scope::parse("nl/amsterdam/oost", 6).unwrap();
        let mut m = Members::load(path.clone(), node.clone()).unwrap();
        assert!(m.certificate(&resident).is_none());
        let e = m
            .admit(resident, "Fatima", scope.clone(), 1_000_000, 86_400)
            .unwrap();
        let cert = Certificate::from_bytes(&hex::decode(&e.certificate).unwrap()).unwrap();
        assert_eq!(cert.member, resident);
        assert_eq!(cert.node, keys::node_id(&node));
        assert_eq!(cert.scope, scope);
        cert.verify_signature().unwrap();
        let mut again = Members::load(path, node).unwrap();
        assert_eq!(again.certificate(&resident), Some(&e));
        assert_eq!(again.list().len(), 1);
        // A renewal a year on keeps the day the member joined.
        let renewed = again
            .admit(resident, "Fatima", scope, 1_000_000 + 365 * 86_400, 86_400)
            .unwrap();
        assert_ne!(renewed.not_before, e.not_before);
        assert_eq!(renewed.joined, e.joined);
        assert_eq!(e.joined, rfc3339(1_000_000));
    }
}
