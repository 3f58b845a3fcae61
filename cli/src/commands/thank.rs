//! `buurt thank AGREEMENT TEXT` and `buurt member MEMBER`: a thanks signed
//! here with the member key, carrying the completion both members signed;
//! the home node publishes its pledge at once and the thanks when the other
//! member thanked too, or after 7 days. And a member's thanks as the node
//! counts them.

use anyhow::{anyhow, bail, Result};
use buurt_node::api::thanks::{ThankAnswer, ThankBody};
use buurt_node::clock::now;
use buurt_node::datadir::DataDir;
use buurt_node::thanks::Standing;
use buurt_protocol::agreement::Stage;
use buurt_protocol::thanks::{Said, Thanks, MAX_THANKS_BYTES};
use buurt_protocol::{keys, Certificate, MemberId};

use super::agree::{find, load};
use super::inbox::short;
use super::{client, print_json};
use crate::output;
use crate::Cli;

/// `buurt thank AGREEMENT TEXT`.
pub fn thank(cli: &Cli, dir: &DataDir, id: &str, text: &str) -> Result<()> {
    let (answer, other) = send_thanks(cli, dir, id, text)?;
    if cli.json {
        return print_json(&answer);
    }
    match &answer.reveal_at {
        Some(at) => println!(
            "Thanked {}: your node keeps it unseen until they thank you too, or until {at}.",
            short(&other.to_string())
        ),
        None => println!(
            "Thanked {}: both of you have, so both thanks are public now.",
            short(&other.to_string())
        ),
    }
    Ok(())
}

/// Signs a thanks for a completed agreement and hands it, with its pledge,
/// to the node: its answer, and the member thanked.
pub(super) fn send_thanks(
    cli: &Cli,
    dir: &DataDir,
    id: &str,
    text: &str,
) -> Result<(ThankAnswer, buurt_protocol::MemberId)> {
    let text = text.trim();
    if text.is_empty() {
        bail!("say what you thank them for");
    }
    if text.len() > MAX_THANKS_BYTES {
        bail!(
            "the thanks is {} bytes; at most {MAX_THANKS_BYTES} fit",
            text.len()
        );
    }
    let ctx = load(cli, dir)?;
    let (key, cert, all) = (&ctx.key, ctx.cert.clone(), &ctx.all);
    let me = keys::member_id(key);
    let a = find(&ctx.list, id)?;
    if a.stage != Stage::Completed {
        bail!(
            "agreement {} is {}: a thanks needs both of you to have confirmed it done",
            &a.id.to_hex()[..12],
            a.stage.as_str()
        );
    }
    let (proposer_sig, other_sig) = a
        .proof()
        .ok_or_else(|| anyhow!("the completion lacks a signature"))?;
    let other = if me == a.proposer {
        a.proposal.with
    } else {
        a.proposer
    };
    // Their certificate, from a letter they wrote.
    let thanked = all
        .iter()
        .filter(|o| o.from == other.to_string())
        .filter_map(|o| hex::decode(&o.certificate).ok())
        .filter_map(|b| Certificate::from_bytes(&b).ok())
        .find(|c| c.member == other)
        .ok_or_else(|| anyhow!("no letter from {other} carries their certificate yet"))?;
    let minutes = a.minutes.values().copied().max().unwrap_or(0);
    let signed = Thanks {
        thanker: cert,
        thanked,
        completion: a.completion(),
        proposer_sig,
        other_sig,
        at: now(),
        said: Said::Thanks {
            minutes,
            text: text.to_owned(),
        },
    }
    .sign(key)
    .map_err(|e| anyhow!("{e}"))?;
    let pledge = signed.pledge(key).map_err(|e| anyhow!("{e}"))?;
    let c = client(cli, dir)?;
    let answer: ThankAnswer = c.post(
        "/v1/thanks",
        &ThankBody {
            thanks: hex::encode(&signed.bytes),
            pledge: hex::encode(&pledge.bytes),
        },
    )?;
    Ok((answer, other))
}

/// `buurt member MEMBER`: a member's thanks, as this node counts them.
pub fn member(cli: &Cli, dir: &DataDir, id: &str) -> Result<()> {
    let m: MemberId = id
        .trim()
        .parse()
        .map_err(|e| anyhow!("`{id}` is not a member id (bm…): {e}"))?;
    let c = client(cli, dir)?;
    let s: Standing = c.get(&format!("/v1/members/{m}/thanks"), &[])?;
    if cli.json {
        return print_json(&s);
    }
    let hours = if s.minutes > 0 {
        format!(", {:.1} hours of help", s.minutes as f64 / 60.0)
    } else {
        String::new()
    };
    println!(
        "{m}: thanked by {} {}{hours}.",
        s.thanked_by,
        if s.thanked_by == 1 {
            "neighbour"
        } else {
            "neighbours"
        }
    );
    if s.thanks.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<String>> = s
        .thanks
        .iter()
        .map(|t| {
            vec![
                t.day.clone(),
                short(&t.from),
                t.group.clone(),
                if t.minutes > 0 {
                    format!("{:.1} h", t.minutes as f64 / 60.0)
                } else {
                    String::new()
                },
                if t.counted {
                    t.text.clone()
                } else {
                    format!("{} (not counted here)", t.text)
                },
            ]
        })
        .collect();
    println!();
    output::table(&["DAY", "FROM", "GROUP", "HOURS", "THANKS"], &rows);
    Ok(())
}
