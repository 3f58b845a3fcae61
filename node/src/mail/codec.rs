//! `/buurt/mail/1` on the wire: the same bounded one-message-per-stream
//! codec as sync, with the mail messages of `buurt-protocol`.

use buurt_protocol::mail::wire::{self, Request, Response};
use buurt_protocol::DecodeError;
use libp2p::StreamProtocol;

use crate::sync::{Codec, Message};

/// The protocol name as libp2p wants it.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new(wire::PROTOCOL);

/// Reads and writes mail messages.
pub type MailCodec = Codec<Request, Response>;

impl Message for Request {
    const MAX: usize = wire::MAX_REQUEST;
    fn to_bytes(&self) -> Vec<u8> {
        self.encode()
    }
    fn from_bytes(b: &[u8]) -> Result<Self, DecodeError> {
        Request::decode(b)
    }
}

impl Message for Response {
    const MAX: usize = wire::MAX_RESPONSE;
    fn to_bytes(&self) -> Vec<u8> {
        self.encode()
    }
    fn from_bytes(b: &[u8]) -> Result<Self, DecodeError> {
        Response::decode(b)
    }
}
