//! Setting up and running a node: `init`, `node`, `reindex`, `follow` and
//! `unfollow`. `node/logging.rs` sets up the node's log.

mod logging;

mod notify;

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use buurt_node::api::dto::ReindexAnswer;
use buurt_node::clock::now;
use buurt_node::config::{Config, FileConfig, Overrides, DEFAULT_SCOPE};
use buurt_node::datadir::DataDir;
use buurt_node::moderation::Moderation;
use buurt_node::run::{self, Node, Parts};
use buurt_node::search::SearchIndex;
use buurt_node::store::SledStore;
use serde_json::json;

use super::{client, print_json};
use crate::{Cli, NetArgs, NodeArgs};

pub fn init(cli: &Cli, dir: &DataDir, scope: &str, name: Option<&str>) -> Result<()> {
    let scope = scope.trim().to_lowercase();
    let r = run::init(dir, Some(&scope), name)?;
    if cli.json {
        return print_json(&json!({
            "data_dir": dir.root(), "created": r.created, "scope": r.scope.to_string(),
            "previous_scope": r.previous_scope,
            "node_id": r.node_id, "member_id": r.member_id,
        }));
    }
    if r.created {
        println!("Initialised a buurt node in {}", dir.root().display());
    } else if let Some(old) = &r.previous_scope {
        println!(
            "{} moved from scope {old} to {} (it held no listings yet); keys kept",
            dir.root().display(),
            r.scope
        );
    } else {
        println!(
            "{} was already initialised; keys kept",
            dir.root().display()
        );
    }
    println!(
        "  scope   {}\n  node    {}\n  member  {}",
        r.scope, r.node_id, r.member_id
    );
    println!(
        "Start it with: buurt --data-dir {} node",
        dir.root().display()
    );
    Ok(())
}

/// What the flags of `buurt node` (and the global `--api`) override in
/// config.toml.
pub fn overrides(cli: &Cli, net: &NetArgs) -> Overrides {
    Overrides {
        api: cli.api.clone(),
        listen: net.listen.clone(),
        peers: net.peer.clone(),
        hubs: net.hub.clone(),
        serve_hub: net.serve_hub,
        no_mdns: net.no_mdns,
    }
}

pub fn node(cli: &Cli, dir: DataDir, args: &NodeArgs) -> Result<()> {
    let scope = args.scope.as_deref();
    let name = args.name.as_deref().map(str::trim);
    if !dir.is_initialised() {
        let chosen = scope.map(|s| s.trim().to_lowercase());
        let r = run::init(&dir, Some(chosen.as_deref().unwrap_or(DEFAULT_SCOPE)), name)?;
        eprintln!("Initialised a new buurt node in {}", dir.root().display());
        if chosen.is_none() {
            eprintln!(
                "  scope: {} (a placeholder; set your neighbourhood with `buurt node --scope nl/amsterdam/oost/dapperbuurt` on a new data directory, or edit `scope` in {})",
                r.scope,
                dir.config_path().display()
            );
        } else {
            eprintln!("  scope: {}", r.scope);
        }
    } else if scope.is_some() || name.is_some() {
        // Another scope for a node that holds nothing yet is taken; one that
        // holds listings is refused with the reason. A name is just kept.
        let s = scope.map(|s| s.trim().to_lowercase());
        let r = run::init(&dir, s.as_deref(), name)?;
        if let Some(old) = r.previous_scope {
            eprintln!(
                "Moved {} from scope {old} to {}",
                dir.root().display(),
                r.scope
            );
        }
    }
    let file = FileConfig::load(&dir.config_path())?;
    let config = Config::build(file, overrides(cli, &args.net))?;
    logging::init(args.log_format);
    raise_open_files();
    let scope = config.scope.clone();
    let node = Node::open(dir.clone(), config)?;
    let listings = node.parts.store.len()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let node_id = dir.node_id()?;
    let json = cli.json;
    rt.block_on(async move { node.serve(notify::stopping_after(run::shutdown_signal()), |addr| {
        tracing::info!("buurt node running: scope {scope}, {listings} listings, API http://{addr} (Ctrl-C stops it)");
        notify::ready(&format!("API http://{addr}, scope {scope}, {listings} listings"));
        // The operator's reply key, so that residents' reports (and replies)
        // can reach the operator from the first minute.
        let (d, a) = (dir.clone(), addr.to_owned());
        std::thread::spawn(move || {
            if let Err(e) = super::mail::publish_operator_key(&d, &a) {
                tracing::warn!("the operator's reply key could not be published: {e}");
            }
        });
        // The member's standing offers are renewed while the node runs.
        let (d, a) = (dir.clone(), addr.to_owned());
        std::thread::spawn(move || super::standing::renew_while_running(d, a));
        if json {
            // One line for scripts, once the API answers.
            println!(
                "{}",
                json!({
                    "api": addr, "node_id": node_id.to_string(), "scope": scope.to_string(),
                    "listings": listings, "data_dir": dir.root(),
                })
            );
        }
    }).await })?;
    tracing::info!("buurt node stopped");
    Ok(())
}

pub fn reindex(cli: &Cli, dir: DataDir) -> Result<()> {
    if dir.api_addr().is_some() {
        let c = client(cli, &dir)?;
        let mut bar =
            crate::progress::Progress::new("reindex by the running node", "listings", None);
        let r: ReindexAnswer = c.post("/v1/admin/reindex", &json!({}))?;
        bar.set(r.indexed as u64);
        bar.finish();
        return report_reindex(cli, r.indexed);
    }
    let file = FileConfig::load(&dir.config_path())?;
    let config = Config::build(file, Overrides::default())?;
    if !dir.is_initialised() {
        bail!(
            "{} is not initialised: nothing to reindex",
            dir.root().display()
        );
    }
    let config = Arc::new(config);
    let store = Arc::new(SledStore::open(&dir.db_path())?);
    let index = Arc::new(SearchIndex::open(&dir.index_path())?);
    let moderation = Arc::new(Moderation::open(&dir, config.clone(), &*store, now())?);
    let ingest = Parts::assemble(config, store, index, moderation, None, None, None).ingest;
    let mut bar = crate::progress::Progress::new("reindex", "listings", None);
    let n = ingest.reindex(&mut |done, total| {
        bar.set_len(total as u64);
        bar.set(done as u64);
    })?;
    bar.finish();
    let _ = std::fs::remove_file(dir.index_dirty_path());
    report_reindex(cli, n)
}

fn report_reindex(cli: &Cli, n: usize) -> Result<()> {
    if cli.json {
        return print_json(&ReindexAnswer { indexed: n });
    }
    println!("Search index rebuilt: {n} listings");
    Ok(())
}

/// Adds or removes a followed scope in `config.toml`.
pub fn follow(cli: &Cli, dir: &DataDir, scope: &str, add: bool) -> Result<()> {
    if !dir.is_initialised() {
        bail!(
            "{} is not initialised: run `buurt init --scope SCOPE` first",
            dir.root().display()
        );
    }
    let scope = scope.trim().to_lowercase();
    let mut file = FileConfig::load(&dir.config_path())?;
    let present = file.follow.contains(&scope);
    match (add, present) {
        (true, true) => bail!("already following {scope}"),
        (false, false) => {
            bail!("not following {scope} (`buurt status` shows what this node follows)")
        }
        (true, false) => file.follow.push(scope.clone()),
        (false, true) => file.follow.retain(|s| *s != scope),
    }
    // Validate before writing, so that a bad scope changes nothing.
    Config::build(file.clone(), Overrides::default())?;
    buurt_node::datadir::write_secret(&dir.config_path(), file.to_toml().as_bytes())?;
    let running = dir.api_addr().is_some();
    if cli.json {
        return print_json(&json!({ "follow": file.follow, "restart_needed": running }));
    }
    let verb = if add {
        "Following"
    } else {
        "No longer following"
    };
    println!("{verb} {scope}");
    if running {
        eprintln!("The running node takes this up when it restarts.");
    }
    Ok(())
}

/// Raises the soft limit of open files to the hard one: every API
/// connection and every peer holds a descriptor, and the usual soft limit
/// (1,024) is below the API's own cap on connections.
fn raise_open_files() {
    #[cfg(unix)]
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            let wanted = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) != 0 {
                tracing::debug!("could not raise the limit of open files");
            }
        }
    }
}
