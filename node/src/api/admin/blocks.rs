//! `/v1/admin/blocks`: the operator's blocks of members and nodes, listed,
//! added (purging what they cover) and lifted.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;

use super::{MAX_REASON_CHARS, OPERATOR_ONLY};
use crate::api::dto::{Block, BlockAnswer, BlockAsk, UnblockAnswer};
use crate::api::{ApiError, ApiResult, ApiState, PathText};
use crate::moderation::Target;

fn target(text: &str) -> ApiResult<Target> {
    Target::parse(text).map_err(|e| ApiError::bad("bad_target", e.to_string()))
}

/// The blocks in force.
#[utoipa::path(
    get,
    path = "/v1/admin/blocks",
    tag = "admin",
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "Every block, with its reason and when it was made", body = Vec<Block>),
        (status = 401, description = OPERATOR_ONLY),
    )
)]
pub(super) async fn list_blocks(State(st): State<Arc<ApiState>>) -> Json<Vec<Block>> {
    Json(st.moderation.blocks())
}

/// Blocks a member or node.
///
/// In force in moderation first, then what it covers is purged from the
/// store (a listing on its way in is checked again under the store's write
/// lock, so none slips between the two).
#[utoipa::path(
    post,
    path = "/v1/admin/blocks",
    tag = "admin",
    security(("operator_token" = [])),
    request_body = BlockAsk,
    responses(
        (status = 200, description = "In force; `new` is false when it was blocked already", body = BlockAnswer),
        (status = 400, description = "400: `bad_json`, `bad_target` (neither a member id nor a node id), `bad_reason` (over 200 characters)"),
        (status = 401, description = OPERATOR_ONLY),
        (status = 413, description = "413: `too_large`"),
        (status = 500, description = "500: `internal`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
pub(super) async fn add_block(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<BlockAsk>, JsonRejection>,
) -> ApiResult<Json<BlockAnswer>> {
    let Json(ask) = body.map_err(ApiError::bad_json)?;
    let t = target(&ask.target)?;
    if ask.reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::bad(
            "bad_reason",
            format!("a reason has at most {MAX_REASON_CHARS} characters"),
        ));
    }
    let s = st.clone();
    let now = st.now();
    let (new, removed) = st
        .blocking(move || -> Result<_, ApiError> {
            let new = s
                .moderation
                .block(t, &ask.reason, now)
                .map_err(ApiError::internal)?;
            let removed = s
                .ingest
                .purge(t.candidates(), |l| t.covers(l))
                .map_err(ApiError::internal)?;
            Ok((new, removed))
        })
        .await??;
    Ok(Json(BlockAnswer {
        target: t.text(),
        kind: t.kind().into(),
        new,
        removed,
    }))
}

/// Lifts a block.
#[utoipa::path(
    delete,
    path = "/v1/admin/blocks/{target}",
    tag = "admin",
    security(("operator_token" = [])),
    params(("target" = String, Path, description = "The blocked member id (`bm…`) or node id (`bn…` or `12D3Koo…`)")),
    responses(
        (status = 200, description = "Lifted", body = UnblockAnswer),
        (status = 400, description = "400: `bad_path`, `bad_target`"),
        (status = 401, description = OPERATOR_ONLY),
        (status = 404, description = "404: `not_blocked`"),
        (status = 500, description = "500: `internal`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
pub(super) async fn remove_block(
    State(st): State<Arc<ApiState>>,
    PathText(text): PathText,
) -> ApiResult<Json<UnblockAnswer>> {
    let t = target(&text)?;
    let s = st.clone();
    let removed = st
        .blocking(move || s.moderation.unblock(t))
        .await?
        .map_err(ApiError::internal)?;
    if !removed {
        return Err(ApiError::not_found(
            "not_blocked",
            format!(
                "{} is not blocked (`buurt blocks` lists the blocks)",
                t.text()
            ),
        ));
    }
    Ok(Json(UnblockAnswer {
        target: t.text(),
        unblocked: true,
    }))
}
