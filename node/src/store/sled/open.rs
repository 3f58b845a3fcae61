//! Opening the sled database: waiting out this process's own lock, and
//! mapping sled's errors (and panics) to [`StoreError`]s that name the
//! database.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use ::sled::Db;

use std::collections::HashMap;
use std::fs;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use super::{watermark, OnLoss, SledStore};
use crate::store::StoreError;

/// The part of sled 0.34.7's message when another process holds the
/// database's lock (`Config::try_lock` in its `config.rs`). sled wraps the
/// `WouldBlock` from `flock` in an `io::Error` of kind `Other` with this text,
/// so the text is the only way to tell; sled is pinned to that version.
pub const SLED_LOCK_MESSAGE: &str = "could not acquire lock";

/// How long [`SledStore::open`] keeps trying a locked database before it
/// reports [`StoreError::Locked`]. sled releases its lock only when its last
/// background job lets go of the file: a file truncation it starts while
/// recovering (`SegmentAccountant::truncate`, a `set_len` and `sync_all` on
/// its thread pool) can outlive the `Db` by some milliseconds, so a close and
/// reopen within one process (a restart in a test) can meet its own lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(1);
/// Pause between attempts while waiting for the lock.
pub const LOCK_RETRY: Duration = Duration::from_millis(10);

/// Opens the sled database, waiting up to [`LOCK_WAIT`] for a lock held by
/// a database this process closed a moment ago.
pub fn open_db(path: &Path) -> Result<Db, StoreError> {
    let start = Instant::now();
    loop {
        // sled may panic on data it cannot make sense of instead of returning
        // an error; a damaged database must give a message, not a crash.
        let opened = catch_unwind(AssertUnwindSafe(|| {
            ::sled::Config::new()
                .path(path)
                .mode(::sled::Mode::HighThroughput)
                .cache_capacity(CACHE_BYTES)
                .open()
        }));
        match opened {
            Ok(Ok(db)) => return Ok(db),
            Ok(Err(e)) => match map_open_error(path, e) {
                StoreError::Locked { .. } if start.elapsed() < LOCK_WAIT => {
                    thread::sleep(LOCK_RETRY);
                }
                other => return Err(other),
            },
            Err(panic) => {
                return Err(StoreError::Corrupt {
                    path: path.to_owned(),
                    detail: format!("the database failed while opening: {}", panic_text(&*panic)),
                })
            }
        }
    }
}

/// sled's page cache for the store (its default is 1 GiB, which a node
/// with 100,000 listings filled to a resident size of 237 to 249 MB; see
/// docs/performance.md, "Memory").
pub const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Maps an error from `sled::open`, where a held lock shows up.
pub fn map_open_error(path: &Path, e: ::sled::Error) -> StoreError {
    match e {
        ::sled::Error::Io(ref io) if io.to_string().contains(SLED_LOCK_MESSAGE) => {
            StoreError::Locked {
                path: path.to_owned(),
            }
        }
        ::sled::Error::Io(io) if io.kind() == io::ErrorKind::InvalidData => StoreError::Corrupt {
            path: path.to_owned(),
            detail: io.to_string(),
        },
        other => map_error(path, other),
    }
}

/// Maps a sled error to a [`StoreError`] naming the database.
pub fn map_error(path: &Path, e: ::sled::Error) -> StoreError {
    let path = path.to_owned();
    match e {
        ::sled::Error::Io(error) => StoreError::Io { path, error },
        ::sled::Error::Corruption { at, .. } => StoreError::Corrupt {
            path,
            detail: match at {
                Some(at) => format!("damaged data found at {at}"),
                None => "damaged data found".into(),
            },
        },
        ::sled::Error::ReportableBug(detail) => StoreError::Backend {
            path,
            detail: format!("sled reports a bug: {detail}"),
        },
        other => StoreError::Backend {
            path,
            detail: other.to_string(),
        },
    }
}

pub fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

impl SledStore {
    /// Opens the database at `path`, creating it if it does not exist.
    ///
    /// Refuses a directory another process has open ([`StoreError::Locked`],
    /// after waiting up to a second in case it is this process's own
    /// database, closed a moment ago),
    /// a path that is not a directory ([`StoreError::NotADatabase`]), damaged
    /// data ([`StoreError::Corrupt`]) and a layout of another format version
    /// ([`StoreError::UnknownFormat`]).
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        SledStore::open_with(path, OnLoss::Refuse).map(|(s, _)| s)
    }

    /// Like [`SledStore::open`]; with [`OnLoss::Open`] a database that lost
    /// records it had acknowledged is opened anyway, and the verdict of its
    /// watermark comes back with it.
    pub fn open_with(
        path: &Path,
        on_loss: OnLoss,
    ) -> Result<(SledStore, watermark::Verdict), StoreError> {
        if let Ok(meta) = fs::metadata(path) {
            if !meta.is_dir() {
                return Err(StoreError::NotADatabase {
                    path: path.to_owned(),
                    detail: "it exists and is not a directory".into(),
                });
            }
        }
        // sled reads a log it cannot make sense of as an empty one; remember
        // whether there was one, so that damage is not taken for a new
        // database and silently started afresh.
        let had_data = fs::metadata(path.join("db")).is_ok_and(|m| m.len() > 0);
        let existed = path.exists();
        let stale_watermark = !existed && watermark::path_for(path).exists();
        let db = open_db(path)?;
        let store = SledStore {
            db,
            path: path.to_owned(),
            write: Mutex::new(()),
            count: AtomicU64::new(0),
            scopes: Mutex::new(HashMap::new()),
            digest: AtomicU64::new(0),
            journal: AtomicU64::new(0),
            counted: AtomicU64::new(0),
            saved_counts_used: std::sync::atomic::AtomicBool::new(false),
            flushes: super::flushes::Flushes::new(path),
            watermark: watermark::path_for(path),
        };
        // Opening to repair or check reads every record; a start uses the
        // counts saved with the last mark when it can.
        store.check_format(had_data, on_loss == OnLoss::Refuse)?;
        store.open_journal()?;
        if stale_watermark {
            // The whole database was moved aside (as the operator guide
            // says to do with a damaged one): its watermark goes with it.
            let aside = store
                .watermark
                .with_extension(format!("watermark.old-{}", crate::clock::now()));
            tracing::info!(
                "a new database at {}: its old watermark is kept as {}",
                path.display(),
                aside.display()
            );
            fs::rename(&store.watermark, &aside).map_err(|error| StoreError::Io {
                path: store.watermark.clone(),
                error,
            })?;
        }
        let verdict = store.check_watermark()?;
        if let (
            watermark::Verdict::Lost {
                held,
                holds,
                clean,
                at,
            },
            OnLoss::Refuse,
        ) = (&verdict, on_loss)
        {
            return Err(StoreError::Lost {
                path: path.to_owned(),
                held: held.count,
                holds: holds.count,
                since: crate::clock::rfc3339(*at),
                clean: *clean,
            });
        }
        if on_loss == OnLoss::Refuse {
            // From now on a crash is not a clean stop.
            store.write_mark(false)?;
        }
        Ok((store, verdict))
    }
}
