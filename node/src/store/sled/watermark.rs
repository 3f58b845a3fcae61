//! The watermark: how the node knows its database lost records it had
//! acknowledged, which sled itself does not say (it recovers a damaged log
//! by truncating it at the first bad record, and opens the rest as if
//! nothing had happened).
//!
//! At every flush the store writes a *mark* into the database (key
//! `Mseq`: a flush number, the record count and a digest of the records
//! held) and then — at most once a second, and at every clean stop — the
//! same mark, with a checksum, into a file beside the database
//! (`db.watermark`). When the node stops cleanly the file says so.
//! At open:
//!
//! - the database's mark older than the file's (or gone): the log lost its
//!   tail, which held flushed records;
//! - after a clean stop, with the same flush number: the records counted at
//!   open must be exactly those of the mark (count and digest);
//! - after a crash, records written after the last flush may or may not
//!   have survived: nothing of them was acknowledged, so only the flush
//!   number is checked.
//!
//! The digest is the XOR of a 64-bit hash of each record's key and
//! revision, kept up to date with every write, so that it costs nothing at
//! a flush and one pass at open (which the counts need anyway).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The database key of the mark.
pub const MARK_KEY: &[u8] = b"Mseq";
/// Least time between two writes of the watermark file outside a clean
/// stop. The file's fsync would triple a post's latency if every flush paid
/// it; the price is that damage to exactly the last second of a crashed
/// node's log goes unnoticed (after a clean stop nothing does).
pub const FILE_SPACING: std::time::Duration = std::time::Duration::from_secs(1);

/// What a flush acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// Flushes so far (the first is 1).
    pub seq: u64,
    /// Records held.
    pub count: u64,
    /// XOR of [`record_hash`] over the records held.
    pub digest: u64,
}

impl Mark {
    pub fn encode(&self) -> [u8; 24] {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&self.seq.to_be_bytes());
        b[8..16].copy_from_slice(&self.count.to_be_bytes());
        b[16..].copy_from_slice(&self.digest.to_be_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<Mark> {
        let word = |i: usize| -> Option<u64> {
            Some(u64::from_be_bytes(b.get(i..i + 8)?.try_into().ok()?))
        };
        (b.len() == 24).then_some(())?;
        Some(Mark {
            seq: word(0)?,
            count: word(8)?,
            digest: word(16)?,
        })
    }
}

/// The file beside the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub mark: Mark,
    /// Written by a clean stop (after the last flush, nothing else).
    pub clean: bool,
    /// When it was written, Unix seconds.
    pub at: i64,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    watermark: Watermark,
    /// SHA-256 of the JSON of `watermark`, hex: a damaged file is told from
    /// a lost database.
    check: String,
}

/// Why the watermark file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WatermarkError {
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} is damaged ({detail}); `buurt check` tells whether the database is whole", path.display())]
    Damaged { path: PathBuf, detail: String },
}

/// The watermark file of the database at `db`: `db.watermark` beside it.
pub fn path_for(db: &Path) -> PathBuf {
    db.with_extension("watermark")
}

fn check_of(w: &Watermark) -> String {
    let json = serde_json::to_vec(w).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

/// Reads the watermark; `None` when there is none yet.
pub fn read(path: &Path) -> Result<Option<Watermark>, WatermarkError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(WatermarkError::Io {
                path: path.to_owned(),
                error,
            })
        }
    };
    let damaged = |detail: String| WatermarkError::Damaged {
        path: path.to_owned(),
        detail,
    };
    let d: OnDisk = serde_json::from_slice(&bytes).map_err(|e| damaged(e.to_string()))?;
    if check_of(&d.watermark) != d.check {
        return Err(damaged("its checksum does not match".into()));
    }
    Ok(Some(d.watermark))
}

/// Writes the watermark atomically (a temporary file, synced, renamed).
pub fn write(path: &Path, w: &Watermark) -> Result<(), WatermarkError> {
    let d = OnDisk {
        check: check_of(w),
        watermark: w.clone(),
    };
    let json = serde_json::to_vec_pretty(&d).unwrap_or_default();
    crate::datadir::write_secret(path, &json).map_err(|e| WatermarkError::Io {
        path: path.to_owned(),
        error: std::io::Error::other(e.to_string()),
    })
}

/// The hash of one record that the digest sums: its key (the listing id)
/// and its revision number, mixed (FNV-1a, then a finaliser).
pub fn record_hash(key: &[u8], revision: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.iter().chain(revision.to_be_bytes().iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

/// What the open found, against the watermark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing acknowledged is missing.
    Whole,
    /// Records the node had acknowledged are gone.
    Lost {
        /// What the watermark held.
        held: Mark,
        /// What the database holds now.
        holds: Mark,
        clean: bool,
        at: i64,
    },
}

/// Compares what the database holds (`found`, with its own mark `stored`)
/// with the watermark `w`.
pub fn verdict(w: &Watermark, stored: Option<Mark>, found: Mark) -> Verdict {
    let lost = || Verdict::Lost {
        held: w.mark,
        holds: found,
        clean: w.clean,
        at: w.at,
    };
    match stored {
        None if w.mark.seq > 0 => lost(),
        Some(s) if s.seq < w.mark.seq => lost(),
        Some(s)
            if w.clean
                && s.seq == w.mark.seq
                && (found.count, found.digest) != (w.mark.count, w.mark.digest) =>
        {
            lost()
        }
        _ => Verdict::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(seq: u64, count: u64, digest: u64) -> Mark {
        Mark { seq, count, digest }
    }

    #[test]
    fn verdicts() {
        let w = |m, clean| Watermark {
            mark: m,
            clean,
            at: 0,
        };
        let m = mark(7, 300, 42);
        // A clean stop: exactly what was held.
        assert_eq!(
            verdict(&w(m, true), Some(m), mark(7, 300, 42)),
            Verdict::Whole
        );
        assert!(matches!(
            verdict(&w(m, true), Some(m), mark(7, 178, 9)),
            Verdict::Lost { .. }
        ));
        assert!(matches!(
            verdict(&w(m, true), Some(m), mark(7, 300, 43)),
            Verdict::Lost { .. }
        ));
        // The tail with the last mark is gone, or all of it.
        assert!(matches!(
            verdict(&w(m, false), Some(mark(5, 290, 1)), mark(0, 290, 1)),
            Verdict::Lost { .. }
        ));
        assert!(matches!(
            verdict(&w(m, true), None, mark(0, 0, 0)),
            Verdict::Lost { .. }
        ));
        // After a crash, unacknowledged writes after the mark may be there.
        assert_eq!(
            verdict(&w(m, false), Some(m), mark(7, 305, 1)),
            Verdict::Whole
        );
        // A flush whose file was not written yet.
        assert_eq!(
            verdict(&w(m, false), Some(mark(8, 301, 2)), mark(8, 301, 2)),
            Verdict::Whole
        );
    }

    #[test]
    fn the_file_round_trips_and_damage_is_told() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("db"));
        assert_eq!(read(&path).unwrap(), None);
        let wm = Watermark {
            mark: mark(3, 2, 1),
            clean: true,
            at: 5,
        };
        write(&path, &wm).unwrap();
        assert_eq!(read(&path).unwrap(), Some(wm));
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"count\": 2", "\"count\": 3");
        std::fs::write(&path, text).unwrap();
        assert!(matches!(read(&path), Err(WatermarkError::Damaged { .. })));
    }

    #[test]
    fn marks_round_trip() {
        let m = mark(u64::MAX, 3, 0xdead_beef);
        assert_eq!(Mark::decode(&m.encode()), Some(m));
        assert_eq!(Mark::decode(&[0; 23]), None);
    }
}
