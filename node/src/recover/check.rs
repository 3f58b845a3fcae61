//! `buurt check`: read-only verification of a stopped node's data
//! directory. The database is opened whatever its watermark says (nothing
//! is written), every record is decoded, and the search index is compared
//! with the database.

use std::collections::BTreeSet;

use buurt_protocol::{ListingId, Status};
use serde::{Deserialize, Serialize};

use super::RecoverError;
use crate::datadir::DataDir;
use crate::search::SearchIndex;
use crate::store::sled::watermark::Verdict;
use crate::store::Store;

/// What `buurt check` found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    /// Records in the database.
    pub records: usize,
    /// What the watermark held, where it says records were lost.
    pub lost_per_watermark: Option<u64>,
    /// Whether the watermark file was there.
    pub watermark: bool,
    /// Records that do not decode, with why.
    pub undecodable: Vec<(ListingId, String)>,
    /// Listings in the index that the database does not hold.
    pub only_in_index: Vec<ListingId>,
    /// Listings in the database (not withdrawn) that the index lacks.
    pub only_in_store: Vec<ListingId>,
    /// Whether the index could be read at all.
    pub index_readable: bool,
    /// A repair's list of what is still missing, if one is pending.
    pub repair_missing: Option<usize>,
}

impl Report {
    /// Whether everything is whole.
    pub fn is_whole(&self) -> bool {
        self.lost_per_watermark.is_none()
            && self.undecodable.is_empty()
            && self.only_in_index.is_empty()
            && self.only_in_store.is_empty()
            && self.index_readable
            && self.repair_missing.unwrap_or(0) == 0
    }
}

/// Checks the data directory of a stopped node.
pub fn check(dir: &DataDir) -> Result<Report, RecoverError> {
    let mut r = Report {
        watermark: dir.watermark_path().exists(),
        ..Report::default()
    };
    let (store, verdict) =
        crate::store::sled::SledStore::open_with(&dir.db_path(), crate::store::sled::OnLoss::Open)?;
    if let Verdict::Lost { held, .. } = verdict {
        r.lost_per_watermark = Some(held.count);
    }
    r.records = store.len()?;
    r.undecodable = store.undecodable()?;
    let bad: BTreeSet<ListingId> = r.undecodable.iter().map(|(id, _)| *id).collect();
    match SearchIndex::open(&dir.index_path()) {
        Ok(index) => {
            r.index_readable = true;
            let indexed: BTreeSet<ListingId> =
                index.entries()?.into_iter().map(|(id, _)| id).collect();
            for id in &indexed {
                if store.get(id).ok().flatten().is_none() && !bad.contains(id) {
                    r.only_in_index.push(*id);
                }
            }
            store.for_each_record(&mut |id, bytes| {
                if let Ok(l) = buurt_protocol::SignedListing::decode(bytes) {
                    if l.listing.status != Status::Withdrawn && !indexed.contains(&id) {
                        r.only_in_store.push(id);
                    }
                }
                Ok(())
            })?;
        }
        Err(e) => tracing::warn!(
            "the search index cannot be read: {e}; `buurt reindex` rebuilds it from the store"
        ),
    }
    if let Some(m) = super::repair::read(dir)? {
        r.repair_missing = Some(super::repair::still_missing(&store, &m)?.len());
    }
    Ok(r)
}
