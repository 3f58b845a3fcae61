//! Node configuration: `config.toml` in the data directory, merged once with
//! command-line flags, then validated into a [`Config`].
//!
//! Beside it: `limits.rs` (the `[mail]` and `[rate_limits]` tables),
//! `keys.rs` (the keys a file may hold, read off [`FileConfig`] itself),
//! `check.rs` (a file checked key by key, for `buurt config check`) and
//! `sources.rs` (the effective configuration with where each value came
//! from, for `buurt config show`).

mod check;
mod keys;
mod limits;
mod sources;

use std::fs;
use std::net::SocketAddr;
use std::path::Path;

use buurt_protocol::{Limits, Scope};
use serde::{Deserialize, Serialize};

pub use check::{check, Problem};
pub use keys::{keys, Key, Kind};
pub use limits::{MailLimits, RateLimits};
pub use sources::{explain, Setting, Source};

/// The default API address: loopback only.
pub const DEFAULT_API: &str = "127.0.0.1:4747";
/// The scope a node gets when none is given.
pub const DEFAULT_SCOPE: &str = "local";
/// Free disk space a node keeps, in MB, unless configured otherwise.
pub const DEFAULT_STORAGE_RESERVE_MB: u64 = 64;
/// Most API connections open at once, unless configured otherwise.
pub const DEFAULT_API_MAX_CONNECTIONS: usize = 4_096;
/// Longest time a stored listing waits for a search index commit when no
/// search asks for one sooner, unless configured otherwise
/// (`index_commit_ms`).
pub const DEFAULT_INDEX_COMMIT_MS: u64 = 30_000;

/// How many vouches away a node's members are accepted under `web`, unless
/// configured otherwise: the nodes this node vouches for, and theirs.
pub const DEFAULT_TRUST_DEPTH: u8 = 2;
/// The largest `trust_depth`.
pub const MAX_TRUST_DEPTH: u8 = 6;

/// The federation policy in `config.toml`: whose certificates to accept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Accept certificates from any node.
    Open,
    /// Accept only certificates from this node and trusted nodes.
    Allowlist,
    /// Accept certificates from this node and from the nodes it reaches
    /// through vouches within `trust_depth` (the web of vouching nodes).
    #[default]
    Web,
}

impl Policy {
    pub fn as_str(&self) -> &'static str {
        match self {
            Policy::Open => "open",
            Policy::Allowlist => "allowlist",
            Policy::Web => "web",
        }
    }
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

/// `config.toml` as written on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// This node's neighbourhood scope, such as `nl/amsterdam/oost/dapperbuurt`.
    pub scope: String,
    /// A name for people: shown in `status`.
    pub name: String,
    /// Extra scopes this node follows beyond its own and its ancestors.
    pub follow: Vec<String>,
    /// Address of the HTTP API. Keep it on loopback unless a proxy guards it.
    pub api: String,
    /// Most API connections open at once; one more is answered 503 and
    /// closed.
    pub api_max_connections: usize,
    /// Free disk space (MB) the node keeps: below it, new listings are
    /// refused (507 `storage_full`) until space is freed; below twice it,
    /// the node warns.
    pub storage_reserve_mb: u64,
    /// libp2p listen addresses (used once federation is on).
    pub listen: Vec<String>,
    /// Peers to dial at start (multiaddresses).
    pub peers: Vec<String>,
    /// Hubs (full addresses ending in `/p2p/` and the hub's node id): a
    /// node behind NAT is reachable through them, and finds the other
    /// nodes of its scopes there.
    pub hubs: Vec<String>,
    /// Serve as a hub for other nodes: relay, reachability checks and
    /// discovery. Only for a node with a public address.
    pub hub: bool,
    /// Local network discovery.
    pub mdns: bool,
    /// Seconds between sweeps of expired listings.
    pub sweep_interval_secs: u64,
    /// Seconds between two catch-up sync sessions with each connected peer
    /// (a session also starts when a connection opens).
    pub sync_interval_secs: u64,
    /// Longest time, in milliseconds, a stored listing waits for a commit of
    /// the search index when no search asks for one sooner (a search always
    /// commits what is pending first, so it finds every stored listing).
    /// Each commit costs milliseconds of CPU whatever it holds.
    pub index_commit_ms: u64,
    /// Listing limits; defaults are the protocol's.
    pub limits: Limits,
    /// Rate limits per author and per peer.
    pub rate_limits: RateLimits,
    /// Whose certificates to accept: `web` (this node's, and those of the
    /// nodes it reaches through vouches within `trust_depth`; see `buurt
    /// trust`), `allowlist` (this node's and the nodes it trusts itself) or
    /// `open` (any node's).
    pub policy: Policy,
    /// Under `web`: how many vouches away a node may be (1: the nodes this
    /// node vouches for; 2: also the nodes they vouch for).
    pub trust_depth: u8,
    /// Mailboxes of this node's members: quotas, rates, expiry.
    pub mail: MailLimits,
    /// Serve the public board (`/`, read-only HTML) beside the API. Unset:
    /// on when the API listens on loopback, off otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub board: Option<bool>,
}

impl Default for FileConfig {
    fn default() -> Self {
        FileConfig {
            scope: DEFAULT_SCOPE.into(),
            name: String::new(),
            follow: vec![],
            api: DEFAULT_API.into(),
            api_max_connections: DEFAULT_API_MAX_CONNECTIONS,
            storage_reserve_mb: DEFAULT_STORAGE_RESERVE_MB,
            listen: vec!["/ip4/0.0.0.0/tcp/4001".into()],
            peers: vec![],
            hubs: vec![],
            hub: false,
            mdns: true,
            sweep_interval_secs: 300,
            sync_interval_secs: 300,
            index_commit_ms: DEFAULT_INDEX_COMMIT_MS,
            rate_limits: RateLimits::default(),
            policy: Policy::Web,
            trust_depth: DEFAULT_TRUST_DEPTH,
            limits: Limits::default(),
            mail: MailLimits::default(),
            board: None,
        }
    }
}

impl FileConfig {
    /// Reads `config.toml`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        match FileConfig::read(path)? {
            Some(text) => FileConfig::parse(&text, path),
            None => Ok(FileConfig::default()),
        }
    }

    /// The text of `config.toml`, or None when there is no such file.
    pub fn read(path: &Path) -> Result<Option<String>, ConfigError> {
        match fs::read_to_string(path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ConfigError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Parses the text of `path`. A file that does not parse is refused
    /// with what [`check`] finds in it (every unknown key with the nearest
    /// valid one, every value of the wrong type, with its line), or the
    /// parser's own message.
    pub fn parse(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let found: Vec<String> = check(text).iter().map(|p| p.to_string()).collect();
            ConfigError::Parse {
                path: path.display().to_string(),
                message: if found.is_empty() {
                    e.message().trim().to_owned()
                } else {
                    found.join("; ")
                },
            }
        })
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

/// Flags that override the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Replaces `api`.
    pub api: Option<String>,
    /// Replaces `listen` when not empty.
    pub listen: Vec<String>,
    /// Added to `peers`.
    pub peers: Vec<String>,
    /// Added to `hubs`.
    pub hubs: Vec<String>,
    /// Sets `hub`.
    pub serve_hub: bool,
    /// Clears `mdns`.
    pub no_mdns: bool,
}

impl Overrides {
    /// The file with these flags applied, and the keys the flags set: the
    /// one place flags meet the file, for [`Config::build`] and
    /// [`explain`] alike.
    pub fn apply(&self, mut file: FileConfig) -> (FileConfig, Vec<&'static str>) {
        let mut set = Vec::new();
        if let Some(api) = &self.api {
            file.api = api.clone();
            set.push("api");
        }
        if !self.listen.is_empty() {
            file.listen = self.listen.clone();
            set.push("listen");
        }
        if !self.peers.is_empty() {
            file.peers.extend(self.peers.iter().cloned());
            set.push("peers");
        }
        if !self.hubs.is_empty() {
            file.hubs.extend(self.hubs.iter().cloned());
            set.push("hubs");
        }
        if self.serve_hub {
            file.hub = true;
            set.push("hub");
        }
        if self.no_mdns {
            file.mdns = false;
            set.push("mdns");
        }
        (file, set)
    }
}

/// The validated configuration the node runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub scope: Scope,
    pub name: String,
    pub follow: Vec<Scope>,
    pub api: SocketAddr,
    pub api_max_connections: usize,
    pub storage_reserve_mb: u64,
    pub listen: Vec<String>,
    pub peers: Vec<String>,
    pub hubs: Vec<String>,
    pub hub: bool,
    pub mdns: bool,
    pub sweep_interval_secs: u64,
    pub index_commit: std::time::Duration,
    pub sync_interval: std::time::Duration,
    pub rate_limits: RateLimits,
    pub policy: Policy,
    pub trust_depth: u8,
    pub limits: Limits,
    pub mail: MailLimits,
    /// Whether the public board is served.
    pub board: bool,
}

impl Config {
    /// Merges the file with flags and validates the result.
    pub fn build(file: FileConfig, o: Overrides) -> Result<Config, ConfigError> {
        let (file, _) = o.apply(file);
        let limits = file.limits;
        let levels = limits.max_scope_levels;
        let scope = Scope::parse(&file.scope, levels).map_err(|e| ConfigError::Invalid {
            field: "scope",
            message: e.to_string(),
        })?;
        let follow = file
            .follow
            .iter()
            .map(|s| Scope::parse(s, levels))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ConfigError::Invalid {
                field: "follow",
                message: e.to_string(),
            })?;
        let api_text = file.api;
        let api = api_text.parse().map_err(|_| ConfigError::Invalid {
            field: "api",
            message: format!("`{api_text}` is not HOST:PORT (for example 127.0.0.1:4747)"),
        })?;
        if limits.max_listing_bytes == 0
            || limits.max_listing_bytes > buurt_protocol::limits::MAX_LISTING_BYTES_CEILING
        {
            return Err(ConfigError::Invalid {
                field: "limits.max_listing_bytes",
                message: "must be between 1 and 65536".into(),
            });
        }
        if file.sweep_interval_secs == 0 {
            return Err(ConfigError::Invalid {
                field: "sweep_interval_secs",
                message: "must be at least 1".into(),
            });
        }
        let r = file.rate_limits;
        if r.author_per_hour == 0
            || r.author_per_day == 0
            || r.peer_per_second == 0
            || r.node_per_hour == 0
            || r.node_new_members_per_day == 0
        {
            return Err(ConfigError::Invalid {
                field: "rate_limits",
                message: "every limit must be at least 1".into(),
            });
        }
        if file.sync_interval_secs < 5 {
            return Err(ConfigError::Invalid {
                field: "sync_interval_secs",
                message: "must be at least 5".into(),
            });
        }
        if !(10..=600_000).contains(&file.index_commit_ms) {
            return Err(ConfigError::Invalid {
                field: "index_commit_ms",
                message: "must be between 10 and 600000".into(),
            });
        }
        if !(1..=MAX_TRUST_DEPTH).contains(&file.trust_depth) {
            return Err(ConfigError::Invalid {
                field: "trust_depth",
                message: format!("must be between 1 and {MAX_TRUST_DEPTH}"),
            });
        }
        let m = file.mail;
        if m.max_messages == 0 || m.max_bytes == 0 || m.node_per_minute == 0 || m.keep_days == 0 {
            return Err(ConfigError::Invalid {
                field: "mail",
                message: "every mail limit must be at least 1".into(),
            });
        }
        if !(1..=1_000_000).contains(&file.api_max_connections) {
            return Err(ConfigError::Invalid {
                field: "api_max_connections",
                message: "must be between 1 and 1000000".into(),
            });
        }
        Ok(Config {
            scope,
            name: file.name,
            follow,
            api,
            api_max_connections: file.api_max_connections,
            storage_reserve_mb: file.storage_reserve_mb,
            listen: file.listen,
            peers: file.peers,
            hubs: file.hubs,
            hub: file.hub,
            mdns: file.mdns,
            sweep_interval_secs: file.sweep_interval_secs,
            index_commit: std::time::Duration::from_millis(file.index_commit_ms),
            sync_interval: std::time::Duration::from_secs(file.sync_interval_secs),
            rate_limits: file.rate_limits,
            policy: file.policy,
            trust_depth: file.trust_depth,
            limits,
            mail: file.mail,
            board: file.board.unwrap_or(api.ip().is_loopback()),
        })
    }

    /// The scopes whose gossip topics this node subscribes to: its own
    /// scope, every ancestor of it, and the followed scopes.
    pub fn subscriptions(&self) -> Vec<Scope> {
        let mut scopes = self.scope.self_and_ancestors();
        for f in &self.follow {
            if !scopes.contains(f) {
                scopes.push(f.clone());
            }
        }
        scopes
    }

    /// Whether this node keeps listings of `scope`: its own scope, anything
    /// above or below it, and anything inside a followed scope.
    pub fn follows(&self, scope: &Scope) -> bool {
        self.scope.contains(scope)
            || scope.contains(&self.scope)
            || self.follow.iter().any(|f| f.contains(scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let c = Config::build(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(c.scope.as_str(), "local");
        assert_eq!(c.api.to_string(), DEFAULT_API);
    }

    #[test]
    fn bad_values_are_named() {
        let f = FileConfig {
            scope: "NL/Amsterdam".into(),
            ..Default::default()
        };
        let e = Config::build(f, Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("scope:"), "{e}");
        let o = Overrides {
            api: Some("localhost".into()),
            ..Default::default()
        };
        let e = Config::build(FileConfig::default(), o)
            .unwrap_err()
            .to_string();
        assert!(e.contains("HOST:PORT"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = toml::from_str::<FileConfig>("scoop = \"nl\"").unwrap_err();
        assert!(e.message().contains("scoop"), "{}", e.message());
    }

    #[test]
    fn a_refused_file_names_the_key_and_the_nearest() {
        let e = FileConfig::parse("scoop = \"nl\"", Path::new("config.toml"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "config.toml: unknown key scoop at line 1; did you mean scope?"
        );
    }

    #[test]
    fn follows_own_path_and_followed_scopes() {
        let f = FileConfig {
            scope: "nl/amsterdam/oost".into(),
            follow: vec!["nl/utrecht".into()],
            ..Default::default()
        };
        let c = Config::build(f, Overrides::default()).unwrap();
        let s = |t: &str| Scope::parse(t, 6).unwrap();
        assert!(c.follows(&s("nl/amsterdam")));
        assert!(c.follows(&s("nl/amsterdam/oost/dapperbuurt")));
        assert!(c.follows(&s("nl/utrecht/centrum")));
        assert!(!c.follows(&s("nl/amsterdam/west")));
    }
}
