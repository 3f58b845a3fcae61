//! What the two request-response protocols (`/buurt/sync/1`,
//! `/buurt/mail/1`) share on the event loop: a libp2p event sorted into a
//! request to answer, or the outcome of one of this node's requests.

use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::PeerId;

use crate::sync::{Malformed, Wire};

/// One request-response event, as the loop acts on it.
pub enum Exchange<Req, Res> {
    /// A peer asks; the answer goes to `channel`.
    Request {
        peer: PeerId,
        request: Wire<Req>,
        channel: ResponseChannel<Wire<Res>>,
    },
    /// One of this node's requests was answered, or failed.
    Outcome {
        id: OutboundRequestId,
        outcome: Result<Res, Failure>,
    },
    /// Nothing to do (an answer was sent; an inbound stream failed).
    Nothing,
}

/// Why one of this node's requests got no answer it can use.
pub enum Failure {
    Malformed(Malformed),
    Transport(String),
}

/// Sorts one event; `what` names the protocol in the debug log.
pub fn sort<Req, Res>(
    event: request_response::Event<Wire<Req>, Wire<Res>>,
    what: &str,
) -> Exchange<Req, Res> {
    use request_response::{Event, Message};
    match event {
        Event::Message {
            peer,
            message: Message::Request {
                request, channel, ..
            },
            ..
        } => Exchange::Request {
            peer,
            request,
            channel,
        },
        Event::Message {
            message:
                Message::Response {
                    request_id,
                    response,
                },
            ..
        } => Exchange::Outcome {
            id: request_id,
            outcome: response.map_err(Failure::Malformed),
        },
        Event::OutboundFailure {
            request_id, error, ..
        } => Exchange::Outcome {
            id: request_id,
            outcome: Err(Failure::Transport(error.to_string())),
        },
        Event::InboundFailure { peer, error, .. } => {
            tracing::debug!("{what} request from {peer} failed: {error}");
            Exchange::Nothing
        }
        Event::ResponseSent { .. } => Exchange::Nothing,
    }
}
