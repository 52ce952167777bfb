//! The HTTP server loop: axum's router on hyper, with a deadline for a
//! request's headers. A client that opens a connection and then sends its
//! headers slowly, or never, or leaves a kept-alive connection idle, is
//! disconnected after `KAPU_HEADER_READ_TIMEOUT_MS`, so slow clients
//! cannot hold connections (and their memory) forever when no proxy stands
//! in front. Shutdown stops accepting and lets the connections in hand
//! finish their requests.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Serves `app` on `listener` until `shutdown`, then waits for the
/// connections in hand to finish.
pub async fn serve(listener: TcpListener, app: Router, header_read: Duration, shutdown: CancellationToken) {
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
                app.clone().oneshot(req.map(Body::new))
            });
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let _ = graceful_watch.watch(connection.into_owned()).await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
