//! The HTTP server loop: axum's router on hyper, with deadlines for a
//! request's headers and body. A client that opens a connection and then
//! sends its headers slowly, or never, or leaves a kept-alive connection
//! idle, is disconnected after `KAPU_HEADER_READ_TIMEOUT_MS`; a body that
//! stops arriving for that long, or takes longer than
//! `KAPU_BODY_READ_TIMEOUT_MS` in all, fails the request. Slow clients
//! cannot hold connections (and their memory) forever when no proxy stands
//! in front. Shutdown stops accepting and lets the connections in hand
//! finish their requests.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::{Body as _, Bytes, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long a client may take to send a request.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// For the headers, for the first byte of a connection, and for each
    /// stretch of a body with nothing arriving.
    pub header_read: Duration,
    /// For a whole request body.
    pub body_read: Duration,
}

/// Serves `app` on `listener` until `shutdown`, then waits for the
/// connections in hand to finish.
pub async fn serve(listener: TcpListener, app: Router, deadlines: Deadlines, shutdown: CancellationToken) {
    let header_read = deadlines.header_read;
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_read);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment, keep serving.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let app = app.clone();
        let (builder, graceful_watch) = (builder.clone(), graceful.watcher());
        tokio::spawn(async move {
            // The first byte is awaited here, under the same deadline:
            // telling HTTP/1 from HTTP/2 has none of its own, so a
            // connection that never sends anything would stay open.
            let mut first = [0u8; 1];
            if !matches!(tokio::time::timeout(header_read, stream.peek(&mut first)).await, Ok(Ok(n)) if n > 0) {
                return;
            }
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                // Bodiless requests (most) skip the timers.
                let req = if req.body().is_end_stream() {
                    req.map(Body::new)
                } else {
                    req.map(|b| Body::new(DeadlineBody::new(b, deadlines)))
                };
                app.clone().oneshot(req)
            });
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let _ = graceful_watch.watch(connection.into_owned()).await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A request body that fails when nothing arrives for `header_read` or the
/// whole takes longer than `body_read`: the handler's extractor then
/// answers 400 and the connection closes.
struct DeadlineBody {
    inner: Incoming,
    idle: Duration,
    idle_timer: Pin<Box<tokio::time::Sleep>>,
    total_timer: Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, d: Deadlines) -> Self {
        Self {
            inner,
            idle: d.header_read,
            idle_timer: Box::pin(tokio::time::sleep(d.header_read)),
            total_timer: Box::pin(tokio::time::sleep(d.body_read)),
        }
    }
}

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let idle = this.idle;
                this.idle_timer.as_mut().reset(tokio::time::Instant::now() + idle);
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                if this.total_timer.as_mut().poll(cx).is_ready() {
                    tracing::info!("request body took longer than its deadline");
                    return Poll::Ready(Some(Err("the request body took too long to arrive".into())));
                }
                if this.idle_timer.as_mut().poll(cx).is_ready() {
                    tracing::info!("request body stalled");
                    return Poll::Ready(Some(Err("the request body stopped arriving".into())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
