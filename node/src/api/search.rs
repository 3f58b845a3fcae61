//! `GET /v1/search`: the query string checked into a search query, run
//! against the index, each hit read back from the store.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use buurt_protocol::{taxonomy, Exchange, Kind, Scope, SignedListing};
use serde::Deserialize;

use super::dto::ListingView;
use super::{ApiError, ApiResult, ApiState, MAX_SEARCH_LIMIT};
use crate::search::Query as SearchQuery;

pub fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/v1/search", get(search))
}

/// Query string of `/v1/search`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct SearchParams {
    /// Words to look for, in Dutch or English (at most 1,000 bytes).
    pub q: String,
    /// `offer` or `request`.
    pub kind: Option<String>,
    /// `give`, `lend`, `rent`, `sell`, `help`, `meal` or `swap`.
    pub exchange: Option<String>,
    /// A topic key or label, as `buurt topics` lists them.
    pub topic: Option<String>,
    /// Only listings of this scope and below.
    pub scope: Option<String>,
    /// A geohash: only listings in its cell or the eight cells around it.
    pub near: Option<String>,
    /// `YYYY-MM-DD`: only what is available that day.
    pub available: Option<String>,
    /// Most results, 1 to 500 (default 20).
    pub limit: Option<usize>,
    /// Include reserved and closed listings (expired ones never come back).
    pub all: bool,
}

/// A filter value: `None` when absent or empty, else parsed.
fn filter<T>(
    value: Option<&str>,
    parse: impl FnOnce(&str) -> ApiResult<T>,
) -> ApiResult<Option<T>> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => parse(v).map(Some),
    }
}

pub fn parse_query(p: SearchParams, max_levels: usize) -> ApiResult<SearchQuery> {
    let kind = filter(p.kind.as_deref(), |k| {
        k.parse::<Kind>().map_err(|e| ApiError::bad("bad_kind", e))
    })?;
    let exchange = filter(p.exchange.as_deref(), |e| {
        e.parse::<Exchange>()
            .map_err(|e| ApiError::bad("bad_exchange", e))
    })?;
    let topic = filter(p.topic.as_deref(), |t| {
        taxonomy::parse_filter(t)
            .map(str::to_owned)
            .ok_or_else(|| ApiError::bad("unknown_topic", format!("unknown topic `{t}`")))
    })?;
    let scope = filter(p.scope.as_deref(), |s| {
        Scope::parse(s, max_levels).map_err(|e| ApiError::bad("bad_scope", e.to_string()))
    })?;
    let near = filter(p.near.as_deref(), |g| {
        if buurt_protocol::geohash::is_valid(g, 12) {
            Ok(g.to_owned())
        } else {
            Err(ApiError::bad(
                "bad_geohash",
                format!(
                    "`{g}` is not a geohash: {}",
                    buurt_protocol::geohash::EXPLAINED
                ),
            ))
        }
    })?;
    let available = filter(p.available.as_deref(), |d| {
        buurt_protocol::calendar::parse(d).ok_or_else(|| {
            ApiError::bad("bad_date", format!("`{d}` is not a date like 2026-12-21"))
        })
    })?;
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
        available,
        include_inactive: p.all,
        limit,
    })
}

/// Most records the store reads for a page of the newest listings before
/// the search index is asked instead (a scope filter that few listings
/// match).
const NEWEST_READS: usize = 1_000;

/// With a filter by kind, exchange or topic, the store reads at most this
/// many records per listing of the page (and [`NEWEST_READS`] in all): a
/// filter that few listings pass goes to the index soon.
const FILTERED_READS_PER_HIT: usize = 10;

/// Largest page of the newest listings served without the blocking pool.
const INLINE_PAGE: usize = 100;

/// The page of a newest-only query (no words, no place or date), read
/// from the store's creation-time keys: the listings the index would find,
/// without a pass over every matching document. `None` when the query is
/// not of that kind or the store gave up.
fn newest(s: &ApiState, q: &SearchQuery, now: i64) -> Result<Option<Vec<ListingView>>, ApiError> {
    if !q.is_newest_only() {
        return Ok(None);
    }
    let reads = if q.has_listing_filters() {
        (q.page_size() * FILTERED_READS_PER_HIT).min(NEWEST_READS)
    } else {
        NEWEST_READS
    };
    // A filter that the index says too few listings pass to fill the page
    // within the reads goes to the index at once.
    if q.has_listing_filters() || q.scope.is_some() {
        let expected = s.index.filter_share(q) * reads as f64;
        if expected < q.page_size() as f64 {
            return Ok(None);
        }
    }
    let rule = q.shows_newest(now);
    let shows = |l: &SignedListing| rule(&l.listing);
    let found = s
        .store
        .newest(q.page_size(), reads, &shows)
        .map_err(ApiError::internal)?;
    Ok(found.map(|ls| {
        ls.iter()
            .map(|l| {
                ListingView::new(l)
                    .with_score(0.0)
                    .with_thanks(s.ingest.thanks(), &l.listing.author)
            })
            .collect()
    }))
}

/// Runs a search and reads each hit back from the store, with the author's
/// thanks (blocking: call it on a blocking thread).
pub fn run(s: &ApiState, q: &SearchQuery, now: i64) -> Result<Vec<ListingView>, ApiError> {
    match newest(s, q, now)? {
        Some(page) => Ok(page),
        None => from_index(s, q, now),
    }
}

/// [`run`] through the search index alone.
fn from_index(s: &ApiState, q: &SearchQuery, now: i64) -> Result<Vec<ListingView>, ApiError> {
    s.ingest.searchable().map_err(ApiError::internal)?;
    let hits = s.index.search(q, now).map_err(ApiError::internal)?;
    let mut out = Vec::with_capacity(hits.len());
    for h in hits {
        // Expired ones are gone, as after the next sweep, with --all too.
        match s.store.get(&h.id).map_err(ApiError::internal)? {
            Some(l) if l.listing.expires_at > now => out.push(
                ListingView::new(&l)
                    .with_score(h.score)
                    .with_thanks(s.ingest.thanks(), &l.listing.author),
            ),
            _ => {}
        }
    }
    Ok(out)
}

/// Search the listings this node holds.
#[utoipa::path(
    get,
    path = "/v1/search",
    tag = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "The listings found, best first, each with its `score`", body = Vec<ListingView>),
        (status = 400, description = "400: `bad_query`, `bad_kind`, `bad_exchange`, `unknown_topic`, `bad_scope`, `bad_geohash`, `bad_date`, `bad_limit`, `query_too_long`"),
        (status = 500, description = "500: `internal`"),
    )
)]
async fn search(
    State(st): State<Arc<ApiState>>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Json<Vec<ListingView>>> {
    let Query(params) = params.map_err(|e| ApiError::bad("bad_query", e.body_text()))?;
    let q = parse_query(params, st.config.limits.max_scope_levels)?;
    let now = st.now();
    // A page of the newest listings is a few dozen cached reads: served on
    // the async thread, since the hop to the blocking pool and back costs
    // more here than the page (docs/performance.md). A filtered one may
    // read ten times more, so it goes to the blocking pool.
    let tried = q.page_size() <= INLINE_PAGE && !q.has_listing_filters();
    if tried {
        if let Some(page) = newest(&st, &q, now)? {
            return Ok(Json(page));
        }
    }
    let s = st.clone();
    let views = st
        .blocking(move || {
            if tried {
                from_index(&s, &q, now)
            } else {
                run(&s, &q, now)
            }
        })
        .await??;
    Ok(Json(views))
}
