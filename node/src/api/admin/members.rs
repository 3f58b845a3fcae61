//! `/v1/admin/members`: the members this node admitted, admitting one
//! (issuing their certificate), the broker role, and revoking a membership.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use buurt_protocol::{MemberId, Scope};

use super::{MAX_NAME_CHARS, MAX_VALID_SECS, OPERATOR_ONLY};
use crate::api::dto::{AdmitAsk, BrokerAsk, Member, RevokeAnswer};
use crate::api::{parse, ApiError, ApiResult, ApiState, PathText};
use crate::ingest::{Revoked, Source};

/// The members this node admitted.
#[utoipa::path(
    get,
    path = "/v1/admin/members",
    tag = "admin",
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "Every member, with their certificate", body = Vec<Member>),
        (status = 401, description = OPERATOR_ONLY),
    )
)]
pub(super) async fn list_members(State(st): State<Arc<ApiState>>) -> Json<Vec<Member>> {
    Json(st.moderation.members())
}

/// Admits a member: issues their membership certificate.
///
/// For the node's own scope by default, or a scope it covers; valid a year
/// by default (an hour to five years). Admitting a member again renews the
/// certificate.
#[utoipa::path(
    post,
    path = "/v1/admin/members",
    tag = "admin",
    security(("operator_token" = [])),
    request_body = AdmitAsk,
    responses(
        (status = 200, description = "Admitted; the member with their certificate", body = Member),
        (status = 400, description = "400: `bad_json`, `bad_member_id` (also 32 bytes that are not a point of the curve), `weak_member_key`, `bad_scope`, `bad_validity`, `bad_name`"),
        (status = 401, description = OPERATOR_ONLY),
        (status = 413, description = "413: `too_large`"),
        (status = 500, description = "500: `internal`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
pub(super) async fn admit(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<AdmitAsk>, JsonRejection>,
) -> ApiResult<Json<Member>> {
    let Json(ask) = body.map_err(ApiError::bad_json)?;
    let member: MemberId = parse("bad_member_id", &ask.member_id)?;
    admissible(&member)?;
    let cfg = &st.config;
    let scope = match &ask.scope {
        Some(s) => Scope::parse(s, cfg.limits.max_scope_levels)
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
    if ask.name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::bad(
            "bad_name",
            format!("a name has at most {MAX_NAME_CHARS} characters"),
        ));
    }
    let now = st.now();
    let s = st.clone();
    let broker = ask.broker;
    let entry = st
        .blocking(move || {
            let m = s.moderation.admit(member, &ask.name, scope, now, valid)?;
            if broker {
                return s
                    .moderation
                    .set_broker(&member, true)
                    .map(|b| b.unwrap_or(m));
            }
            Ok(m)
        })
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(entry))
}

/// Refuses a member key that no signature can be trusted with: 32 bytes
/// that are not a point of the curve (`bad_member_id`), or a point of small
/// order (`weak_member_key`), whose signatures every node refuses
/// (docs/protocol.md, section 1).
fn admissible(member: &MemberId) -> ApiResult<()> {
    let key = member.verifying_key().map_err(|_| {
        ApiError::bad(
            "bad_member_id",
            format!("{member} is not an Ed25519 public key (not a point of the curve)"),
        )
    })?;
    if key.is_weak() {
        return Err(ApiError::bad(
            "weak_member_key",
            format!(
                "{member} is an Ed25519 key of small order (a weak key, such as the identity \
                 point): anyone can forge its signatures and every node refuses its listings, \
                 so it is not admitted"
            ),
        ));
    }
    Ok(())
}

/// Grants or takes back the broker role.
///
/// A broker posts for residents without a device (`{"broker": true}`, or
/// `false` to take it back).
#[utoipa::path(
    post,
    path = "/v1/admin/members/{member}/broker",
    tag = "admin",
    security(("operator_token" = [])),
    params(("member" = String, Path, description = "A member id (`bm…`)")),
    request_body = BrokerAsk,
    responses(
        (status = 200, description = "The member with their role", body = Member),
        (status = 400, description = "400: `bad_path`, `bad_member_id`, `bad_json`"),
        (status = 401, description = OPERATOR_ONLY),
        (status = 404, description = "404: `not_a_member`"),
        (status = 413, description = "413: `too_large`"),
        (status = 500, description = "500: `internal`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
pub(super) async fn set_broker(
    State(st): State<Arc<ApiState>>,
    PathText(member): PathText,
    body: Result<Json<BrokerAsk>, JsonRejection>,
) -> ApiResult<Json<Member>> {
    let member: MemberId = parse("bad_member_id", &member)?;
    let Json(ask) = body.map_err(ApiError::bad_json)?;
    let s = st.clone();
    st.blocking(move || s.moderation.set_broker(&member, ask.broker))
        .await?
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_a_member",
                format!("{member} is not a member of this node; admit them first"),
            )
        })
}

/// Revokes a membership.
///
/// Ingest takes the revocation in like one from a peer (purging the
/// member's listings) and announces it, so the network publishes it.
#[utoipa::path(
    post,
    path = "/v1/admin/members/{member}/revoke",
    tag = "admin",
    security(("operator_token" = [])),
    params(("member" = String, Path, description = "A member id (`bm…`)")),
    responses(
        (status = 200, description = "Revoked; the member's listings removed here", body = RevokeAnswer),
        (status = 400, description = "400: `bad_path`, `bad_member_id`"),
        (status = 401, description = OPERATOR_ONLY),
        (status = 404, description = "404: `not_admitted`"),
        (status = 500, description = "500: `internal`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
pub(super) async fn revoke(
    State(st): State<Arc<ApiState>>,
    PathText(member): PathText,
) -> ApiResult<Json<RevokeAnswer>> {
    let member: MemberId = parse("bad_member_id", &member)?;
    let now = st.now();
    let s = st.clone();
    let removed = st
        .blocking(move || -> Result<Option<usize>, ApiError> {
            let signed = s
                .moderation
                .revoke_member(&member, now)
                .map_err(ApiError::internal)?;
            let Some(signed) = signed else {
                return Ok(None);
            };
            match s.ingest.take_revocation(&signed, Source::Local) {
                Ok(Revoked::New { removed }) => Ok(Some(removed)),
                Ok(Revoked::Known) => Ok(Some(0)),
                Ok(Revoked::Invalid) => {
                    Err(ApiError::internal("a revocation made here does not verify"))
                }
                Err(e) => Err(ApiError::internal(e)),
            }
        })
        .await??;
    let Some(removed) = removed else {
        return Err(ApiError::not_found(
            "not_admitted",
            format!("{member} is not a member of this node (`buurt members` lists them)"),
        ));
    };
    Ok(Json(RevokeAnswer {
        member_id: member.to_string(),
        removed,
    }))
}
