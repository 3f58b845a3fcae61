//! The operator's moderation: `block`, `unblock`, `blocks`, `admit`,
//! `members`, `revoke`, `trust`, `untrust` and `trusted`. Each needs the
//! operator token from the data directory.

use anyhow::{anyhow, bail, Result};
use buurt_node::api::dto::{
    AdmitAsk, Block, BlockAnswer, BlockAsk, Member, RevokeAnswer, TrustAnswer, TrustAsk,
    TrustedList, UnblockAnswer, UntrustAnswer,
};
use buurt_node::datadir::DataDir;
use buurt_node::moderation::Target;
use serde_json::json;

use super::{client, print_json};
use crate::output;
use crate::Cli;

pub fn block(cli: &Cli, dir: &DataDir, target: &str, reason: &str) -> Result<()> {
    let t = Target::parse(target)?;
    // A member blocked is also kept out of this resident's mail, on this
    // device; a resident who is not the operator blocks mail only.
    if let Target::Member(m) = t {
        let new = super::mail::block_member(dir, &m)?;
        if dir.token().is_none() {
            if cli.json {
                return print_json(
                    &json!({"target": m.to_string(), "kind": "member", "mail": true, "new": new}),
                );
            }
            println!("Blocked {m} from writing to you: letters from them are dropped unread on this device.");
            return Ok(());
        }
    }
    let c = client(cli, dir)?;
    let ask = BlockAsk {
        target: target.trim().to_owned(),
        reason: reason.to_owned(),
    };
    let r: BlockAnswer = c.post("/v1/admin/blocks", &ask)?;
    if cli.json {
        return print_json(&r);
    }
    if r.new {
        println!(
            "Blocked {} {}: {} listing(s) removed; new ones are refused{}.",
            r.kind,
            r.target,
            r.removed,
            if r.kind == "node" {
                ", and so is mail it sends"
            } else {
                "; letters from them are dropped unread on this device"
            }
        );
    } else {
        println!(
            "{} was already blocked ({} listing(s) removed now).",
            r.target, r.removed
        );
    }
    Ok(())
}

pub fn unblock(cli: &Cli, dir: &DataDir, target: &str) -> Result<()> {
    let t = Target::parse(target)?;
    let c = client(cli, dir)?;
    let r: UnblockAnswer = c.delete(&format!("/v1/admin/blocks/{}", t.text()))?;
    if cli.json {
        return print_json(&r);
    }
    println!(
        "Unblocked {}: new listings are accepted again; removed ones return when they are sent again.",
        t.text()
    );
    Ok(())
}

pub fn blocks(cli: &Cli, dir: &DataDir) -> Result<()> {
    let c = client(cli, dir)?;
    let list: Vec<Block> = c.get("/v1/admin/blocks", &[])?;
    if cli.json {
        return print_json(&list);
    }
    if list.is_empty() {
        println!("No blocks.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .into_iter()
        .map(|b| vec![b.target, b.kind, b.since, b.reason])
        .collect();
    output::table(&["TARGET", "KIND", "SINCE", "REASON"], &rows);
    Ok(())
}

/// A membership validity: a number and d, w or y (90d, 52w, 1y).
fn parse_validity(text: &str) -> Result<i64> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| anyhow!("`{text}` is not a validity: use a number and d, w or y (90d, 1y)"))?;
    let day = 86_400;
    let unit = match unit {
        "d" => day,
        "w" => 7 * day,
        "y" => 365 * day,
        _ => bail!("`{text}` is not a validity: use a number and d, w or y (90d, 1y)"),
    };
    n.checked_mul(unit)
        .filter(|s| (day..=5 * 365 * day).contains(s))
        .ok_or_else(|| anyhow!("`{text}`: a membership is valid between one day and five years"))
}

pub fn admit(
    cli: &Cli,
    dir: &DataDir,
    member_id: &str,
    name: &str,
    scope: Option<&str>,
    valid: &str,
    broker: bool,
) -> Result<()> {
    let member: buurt_protocol::MemberId = member_id.trim().parse()?;
    admissible(&member)?;
    let valid_secs = parse_validity(valid)?;
    let c = client(cli, dir)?;
    let ask = AdmitAsk {
        member_id: member.to_string(),
        name: name.to_owned(),
        scope: scope.map(str::to_owned),
        valid_secs: Some(valid_secs),
        broker,
    };
    let m: Member = c.post("/v1/admin/members", &ask)?;
    if cli.json {
        return print_json(&m);
    }
    println!(
        "Admitted {member} to {} until {}. Their `buurt` fetches the certificate from this node on first use.",
        m.scope,
        output::date(&m.not_after)
    );
    Ok(())
}

/// Refuses, before asking the node (which refuses them too), a member key
/// that is not a point of the curve or is of small order: anyone can forge
/// a weak key's signatures, and every node refuses its listings.
fn admissible(member: &buurt_protocol::MemberId) -> Result<()> {
    let key = member.verifying_key().map_err(|_| {
        anyhow!("not admitted: {member} is not an Ed25519 public key (not a point of the curve)")
    })?;
    if key.is_weak() {
        bail!(
            "not admitted: {member} is an Ed25519 key of small order (a weak key, such as the \
             identity point); anyone can forge its signatures and every node refuses its \
             listings, so the resident needs a new key"
        );
    }
    Ok(())
}

pub fn broker(cli: &Cli, dir: &DataDir, action: &crate::BrokerAction) -> Result<()> {
    let (member_id, on) = match action {
        crate::BrokerAction::Add { member_id } => (member_id, true),
        crate::BrokerAction::Remove { member_id } => (member_id, false),
    };
    let member: buurt_protocol::MemberId = member_id.trim().parse()?;
    let c = client(cli, dir)?;
    let m: Member = c.post(
        &format!("/v1/admin/members/{member}/broker"),
        &json!({ "broker": on }),
    )?;
    if cli.json {
        return print_json(&m);
    }
    if on {
        println!(
            "{member} is a broker now: they may post for residents without a device (`buurt offer … --for NAME --consent …`)."
        );
    } else {
        println!("{member} is no longer a broker.");
    }
    Ok(())
}

pub fn revoke(cli: &Cli, dir: &DataDir, member_id: &str) -> Result<()> {
    let member: buurt_protocol::MemberId = member_id.trim().parse()?;
    let c = client(cli, dir)?;
    let r: RevokeAnswer = c.post(&format!("/v1/admin/members/{member}/revoke"), &json!({}))?;
    if cli.json {
        return print_json(&r);
    }
    println!(
        "Revoked {member}: {} listing(s) removed here; the revocation goes to the other nodes.",
        r.removed
    );
    Ok(())
}

pub fn members(cli: &Cli, dir: &DataDir) -> Result<()> {
    let c = client(cli, dir)?;
    let list: Vec<Member> = c.get("/v1/admin/members", &[])?;
    if cli.json {
        return print_json(&list);
    }
    if list.is_empty() {
        println!("No members admitted yet (`buurt admit MEMBER_ID`).");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|m| {
            vec![
                m.member_id.clone(),
                m.name.clone(),
                m.scope.clone(),
                output::date(&m.not_after).to_owned(),
                if m.broker { "broker" } else { "" }.to_owned(),
            ]
        })
        .collect();
    output::table(&["MEMBER", "NAME", "SCOPE", "UNTIL", "ROLE"], &rows);
    Ok(())
}

pub fn trust(cli: &Cli, dir: &DataDir, node_id: &str, note: Option<&str>, add: bool) -> Result<()> {
    let node = buurt_node::ids::parse_node_id(node_id)?;
    let c = client(cli, dir)?;
    if !add {
        let r: UntrustAnswer = c.delete(&format!("/v1/admin/trusted/{node}"))?;
        if cli.json {
            return print_json(&r);
        }
        println!(
            "No longer trusting {node}: this node's vouch for it is withdrawn (and sent to every node); {} listing(s) of nodes now outside the web removed here.",
            r.removed
        );
        return Ok(());
    }
    let ask = TrustAsk {
        node_id: node.to_string(),
        note: note.map(str::to_owned),
    };
    let r: TrustAnswer = c.post("/v1/admin/trusted", &ask)?;
    if cli.json {
        return print_json(&r);
    }
    if !r.new {
        println!("{node} was already trusted.");
    } else {
        println!("Trusting {node}: this node vouches for it publicly, and its members' listings are accepted (under the web policy, also by nodes that trust this one).");
        if r.policy == "open" {
            println!("(The policy is open, so every node's members are accepted anyway; set policy = \"allowlist\" in config.toml to accept trusted nodes only.)");
        }
    }
    Ok(())
}

pub fn trusted(cli: &Cli, dir: &DataDir) -> Result<()> {
    let c = client(cli, dir)?;
    let r: TrustedList = c.get("/v1/admin/trusted", &[])?;
    if cli.json {
        return print_json(&r);
    }
    println!("policy    {}", r.policy);
    let rows: Vec<Vec<String>> = r
        .trusted
        .into_iter()
        .map(|t| vec![t.node_id, t.since])
        .collect();
    if rows.is_empty() {
        println!("No trusted nodes (this node's own members are always accepted).");
    } else {
        output::table(&["NODE", "SINCE"], &rows);
    }
    Ok(())
}

/// `buurt mailboxes`: every member's mailbox, as counts and sizes.
pub fn mailboxes(cli: &Cli, dir: &DataDir) -> Result<()> {
    let c = client(cli, dir)?;
    let list: Vec<buurt_node::mail::Letterbox> = c.get("/v1/admin/mailboxes", &[])?;
    if cli.json {
        return print_json(&list);
    }
    if list.is_empty() {
        println!("No mail waiting in any mailbox.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|b| {
            vec![
                b.member_id.clone(),
                b.letters.to_string(),
                b.bytes.to_string(),
            ]
        })
        .collect();
    output::table(&["MEMBER", "LETTERS", "BYTES"], &rows);
    println!("\nLetters are sealed to their members' reply keys: this node cannot read them.");
    Ok(())
}
