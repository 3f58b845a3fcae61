//! Recovery of a data directory: checking it, repairing a database that
//! lost records, and backups.
//!
//! - [`check`]: read-only verification of the database against its
//!   watermark, of every record, and of the search index against the
//!   database (`buurt check`).
//! - [`repair`]: keeps what is intact, writes the list of what is missing
//!   (`repair.json`, from what the index knew), so that the node can tell
//!   while catch-up sync fetches it from peers what came back and what no
//!   peer had (`buurt repair`).
//! - [`backup`]: a consistent copy of a node's listings and files, made
//!   while it runs (writes pause while the listings are read), and its
//!   restore into a stopped node's data directory (`buurt backup`,
//!   `buurt restore`).
//!
//! All of it works on a data directory; none of it needs the network.

pub mod backup;
pub mod check;
pub mod repair;

use crate::datadir::DataDirError;
use crate::ingest::IngestError;
use crate::moderation::ModerationError;
use crate::search::SearchError;
use crate::store::StoreError;

/// Why recovery could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Moderation(#[from] ModerationError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{0}")]
    Refused(String),
}

impl RecoverError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> RecoverError + '_ {
        move |error| RecoverError::Io {
            path: path.display().to_string(),
            error,
        }
    }
}
