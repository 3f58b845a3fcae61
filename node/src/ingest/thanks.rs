//! Thanks and pledges enter here, whatever their source (a member's `buurt
//! thank` through the API, gossip, sync, or a held thanks whose time came):
//! the book keeps them, and what is new is announced (what this node
//! publishes: its members' pledges, and their thanks once revealed).

use std::sync::Arc;

use super::{Announcement, Ingest, IngestError, Source};
use crate::thanks::{Book, Hold, HoldError, Took};

impl Ingest {
    /// The thanks this node keeps.
    pub fn thanks(&self) -> &Arc<Book> {
        &self.thanks
    }

    /// Takes a published thanks or pledge from a peer (gossip or sync).
    pub fn take_thanks(&self, bytes: &[u8], source: Source) -> Result<Took, IngestError> {
        self.room()?;
        let took = self
            .thanks
            .take(bytes)
            .map_err(|e| IngestError::Thanks(e.to_string()))?;
        if let Took::New { released } = &took {
            self.announce(Announcement::Thanks {
                bytes: Arc::from(bytes),
                source,
            });
            self.publish_thanks(released)?;
        }
        Ok(took)
    }

    /// Takes one of this node's members' thanks with its pledge (the API).
    pub fn hold_thanks(&self, thanks: &[u8], pledge: &[u8]) -> Result<Hold, HoldError> {
        if self.room().is_err() {
            return Err(HoldError::Bad(
                "the node is short of disk space or stopping; nothing was stored".into(),
            ));
        }
        let hold = self.thanks.hold(thanks, pledge)?;
        self.publish_thanks(&hold.publish)
            .map_err(|e| HoldError::Bad(e.to_string()))?;
        Ok(hold)
    }

    /// Reveals the held thanks whose time came at `now`; returns how many.
    pub fn release_thanks(&self, now: i64) -> Result<usize, IngestError> {
        let due = self
            .thanks
            .due(now)
            .map_err(|e| IngestError::Thanks(e.to_string()))?;
        self.publish_thanks(&due)?;
        Ok(due.len())
    }

    fn publish_thanks(&self, statements: &[Vec<u8>]) -> Result<(), IngestError> {
        if statements.is_empty() {
            return Ok(());
        }
        self.thanks
            .flush()
            .map_err(|e| IngestError::Thanks(e.to_string()))?;
        for s in statements {
            self.announce(Announcement::Thanks {
                bytes: Arc::from(s.as_slice()),
                source: Source::Local,
            });
        }
        Ok(())
    }
}
