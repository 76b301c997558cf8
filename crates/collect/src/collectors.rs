//! One collector per subsystem. Each reads cached state only.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use chrono::{DateTime, Utc};
use publish::metrics::{PARALLEL_REQUESTS_TOTAL, PARALLEL_TARGETS_TOTAL};
use queue::{
    EngineHandle, QueueStats,
    metrics::{
        DLQ_WRITES_TOTAL, JOB_DURATION_SECONDS, JOBS_PROCESSED_TOTAL, QUEUE_SUBMISSIONS_TOTAL,
    },
};
use targets::HealthBook;

use crate::{BUCKETS, CollectError, Collector, Sample, Tap, label};

/// A value with the time it was read.
type Stamped<T> = (T, DateTime<Utc>);

/// One configured target, as collectors see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    /// Target name.
    pub name: String,
    /// Target type (`pagerduty`, `slack`, `rootly`, `webhook`).
    pub kind: String,
    /// Enabled.
    pub enabled: bool,
}

/// The counter families one vendor publisher emits (each labelled by `target`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorCounters {
    /// The vendor, as the target type names it (`slack`).
    pub vendor: String,
    /// (short name shown in the snapshot's `metric` label, e.g. `events_total`; full family name).
    pub counters: Vec<(&'static str, &'static str)>,
}

/// Where the current target list comes from (the server's registry).
pub trait TargetList: Send + Sync + std::fmt::Debug {
    /// The targets in force now.
    fn targets(&self) -> Vec<TargetInfo>;

    /// The counter families of each vendor publisher, read by [`PublisherCollector`]. None by
    /// default.
    fn vendor_counters(&self) -> Vec<VendorCounters> {
        Vec::new()
    }
}

impl TargetList for Vec<TargetInfo> {
    fn targets(&self) -> Vec<TargetInfo> {
        self.clone()
    }
}

/// The last queue counts read from the store, refreshed in the background (so a collection
/// never waits for the database).
#[derive(Debug, Clone, Default)]
pub struct QueueCache {
    inner: Arc<RwLock<Option<Stamped<QueueStats>>>>,
}

impl QueueCache {
    /// Stores fresh counts.
    pub fn set(&self, stats: QueueStats, at: DateTime<Utc>) {
        *self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((stats, at));
    }

    /// The last counts and when they were read.
    pub fn get(&self) -> Option<(QueueStats, DateTime<Utc>)> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Queue size by priority, in flight, dead letters, capacity, and the job totals.
///
/// Samples: `queue_size`, `queue_size{priority}`, `queue_in_flight`, `queue_dlq_size`,
/// `queue_capacity`, `queue_jobs_submitted`, `queue_jobs_completed`, `queue_jobs_retried`,
/// `queue_jobs_failed` (dead-lettered), `queue_stats_age_seconds`.
#[derive(Debug)]
pub struct QueueCollector {
    /// Counts refreshed in the background.
    pub cache: QueueCache,
    /// The soft capacity utilization is computed against.
    pub capacity: u64,
    /// The service's own counters.
    pub tap: Tap,
}

#[async_trait::async_trait]
impl Collector for QueueCollector {
    fn name(&self) -> &'static str {
        "queue"
    }

    async fn collect(&self, out: &mut Vec<Sample>) -> Result<(), CollectError> {
        let (stats, at) = self
            .cache
            .get()
            .ok_or_else(|| CollectError::Unavailable("queue counts not read yet".into()))?;
        out.push(Sample::new("queue_size", stats.pending as f64));
        for (priority, n) in &stats.pending_by_priority {
            out.push(Sample::new("queue_size", *n as f64).label("priority", priority.clone()));
        }
        out.push(Sample::new("queue_in_flight", stats.in_flight as f64));
        out.push(Sample::new("queue_dlq_size", stats.dead as f64));
        out.push(Sample::new("queue_capacity", self.capacity as f64));
        let age = (Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0;
        out.push(Sample::new("queue_stats_age_seconds", age));
        let mut submitted = 0;
        self.tap.counters(QUEUE_SUBMISSIONS_TOTAL, |k, v| {
            if label(k, "result") == Some("inserted") {
                submitted += v;
            }
        });
        let (mut delivered, mut retried, mut dead) = (0, 0, 0);
        self.tap
            .counters(JOBS_PROCESSED_TOTAL, |k, v| match label(k, "state") {
                Some("delivered") => delivered += v,
                Some("retry") => retried += v,
                Some("dead") => dead += v,
                _ => {}
            });
        out.push(Sample::new("queue_jobs_submitted", submitted as f64));
        out.push(Sample::new("queue_jobs_completed", delivered as f64));
        out.push(Sample::new("queue_jobs_retried", retried as f64));
        out.push(Sample::new("queue_jobs_failed", dead as f64));
        Ok(())
    }
}

/// Per-target delivery results and latency, from the engine's counters.
///
/// Samples: `jobs_processed{target,state}` (state: delivered, retry, dead),
/// `dlq_writes{target,reason}`, `job_latency_seconds_bucket{target,le}` (non-cumulative
/// counts per bucket; `le="+Inf"` for the overflow), `job_latency_seconds_count{target}`,
/// `job_latency_seconds_sum{target}`.
#[derive(Debug)]
pub struct DeliveryCollector {
    /// The service's own counters.
    pub tap: Tap,
}

#[async_trait::async_trait]
impl Collector for DeliveryCollector {
    fn name(&self) -> &'static str {
        "delivery"
    }

    async fn collect(&self, out: &mut Vec<Sample>) -> Result<(), CollectError> {
        // Series carry more labels than the samples (priority, error_type): summed here so each
        // sample's labels are unique.
        let mut processed: BTreeMap<(String, String), u64> = BTreeMap::new();
        self.tap.counters(JOBS_PROCESSED_TOTAL, |k, v| {
            let key = (
                label(k, "target").unwrap_or_default().to_owned(),
                label(k, "state").unwrap_or_default().to_owned(),
            );
            *processed.entry(key).or_default() += v;
        });
        for ((target, state), v) in processed {
            out.push(
                Sample::new("jobs_processed", v as f64)
                    .label("target", &target)
                    .label("state", &state),
            );
        }
        let mut writes: BTreeMap<(String, String), u64> = BTreeMap::new();
        self.tap.counters(DLQ_WRITES_TOTAL, |k, v| {
            let key = (
                label(k, "target").unwrap_or_default().to_owned(),
                label(k, "reason").unwrap_or_default().to_owned(),
            );
            *writes.entry(key).or_default() += v;
        });
        for ((target, reason), v) in writes {
            out.push(
                Sample::new("dlq_writes", v as f64)
                    .label("target", &target)
                    .label("reason", &reason),
            );
        }
        // Per target: bucket counts, count, sum.
        let mut latency: BTreeMap<String, (Vec<u64>, u64, f64)> = BTreeMap::new();
        self.tap.histograms(JOB_DURATION_SECONDS, |k, h| {
            let target = label(k, "target").unwrap_or_default().to_owned();
            let entry = latency
                .entry(target)
                .or_insert_with(|| (vec![0; BUCKETS.len()], 0, 0.0));
            for (total, n) in entry.0.iter_mut().zip(h.buckets()) {
                *total += n;
            }
            entry.1 += h.count();
            entry.2 += h.sum();
        });
        for (target, (buckets, count, sum)) in latency {
            let mut inside = 0;
            for (bound, n) in BUCKETS.iter().zip(buckets) {
                inside += n;
                out.push(
                    Sample::new("job_latency_seconds_bucket", n as f64)
                        .label("target", &target)
                        .label("le", bound.to_string()),
                );
            }
            out.push(
                Sample::new(
                    "job_latency_seconds_bucket",
                    count.saturating_sub(inside) as f64,
                )
                .label("target", &target)
                .label("le", "+Inf"),
            );
            out.push(
                Sample::new("job_latency_seconds_count", count as f64).label("target", &target),
            );
            out.push(Sample::new("job_latency_seconds_sum", sum).label("target", &target));
        }
        Ok(())
    }
}

/// Health of every configured target, from the health book.
///
/// Samples per target: `health_status{target,type}` (0 unknown, 1 healthy, 2 degraded,
/// 3 unhealthy), `health_success_rate{target}` (0–100, only with data),
/// `health_consecutive_failures{target}`, `health_latency_ms{target}`,
/// `health_last_check_timestamp{target}` (seconds since the epoch).
#[derive(Debug)]
pub struct HealthCollector {
    /// Health of each target.
    pub book: Arc<HealthBook>,
    /// The configured targets.
    pub targets: Arc<dyn TargetList>,
}

#[async_trait::async_trait]
impl Collector for HealthCollector {
    fn name(&self) -> &'static str {
        "health"
    }

    async fn collect(&self, out: &mut Vec<Sample>) -> Result<(), CollectError> {
        for t in self.targets.targets() {
            let h = self.book.get(&t.name);
            out.push(
                Sample::new("health_status", h.status.gauge())
                    .label("target", t.name.clone())
                    .label("type", t.kind.clone()),
            );
            if let Some(rate) = h.success_rate {
                out.push(
                    Sample::new("health_success_rate", rate * 100.0)
                        .label("target", t.name.clone()),
                );
            }
            out.push(
                Sample::new(
                    "health_consecutive_failures",
                    f64::from(h.consecutive_failures),
                )
                .label("target", t.name.clone()),
            );
            if let Some(ms) = h.last_latency_ms {
                out.push(
                    Sample::new("health_latency_ms", ms as f64).label("target", t.name.clone()),
                );
            }
            if let Some(at) = h.last_check {
                out.push(
                    Sample::new(
                        "health_last_check_timestamp",
                        at.timestamp_millis() as f64 / 1000.0,
                    )
                    .label("target", t.name.clone()),
                );
            }
        }
        Ok(())
    }
}

/// Circuit breakers of every target that has seen traffic.
///
/// Samples: `circuit_breaker_state{target}` (0 closed, 1 half-open, 2 open).
#[derive(Debug)]
pub struct BreakerCollector {
    /// The running engine.
    pub engine: EngineHandle,
}

#[async_trait::async_trait]
impl Collector for BreakerCollector {
    fn name(&self) -> &'static str {
        "circuit_breakers"
    }

    async fn collect(&self, out: &mut Vec<Sample>) -> Result<(), CollectError> {
        for (target, state) in self.engine.breakers() {
            out.push(Sample::new("circuit_breaker_state", state.gauge()).label("target", target));
        }
        out.push(Sample::new(
            "workers_active",
            self.engine.active_workers() as f64,
        ));
        out.push(Sample::new(
            "workers_total",
            self.engine.concurrency() as f64,
        ));
        Ok(())
    }
}

/// Where target refreshes stand, as the service's discovery sources report them (all sources
/// folded into one: the latest refresh, the earliest next one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshState {
    /// When the last successful refresh (or the start-up load) finished.
    pub last: Option<DateTime<Utc>>,
    /// How long it took.
    pub duration: Option<Duration>,
    /// When the next periodic refresh or retry is due (none when targets are loaded once).
    pub next: Option<DateTime<Utc>>,
    /// The periodic refresh interval (none when targets are loaded once).
    pub interval: Option<Duration>,
    /// A refresh runs now.
    pub in_progress: bool,
    /// The last refresh of some source failed (its last good targets stay in force).
    pub last_error: Option<String>,
    /// Targets in force.
    pub targets: usize,
    /// Failed refreshes in a row, summed over the sources.
    pub failures: u64,
}

impl RefreshState {
    /// `in_progress` while a refresh runs, `failed` when the last one failed, else `idle`.
    pub fn state(&self) -> &'static str {
        if self.in_progress {
            "in_progress"
        } else if self.last_error.is_some() {
            "failed"
        } else {
            "idle"
        }
    }
}

/// Reads the refresh state, cheaply (no I/O).
pub trait RefreshSource: Send + Sync + std::fmt::Debug {
    /// Where refreshes stand now.
    fn refresh_state(&self) -> RefreshState;
}

impl RefreshSource for RefreshState {
    fn refresh_state(&self) -> RefreshState {
        self.clone()
    }
}

/// Targets known, by type, and the last discovery run.
///
/// Samples: `discovery_total_targets`, `discovery_enabled_targets`,
/// `discovery_targets{type}`, `discovery_latency_ms`, `discovery_last_timestamp`.
#[derive(Debug)]
pub struct DiscoveryCollector {
    /// The configured targets.
    pub targets: Arc<dyn TargetList>,
    /// The discovery sources.
    pub source: Arc<dyn RefreshSource>,
}

#[async_trait::async_trait]
impl Collector for DiscoveryCollector {
    fn name(&self) -> &'static str {
        "discovery"
    }

    async fn collect(&self, out: &mut Vec<Sample>) -> Result<(), CollectError> {
        let targets = self.targets.targets();
        let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
        for t in &targets {
            *by_type.entry(t.kind.clone()).or_default() += 1;
        }
        out.push(Sample::new("discovery_total_targets", targets.len() as f64));
        out.push(Sample::new(
            "discovery_enabled_targets",
            targets.iter().filter(|t| t.enabled).count() as f64,
        ));
        for (kind, n) in by_type {
            out.push(Sample::new("discovery_targets", n as f64).label("type", kind));
        }
        let s = self.source.refresh_state();
        if let Some(latency) = s.duration {
            out.push(Sample::new(
                "discovery_latency_ms",
                latency.as_secs_f64() * 1000.0,
            ));
        }
        if let Some(at) = s.last {
            out.push(Sample::new(
                "discovery_last_timestamp",
                at.timestamp_millis() as f64 / 1000.0,
            ));
        }
        Ok(())
    }
}

/// The refresh schedule: when targets were last (re)loaded, the next refresh, the interval.
///
/// Samples: `refresh_last_refresh_timestamp`, `refresh_next_refresh_timestamp`,
/// `refresh_duration_ms`, `refresh_in_progress` (0 or 1), `refresh_targets_discovered`,
/// `refresh_interval_seconds` (0 when targets are loaded once), `refresh_failures`.
#[derive(Debug)]
pub struct RefreshCollector {
    /// The discovery sources.
    pub source: Arc<dyn RefreshSource>,
}

#[async_trait::async_trait]
impl Collector for RefreshCollector {
    fn name(&self) -> &'static str {
        "refresh"
    }

    async fn collect(&self, out: &mut Vec<Sample>) -> Result<(), CollectError> {
        let s = self.source.refresh_state();
        let seconds = |at: DateTime<Utc>| at.timestamp_millis() as f64 / 1000.0;
        if let Some(at) = s.last {
            out.push(Sample::new("refresh_last_refresh_timestamp", seconds(at)));
        }
        if let Some(at) = s.next {
            out.push(Sample::new("refresh_next_refresh_timestamp", seconds(at)));
        }
        if let Some(d) = s.duration {
            out.push(Sample::new("refresh_duration_ms", d.as_secs_f64() * 1000.0));
        }
        out.push(Sample::new(
            "refresh_in_progress",
            if s.in_progress { 1.0 } else { 0.0 },
        ));
        out.push(Sample::new("refresh_targets_discovered", s.targets as f64));
        out.push(Sample::new(
            "refresh_interval_seconds",
            s.interval.map_or(0.0, |d| d.as_secs_f64()),
        ));
        out.push(Sample::new("refresh_failures", s.failures as f64));
        Ok(())
    }
}

/// Each vendor publisher's own counter families, as [`TargetList::vendor_counters`] lists
/// them, summed per target.
///
/// Samples: `publisher_counter{vendor,metric,target}` where `metric` is the family's short
/// name (`events_total`, `errors_total`, …).
#[derive(Debug)]
pub struct PublisherCollector {
    /// The service's own counters.
    pub tap: Tap,
    /// Names the vendor counter families.
    pub targets: Arc<dyn TargetList>,
}

#[async_trait::async_trait]
impl Collector for PublisherCollector {
    fn name(&self) -> &'static str {
        "publishers"
    }

    async fn collect(&self, out: &mut Vec<Sample>) -> Result<(), CollectError> {
        let mut sums: BTreeMap<(String, &'static str, String), u64> = BTreeMap::new();
        for vendor in self.targets.vendor_counters() {
            for (metric, family) in vendor.counters {
                self.tap.counters(family, |k, v| {
                    let target = label(k, "target").unwrap_or_default().to_owned();
                    *sums
                        .entry((vendor.vendor.clone(), metric, target))
                        .or_default() += v;
                });
            }
        }
        for ((vendor, metric, target), v) in sums {
            out.push(
                Sample::new("publisher_counter", v as f64)
                    .label("vendor", vendor)
                    .label("metric", metric)
                    .label("target", target),
            );
        }
        Ok(())
    }
}

/// Parallel publishing requests by endpoint and result.
///
/// Samples: `parallel_requests{endpoint,result}`, `parallel_targets{result}`.
#[derive(Debug)]
pub struct ParallelCollector {
    /// The service's own counters.
    pub tap: Tap,
}

#[async_trait::async_trait]
impl Collector for ParallelCollector {
    fn name(&self) -> &'static str {
        "parallel"
    }

    async fn collect(&self, out: &mut Vec<Sample>) -> Result<(), CollectError> {
        self.tap.counters(PARALLEL_REQUESTS_TOTAL, |k, v| {
            out.push(
                Sample::new("parallel_requests", v as f64)
                    .label("endpoint", label(k, "endpoint").unwrap_or_default())
                    .label("result", label(k, "result").unwrap_or_default()),
            );
        });
        // Summed over target types: one sample per result.
        let mut by_result: BTreeMap<String, u64> = BTreeMap::new();
        self.tap.counters(PARALLEL_TARGETS_TOTAL, |k, v| {
            *by_result
                .entry(label(k, "result").unwrap_or_default().to_owned())
                .or_default() += v;
        });
        for (result, v) in by_result {
            out.push(Sample::new("parallel_targets", v as f64).label("result", &result));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Targets that list two vendors' counter families (vendors the collector cannot know).
    #[derive(Debug)]
    struct Vendors;

    impl TargetList for Vendors {
        fn targets(&self) -> Vec<TargetInfo> {
            Vec::new()
        }

        fn vendor_counters(&self) -> Vec<VendorCounters> {
            vec![
                VendorCounters {
                    vendor: "acme".to_owned(),
                    counters: vec![("events_total", "alert_publisher_acme_events_total")],
                },
                VendorCounters {
                    vendor: "globex".to_owned(),
                    counters: vec![
                        ("errors_total", "alert_publisher_globex_errors_total"),
                        (
                            "messages_posted_total",
                            "alert_publisher_globex_messages_posted_total",
                        ),
                    ],
                },
            ]
        }
    }

    async fn publisher_samples(targets: Arc<dyn TargetList>, emit: impl FnOnce()) -> Vec<String> {
        let tap = Tap::new();
        metrics::with_local_recorder(&tap.recorder(), emit);
        let mut out = Vec::new();
        PublisherCollector { tap, targets }
            .collect(&mut out)
            .await
            .expect("collects");
        out.iter()
            .map(|s| format!("{} {}", s.key(), s.value))
            .collect()
    }

    #[tokio::test]
    async fn publisher_counters_are_summed_per_vendor_family_and_target() {
        let samples = publisher_samples(Arc::new(Vendors), || {
            metrics::counter!("alert_publisher_acme_events_total", "target" => "a", "action" => "trigger", "result" => "delivered").increment(3);
            metrics::counter!("alert_publisher_acme_events_total", "target" => "a", "action" => "resolve", "result" => "delivered").increment(2);
            metrics::counter!("alert_publisher_globex_errors_total", "target" => "s1", "action" => "update", "reason" => "timeout").increment(1);
            metrics::counter!("alert_publisher_globex_errors_total", "target" => "s2", "action" => "update", "reason" => "timeout").increment(4);
            metrics::counter!("alert_publisher_globex_messages_posted_total", "target" => "s1")
                .increment(7);
            // Not listed by the target list: not reported.
            metrics::counter!("alert_publisher_globex_rate_limited_total", "target" => "s1")
                .increment(9);
            metrics::counter!("alert_publisher_initech_requests_total", "target" => "r")
                .increment(9);
        })
        .await;
        assert_eq!(
            samples,
            [
                r#"publisher_counter{vendor="acme",metric="events_total",target="a"} 5"#,
                r#"publisher_counter{vendor="globex",metric="errors_total",target="s1"} 1"#,
                r#"publisher_counter{vendor="globex",metric="errors_total",target="s2"} 4"#,
                r#"publisher_counter{vendor="globex",metric="messages_posted_total",target="s1"} 7"#,
            ]
        );
    }

    #[tokio::test]
    async fn no_vendor_families_listed_means_no_publisher_samples() {
        let samples = publisher_samples(Arc::new(Vec::<TargetInfo>::new()), || {
            metrics::counter!("alert_publisher_globex_errors_total", "target" => "s1").increment(1);
        })
        .await;
        assert!(samples.is_empty(), "{samples:?}");
    }
}
