//! `buurt repair` and what the node does with its result: the listings a
//! damaged database lost are named in `repair.json` (from the search index,
//! which still knew them), and the running node follows them as catch-up
//! sync brings them back.

use std::collections::BTreeSet;

use buurt_protocol::{ListingId, MemberId};
use serde::{Deserialize, Serialize};

use super::RecoverError;
use crate::datadir::DataDir;
use crate::search::SearchIndex;
use crate::store::sled::{OnLoss, SledStore};
use crate::store::Store;

/// One listing the database lost.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Lost {
    pub id: ListingId,
    pub author: MemberId,
}

/// `repair.json`: what a repair found missing, until it is back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    /// When the repair ran (RFC 3339).
    pub at: String,
    pub lost: Vec<Lost>,
}

/// What `buurt repair` did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Whether the watermark said records were lost.
    pub watermark_lost: bool,
    /// Records kept.
    pub kept: usize,
    /// Records that did not decode, removed.
    pub removed_undecodable: usize,
    /// Listings the index knew that the database no longer holds.
    pub missing: usize,
    /// Of those, by this node's own members (no other node may have them).
    pub missing_own: usize,
}

/// Reads `repair.json`, if a repair left one.
pub fn read(dir: &DataDir) -> Result<Option<Missing>, RecoverError> {
    let path = dir.repair_path();
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| RecoverError::Refused(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RecoverError::io(&path)(e)),
    }
}

fn write(dir: &DataDir, m: &Missing) -> Result<(), RecoverError> {
    let json = serde_json::to_vec_pretty(m).unwrap_or_default();
    Ok(crate::datadir::write_secret(&dir.repair_path(), &json)?)
}

/// The lost listings still missing from `store`.
pub fn still_missing(store: &dyn Store, m: &Missing) -> Result<Vec<Lost>, RecoverError> {
    let mut out = Vec::new();
    for l in &m.lost {
        if store.get(&l.id)?.is_none() {
            out.push(l.clone());
        }
    }
    Ok(out)
}

/// Repairs the database of a stopped node: removes what does not decode,
/// notes what the index knew and the database lost, rebuilds the index and
/// a watermark for what is kept. `own` are this node's members; `progress`
/// hears the step under way, and how far it got out of how many.
pub fn repair(
    dir: &DataDir,
    own: &BTreeSet<MemberId>,
    progress: &mut dyn FnMut(&'static str, usize, usize),
) -> Result<Report, RecoverError> {
    let (store, verdict) = SledStore::open_with(&dir.db_path(), OnLoss::Open)?;
    let mut removed = 0;
    let total = store.len()?;
    let mut seen = 0;
    let undecodable = store.undecodable_with(&mut || {
        seen += 1;
        if seen % 1_000 == 0 || seen == total {
            progress("decoding every listing", seen, total);
        }
    })?;
    for (id, why) in undecodable {
        tracing::warn!("removing listing {id}: it does not decode ({why})");
        if store.remove_undecodable(&id)? {
            removed += 1;
        }
    }
    // What the index knew and the store lost. An index that cannot be read
    // tells nothing; it is rebuilt either way.
    let mut lost = BTreeSet::new();
    match SearchIndex::open(&dir.index_path()) {
        Ok(index) => {
            let entries = index.entries()?;
            let known = entries.len();
            for (n, (id, author)) in entries.into_iter().enumerate() {
                if n % 1_000 == 0 {
                    progress("comparing with the search index", n, known);
                }
                if store.get(&id)?.is_none() {
                    lost.insert(Lost { id, author });
                }
            }
        }
        Err(e) => tracing::warn!("the search index tells nothing of what was lost: {e}; it is rebuilt at the next start, and listings lost without a trace come back only by sync or from a backup (`buurt restore`)"),
    }
    let mut missing = read(dir)?.unwrap_or_default();
    missing.at = crate::clock::rfc3339(crate::clock::now());
    missing.lost.extend(lost);
    missing.lost.sort();
    missing.lost.dedup();
    let missing_own = missing
        .lost
        .iter()
        .filter(|l| own.contains(&l.author))
        .count();
    if missing.lost.is_empty() {
        let _ = std::fs::remove_file(dir.repair_path());
    } else {
        write(dir, &missing)?;
    }
    // A watermark for what is kept, and an index rebuilt at the next start.
    store.close_clean()?;
    std::fs::write(dir.index_dirty_path(), b"")
        .map_err(RecoverError::io(&dir.index_dirty_path()))?;
    Ok(Report {
        watermark_lost: matches!(verdict, crate::store::sled::watermark::Verdict::Lost { .. }),
        kept: store.len()?,
        removed_undecodable: removed,
        missing: missing.lost.len(),
        missing_own,
    })
}

/// What the running node says of a repair while sync brings listings back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    /// Listings the repair found lost.
    pub lost: usize,
    /// Still missing.
    pub missing: usize,
    /// Still missing, by this node's own members: if no peer has them,
    /// only a backup does.
    pub missing_own: usize,
}

/// Checks a repair's list against the store: the progress, and whether it
/// is complete (then `repair.json` is removed).
pub fn follow(
    dir: &DataDir,
    store: &dyn Store,
    own: &BTreeSet<MemberId>,
) -> Result<Option<Progress>, RecoverError> {
    let Some(m) = read(dir)? else {
        return Ok(None);
    };
    let missing = still_missing(store, &m)?;
    let p = Progress {
        lost: m.lost.len(),
        missing: missing.len(),
        missing_own: missing.iter().filter(|l| own.contains(&l.author)).count(),
    };
    if missing.is_empty() {
        let _ = std::fs::remove_file(dir.repair_path());
        tracing::info!("repair complete: all {} lost listings are back", p.lost);
    }
    Ok(Some(p))
}
