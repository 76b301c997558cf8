//! The running alert-publisher service, without HTTP: start-up and drain, the composed
//! settings, the target registry and publisher factory (the one place that names the vendor
//! crates), discovery merging, the ingest path, queue and dead-letter operations, parallel
//! publishing and test deliveries, health feedback and the stats service.
//!
//! The HTTP layer (`server`) translates requests into calls on [`Service`] and its answers
//! into responses; tests call the same API in process.
//!
//! **Invariant:** no HTTP server types (axum, hyper's server, tower-http) — a wall test in
//! `xtask` enforces it.

mod acknowledge;
pub mod compat;
pub mod config;
pub mod discovery;
mod error;
mod feedback;
mod history;
mod ingest;
pub mod metrics;
mod publishing;
pub mod redact;
pub mod registry;
pub mod stats;
pub mod telemetry;
pub mod templates;
mod view;

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;
use queue::{Engine, EngineHandle, JobStore, SqlStore};
use tokio_util::sync::CancellationToken;
use tracing::info;

pub use acknowledge::{AckReport, AckSkipped};
pub use config::Settings;
pub use error::{Error, ErrorKind, Result};
pub use feedback::Feedback;
pub use ingest::{IngestReport, QueueStatus, Source, SubmitReport, Workers};
pub use publishing::{
    ParallelOutcome, ParallelRequest, Selection, TestError, TestRequest, TestResult,
    alert_from_json,
};
pub use registry::Registry;
pub use view::TargetView;

/// The running service: the store, the targets, the delivery engine, target health and
/// stats. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Service {
    store: Arc<dyn JobStore>,
    registry: Arc<Registry>,
    engine: EngineHandle,
    health: Arc<targets::HealthBook>,
    stats: Option<Arc<stats::Stats>>,
    shutdown: CancellationToken,
}

impl Service {
    /// A service over parts built elsewhere (in-process tests): no stats service, a health
    /// book of its own, never shut down.
    pub fn new(store: Arc<dyn JobStore>, registry: Arc<Registry>, engine: EngineHandle) -> Self {
        Self {
            store,
            registry,
            engine,
            health: Arc::new(targets::HealthBook::default()),
            stats: None,
            shutdown: CancellationToken::new(),
        }
    }

    /// Opens the store, recovers jobs left in flight, starts discovery, health probes and the
    /// stats sampler. The returned [`Engine`] delivers once [`run`] drives it; everything
    /// stops when `shutdown` is cancelled.
    pub async fn start(
        settings: &Settings,
        registry: Registry,
        shutdown: CancellationToken,
    ) -> anyhow::Result<(Arc<Self>, Engine)> {
        let registry = Arc::new(registry);
        let store = open_store(&settings.store, settings).await?;
        let recovered = store
            .requeue_in_flight(chrono::Utc::now(), store.exclusive())
            .await
            .with_context(|| {
                format!(
                    "cannot write to job store {} (a read-only file system or file?)",
                    redact::store_display(&settings.store)
                )
            })?;
        if recovered > 0 {
            info!(
                jobs = recovered,
                "recovered jobs that were in flight when the service last stopped"
            );
        }
        let health = Arc::new(targets::HealthBook::new(settings.health.clone()));
        let engine = Engine::new(
            store.clone(),
            registry.clone(),
            settings.delivery.engine_config(),
        )
        .with_observer(Arc::new(Feedback::new(health.clone(), registry.clone())));
        let discovery = discovery::Discovery::start(
            settings,
            registry.clone(),
            health.clone(),
            shutdown.clone(),
        )
        .await?;
        registry.set_discovery(discovery);
        let stats = Arc::new(stats::Stats::new(
            settings.stats.clone(),
            telemetry::metrics_tap(),
            registry.clone(),
            health.clone(),
            engine.handle(),
        ));
        stats.targets_loaded(chrono::Utc::now(), std::time::Duration::ZERO);
        stats.load_history(store.as_ref()).await;
        tokio::spawn(stats.clone().run(store.clone(), shutdown.clone()));
        let service = Arc::new(Self {
            store,
            registry,
            engine: engine.handle(),
            health,
            stats: Some(stats),
            shutdown,
        });
        Ok((service, engine))
    }

    /// Runs the delivery engine until shutdown, then drains in-flight deliveries within the
    /// configured deadline and leaves the rest pending in the store.
    pub async fn run(engine: Engine, shutdown: CancellationToken) {
        engine.run(async move { shutdown.cancelled().await }).await;
    }

    /// The job store.
    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.store
    }

    /// Targets and publishers.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The delivery engine (wake, breakers, workers).
    pub fn engine(&self) -> &EngineHandle {
        &self.engine
    }

    /// Target health (probes and deliveries).
    pub fn health(&self) -> &Arc<targets::HealthBook> {
        &self.health
    }

    /// The stats service, when it runs.
    pub fn stats(&self) -> Option<&Arc<stats::Stats>> {
        self.stats.as_ref()
    }

    /// Cancelled when the service shuts down.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Whether the store answers.
    pub async fn ping(&self) -> Result<()> {
        self.store.ping().await.map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                format!("job store unavailable: {e}"),
            )
        })
    }
}

/// Opens the store named by `store`: a SQLite path, a `sqlite://` URL, or a
/// `postgres://` URL (several replicas may share one PostgreSQL database).
pub async fn open_store(store: &str, settings: &Settings) -> anyhow::Result<Arc<dyn JobStore>> {
    let options = settings.delivery.store_options();
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
        format!("cannot open job store {}", redact::store_display(store))
    })?))
}

/// Loads and checks every target definition and builds its publisher.
pub fn load_registry(settings: &Settings) -> anyhow::Result<Registry> {
    let (specs, mut errors) = match &settings.targets {
        Some(path) => targets::load_each(path),
        None => (Vec::new(), Vec::new()),
    };
    // A broken shared file is reported, and the targets are checked with the files that
    // parsed, so that every error is listed at once.
    let (templates, template_errors) = templates::load_partial(&settings.templates);
    errors.extend(template_errors.into_iter().map(targets::LoadError::Other));
    // The targets that loaded are built too, so that every error is reported at once.
    let registry = Registry::build_with(
        specs,
        settings.delivery.default_policy(),
        publish::BuildContext {
            outbound: publish::outbound::Outbound::new(settings.outbound.clone()),
            templates,
        },
    );
    match registry {
        Ok(registry) if errors.is_empty() => Ok(registry),
        Ok(_) => Err(targets::LoadErrors(errors).into()),
        Err(built) => {
            errors.extend(built.0);
            Err(targets::LoadErrors(errors).into())
        }
    }
}
