//! Typed configuration, read from a `type: pagerduty` target.

use std::{collections::BTreeMap, fmt, str::FromStr, time::Duration};

use publish::{ConfigError, Format, RateLimit, RateLimitOptions, Secret, Target, TargetType};
use serde::{Deserialize, Serialize};

/// The Events API base URL PagerDuty publishes, used when a target's `url` is empty.
pub const DEFAULT_URL: &str = "https://events.pagerduty.com";

/// Length of a PagerDuty integration (routing) key.
pub const ROUTING_KEY_LEN: usize = 32;

/// A PagerDuty integration key: exactly 32 printable ASCII characters. Never printed,
/// serialized or logged; [`RoutingKey::expose`] gives the value where it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct RoutingKey(Secret);

impl RoutingKey {
    /// Checks and wraps a key. The error never contains the key.
    pub fn new(key: &str) -> Result<Self, String> {
        let len = key.chars().count();
        if len != ROUTING_KEY_LEN {
            return Err(format!("must be {ROUTING_KEY_LEN} characters (got {len})"));
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "must be printable ASCII without spaces (copy the integration key again)"
                    .to_owned(),
            );
        }
        Ok(Self(Secret::new(key)))
    }

    /// The key itself. Call only where it is put into an event body.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The rate-limit bucket identity of this key: a non-reversible digest, so it can appear in
    /// the queue's bookkeeping without revealing the key.
    pub fn bucket_key(&self) -> String {
        RateLimit::secret_key("pagerduty", self.expose())
    }
}

impl FromStr for RoutingKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Debug for RoutingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Secret::REDACTED)
    }
}

impl fmt::Display for RoutingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Secret::REDACTED)
    }
}

/// PagerDuty's event severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Page now.
    Critical,
    /// Something is broken.
    Error,
    /// Something may break.
    Warning,
    /// For information.
    Info,
}

impl Severity {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    /// The built-in mapping of common severity label values (case-insensitive):
    ///
    /// | PagerDuty | label values |
    /// |---|---|
    /// | critical | critical, crit, emergency, emerg, fatal, page, disaster, p1, sev1, sev-1 |
    /// | error | error, err, high, major, p2, sev2, sev-2 |
    /// | warning | warning, warn, medium, minor, average, p3, sev3, sev-3 |
    /// | info | info, informational, information, notice, low, none, ok, debug, p4, p5, sev4, sev5, sev-4, sev-5 |
    pub fn from_label(value: &str) -> Option<Severity> {
        let v = value.trim().to_ascii_lowercase();
        Some(match v.as_str() {
            "critical" | "crit" | "emergency" | "emerg" | "fatal" | "page" | "disaster" | "p1"
            | "sev1" | "sev-1" => Severity::Critical,
            "error" | "err" | "high" | "major" | "p2" | "sev2" | "sev-2" => Severity::Error,
            "warning" | "warn" | "medium" | "minor" | "average" | "p3" | "sev3" | "sev-3" => {
                Severity::Warning
            }
            "info" | "informational" | "information" | "notice" | "low" | "none" | "ok"
            | "debug" | "p4" | "p5" | "sev4" | "sev5" | "sev-4" | "sev-5" => Severity::Info,
            _ => return None,
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How dedup keys are derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupMode {
    /// One PagerDuty alert per Alertmanager alert: `{prefix}{fingerprint}` (the default).
    #[default]
    PerAlert,
    /// One PagerDuty alert per Alertmanager group: `{prefix}group-{digest of the group key}`.
    /// A resolved alert inside a still-firing group sends nothing; the resolve is sent when the
    /// whole group is resolved.
    PerGroup,
}

/// The default proactive rate limit per routing key. PagerDuty allows about 120 events per
/// routing key in any sliding minute, and a token bucket lets `burst + per_minute` through in
/// one minute: 100 + 10 stays under it with room for requests that arrive late.
pub const DEFAULT_RATE_LIMIT: RateLimitOptions = RateLimitOptions::new(100, 10);

fn rate_limit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RateLimitOptions, D::Error> {
    RateLimitOptions::deserialize_or(d, DEFAULT_RATE_LIMIT)
}

/// The `options` of a `type: pagerduty` target. Every field has a default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerDutyOptions {
    /// The integration key (or give it in the `routing_key` header, as the original secrets do).
    pub routing_key: Option<Secret>,
    /// Whole-request timeout (default 10 s).
    #[serde(with = "publish::serde_duration")]
    pub timeout: Duration,
    /// Label holding the alert's severity (default `severity`).
    pub severity_label: String,
    /// Extra label values → severity, checked before the built-in mapping
    /// ([`Severity::from_label`]); keys are compared case-insensitively.
    pub severity_map: BTreeMap<String, Severity>,
    /// Severity when the label is missing or unknown (default `error`, as Alertmanager's own
    /// PagerDuty integration sends).
    pub default_severity: Severity,
    /// Labels tried in order for `payload.source` (default `instance`, `host`, `hostname`,
    /// `node`, `pod`, `job`).
    pub source_labels: Vec<String>,
    /// `payload.source` when none of `source_labels` is set (default `alertmanager`).
    pub source: String,
    /// Labels tried in order for `payload.component` (default `service`, `component`,
    /// `container`, `app`).
    pub component_labels: Vec<String>,
    /// Labels tried in order for PagerDuty's `payload.group` (default `cluster`, `namespace`,
    /// `team`).
    pub group_labels: Vec<String>,
    /// Labels tried in order for `payload.class` (default `alertname`).
    pub class_labels: Vec<String>,
    /// Annotations tried in order for the summary text (default `summary`, `description`,
    /// `message`); without any, the alert name and its other label values are used.
    pub summary_annotations: Vec<String>,
    /// `client` shown in PagerDuty (default `Alert Publisher`).
    pub client: String,
    /// `client_url`; default: the Alertmanager alerts page of the receiver, when the
    /// notification names an Alertmanager URL.
    pub client_url: Option<String>,
    /// Annotations holding a runbook link (default `runbook_url`, `runbook`).
    pub runbook_annotations: Vec<String>,
    /// Annotations holding dashboard links (default `dashboard_url`, `dashboard`,
    /// `grafana_url`).
    pub dashboard_annotations: Vec<String>,
    /// Annotations holding image URLs (default `image_url`). Only `https` images are sent as
    /// images (PagerDuty requires it); others become links.
    pub image_annotations: Vec<String>,
    /// Per-alert or per-group dedup keys.
    pub dedup: DedupMode,
    /// Prefix of every dedup key (default empty; at most 200 characters).
    pub dedup_key_prefix: String,
    /// Send every alert of this target as a change event.
    pub change_events: bool,
    /// A label that marks an alert as a change event when it is `"true"` (default
    /// `change_event`).
    pub change_event_label: String,
    /// Proactive rate limit per routing key (default [`DEFAULT_RATE_LIMIT`]).
    #[serde(deserialize_with = "rate_limit")]
    pub rate_limit: RateLimitOptions,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl Default for PagerDutyOptions {
    fn default() -> Self {
        Self {
            routing_key: None,
            timeout: Duration::from_secs(10),
            severity_label: "severity".to_owned(),
            severity_map: BTreeMap::new(),
            default_severity: Severity::Error,
            source_labels: strings(&["instance", "host", "hostname", "node", "pod", "job"]),
            source: "alertmanager".to_owned(),
            component_labels: strings(&["service", "component", "container", "app"]),
            group_labels: strings(&["cluster", "namespace", "team"]),
            class_labels: strings(&["alertname"]),
            summary_annotations: strings(&["summary", "description", "message"]),
            client: "Alert Publisher".to_owned(),
            client_url: None,
            runbook_annotations: strings(&["runbook_url", "runbook"]),
            dashboard_annotations: strings(&["dashboard_url", "dashboard", "grafana_url"]),
            image_annotations: strings(&["image_url"]),
            dedup: DedupMode::PerAlert,
            dedup_key_prefix: String::new(),
            change_events: false,
            change_event_label: "change_event".to_owned(),
            rate_limit: DEFAULT_RATE_LIMIT,
        }
    }
}

impl PagerDutyOptions {
    /// The severity for a label value: the target's map, then the built-in mapping, then the
    /// default.
    pub fn severity_for(&self, value: Option<&str>) -> Severity {
        let Some(value) = value else {
            return self.default_severity;
        };
        let trimmed = value.trim();
        self.severity_map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(trimmed))
            .map(|(_, s)| *s)
            .or_else(|| Severity::from_label(trimmed))
            .unwrap_or(self.default_severity)
    }
}

/// Everything the PagerDuty publisher needs, checked.
#[derive(Debug, Clone)]
pub struct PagerDutyConfig {
    /// Target name (metric label, logs).
    pub name: String,
    /// The integration key.
    pub routing_key: RoutingKey,
    /// `{url}/v2/enqueue`.
    pub enqueue_url: reqwest::Url,
    /// `{url}/v2/change/enqueue`.
    pub change_url: reqwest::Url,
    /// The events base URL as configured (for the health probe).
    pub base_url: reqwest::Url,
    /// Extra HTTP headers (every target header except `routing_key`).
    pub headers: Vec<(http::HeaderName, Secret)>,
    /// Typed options (`routing_key` moved out into [`PagerDutyConfig::routing_key`]).
    pub options: PagerDutyOptions,
    /// The event's templated fields (set by [`crate::build`], which has the shared
    /// definitions).
    pub templates: publish::templates::Templates,
}

impl PagerDutyConfig {
    /// A configuration for standalone use: the key, the events base URL (empty:
    /// [`DEFAULT_URL`]) and options.
    pub fn new(
        name: &str,
        routing_key: RoutingKey,
        url: &str,
        options: PagerDutyOptions,
    ) -> Result<Self, ConfigError> {
        let url = if url.trim().is_empty() {
            DEFAULT_URL
        } else {
            url
        };
        let base_url = publish::http::url("url", url)?;
        if base_url.query().is_some()
            || base_url.fragment().is_some()
            || !base_url.username().is_empty()
            || base_url.password().is_some()
        {
            return Err(ConfigError::new(
                "url",
                "must not have credentials, a query or a fragment; give the events base URL, e.g. https://events.pagerduty.com",
            ));
        }
        let join = |suffix: &str| {
            let base = base_url.as_str().trim_end_matches('/');
            reqwest::Url::parse(&format!("{base}{suffix}"))
                .map_err(|e| ConfigError::new("url", format!("invalid URL: {e}")))
        };
        let enqueue_url = join("/v2/enqueue")?;
        let change_url = join("/v2/change/enqueue")?;
        publish::positive(options.timeout, "options.timeout")?;
        options
            .rate_limit
            .check("options.rate_limit", "PagerDuty allows about 120")?;
        let prefix_len = options.dedup_key_prefix.chars().count();
        if prefix_len > 200 {
            return Err(ConfigError::new(
                "options.dedup_key_prefix",
                format!(
                    "must be at most 200 characters (got {prefix_len}); PagerDuty dedup keys are at most 255"
                ),
            ));
        }
        if options.source.trim().is_empty() {
            return Err(ConfigError::new(
                "options.source",
                "must not be empty (PagerDuty requires a source)",
            ));
        }
        if let Some(client_url) = &options.client_url {
            publish::http::url("options.client_url", client_url)?;
        }
        let mut options = options;
        options.routing_key = None;
        Ok(Self {
            name: name.to_owned(),
            routing_key,
            enqueue_url,
            change_url,
            base_url,
            headers: Vec::new(),
            options,
            templates: publish::templates::Templates::default(),
        })
    }

    /// Reads and checks a `type: pagerduty` target. The routing key comes from
    /// `options.routing_key` or, for compatibility, the `routing_key` header.
    pub fn from_target(target: &Target) -> Result<Self, ConfigError> {
        if target.kind != TargetType::Pagerduty {
            return Err(ConfigError::new(
                "type",
                format!("expected pagerduty, got {}", target.kind),
            ));
        }
        if target.format != Format::Pagerduty {
            return Err(ConfigError::new(
                "format",
                format!(
                    "a pagerduty target sends `pagerduty`, not `{}`",
                    target.format
                ),
            ));
        }
        let options: PagerDutyOptions = publish::options(&target.options)?;
        let header_key = target
            .headers
            .iter()
            .find(|(name, _)| is_routing_key_header(name));
        let (field, key) = match (&options.routing_key, header_key) {
            (Some(key), _) => ("options.routing_key".to_owned(), key.clone()),
            (None, Some((name, key))) => (format!("headers.{name}"), key.clone()),
            (None, None) => {
                return Err(ConfigError::new(
                    "options.routing_key",
                    "is required: the 32-character integration key of the PagerDuty service (Events API v2)",
                ));
            }
        };
        let routing_key = RoutingKey::new(key.expose()).map_err(|m| ConfigError::new(field, m))?;
        let headers = target
            .headers
            .iter()
            .filter(|(name, _)| !is_routing_key_header(name))
            .map(|(name, value)| publish::header(name, value))
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let mut config = Self::new(target.name.as_str(), routing_key, &target.url, options)?;
        config.headers = headers;
        Ok(config)
    }

    /// The rate limit every delivery of this target shares with every other target using the
    /// same routing key.
    pub fn rate_limit(&self) -> RateLimit {
        self.options.rate_limit.limit(self.routing_key.bucket_key())
    }
}

fn is_routing_key_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("routing_key") || name.eq_ignore_ascii_case("routing-key")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn target(yaml_options: serde_json::Value, headers: &[(&str, &str)]) -> Target {
        Target {
            templates: Default::default(),
            name: "pd-prod".parse().unwrap(),
            kind: TargetType::Pagerduty,
            url: "https://events.pagerduty.com".to_owned(),
            enabled: true,
            format: Format::Pagerduty,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Secret::new(*v)))
                .collect(),
            options: yaml_options.as_object().cloned().unwrap_or_default(),
        }
    }

    fn err(options: serde_json::Value, headers: &[(&str, &str)]) -> String {
        PagerDutyConfig::from_target(&target(options, headers))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn reads_key_from_options_or_header() {
        let c = PagerDutyConfig::from_target(&target(serde_json::json!({"routing_key": KEY}), &[]))
            .unwrap();
        assert_eq!(c.routing_key.expose(), KEY);
        assert_eq!(
            c.enqueue_url.as_str(),
            "https://events.pagerduty.com/v2/enqueue"
        );
        assert_eq!(
            c.change_url.as_str(),
            "https://events.pagerduty.com/v2/change/enqueue"
        );
        assert_eq!(c.options.routing_key, None);
        let c = PagerDutyConfig::from_target(&target(
            serde_json::json!({}),
            &[("routing_key", KEY), ("X-Trace", "1")],
        ))
        .unwrap();
        assert_eq!(c.routing_key.expose(), KEY);
        assert_eq!(c.headers.len(), 1, "routing_key is not sent as a header");
        assert!(
            !format!("{c:?}").contains(KEY),
            "Debug leaks the key: {c:?}"
        );
    }

    #[test]
    fn errors_name_the_field_and_never_the_key() {
        let e = err(serde_json::json!({"routing_key": "short-key-123"}), &[]);
        assert_eq!(
            e,
            "field `options.routing_key`: must be 32 characters (got 13)"
        );
        let e = err(serde_json::json!({}), &[("routing_key", "abc")]);
        assert_eq!(
            e,
            "field `headers.routing_key`: must be 32 characters (got 3)"
        );
        let spaced = "0123456789abcdef 123456789abcdef";
        let e = err(serde_json::json!({"routing_key": spaced}), &[]);
        assert!(e.contains("printable ASCII") && !e.contains(spaced), "{e}");
        assert!(err(serde_json::json!({}), &[]).contains("options.routing_key`: is required"));
        let e = err(
            serde_json::json!({"routing_key": KEY, "severty_label": "x"}),
            &[],
        );
        assert!(e.contains("unknown field `severty_label`"), "{e}");
        let e = err(
            serde_json::json!({"routing_key": KEY, "default_severity": "fatal"}),
            &[],
        );
        assert!(e.starts_with("field `options.default_severity`"), "{e}");
        let e = err(
            serde_json::json!({"routing_key": KEY, "rate_limit": {"per_minute": 0}}),
            &[],
        );
        assert!(e.contains("options.rate_limit.per_minute"), "{e}");
        let e = err(
            serde_json::json!({"routing_key": KEY, "dedup_key_prefix": "p".repeat(201)}),
            &[],
        );
        assert!(e.contains("at most 200"), "{e}");
    }

    #[test]
    fn an_empty_url_is_the_default_and_a_partial_rate_limit_keeps_the_rest() {
        let mut t = target(
            serde_json::json!({"routing_key": KEY, "rate_limit": {"per_minute": 30}}),
            &[],
        );
        t.url = String::new();
        let c = PagerDutyConfig::from_target(&t).unwrap();
        assert_eq!(c.base_url.as_str(), format!("{DEFAULT_URL}/"));
        assert_eq!(
            c.enqueue_url.as_str(),
            "https://events.pagerduty.com/v2/enqueue"
        );
        assert_eq!((c.rate_limit().per_minute, c.rate_limit().burst), (30, 10));
    }

    #[test]
    fn base_url_with_a_path_prefix() {
        let mut t = target(serde_json::json!({"routing_key": KEY}), &[]);
        t.url = "http://127.0.0.1:9/pd/".to_owned();
        let c = PagerDutyConfig::from_target(&t).unwrap();
        assert_eq!(c.enqueue_url.as_str(), "http://127.0.0.1:9/pd/v2/enqueue");
    }

    #[test]
    fn base_url_without_credentials_query_or_fragment() {
        for url in [
            "https://user:SECRETPW@events.pagerduty.com",
            "https://SECRETUSER@events.pagerduty.com",
            "https://events.pagerduty.com/?x=1",
            "https://events.pagerduty.com/#f",
        ] {
            let mut t = target(serde_json::json!({"routing_key": KEY}), &[]);
            t.url = url.to_owned();
            let e = PagerDutyConfig::from_target(&t).unwrap_err();
            assert_eq!(e.field, "url", "{url}");
            assert!(!e.to_string().contains("SECRET"), "{e}");
        }
    }

    #[test]
    fn severity_mapping() {
        let mut o = PagerDutyOptions::default();
        for (value, expected) in [
            (Some("critical"), Severity::Critical),
            (Some(" PAGE "), Severity::Critical),
            (Some("error"), Severity::Error),
            (Some("warning"), Severity::Warning),
            (Some("Warn"), Severity::Warning),
            (Some("info"), Severity::Info),
            (Some("none"), Severity::Info),
            (Some("whatever"), Severity::Error),
            (None, Severity::Error),
        ] {
            assert_eq!(o.severity_for(value), expected, "{value:?}");
        }
        o.severity_map.insert("Whatever".to_owned(), Severity::Info);
        o.default_severity = Severity::Warning;
        assert_eq!(o.severity_for(Some("whatever")), Severity::Info);
        assert_eq!(o.severity_for(None), Severity::Warning);
    }

    #[test]
    fn shared_bucket_per_key() {
        let a = PagerDutyConfig::from_target(&target(serde_json::json!({"routing_key": KEY}), &[]))
            .unwrap();
        let b =
            PagerDutyConfig::from_target(&target(serde_json::json!({}), &[("routing_key", KEY)]))
                .unwrap();
        assert_eq!(a.rate_limit(), b.rate_limit());
        assert!(!a.rate_limit().key.contains(KEY));
        assert_eq!((a.rate_limit().per_minute, a.rate_limit().burst), (100, 10));
    }
}
