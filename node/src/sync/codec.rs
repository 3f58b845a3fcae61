//! The request-response protocols on the wire (`/buurt/sync/1`, and
//! `/buurt/mail/1` with the same codec): the whole stream is one message
//! (the sender closes its side), read with a size bound, decoded by
//! `buurt-protocol`.

use std::io;
use std::marker::PhantomData;

use buurt_protocol::sync::{Request, Response, MAX_REQUEST, MAX_RESPONSE};
use buurt_protocol::DecodeError;
use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::{request_response, StreamProtocol};

/// The protocol name as libp2p wants it.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new(buurt_protocol::sync::PROTOCOL);

/// Why a message from a peer was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("over {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Decode(#[from] DecodeError),
}

/// A message as read from a stream: decoded, or why it did not decode.
/// Decoding happens in the codec, but a message that does not decode must
/// reach the event loop (to count against the peer) rather than vanish as a
/// stream error, so it travels as `Err`.
pub type Wire<T> = Result<T, Malformed>;

/// A message of one of the protocols: its size bound and its encoding.
pub trait Message: Sized + Send + 'static {
    /// Largest encoded message read.
    const MAX: usize;
    fn to_bytes(&self) -> Vec<u8>;
    fn from_bytes(b: &[u8]) -> Result<Self, DecodeError>;
}

impl Message for Request {
    const MAX: usize = MAX_REQUEST;
    fn to_bytes(&self) -> Vec<u8> {
        self.encode()
    }
    fn from_bytes(b: &[u8]) -> Result<Self, DecodeError> {
        Request::decode(b)
    }
}

impl Message for Response {
    const MAX: usize = MAX_RESPONSE;
    fn to_bytes(&self) -> Vec<u8> {
        self.encode()
    }
    fn from_bytes(b: &[u8]) -> Result<Self, DecodeError> {
        Response::decode(b)
    }
}

/// Reads and writes the messages of one protocol.
pub struct Codec<Req, Res>(PhantomData<fn() -> (Req, Res)>);

impl<Req, Res> Clone for Codec<Req, Res> {
    fn clone(&self) -> Self {
        Codec(PhantomData)
    }
}

impl<Req, Res> Default for Codec<Req, Res> {
    fn default() -> Self {
        Codec(PhantomData)
    }
}

/// Reads and writes sync messages.
pub type SyncCodec = Codec<Request, Response>;

async fn read_bounded<T: AsyncRead + Unpin + Send>(
    io: &mut T,
    max: usize,
) -> io::Result<Result<Vec<u8>, Malformed>> {
    let mut buf = Vec::new();
    io.take(max as u64 + 1).read_to_end(&mut buf).await?;
    Ok(if buf.len() <= max {
        Ok(buf)
    } else {
        Err(Malformed::TooLarge(max))
    })
}

async fn read<M: Message, T: AsyncRead + Unpin + Send>(
    p: &StreamProtocol,
    io: &mut T,
) -> io::Result<Wire<M>> {
    let bytes = read_bounded(io, M::MAX).await?;
    if let Ok(b) = &bytes {
        crate::metrics::wire(p.as_ref(), "in", b.len());
    }
    Ok(bytes.and_then(|b| Ok(M::from_bytes(&b)?)))
}

async fn write<M: Message, T: AsyncWrite + Unpin + Send>(
    p: &StreamProtocol,
    io: &mut T,
    m: Wire<M>,
) -> io::Result<()> {
    match m {
        Ok(m) => {
            let bytes = m.to_bytes();
            crate::metrics::wire(p.as_ref(), "out", bytes.len());
            io.write_all(&bytes).await
        }
        Err(_) => Ok(()),
    }
}

impl<Req: Message, Res: Message> request_response::Codec for Codec<Req, Res> {
    type Protocol = StreamProtocol;
    type Request = Wire<Req>;
    type Response = Wire<Res>;

    async fn read_request<T>(&mut self, p: &StreamProtocol, io: &mut T) -> io::Result<Wire<Req>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read(p, io).await
    }

    async fn read_response<T>(&mut self, p: &StreamProtocol, io: &mut T) -> io::Result<Wire<Res>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read(p, io).await
    }

    async fn write_request<T>(
        &mut self,
        p: &StreamProtocol,
        io: &mut T,
        req: Wire<Req>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write(p, io, req).await
    }

    async fn write_response<T>(
        &mut self,
        p: &StreamProtocol,
        io: &mut T,
        res: Wire<Res>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write(p, io, res).await
    }
}
