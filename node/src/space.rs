//! Free disk space under the data directory. A node refuses new writes
//! while less than its reserve is free, rather than let the database meet
//! a full disk (after which sled fails every operation, reads included,
//! until a restart); reads go on, and writes come back by themselves once
//! space is freed. A leaf module.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a reading of the free space is used before it is read again.
pub const FRESH: Duration = Duration::from_millis(200);

/// The words every "disk full" refusal carries, so that the API can tell
/// it from other failures.
pub const FULL: &str = "the disk of this node is full";

/// Where the disk stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// More than twice the reserve is free.
    Ok,
    /// Less than twice the reserve: writes still work; the operator is warned.
    Low,
    /// Less than the reserve: writes are refused.
    Full,
}

/// The free space of one file system, read at most every [`FRESH`].
pub struct Space {
    path: PathBuf,
    reserve: u64,
    last: Mutex<Option<(Instant, u64)>>,
}

impl Space {
    /// Watches the file system of `path`, keeping `reserve` bytes free.
    pub fn new(path: &Path, reserve: u64) -> Space {
        Space {
            path: path.to_owned(),
            reserve,
            last: Mutex::new(None),
        }
    }

    pub fn reserve(&self) -> u64 {
        self.reserve
    }

    /// Free bytes now (a reading at most [`FRESH`] old), or `None` where the
    /// platform cannot tell.
    pub fn free(&self) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, free)) = *last {
            if at.elapsed() < FRESH {
                return Some(free);
            }
        }
        let free = free_bytes(&self.path)?;
        let was = last.map(|(_, f)| self.level_of(f));
        *last = Some((Instant::now(), free));
        let now = self.level_of(free);
        if was != Some(now) {
            match now {
                Level::Low => tracing::warn!(
                    "free disk space is low: {} MB free, {} MB kept in reserve; free some space, \
                     or new listings are refused once under the reserve",
                    free / 1_000_000,
                    self.reserve / 1_000_000
                ),
                Level::Full => tracing::warn!(
                    "{FULL}: {} MB free, under the {} MB reserve; new listings are refused until \
                     space is freed",
                    free / 1_000_000,
                    self.reserve / 1_000_000
                ),
                Level::Ok if was.is_some() => tracing::info!("free disk space is back"),
                Level::Ok => {}
            }
        }
        Some(free)
    }

    fn level_of(&self, free: u64) -> Level {
        if free < self.reserve {
            Level::Full
        } else if free < self.reserve.saturating_mul(2) {
            Level::Low
        } else {
            Level::Ok
        }
    }

    /// Where the disk stands now.
    pub fn level(&self) -> Level {
        self.free().map_or(Level::Ok, |f| self.level_of(f))
    }
}

/// Free bytes (for an unprivileged process) of the file system holding
/// `path`.
#[cfg(unix)]
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path and `st` a buffer of the
    // right type; statvfs writes it fully when it returns 0.
    let r = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if r != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let st = unsafe { st.assume_init() };
    // The field types differ between platforms (u32 on some).
    #[allow(clippy::unnecessary_cast)]
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

#[cfg(not(unix))]
pub fn free_bytes(_path: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_reserve() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(dir.path()).expect("statvfs works here");
        assert!(free > 0);
        assert_eq!(Space::new(dir.path(), 0).level(), Level::Ok);
        assert_eq!(Space::new(dir.path(), free * 4).level(), Level::Full);
        let s = Space::new(dir.path(), free / 2 + free / 8);
        assert_eq!(s.level(), Level::Low);
    }
}
