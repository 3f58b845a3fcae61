//! Time: the wall clock as Unix seconds, and its text form.
//!
//! A leaf module: everything that needs the time of day asks here (or is
//! handed a [`Clock`]), so that nothing depends on `run` or the API for it,
//! and tests can hold time still.

use std::sync::atomic::{AtomicI64, Ordering};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The current time in Unix seconds, shifted by `BUURT_CLOCK_OFFSET_SECS`
/// when that is set (for tests that run a node or the CLI days ahead, e.g.
/// past a listing's first expiry).
pub fn now() -> i64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    t.saturating_add(offset())
}

/// `BUURT_CLOCK_OFFSET_SECS`, read once; 0 when unset or not a number.
fn offset() -> i64 {
    static OFFSET: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *OFFSET.get_or_init(|| {
        std::env::var("BUURT_CLOCK_OFFSET_SECS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    })
}

/// Unix seconds as RFC 3339 in UTC; out-of-range values print as the number.
pub fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

/// A source of the time in Unix seconds.
pub trait Clock: Send + Sync {
    fn now(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        now()
    }
}

/// A clock that moves only when told to, for tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(t: i64) -> ManualClock {
        ManualClock(AtomicI64::new(t))
    }

    pub fn set(&self, t: i64) {
        self.0.store(t, Ordering::SeqCst);
    }

    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
