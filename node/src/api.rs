//! The HTTP/JSON API under `/v1`, bound to loopback by default.
//!
//! Residents post listings they signed themselves: the node never sees a
//! resident's secret key. Routes live by audience: [`listings`] (post, get,
//! a member's listings, a member's certificate), [`search`], [`status`]
//! (status, peers, sync on demand) and [`admin`] (the operator's routes,
//! all under `/v1/admin/` behind one check of the bearer token from the
//! data directory). Request and response bodies are the public types of
//! [`dto`], which the CLI reads too. Every error is a JSON object
//! `{"error": "...", "reason": "..."}` ([`error`]).

pub mod admin;
pub mod dto;
pub mod error;
pub mod impact;
pub mod listings;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod photos;
pub mod search;
pub mod serve;
pub mod status;
pub mod thanks;
pub mod watch;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::Semaphore;

use crate::clock::Clock;
use crate::config::Config;
use crate::ingest::Ingest;
use crate::moderation::Moderation;
use crate::net::NetClient;
use crate::search::SearchIndex;
use crate::store::Store;

pub use self::dto::{PostAnswer, PostBody};
pub use self::error::{ApiError, ApiResult};

/// Largest request body: a photo (300 KB), or a hex-encoded listing at the
/// wire ceiling plus JSON.
pub const MAX_BODY_BYTES: usize = 320 * 1024;
/// Most results one search returns.
pub const MAX_SEARCH_LIMIT: usize = 500;
/// Requests whose store or index work runs at once on blocking threads;
/// more wait for a permit.
pub const BLOCKING: usize = 64;

/// What the API handlers share.
pub struct ApiState {
    /// Where posts and the operator's revocations enter.
    pub ingest: Arc<Ingest>,
    /// Read directly for gets, listings by member and status.
    pub store: Arc<dyn Store>,
    pub index: Arc<SearchIndex>,
    pub config: Arc<Config>,
    pub moderation: Arc<Moderation>,
    /// The federation; `None` when the node runs without a network.
    pub net: Option<NetClient>,
    pub node_id: String,
    pub member_id: String,
    /// The operator token; admin routes need it as a bearer token.
    pub token: String,
    pub api_addr: String,
    pub started_at: i64,
    pub clock: Arc<dyn Clock>,
    /// Permits for blocking work ([`BLOCKING`]).
    pub work: Semaphore,
    /// Free disk space under the store (`None`: not on disk).
    pub space: Option<Arc<crate::space::Space>>,
    /// The data directory (backups copy its files).
    pub dir: crate::datadir::DataDir,
    /// How a pending repair stands, as the node last looked.
    pub repair: Arc<std::sync::Mutex<Option<crate::recover::repair::Progress>>>,
    /// Mailboxes, outbox and reply keys (`None`: this node keeps no mail).
    pub mail: Option<Arc<crate::mail::Mail>>,
    /// Listings' photos (`None`: this node keeps none).
    pub photos: Option<Arc<crate::photos::Photos>>,
    /// The metrics registry `/metrics` encodes (`None`: none kept).
    pub metrics: Option<Arc<prometheus_client::registry::Registry>>,
}

impl ApiState {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Runs blocking store or index work off the async threads, holding one
    /// of the [`BLOCKING`] permits.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> ApiResult<T> {
        let _permit = self.work.acquire().await.map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(ApiError::internal)
    }
}

/// Builds the router.
pub fn router(state: Arc<ApiState>) -> Router {
    router_with(state, Router::new())
}

/// The API's routes and `extra` (the public board, which `run` adds when
/// it is on), behind the same limits.
pub fn router_with(state: Arc<ApiState>, extra: Router<Arc<ApiState>>) -> Router {
    Router::new()
        .merge(extra)
        .merge(listings::routes())
        .merge(mail::routes())
        .merge(photos::routes())
        .merge(impact::routes())
        .merge(search::routes())
        .merge(status::routes())
        .merge(thanks::routes())
        .merge(watch::routes())
        .merge(admin::routes(state.clone()))
        .merge(metrics::routes())
        .merge(openapi::routes())
        .fallback(|| async { ApiError::not_found("not_found", "no such API route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method (docs/operator.md lists the routes)",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(body_in_time))
        .layer(axum::middleware::from_fn(declared_size_limit))
        .layer(axum::middleware::from_fn(head_limits))
        .layer(axum::middleware::from_fn(metrics::count_requests))
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

/// Longest request target (path and query) taken.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most bytes of headers taken.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Refuses a request whose target or headers are over the limits with a
/// JSON 414 or 431 (hyper's own limit, [`serve::MAX_BUF`], lies above).
async fn head_limits(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri = req.uri().to_string().len();
    if uri > MAX_URI_BYTES {
        return ApiError::new(
            axum::http::StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target is over {MAX_URI_BYTES} bytes"),
        )
        .into_response();
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if headers > MAX_HEADER_BYTES {
        return ApiError::new(
            axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("the request headers are over {MAX_HEADER_BYTES} bytes"),
        )
        .into_response();
    }
    next.run(req).await
}

/// Reads a request's body in full within [`serve::BODY_TIMEOUT`] (a
/// stalled body gets a JSON 408 instead of holding a handler), and at most
/// [`MAX_BODY_BYTES`] of it.
async fn body_in_time(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
    let carries =
        req.headers().contains_key(CONTENT_LENGTH) || req.headers().contains_key(TRANSFER_ENCODING);
    if !carries {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let read = tokio::time::timeout(
        serve::BODY_TIMEOUT,
        axum::body::to_bytes(body, MAX_BODY_BYTES),
    )
    .await;
    match read {
        Ok(Ok(bytes)) => {
            let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
            next.run(req).await
        }
        Ok(Err(e)) if is_length_limit(&e) => ApiError::too_large().into_response(),
        Ok(Err(e)) => {
            ApiError::bad("bad_body", format!("the request body broke off: {e}")).into_response()
        }
        Err(_) => ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!(
                "the request body did not arrive within {} s",
                serve::BODY_TIMEOUT.as_secs()
            ),
        )
        .into_response(),
    }
}

/// Whether reading a body failed on [`MAX_BODY_BYTES`].
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// One path parameter as text; one that does not decode (`%FF`) is a JSON
/// 400, like every other error.
pub struct PathText(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathText {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(p)| PathText(p))
            .map_err(|e| ApiError::bad("bad_path", e.body_text()))
    }
}

/// A parse of a path or body value, as a 400 with `reason`.
pub fn parse<T: std::str::FromStr>(reason: &'static str, text: &str) -> ApiResult<T>
where
    T::Err: std::fmt::Display,
{
    text.trim()
        .parse()
        .map_err(|e: T::Err| ApiError::bad(reason, e.to_string()))
}
