//! Replies through the API: a member publishes their reply key, looks up
//! another member's, sends sealed letters (the node signs them as the
//! sending node and delivers them), follows their delivery, and fetches and
//! deletes their own mail — every call that touches a mailbox signed by the
//! member. Nothing here opens a letter: the node holds no key that could.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use buurt_protocol::mail::mailbox::Op;
use buurt_protocol::mail::wire::{Request, Response};
use buurt_protocol::mail::{Envelope, ReplyKey};
use buurt_protocol::MemberId;
use serde::Deserialize;

use super::{parse, ApiError, ApiResult, ApiState, PathText};
use crate::mail::{Mail, Refusal};

mod bodies;
pub use bodies::{
    DeleteAnswer, FetchAnswer, MailboxAnswer, ReplyKeyAnswer, Sealed, SendAnswer, SendBody,
    SentView, Signed,
};

/// Longest a send waits for the home node's acknowledgement before it
/// answers with the state so far.
pub const MAX_WAIT_MS: u64 = 10_000;

pub fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/v1/reply-keys", put(put_reply_key))
        .route("/v1/members/{member}/reply-key", get(get_reply_key))
        .route("/v1/mail", post(send))
        .route("/v1/mail/{id}", get(outbox_entry))
        .route("/v1/mailbox", post(mailbox))
}

pub(super) fn mail_of(st: &ApiState) -> ApiResult<Arc<Mail>> {
    st.mail.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_mail",
            "this node keeps no mail",
        )
    })
}

pub(super) fn refused(r: Refusal) -> ApiError {
    match r {
        Refusal::Db(e) => ApiError::internal(e),
        Refusal::NoSuchMailbox => ApiError::new(
            StatusCode::FORBIDDEN,
            "not_a_member",
            "that member is not a member of this node (ask its operator to admit them)",
        ),
        Refusal::Request(why) => ApiError::new(StatusCode::FORBIDDEN, "bad_request_signature", why),
        other => ApiError::bad("refused", other.to_string()),
    }
}

/// A member's call (a watch, an impact report): their signed mailbox
/// request, fresh and never seen, must name the call's SHA-256 (blocking).
pub(super) fn authorise_call(
    mail: &Mail,
    request: &[u8],
    call: &str,
    now: i64,
) -> ApiResult<buurt_protocol::mail::mailbox::MailboxRequest> {
    use sha2::{Digest, Sha256};
    let req = mail.authorise(request, now).map_err(refused)?;
    let digest: [u8; 32] = Sha256::digest(call.as_bytes()).into();
    if req.op != (buurt_protocol::mail::mailbox::Op::Call { digest }) {
        return Err(ApiError::bad(
            "bad_op",
            "the signed request does not name this call",
        ));
    }
    Ok(req)
}

pub(super) fn hex_body(text: &str, what: &str) -> ApiResult<Vec<u8>> {
    hex::decode(text.trim()).map_err(|_| ApiError::bad("bad_hex", format!("`{what}` must be hex")))
}

/// A member of this node publishes their signed reply key.
#[utoipa::path(
    put,
    path = "/v1/reply-keys",
    tag = "mail",
    request_body(content = Signed, description = "`signed`: the member-signed reply key record, hex"),
    responses(
        (status = 200, description = "Kept, and published to the network", body = ReplyKeyAnswer),
        (status = 400, description = "400: `bad_json`, `bad_hex`"),
        (status = 403, description = "403: `not_a_member`, `bad_request_signature`"),
        (status = 413, description = "413: `too_large`"),
        (status = 500, description = "500: `internal`"),
        (status = 503, description = "503: `no_mail`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
async fn put_reply_key(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<Signed>, JsonRejection>,
) -> ApiResult<Json<ReplyKeyAnswer>> {
    let Json(body) = body.map_err(ApiError::bad_json)?;
    let bytes = hex_body(&body.signed, "signed")?;
    let mail = mail_of(&st)?;
    let now = st.now();
    let b = bytes.clone();
    let key = st
        .blocking(move || mail.put_reply_key(&b, now))
        .await?
        .map_err(refused)?;
    if let Some(net) = &st.net {
        net.publish_reply_key(bytes.clone()).await;
    }
    Ok(Json(ReplyKeyAnswer {
        member_id: key.member.to_string(),
        record: hex::encode(bytes),
        not_after: key.not_after,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct KeyQuery {
    /// The member's home node (`bn…`); when left out, this node, or the key
    /// this node heard from the member's home node.
    node: Option<String>,
}

/// A member's reply key.
///
/// From this node's own records, or asked of the member's home node over
/// the network (checked here before it is passed on, and again by the
/// resident).
#[utoipa::path(
    get,
    path = "/v1/members/{member}/reply-key",
    tag = "mail",
    params(
        ("member" = String, Path, description = "A member id (`bm…`), or `operator` for the operator of the home node"),
        KeyQuery,
    ),
    responses(
        (status = 200, description = "The member's signed reply key", body = ReplyKeyAnswer),
        (status = 400, description = "400: `bad_path`, `bad_member_id`, `bad_node_id`"),
        (status = 404, description = "404: `no_reply_key`"),
        (status = 502, description = "502: `home_node_unreachable`, `bad_reply_key`"),
        (status = 503, description = "503: `no_mail`, `no_network`"),
    )
)]
async fn get_reply_key(
    State(st): State<Arc<ApiState>>,
    PathText(member): PathText,
    Query(q): Query<KeyQuery>,
) -> ApiResult<Json<ReplyKeyAnswer>> {
    // `operator` names the home node's operator, to whom reports go.
    let member: MemberId = if member.trim() == "operator" {
        crate::mail::OPERATOR
    } else {
        parse("bad_member_id", &member)?
    };
    let mail = mail_of(&st)?;
    let now = st.now();
    let home = match &q.node {
        Some(n) => {
            crate::ids::parse_node_id(n).map_err(|e| ApiError::bad("bad_node_id", e.to_string()))?
        }
        None => mail.node_id(),
    };
    let none = || {
        ApiError::not_found(
            "no_reply_key",
            format!("{member} has published no reply key at its home node (it must run `buurt inbox` once)"),
        )
    };
    let record = if home == mail.node_id() {
        // Without a node named: a member of this node, else a member of
        // another whose key this node heard (its certificate names the
        // home node).
        let known = || {
            q.node
                .is_none()
                .then(|| mail.foreign_key(&member, now))
                .flatten()
        };
        mail.reply_key(&member, now)
            .or_else(known)
            .map(|(b, _)| b)
            .ok_or_else(none)?
    } else if let Some((b, _)) = mail.foreign_key(&member, now) {
        b
    } else {
        let net = st.net.clone().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_network",
                "this node runs without a network",
            )
        })?;
        let asked = net
            .mail(
                home,
                Request::ReplyKey {
                    hop: 0,
                    node: home,
                    member,
                },
            )
            .await;
        match asked {
            Ok(Response::ReplyKey(b)) => {
                let m = mail.clone();
                let kept = b.clone();
                let _ = st.blocking(move || m.take_reply_key(&kept, now)).await;
                b
            }
            Ok(Response::Refused(_)) => return Err(none()),
            Ok(Response::Unreachable(why)) | Err(why) => {
                return Err(ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "home_node_unreachable",
                    format!("cannot reach the home node {home}: {why}"),
                ))
            }
            Ok(Response::Stored) => return Err(none()),
        }
    };
    let key = ReplyKey::verify(&record, now).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "bad_reply_key",
            format!("the home node sent a reply key that does not verify: {e}"),
        )
    })?;
    if key.member != member && member != crate::mail::OPERATOR {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "bad_reply_key",
            "the home node sent another member's reply key",
        ));
    }
    Ok(Json(ReplyKeyAnswer {
        member_id: key.member.to_string(),
        record: hex::encode(record),
        not_after: key.not_after,
    }))
}

/// Send a member's sealed letters.
///
/// Signs a member's sealed envelopes as this node and queues them; waits a
/// little for the first one's delivery, then answers with every state.
#[utoipa::path(
    post,
    path = "/v1/mail",
    tag = "mail",
    request_body = SendBody,
    responses(
        (status = 202, description = "Queued; each letter's state after the wait", body = SendAnswer),
        (status = 400, description = "400: `bad_json`, `bad_envelope`, `bad_hex`"),
        (status = 403, description = "403: `not_a_member`, `bad_request_signature`"),
        (status = 413, description = "413: `too_large`"),
        (status = 500, description = "500: `internal`"),
        (status = 503, description = "503: `no_mail`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
async fn send(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<SendBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<SendAnswer>)> {
    let Json(body) = body.map_err(ApiError::bad_json)?;
    let mail = mail_of(&st)?;
    if body.envelopes.is_empty() || body.envelopes.len() > 4 {
        return Err(ApiError::bad(
            "bad_envelope",
            "send 1 to 4 envelopes at a time",
        ));
    }
    let envelopes = body
        .envelopes
        .iter()
        .map(Sealed::to_envelope)
        .collect::<ApiResult<Vec<_>>>()?;
    let digest = Envelope::send_digest(&envelopes)
        .map_err(|e| ApiError::bad("bad_envelope", e.to_string()))?;
    let request = hex_body(&body.request, "request")?;
    let now = st.now();
    let m = mail.clone();
    let queued = st
        .blocking(move || {
            let req = m.authorise(&request, now)?;
            match req.op {
                Op::Send { digest: d } if d == digest => {}
                _ => {
                    return Err(Refusal::Request(
                        "the send request does not name these envelopes".into(),
                    ))
                }
            }
            let queued = m.send(envelopes, now)?;
            m.note_writer(&req.member, now);
            Ok(queued)
        })
        .await?
        .map_err(refused)?;
    let wait = Duration::from_millis(body.wait_ms.unwrap_or(3_000).min(MAX_WAIT_MS));
    let mut sent = Vec::with_capacity(queued.len());
    for (i, e) in queued.iter().enumerate() {
        let now_state = if i == 0 && !wait.is_zero() {
            mail.settled(&e.id, wait).await.unwrap_or_else(|| e.clone())
        } else {
            mail.outbox_entry(&e.id)
                .ok()
                .flatten()
                .unwrap_or_else(|| e.clone())
        };
        sent.push(SentView::from(&now_state));
    }
    Ok((StatusCode::ACCEPTED, Json(SendAnswer { sent })))
}

/// Where a letter sent from this node stands.
#[utoipa::path(
    get,
    path = "/v1/mail/{id}",
    tag = "mail",
    params(("id" = String, Path, description = "The letter's id, as the send answered it")),
    responses(
        (status = 200, description = "The letter's state", body = SentView),
        (status = 400, description = "400: `bad_path`"),
        (status = 404, description = "404: `no_such_mail`"),
        (status = 500, description = "500: `internal`"),
        (status = 503, description = "503: `no_mail`"),
    )
)]
async fn outbox_entry(
    State(st): State<Arc<ApiState>>,
    PathText(id): PathText,
) -> ApiResult<Json<SentView>> {
    let mail = mail_of(&st)?;
    match mail.outbox_entry(id.trim()).map_err(ApiError::internal)? {
        Some(e) => Ok(Json(SentView::from(&e))),
        None => Err(ApiError::not_found(
            "no_such_mail",
            "no letter with that id in this node's outbox",
        )),
    }
}

/// A member's signed fetch or delete.
///
/// A fetch answers the letters after its cursor; a delete, how many
/// letters it removed.
#[utoipa::path(
    post,
    path = "/v1/mailbox",
    tag = "mail",
    request_body(content = Signed, description = "`signed`: the member's signed mailbox request (op `fetch` or `delete`), hex"),
    responses(
        (status = 200, description = "A fetch's letters, or a delete's count", body = MailboxAnswer),
        (status = 400, description = "400: `bad_json`, `bad_hex`, `bad_op`"),
        (status = 403, description = "403: `not_a_member`, `bad_request_signature`"),
        (status = 413, description = "413: `too_large`"),
        (status = 500, description = "500: `internal`"),
        (status = 503, description = "503: `no_mail`"),
        (status = 507, description = "507: `storage_full`"),
    )
)]
async fn mailbox(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<Signed>, JsonRejection>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let Json(body) = body.map_err(ApiError::bad_json)?;
    let bytes = hex_body(&body.signed, "signed")?;
    let mail = mail_of(&st)?;
    let now = st.now();
    st.blocking(move || {
        let req = mail.authorise(&bytes, now).map_err(refused)?;
        match req.op {
            Op::Fetch { after } => {
                let letters = mail.fetch(&req.member, after).map_err(ApiError::internal)?;
                let more = letters.len() >= crate::mail::boxes::FETCH_PAGE;
                let last = letters.last().map(|l| l.seq).unwrap_or(after);
                Ok(Json(FetchAnswer {
                    letters,
                    last,
                    more,
                })
                .into_response())
            }
            Op::Delete(ids) => {
                let deleted = mail.delete(&req.member, &ids).map_err(ApiError::internal)?;
                Ok(Json(DeleteAnswer { deleted }).into_response())
            }
            Op::Send { .. } => Err(ApiError::bad("bad_op", "a send goes to POST /v1/mail")),
            Op::Call { .. } => Err(ApiError::bad("bad_op", "a call goes to its own route")),
        }
    })
    .await?
}
