//! `GET /v1/admin/impact`: the published figures of what sharing did here
//! (operator token), under the rules of `crate::impact::report`; and
//! `POST /v1/impact`: a member reports their agreements, or opts out.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::Json;
use buurt_protocol::calendar;
use serde::{Deserialize, Serialize};

use super::mail::{authorise_call, hex_body, mail_of};
use super::{ApiError, ApiResult, ApiState};
use crate::impact::deals::ReportError;
use crate::impact::report::{report, By};
use crate::impact::{AgreementReport, People, Report, Rules};

/// Query string of `GET /v1/admin/impact`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct ImpactParams {
    /// `YYYY-MM`: the first month counted [default: eleven months before
    /// until]. A date counts its whole month.
    pub since: Option<String>,
    /// `YYYY-MM`: the last month counted [default: this month].
    pub until: Option<String>,
    /// `topic` (the default), `month` or `quarter`.
    pub by: Option<String>,
    /// Only listings (and agreements about listings) of this scope and
    /// below.
    pub scope: Option<String>,
}

/// A month given as `YYYY-MM` (or a date in it, `YYYY-MM-DD`): its first
/// and last day. Figures are counted in whole months, so that no time
/// finer than a month leaves the node.
fn month(v: &Option<String>, what: &str) -> ApiResult<Option<(u32, u32)>> {
    let Some(s) = v.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let first = calendar::parse(s)
        .or_else(|| calendar::parse(&format!("{s}-01")))
        .ok_or_else(|| {
            ApiError::bad(
                "bad_date",
                format!("{what}: `{s}` is not a month like 2026-12"),
            )
        })?;
    Ok(Some(month_of(first)))
}

fn month_of(day: u32) -> (u32, u32) {
    let (y, m, d) = calendar::civil(day);
    let first = day + 1 - u32::from(d);
    (first, first + u32::from(calendar::days_in_month(y, m)) - 1)
}

/// The published impact figures.
///
/// Counted in whole months (twelve up to this month by default), under the
/// publication rules written into the answer: a cell that fewer than
/// `min_residents` distinct residents stand behind is hidden.
#[utoipa::path(
    get,
    path = "/v1/admin/impact",
    tag = "admin",
    security(("operator_token" = [])),
    params(ImpactParams),
    responses(
        (status = 200, description = "The figures, with the rules they were published under", body = Report),
        (status = 400, description = "400: `bad_query`, `bad_date` (not a month, or `since` after `until`), `bad_by`, `bad_scope`"),
        (status = 401, description = "401: `operator_only` (no operator token, or another one)"),
        (status = 500, description = "500: `internal`"),
    )
)]
pub async fn impact(
    State(st): State<Arc<ApiState>>,
    params: Result<Query<ImpactParams>, QueryRejection>,
) -> ApiResult<Json<Report>> {
    let Query(p) = params.map_err(|e| ApiError::bad("bad_query", e.body_text()))?;
    let today = calendar::day_of(st.now());
    let until = month(&p.until, "until")?.unwrap_or(month_of(today)).1;
    // Twelve whole months, by default.
    let since = match month(&p.since, "since")? {
        Some((first, _)) => first,
        None => month_of(until.saturating_sub(360)).0,
    };
    if since > until {
        return Err(ApiError::bad("bad_date", "since is after until"));
    }
    let by: By =
        p.by.as_deref()
            .filter(|b| !b.trim().is_empty())
            .map_or(Ok(By::Topic), str::parse)
            .map_err(|e| ApiError::bad("bad_by", e))?;
    let scope = match p.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(
            buurt_protocol::Scope::parse(text, st.config.limits.max_scope_levels)
                .map_err(|e| ApiError::bad("bad_scope", e.to_string()))?,
        ),
    };
    let s = st.clone();
    let (facts, deals, people) = st
        .blocking(move || match s.ingest.impact() {
            Some(l) => {
                // When each member of this node first joined (kept across
                // renewals); for members admitted before that was kept,
                // their certificate's start less its hour of slack.
                let joined = s
                    .moderation
                    .members()
                    .iter()
                    .filter_map(|m| {
                        let member: buurt_protocol::MemberId = m.member_id.parse().ok()?;
                        let t = time::OffsetDateTime::parse(
                            &m.not_before,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .ok()?;
                        Some((
                            l.pseudonym(&member),
                            calendar::day_of(t.unix_timestamp() + 3_600),
                        ))
                    })
                    .collect::<Vec<_>>();
                let people = People {
                    joined,
                    wrote: l.writers()?,
                };
                Ok((
                    l.facts_in(scope.as_ref())?,
                    l.deals_in(scope.as_ref())?,
                    people,
                ))
            }
            None => Ok((vec![], vec![], People::default())),
        })
        .await?
        .map_err(|e: crate::impact::LedgerError| ApiError::internal(e))?;
    Ok(Json(report(
        &facts,
        &deals,
        &people,
        since,
        until,
        by,
        &Rules::default(),
    )))
}

/// A member's call about the impact figures: their agreements, or their
/// consent. Carried like a watch call: the JSON text of the call, named by
/// the SHA-256 in the member's signed mailbox request.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ImpactCall {
    /// The member's own agreements, as far as each got.
    Agreements { agreements: Vec<AgreementReport> },
    /// Out of (or back into) the figures.
    OptOut { out: bool },
}

/// Body of `POST /v1/impact`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImpactBody {
    /// The member's signed mailbox request (op `call`, naming the SHA-256
    /// of `call`), hex.
    pub request: String,
    /// The JSON text of an [`ImpactCall`].
    pub call: String,
}

/// What the node did with a member's call.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImpactAnswer {
    /// Agreements taken (none while the member is opted out).
    pub taken: usize,
    pub opted_out: bool,
}

pub fn routes() -> axum::Router<Arc<ApiState>> {
    axum::Router::new().route("/v1/impact", axum::routing::post(member_call))
}

/// A member reports their agreements, or opts out of (or back into) the
/// figures.
///
/// `call` is the JSON text of an `ImpactCall` (`{"action": "agreements",
/// "agreements": [...]}` or `{"action": "opt_out", "out": true}`);
/// `request` is the member's signed mailbox request naming its SHA-256.
/// An agreement the node cannot place is skipped, not refused.
#[utoipa::path(
    post,
    path = "/v1/impact",
    tag = "impact",
    request_body = ImpactBody,
    responses(
        (status = 200, description = "Taken; how many agreements, and whether the member is opted out", body = ImpactAnswer),
        (status = 400, description = "400: `bad_json`, `bad_hex`, `bad_op` (the request does not name this call), `not_a_member`, `no_impact`, `bad_call`, `too_many` (over 1,000 agreements)"),
        (status = 403, description = "403: `not_a_member`, `bad_request_signature` (does not verify, stale or replayed)"),
        (status = 413, description = "413: `too_large`"),
        (status = 500, description = "500: `internal`"),
        (status = 503, description = "503: `no_mail`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
async fn member_call(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<ImpactBody>, JsonRejection>,
) -> ApiResult<Json<ImpactAnswer>> {
    let Json(body) = body.map_err(ApiError::bad_json)?;
    let request = hex_body(&body.request, "request")?;
    let mail = mail_of(&st)?;
    let now = st.now();
    let s = st.clone();
    st.blocking(move || {
        let req = authorise_call(&mail, &request, &body.call, now)?;
        if !s.moderation.is_member(&req.member) {
            return Err(ApiError::bad(
                "not_a_member",
                "only this node's members report here",
            ));
        }
        let ledger = s
            .ingest
            .impact()
            .ok_or_else(|| ApiError::bad("no_impact", "this node keeps no impact ledger"))?;
        let call: ImpactCall = serde_json::from_str(&body.call)
            .map_err(|e| ApiError::bad("bad_call", format!("the call is not understood: {e}")))?;
        let mut answer = ImpactAnswer::default();
        match call {
            ImpactCall::Agreements { agreements } => {
                if agreements.len() > MAX_REPORTS {
                    return Err(ApiError::bad(
                        "too_many",
                        format!("at most {MAX_REPORTS} agreements a call"),
                    ));
                }
                for a in &agreements {
                    match ledger.agreement(&req.member, a) {
                        Ok(true) => answer.taken += 1,
                        Ok(false) => {}
                        Err(ReportError::Ledger(e)) => return Err(ApiError::internal(e)),
                        // One agreement the node cannot place does not
                        // spoil the others.
                        Err(_) => {}
                    }
                }
            }
            ImpactCall::OptOut { out } => ledger
                .opt_out(&req.member, out)
                .map_err(ApiError::internal)?,
        }
        answer.opted_out = ledger
            .opted_out(&ledger.pseudonym(&req.member))
            .map_err(ApiError::internal)?;
        ledger.flush().map_err(ApiError::internal)?;
        Ok(Json(answer))
    })
    .await?
}

/// Most agreements one call reports.
pub const MAX_REPORTS: usize = 1_000;
