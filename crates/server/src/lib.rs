//! The `alert-publisher` service: configuration, wiring, the HTTP API and graceful shutdown.
//!
//! **Invariant:** no business logic that a library crate could own. Parsing and the alert model
//! live in `publish`, target definitions and routing in `targets`, durable delivery in `queue`.

mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod discovery;
pub mod error;
pub mod guard;
pub mod openapi;
pub mod ratelimit;
pub mod registry;
pub mod stats;
mod targets_api;

use std::{
    path::PathBuf,
    sync::{Arc, OnceLock, atomic::AtomicBool},
};

use anyhow::Context;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use queue::{Engine, JobStore, SqlStore};
use tokio_util::sync::CancellationToken;
use tracing::info;

pub use app::{AppState, IngestResponse, app, app_with_guard};
pub use config::Config;
pub use registry::Registry;

/// Feeds delivery outcomes into the health book (passive health monitoring).
#[derive(Debug)]
pub struct HealthObserver(pub Arc<targets::HealthBook>);

impl queue::DeliveryObserver for HealthObserver {
    fn observe(&self, o: &queue::Observation) {
        // A permanent failure (a bad request for one alert) says nothing about the target's health.
        if o.success || o.target_fault {
            let error = o.error_kind.clone();
            self.0.record(
                &o.target,
                o.success,
                o.latency,
                error,
                targets::CheckSource::Delivery,
                chrono::Utc::now(),
            );
        }
    }
}

/// The process-wide Prometheus recorder (installed once).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &buckets)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            // The exporter and the stats tap see every metric (collectors read the tap).
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            let fanout = metrics_util::layers::FanoutBuilder::default()
                .add_recorder(recorder)
                .add_recorder(metrics_tap().recorder())
                .build();
            match metrics::set_global_recorder(fanout) {
                Ok(()) => {
                    stats::describe_metrics();
                    handle
                }
                // Another recorder is installed (only possible in tests): keep a private one.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// The in-memory tap of the service's own metrics that the stats collectors read.
pub fn metrics_tap() -> collect::Tap {
    static TAP: OnceLock<collect::Tap> = OnceLock::new();
    TAP.get_or_init(collect::Tap::new).clone()
}

/// A URL without user info, query or fragment — those can carry credentials (Slack webhook
/// paths are secret too, so only scheme, host and port are shown for them).
pub fn redact_url(url: &str) -> String {
    redact_url_path(url, false)
}

/// Like [`redact_url`]; `hide_path` also hides the path (a Slack incoming-webhook URL is a
/// secret on whatever host it lives).
pub fn redact_url_path(url: &str, hide_path: bool) -> String {
    let slack = url::Url::parse(url)
        .is_ok_and(|u| u.host_str().is_some_and(|h| h.ends_with("hooks.slack.com")));
    publish::redact_url_path(url, hide_path || slack)
}

/// The store location for logs: paths as they are, URLs without credentials.
pub fn store_display(store: &str) -> String {
    if store.contains("://") {
        redact_url(store)
    } else {
        store.to_owned()
    }
}

/// Opens the store named by `--store`: a SQLite path, a `sqlite://` URL, or a
/// `postgres://` URL (several replicas may share one PostgreSQL database).
pub async fn open_store(store: &str, config: &Config) -> anyhow::Result<Arc<dyn JobStore>> {
    let options = config.delivery.store_options();
    let opened = if store.starts_with("postgres://") || store.starts_with("postgresql://") {
        SqlStore::connect_postgres(store, options).await
    } else {
        let path = store
            .strip_prefix("sqlite://")
            .or_else(|| store.strip_prefix("sqlite:"))
            .unwrap_or(store);
        let path = path.split('?').next().unwrap_or(path);
        SqlStore::open_sqlite(&PathBuf::from(path), options).await
    };
    Ok(Arc::new(opened.with_context(|| {
        format!("cannot open job store {}", store_display(store))
    })?))
}

/// Loads and checks every target definition and builds its publisher.
pub fn load_registry(config: &Config) -> anyhow::Result<Registry> {
    let specs = match &config.targets {
        Some(path) => targets::load(path)?,
        None => Vec::new(),
    };
    Ok(Registry::build_with(
        specs,
        config.delivery.default_policy(),
        publish::outbound::Outbound::new(config.outbound.clone()),
    )?)
}

/// Runs the service until `shutdown` is cancelled: binds, recovers unfinished jobs, serves
/// HTTP and delivers. On shutdown: stop accepting, drain in-flight deliveries within the
/// deadline, leave the rest pending in the store.
pub async fn serve(
    config: Config,
    registry: Registry,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let registry = Arc::new(registry);
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
    let store = open_store(&config.store, &config).await?;
    let recovered = store
        .requeue_in_flight(chrono::Utc::now(), store.exclusive())
        .await
        .with_context(|| {
            format!(
                "cannot write to job store {} (a read-only file system or file?)",
                store_display(&config.store)
            )
        })?;
    if recovered > 0 {
        info!(
            jobs = recovered,
            "recovered jobs that were in flight when the service last stopped"
        );
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let health = Arc::new(HealthObserver(Arc::new(targets::HealthBook::new(
        config.health.clone(),
    ))));
    let engine = Engine::new(
        store.clone(),
        registry.clone(),
        config.delivery.engine_config(),
    )
    .with_observer(Arc::new(stats::Observers(vec![
        health.clone(),
        Arc::new(stats::NotificationMetrics(registry.clone())),
    ])));
    let discovery = discovery::Discovery::start(
        &config,
        registry.clone(),
        health.0.clone(),
        shutdown.clone(),
    )
    .await?;
    registry.set_discovery(discovery);
    let stats = Arc::new(stats::Stats::new(
        config.stats.clone(),
        metrics_tap(),
        registry.clone(),
        health.0.clone(),
        engine.handle(),
    ));
    stats.targets_loaded(chrono::Utc::now(), std::time::Duration::ZERO);
    tokio::spawn(stats.clone().run(store.clone(), shutdown.clone()));
    let ready = Arc::new(AtomicBool::new(true));
    let state = AppState {
        store,
        registry: registry.clone(),
        engine: engine.handle(),
        metrics: metrics_handle(),
        max_body_bytes: config.ingest.max_body_bytes,
        ready: ready.clone(),
        health: health.0.clone(),
        shutdown: shutdown.clone(),
    };
    info!(
        listen = %listener.local_addr()?,
        targets = registry.specs().len(),
        store = %store_display(&config.store),
        "alert-publisher started"
    );
    let engine_shutdown = shutdown.clone();
    let engine_task = tokio::spawn(engine.run(async move { engine_shutdown.cancelled().await }));
    let http_shutdown = shutdown.clone();
    let ready_flag = ready.clone();
    let router = app_with_guard(state, guard).layer(axum::Extension(stats));
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        http_shutdown.cancelled().await;
        ready_flag.store(false, std::sync::atomic::Ordering::Relaxed);
        info!("shutting down: no longer accepting requests");
    })
    .await?;
    engine_task.await?;
    info!("alert-publisher stopped");
    Ok(())
}
