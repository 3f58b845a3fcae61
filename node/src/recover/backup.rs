//! Backups: every stored listing as the signed bytes it arrived in, and the
//! data directory's keys, config and lists, in a folder of their own.
//!
//! ```text
//! DIR/backup.json      what, when, from which node, and a checksum
//! DIR/listings.bin     "buurt-backup-listings/1\n", then per listing a
//!                      4-byte big-endian length and the signed bytes
//! DIR/node.key, member.key, member.cert, operator.token, config.toml,
//! DIR/members.json, blocks.json, trusted.json, revocations.json,
//! DIR/vouches.json, reply-keys.json, agreements.json
//! ```
//!
//! A backup made while the node runs pauses its writes while the listings
//! are read, so it is one moment's state. Restoring puts every listing
//! through the ingest pipeline again (validated; expired ones are left out)
//! into a new database.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::RecoverError;
use crate::datadir::DataDir;
use crate::ingest::{Ingest, Outcome, Source};
use crate::store::Store;

/// The first line of `listings.bin`.
pub const MAGIC: &[u8] = b"buurt-backup-listings/1\n";
/// Largest listing read back (the protocol's ceiling).
pub const MAX_LISTING: usize = buurt_protocol::limits::MAX_LISTING_BYTES_CEILING;
/// Listings submitted at once when restoring.
pub const PAGE: usize = 1_024;

/// `backup.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Manifest {
    pub format: u32,
    /// When the backup was made (RFC 3339).
    pub created_at: String,
    pub node_id: String,
    pub listings: usize,
    /// SHA-256 of `listings.bin`, hex.
    pub sha256: String,
    /// The other files copied.
    pub files: Vec<String>,
}

/// What a restore did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Restored {
    pub listings: usize,
    pub stored: usize,
    /// Refused by the pipeline, by reason (expired ones, mostly).
    pub refused: std::collections::BTreeMap<String, usize>,
    pub files: Vec<String>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RecoverError + '_ {
    RecoverError::io(path)
}

/// Makes `to` a new, empty folder (mode 0700), refusing one that exists and
/// holds anything.
fn fresh_folder(to: &Path) -> Result<(), RecoverError> {
    if to.exists() {
        let mut entries = std::fs::read_dir(to).map_err(io(to))?;
        if entries.next().is_some() {
            return Err(RecoverError::Refused(format!(
                "{} is not empty: a backup goes into a new or empty folder",
                to.display()
            )));
        }
    }
    DataDir::new(to).create()?;
    Ok(())
}

/// Runs the work it is given with the node's writes paused (or as it is,
/// when no node runs).
pub type Pause<'a> = dyn Fn(&mut dyn FnMut()) + 'a;

/// Writes a backup of the data directory `dir` into the new folder `to`.
/// `listings` pauses writes (when the node runs) and hands each stored
/// record to the writer; `progress` hears how many were written.
pub fn write(
    dir: &DataDir,
    store: &dyn Store,
    pause_writes: &Pause,
    to: &Path,
    progress: &mut dyn FnMut(usize),
) -> Result<Manifest, RecoverError> {
    fresh_folder(to)?;
    let path = to.join("listings.bin");
    let file = std::fs::File::create(&path).map_err(io(&path))?;
    let mut out = BufWriter::new(file);
    let mut hash = Sha256::new();
    let mut n = 0usize;
    out.write_all(MAGIC).map_err(io(&path))?;
    hash.update(MAGIC);
    let mut read = Ok(());
    pause_writes(&mut || {
        read = store.for_each_record(&mut |_, bytes| {
            let len = (bytes.len() as u32).to_be_bytes();
            let written = out.write_all(&len).and_then(|_| out.write_all(bytes));
            written.map_err(|e| crate::store::StoreError::Backend {
                path: path.clone(),
                detail: e.to_string(),
            })?;
            hash.update(len);
            hash.update(bytes);
            n += 1;
            if n.is_multiple_of(10_000) {
                progress(n);
            }
            Ok(())
        });
    });
    read?;
    let file = out.into_inner().map_err(|e| io(&path)(e.into_error()))?;
    file.sync_all().map_err(io(&path))?;
    progress(n);
    let mut files = Vec::new();
    for name in DataDir::BACKED_UP {
        let from = dir.root().join(name);
        if from.exists() {
            let bytes = std::fs::read(&from).map_err(io(&from))?;
            crate::datadir::write_secret(&to.join(name), &bytes)?;
            files.push(name.to_owned());
        }
    }
    let manifest = Manifest {
        format: 1,
        created_at: crate::clock::rfc3339(crate::clock::now()),
        node_id: dir.node_id()?.to_string(),
        listings: n,
        sha256: hex::encode(hash.finalize()),
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    crate::datadir::write_secret(&to.join("backup.json"), &json)?;
    Ok(manifest)
}

/// Reads a backup's manifest and checks `listings.bin` against it.
pub fn verify(from: &Path) -> Result<Manifest, RecoverError> {
    let mpath = from.join("backup.json");
    let bytes = std::fs::read(&mpath).map_err(io(&mpath))?;
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| RecoverError::Refused(format!("{}: {e}", mpath.display())))?;
    if m.format != 1 {
        return Err(RecoverError::Refused(format!(
            "{}: backup format {} is not one this buurt reads",
            mpath.display(),
            m.format
        )));
    }
    let path = from.join("listings.bin");
    let mut f = BufReader::new(std::fs::File::open(&path).map_err(io(&path))?);
    let mut hash = Sha256::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        let k = f.read(&mut buf).map_err(io(&path))?;
        if k == 0 {
            break;
        }
        hash.update(&buf[..k]);
    }
    if hex::encode(hash.finalize()) != m.sha256 {
        return Err(RecoverError::Refused(format!(
            "{} does not match its checksum in backup.json: the backup is damaged",
            path.display()
        )));
    }
    Ok(m)
}

/// Reads `listings.bin` in pages and hands each to `page`.
fn read_listings(
    path: &Path,
    page: &mut dyn FnMut(Vec<Vec<u8>>) -> Result<(), RecoverError>,
) -> Result<(), RecoverError> {
    let mut f = BufReader::new(std::fs::File::open(path).map_err(io(path))?);
    let mut magic = vec![0u8; MAGIC.len()];
    f.read_exact(&mut magic).map_err(io(path))?;
    if magic != MAGIC {
        return Err(RecoverError::Refused(format!(
            "{} is not a buurt backup's listings",
            path.display()
        )));
    }
    let mut items = Vec::with_capacity(PAGE);
    loop {
        let mut len = [0u8; 4];
        match f.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(io(path)(e)),
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_LISTING {
            return Err(RecoverError::Refused(format!(
                "{} holds a record of {len} bytes: not a listing",
                path.display()
            )));
        }
        let mut bytes = vec![0u8; len];
        f.read_exact(&mut bytes).map_err(io(path))?;
        items.push(bytes);
        if items.len() == PAGE {
            page(std::mem::take(&mut items))?;
        }
    }
    if !items.is_empty() {
        page(items)?;
    }
    Ok(())
}

/// Copies a backup's files into the data directory `dir` (whose database
/// must not exist yet), ahead of [`restore_listings`].
pub fn restore_files(from: &Path, dir: &DataDir) -> Result<Vec<String>, RecoverError> {
    if dir.db_path().exists() {
        return Err(RecoverError::Refused(format!(
            "{} already has a database: restore into a new data directory, or move db/ and \
             db.watermark aside first",
            dir.root().display()
        )));
    }
    dir.create()?;
    let mut files = Vec::new();
    for name in DataDir::BACKED_UP {
        let src = from.join(name);
        if src.exists() {
            let bytes = std::fs::read(&src).map_err(io(&src))?;
            crate::datadir::write_secret(&dir.root().join(name), &bytes)?;
            files.push(name.to_owned());
        }
    }
    Ok(files)
}

/// Puts a backup's listings through `ingest` into its (new) store, at
/// `now`; `progress` hears `(done, total)`.
pub fn restore_listings(
    from: &Path,
    ingest: &Arc<Ingest>,
    total: usize,
    now: i64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Restored, RecoverError> {
    let mut r = Restored::default();
    read_listings(&from.join("listings.bin"), &mut |page| {
        r.listings += page.len();
        for o in ingest.submit_batch(&page, Source::Restore, now)? {
            match o {
                Outcome::Stored(_) => r.stored += 1,
                Outcome::Rejected(why) => *r.refused.entry(why.code().to_owned()).or_default() += 1,
                Outcome::Duplicate(_) | Outcome::Superseded(_) => {}
            }
        }
        progress(r.listings, total);
        Ok(())
    })?;
    Ok(r)
}

/// Where a backup folder is, for messages.
pub fn describe(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}
