//! A resident's own listings: `offer`, `request`, `update` and `withdraw`.
//! Each signs a listing (or a new revision) locally with the member key and
//! posts the signed bytes; the node never sees the key.

use anyhow::{anyhow, bail, Context, Result};
use buurt_node::api::dto::{ListingView, PostAnswer};
use buurt_node::clock::now;
use buurt_node::datadir::{random_bytes, DataDir};
use buurt_protocol::limits::DAY;
use buurt_protocol::{
    keys, revision, validate, Exchange, Kind, Limits, Listing, ListingKey, Scope, SignedListing,
    Status, Terms,
};

use super::{client, member, print_json};
use crate::client::Client;
use crate::{compose, extras};
use crate::{Cli, PostArgs, UpdateArgs};
use buurt_protocol::calendar::{day_of, Day};
use buurt_protocol::Extras;

/// Signs, checks locally, posts. Returns the node's answer.
pub(super) fn sign_and_post(
    cli: &Cli,
    dir: &DataDir,
    key: &keys::SigningKey,
    listing: Listing,
) -> Result<PostAnswer> {
    let signed = listing.sign(key).map_err(|e| anyhow!("{e}"))?;
    validate(signed.bytes(), now(), &Limits::default()).map_err(|r| anyhow!("{r}"))?;
    let c = client(cli, dir)?;
    // The signed bytes as they are: half the bytes of hex in JSON, and
    // nothing for the node to parse but the listing.
    c.post_bytes("/v1/listings", signed.bytes())
}

pub fn post_new(cli: &Cli, dir: &DataDir, kind: Kind, a: &PostArgs) -> Result<()> {
    if let Some(which) = &a.circle {
        let (key, _) = member(cli, dir)?;
        let listing = compose(cli, dir, kind, a)?;
        return super::circle::post(cli, dir, &key, listing, which);
    }
    let answer = create(cli, dir, kind, a)?;
    if cli.json {
        return print_json(&answer);
    }
    println!("{}", answer.id);
    eprintln!(
        "Posted {kind}: {} (id {}){}",
        a.title.trim(),
        &answer.id[..12],
        reach(&answer)
    );
    Ok(())
}

/// Composes, signs and posts a new listing (the photo uploaded first), and
/// publishes the author's reply key: what `offer`, `request` and the
/// resident's page do.
pub fn create(cli: &Cli, dir: &DataDir, kind: Kind, a: &PostArgs) -> Result<PostAnswer> {
    let (key, cert) = member(cli, dir)?;
    let listing = compose(cli, dir, kind, a)?;
    let answer = sign_and_post(cli, dir, &key, listing)?;
    // Neighbours answer a listing by sealing to the author's reply key: make
    // and publish one now, so that replies can come before the author's
    // first `buurt inbox`.
    if let Err(e) = super::mail::publish_reply_key(cli, dir, &key, &cert) {
        eprintln!(
            "Note: your reply key could not be published yet ({e}); `buurt inbox` tries again."
        );
    }
    Ok(answer)
}

/// The new listing `a` describes, unsigned (its photo already uploaded).
fn compose(cli: &Cli, dir: &DataDir, kind: Kind, a: &PostArgs) -> Result<Listing> {
    let (key, cert) = member(cli, dir)?;
    let t = now();
    let exchange = match &a.exchange {
        Some(e) => e
            .parse::<Exchange>()
            .map_err(|e| anyhow!("--exchange: {e}"))?,
        None if kind == Kind::Offer => Exchange::Give,
        None => Exchange::Help,
    };
    let scope = match &a.scope {
        Some(s) => Scope::parse(&s.trim().to_lowercase(), Limits::default().max_scope_levels)
            .map_err(|e| anyhow!("--scope: {e}"))?,
        None => cert.scope.clone(),
    };
    if !cert.scope.covers(&scope) {
        bail!(
            "--scope: your membership is for {}, which covers that scope, the scopes above it \
             and those below it, but not {scope}",
            cert.scope
        );
    }
    let geohash = a.geohash.as_ref().map(|g| g.trim().to_lowercase());
    if let Some(g) = &geohash {
        if !buurt_protocol::geohash::is_valid(g, buurt_protocol::limits::MAX_GEOHASH_CHARS) {
            bail!(
                "--geohash: `{g}` is not a geohash of at most {} characters: {} (it is coarse on \
                 purpose: never give an address)",
                buurt_protocol::limits::MAX_GEOHASH_CHARS,
                buurt_protocol::geohash::EXPLAINED
            );
        }
    }
    let lifetime = compose::parse_duration(&a.expires).context("--expires")?;
    let (born, lapses) = (day_of(t), day_of(t + lifetime));
    let mut more = Extras {
        availability: extras::parse_windows(&a.available, born, lapses)?,
        ..Extras::default()
    };
    if let Some(every) = &a.every {
        more.every = Some(extras::parse_every(every, a.on.as_deref(), born)?);
    }
    if let Some(resident) = &a.for_resident {
        let consent = a.consent.as_deref().unwrap_or_default();
        more.behalf = Some(extras::parse_behalf(
            resident,
            consent,
            a.consent_on.as_deref(),
            born,
        )?);
    }
    if let Some(path) = &a.photo {
        more.photo = Some(super::photos::upload(&client(cli, dir)?, path)?);
    }
    let terms = Terms {
        price: a
            .price
            .as_deref()
            .map(compose::parse_price)
            .transpose()
            .context("--price")?,
        deposit: a
            .deposit
            .as_deref()
            .map(compose::parse_money)
            .transpose()
            .context("--deposit")?,
    };
    let listing = Listing {
        author: keys::member_id(&key),
        key: ListingKey(random_bytes::<16>()?),
        revision: revision::next_revision(t, None),
        created_at: t,
        expires_at: t + lifetime,
        kind,
        exchange,
        status: Status::Open,
        scope,
        topics: compose::parse_topics(&a.topic)?,
        title: a.title.trim().to_owned(),
        body: a.body.clone().unwrap_or_default(),
        tags: a.tag.iter().map(|t| t.trim().to_owned()).collect(),
        geohash,
        terms,
        extras: more,
        certificate: cert,
    };
    Ok(listing)
}

/// How far a post got, in words.
fn reach(answer: &PostAnswer) -> String {
    match answer.peers {
        0 => "; stored on this node, not yet seen by peers".into(),
        1 => "; sent to 1 peer".into(),
        n => format!("; sent to {n} peers"),
    }
}

/// Fetches one listing with its signed bytes.
pub(super) fn fetch(c: &Client, id: &str) -> Result<(ListingView, SignedListing)> {
    let v: ListingView = c.get(&format!("/v1/listings/{}", urlencode(id)), &[])?;
    let bytes = hex::decode(v.signed_bytes.as_deref().unwrap_or_default())
        .map_err(|_| anyhow!("the node sent a listing without its signed bytes"))?;
    let s = SignedListing::decode(&bytes)
        .map_err(|e| anyhow!("the node sent a listing that does not decode: {e}"))?;
    Ok((v, s))
}

fn urlencode(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).collect()
}

/// The next revision of one of the member's own listings.
pub(super) fn own_next(
    cli: &Cli,
    dir: &DataDir,
    id: &str,
) -> Result<(keys::SigningKey, Listing, Listing, i64)> {
    own_next_with(cli, dir, id, |_| {})
}

/// Like [`own_next`], with the current listing changed by `edit` first.
fn own_next_with(
    cli: &Cli,
    dir: &DataDir,
    id: &str,
    edit: impl FnOnce(&mut Listing),
) -> Result<(keys::SigningKey, Listing, Listing, i64)> {
    let (key, cert) = member(cli, dir)?;
    let c = client(cli, dir)?;
    let (_, current) = fetch(&c, id)?;
    let mut old = current.into_listing();
    edit(&mut old);
    if old.author != keys::member_id(&key) {
        bail!(
            "listing {} is not yours: you can only change your own listings",
            old.listing_id()
        );
    }
    if old.status == Status::Withdrawn {
        bail!(
            "listing {} is withdrawn and cannot change any more",
            old.listing_id()
        );
    }
    let t = now();
    let mut next = old.clone();
    next.revision = revision::next_revision(t, Some(old.revision));
    next.created_at = t;
    next.certificate = cert;
    if next.status != Status::Withdrawn {
        let windows = &old.extras.availability;
        next.extras.availability = extras::fit_windows(windows, day_of(t), day_of(old.expires_at))
            .ok_or_else(|| {
                anyhow!(
                    "every day listing {} was available has passed: give new ones with \
                     `buurt update {} --available …`",
                    old.listing_id(),
                    &old.listing_id().to_string()[..12]
                )
            })?;
    }
    Ok((key, old, next, t))
}

pub fn update(cli: &Cli, dir: &DataDir, a: &UpdateArgs) -> Result<()> {
    let answer = revise(cli, dir, a)?;
    if cli.json {
        return print_json(&answer);
    }
    println!("{}", answer.id);
    eprintln!(
        "Updated {} (revision {}){}",
        &answer.id[..12],
        &answer.revision_id[..12],
        reach(&answer)
    );
    Ok(())
}

/// Signs and posts the revision `a` describes of one of the member's own
/// listings.
pub fn revise(cli: &Cli, dir: &DataDir, a: &UpdateArgs) -> Result<PostAnswer> {
    if a.status.is_none()
        && a.title.is_none()
        && a.body.is_none()
        && a.expires.is_none()
        && a.available.is_empty()
    {
        bail!("nothing to change: give --status, --title, --body, --expires or --available");
    }
    let (key, mut old, mut next, t) = if a.available.is_empty() {
        own_next(cli, dir, &a.id)?
    } else {
        // The old windows give way to the new ones, even if all have passed.
        own_next_with(cli, dir, &a.id, |l| l.extras.availability.clear())?
    };
    if let Some(s) = &a.status {
        let st = s.parse::<Status>().map_err(|e| anyhow!("--status: {e}"))?;
        if st == Status::Withdrawn {
            bail!("--status: use `buurt withdraw ID` to withdraw a listing");
        }
        next.status = st;
    }
    if let Some(title) = &a.title {
        next.title = title.trim().to_owned();
    }
    if let Some(body) = &a.body {
        next.body = body.clone();
    }
    if let Some(e) = &a.expires {
        next.expires_at = t + compose::parse_duration(e).context("--expires")?;
    } else if next.expires_at - t > 90 * DAY {
        next.expires_at = t + 90 * DAY;
    }
    if !a.available.is_empty() {
        let always = a.available.iter().any(|w| w.trim() == "always");
        next.extras.availability = if always {
            vec![]
        } else {
            extras::parse_windows(&a.available, day_of(t), day_of(next.expires_at))?
        };
        old.extras.availability.clear();
    }
    sign_and_post(cli, dir, &key, next)
}

pub fn withdraw(cli: &Cli, dir: &DataDir, id: &str) -> Result<()> {
    let answer = withdraw_listing(cli, dir, id)?;
    if cli.json {
        return print_json(&answer);
    }
    println!("{}", answer.id);
    eprintln!(
        "Withdrawn: {} (its content is deleted; other nodes drop it too)",
        &answer.id[..12]
    );
    Ok(())
}

/// Signs and posts the withdrawal of one of the member's own listings.
pub fn withdraw_listing(cli: &Cli, dir: &DataDir, id: &str) -> Result<PostAnswer> {
    let (key, old, next, t) = own_next(cli, dir, id)?;
    if old.expires_at <= t {
        bail!("listing {} has already expired", old.listing_id());
    }
    let tomb = Listing {
        certificate: next.certificate,
        ..old.tombstone(next.revision, t)
    };
    sign_and_post(cli, dir, &key, tomb)
}

/// Publishes a new revision of one of the member's own listings without
/// the days `from..=to` (an accepted agreement's): they are no longer
/// available. `None` when none of them was.
pub(super) fn take_days(
    cli: &Cli,
    dir: &DataDir,
    id: &str,
    from: Day,
    to: Day,
) -> Result<Option<PostAnswer>> {
    let (key, old, mut next, t) = own_next(cli, dir, id)?;
    if !(from..=to).any(|d| old.extras.available_on(d)) {
        return Ok(None);
    }
    if next.expires_at - t > 90 * DAY {
        next.expires_at = t + 90 * DAY;
    }
    let (born, lapses) = (day_of(t), day_of(next.expires_at));
    let left = next.extras.without_days(from, to, born, lapses);
    next.extras.availability = extras::fit_windows(&left, born, lapses).unwrap_or_default();
    if next.extras.availability.is_empty() {
        // Nothing left to have: reserved until the author says otherwise.
        next.status = Status::Reserved;
    }
    sign_and_post(cli, dir, &key, next).map(Some)
}

/// Publishes a new revision of one of the member's own listings with
/// `status` (what an agreement does to the listing it is about).
pub(super) fn set_status(cli: &Cli, dir: &DataDir, id: &str, status: Status) -> Result<PostAnswer> {
    let (key, _old, mut next, t) = own_next(cli, dir, id)?;
    next.status = status;
    if next.expires_at - t > 90 * DAY {
        next.expires_at = t + 90 * DAY;
    }
    sign_and_post(cli, dir, &key, next)
}
