//! The circles this device knows, in `circles.json` (mode 0600): each
//! circle's members, owner and every epoch's key.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context, Result};
use buurt_node::datadir::{write_secret, DataDir};
use buurt_protocol::circle::CircleKey;
use buurt_protocol::{MemberId, NodeId};
use serde::{Deserialize, Serialize};

/// One circle as this device knows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The circle id, hex.
    pub circle: String,
    pub name: String,
    pub owner: String,
    /// The newest epoch known.
    pub epoch: u32,
    /// Its members: member id and home node.
    pub members: Vec<(String, String)>,
    /// Every epoch's key, hex, so that older listings still open.
    pub keys: BTreeMap<u32, String>,
}

impl Entry {
    pub fn id(&self) -> Result<[u8; 16]> {
        let mut id = [0u8; 16];
        hex::decode_to_slice(&self.circle, &mut id)
            .map_err(|_| anyhow!("circles.json: bad circle id"))?;
        Ok(id)
    }

    pub fn members(&self) -> Result<Vec<(MemberId, NodeId)>> {
        self.members
            .iter()
            .map(|(m, n)| Ok((m.parse()?, n.parse()?)))
            .collect()
    }

    pub fn current(&self) -> Result<CircleKey> {
        let key = self
            .keys
            .get(&self.epoch)
            .ok_or_else(|| anyhow!("circles.json: no current key"))?;
        let mut k = [0u8; 32];
        hex::decode_to_slice(key, &mut k).map_err(|_| anyhow!("circles.json: bad key"))?;
        Ok(CircleKey {
            circle: self.id()?,
            epoch: self.epoch,
            key: k,
            name: self.name.clone(),
            owner: self.owner.parse()?,
            members: self.members()?,
        })
    }
}

fn path(dir: &DataDir) -> std::path::PathBuf {
    dir.root().join("circles.json")
}

pub fn load(dir: &DataDir) -> Result<Vec<Entry>> {
    match std::fs::read(path(dir)) {
        Ok(b) => serde_json::from_slice(&b).context("circles.json"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
        Err(e) => Err(e).context("circles.json"),
    }
}

pub fn save(dir: &DataDir, all: &[Entry]) -> Result<()> {
    write_secret(&path(dir), &serde_json::to_vec_pretty(all)?).context("circles.json")
}

/// A circle by name or id prefix.
pub fn find<'a>(all: &'a [Entry], what: &str) -> Result<&'a Entry> {
    let w = what.trim().to_lowercase();
    let hits: Vec<&Entry> = all
        .iter()
        .filter(|e| e.name.to_lowercase() == w || (w.len() >= 4 && e.circle.starts_with(&w)))
        .collect();
    match hits.as_slice() {
        [one] => Ok(one),
        [] => bail!("no circle `{what}` on this device (`buurt circle list`)"),
        _ => bail!("`{what}` names {} circles: give more of the id", hits.len()),
    }
}
