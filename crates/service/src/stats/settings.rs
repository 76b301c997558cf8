//! The `stats:` section of the configuration.

use std::time::Duration;

use serde::Deserialize;

/// Stats and trend settings (`stats:` in the config file).
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatsSettings {
    /// How often a sample is added to the trend history.
    #[serde(with = "publish::serde_duration")]
    pub interval: Duration,
    /// How long samples are kept (history capacity = retention / interval).
    #[serde(with = "publish::serde_duration")]
    pub retention: Duration,
    /// How often queue counts are read from the store (collectors read this cache).
    #[serde(with = "publish::serde_duration")]
    pub queue_refresh: Duration,
    /// Each collector's deadline.
    #[serde(with = "publish::serde_duration")]
    pub deadline: Duration,
    /// How long a computed answer is reused.
    #[serde(with = "publish::serde_duration")]
    pub cache_ttl: Duration,
    /// Soft queue capacity: utilization = pending / capacity.
    pub queue_capacity: u64,
    /// Trend thresholds.
    pub trends: TrendSettings,
}

impl Default for StatsSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(10),
            retention: Duration::from_secs(24 * 3600),
            queue_refresh: Duration::from_secs(1),
            deadline: Duration::from_secs(2),
            cache_ttl: Duration::from_secs(1),
            queue_capacity: 10_000,
            trends: TrendSettings::default(),
        }
    }
}

/// Trend thresholds (`stats.trends`); see the `analyze` crate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrendSettings {
    /// EMA smoothing factor α (0 < α ≤ 1).
    pub alpha: f64,
    /// Success-rate change, in % of its EMA, that makes a trend.
    pub success_rate_pct: f64,
    /// Latency change, in % of its EMA, that makes a trend.
    pub latency_pct: f64,
    /// Standard deviations above the EMA that make an error spike.
    pub spike_sigmas: f64,
    /// Smoothed queue growth (jobs/min) that makes a trend.
    pub queue_growth_tolerance: f64,
    /// Earlier samples needed before a trend is reported.
    pub min_points: usize,
}

impl Default for TrendSettings {
    fn default() -> Self {
        let d = analyze::TrendConfig::default();
        Self {
            alpha: d.alpha,
            success_rate_pct: d.success_rate_pct,
            latency_pct: d.latency_pct,
            spike_sigmas: d.spike_sigmas,
            queue_growth_tolerance: d.queue_growth_tolerance,
            min_points: d.min_points,
        }
    }
}

impl TrendSettings {
    /// As `analyze` takes it.
    pub fn to_config(&self) -> analyze::TrendConfig {
        analyze::TrendConfig {
            alpha: self.alpha,
            success_rate_pct: self.success_rate_pct,
            latency_pct: self.latency_pct,
            spike_sigmas: self.spike_sigmas,
            queue_growth_tolerance: self.queue_growth_tolerance,
            min_points: self.min_points,
        }
    }
}
