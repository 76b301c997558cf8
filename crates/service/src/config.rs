//! The settings of the running service: each section is the type its library owns, composed
//! here (`delivery:` → `queue`, `health:` → `targets`, `stats.trends` → `analyze`, …). The
//! HTTP layer's sections (listen address, API keys, rate limits, CORS) belong to the binary.

use std::{path::PathBuf, time::Duration};

use queue::RetryPolicy;
use serde::{Deserialize, Serialize};

use crate::{discovery::DiscoverySettings, stats::StatsSettings};

/// Default SQLite store.
pub const DEFAULT_STORE: &str = "./data/alert-publisher.db";

/// The service's sections of the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Target definitions: a file or a directory. None: no targets.
    pub targets: Option<PathBuf>,
    /// Job store: a SQLite path, a `sqlite:` URL or a `postgres://` URL.
    pub store: String,
    /// Ingest settings.
    pub ingest: IngestSettings,
    /// Delivery settings.
    pub delivery: DeliveryConfig,
    /// Target health thresholds.
    pub health: HealthSettings,
    /// Target discovery (file hot reload, Kubernetes Secrets), refresh and health probes.
    pub discovery: DiscoverySettings,
    /// Publishing stats and trends.
    pub stats: StatsSettings,
    /// Which addresses webhook targets may reach, and whether they must use https.
    pub outbound: publish::outbound::OutboundPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            targets: None,
            store: DEFAULT_STORE.to_owned(),
            ingest: IngestSettings::default(),
            delivery: DeliveryConfig::default(),
            health: HealthSettings::default(),
            discovery: DiscoverySettings::default(),
            stats: StatsSettings::default(),
            outbound: publish::outbound::OutboundPolicy::default(),
        }
    }
}

/// Serializes a store location without credentials.
pub fn serialize_store<S: serde::Serializer>(store: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::redact::store_display(store))
}

/// A URL without credentials (for the redacted configuration).
pub fn serialize_url<S: serde::Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match url {
        Some(u) => s.serialize_str(&crate::redact::redact_url(u)),
        None => s.serialize_none(),
    }
}

/// Ingest settings (`ingest:`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestSettings {
    /// Largest accepted request body in bytes (default 10 MiB).
    pub max_body_bytes: usize,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 10 * 1024 * 1024,
        }
    }
}

/// Target health thresholds (see `targets::health`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthSettings {
    /// A check or delivery slower than this makes the target degraded.
    #[serde(with = "publish::serde_duration")]
    pub degraded_latency: Duration,
    /// Consecutive failures that make a target unhealthy.
    pub unhealthy_after: u32,
    /// Results kept for the success rate.
    pub window: usize,
}

impl Default for HealthSettings {
    fn default() -> Self {
        let d = targets::HealthConfig::default();
        Self {
            degraded_latency: d.degraded_latency,
            unhealthy_after: d.unhealthy_after,
            window: d.window,
        }
    }
}

impl HealthSettings {
    /// As the health book takes it.
    pub fn to_config(&self) -> targets::HealthConfig {
        targets::HealthConfig {
            degraded_latency: self.degraded_latency,
            unhealthy_after: self.unhealthy_after,
            window: self.window,
        }
    }
}

/// Delivery settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// An unchanged firing alert is not sent to a target again before this much time.
    #[serde(with = "publish::serde_duration")]
    pub repeat_interval: Duration,
    /// How long shutdown waits for in-flight deliveries.
    #[serde(with = "publish::serde_duration")]
    pub shutdown_timeout: Duration,
    /// How long a claimed job is held before it is handed out again.
    #[serde(with = "publish::serde_duration")]
    pub lease: Duration,
    /// Longest pause between looks at the store.
    #[serde(with = "publish::serde_duration")]
    pub poll_interval: Duration,
    /// Fresh jobs that may go at once are stored already claimed and handed to the workers in
    /// memory, up to this many waiting; 0 stores every job pending and claims it back.
    pub handoff_buffer: usize,
    /// `FULL` SQLite commits (survive power loss); false gives `NORMAL` (survive crashes).
    pub sqlite_synchronous_full: bool,
    /// Retry policy for every target (a target's `delivery.retry` overrides it key by key).
    pub retry: RetryPolicy,
    /// Circuit breaker for every target.
    pub circuit_breaker: queue::BreakerConfig,
    /// Done and superseded jobs are kept this long (for the job history API).
    #[serde(with = "publish::serde_duration")]
    pub retain_finished: Duration,
    /// Dead letters are kept this long.
    #[serde(with = "publish::serde_duration")]
    pub retain_dead: Duration,
}

impl DeliveryConfig {
    /// The policy targets start from.
    pub fn default_policy(&self) -> queue::TargetPolicy {
        queue::TargetPolicy {
            retry: self.retry.clone(),
            circuit_breaker: self.circuit_breaker.clone(),
            repeat_interval: self.repeat_interval,
            rate_limit: None,
            fallback: None,
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            concurrency: 64,
            repeat_interval: Duration::from_secs(4 * 3600),
            shutdown_timeout: Duration::from_secs(10),
            lease: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            handoff_buffer: 8192,
            sqlite_synchronous_full: true,
            retry: RetryPolicy::default(),
            circuit_breaker: queue::BreakerConfig::default(),
            retain_finished: Duration::from_secs(24 * 3600),
            retain_dead: Duration::from_secs(7 * 24 * 3600),
        }
    }
}
