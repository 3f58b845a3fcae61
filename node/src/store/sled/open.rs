//! Opening the sled database: waiting out this process's own lock, and
//! mapping sled's errors (and panics) to [`StoreError`]s that name the
//! database.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use ::sled::Db;

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
