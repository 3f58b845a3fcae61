//! A node's pipeline without its network and API: config, store, index,
//! moderation and ingest, wired once, in one place, with the announce
//! channel between ingest and its one publisher.

use std::sync::Arc;

use buurt_protocol::keys::SigningKey;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::ingest::{Announcement, Ingest, ANNOUNCE};
use crate::moderation::Moderation;
use crate::search::{SearchError, SearchIndex};
use crate::space::Space;
use crate::store::{MemoryStore, Store};
use crate::sync;

pub struct Parts {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub index: Arc<SearchIndex>,
    pub moderation: Arc<Moderation>,
    pub ingest: Arc<Ingest>,
    /// What ingest announces; the network takes it as its publisher.
    pub announcements: mpsc::Receiver<Announcement>,
    /// The free disk space under the store (`None` in memory).
    pub space: Option<Arc<Space>>,
}

impl Parts {
    /// Wires ingest to an opened store, index and moderation.
    /// `space`: the free disk space to keep under an on-disk store.
    pub fn assemble(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        index: Arc<SearchIndex>,
        moderation: Arc<Moderation>,
        space: Option<Arc<Space>>,
        thanks: Option<Arc<crate::thanks::Book>>,
        watches: Option<Arc<crate::watch::Watches>>,
    ) -> Parts {
        let (tx, announcements) = mpsc::channel(ANNOUNCE);
        let thanks = thanks.unwrap_or_else(|| crate::thanks::Book::in_memory_for(&moderation));
        let mut ingest = Ingest::with_thanks(
            store.clone(),
            index.clone(),
            &config,
            moderation.clone(),
            Some(tx),
            space.clone(),
            thanks,
        );
        if let Some(w) = watches {
            ingest = ingest.with_watches(w);
        }
        let ingest = Arc::new(ingest);
        Parts {
            config,
            store,
            index,
            moderation,
            ingest,
            announcements,
            space,
        }
    }

    /// Everything in memory (a [`MemoryStore`], an in-memory index, and
    /// moderation with nothing on disk for the node whose key is
    /// `node_key`): for tests, benchmarks and throw-away nodes.
    pub fn in_memory(config: Config, node_key: SigningKey) -> Result<Parts, SearchError> {
        let config = Arc::new(config);
        let moderation = Arc::new(Moderation::in_memory(config.clone(), node_key));
        Ok(Parts::assemble(
            config,
            Arc::new(MemoryStore::new()),
            Arc::new(SearchIndex::in_memory()?),
            moderation,
            None,
            None,
            None,
        ))
    }

    /// What catch-up sync works with, for this pipeline.
    pub fn sync_context(&self) -> Arc<sync::Context> {
        Arc::new(sync::Context::new(
            self.ingest.clone(),
            self.store.clone(),
            self.config.clone(),
            self.moderation.clone(),
        ))
    }
}
