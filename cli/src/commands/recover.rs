//! Recovering a data directory: `check`, `repair`, `backup` and `restore`.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use buurt_node::api::dto::{BackupAnswer, BackupAsk};
use buurt_node::clock::now;
use buurt_node::config::{Config, FileConfig, Overrides};
use buurt_node::datadir::DataDir;
use buurt_node::ingest::Ingest;
use buurt_node::moderation::{Members, Moderation};
use buurt_node::recover::{backup as b, check as c, repair as r};
use buurt_node::search::SearchIndex;
use buurt_node::store::{SledStore, StoreError};
use buurt_protocol::MemberId;

use super::{client, print_json};
use crate::Cli;

/// Refuses to go on while the node of `dir` runs (its database is locked).
fn stopped(dir: &DataDir, what: &str) -> Result<()> {
    if !dir.is_initialised() {
        bail!(
            "{} is not initialised: nothing to {what}",
            dir.root().display()
        );
    }
    if dir.api_addr().is_some() {
        // A file left by a crash is no proof: the database lock tells.
        match SledStore::open_with(&dir.db_path(), buurt_node::store::sled::OnLoss::Open) {
            Err(StoreError::Locked { .. }) => bail!(
                "the node of {} is running: stop it first (Ctrl-C, or `kill` its process)",
                dir.root().display()
            ),
            _ => dir.remove_api_addr(),
        }
    }
    Ok(())
}

/// This node's members: the operator and everyone in `members.json`.
fn own_members(dir: &DataDir) -> Result<BTreeSet<MemberId>> {
    let mut own: BTreeSet<MemberId> = Members::load(dir.members_path(), dir.node_key()?)?
        .list()
        .iter()
        .filter_map(|m| m.member_id.parse().ok())
        .collect();
    own.insert(dir.member_id()?);
    Ok(own)
}

pub fn check(cli: &Cli, dir: &DataDir) -> Result<()> {
    stopped(dir, "check")?;
    let report = c::check(dir)?;
    if cli.json {
        print_json(&report)?;
    } else {
        println!("records         {}", report.records);
        match report.lost_per_watermark {
            Some(held) => println!(
                "watermark       LOST: the database held {held} listings it had acknowledged"
            ),
            None if report.watermark => println!("watermark       whole"),
            None => println!("watermark       none yet (it is written at the next flush)"),
        }
        println!("undecodable     {}", report.undecodable.len());
        for (id, why) in report.undecodable.iter().take(10) {
            println!("  {id}  {why}");
        }
        if report.index_readable {
            println!(
                "search index    {} only in the index, {} not in the index",
                report.only_in_index.len(),
                report.only_in_store.len()
            );
        } else {
            println!("search index    unreadable (rebuilt at the next start)");
        }
        if let Some(n) = report.repair_missing {
            println!("repair          {n} lost listings still missing");
        }
        if report.is_whole() {
            println!("All is whole.");
        }
    }
    if !report.is_whole() {
        bail!(
            "{} is not whole: `buurt repair` keeps what is intact and lists what is missing",
            dir.root().display()
        );
    }
    Ok(())
}

pub fn repair(cli: &Cli, dir: &DataDir) -> Result<()> {
    stopped(dir, "repair")?;
    let mut bar = crate::progress::Progress::new("repair", "listings", None);
    let report = r::repair(dir, &own_members(dir)?, &mut |step, done, total| {
        bar.note(step);
        bar.set_len(total as u64);
        bar.set(done as u64);
    })?;
    bar.finish();
    if cli.json {
        return print_json(&report);
    }
    println!(
        "Kept {} listings{}.",
        report.kept,
        match report.removed_undecodable {
            0 => String::new(),
            n => format!("; removed {n} that did not decode"),
        }
    );
    if report.missing == 0 {
        println!("Nothing is missing that the search index knew of.");
    } else {
        println!(
            "{} listings are missing ({} by this node's own members). Start the node with its \
             peers: catch-up sync fetches what they hold, and `buurt status` shows what is \
             still missing (listings no peer holds come back only from a backup).",
            report.missing, report.missing_own
        );
    }
    Ok(())
}

pub fn backup(cli: &Cli, dir: &DataDir, to: &Path) -> Result<()> {
    let to = std::path::absolute(to).context("the backup folder")?;
    let manifest = if dir.api_addr().is_some() {
        let c = client(cli, dir)?;
        let ask = BackupAsk {
            dir: to.display().to_string(),
        };
        let mut bar =
            crate::progress::Progress::new("backup by the running node", "listings", None);
        let m: BackupAnswer = c.post("/v1/admin/backup", &ask)?;
        bar.set(m.listings as u64);
        bar.finish();
        m
    } else {
        if !dir.is_initialised() {
            bail!(
                "{} is not initialised: nothing to back up",
                dir.root().display()
            );
        }
        let store = SledStore::open(&dir.db_path())?;
        let direct = |f: &mut dyn FnMut()| f();
        let mut bar = crate::progress::Progress::new(
            "backup",
            "listings",
            Some(buurt_node::store::Store::len(&store)? as u64),
        );
        let m = b::write(dir, &store, &direct, &to, &mut |n| bar.set(n as u64))?;
        bar.finish();
        store.close_clean()?;
        m
    };
    if cli.json {
        return print_json(&manifest);
    }
    println!(
        "Backed up {} listings and {} files to {}",
        manifest.listings,
        manifest.files.len(),
        to.display()
    );
    Ok(())
}

pub fn restore(cli: &Cli, dir: &DataDir, from: &Path) -> Result<()> {
    let manifest = b::verify(from)?;
    let files = b::restore_files(from, dir)?;
    let config = Arc::new(Config::build(
        FileConfig::load(&dir.config_path())?,
        Overrides::default(),
    )?);
    let store = Arc::new(SledStore::open(&dir.db_path())?);
    let _ = std::fs::remove_dir_all(dir.index_path());
    let index = Arc::new(SearchIndex::open(&dir.index_path())?);
    let moderation = Arc::new(Moderation::open(dir, config.clone(), &*store, now())?);
    let ingest = Arc::new(Ingest::new(
        store.clone(),
        index,
        &config,
        moderation,
        None,
        None,
    ));
    let mut bar =
        crate::progress::Progress::new("restore", "listings", Some(manifest.listings as u64));
    let mut restored =
        b::restore_listings(from, &ingest, manifest.listings, now(), &mut |done, _| {
            bar.set(done as u64)
        })?;
    bar.finish();
    restored.files = files;
    ingest.close()?;
    if cli.json {
        return print_json(&restored);
    }
    println!(
        "Restored {} of {} listings into {} ({} files)",
        restored.stored,
        restored.listings,
        dir.root().display(),
        restored.files.len()
    );
    for (why, n) in &restored.refused {
        println!("  {n} refused: {why}");
    }
    println!(
        "Start it with: buurt --data-dir {} node",
        dir.root().display()
    );
    Ok(())
}
