//! The stats service behind `/api/v2/publishing/{metrics,stats,stats/{target},health,trends}`:
//! the wiring of the metrics layers collect → aggregate → analyze.
//!
//! A background task refreshes the queue counts from the store and samples the statistics
//! into the trend history on a fixed interval; HTTP handlers only read cached state. Answers
//! are computed at most once per `cache_ttl` and carry an ETag.
//!
//! The trend history is kept in the store too (one small row per sample, rows older than
//! `stats.retention` deleted as new ones are written) and loaded at start-up, so trends carry
//! on across restarts. Refresh and discovery figures are read live from the discovery sources.

mod settings;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aggregate::{PublishingStats, ScoreWeights};
use analyze::{Analysis, History, Point, Sampler};
use collect::{
    Collector, MetricsSnapshot, QueueCache, RefreshSource, RefreshState, Tap, TargetInfo,
    TargetList,
};
use queue::{EngineHandle, JobStore, StoredSample};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use settings::StatsSettings;

/// Targets of the registry as collectors see them.
#[derive(Debug)]
pub struct RegistryTargets(pub Arc<crate::Registry>);

impl TargetList for RegistryTargets {
    fn targets(&self) -> Vec<TargetInfo> {
        self.0
            .specs()
            .iter()
            .map(|s| TargetInfo {
                name: s.target.name.to_string(),
                kind: s.target.kind.to_string(),
                enabled: s.target.enabled,
            })
            .collect()
    }

    fn vendor_counters(&self) -> Vec<collect::VendorCounters> {
        let mut kinds: Vec<publish::TargetType> =
            self.0.specs().iter().map(|s| s.target.kind).collect();
        kinds.sort_by_key(|k| k.as_str());
        kinds.dedup();
        kinds
            .into_iter()
            .map(crate::registry::vendor_counters)
            .collect()
    }
}

/// The store's name for the trend history.
const HISTORY_SERIES: &str = "trends";

/// Refresh state from the registry's discovery sources; without sources (targets fixed at
/// start-up), the start-up load.
#[derive(Debug)]
struct Sources {
    registry: Arc<crate::Registry>,
    loaded: Mutex<Option<(chrono::DateTime<chrono::Utc>, Duration)>>,
}

impl RefreshSource for Sources {
    fn refresh_state(&self) -> RefreshState {
        let targets = self.registry.specs().len();
        match self.registry.discovery().refresh_state() {
            Some(state) => RefreshState { targets, ..state },
            None => {
                let loaded = *self
                    .loaded
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                RefreshState {
                    last: loaded.map(|(at, _)| at),
                    duration: loaded.map(|(_, took)| took),
                    targets,
                    ..RefreshState::default()
                }
            }
        }
    }
}

/// One computed view, shared by the endpoints until it expires.
#[derive(Debug)]
pub struct View {
    /// The raw snapshot.
    pub snapshot: MetricsSnapshot,
    /// The aggregated statistics.
    pub stats: PublishingStats,
    /// The targets in force.
    pub targets: Vec<TargetInfo>,
}

/// The stats service: collectors, caches and the trend history.
#[derive(Debug)]
pub struct Stats {
    collectors: Vec<Arc<dyn Collector>>,
    settings: StatsSettings,
    weights: ScoreWeights,
    targets: Arc<dyn TargetList>,
    queue: QueueCache,
    sources: Arc<Sources>,
    history: Mutex<History>,
    sampler: Mutex<Sampler>,
    view: tokio::sync::Mutex<Option<(Instant, Arc<View>)>>,
}

impl Stats {
    /// Wires every collector over the service's state.
    pub fn new(
        settings: StatsSettings,
        tap: Tap,
        registry: Arc<crate::Registry>,
        health: Arc<targets::HealthBook>,
        engine: EngineHandle,
    ) -> Self {
        let targets: Arc<dyn TargetList> = Arc::new(RegistryTargets(registry.clone()));
        let queue = QueueCache::default();
        let sources = Arc::new(Sources {
            registry: registry.clone(),
            loaded: Mutex::new(None),
        });
        let collectors: Vec<Arc<dyn Collector>> = vec![
            Arc::new(collect::QueueCollector {
                cache: queue.clone(),
                capacity: settings.queue_capacity,
                tap: tap.clone(),
            }),
            Arc::new(collect::DeliveryCollector { tap: tap.clone() }),
            Arc::new(collect::HealthCollector {
                book: health,
                targets: targets.clone(),
            }),
            Arc::new(collect::BreakerCollector { engine }),
            Arc::new(collect::DiscoveryCollector {
                targets: targets.clone(),
                source: sources.clone(),
            }),
            Arc::new(collect::RefreshCollector {
                source: sources.clone(),
            }),
            Arc::new(collect::PublisherCollector {
                tap: tap.clone(),
                targets: targets.clone(),
            }),
            Arc::new(collect::ParallelCollector { tap }),
        ];
        let history = History::for_retention(settings.retention, settings.interval);
        Self {
            collectors,
            settings,
            weights: ScoreWeights::default(),
            targets,
            queue,
            sources,
            history: Mutex::new(history),
            sampler: Mutex::new(Sampler::new()),
            view: tokio::sync::Mutex::new(None),
        }
    }

    /// Records the initial target load (reported as the last refresh when targets are fixed
    /// at start-up; discovery sources report their own).
    pub fn targets_loaded(&self, at: chrono::DateTime<chrono::Utc>, latency: Duration) {
        *self
            .sources
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((at, latency));
    }

    /// The settings in force.
    pub fn settings(&self) -> &StatsSettings {
        &self.settings
    }

    /// Where target refreshes stand now (last, duration, next, in progress, failed).
    pub fn refresh_state(&self) -> RefreshState {
        self.sources.refresh_state()
    }

    /// Collects and aggregates now, bypassing the cache.
    pub async fn compute(&self) -> View {
        let snapshot = collect::collect_all(&self.collectors, self.settings.deadline).await;
        let stats = aggregate::aggregate(&snapshot, &self.weights);
        View {
            snapshot,
            stats,
            targets: self.targets.targets(),
        }
    }

    /// The cached view, recomputed when older than `cache_ttl`.
    pub async fn view(&self) -> Arc<View> {
        let mut cached = self.view.lock().await;
        if let Some((at, v)) = cached.as_ref()
            && at.elapsed() < self.settings.cache_ttl
        {
            return v.clone();
        }
        let v = Arc::new(self.compute().await);
        *cached = Some((Instant::now(), v.clone()));
        v
    }

    /// The trend analysis of the history so far.
    pub fn trends(&self) -> Analysis {
        let history = self
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        analyze::analyze(&history, &self.settings.trends, chrono::Utc::now())
    }

    /// The history's points taken at or after `since`, oldest first.
    pub fn history(&self, since: chrono::DateTime<chrono::Utc>) -> Vec<Point> {
        self.history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .points()
            .filter(|p| p.at >= since)
            .cloned()
            .collect()
    }

    /// Loads the stored trend history (the samples within `retention`), so trends carry on
    /// across restarts. Returns how many samples were loaded; a store error or a sample that
    /// does not parse is logged and skipped.
    pub async fn load_history(&self, store: &dyn JobStore) -> usize {
        let since = cutoff(&self.settings, chrono::Utc::now());
        let stored = match store.samples(HISTORY_SERIES, since).await {
            Ok(stored) => stored,
            Err(e) => {
                warn!(error = %e, "cannot read the stored trend history; trends start afresh");
                return 0;
            }
        };
        let mut history = self
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut loaded = 0;
        for sample in stored {
            match serde_json::from_str::<Point>(&sample.body) {
                Ok(point) => {
                    history.push(point);
                    loaded += 1;
                }
                Err(e) => warn!(at = %sample.at, error = %e, "skipping a stored trend sample"),
            }
        }
        if loaded > 0 {
            info!(samples = loaded, "trend history loaded from the store");
        }
        loaded
    }

    /// Takes one sample into the history, exports the derived gauges and returns the point.
    pub async fn sample(&self) -> Point {
        let view = self.compute().await;
        let point = self
            .sampler
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .point(&view.stats, view.snapshot.timestamp);
        self.history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(point.clone());
        let analysis = self.trends();
        export_gauges(&view.stats, &analysis);
        point
    }

    /// Writes `point` to the stored history and deletes stored samples older than
    /// `retention`: one insert and one ranged delete.
    pub async fn store_point(&self, store: &dyn JobStore, point: &Point) {
        let body = match serde_json::to_string(point) {
            Ok(body) => body,
            Err(e) => {
                warn!(error = %e, "cannot encode a trend sample");
                return;
            }
        };
        let sample = StoredSample { at: point.at, body };
        let keep_after = cutoff(&self.settings, point.at);
        if let Err(e) = store
            .append_sample(HISTORY_SERIES, &sample, keep_after)
            .await
        {
            warn!(error = %e, "cannot store a trend sample");
        }
    }

    /// Runs until `shutdown`: refreshes queue counts every `queue_refresh`, samples the
    /// history every `interval` and stores each sample.
    pub async fn run(self: Arc<Self>, store: Arc<dyn JobStore>, shutdown: CancellationToken) {
        let mut refresh = tokio::time::interval(self.settings.queue_refresh);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sample = tokio::time::interval(self.settings.interval);
        sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = refresh.tick() => self.refresh_queue(store.as_ref()).await,
                _ = sample.tick() => {
                    self.refresh_queue(store.as_ref()).await;
                    let point = self.sample().await;
                    self.store_point(store.as_ref(), &point).await;
                }
            }
        }
    }

    /// Reads the queue counts from the store into the cache.
    pub async fn refresh_queue(&self, store: &dyn JobStore) {
        match store.stats().await {
            Ok(stats) => {
                queue::metrics::export_stats(&stats);
                self.queue.set(stats, chrono::Utc::now());
            }
            Err(e) => warn!(error = %e, "cannot read queue counts for stats"),
        }
    }
}

/// The oldest time a sample taken at `at` keeps beside it: `at − retention`.
fn cutoff(
    settings: &StatsSettings,
    at: chrono::DateTime<chrono::Utc>,
) -> chrono::DateTime<chrono::Utc> {
    chrono::Duration::from_std(settings.retention)
        .ok()
        .and_then(|r| at.checked_sub_signed(r))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
}

fn trend_value(trend: &str) -> f64 {
    match trend {
        "increasing" | "degrading" => 1.0,
        "decreasing" | "improving" => -1.0,
        _ => 0.0,
    }
}

fn export_gauges(stats: &PublishingStats, analysis: &Analysis) {
    metrics::gauge!(crate::metrics::HEALTH_SCORE).set(stats.score.score);
    let c = &stats.system.targets;
    for (state, n) in [
        ("healthy", c.healthy),
        ("degraded", c.degraded),
        ("unhealthy", c.unhealthy),
        ("unknown", c.unknown),
    ] {
        metrics::gauge!(crate::metrics::TARGETS, "state" => state).set(n as f64);
    }
    metrics::gauge!(crate::metrics::QUEUE_CAPACITY).set(stats.system.queue.capacity as f64);
    metrics::gauge!(crate::metrics::QUEUE_UTILIZATION_RATIO)
        .set(stats.system.queue.utilization / 100.0);
    let capacity = stats.system.queue.capacity.max(1) as f64;
    for priority in ["high", "medium", "low"] {
        let n = stats
            .system
            .queue
            .by_priority
            .get(priority)
            .copied()
            .unwrap_or(0);
        metrics::gauge!(crate::metrics::QUEUE_CAPACITY_UTILIZATION, "priority" => priority)
            .set(n as f64 / capacity);
    }
    let t = &analysis.trends;
    metrics::gauge!(crate::metrics::TREND, "series" => "success_rate")
        .set(trend_value(t.success_rate.trend));
    metrics::gauge!(crate::metrics::TREND, "series" => "latency").set(trend_value(t.latency.trend));
    metrics::gauge!(crate::metrics::TREND, "series" => "queue_growth")
        .set(trend_value(t.queue_growth.trend));
    metrics::gauge!(crate::metrics::ERROR_SPIKE).set(if t.error_spike.detected {
        1.0
    } else {
        0.0
    });
    metrics::gauge!(crate::metrics::QUEUE_GROWTH_RATE_PER_MINUTE).set(t.queue_growth.rate_per_min);
}
