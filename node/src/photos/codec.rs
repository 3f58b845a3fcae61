//! `/buurt/photo/1` on the wire: the same bounded one-message-per-stream
//! codec as sync and mail, with the photo messages of `buurt-protocol`.

use buurt_protocol::photo::{Request, Response};
use libp2p::StreamProtocol;

use crate::sync::{Codec, Message};

/// The protocol name as libp2p wants it.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new(buurt_protocol::photo::PROTOCOL);
/// How long one peer may take to send a photo.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// Reads and writes photo messages.
pub type PhotoCodec = Codec<Request, Response>;

impl Message for Request {
    const MAX: usize = buurt_protocol::photo::MAX_REQUEST;
    fn to_bytes(&self) -> Vec<u8> {
        self.encode()
    }
    fn from_bytes(b: &[u8]) -> Result<Self, buurt_protocol::DecodeError> {
        Request::decode(b)
    }
}

impl Message for Response {
    const MAX: usize = buurt_protocol::photo::MAX_RESPONSE;
    fn to_bytes(&self) -> Vec<u8> {
        self.encode()
    }
    fn from_bytes(b: &[u8]) -> Result<Self, buurt_protocol::DecodeError> {
        Response::decode(b)
    }
}
