//! A member's watches (alerts) and their notifications, through one route:
//! `POST /v1/watch` with a call (a JSON text) and the member's signed
//! mailbox request naming its SHA-256 (op `call`). Only the member reads or
//! changes their watches; nothing of them leaves this node.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::mail::{authorise_call, hex_body, mail_of};
use super::{ApiError, ApiResult, ApiState};
use crate::watch::{Notification, Watch, WatchError};

pub fn routes() -> Router<Arc<ApiState>> {
    Router::new().route("/v1/watch", post(watch))
}

/// A signed call: `request` (hex) is the member's mailbox request with op
/// `call`, naming the SHA-256 of `call`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WatchBody {
    pub request: String,
    pub call: String,
}

/// What a member asks about their watches: the JSON text of a watch
/// call's `call`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum WatchCall {
    Add {
        text: String,
        #[serde(default)]
        topic: Option<String>,
        #[serde(default)]
        kind: Option<String>,
        #[serde(default)]
        near: Option<String>,
    },
    Remove {
        id: u64,
    },
    List,
    Notifications {
        #[serde(default)]
        after: u64,
    },
}

/// The answer: the member's watches after the call, and what it asked for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WatchAnswer {
    pub watches: Vec<Watch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<Watch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<bool>,
    #[serde(default)]
    pub notifications: Vec<Notification>,
}

/// A member's call about their watches.
///
/// `call` is the JSON text of a `WatchCall` (`add`, `remove`, `list` or
/// `notifications`); `request` is the member's signed mailbox request
/// naming its SHA-256.
#[utoipa::path(
    post,
    path = "/v1/watch",
    tag = "watch",
    request_body = WatchBody,
    responses(
        (status = 200, description = "The member's watches, and what the call asked for", body = WatchAnswer),
        (status = 400, description = "400: `bad_json`, `bad_hex`, `no_watches`, `bad_op`, `bad_call`, `bad_watch`"),
        (status = 403, description = "403: `not_a_member`, `bad_request_signature`"),
        (status = 413, description = "413: `too_large`"),
        (status = 500, description = "500: `internal`"),
        (status = 503, description = "503: `no_mail`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
async fn watch(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<WatchBody>, JsonRejection>,
) -> ApiResult<Json<WatchAnswer>> {
    let Json(body) = body.map_err(ApiError::bad_json)?;
    let request = hex_body(&body.request, "request")?;
    let mail = mail_of(&st)?;
    let watches = st
        .ingest
        .watches()
        .cloned()
        .ok_or_else(|| ApiError::bad("no_watches", "this node keeps no watches"))?;
    let now = st.now();
    st.blocking(move || {
        let req = authorise_call(&mail, &request, &body.call, now)?;
        let call: WatchCall = serde_json::from_str(&body.call)
            .map_err(|e| ApiError::bad("bad_call", format!("the call is not understood: {e}")))?;
        let bad = |e: WatchError| match e {
            WatchError::Db(e) => ApiError::internal(e),
            other => ApiError::bad("bad_watch", other.to_string()),
        };
        let m = req.member;
        let mut answer = WatchAnswer::default();
        match call {
            WatchCall::Add {
                text,
                topic,
                kind,
                near,
            } => {
                answer.added = Some(
                    watches
                        .add(&m, &text, topic, kind, near, now)
                        .map_err(bad)?,
                )
            }
            WatchCall::Remove { id } => answer.removed = Some(watches.remove(&m, id).map_err(bad)?),
            WatchCall::List => {}
            WatchCall::Notifications { after } => {
                answer.notifications = watches.notifications(&m, after).map_err(bad)?
            }
        }
        answer.watches = watches.list(&m).map_err(bad)?;
        Ok(Json(answer))
    })
    .await?
}
