//! The API's reference as an OpenAPI 3.1 document, served at
//! `GET /v1/openapi.json`.
//!
//! It is generated from the code: each handler's `#[utoipa::path]` says its
//! route, parameters, body and every status with its reason codes, and the
//! bodies' `ToSchema` derives give their shapes, so the document cannot
//! drift from the types. What every route shares (the limits of
//! `super::router_with` and of `super::serve`, and the JSON error body) is
//! added once here, by [`Shared`]. `node/tests/openapi.rs` holds the
//! document against the routes in the source, both ways; `cli/tests/openapi.rs`
//! asks a running node for every operation in it.

use std::sync::{Arc, OnceLock};

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, OpenApiVersion, Ref, RefOr, Response as Answer};
use utoipa::{Modify, OpenApi};

use super::{admin, impact, listings, mail, metrics, photos, search, status, thanks, watch};
use super::{ApiError, ApiState};

/// The document: every route of the API (not the board's HTML pages).
#[derive(OpenApi)]
#[openapi(
    info(title = "buurt"),
    paths(
        listings::post_listing,
        listings::get_listing,
        listings::member_listings,
        listings::member_certificate,
        search::search,
        status::status,
        status::peers,
        status::sync_now,
        photos::upload,
        photos::read,
        mail::put_reply_key,
        mail::get_reply_key,
        mail::send,
        mail::outbox_entry,
        mail::mailbox,
        thanks::thank,
        thanks::member_thanks,
        watch::watch,
        impact::member_call,
        impact::impact,
        admin::reindex,
        admin::backup,
        admin::list_mailboxes,
        admin::blocks::list_blocks,
        admin::blocks::add_block,
        admin::blocks::remove_block,
        admin::members::list_members,
        admin::members::admit,
        admin::members::set_broker,
        admin::members::revoke,
        admin::trusted::list_trusted,
        admin::trusted::add_trusted,
        admin::trusted::remove_trusted,
        metrics::scrape,
        document,
    ),
    components(schemas(super::dto::ErrorBody, watch::WatchCall, impact::ImpactCall)),
    tags(
        (name = "listings", description = "Post a signed listing; read listings, a member's listings and certificate"),
        (name = "search", description = "Full-text search with filters"),
        (name = "status", description = "The node's status, its peers, catch-up sync on demand"),
        (name = "photos", description = "Upload a listing's photo; read photos by SHA-256"),
        (name = "mail", description = "Reply keys, sealed letters, a member's mailbox (requests signed by the member)"),
        (name = "thanks", description = "A member's thanks and pledges; a member's thanks as counted here"),
        (name = "watch", description = "A member's watches (alerts) and their notifications"),
        (name = "impact", description = "A member reports their agreements for the impact figures, or opts out"),
        (name = "admin", description = "The operator's routes: bearer operator token (`operator.token` in the data directory)"),
        (name = "metrics", description = "Prometheus / OpenMetrics scrape"),
        (name = "openapi", description = "This document"),
    ),
    modifiers(&Shared),
)]
pub struct ApiDoc;

/// What the document says of the API as a whole.
fn description() -> String {
    let common: Vec<String> = common()
        .iter()
        .map(|c| format!("`{} {}` ({})", c.status, c.reason, c.when))
        .collect();
    format!(
        "The HTTP/JSON API of a buurt node (docs/operator.md, \"The API\"), on loopback by \
         default. Every error is JSON `{{\"error\": \"...\", \"reason\": \"code\"}}` \
         (`ErrorBody`) with a 4xx or 5xx status; each answer lists its `reason` codes. Any \
         route may also answer {}. A request that is not HTTP at all is `400 bad_request`, a \
         path that is no route `404 not_found`, and a method a path does not take \
         `405 method_not_allowed`. The operator's routes (`/v1/admin/...`) need \
         `Authorization: Bearer <operator.token>` (security scheme `{}`). The public board's \
         HTML pages (`/`, `/search`, `/listing/{{id}}`, `/photo/{{sha256}}`, `/feed.atom`, \
         `/static/buurt.css`) are no part of this API.",
        common.join(", "),
        admin::OPERATOR_TOKEN,
    )
}

/// An answer any route may give, from the layers every request passes.
struct Common {
    status: u16,
    /// Its name under `components/responses`.
    name: &'static str,
    reason: &'static str,
    when: String,
}

/// The answers of [`super::router_with`]'s layers and of
/// [`super::serve`]'s connection cap, which any route may give, with the
/// limits as the code has them.
fn common() -> [Common; 6] {
    let kib = |n: usize| n / 1024;
    [
        Common {
            status: 400,
            name: "BadBody",
            reason: "bad_body",
            when: "the request body broke off".into(),
        },
        Common {
            status: 408,
            name: "BodyTimeout",
            reason: "body_timeout",
            when: format!(
                "the request body did not arrive within {} s",
                super::serve::BODY_TIMEOUT.as_secs()
            ),
        },
        Common {
            status: 413,
            name: "TooLarge",
            reason: "too_large",
            when: format!(
                "the request body is over {} KiB; refused unread when its Content-Length says so",
                kib(super::MAX_BODY_BYTES)
            ),
        },
        Common {
            status: 414,
            name: "UriTooLong",
            reason: "uri_too_long",
            when: format!(
                "the request target is over {} KiB",
                kib(super::MAX_URI_BYTES)
            ),
        },
        Common {
            status: 431,
            name: "HeadersTooLarge",
            reason: "headers_too_large",
            when: format!(
                "the request headers are over {} KiB",
                kib(super::MAX_HEADER_BYTES)
            ),
        },
        Common {
            status: 503,
            name: "TooManyConnections",
            reason: "too_many_connections",
            when: "the node is at its connection limit (`api_max_connections`); the connection \
                   is closed"
                .into(),
        },
    ]
}

/// Adds what the annotations of single handlers leave out: the version, the
/// description, the operator's security scheme, the answers every route
/// may give ([`common`]), and the JSON error body on every error answer.
pub struct Shared;

impl Modify for Shared {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.openapi = OpenApiVersion::Version31;
        doc.info.title = "buurt".into();
        doc.info.version = env!("CARGO_PKG_VERSION").into();
        doc.info.description = Some(description());
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = Http::builder()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "The operator token: the contents of `operator.token` in the node's data \
                 directory, as `Authorization: Bearer <token>`",
            ))
            .build();
        components.add_security_scheme(admin::OPERATOR_TOKEN, SecurityScheme::Http(bearer));
        let common = common();
        for c in &common {
            let mut answer = Answer::new(format!("{}: `{}` ({})", c.status, c.reason, c.when));
            answer.content.insert(
                "application/json".into(),
                RefOr::T(Content::new(Some(error_body()))),
            );
            components.responses.insert(c.name.into(), RefOr::T(answer));
        }
        for item in doc.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
                &mut item.trace,
            ];
            for op in ops.into_iter().flatten() {
                shared_answers(op, &common);
            }
        }
    }
}

/// `$ref` of the error body's schema.
fn error_body() -> Ref {
    Ref::from_schema_name("ErrorBody")
}

/// Gives `op` the [`common`] answers (a reference when it has none of that
/// status, else a line in its own), and the error body to each of its
/// error answers that names no content.
fn shared_answers(op: &mut Operation, common: &[Common]) {
    let answers = &mut op.responses.responses;
    for c in common {
        let status = c.status.to_string();
        match answers.get_mut(&status) {
            None => {
                answers.insert(status, RefOr::Ref(Ref::from_response_name(c.name)));
            }
            Some(RefOr::T(own)) => {
                let named = format!("`{}`", c.reason);
                if !own.description.contains(&named) {
                    own.description
                        .push_str(&format!("; on any route: {named} ({})", c.when));
                }
            }
            Some(RefOr::Ref(_)) => {}
        }
    }
    for (status, answer) in answers.iter_mut() {
        let error = status.parse::<u16>().is_ok_and(|s| s >= 400);
        if let (true, RefOr::T(a)) = (error, answer) {
            if a.content.is_empty() {
                a.content.insert(
                    "application/json".into(),
                    RefOr::T(Content::new(Some(error_body()))),
                );
            }
        }
    }
}

/// The document as JSON text, made at the first call.
pub fn json() -> Result<&'static str, &'static str> {
    static TEXT: OnceLock<Result<String, String>> = OnceLock::new();
    TEXT.get_or_init(|| ApiDoc::openapi().to_json().map_err(|e| e.to_string()))
        .as_deref()
        .map_err(String::as_str)
}

pub fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/v1/openapi.json", get(document))
}

/// This document: the API's OpenAPI 3.1 reference.
///
/// Public, like the code it is generated from.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "openapi",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", body = Object),
        (status = 500, description = "500: `internal`"),
    )
)]
async fn document() -> Response {
    match json() {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}
