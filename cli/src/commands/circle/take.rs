//! Taking in circle letters on the member's device: keys from a circle's
//! owner, and the circle listings that open, validate and come from a
//! member of their epoch.

use std::collections::BTreeMap;

use anyhow::Result;
use buurt_node::clock::now;
use buurt_node::datadir::DataDir;
use buurt_protocol::circle::{self, CircleKey};
use buurt_protocol::{keys, validate, Limits, ListingId, MemberId, SignedListing};

use super::store::{load, save, Entry};
use crate::commands::mail::sync;
use crate::letters::Opened;
use crate::Cli;

/// Fetches the member's mail and takes in the circle letters: keys (from
/// the circle's owner only) into `circles.json`, and the circle listings
/// that open, validate and come from a member of their epoch.
pub fn refresh(cli: &Cli, dir: &DataDir) -> Result<(Vec<Entry>, Vec<SignedListing>)> {
    let (key, _, letters, _, _) = sync(cli, dir)?;
    let me = keys::member_id(&key);
    let mut all = load(dir)?;
    let mut changed = false;
    let mut epochs: BTreeMap<([u8; 16], u32), CircleKey> = BTreeMap::new();
    let mut by_time: Vec<&Opened> = letters.iter().collect();
    by_time.sort_by_key(|o| (o.created_at, o.seq));
    for o in &by_time {
        let Some(Ok(k)) = CircleKey::from_letter(&o.text) else {
            continue;
        };
        if o.from != k.owner.to_string() || !k.has(&me) {
            continue;
        }
        let id = hex::encode(k.circle);
        match all.iter_mut().find(|e| e.circle == id) {
            Some(e) if e.owner != k.owner.to_string() => continue,
            Some(e) => {
                changed |= e.keys.insert(k.epoch, hex::encode(k.key)).is_none();
                if k.epoch >= e.epoch {
                    e.epoch = k.epoch;
                    e.name = k.name.clone();
                    e.members = k
                        .members
                        .iter()
                        .map(|(m, n)| (m.to_string(), n.to_string()))
                        .collect();
                }
            }
            None => {
                changed = true;
                all.push(Entry {
                    circle: id,
                    name: k.name.clone(),
                    owner: k.owner.to_string(),
                    epoch: k.epoch,
                    members: k
                        .members
                        .iter()
                        .map(|(m, n)| (m.to_string(), n.to_string()))
                        .collect(),
                    keys: BTreeMap::from([(k.epoch, hex::encode(k.key))]),
                });
            }
        }
        epochs.insert((k.circle, k.epoch), k);
    }
    if changed {
        save(dir, &all)?;
    }
    // This device's own circles: every epoch's members are in the entry's
    // newest list only, so an older epoch is taken as the union since.
    let key_of = |c: &[u8; 16], e: u32| {
        let entry = all.iter().find(|x| x.circle == hex::encode(c))?;
        let mut k = [0u8; 32];
        hex::decode_to_slice(entry.keys.get(&e)?, &mut k).ok()?;
        Some(k)
    };
    let member_of = |c: &[u8; 16], e: u32, m: &MemberId| match epochs.get(&(*c, e)) {
        Some(k) => k.has(m),
        None => all
            .iter()
            .find(|x| x.circle == hex::encode(c))
            .is_some_and(|x| x.members.iter().any(|(y, _)| *y == m.to_string())),
    };
    let t = now();
    let mut found: BTreeMap<ListingId, SignedListing> = BTreeMap::new();
    for o in &by_time {
        let Some(sealed) = circle::listing_from_letter(&o.text) else {
            continue;
        };
        let Some((c, e)) = circle::sealed_for(&sealed) else {
            continue;
        };
        let Ok(bytes) = circle::open(&sealed, key_of) else {
            continue;
        };
        let Ok(l) = validate(&bytes, t, &Limits::default()) else {
            continue;
        };
        if l.listing.extras.circle != Some(c)
            || !member_of(&c, e, &l.listing.author)
            || o.from != l.listing.author.to_string()
        {
            continue;
        }
        let newer = found
            .get(&l.listing_id())
            .is_none_or(|old| buurt_protocol::revision::supersedes(&l, old));
        if newer {
            found.insert(l.listing_id(), l);
        }
    }
    Ok((all, found.into_values().collect()))
}
