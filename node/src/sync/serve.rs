//! Answering a peer's sync requests. Blocking (reads the store): the event
//! loop runs it on a blocking thread with a permit.

use buurt_protocol::sync::{address_of_sync_id, Request, Response, FRAME_LIMIT, MAX_RESPONSE};
use buurt_protocol::Scope;
use negentropy::Negentropy;

use super::Context;

/// Answers one request at `now`. The flag is true when the request itself
/// was malformed, which counts against the peer.
pub fn answer(ctx: &Context, request: Request, now: i64) -> (Response, bool) {
    let refuse = |reason: &str| Response::Refused {
        reason: reason.to_owned(),
    };
    match request {
        Request::Reconcile { scope, message } => {
            let levels = ctx.config.limits.max_scope_levels;
            let Ok(scope) = Scope::parse(&scope, levels) else {
                return (refuse("bad scope"), true);
            };
            if !ctx.config.follows(&scope) {
                return (refuse("scope not followed"), false);
            }
            let storage = match ctx.items(&scope, now) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(
                        "sync: cannot list scope {scope}: {e}; the database may be damaged: stop \
                         the node and run `buurt check`"
                    );
                    return (refuse("internal error"), false);
                }
            };
            let reply = Negentropy::owned(storage, FRAME_LIMIT as u64)
                .and_then(|mut n| n.reconcile(&message));
            match reply {
                Ok(message) => (Response::Reconcile { message }, false),
                Err(e) => (refuse(&format!("bad negentropy message: {e}")), true),
            }
        }
        Request::Revocations => (
            Response::Revocations {
                revocations: ctx
                    .moderation
                    .revocations(buurt_protocol::sync::MAX_REVOCATIONS),
            },
            false,
        ),
        Request::Vouches => (
            Response::Vouches {
                vouches: ctx.moderation.vouches(buurt_protocol::sync::MAX_VOUCHES),
            },
            false,
        ),
        Request::Thanks { after } => match ctx
            .ingest
            .thanks()
            .page(&after, buurt_protocol::sync::MAX_THANKS)
        {
            Ok((statements, next)) => (Response::Thanks { statements, next }, false),
            Err(e) => {
                tracing::warn!(
                    "sync: cannot list thanks: {e}; the thanks database may be damaged: check \
                     that the data directory is readable"
                );
                (refuse("internal error"), false)
            }
        },
        Request::Fetch { ids } => {
            let mut listings = Vec::new();
            let mut size = 16;
            for id in &ids {
                let got = ctx.store.get(&address_of_sync_id(id));
                let Ok(Some(l)) = got else { continue };
                if l.listing.expires_at <= now {
                    continue;
                }
                if size + l.bytes().len() + 4 > MAX_RESPONSE {
                    break;
                }
                size += l.bytes().len() + 4;
                listings.push(l.bytes().to_vec());
            }
            (Response::Listings { listings }, false)
        }
    }
}
