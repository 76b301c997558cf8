//! Configuration: defaults, then the config file, then environment variables and flags.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use service::config::IngestSettings;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub use service::config::DEFAULT_STORE;

/// Everything the service is configured with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    #[schema(value_type = String)]
    pub listen: SocketAddr,
    /// Target definitions: a file or a directory. None: no targets.
    #[schema(value_type = Option<String>)]
    pub targets: Option<PathBuf>,
    /// Job store: a SQLite path or `sqlite:` URL.
    #[serde(serialize_with = "service::config::serialize_store")]
    pub store: String,
    /// Ingest settings.
    pub ingest: IngestSettings,
    /// Delivery settings.
    pub delivery: queue::DeliverySettings,
    /// Target health thresholds.
    pub health: targets::HealthConfig,
    /// Target discovery (file hot reload, Kubernetes Secrets), refresh and health probes.
    pub discovery: service::discovery::DiscoverySettings,
    /// Publishing stats and trends.
    pub stats: service::stats::StatsSettings,
    /// Which addresses webhook targets may reach, and whether they must use https.
    pub outbound: publish::outbound::OutboundPolicy,
    /// Files of shared template definitions (`{{ define }}` blocks, like Alertmanager's
    /// `templates:`): paths, or globs with `*` and `?` in the file name; relative to the
    /// working directory.
    pub templates: Vec<String>,
    /// Logging.
    pub log: LogConfig,
    /// API keys and ingest credentials.
    pub auth: crate::auth::AuthSettings,
    /// Per-client rate limits.
    pub rate_limit: crate::ratelimit::RateLimitSettings,
    /// HTTP response settings: compression and CORS.
    pub http: HttpSettings,
}

/// `http:` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Compress responses (gzip) when the client accepts it (default true).
    pub compression: bool,
    /// Cross-origin requests from browsers (off by default).
    pub cors: CorsSettings,
    /// Time a client has to send a request's headers, counted from connecting or from the
    /// previous response on a kept-alive connection, which is closed after this long idle
    /// (default 10 s).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub header_read_timeout: std::time::Duration,
    /// Open client connections at most (default 1024); further clients wait to be accepted.
    pub max_connections: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            compression: true,
            cors: CorsSettings::default(),
            header_read_timeout: std::time::Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// `http.cors:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CorsSettings {
    /// Origins allowed to call the API from a browser, e.g. `https://grafana.example.com`;
    /// empty (the default) sends no CORS headers at all.
    pub allowed_origins: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080))),
            targets: None,
            store: DEFAULT_STORE.to_owned(),
            ingest: IngestSettings::default(),
            delivery: queue::DeliverySettings::default(),
            health: targets::HealthConfig::default(),
            discovery: service::discovery::DiscoverySettings::default(),
            stats: service::stats::StatsSettings::default(),
            outbound: publish::outbound::OutboundPolicy::default(),
            templates: Vec::new(),
            log: LogConfig::default(),
            auth: crate::auth::AuthSettings::default(),
            rate_limit: crate::ratelimit::RateLimitSettings::default(),
            http: HttpSettings::default(),
        }
    }
}

/// Log output.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// More than one field is wrong: every one, a line each.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ConfigError>),
}

impl Config {
    /// The sections the running service reads.
    pub fn service(&self) -> service::Settings {
        service::Settings {
            targets: self.targets.clone(),
            store: self.store.clone(),
            ingest: self.ingest.clone(),
            delivery: self.delivery.clone(),
            health: self.health.clone(),
            discovery: self.discovery.clone(),
            stats: self.stats.clone(),
            outbound: self.outbound.clone(),
            templates: self.templates.clone(),
        }
    }

    /// A copy to show: every token and password replaced by the redaction marker, so the
    /// copy holds no secret (credentials in URLs are redacted when it is serialized).
    pub fn redacted(&self) -> Self {
        let mut shown = self.clone();
        shown.auth.redact_secrets();
        shown
    }

    /// Reads a YAML (or JSON) config file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    /// Parses YAML text; `source` names it in errors. Every section with an error is reported
    /// (the first error within each), not only the first.
    pub fn from_yaml(text: &str, source: &str) -> Result<Self, ConfigError> {
        let field = |field: String, message: String| ConfigError::Field {
            path: source.to_owned(),
            field,
            message,
        };
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let mut doc: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|e| field(".".to_owned(), e.to_string()))?;
        let mut errors = Vec::new();
        // A section that does not load is reported and left out, and the rest loaded again,
        // until what is left loads.
        let config = loop {
            match serde_path_to_error::deserialize::<_, Self>(doc.clone()) {
                Ok(config) => break Some(config),
                Err(e) => {
                    let path = e.path().to_string();
                    let message = e.into_inner().to_string();
                    let section = match path.split(['.', '[']).next() {
                        Some(top) if !top.is_empty() => top.to_owned(),
                        _ => message
                            .strip_prefix("unknown field `")
                            .and_then(|r| r.split('`').next())
                            .unwrap_or_default()
                            .to_owned(),
                    };
                    errors.push(field(path, message));
                    let removed = doc
                        .as_mapping_mut()
                        .and_then(|m| m.remove(section.as_str()));
                    if removed.is_none() {
                        break None;
                    }
                }
            }
        };
        if let Some(config) = &config {
            errors.extend(
                config
                    .check()
                    .into_iter()
                    .map(|(name, message)| field(name, message)),
            );
        }
        match (config, errors.len()) {
            (Some(config), 0) => Ok(config),
            (_, 1) => Err(errors.remove(0)),
            _ => Err(ConfigError::Several(errors)),
        }
    }

    /// The checks of the sections that have them; each field is named from the top.
    fn check(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if let Err(e) = self.delivery.validate() {
            errors.push((format!("delivery.{}", e.field), e.message));
        }
        if let Err(e) = self.stats.trends.validate() {
            errors.push((format!("stats.trends.{}", e.field), e.message));
        }
        if self.http.max_connections == 0 {
            errors.push((
                "http.max_connections".to_owned(),
                "must be at least 1".to_owned(),
            ));
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use queue::RetryPolicy;

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
    fn every_section_with_an_error_is_reported() {
        let e = Config::from_yaml(
            "listn: x\ndelivery:\n  concurrency: lots\nhttp:\n  header_read_timeout: soon\nstats: {trends: {}}\noutbound: {allow: [nope]}\n",
            "c.yaml",
        )
        .unwrap_err()
        .to_string();
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 4, "{e}");
        for expected in [
            "unknown field `listn`",
            "field `delivery.concurrency`",
            "field `http.header_read_timeout`",
            "field `outbound.allow[0]`",
        ] {
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with("config file c.yaml: ") && l.contains(expected)),
                "{expected} in {e}"
            );
        }
        // Checks made after loading are reported beside the others.
        let e = Config::from_yaml(
            "delivery: {concurrency: 0}\nhttp: {max_connections: 0}\n",
            "c.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`delivery.concurrency`: must be at least 1")
                && e.contains("`http.max_connections`: must be at least 1"),
            "{e}"
        );
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

    #[test]
    fn section_checks_name_the_field() {
        for (yaml, expected) in [
            (
                "delivery: {concurrency: 0}\n",
                "config file c.yaml: field `delivery.concurrency`: must be at least 1",
            ),
            (
                "delivery: {lease: 0s}\n",
                "config file c.yaml: field `delivery.lease`: must be greater than zero",
            ),
            (
                "stats: {trends: {alpha: 2}}\n",
                "config file c.yaml: field `stats.trends.alpha`: must be greater than 0 and at most 1",
            ),
        ] {
            let e = Config::from_yaml(yaml, "c.yaml").unwrap_err().to_string();
            assert!(e.starts_with(expected), "{yaml}: {e}");
        }
    }

    /// What `GET /api/v2/config` shows: the same JSON as the configuration itself, from a
    /// copy that holds none of the tokens and passwords.
    #[test]
    fn the_shown_copy_serializes_as_the_original_without_holding_secrets() {
        let c = Config::from_yaml(
            "auth:\n  keys:\n    - {name: ops, role: admin, token: \"admin-token-0123456789\"}\n  \
             ingest:\n    bearer_token: \"ingest-token-0123456789\"\n    \
             basic: {username: am, password: \"basic-password-01\"}\n",
            "c.yaml",
        )
        .unwrap();
        let shown = c.redacted();
        assert_eq!(
            serde_json::to_value(&shown).unwrap(),
            serde_json::to_value(&c).unwrap()
        );
        let text = serde_json::to_string(&shown).unwrap();
        assert!(text.contains(r#""token":"<redacted>""#), "{text}");
        let held = [
            shown.auth.keys[0].token.as_ref(),
            shown.auth.ingest.bearer_token.as_ref(),
            shown
                .auth
                .ingest
                .basic
                .as_ref()
                .and_then(|b| b.password.as_ref()),
        ];
        for secret in held {
            assert_eq!(
                secret.map(publish::Secret::expose),
                Some(publish::Secret::REDACTED)
            );
        }
    }
}
