//! Listings' photos, kept as files named by their SHA-256 in the data
//! directory's `photos/`: written once, checked against the listing's hash
//! and size before they are kept, served to residents and to peers by hash
//! (protocol.md, section 17).
//!
//! The API puts a member's upload, the network puts what a peer sent, and
//! both read; `codec.rs` is `/buurt/photo/1` on the wire (through sync's
//! generic codec, as mail's). Writes are durable before they are acknowledged (a
//! temporary file, fsync, rename, fsync of the directory).

pub mod codec;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use buurt_protocol::photo::{self, PhotoError};
use buurt_protocol::Photo;

/// Photos a node keeps at most, in bytes, unless configured otherwise.
pub const DEFAULT_QUOTA: u64 = 2 * 1024 * 1024 * 1024;

/// Why a photo was not kept.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    #[error("{0}")]
    Invalid(#[from] PhotoError),
    #[error("this node keeps no more photos (its {0} MB are full)")]
    Full(u64),
    #[error("writing the photo: {0}")]
    Io(#[from] std::io::Error),
}

/// The photos on this node.
pub struct Photos {
    dir: PathBuf,
    used: AtomicU64,
    quota: u64,
}

impl Photos {
    /// Opens `dir` (made if missing), counting what it holds and removing
    /// half-written files a crash left.
    pub fn open(dir: &Path, quota: u64) -> std::io::Result<Photos> {
        fs::create_dir_all(dir)?;
        let mut used = 0;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_string_lossy().ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            } else {
                used += entry.metadata()?.len();
            }
        }
        Ok(Photos {
            dir: dir.to_owned(),
            used: AtomicU64::new(used),
            quota,
        })
    }

    fn path(&self, sha256: &[u8; 32]) -> PathBuf {
        self.dir.join(hex::encode(sha256))
    }

    pub fn has(&self, sha256: &[u8; 32]) -> bool {
        self.path(sha256).exists()
    }

    /// The image bytes, if this node has them.
    pub fn get(&self, sha256: &[u8; 32]) -> Option<Vec<u8>> {
        fs::read(self.path(sha256)).ok()
    }

    /// Bytes used, and how many photos.
    pub fn usage(&self) -> (u64, usize) {
        let n = fs::read_dir(&self.dir).map_or(0, |d| d.count());
        (self.used.load(Ordering::Relaxed), n)
    }

    /// A member's upload: kept if it is a photo at all; returns what the
    /// listing should say of it.
    pub fn upload(&self, bytes: &[u8]) -> Result<Photo, PutError> {
        let p = photo::describe(bytes)?;
        self.put(&p, bytes)?;
        Ok(p)
    }

    /// Keeps `bytes` if they are exactly the photo `want` names. True if
    /// they are new here.
    pub fn put(&self, want: &Photo, bytes: &[u8]) -> Result<bool, PutError> {
        photo::check(want, bytes)?;
        let path = self.path(&want.sha256);
        if path.exists() {
            return Ok(false);
        }
        let size = bytes.len() as u64;
        if self.used.load(Ordering::Relaxed) + size > self.quota {
            return Err(PutError::Full(self.quota / (1024 * 1024)));
        }
        let tmp = path.with_extension("tmp");
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        fs::File::open(&self.dir)?.sync_all()?;
        self.used.fetch_add(size, Ordering::Relaxed);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_what_the_hash_names_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let photos = Photos::open(dir.path(), 1_000).unwrap();
        let jpeg = b"\xff\xd8\xff\xe0 a small image".to_vec();
        let p = photos.upload(&jpeg).unwrap();
        assert!(photos.has(&p.sha256));
        let mut other = jpeg.clone();
        other.push(0);
        assert!(matches!(
            photos.put(&p, &other),
            Err(PutError::Invalid(PhotoError::Mismatch))
        ));
        assert!(matches!(
            photos.upload(&vec![0xff; 2_000]),
            Err(PutError::Invalid(PhotoError::NotAnImage))
        ));
        let again = Photos::open(dir.path(), 1_000).unwrap();
        assert_eq!(again.get(&p.sha256), Some(jpeg.clone()));
        assert_eq!(again.usage(), (jpeg.len() as u64, 1));
        let big = [b"\xff\xd8\xff".as_slice(), &[0; 990]].concat();
        assert!(matches!(again.upload(&big), Err(PutError::Full(_))));
    }
}
