//! The cache of verified membership certificates, shared by validating
//! threads: a certificate is verified once, then known by its fingerprint
//! with its decompressed member key.

use std::collections::HashMap;
use std::sync::Mutex;

use buurt_protocol::keys::VerifyingKey;
use buurt_protocol::CertificateCache;

/// Most certificates remembered as verified; the cache is cleared when full.
pub const CERT_CACHE_MAX: usize = 100_000;

/// The verified certificates. The lock is taken per look-up, never across
/// a signature check.
#[derive(Default)]
pub struct Certs(Mutex<HashMap<[u8; 32], VerifyingKey>>);

impl Certs {
    /// A view that `validate_cached` can use and remember into.
    pub fn cache(&self) -> impl CertificateCache + '_ {
        CertCache(&self.0)
    }
}

struct CertCache<'a>(&'a Mutex<HashMap<[u8; 32], VerifyingKey>>);

impl CertificateCache for CertCache<'_> {
    fn get(&self, fp: &[u8; 32]) -> Option<VerifyingKey> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(fp)
            .copied()
    }
    fn remember(&mut self, fp: [u8; 32], key: VerifyingKey) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CERT_CACHE_MAX {
            map.clear();
        }
        map.insert(fp, key);
    }
}
