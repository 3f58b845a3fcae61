//! The node's state for people and scripts: status, connected peers, and
//! catch-up sync on demand.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::dto::{PeerInfo, ScopeCount, StatusView, SyncAnswer, SyncAsk};
use super::{ApiError, ApiResult, ApiState};
use crate::clock::rfc3339;

pub fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/peers", get(peers))
        .route("/v1/sync", post(sync_now))
}

/// The node's status: its ids, scope, reach, peers, listings per scope,
/// sync, moderation, disk and counters.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "status",
    responses(
        (status = 200, description = "The node's status", body = StatusView),
        (status = 500, description = "500: `internal`"),
    )
)]
async fn status(State(st): State<Arc<ApiState>>) -> ApiResult<Json<StatusView>> {
    let s = st.clone();
    let (listings, mut counts) = st
        .blocking(move || {
            Ok::<_, crate::store::StoreError>((s.store.len()?, s.store.scope_counts()?))
        })
        .await?
        .map_err(ApiError::internal)?;
    let cfg = &st.config;
    let mut scopes: Vec<ScopeCount> = cfg
        .subscriptions()
        .iter()
        .map(|sc| ScopeCount {
            scope: sc.to_string(),
            listings: counts.remove(sc.as_str()).unwrap_or(0),
            subscribed: true,
        })
        .collect();
    scopes.extend(counts.into_iter().map(|(scope, listings)| ScopeCount {
        scope,
        listings,
        subscribed: false,
    }));
    let (listen_addrs, peers, reach) = match &st.net {
        Some(n) => (
            n.listen_addrs().await,
            n.peers().await.len(),
            n.reach().await,
        ),
        None => (vec![], 0, Default::default()),
    };
    let mail = match st.mail.clone() {
        Some(m) => {
            st.blocking(move || {
                let boxes = m.letterboxes().unwrap_or_default();
                super::dto::MailStatus {
                    letters: boxes.iter().map(|b| b.letters).sum(),
                    bytes: boxes.iter().map(|b| b.bytes).sum(),
                    queued: m.queued(),
                }
            })
            .await?
        }
        None => Default::default(),
    };
    let m = &st.moderation;
    let vouched_by = match st.node_id.parse() {
        Ok(own) => m.vouchers_of(&own).iter().map(|n| n.to_string()).collect(),
        Err(_) => vec![],
    };
    Ok(Json(StatusView {
        node_id: st.node_id.clone(),
        member_id: st.member_id.clone(),
        name: cfg.name.clone(),
        scope: cfg.scope.to_string(),
        follows: cfg.follow.iter().map(|s| s.to_string()).collect(),
        listen_addrs,
        api: st.api_addr.clone(),
        peers,
        listings,
        scopes,
        sync: st.net.as_ref().map(|n| n.sync_status()).unwrap_or_default(),
        syncing: st.net.as_ref().map_or(0, |n| n.syncing()),
        blocks: m.blocks().len(),
        policy: m.policy().as_str().to_owned(),
        trusted: m.trusted().len(),
        members: m.member_count(),
        revocations: m.revocation_count(),
        started_at: rfc3339(st.started_at),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        ingest: st.ingest.stats(),
        disk_free_bytes: st.space.as_ref().and_then(|s| s.free()),
        disk: st
            .space
            .as_ref()
            .map_or(crate::space::Level::Ok, |s| s.level()),
        repair: st.repair.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        mail,
        vouched_by,
        web_nodes: m.web_size(),
        reach,
    }))
}

/// Starts catch-up sync sessions now.
///
/// With one peer named, or with every connected peer. Needs no token: a
/// sync only pulls what peers have, and this node's policy still decides
/// what it keeps.
#[utoipa::path(
    post,
    path = "/v1/sync",
    tag = "status",
    request_body = SyncAsk,
    responses(
        (status = 200, description = "Sessions started", body = SyncAnswer),
        (status = 400, description = "400: `bad_json`, `bad_node_id`"),
        (status = 404, description = "404: `no_such_peer`"),
        (status = 409, description = "409: `no_network`"),
        (status = 413, description = "413: `too_large`"),
    )
)]
async fn sync_now(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<SyncAsk>, JsonRejection>,
) -> ApiResult<Json<SyncAnswer>> {
    let Json(ask) = body.map_err(ApiError::bad_json)?;
    let Some(net) = &st.net else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_network",
            "this node runs without federation (no listen address and no peers)",
        ));
    };
    // Either form of a node id; the network compares them as `bn…`.
    let peer = match &ask.peer {
        Some(p) => Some(
            crate::ids::parse_node_id(p)
                .map_err(|e| ApiError::bad("bad_node_id", e.to_string()))?
                .to_string(),
        ),
        None => None,
    };
    let sessions = net.sync_now(peer).await;
    if sessions == 0 {
        if let Some(p) = ask.peer {
            return Err(ApiError::not_found(
                "no_such_peer",
                format!("{p} is not connected, or a sync with it is already running (see `buurt peers`)"),
            ));
        }
    }
    Ok(Json(SyncAnswer { sessions }))
}

/// Connected peers.
#[utoipa::path(
    get,
    path = "/v1/peers",
    tag = "status",
    responses((status = 200, description = "The connected peers", body = Vec<PeerInfo>))
)]
async fn peers(State(st): State<Arc<ApiState>>) -> Json<Vec<PeerInfo>> {
    let mut list = match &st.net {
        Some(n) => n.peers().await,
        None => vec![],
    };
    for p in &mut list {
        if let Ok(node) = crate::ids::parse_node_id(&p.node_id) {
            p.accepted = st.moderation.accepts_node(&node);
            p.vouched_by = st
                .moderation
                .vouchers_of(&node)
                .iter()
                .map(|n| n.to_string())
                .collect();
        }
    }
    Json(list)
}
