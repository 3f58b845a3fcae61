//! `/buurt/sync/1` on the event loop: requests from peers are answered off
//! the loop (on a blocking thread, with a permit); answers to this node's
//! requests go to the session waiting for them; and sync sessions are
//! started here, one per peer at a time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use buurt_protocol::sync::{Request as SyncRequest, Response as SyncResponse};
use buurt_protocol::Scope;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::PeerId;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::client::{Command, NetClient};
use super::display_peer;
use super::exchange::{self, Exchange, Failure};
use super::swarm_core::Core;
use crate::clock;
use crate::sync::{self, RequestError, Wire};

/// An answer to a sync request, computed off the loop.
pub struct Answer {
    channel: ResponseChannel<Wire<SyncResponse>>,
    response: SyncResponse,
    peer: PeerId,
    malformed: bool,
}

type Reply = oneshot::Sender<Result<SyncResponse, RequestError>>;

/// Sync requests in and out, and the sessions.
pub struct Requests {
    sync: Arc<sync::Context>,
    /// The scopes every session reconciles.
    scopes: Vec<Scope>,
    /// A handle to the loop for the sessions; weak, so that the loop still
    /// ends when the last outside handle is dropped.
    weak: mpsc::WeakSender<Command>,
    /// Sync requests sent, waiting for their answer.
    pending: HashMap<OutboundRequestId, Reply>,
    /// Permits for answering requests off the loop ([`sync::SERVING`]).
    serving: Arc<Semaphore>,
    answers: mpsc::Sender<Answer>,
}

impl Requests {
    /// The request handling, and the receiver of answers computed off the
    /// loop (for the loop to send with [`answered`]).
    pub fn new(
        sync: Arc<sync::Context>,
        scopes: Vec<Scope>,
        weak: mpsc::WeakSender<Command>,
    ) -> (Requests, mpsc::Receiver<Answer>) {
        let (answers, rx) = mpsc::channel(sync::SERVING);
        let r = Requests {
            sync,
            scopes,
            weak,
            pending: HashMap::new(),
            serving: Arc::new(Semaphore::new(sync::SERVING)),
            answers,
        };
        (r, rx)
    }

    /// Sends one of this node's requests; the answer goes to `reply`.
    pub fn send(&mut self, core: &mut Core, peer: PeerId, request: SyncRequest, reply: Reply) {
        let id = core
            .swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, Ok(request));
        self.pending.insert(id, reply);
    }

    pub fn on_event(
        &mut self,
        core: &mut Core,
        event: request_response::Event<Wire<SyncRequest>, Wire<SyncResponse>>,
    ) {
        match exchange::sort(event, "sync") {
            Exchange::Request {
                peer,
                request,
                channel,
            } => self.on_request(core, peer, request, channel),
            Exchange::Outcome { id, outcome } => {
                if let Some(reply) = self.pending.remove(&id) {
                    let _ = reply.send(outcome.map_err(|f| match f {
                        Failure::Malformed(e) => RequestError::Malformed(e),
                        Failure::Transport(e) => RequestError::Transport(e),
                    }));
                }
            }
            Exchange::Nothing => {}
        }
    }

    fn on_request(
        &mut self,
        core: &mut Core,
        peer: PeerId,
        request: Wire<SyncRequest>,
        channel: ResponseChannel<Wire<SyncResponse>>,
    ) {
        let request = match request {
            Ok(r) => r,
            Err(why) => {
                tracing::debug!("malformed sync request from {peer}: {why}");
                let refused = SyncResponse::Refused {
                    reason: "malformed request".into(),
                };
                respond(core, channel, refused);
                core.count_invalid(peer);
                return;
            }
        };
        let Ok(permit) = self.serving.clone().try_acquire_owned() else {
            let busy = SyncResponse::Refused {
                reason: "busy".into(),
            };
            return respond(core, channel, busy);
        };
        let ctx = self.sync.clone();
        let answers = self.answers.clone();
        tokio::task::spawn_blocking(move || {
            let (response, malformed) = sync::serve::answer(&ctx, request, clock::now());
            drop(permit);
            let _ = answers.blocking_send(Answer {
                channel,
                response,
                peer,
                malformed,
            });
        });
    }

    /// Starts a sync session with `peer` after `delay`, unless one is
    /// running. Returns whether it started one.
    pub fn start_session(&self, peer: PeerId, delay: Duration) -> bool {
        let Some(tx) = self.weak.upgrade() else {
            return false;
        };
        if !self.sync.state.begin(peer) {
            return false;
        }
        let client = NetClient::new(tx, self.sync.clone());
        let ctx = self.sync.clone();
        let scopes = self.scopes.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let name = display_peer(&peer);
            let run = sync::session::run(&client, &ctx, peer, &name, &scopes);
            if tokio::time::timeout(sync::SESSION_LIMIT, run)
                .await
                .is_err()
            {
                tracing::warn!("sync session with {name} timed out after {} s; the next one starts at the next round or at `buurt sync`; if this repeats, the peer may be overloaded or its link slow (`buurt peers`)", sync::SESSION_LIMIT.as_secs());
            }
            ctx.state.end(&peer);
        });
        true
    }
}

fn respond(core: &mut Core, channel: ResponseChannel<Wire<SyncResponse>>, r: SyncResponse) {
    let _ = core
        .swarm
        .behaviour_mut()
        .sync
        .send_response(channel, Ok(r));
}

/// Sends an answer computed off the loop; a malformed request counts
/// against the peer.
pub fn answered(core: &mut Core, a: Answer) {
    respond(core, a.channel, a.response);
    if a.malformed {
        core.count_invalid(a.peer);
    }
}
