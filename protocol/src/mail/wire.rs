//! `/buurt/mail/1` on the wire: one request, one response per stream.
//!
//! ```text
//! request  = 0x01 deliver | hop (1) | length (u32) | signed envelope
//!          | 0x02 reply key | hop (1) | node (32) | member (32)
//! response = 0x81 stored
//!          | 0x82 reply key | length (u16) | signed reply-key record
//!          | 0x83 refused | reason (str16)
//!          | 0x84 unreachable | reason (str16)
//! ```
//!
//! `refused` is the home node's final word (the sender stops trying);
//! `unreachable` comes from a node that is not the home node and cannot
//! reach it now (the sender tries again later, or through another peer).
//!
//! `hop` is 0 when the sender is the envelope's own node (or the asker
//! itself), and 1 when a node passes on what a peer gave it: a node that is
//! not the home node passes a hop-0 request on to the home node if it is
//! connected to it, and answers a hop-1 request with `unreachable` (at most
//! one relay hop).

use crate::codec::{DecodeError, Reader, Writer};
use crate::id::{MemberId, NodeId};

use super::envelope::MAX_ENVELOPE_BYTES;

/// Name of the request-response protocol.
pub const PROTOCOL: &str = "/buurt/mail/1";
/// Largest encoded request.
pub const MAX_REQUEST: usize = MAX_ENVELOPE_BYTES + 16;
/// Largest encoded response.
pub const MAX_RESPONSE: usize = 4 * 1024;

const REQ_DELIVER: u8 = 0x01;
const REQ_KEY: u8 = 0x02;
const RES_STORED: u8 = 0x81;
const RES_KEY: u8 = 0x82;
const RES_REFUSED: u8 = 0x83;
const RES_UNREACHABLE: u8 = 0x84;

/// What one node asks another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Store this envelope in the mailbox it names (or pass it on).
    Deliver { hop: u8, envelope: Vec<u8> },
    /// The current reply-key record of a member of `node`.
    ReplyKey {
        hop: u8,
        node: NodeId,
        member: MemberId,
    },
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Stored durably in the mailbox.
    Stored,
    /// The signed reply-key record (checked by the asker).
    ReplyKey(Vec<u8>),
    /// Not stored, or not known, and why (shown to the sender).
    Refused(String),
    /// This node is not the home node and cannot reach it now.
    Unreachable(String),
}

impl Request {
    /// The same request as passed on by a relay.
    pub fn relayed(&self) -> Request {
        match self.clone() {
            Request::Deliver { envelope, .. } => Request::Deliver { hop: 1, envelope },
            Request::ReplyKey { node, member, .. } => Request::ReplyKey {
                hop: 1,
                node,
                member,
            },
        }
    }

    pub fn hop(&self) -> u8 {
        match self {
            Request::Deliver { hop, .. } | Request::ReplyKey { hop, .. } => *hop,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        match self {
            Request::Deliver { hop, envelope } => {
                w.u8(REQ_DELIVER);
                w.u8(*hop);
                w.bytes(&(envelope.len() as u32).to_be_bytes());
                w.bytes(envelope);
            }
            Request::ReplyKey { hop, node, member } => {
                w.u8(REQ_KEY);
                w.u8(*hop);
                w.bytes(node.as_bytes());
                w.bytes(member.as_bytes());
            }
        }
        // Only lengths over u16 strings fail, and none are written here.
        w.finish().unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Request, DecodeError> {
        let mut r = Reader::new(bytes);
        let req = match r.u8("request")? {
            REQ_DELIVER => {
                let hop = hop(&mut r)?;
                let len = u32::from_be_bytes(r.array("length")?) as usize;
                if len > MAX_ENVELOPE_BYTES {
                    return Err(DecodeError::Truncated("envelope"));
                }
                let envelope = r.take(len, "envelope")?.to_vec();
                Request::Deliver { hop, envelope }
            }
            REQ_KEY => Request::ReplyKey {
                hop: hop(&mut r)?,
                node: NodeId(r.array("node")?),
                member: MemberId(r.array("member")?),
            },
            value => {
                return Err(DecodeError::BadEnum {
                    field: "request",
                    value,
                })
            }
        };
        r.finish()?;
        Ok(req)
    }
}

fn hop(r: &mut Reader) -> Result<u8, DecodeError> {
    match r.u8("hop")? {
        h @ (0 | 1) => Ok(h),
        value => Err(DecodeError::BadEnum {
            field: "hop",
            value,
        }),
    }
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        match self {
            Response::Stored => w.u8(RES_STORED),
            Response::ReplyKey(record) => {
                w.u8(RES_KEY);
                w.bytes(&(record.len().min(u16::MAX as usize) as u16).to_be_bytes());
                w.bytes(record);
            }
            Response::Refused(reason) | Response::Unreachable(reason) => {
                let tag = match self {
                    Response::Refused(_) => RES_REFUSED,
                    _ => RES_UNREACHABLE,
                };
                w.u8(tag);
                let cut: String = reason.chars().take(200).collect();
                w.str16(&cut, "reason");
            }
        }
        w.finish().unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Response, DecodeError> {
        let mut r = Reader::new(bytes);
        let res = match r.u8("response")? {
            RES_STORED => Response::Stored,
            RES_KEY => {
                let len = r.u16("length")? as usize;
                Response::ReplyKey(r.take(len, "reply key")?.to_vec())
            }
            RES_REFUSED => Response::Refused(r.str16("reason")?),
            RES_UNREACHABLE => Response::Unreachable(r.str16("reason")?),
            value => {
                return Err(DecodeError::BadEnum {
                    field: "response",
                    value,
                })
            }
        };
        r.finish()?;
        Ok(res)
    }
}
