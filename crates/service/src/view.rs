//! Targets as the API shows them: header values, credential-like options and secret URL parts
//! redacted, with health and circuit state.

use std::collections::BTreeMap;

use publish::{Format, Secret, TargetType};
use serde::Serialize;
use serde_json::{Value, json};
use targets::TargetSpec;

use crate::Service;

/// One target as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TargetView {
    /// DNS-1123 name.
    pub name: String,
    /// `webhook`, `pagerduty`, `slack` or `rootly`.
    #[serde(rename = "type")]
    pub kind: TargetType,
    /// The URL without credentials, query or secret path.
    pub url: String,
    /// Whether alerts are routed to it.
    pub enabled: bool,
    /// Payload format: `alertmanager` or `webhook` for webhook targets, the vendor's for the
    /// others.
    pub format: Format,
    /// Extra headers (values redacted).
    #[schema(value_type = BTreeMap<String, String>)]
    pub headers: BTreeMap<String, Secret>,
    /// Routing filter.
    #[schema(value_type = Object)]
    pub filter: Value,
    /// Type-specific options (credentials redacted).
    #[schema(value_type = Object)]
    pub options: Value,
    /// Delivery policy overrides (credentials redacted).
    #[schema(value_type = Object)]
    pub delivery: Value,
    /// Health status.
    pub health: targets::HealthStatus,
    /// Circuit breaker state.
    pub circuit_breaker: queue::BreakerState,
    /// Where the definition came from.
    pub source: String,
}

impl Service {
    /// How the API shows `spec`.
    pub fn target_view(&self, s: &TargetSpec) -> TargetView {
        let hide_path =
            s.target.kind == TargetType::Slack && !s.target.options.contains_key("token");
        TargetView {
            name: s.target.name.to_string(),
            kind: s.target.kind,
            url: crate::redact::redact_url_path(crate::registry::effective_url(s), hide_path),
            enabled: s.target.enabled,
            format: s.target.format,
            headers: s.target.headers.clone(),
            filter: publish::redact_json(&json!({
                "severity": s.filter.severity,
                "labels": s.filter.labels,
                "matchers": s.filter.matchers,
                "namespaces": s.filter.namespaces,
                "send_resolved": s.filter.send_resolved,
                "classification": s.filter.classification,
            })),
            options: publish::redact_json(&Value::Object(s.target.options.clone())),
            delivery: publish::redact_json(&Value::Object(s.delivery.clone())),
            health: self.health.status(s.target.name.as_str()),
            circuit_breaker: self.engine.breaker_state(s.target.name.as_str()),
            source: s.source.to_string(),
        }
    }
}
