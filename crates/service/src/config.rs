//! The settings of the running service: each section is the type its library owns, composed
//! here (`delivery:` → `queue`, `health:` → `targets`, `stats.trends` → `analyze`, …). The
//! HTTP layer's sections (listen address, API keys, rate limits, CORS) belong to the binary.

use std::path::PathBuf;

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
    pub delivery: queue::DeliverySettings,
    /// Target health thresholds.
    pub health: targets::HealthConfig,
    /// Target discovery (file hot reload, Kubernetes Secrets), refresh and health probes.
    pub discovery: DiscoverySettings,
    /// Publishing stats and trends.
    pub stats: StatsSettings,
    /// Which addresses webhook targets may reach, and whether they must use https.
    pub outbound: publish::outbound::OutboundPolicy,
    /// Files of shared template definitions (paths, or globs in the file name), read over
    /// Alertmanager's `default.tmpl` at start-up.
    pub templates: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            targets: None,
            store: DEFAULT_STORE.to_owned(),
            ingest: IngestSettings::default(),
            delivery: queue::DeliverySettings::default(),
            health: targets::HealthConfig::default(),
            discovery: DiscoverySettings::default(),
            stats: StatsSettings::default(),
            outbound: publish::outbound::OutboundPolicy::default(),
            templates: Vec::new(),
        }
    }
}

/// Serializes a store location without credentials.
pub fn serialize_store<S: serde::Serializer>(store: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::redact::store_display(store))
}

/// Ingest settings (`ingest:`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
