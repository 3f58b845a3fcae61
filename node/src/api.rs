//! The HTTP/JSON API under `/v1`, bound to loopback by default.
//!
//! Residents post listings they signed themselves: the node never sees a
//! resident's secret key. Operator routes need the bearer token from the data
//! directory. Every error is a JSON object `{"error": "...", "reason": "..."}`.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use buurt_protocol::{taxonomy, Exchange, Kind, ListingId, MemberId, Scope};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ingest::{Ingest, Outcome, Source};
use crate::search::Query as SearchQuery;
use crate::view::ListingView;

/// Largest request body: a hex-encoded listing at the wire ceiling plus JSON.
pub const MAX_BODY_BYTES: usize = 160 * 1024;
/// Most results one search returns.
pub const MAX_SEARCH_LIMIT: usize = 500;

/// What the API handlers share.
pub struct ApiState {
    pub ingest: Arc<Ingest>,
    pub node_id: String,
    pub member_id: String,
    pub token: String,
    pub api_addr: String,
    pub started_at: i64,
    pub clock: fn() -> i64,
    /// The federation; `None` when the node runs without a network.
    pub net: Option<crate::net::NetClient>,
    /// The residents this node admitted.
    pub members: std::sync::Mutex<crate::members::Members>,
}

/// An error answer: HTTP status, a message for people and a stable code.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            reason,
            message: message.into(),
        }
    }
    /// A request body over [`MAX_BODY_BYTES`].
    fn too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("request body is over {MAX_BODY_BYTES} bytes"),
        )
    }
    fn bad(reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, reason, message)
    }
    fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": self.message, "reason": self.reason })),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Builds the router.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/search", get(search))
        .route("/v1/listings", post(post_listing))
        .route("/v1/listings/{id}", get(get_listing))
        .route("/v1/members/{member}/listings", get(member_listings))
        .route("/v1/peers", get(peers))
        .route("/v1/sync", post(sync_now))
        .route("/v1/admin/reindex", post(reindex))
        .route("/v1/admin/blocks", get(list_blocks).post(add_block))
        .route("/v1/admin/members", get(list_members).post(admit))
        .route("/v1/admin/members/{member}/revoke", post(revoke))
        .route("/v1/members/{member}/certificate", get(member_certificate))
        .route("/v1/admin/trusted", get(list_trusted).post(add_trusted))
        .route(
            "/v1/admin/trusted/{node}",
            axum::routing::delete(remove_trusted),
        )
        .route(
            "/v1/admin/blocks/{target}",
            axum::routing::delete(remove_block),
        )
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API route")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(declared_size_limit))
        .with_state(state)
}

/// Refuses a request whose declared body is over the limit before reading
/// any of it; a body without a declared length is cut off at the limit by
/// `DefaultBodyLimit`.
async fn declared_size_limit(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return ApiError::too_large().into_response();
    }
    next.run(req).await
}

/// Runs blocking store or index work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

#[derive(Serialize)]
struct StatusView {
    node_id: String,
    member_id: String,
    name: String,
    scope: String,
    follows: Vec<String>,
    listen_addrs: Vec<String>,
    api: String,
    peers: usize,
    listings: usize,
    /// Stored listings per scope: every subscribed scope (own, ancestors,
    /// followed), then any other scope that has listings.
    scopes: Vec<ScopeCount>,
    /// The last catch-up sync per scope.
    sync: Vec<crate::sync::ScopeSync>,
    /// Members and nodes blocked by the operator.
    blocks: usize,
    /// Federation policy: `open` or `allowlist`.
    policy: &'static str,
    /// Nodes trusted under `allowlist`.
    trusted: usize,
    /// Residents this node admitted.
    members: usize,
    /// Revoked memberships known here (made here or received).
    revocations: usize,
    started_at: String,
    version: &'static str,
    ingest: crate::ingest::Stats,
}

#[derive(Serialize)]
struct ScopeCount {
    scope: String,
    listings: usize,
    /// Whether this node subscribes to the scope's gossip topic.
    subscribed: bool,
}

async fn status(State(st): State<Arc<ApiState>>) -> ApiResult<Json<StatusView>> {
    let s = st.clone();
    let (listings, mut counts) = blocking(move || {
        let store = s.ingest.store();
        Ok::<_, crate::store::StoreError>((store.len()?, store.scope_counts()?))
    })
    .await?
    .map_err(ApiError::internal)?;
    let cfg = st.ingest.config();
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
    let (listen_addrs, peers) = match &st.net {
        Some(n) => (n.listen_addrs().await, n.peers().await.len()),
        None => (vec![], 0),
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
        blocks: st.ingest.blocks().len(),
        policy: st.ingest.policy().as_str(),
        trusted: st.ingest.trusted().len(),
        members: st
            .members
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .list()
            .len(),
        revocations: st.ingest.revocation_count(),
        started_at: crate::view::rfc3339(st.started_at),
        version: env!("CARGO_PKG_VERSION"),
        ingest: st.ingest.stats(),
    }))
}

#[derive(serde::Deserialize, Default)]
struct SyncAsk {
    /// Node id of one connected peer; all connected peers without it.
    peer: Option<String>,
}

/// Starts catch-up sync sessions now.
async fn sync_now(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<SyncAsk>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let ask = match body {
        Ok(Json(a)) => a,
        Err(e) => return Err(ApiError::bad("bad_json", e.body_text())),
    };
    let Some(net) = &st.net else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_network",
            "this node runs without federation (no listen address and no peers)",
        ));
    };
    let started = net.sync_now(ask.peer.clone()).await;
    if started == 0 {
        if let Some(p) = ask.peer {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "no_such_peer",
                format!("{p} is not connected, or a sync with it is already running (see `buurt peers`)"),
            ));
        }
    }
    Ok(Json(json!({ "sessions": started })))
}

/// Connected peers.
async fn peers(State(st): State<Arc<ApiState>>) -> Json<Vec<crate::net::PeerInfo>> {
    match &st.net {
        Some(n) => Json(n.peers().await),
        None => Json(vec![]),
    }
}

/// Query string of `/v1/search`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchParams {
    pub q: String,
    pub kind: Option<String>,
    pub exchange: Option<String>,
    pub topic: Option<String>,
    pub scope: Option<String>,
    pub near: Option<String>,
    pub limit: Option<usize>,
    /// Include reserved, closed and expired listings.
    pub all: bool,
}

fn parse_query(p: SearchParams, max_levels: usize) -> ApiResult<SearchQuery> {
    let kind = match p.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(
            k.parse::<Kind>()
                .map_err(|e| ApiError::bad("bad_kind", e))?,
        ),
    };
    let exchange = match p.exchange.as_deref() {
        None | Some("") => None,
        Some(e) => Some(
            e.parse::<Exchange>()
                .map_err(|e| ApiError::bad("bad_exchange", e))?,
        ),
    };
    let topic = match p.topic.as_deref() {
        None | Some("") => None,
        Some(t) => Some(
            taxonomy::parse_filter(t)
                .ok_or_else(|| ApiError::bad("unknown_topic", format!("unknown topic `{t}`")))?
                .to_owned(),
        ),
    };
    let scope = match p.scope.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            Scope::parse(s, max_levels).map_err(|e| ApiError::bad("bad_scope", e.to_string()))?,
        ),
    };
    let near = match p.near {
        None => None,
        Some(g) if g.is_empty() => None,
        Some(g) => {
            if !buurt_protocol::geohash::is_valid(&g, 12) {
                return Err(ApiError::bad(
                    "bad_geohash",
                    format!("`{g}` is not a geohash"),
                ));
            }
            Some(g)
        }
    };
    let limit = p.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_SEARCH_LIMIT {
        return Err(ApiError::bad(
            "bad_limit",
            format!("limit must be between 1 and {MAX_SEARCH_LIMIT}"),
        ));
    }
    if p.q.len() > 1_000 {
        return Err(ApiError::bad(
            "query_too_long",
            "query is longer than 1000 bytes",
        ));
    }
    Ok(SearchQuery {
        text: p.q,
        kind,
        exchange,
        topic,
        scope,
        near,
        include_inactive: p.all,
        limit,
    })
}

async fn search(
    State(st): State<Arc<ApiState>>,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<ListingView>>> {
    let Query(params) = params.map_err(|e| ApiError::bad("bad_query", e.body_text()))?;
    let q = parse_query(params, st.ingest.config().limits.max_scope_levels)?;
    let now = (st.clock)();
    let s = st.clone();
    let views = blocking(move || -> Result<Vec<ListingView>, String> {
        let hits = s
            .ingest
            .index()
            .search(&q, now)
            .map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(hits.len());
        for h in hits {
            if let Some(l) = s.ingest.store().get(&h.id).map_err(|e| e.to_string())? {
                out.push(ListingView::new(&l).with_score(h.score));
            }
        }
        Ok(out)
    })
    .await?
    .map_err(ApiError::internal)?;
    Ok(Json(views))
}

/// Body of `POST /v1/listings`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostBody {
    /// The signed listing, hex-encoded.
    pub signed: String,
}

/// Answer of `POST /v1/listings`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PostAnswer {
    pub outcome: String,
    pub id: String,
    pub revision_id: String,
    /// Connected peers that follow the listing's scope and were sent it; 0
    /// means stored on this node only, for now (sync delivers it later).
    #[serde(default)]
    pub peers: usize,
}

async fn post_listing(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<PostBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<PostAnswer>)> {
    let Json(body) = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(),
        _ => ApiError::bad("bad_json", e.body_text()),
    })?;
    let bytes = hex::decode(body.signed.trim()).map_err(|_| {
        ApiError::bad(
            "bad_hex",
            "`signed` must be the listing's bytes in hexadecimal",
        )
    })?;
    let now = (st.clock)();
    let s = st.clone();
    let (outcome, decoded_id) = blocking(move || {
        let o = s.ingest.submit(&bytes, Source::Local, now)?;
        if matches!(o, Outcome::Stored(_)) {
            s.ingest.flush()?;
        }
        let id = buurt_protocol::SignedListing::decode(&bytes).map(|l| l.listing_id().to_string());
        Ok::<_, crate::ingest::IngestError>((o, id.unwrap_or_default()))
    })
    .await?
    .map_err(ApiError::internal)?;
    match outcome {
        Outcome::Stored(l) => {
            let (id, revision_id) = (l.listing_id().to_string(), l.content_id().to_string());
            let peers = match &st.net {
                Some(n) => n.publish(buurt_protocol::SignedListing::clone(&l)).await,
                None => 0,
            };
            Ok((
                StatusCode::CREATED,
                Json(PostAnswer {
                    outcome: "stored".into(),
                    id,
                    revision_id,
                    peers,
                }),
            ))
        }
        Outcome::Duplicate(cid) => Ok((
            StatusCode::OK,
            Json(PostAnswer {
                outcome: "duplicate".into(),
                id: decoded_id,
                revision_id: cid.to_string(),
                peers: 0,
            }),
        )),
        Outcome::Superseded(_) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "superseded",
            "a newer revision of this listing is already stored",
        )),
        Outcome::Rejected(r) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            r.code(),
            r.to_string(),
        )),
    }
}

/// Resolves a listing id or unique prefix of one.
pub fn resolve(ingest: &Ingest, text: &str) -> ApiResult<ListingId> {
    let t = text.trim().to_ascii_lowercase();
    if t.is_empty() || t.len() > 32 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad(
            "bad_id",
            format!("`{text}` is not a listing id (hexadecimal, or a prefix of one)"),
        ));
    }
    if let Ok(id) = t.parse::<ListingId>() {
        return Ok(id);
    }
    let ids = ingest
        .store()
        .ids_with_prefix(&t, 2)
        .map_err(ApiError::internal)?;
    match ids.as_slice() {
        [] => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no listing with id starting `{t}`"),
        )),
        [one] => Ok(*one),
        _ => Err(ApiError::new(
            StatusCode::CONFLICT,
            "ambiguous_id",
            format!("more than one listing has an id starting `{t}`: give more characters"),
        )),
    }
}

async fn get_listing(
    State(st): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> ApiResult<Json<ListingView>> {
    let s = st.clone();
    blocking(move || {
        let lid = resolve(&s.ingest, &id)?;
        match s.ingest.store().get(&lid).map_err(ApiError::internal)? {
            Some(l) => Ok(Json(ListingView::new(&l).with_bytes(&l))),
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no listing with id `{id}`"),
            )),
        }
    })
    .await?
}

async fn member_listings(
    State(st): State<Arc<ApiState>>,
    Path(member): Path<String>,
) -> ApiResult<Json<Vec<ListingView>>> {
    let member: MemberId = member
        .parse()
        .map_err(|e: buurt_protocol::IdError| ApiError::bad("bad_member_id", e.to_string()))?;
    let s = st.clone();
    let mut list = blocking(move || s.ingest.store().by_author(&member))
        .await?
        .map_err(ApiError::internal)?;
    list.sort_by_key(|l| std::cmp::Reverse(l.listing.created_at));
    Ok(Json(list.iter().map(ListingView::new).collect()))
}

#[derive(serde::Deserialize)]
struct BlockAsk {
    target: String,
    #[serde(default)]
    reason: String,
}

async fn list_blocks(
    State(st): State<Arc<ApiState>>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<crate::blocks::Block>>> {
    check_operator(&st, &headers)?;
    Ok(Json(st.ingest.blocks()))
}

async fn add_block(
    State(st): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Result<Json<BlockAsk>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    check_operator(&st, &headers)?;
    let Json(ask) = body.map_err(|e| ApiError::bad("bad_json", e.body_text()))?;
    let target =
        crate::blocks::Target::parse(&ask.target).map_err(|e| ApiError::bad("bad_target", e))?;
    if ask.reason.chars().count() > 200 {
        return Err(ApiError::bad(
            "bad_reason",
            "a reason has at most 200 characters",
        ));
    }
    let s = st.clone();
    let now = (st.clock)();
    let (added, removed) = blocking(move || s.ingest.block(target, &ask.reason, now))
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "target": target.text(),
        "kind": target.kind(),
        "new": added,
        "removed": removed,
    })))
}

async fn remove_block(
    State(st): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path(target): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    check_operator(&st, &headers)?;
    let target =
        crate::blocks::Target::parse(&target).map_err(|e| ApiError::bad("bad_target", e))?;
    let s = st.clone();
    let removed = blocking(move || s.ingest.unblock(target))
        .await?
        .map_err(ApiError::internal)?;
    if !removed {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_blocked",
            format!(
                "{} is not blocked (`buurt blocks` lists the blocks)",
                target.text()
            ),
        ));
    }
    Ok(Json(json!({ "target": target.text(), "unblocked": true })))
}

#[derive(serde::Deserialize)]
struct AdmitAsk {
    member_id: String,
    #[serde(default)]
    name: String,
    /// Defaults to the node's own scope.
    scope: Option<String>,
    /// Seconds; defaults to a year.
    valid_secs: Option<i64>,
}

/// Longest a membership certificate may be issued for.
const MAX_VALID_SECS: i64 = 5 * 365 * 86_400;

fn parse_member(text: &str) -> ApiResult<MemberId> {
    text.trim()
        .parse()
        .map_err(|e: buurt_protocol::IdError| ApiError::bad("bad_member_id", e.to_string()))
}

async fn admit(
    State(st): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Result<Json<AdmitAsk>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<crate::members::Member>> {
    check_operator(&st, &headers)?;
    let Json(ask) = body.map_err(|e| ApiError::bad("bad_json", e.body_text()))?;
    let member = parse_member(&ask.member_id)?;
    let cfg = st.ingest.config();
    let scope = match &ask.scope {
        Some(s) => buurt_protocol::Scope::parse(s, cfg.limits.max_scope_levels)
            .map_err(|e| ApiError::bad("bad_scope", e.to_string()))?,
        None => cfg.scope.clone(),
    };
    if !cfg.scope.covers(&scope) {
        return Err(ApiError::bad(
            "bad_scope",
            format!(
                "this node ({}) admits members of its own scope, above or below it, not of {scope}",
                cfg.scope
            ),
        ));
    }
    let valid = ask.valid_secs.unwrap_or(365 * 86_400);
    if !(3_600..=MAX_VALID_SECS).contains(&valid) {
        return Err(ApiError::bad(
            "bad_validity",
            "a membership is valid between one hour and five years",
        ));
    }
    if ask.name.chars().count() > 100 {
        return Err(ApiError::bad(
            "bad_name",
            "a name has at most 100 characters",
        ));
    }
    let now = (st.clock)();
    let s = st.clone();
    let entry = blocking(move || {
        s.members
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .admit(member, &ask.name, scope, now, valid)
    })
    .await?
    .map_err(ApiError::internal)?;
    Ok(Json(entry))
}

/// Revokes a membership here and announces it to the federation.
async fn revoke(
    State(st): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path(member): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    check_operator(&st, &headers)?;
    let member = parse_member(&member)?;
    let now = (st.clock)();
    let s = st.clone();
    let done = blocking(move || -> Result<Option<(Vec<u8>, usize)>, String> {
        let signed = s
            .members
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .revoke(&member, now)?;
        let Some(signed) = signed else {
            return Ok(None);
        };
        let removed = s
            .ingest
            .revoke(&signed)
            .map_err(|e| e.to_string())?
            .map(|(_, n)| n)
            .unwrap_or(0);
        Ok(Some((signed, removed)))
    })
    .await?
    .map_err(ApiError::internal)?;
    let Some((signed, removed)) = done else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_admitted",
            format!("{member} is not a member of this node (`buurt members` lists them)"),
        ));
    };
    if let Some(net) = &st.net {
        net.publish_revocation(signed).await;
    }
    Ok(Json(
        json!({ "member_id": member.to_string(), "removed": removed }),
    ))
}

async fn list_members(
    State(st): State<Arc<ApiState>>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<crate::members::Member>>> {
    check_operator(&st, &headers)?;
    let list = st
        .members
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .list()
        .to_vec();
    Ok(Json(list))
}

/// A member's certificate, for their CLI to fetch: public, since the
/// certificate is public in every listing they post.
async fn member_certificate(
    State(st): State<Arc<ApiState>>,
    Path(member): Path<String>,
) -> ApiResult<Json<crate::members::Member>> {
    let member = parse_member(&member)?;
    let found = st
        .members
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .certificate(&member)
        .cloned();
    found.map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_admitted",
            format!(
                "{member} is not admitted to this node: ask its operator to run `buurt admit {member}`"
            ),
        )
    })
}

#[derive(serde::Deserialize)]
struct TrustAsk {
    node_id: String,
}

fn parse_node(text: &str) -> ApiResult<buurt_protocol::NodeId> {
    text.trim()
        .parse()
        .map_err(|e: buurt_protocol::IdError| ApiError::bad("bad_node_id", e.to_string()))
}

async fn list_trusted(
    State(st): State<Arc<ApiState>>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    check_operator(&st, &headers)?;
    Ok(Json(json!({
        "policy": st.ingest.policy().as_str(),
        "trusted": st.ingest.trusted(),
    })))
}

async fn add_trusted(
    State(st): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Result<Json<TrustAsk>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    check_operator(&st, &headers)?;
    let Json(ask) = body.map_err(|e| ApiError::bad("bad_json", e.body_text()))?;
    let node = parse_node(&ask.node_id)?;
    let s = st.clone();
    let now = (st.clock)();
    let added = blocking(move || s.ingest.trust(node, now))
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "node_id": node.to_string(),
        "new": added,
        "policy": st.ingest.policy().as_str(),
    })))
}

async fn remove_trusted(
    State(st): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path(node): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    check_operator(&st, &headers)?;
    let node = parse_node(&node)?;
    let s = st.clone();
    let removed = blocking(move || s.ingest.untrust(node))
        .await?
        .map_err(ApiError::internal)?;
    if !removed {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_trusted",
            format!("{node} is not trusted (`buurt trusted` lists the trusted nodes)"),
        ));
    }
    Ok(Json(
        json!({ "node_id": node.to_string(), "untrusted": true }),
    ))
}

fn check_operator(st: &ApiState, headers: &HeaderMap) -> ApiResult<()> {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = st.token.as_bytes();
    let ok = given.len() == expected.len()
        && given
            .bytes()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if ok && !expected.is_empty() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "operator_only",
            "this needs the operator token (operator.token in the node's data directory)",
        ))
    }
}

async fn reindex(
    State(st): State<Arc<ApiState>>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    check_operator(&st, &headers)?;
    let s = st.clone();
    let n = blocking(move || {
        s.ingest
            .reindex(&mut |done, total| tracing::info!("reindex {done}/{total}"))
    })
    .await?
    .map_err(ApiError::internal)?;
    Ok(Json(json!({ "indexed": n })))
}
