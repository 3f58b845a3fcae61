//! A listing's photo from the resident's side: made ready (metadata
//! stripped) and uploaded before the listing that names it is posted, and
//! fetched back by hash.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use buurt_protocol::listing::MAX_PHOTO_BYTES;
use buurt_protocol::Photo;

use crate::client::Client;

/// Largest file read before stripping.
const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;
/// How long `show --photo` waits for the node to fetch a photo from peers.
const FETCH_WAIT: Duration = Duration::from_secs(20);

/// Reads `path`, strips its metadata and uploads it; returns what the
/// listing names.
pub fn upload(c: &Client, path: &Path) -> Result<Photo> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("--photo {}", path.display()))?
        .len();
    if size > MAX_FILE_BYTES {
        bail!(
            "--photo: {} is {} MB; a photo is at most 300 KB",
            path.display(),
            size >> 20
        );
    }
    let raw = std::fs::read(path).with_context(|| format!("--photo {}", path.display()))?;
    let clean = crate::photo::strip(&raw).with_context(|| format!("--photo {}", path.display()))?;
    if clean.len() > MAX_PHOTO_BYTES as usize {
        bail!(
            "--photo: {} is {} KB without its metadata; a photo is at most 300 KB, so make it smaller (e.g. 1280 pixels wide)",
            path.display(),
            clean.len().div_ceil(1024)
        );
    }
    let want = buurt_protocol::photo::describe(&clean)?;
    let got: Photo = c.post_bytes("/v1/photos", &clean)?;
    if got != want {
        bail!("the node kept another photo than the one sent");
    }
    Ok(want)
}

/// The photo `p` of listing `listing`, checked against its hash; the node
/// asks its peers for it if it does not have it yet.
pub fn fetch(c: &Client, p: &Photo, listing: &str) -> Result<Vec<u8>> {
    let path = format!("/v1/photos/{}", hex::encode(p.sha256));
    let deadline = Instant::now() + FETCH_WAIT;
    let mut told = false;
    loop {
        if let Some(bytes) = c.get_bytes(&path, &[("listing", listing.to_owned())])? {
            buurt_protocol::photo::check(p, &bytes)
                .context("the node sent another photo than the listing names")?;
            return Ok(bytes);
        }
        if Instant::now() >= deadline {
            bail!("no node reachable from this one has the photo yet; try again later");
        }
        if !told {
            eprintln!("Fetching the photo from the node's peers…");
            told = true;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}
