//! `/buurt/mail/1` on the event loop: envelopes and reply-key requests from
//! peers are answered in tasks of their own (a home node stores, a relay
//! passes a request on to the home node when it is connected to it — at
//! most one hop), and this node's own requests wait for their answers here.

use std::collections::HashMap;
use std::sync::Arc;

use buurt_protocol::mail::wire::{Request, Response};
use buurt_protocol::mail::Envelope;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::PeerId;
use tokio::sync::{mpsc, Semaphore};

use super::client::{Command, MailReply as Reply, NetClient, SendError};
use super::exchange::{self, Exchange, Failure};
use super::swarm_core::Core;
use crate::clock;
use crate::mail::{Accepted, Mail};
use crate::sync::{self, Wire};

/// Mail requests answered at once; more are told to try again later.
pub const SERVING: usize = 64;

/// An answer to a peer's mail request, computed in a task.
pub struct MailAnswer {
    channel: ResponseChannel<Wire<Response>>,
    response: Response,
    peer: PeerId,
    invalid: bool,
}

/// Mail requests in and out.
pub struct Mailroom {
    mail: Option<Arc<Mail>>,
    weak: mpsc::WeakSender<Command>,
    sync: Arc<sync::Context>,
    pending: HashMap<OutboundRequestId, Reply>,
    serving: Arc<Semaphore>,
    answers: mpsc::Sender<MailAnswer>,
}

impl Mailroom {
    pub fn new(
        mail: Option<Arc<Mail>>,
        weak: mpsc::WeakSender<Command>,
        sync: Arc<sync::Context>,
    ) -> (Mailroom, mpsc::Receiver<MailAnswer>) {
        let (answers, rx) = mpsc::channel(SERVING);
        let m = Mailroom {
            mail,
            weak,
            sync,
            pending: HashMap::new(),
            serving: Arc::new(Semaphore::new(SERVING)),
            answers,
        };
        (m, rx)
    }

    /// A new connection: mail waiting in the outbox may get through now.
    pub fn connected(&self) {
        if let Some(m) = &self.mail {
            m.wake.notify_one();
        }
    }

    /// Sends one of this node's requests to a connected peer.
    pub fn send(&mut self, core: &mut Core, peer: PeerId, request: Request, reply: Reply) {
        if !core.swarm.is_connected(&peer) {
            let _ = reply.send(Err(SendError::NotConnected));
            return;
        }
        let id = core
            .swarm
            .behaviour_mut()
            .mail
            .send_request(&peer, Ok(request));
        self.pending.insert(id, reply);
    }

    pub fn on_event(
        &mut self,
        core: &mut Core,
        event: request_response::Event<Wire<Request>, Wire<Response>>,
    ) {
        match exchange::sort(event, "mail") {
            Exchange::Request {
                peer,
                request,
                channel,
            } => self.on_request(core, peer, request, channel),
            Exchange::Outcome { id, outcome } => {
                if let Some(reply) = self.pending.remove(&id) {
                    let _ = reply.send(outcome.map_err(|f| match f {
                        Failure::Malformed(e) => {
                            SendError::Transport(format!("malformed answer: {e}"))
                        }
                        Failure::Transport(e) => SendError::Transport(e),
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
        request: Wire<Request>,
        channel: ResponseChannel<Wire<Response>>,
    ) {
        let request = match request {
            Ok(r) => r,
            Err(why) => {
                tracing::debug!("malformed mail request from {peer}: {why}");
                respond(core, channel, Response::Refused("malformed request".into()));
                core.count_invalid(peer);
                return;
            }
        };
        let Ok(permit) = self.serving.clone().try_acquire_owned() else {
            return respond(core, channel, Response::Unreachable("busy".into()));
        };
        let mail = self.mail.clone();
        let client = self
            .weak
            .upgrade()
            .map(|tx| NetClient::new(tx, self.sync.clone()));
        let answers = self.answers.clone();
        tokio::spawn(async move {
            let (response, invalid) = answer(mail, client, request).await;
            drop(permit);
            let _ = answers
                .send(MailAnswer {
                    channel,
                    response,
                    peer,
                    invalid,
                })
                .await;
        });
    }
}

fn respond(core: &mut Core, channel: ResponseChannel<Wire<Response>>, r: Response) {
    let _ = core
        .swarm
        .behaviour_mut()
        .mail
        .send_response(channel, Ok(r));
}

/// Sends an answer computed in a task; an invalid envelope counts against
/// the peer that handed it over.
pub fn answered(core: &mut Core, a: MailAnswer) {
    respond(core, a.channel, a.response);
    if a.invalid {
        core.count_invalid(a.peer);
    }
}

/// What this node answers to one mail request: stored, refused, the key,
/// or — when it is not the home node — the home node's own answer through
/// this node (one hop), or unreachable.
async fn answer(
    mail: Option<Arc<Mail>>,
    client: Option<NetClient>,
    request: Request,
) -> (Response, bool) {
    let Some(mail) = mail else {
        return (Response::Refused("this node keeps no mail".into()), false);
    };
    let (home, hop) = match &request {
        Request::Deliver { envelope, hop } => {
            let bytes = envelope.clone();
            let checked = tokio::task::spawn_blocking(move || Envelope::verify(&bytes)).await;
            match checked {
                Ok(Ok(env)) => (env.to_node, *hop),
                Ok(Err(e)) => return (Response::Refused(format!("invalid envelope: {e}")), true),
                Err(e) => return (Response::Unreachable(e.to_string()), false),
            }
        }
        Request::ReplyKey { node, hop, .. } => (*node, *hop),
    };
    if home == mail.node_id() {
        return at_home(mail, request).await;
    }
    if hop > 0 {
        let why = "this node is not the home node, and mail takes at most one relay hop";
        return (Response::Unreachable(why.into()), false);
    }
    let Some(client) = client else {
        return (
            Response::Unreachable("the network has stopped".into()),
            false,
        );
    };
    let Some(peer) = crate::ids::peer_id_of(&home) else {
        return (
            Response::Refused("the home node id is not a key".into()),
            true,
        );
    };
    match client.mail_request(peer, request.relayed()).await {
        Ok(r) => (r, false),
        Err(SendError::NotConnected) => (
            Response::Unreachable("this node is not connected to the home node".into()),
            false,
        ),
        Err(SendError::Transport(e)) => (Response::Unreachable(e), false),
    }
}

/// The home node's answer.
async fn at_home(mail: Arc<Mail>, request: Request) -> (Response, bool) {
    let done = tokio::task::spawn_blocking(move || match request {
        Request::Deliver { envelope, .. } => match mail.deliver(&envelope, clock::now()) {
            Ok(Accepted::Stored | Accepted::Already) => (Response::Stored, false),
            Err(why) => (Response::Refused(why.to_string()), why.is_invalid()),
        },
        Request::ReplyKey { member, .. } => match mail.reply_key(&member, clock::now()) {
            Some((bytes, _)) => (Response::ReplyKey(bytes), false),
            None => (
                Response::Refused("that member has published no reply key here".into()),
                false,
            ),
        },
    })
    .await;
    done.unwrap_or_else(|e| (Response::Unreachable(e.to_string()), false))
}
