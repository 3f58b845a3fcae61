//! The sync items of a scope: what reconciliation compares. Each item is a
//! stored latest revision (tombstones included, expired ones left out) as
//! `(created_at, sync id)`; see `buurt_protocol::sync`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use buurt_protocol::sync::sync_id;
use buurt_protocol::Scope;
use negentropy::{Id, NegentropyStorageVector};

use crate::ingest::Ingest;
use crate::store::{Store, StoreError};

/// How long cached sync items stay valid when the store does not change
/// (listings expire with time alone).
pub const ITEMS_TTL: i64 = 60;

/// Why the items of a scope could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ItemsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("negentropy: {0}")]
    Negentropy(#[from] negentropy::Error),
}

/// The sync items of exactly `scope` at `now`.
pub fn items(
    store: &dyn Store,
    scope: &Scope,
    now: i64,
) -> Result<NegentropyStorageVector, ItemsError> {
    let items = store.sync_items(scope, now)?;
    let mut storage = NegentropyStorageVector::with_capacity(items.len());
    for (created, listing, content) in items {
        storage.insert(
            created.max(0) as u64,
            Id::from_byte_array(sync_id(&listing, &content)),
        )?;
    }
    storage.seal()?;
    Ok(storage)
}

/// Sync items per scope, kept until the store changes or [`ITEMS_TTL`]
/// passes, so that the rounds of one session and sessions with several
/// peers do not each read the whole scope.
#[derive(Default)]
pub struct ItemsCache {
    map: Mutex<HashMap<String, Cached>>,
}

struct Cached {
    version: u64,
    built: i64,
    items: NegentropyStorageVector,
}

impl ItemsCache {
    /// The items of `scope`, from the cache when the store (as `ingest`
    /// counts its changes) has not changed.
    pub fn get(
        &self,
        ingest: &Ingest,
        store: &dyn Store,
        scope: &Scope,
        now: i64,
    ) -> Result<NegentropyStorageVector, ItemsError> {
        let version = ingest.version();
        if let Some(c) = self.lock().get(scope.as_str()) {
            if c.version == version && now - c.built < ITEMS_TTL {
                return Ok(c.items.clone());
            }
        }
        let items = items(store, scope, now)?;
        // Followed scopes are few; a peer cannot add entries (only scopes
        // this node follows are built).
        self.lock().insert(
            scope.to_string(),
            Cached {
                version,
                built: now,
                items: items.clone(),
            },
        );
        Ok(items)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Cached>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}
