//! The listing store: the node's durable record of the latest revision of
//! every listing address it follows.
//!
//! The store is the truth the rest of the node is rebuilt from: the search
//! index is derived from [`Store::all`] at start, sync compares against it,
//! and ingest asks it whether a revision is new before spending a signature
//! check. It therefore owns one rule of the protocol, applied atomically: per
//! address only the revision that wins under
//! [`buurt_protocol::revision::supersedes`] is kept. Tombstones (status
//! `Withdrawn`) are revisions like any other: they replace the body at once and
//! keep blocking older revisions until they themselves expire and are swept.
//!
//! The store does not validate. Every listing handed to [`Store::put`] has
//! already passed `buurt_protocol::validate`; stored bytes are decoded
//! structurally on the way out and a failure is reported as
//! [`StoreError::Decode`], never a panic.
//!
//! The store sits behind a small trait so that the sled store
//! ([`SledStore`]) and an in-memory one ([`MemoryStore`], for tests and
//! throw-away nodes) pass one shared conformance suite.

use std::collections::BTreeMap;
use std::path::PathBuf;

use buurt_protocol::{ContentId, DecodeError, ListingId, MemberId, Scope, SignedListing};

mod memory;
pub mod sled;

#[cfg(test)]
mod conformance;

pub use self::memory::MemoryStore;
pub use self::sled::SledStore;

/// The version of the on-disk layout [`SledStore`] writes. A database with
/// another version is refused rather than misread.
pub const FORMAT_VERSION: u32 = 3;

/// The rule of [`Store::newest`] over revisions already in that order.
pub(crate) fn take_newest(
    revisions: impl Iterator<Item = Result<SignedListing, StoreError>>,
    limit: usize,
    reads: usize,
    keep: &dyn Fn(&SignedListing) -> bool,
) -> Result<Option<Vec<SignedListing>>, StoreError> {
    let mut out = Vec::new();
    for (read, l) in revisions.enumerate() {
        if out.len() >= limit {
            break;
        }
        if read >= reads {
            return Ok(None);
        }
        let l = l?;
        if keep(&l) {
            out.push(l);
        }
    }
    Ok(Some(out))
}

/// What [`Store::put`] did with a listing. These are expected outcomes, not
/// failures: a node receives the same listing many times over gossip and sync.
// Returned once per put and moved straight into the caller's hands, never
// kept in bulk: boxing would only add an allocation to every replacement.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// The listing is now the latest revision of its address.
    Stored {
        /// The revision it replaced, or `None` if the address was empty.
        replaced: Option<SignedListing>,
    },
    /// This exact revision (same content id) is already stored.
    Duplicate,
    /// The stored revision of the address wins over this one.
    Superseded,
}

/// Why the store could not do what was asked. Each message names the
/// database and, where there is one, what the operator can do about it.
///
/// Underlying errors are part of the message rather than exposed as
/// `source()`, so that printing the error chain on one line does not repeat
/// them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the database's exclusive lock.
    #[error(
        "the database at {} is in use by another buurt process (is `buurt node` already running?)",
        path.display()
    )]
    Locked { path: PathBuf },
    /// The path exists but is not a database directory (a file, say).
    #[error("{} is not a buurt database: {detail}", path.display())]
    NotADatabase { path: PathBuf, detail: String },
    /// The database's own checks found damaged data.
    #[error(
        "the database at {} is damaged ({detail}); `buurt repair` keeps what is intact and \
         lets catch-up sync fetch the rest from peers (or move the directory aside, with \
         db.watermark, and start afresh; `buurt restore DIR` puts back a backup)",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    /// The database was written in a layout this version does not know.
    #[error(
        "the database at {} has store format {found}, but this version of buurt knows only \
         format {known}: run a newer buurt, or move the directory aside to start afresh",
        path.display()
    )]
    UnknownFormat {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    /// Reading or writing the database's files failed.
    #[error("input/output error on the database at {}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A stored listing's bytes no longer decode: they were valid when stored,
    /// so the database was damaged or written by something else.
    #[error("stored listing {id} does not decode ({error}); the database may be damaged")]
    Decode { id: ListingId, error: DecodeError },
    /// The database holds fewer records than it had acknowledged (its
    /// watermark says so): damaged files, which sled opens silently.
    #[error(
        "the database at {} lost listings it had acknowledged: it holds {holds}, and held {held} \
         when the node {} ({since}); nothing was changed. `buurt repair` keeps what is intact \
         and lets catch-up sync fetch the rest from peers; `buurt restore DIR` puts back a \
         backup; `buurt check` tells more",
        path.display(),
        if *clean { "last stopped" } else { "last flushed" }
    )]
    Lost {
        path: PathBuf,
        held: u64,
        holds: u64,
        since: String,
        clean: bool,
    },
    /// The watermark file beside the database could not be read or written.
    #[error("the database's watermark: {detail}")]
    Watermark { detail: String },
    /// Any other failure the database reports (a bug in it, or an
    /// unsupported use).
    #[error("database error at {}: {detail}", path.display())]
    Backend { path: PathBuf, detail: String },
}

/// One catch-up sync item: `(created_at, listing id, content id)`.
pub type SyncItem = (i64, ListingId, ContentId);

/// Who wrote a stored revision and when, read without decoding it (for
/// rebuilding the author rates at open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevisionHead {
    pub author: MemberId,
    pub created_at: i64,
    /// A tombstone.
    pub withdrawn: bool,
}

/// What a node knows of an address's past: when the first revision it
/// stored was created, and how many revisions it has stored there. The
/// protocol keeps neither (a revision replaces the one before), so this is
/// what this node saw, for people (`buurt show`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct History {
    pub first_created_at: i64,
    /// Revisions stored at the address, the current one included.
    pub revisions: u32,
}

impl History {
    /// The history after `old` (with `known`, its history if any) was
    /// replaced by a newer revision. A history that does not fit `old` is
    /// left out (a crash between two writes can leave one behind).
    pub fn after(old: &SignedListing, known: Option<History>) -> History {
        let before = known
            .filter(|h| h.first_created_at <= old.listing.created_at)
            .unwrap_or(History {
                first_created_at: old.listing.created_at,
                revisions: 1,
            });
        History {
            first_created_at: before.first_created_at,
            revisions: before.revisions.saturating_add(1),
        }
    }
}

/// Which stored listings a block or revocation may cover: one author's, or
/// every listing (a node's members are not indexed by node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidates {
    Author(MemberId),
    All,
}

/// What [`Store::for_each_record`] calls with each record's id and bytes.
pub type RecordFn<'a> = dyn FnMut(ListingId, &[u8]) -> Result<(), StoreError> + 'a;

/// Durable storage of the latest revision of each listing address.
///
/// Implementations are shared between threads and serialise their writes, so
/// that the read-compare-write of [`Store::put`] cannot interleave with
/// another write to the same address.
pub trait Store: Send + Sync {
    /// Stores an already-validated listing if it wins
    /// ([`buurt_protocol::revision::supersedes`]) over the revision at its
    /// address. The same content id already stored gives
    /// [`PutOutcome::Duplicate`]; losing to the stored revision gives
    /// [`PutOutcome::Superseded`]; otherwise [`PutOutcome::Stored`] carries
    /// the revision it replaced (`None` if the address was empty).
    ///
    /// Does not flush: call [`Store::flush`] before acknowledging, so that
    /// many puts share one flush.
    fn put(&self, listing: &SignedListing) -> Result<PutOutcome, StoreError>;

    /// The latest revision at an address.
    fn get(&self, id: &ListingId) -> Result<Option<SignedListing>, StoreError>;

    /// Whether the latest revision stored at address `at` is the one with
    /// content id `id`. Lets ingest drop duplicates before any signature
    /// check (the address is read from the first bytes of a listing); a
    /// replaced revision is no longer contained.
    fn contains_content(&self, at: &ListingId, id: &ContentId) -> Result<bool, StoreError>;

    /// Removes one address entirely (moderation), tombstone or not, and
    /// returns what was removed. A later revision of it may be stored again.
    fn remove(&self, id: &ListingId) -> Result<Option<SignedListing>, StoreError>;

    /// Every stored listing by one author, in no particular order.
    fn by_author(&self, author: &MemberId) -> Result<Vec<SignedListing>, StoreError>;

    /// Listings whose scope is `scope` or lies below it, segment by segment
    /// as [`Scope::contains`]: `nl/amsterdam` finds `nl/amsterdam/oost` but
    /// not `nl/amsterdamse-bos`. In no particular order.
    fn by_scope(&self, scope: &Scope) -> Result<Vec<SignedListing>, StoreError>;

    /// At most `limit` listing ids whose lowercase hexadecimal form starts
    /// with `prefix`, for lookup by any unique prefix. The prefix is matched
    /// literally: lowercase it first. Ids come in ascending order.
    fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<ListingId>, StoreError>;

    /// Removes every listing, tombstones included, with `expires_at <= now`
    /// and returns the removed ids.
    fn sweep_expired(&self, now: i64) -> Result<Vec<ListingId>, StoreError>;

    /// Number of stored addresses (tombstones included).
    fn len(&self) -> Result<usize, StoreError>;

    /// Number of stored addresses (tombstones included) per listing scope,
    /// each scope counted on its own (a listing of `nl/amsterdam/oost` counts
    /// for that scope, not for `nl/amsterdam`), for `status`.
    fn scope_counts(&self) -> Result<BTreeMap<String, usize>, StoreError>;

    /// The catch-up sync items of exactly `scope` (not the scopes below it):
    /// `(created_at, listing id, content id)` of every stored revision of
    /// that scope that expires after `now`, tombstones included, in no
    /// particular order.
    fn sync_items(&self, scope: &Scope, now: i64) -> Result<Vec<SyncItem>, StoreError>;

    /// Whether the store holds no listing at all.
    fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// Every stored listing, in no particular order, for rebuilding the
    /// search index.
    fn all(&self) -> Result<Vec<SignedListing>, StoreError>;

    /// What this store saw at an address: `None` when nothing is stored
    /// there; a single revision is its own history.
    fn history(&self, id: &ListingId) -> Result<Option<History>, StoreError>;

    /// Author, `created_at` and whether it is a tombstone, of every stored
    /// revision created at or after `since`, in no particular order.
    fn created_since(&self, since: i64) -> Result<Vec<RevisionHead>, StoreError>;

    /// Stored revisions newest first (by `created_at`; ties by listing id),
    /// those `keep` accepts, until `limit` are found. Tombstones are among
    /// them: `keep` decides. `None` when `reads` records were read without
    /// filling the page, so that a caller with a better index for a rare
    /// filter (the search index) can ask it instead.
    fn newest(
        &self,
        limit: usize,
        reads: usize,
        keep: &dyn Fn(&SignedListing) -> bool,
    ) -> Result<Option<Vec<SignedListing>>, StoreError> {
        let mut all = self.all()?;
        all.sort_by_key(|l| (std::cmp::Reverse(l.listing.created_at), l.listing_id()));
        take_newest(all.into_iter().map(Ok), limit, reads, keep)
    }

    /// Calls `f` with the id and stored bytes of every record, in no
    /// particular order, without decoding them (backups); stops at the first
    /// error `f` returns.
    fn for_each_record(&self, f: &mut RecordFn) -> Result<(), StoreError>;

    /// The listings a block or revocation may cover.
    fn candidates(&self, c: Candidates) -> Result<Vec<SignedListing>, StoreError> {
        match c {
            Candidates::Author(m) => self.by_author(&m),
            Candidates::All => self.all(),
        }
    }

    /// Makes every write that has returned durable.
    fn flush(&self) -> Result<(), StoreError>;

    /// The sequence of the last write (0: none, or a store that keeps no
    /// journal). Every write that changes an address takes the next one.
    fn journal_head(&self) -> u64 {
        0
    }

    /// The addresses changed by writes after `seq`, in order (an address
    /// may come more than once), or `None` when the journal no longer
    /// reaches back to `seq` (pruned, or never kept): then only a full
    /// rebuild of what is derived will do.
    fn changed_since(&self, seq: u64) -> Result<Option<Vec<ListingId>>, StoreError> {
        let _ = seq;
        Ok(None)
    }

    /// Forgets the journal up to and including `seq` (what the search index
    /// has committed).
    fn prune_journal(&self, seq: u64) -> Result<(), StoreError> {
        let _ = seq;
        Ok(())
    }

    /// Flushes at a clean stop; a store that checks itself at open (the
    /// sled store's watermark) notes that nothing came after.
    fn close(&self) -> Result<(), StoreError> {
        self.flush()
    }
}
