//! Error answers: every one is JSON `{"error": "...", "reason": "..."}`
//! with an HTTP status that fits.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::dto::ErrorBody;
use super::MAX_BODY_BYTES;

/// An error answer: HTTP status, a message for people and a stable code.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: &'static str,
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// How an I/O error on a full file system prints (`ENOSPC`).
const ENOSPC: &str = "(os error 28)";

impl ApiError {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            reason,
            message: message.into(),
        }
    }

    /// A request body over [`MAX_BODY_BYTES`].
    pub fn too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("request body is over {MAX_BODY_BYTES} bytes"),
        )
    }

    pub fn bad(reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, reason, message)
    }

    pub fn not_found(reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, reason, message)
    }

    /// A failure of the node itself; logged. A full disk (the node's own
    /// reserve, or the operating system's "no space left") is a 507
    /// `storage_full`, not an error of the node: writes work again once
    /// space is freed.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        let text = e.to_string();
        if text.contains(crate::space::FULL) || text.contains(ENOSPC) {
            return ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "storage_full",
                if text.contains(crate::space::FULL) {
                    text
                } else {
                    format!("{}: {text}", crate::space::FULL)
                },
            );
        }
        tracing::error!("internal error: {text}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", text)
    }

    /// A JSON body that did not parse.
    pub fn bad_json(e: axum::extract::rejection::JsonRejection) -> ApiError {
        match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(),
            _ => ApiError::bad("bad_json", e.body_text()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            reason: self.reason.to_owned(),
        };
        (self.status, Json(body)).into_response()
    }
}
