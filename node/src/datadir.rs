//! The data directory: keys, certificate, operator token, config, database,
//! search index, and the address of the running node's API.
//!
//! Secrets are files of mode 0600 in a directory of mode 0700. Keys are never
//! overwritten: `init` on an existing directory keeps them.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use buurt_protocol::keys::{self, SigningKey};
use buurt_protocol::{Certificate, MemberId, NodeId};

/// Why the data directory could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: not a valid key file (expected 64 hexadecimal characters)")]
    BadKey(PathBuf),
    #[error("{0}: not a valid membership certificate")]
    BadCertificate(PathBuf),
    #[error("{0} is not initialised: run `buurt init --scope SCOPE` (or `buurt node`, which initialises it)")]
    NotInitialised(PathBuf),
    #[error("could not get random bytes from the operating system: {0}")]
    Random(String),
    /// A JSON list kept in the directory (blocks, members, …) is not what
    /// this version of buurt wrote.
    #[error("{path}: {detail}")]
    BadJson { path: PathBuf, detail: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Paths inside one data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn node_key_path(&self) -> PathBuf {
        self.root.join("node.key")
    }
    pub fn member_key_path(&self) -> PathBuf {
        self.root.join("member.key")
    }
    pub fn certificate_path(&self) -> PathBuf {
        self.root.join("member.cert")
    }
    pub fn token_path(&self) -> PathBuf {
        self.root.join("operator.token")
    }
    pub fn api_addr_path(&self) -> PathBuf {
        self.root.join("api.addr")
    }
    /// The operator's blocks (`buurt block`).
    pub fn blocks_path(&self) -> PathBuf {
        self.root.join("blocks.json")
    }

    /// The nodes trusted under the `allowlist` policy (`buurt trust`).
    pub fn trusted_path(&self) -> PathBuf {
        self.root.join("trusted.json")
    }

    /// The residents this node admitted (`buurt admit`).
    pub fn members_path(&self) -> PathBuf {
        self.root.join("members.json")
    }

    /// Revocations made or received.
    /// The vouch statements this node holds (its own and others').
    pub fn vouches_path(&self) -> PathBuf {
        self.root.join("vouches.json")
    }

    pub fn revocations_path(&self) -> PathBuf {
        self.root.join("revocations.json")
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join("db")
    }

    /// The thanks database (published thanks and pledges, and the
    /// members' thanks held back).
    pub fn thanks_path(&self) -> PathBuf {
        self.root.join("thanks")
    }

    /// The watches database: members' saved searches and notifications.
    pub fn watches_path(&self) -> PathBuf {
        self.root.join("watches")
    }

    /// The impact ledger: anonymous facts of listings and first reactions.
    pub fn impact_path(&self) -> PathBuf {
        self.root.join("impact")
    }

    /// Listings' photos, one file per SHA-256.
    pub fn photos_path(&self) -> PathBuf {
        self.root.join("photos")
    }

    /// The mail database: members' mailboxes, the outbox, reply keys.
    pub fn mail_path(&self) -> PathBuf {
        self.root.join("mail")
    }

    /// The database's watermark (see `store::sled::watermark`).
    pub fn watermark_path(&self) -> PathBuf {
        self.root.join("db.watermark")
    }

    /// What `buurt repair` found missing, until it is back.
    pub fn repair_path(&self) -> PathBuf {
        self.root.join("repair.json")
    }

    /// The files a backup copies besides the listings: keys, certificate,
    /// token, config and the operator's lists, as names in the directory.
    pub const BACKED_UP: [&'static str; 12] = [
        "node.key",
        "member.key",
        "member.cert",
        "operator.token",
        "config.toml",
        "members.json",
        "blocks.json",
        "trusted.json",
        "revocations.json",
        // The node's signed vouches (its own are its word to the web).
        "vouches.json",
        // The operator's reply keys with their secrets (reports sealed to
        // them open only with these), and their agreement choices.
        "reply-keys.json",
        "agreements.json",
    ];
    pub fn index_path(&self) -> PathBuf {
        self.root.join("index")
    }
    /// Present while a node runs; left behind by a crash, so that the next
    /// start knows the search index may lag the store.
    pub fn index_dirty_path(&self) -> PathBuf {
        self.root.join("index.dirty")
    }

    /// True when the node key exists.
    pub fn is_initialised(&self) -> bool {
        self.node_key_path().exists()
    }

    /// Creates the directory (mode 0700) if needed.
    pub fn create(&self) -> Result<(), DataDirError> {
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        set_mode(&self.root, 0o700)
    }

    /// Loads the key at `path`, or creates one from fresh randomness if the
    /// file does not exist. Returns the key and whether it was created.
    pub fn load_or_create_key(&self, path: &Path) -> Result<(SigningKey, bool), DataDirError> {
        if path.exists() {
            return Ok((read_key(path)?, false));
        }
        let seed = random_bytes::<32>()?;
        write_secret(path, hex::encode(seed).as_bytes())?;
        Ok((keys::from_seed(seed), true))
    }

    pub fn node_key(&self) -> Result<SigningKey, DataDirError> {
        self.require(&self.node_key_path())?;
        read_key(&self.node_key_path())
    }

    pub fn member_key(&self) -> Result<SigningKey, DataDirError> {
        self.require(&self.member_key_path())?;
        read_key(&self.member_key_path())
    }

    pub fn node_id(&self) -> Result<NodeId, DataDirError> {
        Ok(keys::node_id(&self.node_key()?))
    }

    pub fn member_id(&self) -> Result<MemberId, DataDirError> {
        Ok(keys::member_id(&self.member_key()?))
    }

    /// The member's certificate, if one was issued or fetched.
    pub fn certificate(&self) -> Result<Option<Certificate>, DataDirError> {
        let path = self.certificate_path();
        if !path.exists() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let bytes =
            hex::decode(text.trim()).map_err(|_| DataDirError::BadCertificate(path.clone()))?;
        Certificate::from_bytes(&bytes)
            .map(Some)
            .map_err(|_| DataDirError::BadCertificate(path))
    }

    pub fn write_certificate(&self, cert: &Certificate) -> Result<(), DataDirError> {
        let path = self.certificate_path();
        let bytes = cert
            .to_bytes()
            .map_err(|_| DataDirError::BadCertificate(path.clone()))?;
        write_secret(&path, hex::encode(bytes).as_bytes())
    }

    /// The operator token, creating it if missing.
    pub fn load_or_create_token(&self) -> Result<String, DataDirError> {
        let path = self.token_path();
        if path.exists() {
            return Ok(fs::read_to_string(&path)
                .map_err(io(&path))?
                .trim()
                .to_owned());
        }
        let token = hex::encode(random_bytes::<32>()?);
        write_secret(&path, token.as_bytes())?;
        Ok(token)
    }

    /// The operator token, if this data directory has one.
    pub fn token(&self) -> Option<String> {
        fs::read_to_string(self.token_path())
            .ok()
            .map(|t| t.trim().to_owned())
    }

    /// Records the running API's address for the CLI.
    pub fn write_api_addr(&self, addr: &str) -> Result<(), DataDirError> {
        let path = self.api_addr_path();
        let tmp = self.root.join("api.addr.tmp");
        fs::write(&tmp, addr).map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))
    }

    /// The running API's address as the node last recorded it.
    pub fn api_addr(&self) -> Option<String> {
        fs::read_to_string(self.api_addr_path())
            .ok()
            .map(|a| a.trim().to_owned())
    }

    pub fn remove_api_addr(&self) {
        let _ = fs::remove_file(self.api_addr_path());
    }

    fn require(&self, path: &Path) -> Result<(), DataDirError> {
        if path.exists() {
            Ok(())
        } else {
            Err(DataDirError::NotInitialised(self.root.clone()))
        }
    }
}

fn read_key(path: &Path) -> Result<SigningKey, DataDirError> {
    let text = fs::read_to_string(path).map_err(io(path))?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut seed)
        .map_err(|_| DataDirError::BadKey(path.to_owned()))?;
    Ok(keys::from_seed(seed))
}

/// Reads a JSON list kept in the data directory (blocks, trusted nodes,
/// members, revocations); a missing file is an empty list. Errors name the
/// file.
pub fn read_json_list<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, DataDirError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| DataDirError::BadJson {
            path: path.to_owned(),
            detail: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io(path)(e)),
    }
}

/// Writes such a list, atomically and readable by the owner only.
pub fn write_json_list<T: serde::Serialize>(path: &Path, list: &[T]) -> Result<(), DataDirError> {
    let json = serde_json::to_vec_pretty(list).map_err(|e| DataDirError::BadJson {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    write_secret(path, &json)
}

/// Writes a file readable by the owner only, atomically (temp file + rename).
pub fn write_secret(path: &Path, data: &[u8]) -> Result<(), DataDirError> {
    let tmp = path.with_extension("tmp");
    {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io(&tmp))?;
        f.write_all(data).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    set_mode(&tmp, 0o600)?;
    fs::rename(&tmp, path).map_err(io(path))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), DataDirError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io(path))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// `N` bytes from the operating system's random generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], DataDirError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| DataDirError::Random(e.to_string()))?;
    Ok(b)
}
