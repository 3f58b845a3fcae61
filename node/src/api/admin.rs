//! The operator's routes, all under `/v1/admin/` and all behind one layer
//! that checks the bearer token: blocks ([`blocks`]), admission, the
//! broker role and revocation ([`members`]), trusted nodes ([`trusted`]),
//! mailboxes' sizes, backups, rebuilding the search index, and the impact
//! figures (`super::impact`).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use super::dto::{BackupAnswer, BackupAsk, ReindexAnswer};
use super::{ApiError, ApiResult, ApiState};

pub mod blocks;
pub mod members;
pub mod trusted;

/// Longest a membership certificate may be issued for.
pub const MAX_VALID_SECS: i64 = 5 * 365 * 86_400;
/// Longest reason given with a block.
pub const MAX_REASON_CHARS: usize = 200;
/// Longest name given to a member.
pub const MAX_NAME_CHARS: usize = 100;

/// The security scheme of the OpenAPI document that the admin routes name
/// (the `security` of their `utoipa::path`, which takes only a literal):
/// `Authorization: Bearer <operator.token>`.
pub const OPERATOR_TOKEN: &str = "operator_token";

/// The 401 every admin route gives without the token (`super::impact`,
/// which this module uses, writes it out rather than name this module).
pub const OPERATOR_ONLY: &str = "401: `operator_only` (no operator token, or another one)";

/// The admin routes, with the operator check as a route layer (so an
/// unknown admin path is still a 404, not a 401).
pub fn routes(state: Arc<ApiState>) -> Router<Arc<ApiState>> {
    Router::new()
        .route("/v1/admin/reindex", post(reindex))
        .route("/v1/admin/backup", post(backup))
        .route(
            "/v1/admin/blocks",
            get(blocks::list_blocks).post(blocks::add_block),
        )
        .route("/v1/admin/blocks/{target}", delete(blocks::remove_block))
        .route(
            "/v1/admin/members",
            get(members::list_members).post(members::admit),
        )
        .route("/v1/admin/members/{member}/revoke", post(members::revoke))
        .route(
            "/v1/admin/members/{member}/broker",
            post(members::set_broker),
        )
        .route(
            "/v1/admin/trusted",
            get(trusted::list_trusted).post(trusted::add_trusted),
        )
        .route("/v1/admin/trusted/{node}", delete(trusted::remove_trusted))
        .route("/v1/admin/mailboxes", get(list_mailboxes))
        .route("/v1/admin/impact", get(super::impact::impact))
        .route_layer(axum::middleware::from_fn_with_state(state, operator_only))
}

/// Whether the request carries `Authorization: Bearer <operator token>`,
/// compared in constant time.
pub(super) fn has_operator_token(st: &ApiState, headers: &axum::http::HeaderMap) -> bool {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = st.token.as_bytes();
    !expected.is_empty()
        && given.len() == expected.len()
        && given
            .bytes()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Lets a request through only with the operator token.
async fn operator_only(
    State(st): State<Arc<ApiState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if has_operator_token(&st, req.headers()) {
        next.run(req).await
    } else {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "operator_only",
            "this needs the operator token (operator.token in the node's data directory)",
        )
        .into_response()
    }
}

/// Every member's mailbox as the operator may see it.
///
/// How many letters and how many bytes, never what they hold; an empty
/// list on a node that keeps no mail.
#[utoipa::path(
    get,
    path = "/v1/admin/mailboxes",
    tag = "admin",
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "Letters and bytes per mailbox", body = Vec<crate::mail::Letterbox>),
        (status = 401, description = OPERATOR_ONLY),
        (status = 500, description = "500: `internal`"),
    )
)]
async fn list_mailboxes(
    State(st): State<Arc<ApiState>>,
) -> ApiResult<Json<Vec<crate::mail::Letterbox>>> {
    let Some(mail) = st.mail.clone() else {
        return Ok(Json(vec![]));
    };
    let boxes = st
        .blocking(move || mail.letterboxes())
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(boxes))
}

/// Writes a backup into a new or empty folder.
///
/// Writes are paused while the listings are read; the folder is named as
/// the node's process sees it.
#[utoipa::path(
    post,
    path = "/v1/admin/backup",
    tag = "admin",
    security(("operator_token" = [])),
    request_body = BackupAsk,
    responses(
        (status = 200, description = "Written; what the backup holds", body = BackupAnswer),
        (status = 400, description = "400: `bad_json`, `bad_dir` (not an absolute path, or a folder that is not new or empty)"),
        (status = 401, description = OPERATOR_ONLY),
        (status = 413, description = "413: `too_large`"),
        (status = 500, description = "500: `internal`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
async fn backup(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<BackupAsk>, JsonRejection>,
) -> ApiResult<Json<BackupAnswer>> {
    let Json(ask) = body.map_err(ApiError::bad_json)?;
    let to = std::path::PathBuf::from(ask.dir.trim());
    if !to.is_absolute() {
        return Err(ApiError::bad(
            "bad_dir",
            "give the backup folder as an absolute path",
        ));
    }
    let s = st.clone();
    let manifest = st
        .blocking(move || {
            let ingest = s.ingest.clone();
            let pause = |f: &mut dyn FnMut()| ingest.paused(f);
            crate::recover::backup::write(&s.dir, &*s.store, &pause, &to, &mut |_| {})
        })
        .await?
        .map_err(|e| match e {
            crate::recover::RecoverError::Refused(m) => ApiError::bad("bad_dir", m),
            other => ApiError::internal(other),
        })?;
    tracing::info!(
        "backup of {} listings written to {}",
        manifest.listings,
        ask.dir.trim()
    );
    Ok(Json(manifest))
}

/// Rebuilds the search index from the store.
#[utoipa::path(
    post,
    path = "/v1/admin/reindex",
    tag = "admin",
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "Rebuilt; how many listings it holds", body = ReindexAnswer),
        (status = 401, description = OPERATOR_ONLY),
        (status = 500, description = "500: `internal`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
async fn reindex(State(st): State<Arc<ApiState>>) -> ApiResult<Json<ReindexAnswer>> {
    let s = st.clone();
    let indexed = st
        .blocking(move || {
            s.ingest
                .reindex(&mut |done, total| tracing::info!("reindex {done}/{total}"))
        })
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(ReindexAnswer { indexed }))
}
