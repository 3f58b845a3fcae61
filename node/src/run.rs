//! Initialising a data directory and running a node until shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use buurt_protocol::keys;
use buurt_protocol::limits::DAY;
use buurt_protocol::{Certificate, Scope};

use crate::api::{self, ApiState};
use crate::config::{Config, ConfigError, FileConfig, Overrides};
use crate::datadir::{DataDir, DataDirError};
use crate::ingest::{Ingest, IngestError};
use crate::search::{SearchError, SearchIndex};
use crate::store::{SledStore, StoreError};

/// How long the operator's own certificate is valid when issued at `init`.
pub const OPERATOR_CERT_DAYS: i64 = 365;

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
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// The current time in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// What `init` did.
#[derive(Debug)]
pub struct InitReport {
    pub created: bool,
    pub scope: Scope,
    pub node_id: String,
    pub member_id: String,
}

/// Creates keys, token, config and the operator's certificate. Existing keys
/// are never overwritten; an existing config keeps its scope unless it is
/// the same as asked.
pub fn init(
    dir: &DataDir,
    scope: Option<&str>,
    name: Option<&str>,
) -> Result<InitReport, RunError> {
    dir.create()?;
    let (node_key, created) = dir.load_or_create_key(&dir.node_key_path())?;
    let (member_key, _) = dir.load_or_create_key(&dir.member_key_path())?;
    dir.load_or_create_token()?;
    let mut file = FileConfig::load(&dir.config_path())?;
    let had_config = dir.config_path().exists();
    if let Some(s) = scope {
        if had_config && file.scope != s {
            return Err(RunError::Other(format!(
                "{} is already initialised with scope {}; edit scope in {} to change it",
                dir.root().display(),
                file.scope,
                dir.config_path().display()
            )));
        }
        file.scope = s.to_owned();
    }
    if let Some(n) = name {
        file.name = n.to_owned();
    }
    let config = Config::build(file.clone(), Overrides::default())?;
    if !had_config || name.is_some() {
        crate::datadir::write_secret(&dir.config_path(), file.to_toml().as_bytes())?;
    }
    ensure_operator_certificate(dir, &config, now())?;
    Ok(InitReport {
        created,
        scope: config.scope,
        node_id: keys::node_id(&node_key).to_string(),
        member_id: keys::member_id(&member_key).to_string(),
    })
}

/// Issues the operator's own certificate if it is missing, does not cover the
/// node's scope, or ends within 30 days.
pub fn ensure_operator_certificate(
    dir: &DataDir,
    config: &Config,
    now: i64,
) -> Result<Certificate, RunError> {
    let node_key = dir.node_key()?;
    let member = keys::member_id(&dir.member_key()?);
    let node = keys::node_id(&node_key);
    if let Some(c) = dir.certificate()? {
        let fresh = c.node == node
            && c.member == member
            && c.scope == config.scope
            && c.not_after > now + 30 * DAY;
        if fresh {
            return Ok(c);
        }
    }
    let cert = Certificate::issue(
        &node_key,
        member,
        config.scope.clone(),
        now - 3_600,
        now + OPERATOR_CERT_DAYS * DAY,
    );
    dir.write_certificate(&cert)?;
    Ok(cert)
}

/// Opens the search index, moving a damaged one aside. Returns the index and
/// whether it must be rebuilt from the store.
fn open_index(dir: &DataDir) -> Result<(SearchIndex, bool), RunError> {
    let path = dir.index_path();
    let missing = !path.exists();
    let dirty = dir.index_dirty_path().exists();
    match SearchIndex::open(&path) {
        Ok(ix) => Ok((ix, missing || dirty)),
        // Derived data in an older layout: replaced, not kept aside.
        Err(crate::search::SearchError::SchemaMismatch { .. }) => {
            tracing::info!(
                "the search index at {} was built by another version of buurt; replacing it",
                path.display()
            );
            std::fs::remove_dir_all(&path)
                .map_err(|e| RunError::Other(format!("{}: {e}", path.display())))?;
            Ok((SearchIndex::open(&path)?, true))
        }
        Err(e) => {
            let aside = path.with_extension(format!("broken-{}", now()));
            tracing::warn!(
                "search index unreadable ({e}); moving it to {} and rebuilding",
                aside.display()
            );
            std::fs::rename(&path, &aside)
                .map_err(|e| RunError::Other(format!("{}: {e}", path.display())))?;
            Ok((SearchIndex::open(&path)?, true))
        }
    }
}

/// A node that has opened its store and index but not yet its API.
pub struct Node {
    pub dir: DataDir,
    pub config: Arc<Config>,
    pub ingest: Arc<Ingest>,
}

impl Node {
    /// Opens store and index, rebuilds the index if needed, sweeps expired
    /// listings. Progress of a rebuild goes to the log.
    pub fn open(dir: DataDir, config: Config) -> Result<Node, RunError> {
        ensure_operator_certificate(&dir, &config, now())?;
        let store = Arc::new(SledStore::open(&dir.db_path())?);
        let (index, rebuild) = open_index(&dir)?;
        let config = Arc::new(config);
        let ingest = Arc::new(Ingest::new(store, Arc::new(index), config.clone(), None));
        ingest.set_blocks(crate::blocks::Blocks::load(dir.blocks_path()).map_err(RunError::Other)?);
        ingest.set_revocations(
            crate::revocations::Revocations::load(dir.revocations_path())
                .map_err(RunError::Other)?,
        );
        ingest.set_trust(
            crate::trust::Trust::load(dir.trusted_path(), config.policy, dir.node_id()?)
                .map_err(RunError::Other)?,
        );
        if rebuild {
            tracing::info!("rebuilding the search index from the store");
            let n = ingest.reindex(&mut |done, total| {
                if total > 0 && done % 10_000 == 0 {
                    tracing::info!("reindex: {done}/{total} listings");
                }
            })?;
            tracing::info!("search index rebuilt: {n} listings");
        }
        std::fs::write(dir.index_dirty_path(), b"")
            .map_err(|e| RunError::Other(format!("{}: {e}", dir.index_dirty_path().display())))?;
        let swept = ingest.sweep(now())?;
        if swept > 0 {
            tracing::info!("removed {swept} expired listings");
        }
        ingest.commit_index()?;
        Ok(Node {
            dir,
            config,
            ingest,
        })
    }

    /// Serves the API until `shutdown` completes, then commits, flushes and
    /// removes the API address file. `on_ready` gets the bound API address.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        on_ready: impl FnOnce(&str),
    ) -> Result<(), RunError> {
        let listener = tokio::net::TcpListener::bind(self.config.api)
            .await
            .map_err(|source| RunError::Bind {
                addr: self.config.api.to_string(),
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| RunError::Other(e.to_string()))?
            .to_string();
        self.dir.write_api_addr(&addr)?;
        let net = self.start_network()?;
        let state = Arc::new(ApiState {
            ingest: self.ingest.clone(),
            node_id: self.dir.node_id()?.to_string(),
            member_id: self.dir.member_id()?.to_string(),
            token: self.dir.load_or_create_token()?,
            api_addr: addr.clone(),
            started_at: now(),
            clock: now,
            net,
            members: std::sync::Mutex::new(self.members()?),
        });
        let tasks = spawn_background(self.ingest.clone(), self.config.sweep_interval_secs);
        on_ready(&addr);
        let served = axum::serve(listener, api::router(state))
            .with_graceful_shutdown(shutdown)
            .await;
        tasks.abort();
        let ingest = self.ingest.clone();
        tokio::task::spawn_blocking(move || -> Result<(), IngestError> {
            ingest.commit_index()?;
            ingest.flush()
        })
        .await
        .map_err(|e| RunError::Other(e.to_string()))??;
        let _ = std::fs::remove_file(self.dir.index_dirty_path());
        self.dir.remove_api_addr();
        served.map_err(|e| RunError::Other(format!("API server: {e}")))
    }
}

impl Node {
    /// The admitted members, with the operator among them.
    fn members(&self) -> Result<crate::members::Members, RunError> {
        let mut m = crate::members::Members::load(self.dir.members_path(), self.dir.node_key()?)
            .map_err(RunError::Other)?;
        if let Some(cert) = self.dir.certificate()? {
            m.record(&cert, "operator").map_err(RunError::Other)?;
        }
        Ok(m)
    }

    /// Starts the federation, unless the node is configured with no listen
    /// address and no peers.
    fn start_network(&self) -> Result<Option<crate::net::NetClient>, RunError> {
        if self.config.listen.is_empty() && self.config.peers.is_empty() {
            return Ok(None);
        }
        let scopes = self.config.subscriptions();
        let cfg = crate::net::NetConfig {
            node_key: self.dir.node_key()?.to_bytes(),
            listen: self.config.listen.clone(),
            peers: self.config.peers.clone(),
            mdns: self.config.mdns,
            scopes,
            max_listing: self.config.limits.max_listing_bytes,
            sync_interval: self.config.sync_interval,
            peer_per_second: self.config.rate_limits.peer_per_second,
        };
        let (client, event_loop) = crate::net::start(cfg, self.ingest.clone(), None)
            .map_err(|e| RunError::Other(e.to_string()))?;
        tokio::spawn(event_loop);
        Ok(Some(client))
    }
}

/// The periodic expiry sweep.
fn spawn_background(ingest: Arc<Ingest>, sweep_secs: u64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut sweep = tokio::time::interval(Duration::from_secs(sweep_secs));
        sweep.tick().await;
        loop {
            sweep.tick().await;
            let i = ingest.clone();
            match tokio::task::spawn_blocking(move || i.sweep(now())).await {
                Ok(Ok(n)) if n > 0 => tracing::info!("removed {n} expired listings"),
                Ok(Err(e)) => tracing::warn!("expiry sweep failed: {e}"),
                _ => {}
            }
        }
    })
}

/// Resolves when the process gets SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
