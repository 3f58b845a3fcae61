//! One sync session with one peer, driven from this side: the peer's
//! revocations, then each subscribed scope reconciled and its missing
//! listings fetched into the ingest pipeline.
//!
//! Every request goes through a [`Requester`], so a session can be run
//! against a scripted peer in tests; a peer found breaking the protocol is
//! reported through [`Requester::misbehaved`].

use std::sync::Arc;

use buurt_protocol::sync::{Request, Response, FRAME_LIMIT, MAX_FETCH_IDS};
use buurt_protocol::Scope;
use libp2p::PeerId;
use negentropy::{Negentropy, NegentropyStorageBase};

use super::{Context, Malformed, ScopeSync, MAX_NEED, MAX_ROUNDS};
use crate::clock;
use crate::ingest::{Outcome, Revoked, Source, Vouched};

/// Why a sync request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No answer: connection closed, timeout, the network stopped.
    #[error("no answer: {0}")]
    Transport(String),
    /// An answer that does not decode.
    #[error("malformed answer: {0}")]
    Malformed(#[from] Malformed),
}

/// Why a session with a peer stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The request did not get an answer (connection closed, timeout).
    #[error("no answer: {0}")]
    Transport(String),
    /// The peer broke the protocol or sent invalid listings.
    #[error("peer misbehaved: {0}")]
    Misbehaved(String),
    /// This node failed (store, index).
    #[error("{0}")]
    Local(String),
}

impl From<RequestError> for SessionError {
    fn from(e: RequestError) -> SessionError {
        match e {
            RequestError::Transport(e) => SessionError::Transport(e),
            RequestError::Malformed(e) => {
                SessionError::Misbehaved(format!("malformed answer: {e}"))
            }
        }
    }
}

fn local(e: impl std::fmt::Display) -> SessionError {
    SessionError::Local(e.to_string())
}

/// Sends one request to the peer and waits for its answer; hears of a peer
/// that broke the protocol.
pub trait Requester: Send + Sync {
    fn request(
        &self,
        peer: PeerId,
        request: Request,
    ) -> impl std::future::Future<Output = Result<Response, RequestError>> + Send;

    /// The session found `peer` breaking the protocol (it counts against
    /// the peer as invalid gossip does).
    fn misbehaved(&self, peer: PeerId, why: String)
        -> impl std::future::Future<Output = ()> + Send;
}

/// One session with `peer` (called `name` in logs and status): the peer's
/// revocations, then every scope in `scopes` in turn, each result recorded
/// in `ctx.state`. Stops at the first error; a misbehaving peer is reported.
pub async fn run<R: Requester>(
    net: &R,
    ctx: &Arc<Context>,
    peer: PeerId,
    name: &str,
    scopes: &[Scope],
) {
    let end = session(net, ctx, peer, name, scopes).await;
    crate::metrics::count(|m| &m.sync_sessions, end);
}

/// One session; how it ended: `completed`, `failed` or `misbehaved`.
async fn session<R: Requester>(
    net: &R,
    ctx: &Arc<Context>,
    peer: PeerId,
    name: &str,
    scopes: &[Scope],
) -> &'static str {
    match sync_revocations(net, ctx, peer).await {
        Ok(0) => {}
        Ok(n) => tracing::info!("sync with {name}: {n} revocations received"),
        Err(SessionError::Misbehaved(why)) => {
            net.misbehaved(peer, why).await;
            return "misbehaved";
        }
        Err(e) => {
            tracing::debug!("sync of revocations with {name}: {e}");
            return "failed";
        }
    }
    match sync_vouches(net, ctx, peer).await {
        Ok(0) => {}
        Ok(n) => tracing::info!("sync with {name}: {n} vouches received"),
        Err(SessionError::Misbehaved(why)) => {
            net.misbehaved(peer, why).await;
            return "misbehaved";
        }
        Err(e) => {
            tracing::debug!("sync of vouches with {name}: {e}");
            return "failed";
        }
    }
    match sync_thanks(net, ctx, peer).await {
        Ok(0) => {}
        Ok(n) => tracing::info!("sync with {name}: {n} thanks and pledges received"),
        Err(SessionError::Misbehaved(why)) => {
            net.misbehaved(peer, why).await;
            return "misbehaved";
        }
        Err(e) => {
            tracing::debug!("sync of thanks with {name}: {e}");
            return "failed";
        }
    }
    for scope in scopes {
        let result = sync_scope(net, ctx, peer, name, scope).await;
        let now = clock::rfc3339(clock::now());
        match result {
            Ok(mut r) => {
                r.last_at = now;
                // A peer that does not follow a scope says nothing about it.
                if !r.result.starts_with("refused") || !ctx.state.knows(scope.as_str()) {
                    ctx.state.record(r);
                }
            }
            Err(e) => {
                ctx.state.record(ScopeSync {
                    scope: scope.to_string(),
                    last_at: now,
                    peer: name.to_owned(),
                    result: format!("failed: {e}"),
                    ..Default::default()
                });
                if let SessionError::Misbehaved(why) = e {
                    net.misbehaved(peer, why).await;
                    return "misbehaved";
                }
                return "failed";
            }
        }
    }
    "completed"
}

/// Reconciles one scope with `peer` and fetches what this node lacks.
pub async fn sync_scope<R: Requester>(
    net: &R,
    ctx: &Arc<Context>,
    peer: PeerId,
    peer_name: &str,
    scope: &Scope,
) -> Result<ScopeSync, SessionError> {
    let now = clock::now();
    let mut report = ScopeSync {
        scope: scope.to_string(),
        peer: peer_name.to_owned(),
        in_progress: true,
        ..Default::default()
    };
    let (c, s) = (ctx.clone(), scope.clone());
    let storage = ctx
        .blocking(move || c.items(&s, now))
        .await?
        .map_err(local)?;
    let here = storage.size().unwrap_or(0);
    let mut neg = Negentropy::owned(storage, FRAME_LIMIT as u64).map_err(local)?;
    let mut message = neg.initiate().map_err(local)?;
    let (mut have, mut need) = (Vec::new(), Vec::new());
    loop {
        if report.rounds >= MAX_ROUNDS {
            report.result = format!("partial: {MAX_ROUNDS} rounds");
            break;
        }
        report.rounds += 1;
        let request = Request::Reconcile {
            scope: scope.to_string(),
            message,
        };
        match net.request(peer, request).await? {
            Response::Reconcile { message: answer } => {
                match neg.reconcile_with_ids(&answer, &mut have, &mut need) {
                    Ok(Some(next)) => message = next,
                    Ok(None) => break,
                    Err(e) => return Err(SessionError::Misbehaved(format!("negentropy: {e}"))),
                }
                if need.len() > MAX_NEED {
                    break;
                }
            }
            Response::Refused { reason } => {
                report.result = format!("refused: {reason}");
                report.in_progress = false;
                return Ok(report);
            }
            Response::Listings { .. }
            | Response::Revocations { .. }
            | Response::Vouches { .. }
            | Response::Thanks { .. } => {
                return Err(SessionError::Misbehaved(
                    "the wrong answer to a reconcile request".into(),
                ))
            }
        }
    }
    need.truncate(MAX_NEED);
    report.needed = need.len();
    report.offered = have.len();
    if !need.is_empty() {
        tracing::info!(
            "sync {scope} with {peer_name}: {} listings to fetch ({here} here)",
            need.len()
        );
    }
    for chunk in need.chunks(MAX_FETCH_IDS) {
        let ids: Vec<[u8; 32]> = chunk.iter().map(|id| id.to_bytes()).collect();
        let asked = ids.len();
        let listings = match net.request(peer, Request::Fetch { ids }).await? {
            Response::Listings { listings } => listings,
            Response::Refused { reason } => {
                report.result = format!("refused: {reason}");
                break;
            }
            Response::Reconcile { .. }
            | Response::Revocations { .. }
            | Response::Vouches { .. }
            | Response::Thanks { .. } => {
                return Err(SessionError::Misbehaved(
                    "the wrong answer to a fetch".into(),
                ))
            }
        };
        check_delivery(listings.len(), asked)?;
        report.fetched += listings.len();
        let c = ctx.clone();
        let outcomes = ctx
            .blocking(move || {
                let o = c
                    .ingest
                    .submit_batch(&listings, Source::Sync, clock::now())?;
                c.ingest.flush()?;
                Ok::<_, crate::ingest::IngestError>(o)
            })
            .await?
            .map_err(local)?;
        let mut invalid = 0;
        for o in &outcomes {
            match o {
                Outcome::Stored(_) => report.stored += 1,
                Outcome::Rejected(r) if r.is_invalid() => invalid += 1,
                _ => {}
            }
        }
        if invalid > 0 {
            return Err(SessionError::Misbehaved(format!(
                "{invalid} invalid listings"
            )));
        }
        ctx.state.record(report.clone());
        if report.needed > 10 * MAX_FETCH_IDS && report.fetched % (10 * MAX_FETCH_IDS) < asked {
            tracing::info!(
                "sync {scope} with {peer_name}: {} of {} listings fetched",
                report.fetched,
                report.needed
            );
        }
    }
    if report.result.is_empty() {
        report.result = "done".into();
    }
    report.in_progress = false;
    Ok(report)
}

/// A page of `got` listings for `asked` ids: never more than asked, and a
/// listing may expire or be removed between reconciliation and fetch, but
/// not most of a page.
fn check_delivery(got: usize, asked: usize) -> Result<(), SessionError> {
    if got > asked {
        return Err(SessionError::Misbehaved(format!(
            "{got} listings for {asked} ids"
        )));
    }
    if 2 * got < asked {
        return Err(SessionError::Misbehaved(format!(
            "delivered {got} of {asked} listings it announced"
        )));
    }
    Ok(())
}

/// Fetches the peer's vouch statements and takes in those that matter
/// here: in passes, since a statement counts only once its voucher is in
/// the web, which an earlier statement of the same answer may have made
/// it. Returns how many were new.
pub async fn sync_vouches<R: Requester>(
    net: &R,
    ctx: &Arc<Context>,
    peer: PeerId,
) -> Result<usize, SessionError> {
    let vouches = match net.request(peer, Request::Vouches).await? {
        Response::Vouches { vouches } => vouches,
        Response::Refused { .. } => return Ok(0),
        _ => {
            return Err(SessionError::Misbehaved(
                "the wrong answer to a vouches request".into(),
            ))
        }
    };
    let c = ctx.clone();
    ctx.blocking(move || {
        let mut new = 0;
        for _ in 0..=crate::config::MAX_TRUST_DEPTH {
            let mut this_pass = 0;
            for v in &vouches {
                match c.ingest.take_vouch(v, Source::Sync).map_err(local)? {
                    Vouched::New { .. } => this_pass += 1,
                    Vouched::Known => {}
                    Vouched::Invalid => {
                        return Err(SessionError::Misbehaved("an invalid vouch".into()))
                    }
                }
            }
            new += this_pass;
            if this_pass == 0 {
                break;
            }
        }
        Ok(new)
    })
    .await?
}

/// Fetches the peer's thanks and pledges, page by page (at most
/// [`crate::thanks::MAX_PAGES`]), and takes in those this node lacks.
/// Returns how many were new.
pub async fn sync_thanks<R: Requester>(
    net: &R,
    ctx: &Arc<Context>,
    peer: PeerId,
) -> Result<usize, SessionError> {
    let mut after = vec![];
    let mut new = 0;
    for _ in 0..crate::thanks::MAX_PAGES {
        let (statements, next) = match net.request(peer, Request::Thanks { after }).await? {
            Response::Thanks { statements, next } => (statements, next),
            Response::Refused { .. } => return Ok(new),
            _ => {
                return Err(SessionError::Misbehaved(
                    "the wrong answer to a thanks request".into(),
                ))
            }
        };
        let c = ctx.clone();
        new += ctx
            .blocking(move || {
                let mut n = 0;
                for s in &statements {
                    match c.ingest.take_thanks(s, Source::Sync).map_err(local)? {
                        crate::thanks::Took::New { .. } => n += 1,
                        crate::thanks::Took::Invalid(why) => {
                            return Err(SessionError::Misbehaved(format!(
                                "an invalid thanks: {why}"
                            )))
                        }
                        _ => {}
                    }
                }
                Ok(n)
            })
            .await??;
        if next.is_empty() {
            break;
        }
        after = next;
    }
    Ok(new)
}

/// Fetches the peer's revocations and takes in those this node lacks.
/// Returns how many were new.
pub async fn sync_revocations<R: Requester>(
    net: &R,
    ctx: &Arc<Context>,
    peer: PeerId,
) -> Result<usize, SessionError> {
    let revocations = match net.request(peer, Request::Revocations).await? {
        Response::Revocations { revocations } => revocations,
        Response::Refused { .. } => return Ok(0),
        _ => {
            return Err(SessionError::Misbehaved(
                "the wrong answer to a revocations request".into(),
            ))
        }
    };
    let c = ctx.clone();
    ctx.blocking(move || {
        let mut new = 0;
        for r in &revocations {
            match c.ingest.take_revocation(r, Source::Sync).map_err(local)? {
                Revoked::New { .. } => new += 1,
                Revoked::Known => {}
                Revoked::Invalid => {
                    return Err(SessionError::Misbehaved("an invalid revocation".into()))
                }
            }
        }
        Ok(new)
    })
    .await?
}
