//! Serving the router over HTTP/1 with the bounds `axum::serve` lacks: a
//! request head must arrive within [`HEAD_TIMEOUT`], a body within
//! [`BODY_TIMEOUT`], a connection lives at most [`CONNECTION_LIFETIME`],
//! and at most `max_connections` are open at once; one more is answered
//! with a JSON 503 and closed, so that a thousand slow clients cannot keep
//! a resident out for long.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use super::dto::ErrorBody;

/// Longest wait for a request's head (request line and headers), also on
/// an idle kept-alive connection.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a request's whole body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a connection stays open, however busy.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);
/// Largest request head hyper buffers; larger ones are refused by our own
/// check first (see `api::head_limits`).
pub const MAX_BUF: usize = 64 * 1024;
/// How long open requests may finish after shutdown began.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes, then lets
/// open requests finish (up to [`SHUTDOWN_GRACE`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    max_connections: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let service = TowerToHyperService::new(router);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors or a reset before accept: keep
                // serving the connections already open.
                Err(e) => {
                    tracing::warn!("API accept failed: {e}; retrying; if it says too many open files, raise LimitNOFILE (the unit) or `ulimit -n`, or lower api_max_connections");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream, max_connections));
            continue;
        };
        let service = service.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_BUF)
                .keep_alive(true);
            let io = TokioIo::new(JsonErrors::new(stream));
            let conn = builder.serve_connection(io, service);
            tokio::pin!(conn);
            let lifetime = tokio::time::sleep(CONNECTION_LIFETIME);
            tokio::pin!(lifetime);
            let ended = tokio::select! {
                _ = conn.as_mut() => true,
                _ = &mut lifetime => false,
                _ = stop.changed() => false,
            };
            if !ended {
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn.as_mut()).await;
            }
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
    // Wait for the open connections to finish, as far as the grace allows.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, open.acquire_many(max_connections as u32)).await;
    Ok(())
}

/// Answers a connection over the cap with a JSON 503 and closes it.
async fn refuse(mut stream: tokio::net::TcpStream, max: usize) {
    let body = serde_json::to_string(&ErrorBody {
        error: format!("this node has {max} connections open, its limit; try again in a moment"),
        reason: "too_many_connections".into(),
    })
    .unwrap_or_default();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(body.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// A connection whose bodiless error answers (those hyper writes itself for
/// a request it cannot parse: a bad `Content-Length`, bytes that are not
/// HTTP) are rewritten as JSON, like every other error of the API. Every
/// other byte passes unchanged. Writes are not vectored, so that hyper hands
/// each answer over in one buffer.
pub struct JsonErrors<S> {
    inner: S,
    /// A rewritten answer being written: its bytes, how far, and the length
    /// of the buffer it stands for.
    rewrite: Option<(Vec<u8>, usize, usize)>,
}

impl<S> JsonErrors<S> {
    pub fn new(inner: S) -> JsonErrors<S> {
        JsonErrors {
            inner,
            rewrite: None,
        }
    }
}

/// The JSON form of a bodiless error answer in `buf`, if it is one.
pub fn json_error_answer(buf: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(buf).ok()?;
    let head = text.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let code: u16 = status_line
        .strip_prefix("HTTP/1.1 ")?
        .get(..3)?
        .parse()
        .ok()?;
    let headers: Vec<&str> = lines.collect();
    let bodiless = headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("content-length: 0"));
    let typed = headers
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("content-type:"));
    if !(400..600).contains(&code) || !bodiless || typed {
        return None;
    }
    let (reason, error) = match code {
        400 => (
            "bad_request",
            "the request is not valid HTTP/1.1 (its request line, a header or its Content-Length)",
        ),
        413 => ("too_large", "the request is too large"),
        414 => ("uri_too_long", "the request target is too long"),
        431 => ("headers_too_large", "the request headers are too large"),
        505 => ("http_version", "this API speaks HTTP/1.1"),
        _ => ("bad_request", "the request was refused"),
    };
    let body = serde_json::to_string(&ErrorBody {
        error: error.into(),
        reason: reason.into(),
    })
    .ok()?;
    let mut out = format!("{status_line}\r\ncontent-type: application/json\r\n");
    for h in headers {
        if !h.to_ascii_lowercase().starts_with("content-length:") {
            out.push_str(h);
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    Some(out.into_bytes())
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if this.rewrite.is_none() {
            match json_error_answer(buf) {
                Some(bytes) => this.rewrite = Some((bytes, 0, buf.len())),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        let Some((bytes, done, stands_for)) = this.rewrite.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        while *done < bytes.len() {
            match Pin::new(&mut this.inner).poll_write(cx, &bytes[*done..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(0)),
                Poll::Ready(Ok(n)) => *done += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = *stands_for;
        this.rewrite = None;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodiless_errors_become_json_and_nothing_else_changes() {
        let bare = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let json = String::from_utf8(json_error_answer(bare).expect("rewritten")).unwrap();
        assert!(json.starts_with("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"));
        let (head, body) = json.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["reason"], "bad_request");
        // A JSON error, a success and a body are left alone.
        let ours = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        assert!(json_error_answer(ours).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(json_error_answer(ok).is_none());
        assert!(json_error_answer(b"{\"listings\": []}").is_none());
    }
}
