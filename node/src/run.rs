//! Initialising a data directory, and assembling a node from its parts
//! (store, moderation, index, ingest, network, API) and running it until
//! shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

mod init;
mod parts;

pub use self::init::{ensure_operator_certificate, init, InitReport, OPERATOR_CERT_DAYS};
pub use self::parts::Parts;

use tokio::sync::mpsc;

use crate::api::{self, ApiState};
use crate::clock::{self, SystemClock};
use crate::config::{Config, ConfigError};
use crate::datadir::{DataDir, DataDirError};
use crate::ingest::{Announcement, Ingest, IngestError};
use crate::mail::Mail;
use crate::moderation::{Moderation, ModerationError};
use crate::search::{SearchError, SearchIndex};
use crate::store::{SledStore, StoreError};
use crate::sync;

/// Why a node could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Moderation(#[from] ModerationError),
    /// The API address could not be bound.
    #[error("cannot listen on {addr}: {error}{}", bind_hint(error))]
    Bind { addr: String, error: std::io::Error },
    #[error("{0}")]
    Other(String),
}

/// Opens the search index, moving a damaged one aside. Returns the index and
/// whether it must be rebuilt from the store.
/// What the search index needs at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IndexNeeds {
    /// It was committed at a clean stop.
    Nothing,
    /// A crash may have left it behind the store: the store's journal tail
    /// since its marker, else a rebuild.
    CatchUp,
    /// New, replaced or moved aside: built from the whole store.
    Rebuild,
}

fn open_index(dir: &DataDir) -> Result<(SearchIndex, IndexNeeds), RunError> {
    let path = dir.index_path();
    let missing = !path.exists();
    let dirty = dir.index_dirty_path().exists();
    match SearchIndex::open(&path) {
        Ok(ix) if missing => Ok((ix, IndexNeeds::Rebuild)),
        Ok(ix) if dirty => Ok((ix, IndexNeeds::CatchUp)),
        Ok(ix) => Ok((ix, IndexNeeds::Nothing)),
        // Derived data in an older layout: replaced, not kept aside.
        Err(crate::search::SearchError::SchemaMismatch { .. }) => {
            tracing::info!(
                "the search index at {} was built by another version of buurt; replacing it",
                path.display()
            );
            std::fs::remove_dir_all(&path)
                .map_err(|e| RunError::Other(format!("{}: {e}", path.display())))?;
            Ok((SearchIndex::open(&path)?, IndexNeeds::Rebuild))
        }
        Err(e) => {
            let aside = path.with_extension(format!("broken-{}", clock::now()));
            tracing::warn!(
                "search index unreadable ({e}); moving it to {} and rebuilding",
                aside.display()
            );
            std::fs::rename(&path, &aside)
                .map_err(|e| RunError::Other(format!("{}: {e}", path.display())))?;
            Ok((SearchIndex::open(&path)?, IndexNeeds::Rebuild))
        }
    }
}

/// What to do about a bind error, for the message.
fn bind_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            " (is another buurt node running? give this one another address with --api HOST:PORT, e.g. --api 127.0.0.1:4748)"
        }
        std::io::ErrorKind::AddrNotAvailable => {
            " (this machine has no such address; --api 127.0.0.1:4747 is the default)"
        }
        _ => "",
    }
}

/// A node that has opened its store and index but not yet its API.
pub struct Node {
    pub dir: DataDir,
    pub parts: Parts,
}

impl Node {
    /// Opens store, moderation and index, rebuilds the index if needed,
    /// sweeps expired listings. Progress of a rebuild goes to the log.
    pub fn open(dir: DataDir, config: Config) -> Result<Node, RunError> {
        let now = clock::now();
        let started = std::time::Instant::now();
        let step = |what: &str| {
            tracing::debug!("start: {what} after {} ms", started.elapsed().as_millis());
        };
        ensure_operator_certificate(&dir, &config, now)?;
        let store = Arc::new(SledStore::open(&dir.db_path())?);
        step(if store.opened_from_saved_counts() {
            "database open (saved counts)"
        } else {
            "database open (every record read)"
        });
        let (index, needs) = open_index(&dir)?;
        step("search index open");
        let config = Arc::new(config);
        let moderation = Arc::new(Moderation::open_unrated(&dir, config.clone())?);
        // The author rates are read from the store alongside the start.
        {
            let (m, s) = (moderation.clone(), store.clone());
            std::thread::spawn(move || {
                let t = std::time::Instant::now();
                match m.rates().rebuild_alongside(&*s, now) {
                    Ok(n) => tracing::debug!(
                        "author rates read back: {n} revisions of the last two days in {} ms",
                        t.elapsed().as_millis()
                    ),
                    Err(e) => tracing::warn!("reading back the author rates failed: {e}; authors' rate limits start from zero until the next save; run `buurt check` if this repeats"),
                }
            });
        }
        if let Some(cert) = dir.certificate()? {
            moderation.record_member(&cert, "operator")?;
        }
        let space = Arc::new(crate::space::Space::new(
            &dir.db_path(),
            config.storage_reserve_mb.saturating_mul(1_000_000),
        ));
        let thanks =
            crate::thanks::Book::open(&dir.thanks_path(), moderation.clone(), dir.node_id()?)
                .map_err(|e| RunError::Other(e.to_string()))?;
        let watches = crate::watch::Watches::open(&dir.watches_path())
            .map_err(|e| RunError::Other(e.to_string()))?;
        let parts = Parts::assemble(
            config,
            store,
            Arc::new(index),
            moderation,
            Some(space),
            Some(Arc::new(thanks)),
            Some(Arc::new(watches)),
        );
        let ingest = &parts.ingest;
        let ledger = Arc::new(
            crate::impact::Ledger::open(&dir.impact_path(), &dir.node_key()?.to_bytes())
                .map_err(|e| RunError::Other(e.to_string()))?,
        );
        if ledger.is_empty() && !parts.store.is_empty()? {
            // A node from before the ledger: what it holds now is noted
            // once, a record at a time.
            let own = parts.moderation.own_node();
            let t = std::time::Instant::now();
            let mut n = 0u64;
            parts.store.for_each_record(&mut |id, bytes| {
                let l = buurt_protocol::SignedListing::decode(bytes)
                    .map_err(|error| StoreError::Decode { id, error })?;
                ledger
                    .listing(&l, l.listing.certificate.node == own)
                    .map_err(|e| StoreError::Backend {
                        path: dir.impact_path(),
                        detail: e.to_string(),
                    })?;
                n += 1;
                Ok(())
            })?;
            tracing::info!(
                "impact ledger: noted the {n} listings held, once, in {} ms",
                t.elapsed().as_millis()
            );
        }
        ingest.set_impact(ledger.clone());
        let mut rebuild = needs == IndexNeeds::Rebuild;
        if needs == IndexNeeds::CatchUp {
            match ingest.catch_up_index()? {
                Some(0) => {}
                Some(n) => tracing::info!("search index caught up: {n} changed listings"),
                None => rebuild = true,
            }
        }
        if rebuild && parts.store.is_empty()? {
            // A new data directory: an empty index is the whole rebuild.
            ingest.reindex(&mut |_, _| {})?;
        } else if rebuild {
            tracing::info!("rebuilding the search index from the store");
            let n = ingest.reindex(&mut |done, total| {
                if total > 0 && done % 10_000 == 0 {
                    tracing::info!("reindex: {done}/{total} listings");
                }
            })?;
            tracing::info!("search index rebuilt: {n} listings");
        }
        step("search index up to date");
        std::fs::write(dir.index_dirty_path(), b"")
            .map_err(|e| RunError::Other(format!("{}: {e}", dir.index_dirty_path().display())))?;
        let swept = ingest.sweep(clock::now())?;
        if swept > 0 {
            tracing::info!("removed {swept} expired listings");
        }
        ingest.commit_index()?;
        step("expired listings swept");
        Ok(Node { dir, parts })
    }

    /// Serves the API until `shutdown` completes, then commits, flushes and
    /// removes the API address file. `on_ready` gets the bound API address.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        on_ready: impl FnOnce(&str),
    ) -> Result<(), RunError> {
        let listener = tokio::net::TcpListener::bind(self.parts.config.api)
            .await
            .map_err(|error| RunError::Bind {
                addr: self.parts.config.api.to_string(),
                error,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| RunError::Other(e.to_string()))?
            .to_string();
        let Node { dir, parts } = self;
        let repair = Arc::new(std::sync::Mutex::new(None));
        let sync = parts.sync_context();
        let started = (|| {
            let mail = Arc::new(
                Mail::open(
                    &dir.mail_path(),
                    dir.node_key()?,
                    parts.moderation.clone(),
                    parts.store.clone(),
                    parts.config.mail,
                )
                .map_err(|e| RunError::Other(e.to_string()))?,
            );
            mail.set_operator(dir.member_id()?);
            if let Some(ledger) = parts.ingest.impact() {
                mail.set_impact(ledger.clone());
            }
            let photos = Arc::new(
                crate::photos::Photos::open(&dir.photos_path(), crate::photos::DEFAULT_QUOTA)
                    .map_err(|e| {
                        RunError::Other(format!("{}: {e}", dir.photos_path().display()))
                    })?,
            );
            let mut registry = prometheus_client::registry::Registry::default();
            crate::metrics::install(&mut registry);
            let net = start_network(
                &dir,
                &parts.config,
                sync,
                parts.announcements,
                (mail.clone(), photos.clone()),
                &mut registry,
            )?;
            Ok::<_, RunError>((mail, net, photos, Arc::new(registry)))
        })();
        let (mail, net, photos, registry) = match started {
            Ok(s) => s,
            Err(e) => {
                // Nothing was written: the index is as the open left it.
                let _ = std::fs::remove_file(dir.index_dirty_path());
                return Err(e);
            }
        };
        let outbox = tokio::spawn(crate::mail::outbox::run(mail.clone(), net.clone()));
        let state = Arc::new(ApiState {
            ingest: parts.ingest.clone(),
            store: parts.store.clone(),
            index: parts.index.clone(),
            config: parts.config.clone(),
            moderation: parts.moderation.clone(),
            net,
            node_id: dir.node_id()?.to_string(),
            member_id: dir.member_id()?.to_string(),
            token: dir.load_or_create_token()?,
            api_addr: addr.clone(),
            started_at: clock::now(),
            clock: Arc::new(SystemClock),
            work: tokio::sync::Semaphore::new(api::BLOCKING),
            space: parts.space.clone(),
            dir: dir.clone(),
            repair: repair.clone(),
            mail: Some(mail.clone()),
            photos: Some(photos),
            metrics: Some(registry),
        });
        let tasks = spawn_background(
            parts.ingest.clone(),
            mail.clone(),
            parts.config.sweep_interval_secs,
        );
        let follow = spawn_repair_follower(
            dir.clone(),
            parts.store.clone(),
            parts.moderation.clone(),
            repair.clone(),
        );
        let board = if parts.config.board {
            crate::board::routes()
        } else {
            axum::Router::new()
        };
        dir.write_api_addr(&addr)?;
        on_ready(&addr);
        let served = api::serve::serve(
            listener,
            api::router_with(state, board),
            parts.config.api_max_connections,
            shutdown,
        )
        .await;
        tasks.abort();
        follow.abort();
        outbox.abort();
        let _ = mail.flush();
        let ingest = parts.ingest.clone();
        tokio::task::spawn_blocking(move || ingest.close())
            .await
            .map_err(|e| RunError::Other(e.to_string()))??;
        let _ = std::fs::remove_file(dir.index_dirty_path());
        dir.remove_api_addr();
        served.map_err(|e| RunError::Other(format!("API server: {e}")))
    }
}

/// Starts the federation, unless the node is configured with no listen
/// address and no peers (then nothing publishes: the announcements are
/// dropped).
fn start_network(
    dir: &DataDir,
    config: &Config,
    sync: Arc<sync::Context>,
    announcements: mpsc::Receiver<Announcement>,
    (mail, photos): (Arc<Mail>, Arc<crate::photos::Photos>),
    registry: &mut prometheus_client::registry::Registry,
) -> Result<Option<crate::net::NetClient>, RunError> {
    if config.listen.is_empty() && config.peers.is_empty() {
        return Ok(None);
    }
    let cfg = crate::net::NetConfig {
        node_key: dir.node_key()?.to_bytes(),
        listen: config.listen.clone(),
        peers: config.peers.clone(),
        hubs: config.hubs.clone(),
        serve_hub: config.hub,
        home_scopes: std::iter::once(config.scope.clone())
            .chain(config.follow.iter().cloned())
            .collect(),
        mdns: config.mdns,
        scopes: config.subscriptions(),
        max_listing: config.limits.max_listing_bytes,
        sync_interval: config.sync_interval,
        peer_per_second: config.rate_limits.peer_per_second,
        photos: Some(photos),
    };
    let (client, event_loop) =
        crate::net::start(cfg, sync, announcements, Some(mail), Some(registry))
            .map_err(|e| RunError::Other(e.to_string()))?;
    tokio::spawn(event_loop);
    Ok(Some(client))
}

/// The periodic expiry sweep, of listings and of mail.
fn spawn_background(
    ingest: Arc<Ingest>,
    mail: Arc<Mail>,
    sweep_secs: u64,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut sweep = tokio::time::interval(Duration::from_secs(sweep_secs));
        sweep.tick().await;
        loop {
            sweep.tick().await;
            let i = ingest.clone();
            let swept = tokio::task::spawn_blocking(move || {
                let n = i.sweep(clock::now())?;
                i.prune_journal()?;
                Ok::<_, IngestError>(n)
            });
            match swept.await {
                Ok(Ok(n)) if n > 0 => tracing::info!("removed {n} expired listings"),
                Ok(Err(e)) => tracing::warn!("expiry sweep failed: {e}; it is tried again at the next sweep; run `buurt check` if this repeats"),
                _ => {}
            }
            let i = ingest.clone();
            match tokio::task::spawn_blocking(move || i.release_thanks(clock::now())).await {
                Ok(Ok(n)) if n > 0 => tracing::info!("revealed {n} thanks held for 7 days"),
                Ok(Err(e)) => tracing::warn!("revealing held thanks failed: {e}; it is tried again at the next sweep; run `buurt check` if this repeats"),
                _ => {}
            }
            let m = mail.clone();
            match tokio::task::spawn_blocking(move || m.sweep(clock::now())).await {
                Ok(Ok(n)) if n > 0 => tracing::info!("removed {n} expired letters"),
                Ok(Err(e)) => tracing::warn!("mail sweep failed: {e}; it is tried again at the next sweep; run `buurt check` if this repeats"),
                _ => {}
            }
        }
    })
}

/// How often a pending repair's list is checked against the store.
const REPAIR_CHECK: Duration = Duration::from_secs(5);

/// While `repair.json` lists listings a repair found lost: checks every
/// [`REPAIR_CHECK`] which are back (catch-up sync fetches them from peers),
/// says so in the log and in `status`, and removes the list once all are.
fn spawn_repair_follower(
    dir: DataDir,
    store: Arc<dyn crate::store::Store>,
    moderation: Arc<Moderation>,
    out: Arc<std::sync::Mutex<Option<crate::recover::repair::Progress>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REPAIR_CHECK);
        loop {
            tick.tick().await;
            if !dir.repair_path().exists() {
                *out.lock().unwrap_or_else(|p| p.into_inner()) = None;
                continue;
            }
            let (d, s, m) = (dir.clone(), store.clone(), moderation.clone());
            let found = tokio::task::spawn_blocking(move || {
                let own = m
                    .members()
                    .iter()
                    .filter_map(|x| x.member_id.parse().ok())
                    .collect();
                crate::recover::repair::follow(&d, &*s, &own)
            })
            .await;
            let Ok(Ok(p)) = found else { continue };
            let mut last = out.lock().unwrap_or_else(|p| p.into_inner());
            if *last != p {
                if let Some(p) = &p {
                    tracing::info!(
                        "repair: {} of {} lost listings still missing ({} by this node's own members)",
                        p.missing,
                        p.lost,
                        p.missing_own
                    );
                }
                *last = p;
            }
        }
    })
}

/// Resolves when the process gets SIGINT or SIGTERM. The handlers are
/// installed when this is called (inside the runtime), not when the future
/// is first polled: a node must not die of a Ctrl-C that arrives between
/// writing its API address and serving. Also replaces an ignored SIGINT
/// (a node started with `&` from a script).
#[cfg(unix)]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    async move {
        tokio::select! {
            _ = wait_for(int.as_mut()) => {},
            _ = wait_for(term.as_mut()) => {},
        }
    }
}

/// Waits for a signal, or forever when its handler could not be installed.
#[cfg(unix)]
async fn wait_for(s: Option<&mut tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
