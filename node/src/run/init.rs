//! `buurt init`: keys, token, config and the operator's own certificate in
//! a data directory.

use buurt_protocol::keys;
use buurt_protocol::limits::DAY;
use buurt_protocol::{Certificate, Scope};

use super::RunError;
use crate::clock;
use crate::config::{Config, FileConfig, Overrides};
use crate::datadir::DataDir;

/// How long the operator's own certificate is valid when issued at `init`.
pub const OPERATOR_CERT_DAYS: i64 = 365;

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
    ensure_operator_certificate(dir, &config, clock::now())?;
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
