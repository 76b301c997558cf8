//! Layer 2 of the publishing metrics system: **aggregate**.
//!
//! [`aggregate`] turns one [`collect::MetricsSnapshot`] into [`PublishingStats`]: system-wide
//! and per-target job counts, success rates, latency percentiles (from the latency
//! histograms), queue size, capacity and utilization, targets by health state, and a
//! [`HealthScore`] from 0 to 100.
//!
//! ## Definitions
//!
//! - An **attempt** is one delivery try of one job; it ends `delivered`, `retry` (failed, will be
//!   tried again) or `dead` (failed for good: moved to the dead-letter queue).
//! - `processed` = attempts; `succeeded` = delivered; `failed` = retry + dead attempts;
//!   `retried` = retry attempts; `dead_lettered` = dead attempts.
//! - **Success rate** = delivered / attempts × 100 (100 when there were no attempts).
//! - **Latency percentiles** are interpolated linearly inside the histogram bucket that holds
//!   the rank (as PromQL `histogram_quantile` does); a rank in the overflow bucket reports the
//!   largest finite bound.
//! - **Utilization** = pending jobs / configured capacity × 100.
//!
//! ## Health score
//!
//! `score = 100 × (0.40·S + 0.30·T + 0.20·Q + 0.10·B)` where
//! - `S` = system success rate / 100,
//! - `T` = mean target health over targets with data (healthy 1, degraded 0.5, unhealthy 0;
//!   1 when no target has data yet),
//! - `Q` = 1 − min(utilization, 100) / 100,
//! - `B` = 1 − open circuit breakers / configured targets (1 without targets).
//!
//! A score ≥ 80 is **healthy**, ≥ 50 **degraded**, below 50 **unhealthy**. The weights and
//! bounds are [`ScoreWeights`] and can be changed by the caller.
//!
//! **Invariant:** pure computation over a snapshot; no I/O, no clocks.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use collect::{BUCKETS, MetricsSnapshot};
use serde::Serialize;

/// Weights and bounds of the health score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreWeights {
    /// Weight of the success rate.
    pub success_rate: f64,
    /// Weight of target health.
    pub target_health: f64,
    /// Weight of free queue capacity.
    pub queue: f64,
    /// Weight of closed circuit breakers.
    pub breakers: f64,
    /// Lowest score that is healthy.
    pub healthy_from: f64,
    /// Lowest score that is degraded.
    pub degraded_from: f64,
}

impl Default for ScoreWeights {
    fn default() -> Self {
        Self {
            success_rate: 0.4,
            target_health: 0.3,
            queue: 0.2,
            breakers: 0.1,
            healthy_from: 80.0,
            degraded_from: 50.0,
        }
    }
}

/// healthy / degraded / unhealthy / unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Working.
    Healthy,
    /// Working with trouble.
    Degraded,
    /// Not working.
    Unhealthy,
    /// No data yet.
    Unknown,
}

impl Status {
    /// From the `health_status` gauge (0 unknown, 1 healthy, 2 degraded, 3 unhealthy).
    pub fn from_gauge(v: f64) -> Self {
        match v as i64 {
            1 => Status::Healthy,
            2 => Status::Degraded,
            3 => Status::Unhealthy,
            _ => Status::Unknown,
        }
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
            Status::Unknown => "unknown",
        }
    }
}

/// Job counts of attempts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Jobs {
    /// Attempts.
    pub processed: u64,
    /// Delivered.
    pub succeeded: u64,
    /// Failed attempts (retry + dead).
    pub failed: u64,
    /// Failed attempts that will be retried.
    pub retried: u64,
    /// Jobs moved to the dead-letter queue.
    pub dead_lettered: u64,
    /// succeeded / processed × 100 (100 without attempts).
    pub success_rate: f64,
}

impl Jobs {
    fn add(&mut self, state: &str, n: u64) {
        match state {
            "delivered" => self.succeeded += n,
            "retry" => self.retried += n,
            "dead" => self.dead_lettered += n,
            _ => return,
        }
        self.processed += n;
    }

    fn finish(&mut self) {
        self.failed = self.retried + self.dead_lettered;
        self.success_rate = rate(self.succeeded, self.processed);
    }
}

fn rate(ok: u64, total: u64) -> f64 {
    if total == 0 {
        100.0
    } else {
        ok as f64 / total as f64 * 100.0
    }
}

/// Latency percentiles in milliseconds (`None` without observations).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Latency {
    /// Observations.
    pub count: u64,
    /// Mean.
    #[schema(required)]
    pub mean_ms: Option<f64>,
    /// Median.
    #[schema(required)]
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    #[schema(required)]
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    #[schema(required)]
    pub p99_ms: Option<f64>,
    /// The histogram the percentiles come from (counts per bucket of [`BUCKETS`], the last
    /// one the overflow), so that percentiles of a window can be taken from two snapshots.
    #[serde(skip)]
    pub buckets: Vec<u64>,
}

/// Histogram counts per bucket (last one is the overflow).
type Buckets = [u64; BUCKETS.len() + 1];

/// The `q` quantile (0–1) in seconds of a non-cumulative bucket histogram.
pub fn quantile(buckets: &[u64], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut seen = 0.0;
    for (i, n) in buckets.iter().enumerate() {
        let n = *n as f64;
        if n > 0.0 && seen + n >= rank {
            let Some(upper) = BUCKETS.get(i) else {
                return BUCKETS.last().copied();
            };
            let lower = if i == 0 { 0.0 } else { BUCKETS[i - 1] };
            return Some(lower + (upper - lower) * ((rank - seen) / n).clamp(0.0, 1.0));
        }
        seen += n;
    }
    BUCKETS.last().copied()
}

fn latency(buckets: &Buckets, count: u64, sum: f64) -> Latency {
    let ms = |q| quantile(buckets, q).map(|s| s * 1000.0);
    Latency {
        count,
        mean_ms: (count > 0).then(|| sum / count as f64 * 1000.0),
        p50_ms: ms(0.5),
        p95_ms: ms(0.95),
        p99_ms: ms(0.99),
        buckets: buckets.to_vec(),
    }
}

/// One target's health as collected.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TargetHealthStats {
    /// Status.
    pub status: Status,
    /// Success rate of recent results (0–100), `None` without data.
    #[schema(required)]
    pub success_rate: Option<f64>,
    /// Failures in a row.
    pub consecutive_failures: u64,
    /// Latency of the last result.
    #[schema(required)]
    pub latency_ms: Option<f64>,
    /// When the last result came in.
    #[schema(required)]
    pub last_check: Option<DateTime<Utc>>,
}

impl Default for TargetHealthStats {
    fn default() -> Self {
        Self {
            status: Status::Unknown,
            success_rate: None,
            consecutive_failures: 0,
            latency_ms: None,
            last_check: None,
        }
    }
}

/// Everything about one target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TargetStats {
    /// Target name.
    pub name: String,
    /// Target type (empty when the target is not configured any more).
    #[serde(rename = "type")]
    pub kind: String,
    /// Health.
    pub health: TargetHealthStats,
    /// Attempts and outcomes.
    pub jobs: Jobs,
    /// Delivery latency.
    pub latency: Latency,
    /// Dead letters by failure kind.
    pub dead_letters_by_reason: BTreeMap<String, u64>,
    /// `closed`, `half_open` or `open` (`closed` before any traffic).
    #[schema(value_type = String)]
    pub circuit_breaker: &'static str,
    #[serde(skip)]
    buckets: Buckets,
    #[serde(skip)]
    latency_sum: f64,
}

impl TargetStats {
    /// A target without any data yet.
    pub fn empty(name: &str, kind: &str) -> Self {
        Self {
            name: name.to_owned(),
            kind: kind.to_owned(),
            circuit_breaker: "closed",
            ..Default::default()
        }
    }
}

/// Queue state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueSummary {
    /// Pending jobs.
    pub size: u64,
    /// Pending by priority.
    pub by_priority: BTreeMap<String, u64>,
    /// Being delivered.
    pub in_flight: u64,
    /// Dead letters stored.
    pub dlq_size: u64,
    /// Configured soft capacity.
    pub capacity: u64,
    /// size / capacity × 100.
    pub utilization: f64,
    /// Jobs stored since start.
    pub jobs_submitted: u64,
}

/// Targets by health state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HealthCounts {
    /// Configured targets.
    pub total_targets: u64,
    /// Healthy.
    pub healthy: u64,
    /// Degraded.
    pub degraded: u64,
    /// Unhealthy.
    pub unhealthy: u64,
    /// No data yet.
    pub unknown: u64,
}

/// The health score with its parts.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HealthScore {
    /// 0–100, rounded to two decimals.
    pub score: f64,
    /// From the score.
    pub status: Status,
    /// Each part, 0–1, before weighting: `success_rate`, `target_health`, `queue`, `breakers`.
    pub components: BTreeMap<&'static str, f64>,
}

/// System-wide statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SystemStats {
    /// Attempts and outcomes over all targets.
    pub jobs: Jobs,
    /// Delivery latency over all targets.
    pub latency: Latency,
    /// Queue.
    pub queue: QueueSummary,
    /// Targets by health.
    pub targets: HealthCounts,
    /// Circuit breakers open now.
    pub circuit_breakers_open: u64,
}

/// Layer 2's output.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PublishingStats {
    /// When the snapshot was taken.
    pub timestamp: DateTime<Utc>,
    /// System-wide.
    pub system: SystemStats,
    /// Per target, by name.
    pub targets: BTreeMap<String, TargetStats>,
    /// The health score.
    pub score: HealthScore,
    /// Collectors that failed in this snapshot.
    pub collection_errors: BTreeMap<String, String>,
}

fn bucket_index(le: &str) -> usize {
    le.parse::<f64>()
        .ok()
        .and_then(|v| BUCKETS.iter().position(|b| *b == v))
        .unwrap_or(BUCKETS.len())
}

/// Aggregates one snapshot.
pub fn aggregate(snapshot: &MetricsSnapshot, weights: &ScoreWeights) -> PublishingStats {
    let mut targets: BTreeMap<String, TargetStats> = BTreeMap::new();
    let mut system = SystemStats::default();
    let mut configured = 0u64;
    for s in &snapshot.samples {
        let t = s.get("target").map(|name| {
            if !targets.contains_key(name) {
                targets.insert(name.to_owned(), TargetStats::empty(name, ""));
            }
            targets.get_mut(name).expect("inserted above")
        });
        match (s.name, t) {
            ("health_status", Some(t)) => {
                configured += 1;
                t.kind = s.get("type").unwrap_or_default().to_owned();
                t.health.status = Status::from_gauge(s.value);
            }
            ("health_success_rate", Some(t)) => t.health.success_rate = Some(s.value),
            ("health_consecutive_failures", Some(t)) => {
                t.health.consecutive_failures = s.value as u64;
            }
            ("health_latency_ms", Some(t)) => t.health.latency_ms = Some(s.value),
            ("health_last_check_timestamp", Some(t)) => {
                t.health.last_check = DateTime::from_timestamp_millis((s.value * 1000.0) as i64);
            }
            ("jobs_processed", Some(t)) => {
                let n = s.value as u64;
                let state = s.get("state").unwrap_or_default();
                t.jobs.add(state, n);
                system.jobs.add(state, n);
            }
            ("dlq_writes", Some(t)) => {
                *t.dead_letters_by_reason
                    .entry(s.get("reason").unwrap_or_default().to_owned())
                    .or_default() += s.value as u64;
            }
            ("job_latency_seconds_bucket", Some(t)) => {
                t.buckets[bucket_index(s.get("le").unwrap_or_default())] += s.value as u64;
            }
            ("job_latency_seconds_count", Some(t)) => t.latency.count += s.value as u64,
            ("job_latency_seconds_sum", Some(t)) => t.latency_sum += s.value,
            ("circuit_breaker_state", Some(t)) => {
                t.circuit_breaker = match s.value as i64 {
                    1 => "half_open",
                    2 => "open",
                    _ => "closed",
                };
                if s.value as i64 == 2 {
                    system.circuit_breakers_open += 1;
                }
            }
            ("queue_size", None) => match s.get("priority") {
                Some(p) => {
                    system
                        .queue
                        .by_priority
                        .insert(p.to_owned(), s.value as u64);
                }
                None => system.queue.size = s.value as u64,
            },
            ("queue_in_flight", None) => system.queue.in_flight = s.value as u64,
            ("queue_dlq_size", None) => system.queue.dlq_size = s.value as u64,
            ("queue_capacity", None) => system.queue.capacity = s.value as u64,
            ("queue_jobs_submitted", None) => system.queue.jobs_submitted = s.value as u64,
            _ => {}
        }
    }
    system.jobs.finish();
    system.queue.utilization = if system.queue.capacity == 0 {
        0.0
    } else {
        system.queue.size as f64 / system.queue.capacity as f64 * 100.0
    };
    let mut all_buckets: Buckets = [0; BUCKETS.len() + 1];
    let mut all_sum = 0.0;
    let mut all_count = 0;
    let mut health_sum = 0.0;
    let mut with_data = 0u64;
    for t in targets.values_mut() {
        t.jobs.finish();
        t.latency = latency(&t.buckets, t.latency.count, t.latency_sum);
        for (a, b) in all_buckets.iter_mut().zip(t.buckets) {
            *a += b;
        }
        all_sum += t.latency_sum;
        all_count += t.latency.count;
        if t.kind.is_empty() {
            continue; // seen in counters only: no longer configured
        }
        let c = &mut system.targets;
        match t.health.status {
            Status::Healthy => {
                c.healthy += 1;
                health_sum += 1.0;
                with_data += 1;
            }
            Status::Degraded => {
                c.degraded += 1;
                health_sum += 0.5;
                with_data += 1;
            }
            Status::Unhealthy => {
                c.unhealthy += 1;
                with_data += 1;
            }
            Status::Unknown => c.unknown += 1,
        }
    }
    system.targets.total_targets = configured;
    system.latency = latency(&all_buckets, all_count, all_sum);
    let components = BTreeMap::from([
        ("success_rate", system.jobs.success_rate / 100.0),
        (
            "target_health",
            if with_data == 0 {
                1.0
            } else {
                health_sum / with_data as f64
            },
        ),
        ("queue", 1.0 - system.queue.utilization.min(100.0) / 100.0),
        (
            "breakers",
            if configured == 0 {
                1.0
            } else {
                1.0 - (system.circuit_breakers_open as f64 / configured as f64).min(1.0)
            },
        ),
    ]);
    let score = 100.0
        * (weights.success_rate * components["success_rate"]
            + weights.target_health * components["target_health"]
            + weights.queue * components["queue"]
            + weights.breakers * components["breakers"]);
    let score = (score.clamp(0.0, 100.0) * 100.0).round() / 100.0;
    let status = if score >= weights.healthy_from {
        Status::Healthy
    } else if score >= weights.degraded_from {
        Status::Degraded
    } else {
        Status::Unhealthy
    };
    PublishingStats {
        timestamp: snapshot.timestamp,
        system,
        targets,
        score: HealthScore {
            score,
            status,
            components,
        },
        collection_errors: snapshot.errors.clone(),
    }
}

#[cfg(test)]
mod tests;
