//! Thanks through the API: a member hands their node a signed thanks with
//! its pledge (the node publishes the pledge, and holds the thanks until
//! the other member has thanked too, or for 7 days), and anyone reads a
//! member's thanks as this node counts them.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use buurt_protocol::MemberId;
use serde::{Deserialize, Serialize};

use super::{parse, ApiError, ApiResult, ApiState, PathText};
use crate::thanks::{HoldError, Standing};

pub fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/v1/thanks", post(thank))
        .route("/v1/members/{member}/thanks", get(member_thanks))
}

/// A member's thanks and its pledge, hex.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ThankBody {
    pub thanks: String,
    pub pledge: String,
}

/// What the node did with a thanks.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ThankAnswer {
    /// `held` (until the other member thanks, or `reveal_at`) or
    /// `published`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reveal_at: Option<String>,
}

/// A member of this node hands it a signed thanks and its pledge.
///
/// The pledge is published; the thanks is held until the other member
/// thanks too, or for 7 days.
#[utoipa::path(
    post,
    path = "/v1/thanks",
    tag = "thanks",
    request_body = ThankBody,
    responses(
        (status = 201, description = "Held or published", body = ThankAnswer),
        (status = 400, description = "400: `bad_json`, `bad_thanks`"),
        (status = 409, description = "409: `thanked_already`"),
        (status = 413, description = "413: `too_large`"),
        (status = 500, description = "500: `internal`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
async fn thank(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<ThankBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ThankAnswer>)> {
    let Json(body) = body.map_err(ApiError::bad_json)?;
    let hexed = |s: &str| hex::decode(s).map_err(|_| ApiError::bad("bad_thanks", "not hex"));
    let (thanks, pledge) = (hexed(&body.thanks)?, hexed(&body.pledge)?);
    let s = st.clone();
    let hold = st
        .blocking(move || s.ingest.hold_thanks(&thanks, &pledge))
        .await?
        .map_err(|e| match e {
            HoldError::Bad(m) => ApiError::bad("bad_thanks", m),
            HoldError::Twice => {
                ApiError::new(StatusCode::CONFLICT, "thanked_already", e.to_string())
            }
            HoldError::Book(e) => ApiError::internal(e),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(ThankAnswer {
            state: if hold.reveal_at.is_some() {
                "held".into()
            } else {
                "published".into()
            },
            reveal_at: hold.reveal_at.map(crate::clock::rfc3339),
        }),
    ))
}

/// A member's thanks as this node counts them.
#[utoipa::path(
    get,
    path = "/v1/members/{member}/thanks",
    tag = "thanks",
    params(("member" = String, Path, description = "A member id (`bm…`)")),
    responses(
        (status = 200, description = "The member's thanks", body = Standing),
        (status = 400, description = "400: `bad_path`, `bad_member_id`"),
        (status = 500, description = "500: `internal`"),
    )
)]
async fn member_thanks(
    State(st): State<Arc<ApiState>>,
    PathText(member): PathText,
) -> ApiResult<Json<Standing>> {
    let member: MemberId = parse("bad_member_id", &member)?;
    let s = st.clone();
    let standing = st
        .blocking(move || s.ingest.thanks().standing(&member))
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(standing))
}
