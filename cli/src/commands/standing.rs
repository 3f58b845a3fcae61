//! Standing offers: `renew` (a new revision with a fresh expiry, before
//! the old one lapses; `buurt node` runs it by itself) and `pause` /
//! `resume`.

use anyhow::{anyhow, bail, Context, Result};
use buurt_node::api::dto::ListingView;
use buurt_node::clock::now;
use buurt_node::datadir::DataDir;
use buurt_protocol::limits::DAY;
use buurt_protocol::{Listing, Status};
use serde::Serialize;

use super::post::{fetch, own_next, sign_and_post};
use super::{client, print_json};
use crate::Cli;

/// A standing offer is renewed when less than this is left of it (or
/// less than half its life, for a short one).
const RENEW_BEFORE: i64 = 7 * DAY;

/// One renewal, as `--json` shows it.
#[derive(Debug, Serialize)]
pub struct Renewed {
    pub id: String,
    pub title: String,
    pub expires_at: String,
}

/// True when `l`, a standing offer running, is due for renewal at `t`.
fn due(l: &Listing, t: i64) -> bool {
    let Some(every) = l.extras.every else {
        return false;
    };
    let life = l.expires_at - l.created_at;
    !every.paused
        && matches!(l.status, Status::Open | Status::Reserved)
        && l.expires_at > t
        && l.expires_at - t < RENEW_BEFORE.min(life / 2)
}

/// Renews one listing: the same content, signed again now, running as long
/// as it ran before.
fn renew_one(cli: &Cli, dir: &DataDir, id: &str) -> Result<Renewed> {
    let (key, old, mut next, t) = own_next(cli, dir, id)?;
    if !matches!(old.status, Status::Open | Status::Reserved) {
        bail!(
            "listing {} is {}; only an open or reserved listing is renewed",
            old.listing_id(),
            old.status
        );
    }
    let life = (old.expires_at - old.created_at).clamp(DAY, 90 * DAY);
    next.expires_at = t + life;
    let answer = sign_and_post(cli, dir, &key, next.clone())?;
    Ok(Renewed {
        id: answer.id,
        title: next.title,
        expires_at: buurt_node::clock::rfc3339(next.expires_at),
    })
}

/// The member's standing offers that are due, renewed. Used by `buurt
/// renew` and, quietly, by `buurt node`.
pub fn renew_due(cli: &Cli, dir: &DataDir) -> Result<Vec<Renewed>> {
    let me = dir.member_id().context("reading your member key")?;
    let c = client(cli, dir)?;
    let mine: Vec<ListingView> = c.get(&format!("/v1/members/{me}/listings"), &[])?;
    let t = now();
    let mut out = Vec::new();
    for v in mine
        .iter()
        .filter(|v| v.every.as_ref().is_some_and(|e| !e.paused))
    {
        let (_, signed) = fetch(&c, &v.id)?;
        if due(&signed.listing, t) {
            out.push(renew_one(cli, dir, &v.id)?);
        }
    }
    Ok(out)
}

/// How often `buurt node` looks for standing offers to renew.
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(3_600);

/// Renews the data directory's member's standing offers at the start and
/// then every hour, for as long as the node runs (on a thread of its own).
pub fn renew_while_running(dir: DataDir, api: String) {
    if dir.member_id().is_err() {
        return;
    }
    let cli = Cli {
        data_dir: Some(dir.root().to_owned()),
        json: false,
        api: Some(api),
        command: crate::Command::Renew { id: None },
    };
    loop {
        match renew_due(&cli, &dir) {
            Ok(renewed) => {
                for r in renewed {
                    tracing::info!(
                        "renewed the standing offer {} ({}) until {}",
                        &r.id[..12],
                        r.title,
                        r.expires_at
                    );
                }
            }
            Err(e) => tracing::warn!("renewing standing offers: {e}"),
        }
        std::thread::sleep(RENEW_EVERY);
    }
}

pub fn renew(cli: &Cli, dir: &DataDir, id: Option<&str>) -> Result<()> {
    let renewed = match id {
        Some(id) => vec![renew_one(cli, dir, id)?],
        None => renew_due(cli, dir)?,
    };
    if cli.json {
        return print_json(&renewed);
    }
    if renewed.is_empty() {
        println!("Nothing to renew: no standing offer of yours expires within a week.");
    }
    for r in &renewed {
        println!(
            "Renewed {} ({}) until {}",
            &r.id[..12],
            r.title,
            crate::output::when(&r.expires_at)
        );
    }
    Ok(())
}

pub fn pause(cli: &Cli, dir: &DataDir, id: &str, paused: bool) -> Result<()> {
    let (key, old, mut next, _) = own_next(cli, dir, id)?;
    let every = next.extras.every.as_mut().ok_or_else(|| {
        anyhow!(
            "listing {} is not a standing offer (--every)",
            old.listing_id()
        )
    })?;
    if every.paused == paused {
        bail!(
            "listing {} is {} already",
            old.listing_id(),
            if paused { "paused" } else { "running" }
        );
    }
    every.paused = paused;
    let answer = sign_and_post(cli, dir, &key, next)?;
    if cli.json {
        return print_json(&answer);
    }
    if paused {
        println!(
            "Paused {}: search does not find it and it is not renewed until `buurt resume {}`.",
            &answer.id[..12],
            &answer.id[..12]
        );
    } else {
        println!(
            "Resumed {}: found by search again, and renewed before it expires.",
            &answer.id[..12]
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use buurt_protocol::sample::{Identity, T0};
    use buurt_protocol::{Period, Recurrence};

    #[test]
    fn renewed_in_the_last_week_or_the_last_half_of_a_short_life() {
        let mut l = Identity::fixed().offer([1; 16], "Stamppot", T0);
        l.expires_at = T0 + 30 * DAY;
        assert!(!due(&l, T0 + 29 * DAY), "not a standing offer");
        l.extras.every = Some(Recurrence {
            period: Period::Week,
            first: 0,
            paused: false,
        });
        assert!(!due(&l, T0 + 22 * DAY));
        assert!(due(&l, T0 + 24 * DAY));
        assert!(!due(&l, T0 + 30 * DAY), "expired: gone");
        l.expires_at = T0 + 7 * DAY;
        assert!(!due(&l, T0 + 3 * DAY));
        assert!(due(&l, T0 + 4 * DAY));
        l.extras.every = l.extras.every.map(|e| Recurrence { paused: true, ..e });
        assert!(!due(&l, T0 + 4 * DAY));
    }
}
