//! Revocations this node knows of (its own and those received), kept in
//! `revocations.json` as the signed statements, hex-encoded. A listing
//! covered by one is refused on every path; see `buurt_protocol::revocation`.

use std::path::PathBuf;

use buurt_protocol::revocation::Revocation;
use buurt_protocol::Listing;

use super::ModerationError;

/// The known revocations, in memory and (unless in-memory only) on disk.
#[derive(Debug, Default)]
pub struct Revocations {
    path: Option<PathBuf>,
    signed: Vec<String>,
    parsed: Vec<Revocation>,
}

impl Revocations {
    /// Loads `path`; a missing file is an empty list. Every entry is
    /// verified again.
    pub fn load(path: PathBuf) -> Result<Revocations, ModerationError> {
        let signed: Vec<String> = crate::datadir::read_json_list(&path)?;
        let parsed = signed
            .iter()
            .map(|h| {
                let bytes = hex::decode(h).map_err(|e| ModerationError::bad_entry(&path, e))?;
                Revocation::verify(&bytes).map_err(|e| ModerationError::bad_entry(&path, e))
            })
            .collect::<Result<_, _>>()?;
        Ok(Revocations {
            path: Some(path),
            signed,
            parsed,
        })
    }

    /// The signed revocations, newest first, at most `max`.
    pub fn signed(&self, max: usize) -> Vec<Vec<u8>> {
        self.signed
            .iter()
            .rev()
            .take(max)
            .filter_map(|h| hex::decode(h).ok())
            .collect()
    }

    pub fn covers(&self, l: &Listing) -> bool {
        self.parsed.iter().any(|r| r.covers(l))
    }

    /// Whether a revocation ends the membership `cert` states.
    pub fn covers_certificate(&self, cert: &buurt_protocol::Certificate) -> bool {
        self.parsed.iter().any(|r| r.covers_certificate(cert))
    }

    pub fn len(&self) -> usize {
        self.parsed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parsed.is_empty()
    }

    /// Adds a verified revocation and saves; false if it was known.
    pub fn add(&mut self, rev: Revocation, bytes: &[u8]) -> Result<bool, ModerationError> {
        if self.parsed.contains(&rev) {
            return Ok(false);
        }
        self.parsed.push(rev);
        self.signed.push(hex::encode(bytes));
        super::save(&self.path, &self.signed)?;
        Ok(true)
    }
}
