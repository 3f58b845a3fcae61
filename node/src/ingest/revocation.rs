//! Revocations enter here too, whatever their source (the operator's
//! `buurt revoke`, gossip, sync): verified, kept by moderation, the
//! listings they cover purged, and announced like a listing.

use std::sync::Arc;

use buurt_protocol::revocation::Revocation;

use super::{Announcement, Ingest, IngestError, Source};
use crate::store::Candidates;

/// What became of a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The bytes are not a valid signed revocation (from a peer: bad data).
    Invalid,
    /// Already known here.
    Known,
    /// New: kept, and this many listings removed.
    New { removed: usize },
}

impl Ingest {
    /// Takes in a signed revocation: verifies it, has moderation keep it,
    /// removes the listings it covers from store and index, and announces
    /// it (a local one is then published).
    pub fn take_revocation(&self, bytes: &[u8], source: Source) -> Result<Revoked, IngestError> {
        self.room()?;
        let Ok(rev) = Revocation::verify(bytes) else {
            return Ok(Revoked::Invalid);
        };
        if !self.moderation.add_revocation(rev.clone(), bytes)? {
            return Ok(Revoked::Known);
        }
        let removed = self.purge(Candidates::Author(rev.member), |l| rev.covers(l))?;
        self.announce(Announcement::Revocation {
            bytes: Arc::from(bytes),
            source,
        });
        Ok(Revoked::New { removed })
    }
}
