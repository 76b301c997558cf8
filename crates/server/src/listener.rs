//! The HTTP listener: accepts connections and serves the router on each, with the bounds a
//! service facing arbitrary clients needs — a deadline for request headers (which also closes
//! kept-alive connections left idle), a cap on open connections, and a shutdown that ends
//! within its deadline whatever clients do.

use std::{sync::Arc, time::Duration};

use axum::{Router, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::Semaphore, task::JoinSet};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;
use tracing::{debug, info, warn};

/// How connections are bounded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Time a client has to send a request's headers, from connecting or from the previous
    /// response on a kept-alive connection.
    pub(crate) header_read_timeout: Duration,
    /// Open connections at most; further clients wait in the listen backlog.
    pub(crate) max_connections: usize,
    /// How long requests in progress may finish after shutdown begins; connections still open
    /// then are closed.
    pub(crate) drain: Duration,
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then stops accepting, lets
/// requests in progress finish within `limits.drain` and closes what is left.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let closing = CancellationToken::new();
    let mut connections = JoinSet::new();
    loop {
        let slot = tokio::select! {
            () = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: pause rather than spin.
                    warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let builder = builder.clone();
        let closing = closing.clone();
        connections.spawn(async move {
            let _slot = slot;
            let service = service_fn(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(request)
            });
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = closing.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                debug!(%peer, error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    closing.cancel();
    let drained = tokio::time::timeout(limits.drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        info!(
            connections = connections.len(),
            "closing connections whose requests did not finish within the shutdown deadline"
        );
        connections.shutdown().await;
    }
    Ok(())
}
