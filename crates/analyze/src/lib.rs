//! Layer 3 of the publishing metrics system: **analyze**.
//!
//! A bounded [`History`] of [`Point`]s (one per sampling interval; the service samples every
//! 10 s and keeps 24 h by default), the [`Sampler`] that makes a point of each
//! [`aggregate::PublishingStats`], and [`analyze`], which compares the newest point with the
//! points before it. [`TrendConfig`] is the `stats.trends:` section of the service
//! configuration.
//!
//! ## Window
//!
//! Each point describes one **window: the deliveries that finished since the previous point**
//! (one sampling interval; since the start of the process for the first point). Its success
//! rate, its errors and its latency (the mean of the delivery attempts finished in the window) come
//! from the growth of the cumulative counters and of the latency histogram's count and sum
//! between two samples — never from figures accumulated since start-up, which dilute a change
//! more with every hour the process has run. A change in the deliveries therefore shows in the
//! first point taken after it, at most one sampling interval later (two intervals when the
//! change falls just after a sample and its first deliveries finish in the next window). A
//! window without finished deliveries has no latency (`latency_ms: None`) and a success rate
//! of 100.
//!
//! ## Method
//!
//! For each series, over the points *before* the newest one:
//! - **EMA** with smoothing factor α ([`TrendConfig::alpha`], default 0.3):
//!   `ema₀ = x₀`, `emaᵢ = α·xᵢ + (1 − α)·emaᵢ₋₁`;
//! - **σ** = population standard deviation of the same points;
//! - `change_pct = (current − ema) / ema × 100` (0 when the EMA is 0).
//!
//! ## Classification (thresholds in [`TrendConfig`])
//!
//! - Success rate: `increasing` when `change_pct > +5`, `decreasing` when `< −5`, else `stable`.
//! - Latency: `degrading` when `change_pct > +15`, `improving` when `< −15`, else `stable`.
//! - Error spike (failed attempts per interval): detected when `current > ema + 3σ` and at least
//!   [`TrendConfig::min_points`] earlier points exist.
//! - Queue growth: rate per minute between consecutive points; its EMA (all rates, newest
//!   included) above `+queue_growth_tolerance` jobs/min is `increasing`, below the negative
//!   tolerance `decreasing`, else `stable`.
//!
//! With fewer than [`TrendConfig::min_points`] earlier points every trend is `stable`.
//!
//! **Invariant:** pure computation; the caller owns the clock and decides when to sample.

use std::collections::VecDeque;

use aggregate::PublishingStats;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One sample of the system: its window (see the crate docs) and the queue at its end.
/// Serialized as JSON to keep the history across restarts (and answered by the trends API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Point {
    /// When.
    pub at: DateTime<Utc>,
    /// Success rate (0–100) of the attempts that finished in the window.
    pub success_rate: f64,
    /// Mean latency in ms of the deliveries that finished in the window; `None` without any.
    pub latency_ms: Option<f64>,
    /// Latency percentiles in ms of the deliveries that finished in the window (from the
    /// latency histogram's growth over the window); `None` without any, and in samples stored
    /// before they were recorded.
    #[serde(default)]
    pub p50_ms: Option<f64>,
    /// 95th percentile, likewise.
    #[serde(default)]
    pub p95_ms: Option<f64>,
    /// 99th percentile, likewise.
    #[serde(default)]
    pub p99_ms: Option<f64>,
    /// Failed attempts in the window.
    pub errors: f64,
    /// Deliveries (successful attempts) in the window; 0 in samples stored before it was
    /// recorded.
    #[serde(default)]
    pub delivered: f64,
    /// Pending jobs.
    pub queue_size: f64,
}

/// A bounded time series (oldest dropped first).
#[derive(Debug, Clone)]
pub struct History {
    points: VecDeque<Point>,
    capacity: usize,
}

impl History {
    /// Keeps at most `capacity` points (at least 2).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(2);
        Self {
            points: VecDeque::with_capacity(capacity.min(100_000)),
            capacity,
        }
    }

    /// Capacity for `retention` at one point per `interval`.
    pub fn for_retention(retention: std::time::Duration, interval: std::time::Duration) -> Self {
        let n = retention.as_secs_f64() / interval.as_secs_f64().max(0.001);
        Self::new(n.ceil() as usize)
    }

    /// Appends a point, dropping the oldest beyond capacity.
    pub fn push(&mut self, p: Point) {
        while self.points.len() >= self.capacity {
            self.points.pop_front();
        }
        self.points.push_back(p);
    }

    /// Points held.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// No points.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Most points kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The points, oldest first.
    pub fn points(&self) -> impl ExactSizeIterator<Item = &Point> {
        self.points.iter()
    }
}

/// Thresholds of the classification; `stats.trends:` in the service configuration (unknown
/// keys refused, missing keys default). Check it with [`TrendConfig::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TrendConfig {
    /// EMA smoothing factor (0 < α ≤ 1; default 0.3).
    pub alpha: f64,
    /// Success-rate change (% of the EMA) beyond which it is a trend (default 5).
    pub success_rate_pct: f64,
    /// Latency change (% of the EMA) beyond which it is a trend (default 15).
    pub latency_pct: f64,
    /// σ above the EMA that make an error spike (default 3).
    pub spike_sigmas: f64,
    /// Jobs per minute of smoothed queue growth that make a trend (default 1).
    pub queue_growth_tolerance: f64,
    /// Earlier points needed before anything but `stable` is reported (default 3).
    pub min_points: usize,
}

impl Default for TrendConfig {
    fn default() -> Self {
        Self {
            alpha: 0.3,
            success_rate_pct: 5.0,
            latency_pct: 15.0,
            spike_sigmas: 3.0,
            queue_growth_tolerance: 1.0,
            min_points: 3,
        }
    }
}

/// A [`TrendConfig`] value that makes no sense; `field` is its key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("field `{field}`: {message}")]
pub struct TrendConfigError {
    /// The key, e.g. `alpha`.
    pub field: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl TrendConfig {
    /// Refuses thresholds the method cannot use: `alpha` outside (0, 1], a negative or
    /// non-finite threshold.
    pub fn validate(&self) -> Result<(), TrendConfigError> {
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(TrendConfigError {
                field: "alpha",
                message: format!("must be greater than 0 and at most 1 (got {})", self.alpha),
            });
        }
        for (field, value) in [
            ("success_rate_pct", self.success_rate_pct),
            ("latency_pct", self.latency_pct),
            ("spike_sigmas", self.spike_sigmas),
            ("queue_growth_tolerance", self.queue_growth_tolerance),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(TrendConfigError {
                    field,
                    message: format!("must be a number of at least 0 (got {value})"),
                });
            }
        }
        Ok(())
    }
}

/// Turns successive aggregated statistics into [`Point`]s. The job counters and the latency
/// histogram of [`PublishingStats`] grow from the start of the process, so a point covers the
/// attempts and deliveries since the previous point (since the start for the first one): its
/// window. Queue size is taken as it is.
#[derive(Debug, Default)]
pub struct Sampler {
    last: Option<Counters>,
    /// The latency histogram at the previous point.
    last_buckets: Vec<u64>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    processed: u64,
    delivered: u64,
    failed: u64,
    /// Latency observations.
    timed: u64,
    /// Their sum in ms.
    latency_sum_ms: f64,
}

impl Sampler {
    /// No earlier statistics.
    pub fn new() -> Self {
        Self::default()
    }

    /// The point for `stats` taken at `at`, and remembers its counters for the next one.
    /// A counter lower than the previous one counts as no change.
    pub fn point(&mut self, stats: &PublishingStats, at: DateTime<Utc>) -> Point {
        let jobs = &stats.system.jobs;
        let latency = &stats.system.latency;
        let now = Counters {
            processed: jobs.processed,
            delivered: jobs.succeeded,
            failed: jobs.failed,
            timed: latency.count,
            latency_sum_ms: latency.mean_ms.unwrap_or(0.0) * latency.count as f64,
        };
        let prev = self.last.replace(now).unwrap_or_default();
        let window: Vec<u64> = latency
            .buckets
            .iter()
            .enumerate()
            .map(|(i, n)| n.saturating_sub(self.last_buckets.get(i).copied().unwrap_or(0)))
            .collect();
        self.last_buckets.clone_from(&latency.buckets);
        let quantile_ms = |q| aggregate::quantile(&window, q).map(|s| s * 1000.0);
        let processed = now.processed.saturating_sub(prev.processed);
        let delivered = now.delivered.saturating_sub(prev.delivered);
        let timed = now.timed.saturating_sub(prev.timed);
        Point {
            at,
            success_rate: if processed == 0 {
                100.0
            } else {
                delivered as f64 / processed as f64 * 100.0
            },
            latency_ms: (timed > 0)
                .then(|| ((now.latency_sum_ms - prev.latency_sum_ms) / timed as f64).max(0.0)),
            p50_ms: quantile_ms(0.5),
            p95_ms: quantile_ms(0.95),
            p99_ms: quantile_ms(0.99),
            errors: now.failed.saturating_sub(prev.failed) as f64,
            delivered: delivered as f64,
            queue_size: stats.system.queue.size as f64,
        }
    }
}

/// EMA and population σ of `xs` (`None` when empty).
pub fn ema_std(xs: impl Iterator<Item = f64>, alpha: f64) -> Option<(f64, f64)> {
    let (mut ema, mut n, mut mean, mut m2) = (None::<f64>, 0.0, 0.0, 0.0);
    for x in xs {
        ema = Some(match ema {
            None => x,
            Some(e) => alpha * x + (1.0 - alpha) * e,
        });
        // Welford.
        n += 1.0;
        let d = x - mean;
        mean += d / n;
        m2 += d * (x - mean);
    }
    ema.map(|e| (e, (m2 / n).sqrt()))
}

fn change_pct(current: f64, ema: f64) -> f64 {
    if ema == 0.0 {
        0.0
    } else {
        (current - ema) / ema.abs() * 100.0
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Success-rate trend.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SuccessRateTrend {
    /// `increasing` / `stable` / `decreasing`.
    pub trend: &'static str,
    /// Newest value (%).
    pub current: f64,
    /// EMA of earlier values.
    pub ema: f64,
    /// σ of earlier values.
    pub std_dev: f64,
    /// % change from the EMA.
    pub change_pct: f64,
}

/// Latency trend.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LatencyTrend {
    /// `improving` / `stable` / `degrading`.
    pub trend: &'static str,
    /// Mean latency of the deliveries in the newest window (ms; 0 without any).
    pub current_ms: f64,
    /// EMA of earlier values.
    pub ema_ms: f64,
    /// σ of earlier values.
    pub std_dev_ms: f64,
    /// % change from the EMA.
    pub change_pct: f64,
}

/// Error spike.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ErrorSpike {
    /// current > EMA + k·σ.
    pub detected: bool,
    /// Failed attempts in the newest interval.
    pub current_errors: u64,
    /// EMA of earlier intervals.
    pub ema_errors: f64,
    /// EMA + k·σ.
    pub threshold: f64,
    /// σ of earlier intervals.
    pub std_dev: f64,
}

/// Queue growth.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueGrowth {
    /// Jobs per minute between the last two points.
    pub rate_per_min: f64,
    /// `increasing` / `stable` / `decreasing`.
    pub trend: &'static str,
    /// EMA of all rates.
    pub ema_rate: f64,
}

/// All trends.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Trends {
    /// Success rate.
    pub success_rate: SuccessRateTrend,
    /// Latency.
    pub latency: LatencyTrend,
    /// Error spike.
    pub error_spike: ErrorSpike,
    /// Queue growth.
    pub queue_growth: QueueGrowth,
}

/// Trends with their summary.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Analysis {
    /// Time of the newest point (now, without points).
    pub timestamp: DateTime<Utc>,
    /// Points analysed.
    pub samples: usize,
    /// The trends.
    pub trends: Trends,
    /// One human-readable line.
    pub summary: String,
}

fn classify(
    change: f64,
    bound: f64,
    up: &'static str,
    down: &'static str,
    enough: bool,
) -> &'static str {
    if !enough {
        "stable"
    } else if change > bound {
        up
    } else if change < -bound {
        down
    } else {
        "stable"
    }
}

/// Analyses the history (see the crate docs for the method).
pub fn analyze(history: &History, config: &TrendConfig, now: DateTime<Utc>) -> Analysis {
    let n = history.points.len();
    let alpha = config.alpha.clamp(f64::MIN_POSITIVE, 1.0);
    let earlier = || history.points.iter().take(n.saturating_sub(1));
    let last = history.points.back();
    let enough = n > config.min_points;

    let current = last.map_or(100.0, |p| p.success_rate);
    let (ema, sd) = ema_std(earlier().map(|p| p.success_rate), alpha).unwrap_or((current, 0.0));
    let change = change_pct(current, ema);
    let success_rate = SuccessRateTrend {
        trend: classify(
            change,
            config.success_rate_pct,
            "increasing",
            "decreasing",
            enough,
        ),
        current: round(current),
        ema: round(ema),
        std_dev: round(sd),
        change_pct: round(change),
    };

    let current_ms = last.and_then(|p| p.latency_ms);
    let lat_earlier: Vec<f64> = earlier().filter_map(|p| p.latency_ms).collect();
    let (ema_ms, sd_ms) =
        ema_std(lat_earlier.iter().copied(), alpha).unwrap_or((current_ms.unwrap_or(0.0), 0.0));
    let lat_change = current_ms.map_or(0.0, |c| change_pct(c, ema_ms));
    let latency = LatencyTrend {
        trend: classify(
            lat_change,
            config.latency_pct,
            "degrading",
            "improving",
            current_ms.is_some() && lat_earlier.len() >= config.min_points,
        ),
        current_ms: round(current_ms.unwrap_or(0.0)),
        ema_ms: round(ema_ms),
        std_dev_ms: round(sd_ms),
        change_pct: round(lat_change),
    };

    let current_errors = last.map_or(0.0, |p| p.errors);
    let (ema_e, sd_e) =
        ema_std(earlier().map(|p| p.errors), alpha).unwrap_or((current_errors, 0.0));
    let threshold = ema_e + config.spike_sigmas * sd_e;
    let error_spike = ErrorSpike {
        detected: enough && current_errors > threshold,
        current_errors: current_errors.max(0.0) as u64,
        ema_errors: round(ema_e),
        threshold: round(threshold),
        std_dev: round(sd_e),
    };

    let rates = history
        .points
        .iter()
        .zip(history.points.iter().skip(1))
        .filter_map(|(a, b)| {
            let minutes = (b.at - a.at).num_milliseconds() as f64 / 60_000.0;
            (minutes > 0.0).then(|| (b.queue_size - a.queue_size) / minutes)
        });
    let mut rate_now = 0.0;
    let (ema_rate, _) = ema_std(rates.inspect(|r| rate_now = *r), alpha).unwrap_or((0.0, 0.0));
    let queue_growth = QueueGrowth {
        rate_per_min: round(rate_now),
        trend: classify(
            ema_rate,
            config.queue_growth_tolerance,
            "increasing",
            "decreasing",
            enough,
        ),
        ema_rate: round(ema_rate),
    };

    let trends = Trends {
        success_rate,
        latency,
        error_spike,
        queue_growth,
    };
    Analysis {
        timestamp: last.map_or(now, |p| p.at),
        samples: n,
        summary: summary(&trends, n),
        trends,
    }
}

fn summary(t: &Trends, samples: usize) -> String {
    let state = if t.error_spike.detected
        || t.success_rate.trend == "decreasing"
        || t.latency.trend == "degrading"
        || t.queue_growth.trend == "increasing"
    {
        "System needs attention"
    } else {
        "System stable"
    };
    let spikes = if t.error_spike.detected {
        format!(
            "error spike detected ({} errors > threshold {})",
            t.error_spike.current_errors, t.error_spike.threshold
        )
    } else {
        "no error spikes".to_owned()
    };
    format!(
        "{state}: {:.1}% success rate ({}), {:.0}ms latency ({}), {spikes}, queue growth {:.1} jobs/min ({}) over {samples} samples",
        t.success_rate.current,
        t.success_rate.trend,
        t.latency.current_ms,
        t.latency.trend,
        t.queue_growth.rate_per_min,
        t.queue_growth.trend,
    )
}

#[cfg(test)]
mod tests;
