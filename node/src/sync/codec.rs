//! `/buurt/sync/1` on the wire: the whole stream is one message (the sender
//! closes its side), read with a size bound, decoded by `buurt-protocol`.

use std::io;

use buurt_protocol::sync::{Request, Response, MAX_REQUEST, MAX_RESPONSE};
use buurt_protocol::DecodeError;
use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::{request_response, StreamProtocol};

/// The protocol name as libp2p wants it.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new(buurt_protocol::sync::PROTOCOL);

/// Why a sync message from a peer was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("over {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Decode(#[from] DecodeError),
}

/// A sync message as read from a stream: decoded, or why it did not decode.
/// Decoding happens in the codec, but a message that does not decode must
/// reach the event loop (to count against the peer) rather than vanish as a
/// stream error, so it travels as `Err`.
pub type Wire<T> = Result<T, Malformed>;

/// Reads and writes sync messages.
#[derive(Debug, Clone, Default)]
pub struct SyncCodec;

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

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = Wire<Request>;
    type Response = Wire<Response>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Wire<Request>>
    where
        T: AsyncRead + Unpin + Send,
    {
        Ok(read_bounded(io, MAX_REQUEST)
            .await?
            .and_then(|b| Ok(Request::decode(&b)?)))
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Wire<Response>>
    where
        T: AsyncRead + Unpin + Send,
    {
        Ok(read_bounded(io, MAX_RESPONSE)
            .await?
            .and_then(|b| Ok(Response::decode(&b)?)))
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Wire<Request>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match req {
            Ok(r) => io.write_all(&r.encode()).await,
            Err(_) => Ok(()),
        }
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Wire<Response>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match res {
            Ok(r) => io.write_all(&r.encode()).await,
            Err(_) => Ok(()),
        }
    }
}
