//! The `alert-publisher` binary's library: the HTTP layer over [`service::Service`] — the
//! router and its middleware (request ids, auth, rate limits, timeouts, compression, CORS),
//! handlers that translate requests into service calls, the error envelope, the OpenAPI
//! document, the configuration file and the command-line client.
//!
//! **Invariant:** no business logic that a library crate could own. Routing, ingest,
//! publishing and stats live in `service`; parsing and the alert model in `publish`.

pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
mod extract;
pub mod guard;
mod handlers;
mod listener;
pub mod metrics;
pub mod openapi;
pub mod ratelimit;
pub mod router;
mod state;
pub mod ui;

use std::sync::Arc;

use anyhow::Context;
use service::Service;
use tokio_util::sync::CancellationToken;
use tracing::info;

pub use config::Config;
pub use metrics::handle as metrics_handle;
pub use router::{app, app_with_guard};
pub use service::Registry;
pub use state::AppState;

/// Loads and checks every target definition and builds its publisher.
pub fn load_registry(config: &Config) -> anyhow::Result<Registry> {
    service::load_registry(&config.service())
}

/// What `check-config` checks once the config file has loaded: API keys and ingest
/// credentials, and every target definition. Returns the number of targets, or every error
/// found (one a line).
pub fn check_config(config: &Config) -> Result<usize, String> {
    let guard = guard::Guard::new(config).err().map(|e| e.to_string());
    match (guard, load_registry(config)) {
        (None, Ok(registry)) => Ok(registry.specs().len()),
        (guard, targets) => Err(guard
            .into_iter()
            .chain(targets.err().map(|e| format!("{e:#}")))
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

/// Runs the service until `shutdown` is cancelled: recovers unfinished jobs, binds, serves
/// HTTP and delivers. On shutdown: stop accepting, drain in-flight deliveries within the
/// deadline, leave the rest pending in the store.
pub async fn serve(
    config: Config,
    registry: Registry,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut config = config;
    let guard = Arc::new(guard::Guard::new(&config)?);
    // From here on only digests of the tokens are kept.
    config.auth.forget_secrets();
    if guard.keys.enabled() {
        info!(keys = guard.keys.len(), "api keys loaded");
    } else {
        tracing::warn!(
            "no api keys configured: the API is open to anyone who can reach it (set auth.keys or auth.keys_file)"
        );
    }
    tokio::spawn(
        guard
            .keys
            .clone()
            .watch(config.auth.reload_interval, shutdown.clone()),
    );
    let settings = config.service();
    // The recorder first: what the service records while it starts (the first target load,
    // discovery gauges) is on /metrics too.
    crate::metrics::handle();
    let (service, engine) = Service::start(&settings, registry, shutdown.clone()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let state = AppState::new(service.clone(), config.ingest.max_body_bytes);
    let ready = state.ready.clone();
    info!(
        listen = %listener.local_addr()?,
        targets = service.registry().specs().len(),
        store = %service::redact::store_display(&config.store),
        "alert-publisher started"
    );
    let engine_task = tokio::spawn(Service::run(engine, shutdown.clone()));
    let limits = listener::Limits {
        header_read_timeout: config.http.header_read_timeout,
        max_connections: config.http.max_connections,
        drain: config.delivery.shutdown_timeout,
    };
    let http_shutdown = shutdown.clone();
    tokio::spawn(async move {
        http_shutdown.cancelled().await;
        ready.store(false, std::sync::atomic::Ordering::Relaxed);
        info!("shutting down: no longer accepting requests");
    });
    listener::serve(listener, app_with_guard(state, guard), limits, shutdown).await?;
    engine_task.await?;
    info!("alert-publisher stopped");
    Ok(())
}
