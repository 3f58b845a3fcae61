//! `buurt init`: keys, token, config and the operator's own certificate in
//! a data directory.

use buurt_protocol::keys;
use buurt_protocol::limits::DAY;
use buurt_protocol::{Certificate, Scope};

use super::RunError;
use crate::clock;
use crate::config::{Config, FileConfig, Overrides};
use crate::datadir::DataDir;
use crate::store::Store;

/// How long the operator's own certificate is valid when issued at `init`.
pub const OPERATOR_CERT_DAYS: i64 = 365;

/// What `init` did.
#[derive(Debug)]
pub struct InitReport {
    pub created: bool,
    /// The scope it had, when this call changed it.
    pub previous_scope: Option<String>,
    pub scope: Scope,
    pub node_id: String,
    pub member_id: String,
}

/// Creates keys, token, config and the operator's certificate. Existing keys
/// are never overwritten. An existing config takes a new scope only while
/// its node holds no listing (a node started once with the placeholder
/// scope, say); the operator's certificate is issued again for it.
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
    let mut previous_scope = None;
    if let Some(s) = scope {
        if had_config && file.scope != s {
            refuse_scope_change(dir, &file.scope)?;
            previous_scope = Some(file.scope.clone());
        }
        file.scope = s.to_owned();
    }
    if let Some(n) = name {
        file.name = n.to_owned();
    }
    let config = Config::build(file.clone(), Overrides::default())?;
    if !had_config || name.is_some() || previous_scope.is_some() {
        crate::datadir::write_secret(&dir.config_path(), file.to_toml().as_bytes())?;
    }
    ensure_operator_certificate(dir, &config, clock::now())?;
    Ok(InitReport {
        created,
        previous_scope,
        scope: config.scope,
        node_id: keys::node_id(&node_key).to_string(),
        member_id: keys::member_id(&member_key).to_string(),
    })
}

/// Refuses to move a node to another scope once it holds listings, or
/// while it runs (its database is locked).
fn refuse_scope_change(dir: &DataDir, current: &str) -> Result<(), RunError> {
    if !dir.db_path().exists() {
        return Ok(());
    }
    let held = match crate::store::SledStore::open(&dir.db_path()) {
        Ok(store) => store.len()?,
        Err(crate::store::StoreError::Locked { .. }) => {
            return Err(RunError::Other(format!(
                "the node of {} is running: stop it (Ctrl-C, or `kill` its process), then run \
                 this again",
                dir.root().display()
            )))
        }
        Err(e) => return Err(e.into()),
    };
    if held > 0 {
        return Err(RunError::Other(format!(
            "{} already holds {held} listing(s) under scope {current}: a node for another \
             neighbourhood needs a data directory of its own (--data-dir DIR)",
            dir.root().display()
        )));
    }
    Ok(())
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
