//! `GET /metrics`: the node's metrics in the Prometheus text format, and
//! the layer that counts and times every API request by route.
//!
//! On a loopback API (the default) anyone on the machine may scrape; when
//! the API listens elsewhere, the operator token is needed, like for the
//! admin routes.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiState};

pub fn routes() -> axum::Router<Arc<ApiState>> {
    axum::Router::new().route("/metrics", axum::routing::get(scrape))
}

/// The node's metrics, in the OpenMetrics text format.
///
/// On a loopback API anyone on the machine may scrape; when the API listens
/// beyond loopback, the operator token is needed.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "metrics",
    security((), ("operator_token" = [])),
    responses(
        (status = 200, description = "The metrics", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 401, description = "401: `operator_only` (the API listens beyond loopback and the operator token is missing)"),
        (status = 404, description = "404: `no_metrics` (this node keeps no metrics)"),
        (status = 500, description = "500: `internal`"),
    )
)]
async fn scrape(State(st): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    if !st.config.api.ip().is_loopback() && !super::admin::has_operator_token(&st, &headers) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "operator_only",
            "the API listens beyond loopback: /metrics needs the operator token",
        )
        .into_response();
    }
    let Some(registry) = st.metrics.clone() else {
        return ApiError::not_found("no_metrics", "this node keeps no metrics").into_response();
    };
    refresh(&st).await;
    let text = st
        .blocking(move || {
            let mut out = String::new();
            prometheus_client::encoding::text::encode(&mut out, &registry).map(|_| out)
        })
        .await;
    match text {
        Ok(Ok(body)) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        _ => ApiError::internal("the metrics could not be written").into_response(),
    }
}

/// Sets the gauges: listings (in all and per scope), sizes on disk, peers
/// by path, letters queued.
async fn refresh(st: &Arc<ApiState>) {
    let Some(m) = crate::metrics::get() else {
        return;
    };
    let s = st.clone();
    let counted = st
        .blocking(move || {
            let sizes = (dir_bytes(&s.dir.db_path()), dir_bytes(&s.dir.index_path()));
            Ok::<_, crate::store::StoreError>((s.store.len()?, s.store.scope_counts()?, sizes))
        })
        .await;
    if let Ok(Ok((listings, scopes, (store, index)))) = counted {
        m.listings.set(listings as i64);
        m.listings_by_scope.clear();
        // Scopes this node follows show, empty or not.
        for scope in std::iter::once(&st.config.scope).chain(&st.config.follow) {
            let _ = m.listings_by_scope.get_or_create(&crate::metrics::Scope {
                scope: scope.to_string(),
            });
        }
        for (scope, n) in scopes {
            m.listings_by_scope
                .get_or_create(&crate::metrics::Scope { scope })
                .set(n as i64);
        }
        m.store_bytes.set(store as i64);
        m.index_bytes.set(index as i64);
    }
    let peers = match &st.net {
        Some(n) => n.peers().await,
        None => vec![],
    };
    for path in ["direct", "relayed"] {
        let n = peers.iter().filter(|p| p.path == path).count();
        m.peers
            .get_or_create(&crate::metrics::Path { path })
            .set(n as i64);
    }
    if let Some(mail) = &st.mail {
        m.mail_queued.set(mail.queued() as i64);
    }
}

/// Bytes of the files under `path`.
fn dir_bytes(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

/// Counts and times each request by its route's pattern.
pub async fn count_requests(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let Some(m) = crate::metrics::get() else {
        return next.run(req).await;
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let res = next.run(req).await;
    m.api_seconds
        .get_or_create(&crate::metrics::Route {
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    m.api_requests
        .get_or_create(&crate::metrics::Request {
            route,
            method,
            status: res.status().as_u16(),
        })
        .inc();
    res
}
