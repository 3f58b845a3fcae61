//! Vouch statements enter here, whatever their source (the operator's
//! `buurt trust` / `untrust`, gossip, sync): moderation keeps them and
//! recomputes the web; when a node left the web, the listings of its
//! members are purged (unless the policy still accepts them otherwise); a
//! new statement is announced like a revocation (a local one is then
//! published).

use std::sync::Arc;

use super::{Announcement, Ingest, IngestError, Source};
use crate::moderation::WebNews;
use crate::store::Candidates;

/// What became of a vouch statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vouched {
    /// Not a valid signed statement (from a peer: bad data).
    Invalid,
    /// Known, older than the one held, or not relevant here.
    Known,
    /// Kept. `grew`: a node joined the web (what it posted comes by sync);
    /// `removed`: listings purged because their node left it.
    New { grew: bool, removed: usize },
}

impl Ingest {
    /// Takes in a signed vouch statement.
    pub fn take_vouch(&self, bytes: &[u8], source: Source) -> Result<Vouched, IngestError> {
        self.room()?;
        let news = match self.moderation.take_vouch(bytes) {
            Ok(n) => n,
            Err(_) => return Ok(Vouched::Invalid),
        };
        self.vouch_taken(bytes, news, source)
    }

    /// What follows a statement moderation kept (or made, for `Local`).
    pub fn vouch_taken(
        &self,
        bytes: &[u8],
        news: WebNews,
        source: Source,
    ) -> Result<Vouched, IngestError> {
        let WebNews::New { grew, shrank } = news else {
            return Ok(Vouched::Known);
        };
        let removed = if shrank {
            let m = self.moderation.clone();
            self.purge(Candidates::All, |l| !m.accepts_node(&l.certificate.node))?
        } else {
            0
        };
        self.announce(Announcement::Vouch {
            bytes: Arc::from(bytes),
            source,
        });
        Ok(Vouched::New { grew, removed })
    }
}
