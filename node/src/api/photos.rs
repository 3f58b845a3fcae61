//! Photos through the API: a member's CLI uploads the image bytes (after
//! stripping their location) before it posts the listing that names them;
//! anyone reads a photo by its SHA-256. A photo that a listing here names
//! but that has not arrived yet is asked of the peers when it is read with
//! `?listing=ID`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use buurt_protocol::{ListingId, Photo};
use serde::Deserialize;

use super::{ApiError, ApiResult, ApiState, PathText};
use crate::photos::PutError;

pub fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/v1/photos", post(upload))
        .route("/v1/photos/{sha256}", get(read))
}

fn photos(st: &ApiState) -> ApiResult<Arc<crate::photos::Photos>> {
    st.photos.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_photos",
            "this node keeps no photos",
        )
    })
}

/// `POST /v1/photos`, the raw image bytes: kept, and described as the
/// listing should name it.
///
/// The bytes are the body as they are (the request's content type is not
/// read): a JPEG, PNG or WebP of at most 300 KB.
#[utoipa::path(
    post,
    path = "/v1/photos",
    tag = "photos",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The image bytes"),
    responses(
        (status = 200, description = "Kept; the photo as the listing names it", body = Photo),
        (status = 400, description = "400: `bad_photo`"),
        (status = 413, description = "413: `too_large`"),
        (status = 500, description = "500: `internal`"),
        (status = 503, description = "503: `no_photos`"),
        (status = 507, description = "507: `photos_full`, `storage_full`"),
    )
)]
async fn upload(State(st): State<Arc<ApiState>>, body: Bytes) -> ApiResult<Json<Photo>> {
    let photos = photos(&st)?;
    let put = st.blocking(move || photos.upload(&body)).await?;
    put.map(Json).map_err(|e| match e {
        PutError::Invalid(why) => ApiError::bad("bad_photo", why.to_string()),
        PutError::Full(_) => ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "photos_full",
            e.to_string(),
        ),
        PutError::Io(e) => ApiError::internal(e),
    })
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
struct ReadParams {
    /// A listing that names the photo: if the photo is missing, it is asked
    /// of the peers.
    listing: Option<String>,
}

/// `GET /v1/photos/{sha256}`: the image, with its type.
#[utoipa::path(
    get,
    path = "/v1/photos/{sha256}",
    tag = "photos",
    params(
        ("sha256" = String, Path, description = "The photo's SHA-256, 64 hex characters"),
        ReadParams,
    ),
    responses(
        (status = 200, description = "The image bytes, cached for a year (they never change)", content(
            (Vec<u8> = "image/jpeg"),
            (Vec<u8> = "image/png"),
            (Vec<u8> = "image/webp"),
            (Vec<u8> = "application/octet-stream"),
        )),
        (status = 400, description = "400: `bad_path`, `bad_photo_id`, `bad_listing_id`"),
        (status = 404, description = "404: `photo_fetching` (asked of the peers for the listing named), `photo_not_here`"),
        (status = 500, description = "500: `internal`"),
        (status = 503, description = "503: `no_photos`"),
    )
)]
async fn read(
    State(st): State<Arc<ApiState>>,
    PathText(text): PathText,
    Query(params): Query<ReadParams>,
) -> ApiResult<Response> {
    serve(&st, &text, params.listing).await
}

/// The photo named `text` (hex SHA-256); when it is missing and `listing`
/// names it, the network is asked to fetch it.
pub async fn serve(st: &Arc<ApiState>, text: &str, listing: Option<String>) -> ApiResult<Response> {
    let mut sha = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut sha)
        .map_err(|_| ApiError::bad("bad_photo_id", "a photo is named by 64 hex characters"))?;
    let photos = photos(st)?;
    let p = photos.clone();
    if let Some(bytes) = st.blocking(move || p.get(&sha)).await? {
        let media =
            buurt_protocol::Media::sniff(&bytes).map_or("application/octet-stream", |m| m.mime());
        return Ok((
            [
                (header::CONTENT_TYPE, media),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            bytes,
        )
            .into_response());
    }
    if let (Some(id), Some(net)) = (listing, &st.net) {
        let id: ListingId = super::parse("bad_listing_id", &id)?;
        let s = st.clone();
        let named = st
            .blocking(move || s.store.get(&id))
            .await?
            .map_err(ApiError::internal)?;
        if let Some(photo) = named
            .and_then(|l| l.listing.extras.photo)
            .filter(|ph| ph.sha256 == sha)
        {
            net.want_photo(photo).await;
            return Err(ApiError::not_found(
                "photo_fetching",
                "this node does not have the photo yet; it is asking its peers",
            ));
        }
    }
    Err(ApiError::not_found(
        "photo_not_here",
        "this node does not have that photo",
    ))
}
