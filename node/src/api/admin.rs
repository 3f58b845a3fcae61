//! The operator's routes, all under `/v1/admin/` and all behind one layer
//! that checks the bearer token: blocks, admission and revocation, trusted
//! nodes, and rebuilding the search index.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use buurt_protocol::{MemberId, NodeId, Scope};

use super::dto::{
    AdmitAsk, BackupAnswer, BackupAsk, Block, BlockAnswer, BlockAsk, BrokerAsk, Member,
    ReindexAnswer, RevokeAnswer, TrustAnswer, TrustAsk, TrustedList, UnblockAnswer, UntrustAnswer,
};
use super::{parse, ApiError, ApiResult, ApiState, PathText};
use crate::ingest::{Revoked, Source, Vouched};
use crate::moderation::Target;

/// Longest a membership certificate may be issued for.
pub const MAX_VALID_SECS: i64 = 5 * 365 * 86_400;
/// Longest reason given with a block.
pub const MAX_REASON_CHARS: usize = 200;
/// Longest name given to a member.
pub const MAX_NAME_CHARS: usize = 100;

/// The admin routes, with the operator check as a route layer (so an
/// unknown admin path is still a 404, not a 401).
pub fn routes(state: Arc<ApiState>) -> Router<Arc<ApiState>> {
    Router::new()
        .route("/v1/admin/reindex", post(reindex))
        .route("/v1/admin/backup", post(backup))
        .route("/v1/admin/blocks", get(list_blocks).post(add_block))
        .route("/v1/admin/blocks/{target}", delete(remove_block))
        .route("/v1/admin/members", get(list_members).post(admit))
        .route("/v1/admin/members/{member}/revoke", post(revoke))
        .route("/v1/admin/members/{member}/broker", post(set_broker))
        .route("/v1/admin/trusted", get(list_trusted).post(add_trusted))
        .route("/v1/admin/trusted/{node}", delete(remove_trusted))
        .route("/v1/admin/mailboxes", get(list_mailboxes))
        .route("/v1/admin/impact", get(super::impact::impact))
        .route_layer(axum::middleware::from_fn_with_state(state, operator_only))
}

/// Whether the request carries `Authorization: Bearer <operator token>`,
/// compared in constant time.
pub(super) fn has_operator_token(st: &ApiState, headers: &axum::http::HeaderMap) -> bool {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = st.token.as_bytes();
    !expected.is_empty()
        && given.len() == expected.len()
        && given
            .bytes()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Lets a request through only with the operator token.
async fn operator_only(
    State(st): State<Arc<ApiState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if has_operator_token(&st, req.headers()) {
        next.run(req).await
    } else {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "operator_only",
            "this needs the operator token (operator.token in the node's data directory)",
        )
        .into_response()
    }
}

/// A node id in either form (`bn…` or a libp2p peer id).
fn node_id(text: &str) -> ApiResult<NodeId> {
    crate::ids::parse_node_id(text).map_err(|e| ApiError::bad("bad_node_id", e.to_string()))
}

fn target(text: &str) -> ApiResult<Target> {
    Target::parse(text).map_err(|e| ApiError::bad("bad_target", e.to_string()))
}

async fn list_blocks(State(st): State<Arc<ApiState>>) -> Json<Vec<Block>> {
    Json(st.moderation.blocks())
}

/// Blocks a member or node: in force in moderation first, then what it
/// covers is purged from the store (a listing on its way in is checked
/// again under the store's write lock, so none slips between the two).
async fn add_block(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<BlockAsk>, JsonRejection>,
) -> ApiResult<Json<BlockAnswer>> {
    let Json(ask) = body.map_err(ApiError::bad_json)?;
    let t = target(&ask.target)?;
    if ask.reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::bad(
            "bad_reason",
            format!("a reason has at most {MAX_REASON_CHARS} characters"),
        ));
    }
    let s = st.clone();
    let now = st.now();
    let (new, removed) = st
        .blocking(move || -> Result<_, ApiError> {
            let new = s
                .moderation
                .block(t, &ask.reason, now)
                .map_err(ApiError::internal)?;
            let removed = s
                .ingest
                .purge(t.candidates(), |l| t.covers(l))
                .map_err(ApiError::internal)?;
            Ok((new, removed))
        })
        .await??;
    Ok(Json(BlockAnswer {
        target: t.text(),
        kind: t.kind().into(),
        new,
        removed,
    }))
}

async fn remove_block(
    State(st): State<Arc<ApiState>>,
    PathText(text): PathText,
) -> ApiResult<Json<UnblockAnswer>> {
    let t = target(&text)?;
    let s = st.clone();
    let removed = st
        .blocking(move || s.moderation.unblock(t))
        .await?
        .map_err(ApiError::internal)?;
    if !removed {
        return Err(ApiError::not_found(
            "not_blocked",
            format!(
                "{} is not blocked (`buurt blocks` lists the blocks)",
                t.text()
            ),
        ));
    }
    Ok(Json(UnblockAnswer {
        target: t.text(),
        unblocked: true,
    }))
}

async fn admit(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<AdmitAsk>, JsonRejection>,
) -> ApiResult<Json<Member>> {
    let Json(ask) = body.map_err(ApiError::bad_json)?;
    let member: MemberId = parse("bad_member_id", &ask.member_id)?;
    admissible(&member)?;
    let cfg = &st.config;
    let scope = match &ask.scope {
        Some(s) => Scope::parse(s, cfg.limits.max_scope_levels)
            .map_err(|e| ApiError::bad("bad_scope", e.to_string()))?,
        None => cfg.scope.clone(),
    };
    if !cfg.scope.covers(&scope) {
        return Err(ApiError::bad(
            "bad_scope",
            format!(
                "this node ({}) admits members of its own scope, above or below it, not of {scope}",
                cfg.scope
            ),
        ));
    }
    let valid = ask.valid_secs.unwrap_or(365 * 86_400);
    if !(3_600..=MAX_VALID_SECS).contains(&valid) {
        return Err(ApiError::bad(
            "bad_validity",
            "a membership is valid between one hour and five years",
        ));
    }
    if ask.name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::bad(
            "bad_name",
            format!("a name has at most {MAX_NAME_CHARS} characters"),
        ));
    }
    let now = st.now();
    let s = st.clone();
    let broker = ask.broker;
    let entry = st
        .blocking(move || {
            let m = s.moderation.admit(member, &ask.name, scope, now, valid)?;
            if broker {
                return s
                    .moderation
                    .set_broker(&member, true)
                    .map(|b| b.unwrap_or(m));
            }
            Ok(m)
        })
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(entry))
}

/// Refuses a member key that no signature can be trusted with: 32 bytes
/// that are not a point of the curve (`bad_member_id`), or a point of small
/// order (`weak_member_key`), whose signatures every node refuses
/// (docs/protocol.md, section 1).
fn admissible(member: &MemberId) -> ApiResult<()> {
    let key = member.verifying_key().map_err(|_| {
        ApiError::bad(
            "bad_member_id",
            format!("{member} is not an Ed25519 public key (not a point of the curve)"),
        )
    })?;
    if key.is_weak() {
        return Err(ApiError::bad(
            "weak_member_key",
            format!(
                "{member} is an Ed25519 key of small order (a weak key, such as the identity \
                 point): anyone can forge its signatures and every node refuses its listings, \
                 so it is not admitted"
            ),
        ));
    }
    Ok(())
}

/// `POST /v1/admin/members/{member}/broker` with `{"broker": true|false}`:
/// grants or takes back the role of posting for residents without a device.
async fn set_broker(
    State(st): State<Arc<ApiState>>,
    PathText(member): PathText,
    body: Result<Json<BrokerAsk>, JsonRejection>,
) -> ApiResult<Json<Member>> {
    let member: MemberId = parse("bad_member_id", &member)?;
    let Json(ask) = body.map_err(ApiError::bad_json)?;
    let s = st.clone();
    st.blocking(move || s.moderation.set_broker(&member, ask.broker))
        .await?
        .map_err(ApiError::internal)?
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_a_member",
                format!("{member} is not a member of this node; admit them first"),
            )
        })
}

/// Revokes a membership here; ingest takes the revocation in like one from
/// a peer (purging the member's listings) and announces it, so the network
/// publishes it.
async fn revoke(
    State(st): State<Arc<ApiState>>,
    PathText(member): PathText,
) -> ApiResult<Json<RevokeAnswer>> {
    let member: MemberId = parse("bad_member_id", &member)?;
    let now = st.now();
    let s = st.clone();
    let removed = st
        .blocking(move || -> Result<Option<usize>, ApiError> {
            let signed = s
                .moderation
                .revoke_member(&member, now)
                .map_err(ApiError::internal)?;
            let Some(signed) = signed else {
                return Ok(None);
            };
            match s.ingest.take_revocation(&signed, Source::Local) {
                Ok(Revoked::New { removed }) => Ok(Some(removed)),
                Ok(Revoked::Known) => Ok(Some(0)),
                Ok(Revoked::Invalid) => {
                    Err(ApiError::internal("a revocation made here does not verify"))
                }
                Err(e) => Err(ApiError::internal(e)),
            }
        })
        .await??;
    let Some(removed) = removed else {
        return Err(ApiError::not_found(
            "not_admitted",
            format!("{member} is not a member of this node (`buurt members` lists them)"),
        ));
    };
    Ok(Json(RevokeAnswer {
        member_id: member.to_string(),
        removed,
    }))
}

async fn list_members(State(st): State<Arc<ApiState>>) -> Json<Vec<Member>> {
    Json(st.moderation.members())
}

/// Every member's mailbox as the operator may see it: how many letters and
/// how many bytes, never what they hold.
async fn list_mailboxes(
    State(st): State<Arc<ApiState>>,
) -> ApiResult<Json<Vec<crate::mail::Letterbox>>> {
    let Some(mail) = st.mail.clone() else {
        return Ok(Json(vec![]));
    };
    let boxes = st
        .blocking(move || mail.letterboxes())
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(boxes))
}

async fn list_trusted(State(st): State<Arc<ApiState>>) -> Json<TrustedList> {
    Json(TrustedList {
        policy: st.moderation.policy().as_str().to_owned(),
        trusted: st.moderation.trusted(),
    })
}

async fn add_trusted(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<TrustAsk>, JsonRejection>,
) -> ApiResult<Json<TrustAnswer>> {
    let Json(ask) = body.map_err(ApiError::bad_json)?;
    let node = node_id(&ask.node_id)?;
    let note = ask.note.unwrap_or_default();
    if note.len() > buurt_protocol::vouch::MAX_NOTE_BYTES {
        return Err(ApiError::bad(
            "bad_note",
            format!(
                "the note is over {} bytes",
                buurt_protocol::vouch::MAX_NOTE_BYTES
            ),
        ));
    }
    if node.to_string() == st.node_id {
        return Err(ApiError::bad("own_node", "a node cannot vouch for itself"));
    }
    let s = st.clone();
    let now = st.now();
    let (new, grew) = st
        .blocking(move || {
            let (new, bytes, news) = s.moderation.trust(node, &note, now)?;
            let taken = s.ingest.vouch_taken(&bytes, news, Source::Local)?;
            Ok::<_, AnyError>((new, matches!(taken, Vouched::New { grew: true, .. })))
        })
        .await?
        .map_err(ApiError::internal)?;
    if grew {
        if let Some(net) = &st.net {
            net.sync_now(None).await;
        }
    }
    Ok(Json(TrustAnswer {
        node_id: node.to_string(),
        new,
        policy: st.moderation.policy().as_str().to_owned(),
    }))
}

async fn remove_trusted(
    State(st): State<Arc<ApiState>>,
    PathText(node): PathText,
) -> ApiResult<Json<UntrustAnswer>> {
    let node = node_id(&node)?;
    let s = st.clone();
    let now = st.now();
    let (was, removed) = st
        .blocking(move || {
            let (was, bytes, news) = s.moderation.untrust(node, now)?;
            let taken = s.ingest.vouch_taken(&bytes, news, Source::Local)?;
            let removed = match taken {
                Vouched::New { removed, .. } => removed,
                _ => 0,
            };
            Ok::<_, AnyError>((was, removed))
        })
        .await?
        .map_err(ApiError::internal)?;
    if !was {
        return Err(ApiError::not_found(
            "not_trusted",
            format!("{node} is not trusted (`buurt trusted` lists the trusted nodes)"),
        ));
    }
    Ok(Json(UntrustAnswer {
        node_id: node.to_string(),
        untrusted: true,
        removed,
    }))
}

/// Either failure of a trust change.
#[derive(Debug, thiserror::Error)]
enum AnyError {
    #[error(transparent)]
    Moderation(#[from] crate::moderation::ModerationError),
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
}

/// Writes a backup into a new or empty folder, with writes paused while
/// the listings are read.
async fn backup(
    State(st): State<Arc<ApiState>>,
    body: Result<Json<BackupAsk>, JsonRejection>,
) -> ApiResult<Json<BackupAnswer>> {
    let Json(ask) = body.map_err(ApiError::bad_json)?;
    let to = std::path::PathBuf::from(ask.dir.trim());
    if !to.is_absolute() {
        return Err(ApiError::bad(
            "bad_dir",
            "give the backup folder as an absolute path",
        ));
    }
    let s = st.clone();
    let manifest = st
        .blocking(move || {
            let ingest = s.ingest.clone();
            let pause = |f: &mut dyn FnMut()| ingest.paused(f);
            crate::recover::backup::write(&s.dir, &*s.store, &pause, &to, &mut |_| {})
        })
        .await?
        .map_err(|e| match e {
            crate::recover::RecoverError::Refused(m) => ApiError::bad("bad_dir", m),
            other => ApiError::internal(other),
        })?;
    tracing::info!(
        "backup of {} listings written to {}",
        manifest.listings,
        ask.dir.trim()
    );
    Ok(Json(manifest))
}

async fn reindex(State(st): State<Arc<ApiState>>) -> ApiResult<Json<ReindexAnswer>> {
    let s = st.clone();
    let indexed = st
        .blocking(move || {
            s.ingest
                .reindex(&mut |done, total| tracing::info!("reindex {done}/{total}"))
        })
        .await?
        .map_err(ApiError::internal)?;
    Ok(Json(ReindexAnswer { indexed }))
}
