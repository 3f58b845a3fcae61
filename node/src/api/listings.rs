//! Listings: post a signed listing, get one by id or prefix, a member's
//! listings, and a member's certificate.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use buurt_protocol::{ListingId, MemberId, Rejection, SignedListing};

use super::dto::{ListingView, Member, PostAnswer, PostBody};
use super::{parse, ApiError, ApiResult, ApiState, PathText};
use crate::ingest::{Outcome, Reason, Source};
use crate::store::Store;

pub fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/v1/listings", post(post_listing))
        .route("/v1/listings/{id}", get(get_listing))
        .route("/v1/members/{member}/listings", get(member_listings))
        .route("/v1/members/{member}/certificate", get(member_certificate))
}

/// The reasons of a refused listing (422): the protocol's rejection codes
/// (`docs/protocol.md`) and those of the node's own policy.
pub const REJECTED: &str = "422: the listing is refused; `reason` is one of the protocol's rules \
     (`too_large`, `malformed`, `bad_scope`, `weak_key`, `bad_certificate`, `certificate_mismatch`, \
     `certificate_not_yet_valid`, `certificate_expired`, `scope_not_covered`, `bad_signature`, \
     `empty_title`, `title_too_long`, `body_too_long`, `too_many_tags`, `bad_tag`, `no_topics`, \
     `too_many_topics`, `unknown_topic`, `duplicate_topic`, `control_character`, \
     `created_in_future`, `expiry_before_creation`, `expired`, `expiry_too_far`, `bad_geohash`, \
     `bad_currency`, `bad_amount`, `bad_unit`, `tombstone_not_empty`, `too_many_windows`, \
     `bad_window`, `window_outside_life`, `bad_recurrence`, `bad_behalf`, `bad_photo`) or of this \
     node's policy (`not_followed`, `blocked`, `untrusted_node`, `unvouched_node`, `revoked`, \
     `rate_limited`, `node_rate_limited`, `private`, `not_a_broker`)";

/// A listing's signed bytes as posted: as they are, with `Content-Type:
/// application/octet-stream`, or hex in JSON (`{"signed": "…"}`).
pub struct Posted(pub Vec<u8>);

impl<S: Send + Sync> FromRequest<S> for Posted {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Posted, ApiError> {
        let raw = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/octet-stream")
            });
        if raw {
            let bytes = Bytes::from_request(req, state).await.map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::too_large()
                } else {
                    ApiError::bad("bad_body", e.body_text())
                }
            })?;
            return Ok(Posted(bytes.to_vec()));
        }
        let Json(body) = Json::<PostBody>::from_request(req, state)
            .await
            .map_err(ApiError::bad_json)?;
        hex::decode(body.signed.trim()).map(Posted).map_err(|_| {
            ApiError::bad(
                "bad_hex",
                "`signed` must be the listing's bytes in hexadecimal",
            )
        })
    }
}

/// Post a listing the resident signed.
///
/// Takes a listing the resident signed: through ingest (which flushes it to
/// disk and announces it for publishing before it returns), then answers.
#[utoipa::path(
    post,
    path = "/v1/listings",
    tag = "listings",
    request_body(
        description = "The signed listing: hex in JSON, or its bytes as they are with `Content-Type: application/octet-stream` (half the bytes, no JSON or hex to read)",
        content(
            (PostBody = "application/json"),
            (Vec<u8> = "application/octet-stream"),
        )
    ),
    responses(
        (status = 201, description = "Stored (`outcome` is `stored`)", body = PostAnswer),
        (status = 200, description = "This exact revision was stored already (`outcome` is `duplicate`)", body = PostAnswer),
        (status = 400, description = "400: `bad_json`, `bad_hex`, `bad_body`"),
        (status = 409, description = "409: `superseded`"),
        (status = 413, description = "413: `too_large`"),
        (status = 422, description = REJECTED),
        (status = 500, description = "500: `internal`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
async fn post_listing(
    State(st): State<Arc<ApiState>>,
    Posted(bytes): Posted,
) -> ApiResult<(StatusCode, Json<PostAnswer>)> {
    let now = st.now();
    let s = st.clone();
    let (outcome, decoded) = st
        .blocking(move || {
            let o = s.ingest.submit(&bytes, Source::Local, now)?;
            Ok::<_, crate::ingest::IngestError>((o, SignedListing::decode(&bytes).ok()))
        })
        .await?
        .map_err(ApiError::internal)?;
    match outcome {
        Outcome::Stored(l) => {
            let peers = match &st.net {
                Some(n) => n.followers(l.listing.scope.clone()).await,
                None => 0,
            };
            let answer = PostAnswer {
                outcome: "stored".into(),
                id: l.listing_id().to_string(),
                revision_id: l.content_id().to_string(),
                peers,
            };
            Ok((StatusCode::CREATED, Json(answer)))
        }
        Outcome::Duplicate(cid) => Ok((
            StatusCode::OK,
            Json(PostAnswer {
                outcome: "duplicate".into(),
                id: decoded
                    .map(|l| l.listing_id().to_string())
                    .unwrap_or_default(),
                revision_id: cid.to_string(),
                peers: 0,
            }),
        )),
        Outcome::Superseded(_) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "superseded",
            "a newer revision of this listing is already stored",
        )),
        Outcome::Rejected(r) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            r.code(),
            explain(&r, decoded.as_ref()),
        )),
    }
}

/// A refusal in words, naming what the listing said where that helps.
fn explain(r: &Reason, l: Option<&SignedListing>) -> String {
    match (r, l) {
        (Reason::Invalid(Rejection::ScopeNotCovered), Some(l)) => format!(
            "the author's membership is for {}, which covers that scope, the scopes above it \
             and those below it, but not {}",
            l.listing.certificate.scope, l.listing.scope
        ),
        _ => r.to_string(),
    }
}

/// Resolves a listing id or unique prefix of one.
pub fn resolve(store: &dyn Store, text: &str) -> ApiResult<ListingId> {
    let t = text.trim().to_ascii_lowercase();
    if t.is_empty() || t.len() > 32 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad(
            "bad_id",
            format!("`{text}` is not a listing id (hexadecimal, or a prefix of one)"),
        ));
    }
    if let Ok(id) = t.parse::<ListingId>() {
        return Ok(id);
    }
    let ids = store.ids_with_prefix(&t, 2).map_err(ApiError::internal)?;
    match ids.as_slice() {
        [] => Err(ApiError::not_found(
            "not_found",
            format!("no listing with id starting `{t}`"),
        )),
        [one] => Ok(*one),
        _ => Err(ApiError::new(
            StatusCode::CONFLICT,
            "ambiguous_id",
            format!("more than one listing has an id starting `{t}`: give more characters"),
        )),
    }
}

/// One listing, with its signed bytes, its history and its author's thanks.
#[utoipa::path(
    get,
    path = "/v1/listings/{id}",
    tag = "listings",
    params(("id" = String, Path, description = "A listing id (32 hex characters) or a unique prefix of one")),
    responses(
        (status = 200, description = "The listing", body = ListingView),
        (status = 400, description = "400: `bad_path`, `bad_id`"),
        (status = 404, description = "404: `not_found`"),
        (status = 409, description = "409: `ambiguous_id`"),
        (status = 410, description = "410: `expired`"),
        (status = 500, description = "500: `internal`"),
    )
)]
async fn get_listing(
    State(st): State<Arc<ApiState>>,
    PathText(id): PathText,
) -> ApiResult<Json<ListingView>> {
    let s = st.clone();
    let now = st.now();
    st.blocking(move || one(&s, &id, now).map(|(v, l)| Json(v.with_bytes(&l))))
        .await?
}

/// One listing by id or unique prefix, with its history and the author's
/// thanks (blocking), and its signed form; `410 expired` once it has
/// expired.
pub fn one(s: &ApiState, id: &str, now: i64) -> ApiResult<(ListingView, SignedListing)> {
    let lid = resolve(&*s.store, id)?;
    match s.store.get(&lid).map_err(ApiError::internal)? {
        // Gone as surely as after the next sweep, which removes it.
        Some(l) if l.listing.expires_at <= now => Err(ApiError::new(
            StatusCode::GONE,
            "expired",
            format!(
                "listing {lid} expired on {}",
                crate::clock::rfc3339(l.listing.expires_at)
            ),
        )),
        Some(l) => {
            let mut v = ListingView::new(&l).with_thanks(s.ingest.thanks(), &l.listing.author);
            if let Some(h) = s.store.history(&lid).map_err(ApiError::internal)? {
                v = v.with_history(h);
            }
            Ok((v, l))
        }
        None => Err(ApiError::not_found(
            "not_found",
            format!("no listing with id `{id}`"),
        )),
    }
}

/// A member's listings that have not expired, newest first.
#[utoipa::path(
    get,
    path = "/v1/members/{member}/listings",
    tag = "listings",
    params(("member" = String, Path, description = "A member id (`bm…`)")),
    responses(
        (status = 200, description = "The member's listings", body = Vec<ListingView>),
        (status = 400, description = "400: `bad_path`, `bad_member_id`"),
        (status = 500, description = "500: `internal`"),
    )
)]
async fn member_listings(
    State(st): State<Arc<ApiState>>,
    PathText(member): PathText,
) -> ApiResult<Json<Vec<ListingView>>> {
    let member: MemberId = parse("bad_member_id", &member)?;
    let s = st.clone();
    let now = st.now();
    let mut list = st
        .blocking(move || s.store.by_author(&member))
        .await?
        .map_err(ApiError::internal)?;
    list.retain(|l| l.listing.expires_at > now);
    list.sort_by_key(|l| std::cmp::Reverse(l.listing.created_at));
    Ok(Json(list.iter().map(ListingView::new).collect()))
}

/// A member's certificate, for their CLI to fetch.
///
/// Public, since the certificate is public in every listing they post.
#[utoipa::path(
    get,
    path = "/v1/members/{member}/certificate",
    tag = "listings",
    params(("member" = String, Path, description = "A member id (`bm…`)")),
    responses(
        (status = 200, description = "The member as this node admitted them, with the certificate", body = Member),
        (status = 400, description = "400: `bad_path`, `bad_member_id`"),
        (status = 404, description = "404: `not_admitted`"),
    )
)]
async fn member_certificate(
    State(st): State<Arc<ApiState>>,
    PathText(member): PathText,
) -> ApiResult<Json<Member>> {
    let member: MemberId = parse("bad_member_id", &member)?;
    st.moderation.certificate(&member).map(Json).ok_or_else(|| {
        ApiError::not_found(
            "not_admitted",
            format!(
                "{member} is not admitted to this node: ask its operator to run `buurt admit {member}`"
            ),
        )
    })
}
