//! `/v1/admin/trusted`: the federation policy and the nodes this node
//! vouches for; a vouch made or taken back here is signed, announced and
//! may purge listings of nodes that left the web, or start a sync when the
//! web grew.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;
use buurt_protocol::NodeId;

use super::OPERATOR_ONLY;
use crate::api::dto::{TrustAnswer, TrustAsk, TrustedList, UntrustAnswer};
use crate::api::{ApiError, ApiResult, ApiState, PathText};
use crate::ingest::{Source, Vouched};

/// A node id in either form (`bn…` or a libp2p peer id).
fn node_id(text: &str) -> ApiResult<NodeId> {
    crate::ids::parse_node_id(text).map_err(|e| ApiError::bad("bad_node_id", e.to_string()))
}

/// The federation policy and the nodes trusted.
#[utoipa::path(
    get,
    path = "/v1/admin/trusted",
    tag = "admin",
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "The policy (`open`, `allowlist` or `web`) and the trusted nodes", body = TrustedList),
        (status = 401, description = OPERATOR_ONLY),
    )
)]
pub(super) async fn list_trusted(State(st): State<Arc<ApiState>>) -> Json<TrustedList> {
    Json(TrustedList {
        policy: st.moderation.policy().as_str().to_owned(),
        trusted: st.moderation.trusted(),
    })
}

/// Trusts a node: signs a public vouch for it.
///
/// When the web of vouches grows, a catch-up sync starts.
#[utoipa::path(
    post,
    path = "/v1/admin/trusted",
    tag = "admin",
    security(("operator_token" = [])),
    request_body = TrustAsk,
    responses(
        (status = 200, description = "Trusted; `new` is false when it was trusted already", body = TrustAnswer),
        (status = 400, description = "400: `bad_json`, `bad_node_id`, `bad_note` (over 140 bytes), `own_node`"),
        (status = 401, description = OPERATOR_ONLY),
        (status = 413, description = "413: `too_large`"),
        (status = 500, description = "500: `internal`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
pub(super) async fn add_trusted(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<TrustAsk>, JsonRejection>,
) -> ApiResult<Json<TrustAnswer>> {
    let Json(ask) = body.map_err(ApiError::bad_json)?;
    let node = node_id(&ask.node_id)?;
    let note = ask.note.unwrap_or_default();
    if note.len() > buurt_protocol::vouch::MAX_NOTE_BYTES {
        return Err(ApiError::bad(
            "bad_note",
            format!(
                "the note is over {} bytes",
                buurt_protocol::vouch::MAX_NOTE_BYTES
            ),
        ));
    }
    if node.to_string() == st.node_id {
        return Err(ApiError::bad("own_node", "a node cannot vouch for itself"));
    }
    let s = st.clone();
    let now = st.now();
    let (new, grew) = st
        .blocking(move || {
            let (new, bytes, news) = s.moderation.trust(node, &note, now)?;
            let taken = s.ingest.vouch_taken(&bytes, news, Source::Local)?;
            Ok::<_, AnyError>((new, matches!(taken, Vouched::New { grew: true, .. })))
        })
        .await?
        .map_err(ApiError::internal)?;
    if grew {
        if let Some(net) = &st.net {
            net.sync_now(None).await;
        }
    }
    Ok(Json(TrustAnswer {
        node_id: node.to_string(),
        new,
        policy: st.moderation.policy().as_str().to_owned(),
    }))
}

/// Takes a node's trust back: signs the withdrawal of the vouch.
///
/// Listings of nodes that thereby left the web are removed.
#[utoipa::path(
    delete,
    path = "/v1/admin/trusted/{node}",
    tag = "admin",
    security(("operator_token" = [])),
    params(("node" = String, Path, description = "A node id (`bn…` or `12D3Koo…`)")),
    responses(
        (status = 200, description = "Untrusted; the listings removed with it", body = UntrustAnswer),
        (status = 400, description = "400: `bad_path`, `bad_node_id`"),
        (status = 401, description = OPERATOR_ONLY),
        (status = 404, description = "404: `not_trusted`"),
        (status = 500, description = "500: `internal`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
pub(super) async fn remove_trusted(
    State(st): State<Arc<ApiState>>,
    PathText(node): PathText,
) -> ApiResult<Json<UntrustAnswer>> {
    let node = node_id(&node)?;
    let s = st.clone();
    let now = st.now();
    let (was, removed) = st
        .blocking(move || {
            let (was, bytes, news) = s.moderation.untrust(node, now)?;
            let taken = s.ingest.vouch_taken(&bytes, news, Source::Local)?;
            let removed = match taken {
                Vouched::New { removed, .. } => removed,
                _ => 0,
            };
            Ok::<_, AnyError>((was, removed))
        })
        .await?
        .map_err(ApiError::internal)?;
    if !was {
        return Err(ApiError::not_found(
            "not_trusted",
            format!("{node} is not trusted (`buurt trusted` lists the trusted nodes)"),
        ));
    }
    Ok(Json(UntrustAnswer {
        node_id: node.to_string(),
        untrusted: true,
        removed,
    }))
}

/// Either failure of a trust change.
#[derive(Debug, thiserror::Error)]
enum AnyError {
    #[error(transparent)]
    Moderation(#[from] crate::moderation::ModerationError),
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
}
