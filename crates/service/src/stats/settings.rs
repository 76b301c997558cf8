//! The `stats:` section of the configuration.

use std::time::Duration;

use serde::Deserialize;

/// Stats and trend settings (`stats:` in the config file).
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct StatsSettings {
    /// How often a sample is added to the trend history.
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub interval: Duration,
    /// How long samples are kept (history capacity = retention / interval).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub retention: Duration,
    /// How often queue counts are read from the store (collectors read this cache).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub queue_refresh: Duration,
    /// Each collector's deadline.
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub deadline: Duration,
    /// How long a computed answer is reused.
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub cache_ttl: Duration,
    /// Soft queue capacity: utilization = pending / capacity.
    pub queue_capacity: u64,
    /// Trend thresholds.
    pub trends: analyze::TrendConfig,
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
            trends: analyze::TrendConfig::default(),
        }
    }
}
