//! The HTTP serving loop shared by the recording sink and the simulated vendors.

use std::{fmt, future::Future, sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, task::JoinSet};

/// Returned from a handler to make hyper close the connection without writing a response
/// (a scripted connection reset).
#[derive(Debug)]
pub(crate) struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("scripted connection drop")
    }
}

impl std::error::Error for DropConnection {}

/// Serves HTTP/1.1 with keep-alive on `listener`, each connection in its own task. The
/// connections live in a `JoinSet`, so aborting the task running this also aborts every open
/// connection.
pub(crate) async fn serve<S, F, Fut>(listener: TcpListener, state: Arc<S>, handle: F)
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Request<Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Full<Bytes>>, DropConnection>> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let state = Arc::clone(&state);
                    connections.spawn(async move {
                        let service = service_fn(move |req| handle(Arc::clone(&state), req));
                        // Errors are expected (scripted drops, clients going away).
                        let _ = http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Err(e) => {
                    eprintln!("testkit: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
