//! `/buurt/sync/1` on the event loop: requests from peers are answered off
//! the loop (on a blocking thread, with a permit); answers to this node's
//! requests go to the session waiting for them; and sync sessions are
//! started here, one per peer at a time.

use std::time::Duration;

use buurt_protocol::sync::{Request as SyncRequest, Response as SyncResponse};
use libp2p::request_response::{self, ResponseChannel};
use libp2p::PeerId;

use super::client::NetClient;
use super::display_peer;
use super::event_loop::EventLoop;
use crate::clock;
use crate::sync::{self, RequestError, Wire};

/// An answer to a sync request, computed off the loop.
pub struct Answer {
    channel: ResponseChannel<Wire<SyncResponse>>,
    response: SyncResponse,
    peer: PeerId,
    malformed: bool,
}

impl EventLoop {
    pub(super) fn on_sync(
        &mut self,
        event: request_response::Event<Wire<SyncRequest>, Wire<SyncResponse>>,
    ) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.on_request(peer, request, channel),
            Event::Message {
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(response.map_err(RequestError::Malformed));
                }
            }
            Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(RequestError::Transport(error.to_string())));
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                tracing::debug!("sync request from {peer} failed: {error}");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    fn respond(&mut self, channel: ResponseChannel<Wire<SyncResponse>>, r: SyncResponse) {
        let _ = self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, Ok(r));
    }

    fn on_request(
        &mut self,
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
                self.respond(channel, refused);
                self.count_invalid(peer);
                return;
            }
        };
        let Ok(permit) = self.serving.clone().try_acquire_owned() else {
            let busy = SyncResponse::Refused {
                reason: "busy".into(),
            };
            return self.respond(channel, busy);
        };
        let ctx = self.sync.clone();
        let answers = self.answers_tx.clone();
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

    pub(super) fn answered(&mut self, a: Answer) {
        self.respond(a.channel, a.response);
        if a.malformed {
            self.count_invalid(a.peer);
        }
    }

    /// Starts a sync session with `peer` after `delay`, unless one is
    /// running. Returns whether it started one.
    pub(super) fn start_session(&mut self, peer: PeerId, delay: Duration) -> bool {
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
                tracing::warn!("sync session with {name} timed out");
            }
            ctx.state.end(&peer);
        });
        true
    }
}
