//! `GET /v1/admin/impact`: the published figures of what sharing did here
//! (operator token), under the rules of `crate::impact::report`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use buurt_protocol::calendar;
use serde::Deserialize;

use super::{ApiError, ApiResult, ApiState};
use crate::impact::report::{report, By};
use crate::impact::{Report, Rules};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ImpactParams {
    /// `YYYY-MM-DD`; the first day counted [default: a year before until].
    pub since: Option<String>,
    /// `YYYY-MM-DD`; the last day counted [default: today].
    pub until: Option<String>,
    /// `topic` (the default), `month` or `quarter`.
    pub by: Option<String>,
}

fn day(v: &Option<String>, what: &str) -> ApiResult<Option<u32>> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => calendar::parse(s).map(Some).ok_or_else(|| {
            ApiError::bad(
                "bad_date",
                format!("{what}: `{s}` is not a date like 2026-12-01"),
            )
        }),
    }
}

pub async fn impact(
    State(st): State<Arc<ApiState>>,
    params: Result<Query<ImpactParams>, QueryRejection>,
) -> ApiResult<Json<Report>> {
    let Query(p) = params.map_err(|e| ApiError::bad("bad_query", e.body_text()))?;
    let today = calendar::day_of(st.now());
    let until = day(&p.until, "until")?.unwrap_or(today);
    let since = day(&p.since, "since")?.unwrap_or(until.saturating_sub(365));
    if since > until {
        return Err(ApiError::bad("bad_date", "since is after until"));
    }
    let by: By =
        p.by.as_deref()
            .filter(|b| !b.trim().is_empty())
            .map_or(Ok(By::Topic), str::parse)
            .map_err(|e| ApiError::bad("bad_by", e))?;
    let s = st.clone();
    let facts = st
        .blocking(move || {
            s.ingest
                .impact()
                .map(|l| l.facts())
                .transpose()
                .map(Option::unwrap_or_default)
        })
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(report(&facts, since, until, by, &Rules::default())))
}
