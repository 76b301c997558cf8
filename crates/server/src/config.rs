//! Configuration: defaults, then the config file, then environment variables and flags.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use queue::RetryPolicy;
use serde::{Deserialize, Serialize};

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default SQLite store.
pub const DEFAULT_STORE: &str = "./data/alert-publisher.db";

/// Everything the service is configured with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Target definitions: a file or a directory. None: no targets.
    pub targets: Option<PathBuf>,
    /// Job store: a SQLite path or `sqlite:` URL.
    #[serde(serialize_with = "serialize_store")]
    pub store: String,
    /// Ingest settings.
    pub ingest: IngestConfig,
    /// Delivery settings.
    pub delivery: DeliveryConfig,
    /// Target health thresholds.
    pub health: HealthSettings,
    /// Target discovery (file hot reload, Kubernetes Secrets), refresh and health probes.
    pub discovery: crate::discovery::DiscoverySettings,
    /// Publishing stats and trends.
    pub stats: crate::stats::StatsSettings,
    /// Which addresses webhook targets may reach, and whether they must use https.
    pub outbound: publish::outbound::OutboundPolicy,
    /// Logging.
    pub log: LogConfig,
    /// API keys and ingest credentials.
    pub auth: crate::auth::AuthSettings,
    /// Per-client rate limits.
    pub rate_limit: crate::ratelimit::RateLimitSettings,
    /// HTTP response settings: compression and CORS.
    pub http: HttpSettings,
}

fn serialize_store<S: serde::Serializer>(store: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::store_display(store))
}

/// A URL without credentials (for the redacted configuration).
pub(crate) fn serialize_url<S: serde::Serializer>(
    url: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(u) => s.serialize_str(&crate::redact_url(u)),
        None => s.serialize_none(),
    }
}

/// `http:` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Compress responses (gzip) when the client accepts it (default true).
    pub compression: bool,
    /// Cross-origin requests from browsers (off by default).
    pub cors: CorsSettings,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            compression: true,
            cors: CorsSettings::default(),
        }
    }
}

/// `http.cors:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsSettings {
    /// Origins allowed to call the API from a browser, e.g. `https://grafana.example.com`;
    /// empty (the default) sends no CORS headers at all.
    pub allowed_origins: Vec<String>,
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

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080))),
            targets: None,
            store: DEFAULT_STORE.to_owned(),
            ingest: IngestConfig::default(),
            delivery: DeliveryConfig::default(),
            health: HealthSettings::default(),
            discovery: crate::discovery::DiscoverySettings::default(),
            stats: crate::stats::StatsSettings::default(),
            outbound: publish::outbound::OutboundPolicy::default(),
            log: LogConfig::default(),
            auth: crate::auth::AuthSettings::default(),
            rate_limit: crate::ratelimit::RateLimitSettings::default(),
            http: HttpSettings::default(),
        }
    }
}

/// Ingest settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Largest accepted request body in bytes (default 10 MiB).
    pub max_body_bytes: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 10 * 1024 * 1024,
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

/// Log output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// text or json.
    pub format: LogFormat,
    /// `tracing` filter, e.g. `info` or `info,queue=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Cannot read.
    #[error("config file {path}: cannot read: {source}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Wrong content; names the field.
    #[error("config file {path}: field `{field}`: {message}")]
    Field {
        /// File.
        path: String,
        /// Field path.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// The configuration as JSON with every secret redacted (tokens, passwords, credentials
    /// in URLs).
    pub fn redacted(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Reads a YAML (or JSON) config file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    /// Parses YAML text; `source` names it in errors.
    pub fn from_yaml(text: &str, source: &str) -> Result<Self, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let de = serde_yaml::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| ConfigError::Field {
            path: source.to_owned(),
            field: e.path().to_string(),
            message: e.into_inner().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = Config::from_yaml("", "c.yaml").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        let c = Config::from_yaml(
            "listen: 0.0.0.0:9000\ndelivery:\n  repeat_interval: 1h\n  retry:\n    max_attempts: 3\n    initial_delay: 200ms\n",
            "c.yaml",
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.delivery.repeat_interval, Duration::from_secs(3600));
        assert_eq!(c.delivery.retry.max_attempts, 3);
        assert_eq!(c.delivery.retry.initial_delay, Duration::from_millis(200));
        assert_eq!(c.delivery.retry.max_delay, RetryPolicy::default().max_delay);
        assert!(c.outbound.allow.is_empty() && !c.outbound.https_only);
        let c = Config::from_yaml(
            "outbound:\n  https_only: true\n  allow: [127.0.0.0/8, '::1/128']\n",
            "c.yaml",
        )
        .unwrap();
        assert!(c.outbound.https_only);
        assert_eq!(c.outbound.allow.len(), 2);
    }

    #[test]
    fn errors_name_file_and_field() {
        let e = Config::from_yaml("delivery:\n  retry:\n    max_attempts: many\n", "c.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("config file c.yaml: field `delivery.retry.max_attempts`"),
            "{e}"
        );
        let e = Config::from_yaml("listn: x\n", "c.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `listn`"), "{e}");
        let e = Config::from_yaml("outbound: {allow: [10.0.0.0/33]}\n", "c.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("config file c.yaml: field `outbound.allow[0]`")
                && e.contains("not an IP network"),
            "{e}"
        );
        let e = Config::from_yaml("delivery: {repeat_interval: soon}\n", "c.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("delivery.repeat_interval") && e.contains("invalid duration"),
            "{e}"
        );
    }
}
