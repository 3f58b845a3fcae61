//! What each subcommand does, by audience: [`node`] (setting up and
//! running a node), [`config`] (checking and showing its configuration),
//! [`manual`] (completions and the manual page), [`post`] (a resident's
//! own listings), [`mail`] (replies: `reply`, `inbox`, `thread`),
//! [`query`] (finding listings and seeing the node's state) and [`admin`]
//! (the operator's moderation). This file holds what they share: the data
//! directory, the client for the running node, and the member's key and
//! certificate.

mod admin;
mod agree;
mod agreements;
mod circle;
mod config;
mod impact;
mod inbox;
mod mail;
mod manual;
mod node;
mod photos;
mod post;
mod query;
mod recover;
mod reports;
mod standing;
mod thank;
mod ui;
mod watch;

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use buurt_node::api::dto::Member;
use buurt_node::clock::{now, rfc3339};
use buurt_node::datadir::DataDir;
use buurt_protocol::{keys, Kind};

use crate::client::Client;
use crate::output;
use crate::{Cli, Command};

/// The data directory: `--data-dir`, else `$BUURT_DIR`, else the platform's.
fn data_dir(cli: &Cli) -> Result<DataDir> {
    if let Some(d) = &cli.data_dir {
        return Ok(DataDir::new(d));
    }
    if let Some(d) = std::env::var_os("BUURT_DIR").filter(|d| !d.is_empty()) {
        return Ok(DataDir::new(PathBuf::from(d)));
    }
    let base = dirs::data_dir()
        .ok_or_else(|| anyhow!("no data directory known on this system: give --data-dir"))?;
    Ok(DataDir::new(base.join("buurt")))
}

pub(crate) fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub fn run(cli: Cli) -> Result<()> {
    // What needs no data directory.
    match &cli.command {
        Command::Completions { shell } => return manual::completions(*shell),
        Command::Man { dir, into } => return manual::man(dir.as_deref().or(into.as_deref())),
        _ => {}
    }
    let dir = data_dir(&cli)?;
    match &cli.command {
        Command::Init { scope, name } => node::init(&cli, &dir, scope, name.as_deref()),
        Command::Node(a) => node::node(&cli, dir, a),
        Command::Config { action } => config::run(&cli, &dir, action),
        Command::Completions { .. } | Command::Man { .. } => Ok(()),
        Command::Offer(a) => post::post_new(&cli, &dir, Kind::Offer, a),
        Command::Request(a) => post::post_new(&cli, &dir, Kind::Request, a),
        Command::Search(a) => query::search(&cli, &dir, a),
        Command::Show { id, photo } => query::show(&cli, &dir, id, photo.as_deref()),
        Command::Ui { port, open } => ui::run(&cli, &dir, *port, *open),
        Command::Renew { id } => standing::renew(&cli, &dir, id.as_deref()),
        Command::Pause { id } => standing::pause(&cli, &dir, id, true),
        Command::Resume { id } => standing::pause(&cli, &dir, id, false),
        Command::Mine => query::mine(&cli, &dir),
        Command::Update(a) => post::update(&cli, &dir, a),
        Command::Withdraw { id } => post::withdraw(&cli, &dir, id),
        Command::Status => query::status(&cli, &dir),
        Command::Peers => query::peers(&cli, &dir),
        Command::Sync { peer, no_wait } => query::sync(&cli, &dir, peer.as_deref(), !no_wait),
        Command::Id => query::id(&cli, &dir),
        Command::Reindex => node::reindex(&cli, dir),
        Command::Check => recover::check(&cli, &dir),
        Command::Repair => recover::repair(&cli, &dir),
        Command::Backup { dir: to } => recover::backup(&cli, &dir, to),
        Command::Restore { dir: from } => recover::restore(&cli, &dir, from),
        Command::Block { target, reason } => admin::block(&cli, &dir, target, reason),
        Command::Unblock { target } => admin::unblock(&cli, &dir, target),
        Command::Blocks => admin::blocks(&cli, &dir),
        Command::Trust { node_id, note } => {
            admin::trust(&cli, &dir, node_id, note.as_deref(), true)
        }
        Command::Untrust { node_id } => admin::trust(&cli, &dir, node_id, None, false),
        Command::Trusted => admin::trusted(&cli, &dir),
        Command::Admit {
            member_id,
            name,
            scope,
            valid,
            broker,
        } => admin::admit(
            &cli,
            &dir,
            member_id,
            name,
            scope.as_deref(),
            valid,
            *broker,
        ),
        Command::Broker { action } => admin::broker(&cli, &dir, action),
        Command::Circle { action } => circle::run(&cli, &dir, action),
        Command::Members => admin::members(&cli, &dir),
        Command::Impact(a) => impact::impact(&cli, &dir, a),
        Command::Mailboxes => admin::mailboxes(&cli, &dir),
        Command::Revoke { member_id } => admin::revoke(&cli, &dir, member_id),
        Command::Topics => query::topics(&cli),
        Command::Reply { id, text } => mail::reply(&cli, &dir, id, text),
        Command::Inbox => inbox::inbox(&cli, &dir),
        Command::Report { id, reason, note } => reports::report(&cli, &dir, id, reason, note),
        Command::Reports => reports::reports(&cli, &dir),
        Command::Thread { id } => inbox::thread(&cli, &dir, id),
        Command::Mail { id } => mail::mail_state(&cli, &dir, id),
        Command::Propose(a) => agree::propose(&cli, &dir, &a.id, a),
        Command::Agreements { all } => agreements::list(&cli, &dir, *all),
        Command::Accept {
            agreement,
            keep_open,
        } => agree::step(
            &cli,
            &dir,
            agreement,
            agree::Step::Accept {
                keep_open: *keep_open,
            },
        ),
        Command::Decline { agreement } => agree::step(&cli, &dir, agreement, agree::Step::Decline),
        Command::Cancel { agreement } => agree::step(&cli, &dir, agreement, agree::Step::Cancel),
        Command::Handover { agreement } => {
            agree::step(&cli, &dir, agreement, agree::Step::Handover)
        }
        Command::Return { agreement } => agree::step(&cli, &dir, agreement, agree::Step::Return),
        Command::Done { agreement, hours } => agree::step(
            &cli,
            &dir,
            agreement,
            agree::Step::Done {
                hours: hours.clone(),
            },
        ),
        Command::Problem { agreement, note } => agree::step(
            &cli,
            &dir,
            agreement,
            agree::Step::Problem { note: note.clone() },
        ),
        Command::Thank { agreement, text } => thank::thank(&cli, &dir, agreement, text),
        Command::Member { member_id } => thank::member(&cli, &dir, member_id),
        Command::Watch { action } => match action {
            crate::WatchAction::Add {
                text,
                topic,
                kind,
                near,
            } => watch::add(&cli, &dir, text, topic.clone(), kind.clone(), near.clone()),
            crate::WatchAction::List => watch::list(&cli, &dir),
            crate::WatchAction::Remove { id } => watch::remove(&cli, &dir, *id),
        },
        Command::Notifications { all } => watch::notifications(&cli, &dir, *all),
        Command::Follow { scope } => node::follow(&cli, &dir, scope, true),
        Command::Unfollow { scope } => node::follow(&cli, &dir, scope, false),
    }
}

/// A client for the node this CLI talks to.
pub(crate) fn client(cli: &Cli, dir: &DataDir) -> Result<Client> {
    let explicit = cli
        .api
        .clone()
        .or_else(|| std::env::var("BUURT_API").ok().filter(|a| !a.is_empty()));
    let token = dir.token();
    if let Some(api) = explicit {
        return Ok(Client::new(
            &api,
            token,
            "is `buurt node` running there?".into(),
        ));
    }
    let hint = format!(
        "start one with `buurt --data-dir {} node`",
        dir.root().display()
    );
    match dir.api_addr() {
        Some(addr) => Ok(Client::new(
            &addr,
            token,
            format!("it seems to have stopped; {hint}"),
        )),
        None => bail!(
            "no node is running for {}: {hint} (or give --api)",
            dir.root().display()
        ),
    }
}

/// The member key and certificate, with a clear message when either is
/// missing. A resident without a certificate fetches it from the node on
/// first use (the operator ran `buurt admit`) and keeps it.
pub(crate) fn member(
    cli: &Cli,
    dir: &DataDir,
) -> Result<(keys::SigningKey, buurt_protocol::Certificate)> {
    if !dir.member_key_path().exists() {
        bail!(
            "{} has no member key: run `buurt init --scope SCOPE` for a node, or `buurt id` to make a key",
            dir.root().display()
        );
    }
    let key = dir.member_key()?;
    if let Some(cert) = dir.certificate()? {
        if cert.not_after > now() {
            return Ok((key, cert));
        }
    }
    let me = keys::member_id(&key);
    let c = client(cli, dir)?;
    let m: Member = c.get(&format!("/v1/members/{me}/certificate"), &[])?;
    let cert = hex::decode(&m.certificate)
        .ok()
        .and_then(|b| buurt_protocol::Certificate::from_bytes(&b).ok())
        .ok_or_else(|| anyhow!("the node sent a certificate that does not decode"))?;
    if cert.member != me || cert.verify_signature().is_err() {
        bail!("the node sent a certificate that is not yours or not validly signed");
    }
    dir.write_certificate(&cert)?;
    eprintln!(
        "Fetched your membership certificate from node {} ({}, until {}).",
        cert.node,
        cert.scope,
        output::date(&rfc3339(cert.not_after))
    );
    Ok((key, cert))
}
