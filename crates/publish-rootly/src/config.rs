//! Typed configuration of a `type: rootly` target.

use std::{collections::BTreeMap, time::Duration};

use publish::{ConfigError, Format, RateLimitOptions, Secret, Target, TargetType};
use serde::Deserialize;

/// Rootly's API base, used when a target's `url` is empty.
pub const DEFAULT_URL: &str = "https://api.rootly.com";

/// Rootly's documented write limit per API key: 3000 per minute.
pub const ROOTLY_WRITES_PER_MINUTE: u32 = 3000;

/// Our default proactive limit: 80 % of Rootly's, leaving room for other clients of the key.
pub const DEFAULT_WRITES_PER_MINUTE: u32 = 2400;

/// Who Rootly notifies for a new alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum NotificationTargetType {
    /// A user.
    User,
    /// A team.
    Group,
    /// An escalation policy.
    EscalationPolicy,
    /// A service.
    Service,
}

impl NotificationTargetType {
    /// The value Rootly expects in `notification_target_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationTargetType::User => "User",
            NotificationTargetType::Group => "Group",
            NotificationTargetType::EscalationPolicy => "EscalationPolicy",
            NotificationTargetType::Service => "Service",
        }
    }
}

/// `notification_target_type` / `notification_target_id` of every alert.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationTarget {
    /// `User`, `Group`, `EscalationPolicy` or `Service`.
    #[serde(rename = "type")]
    pub kind: NotificationTargetType,
    /// The Rootly id of that user, team, policy or service.
    pub id: String,
}

/// Maps the values of one alert label to Rootly ids (e.g. label `service`: `checkout` → the
/// id of Rootly's checkout service).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdMapping {
    /// The label whose value is looked up.
    pub label: String,
    /// Label value → Rootly id. A value not listed adds nothing.
    pub ids: BTreeMap<String, String>,
}

impl IdMapping {
    /// The id for this alert's label value, if any.
    pub fn lookup(&self, labels: &publish::Labels) -> Option<&str> {
        labels
            .get(&self.label)
            .and_then(|v| self.ids.get(v))
            .map(String::as_str)
    }
}

/// Which alert labels and annotations feed which Rootly fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabelMapping {
    /// Annotations (then labels) tried in order for `summary`; when none is set the summary is
    /// the alert name with its most telling labels. Default `[summary]`.
    pub summary: Vec<String>,
    /// Annotations (then labels) tried in order for the lead paragraph of `description`.
    /// Default `[description, message]`.
    pub description: Vec<String>,
    /// Adds a service id to `service_ids` from a label value.
    pub services: Option<IdMapping>,
    /// Adds a team id to `group_ids` from a label value.
    pub groups: Option<IdMapping>,
    /// Adds an environment id to `environment_ids` from a label value.
    pub environments: Option<IdMapping>,
}

impl Default for LabelMapping {
    fn default() -> Self {
        Self {
            summary: vec!["summary".to_owned()],
            description: vec!["description".to_owned(), "message".to_owned()],
            services: None,
            groups: None,
            environments: None,
        }
    }
}

/// Opens a Rootly incident (with the alert attached) for alerts of the listed severities.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentMode {
    /// Values of the `severity` label that open an incident (case-insensitive). Default
    /// `[critical]`.
    pub severities: Vec<String>,
    /// Rootly severity id of the incident, if any.
    pub severity_id: Option<String>,
}

impl Default for IncidentMode {
    fn default() -> Self {
        Self {
            severities: vec!["critical".to_owned()],
            severity_id: None,
        }
    }
}

impl IncidentMode {
    /// Whether `alert` opens an incident.
    pub fn wants(&self, alert: &publish::Alert) -> bool {
        alert
            .severity()
            .is_some_and(|s| self.severities.iter().any(|w| w.eq_ignore_ascii_case(&s)))
    }
}

/// The default proactive write limit per API key: [`DEFAULT_WRITES_PER_MINUTE`] with bursts of
/// 50.
pub const DEFAULT_RATE_LIMIT: RateLimitOptions =
    RateLimitOptions::new(DEFAULT_WRITES_PER_MINUTE, 50);

fn rate_limit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RateLimitOptions, D::Error> {
    RateLimitOptions::deserialize_or(d, DEFAULT_RATE_LIMIT)
}

fn default_rate_limit() -> RateLimitOptions {
    DEFAULT_RATE_LIMIT
}

/// The `options` of a Rootly target.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootlyOptions {
    /// The API key (sent as `Authorization: Bearer`). May instead come from an
    /// `Authorization: Bearer <key>` entry in the target's `headers`.
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// The alert `source`. Default `alertmanager`.
    #[serde(default = "default_source")]
    pub source: String,
    /// Rootly service ids added to every alert.
    #[serde(default)]
    pub service_ids: Vec<String>,
    /// Rootly team (group) ids added to every alert.
    #[serde(default)]
    pub group_ids: Vec<String>,
    /// Rootly environment ids added to every alert.
    #[serde(default)]
    pub environment_ids: Vec<String>,
    /// Who Rootly notifies.
    #[serde(default)]
    pub notification_target: Option<NotificationTarget>,
    /// Label → field mapping.
    #[serde(default)]
    pub label_mapping: LabelMapping,
    /// Open an incident for critical alerts (absent: never).
    #[serde(default)]
    pub incident: Option<IncidentMode>,
    /// Proactive write limit for the API key (default [`DEFAULT_RATE_LIMIT`]; Rootly allows
    /// [`ROOTLY_WRITES_PER_MINUTE`]).
    #[serde(default = "default_rate_limit", deserialize_with = "rate_limit")]
    pub rate_limit: RateLimitOptions,
    /// Whole-request timeout (default 10 s).
    #[serde(default = "default_timeout", with = "publish::serde_duration")]
    pub timeout: Duration,
}

fn default_source() -> String {
    "alertmanager".to_owned()
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl Default for RootlyOptions {
    fn default() -> Self {
        Self {
            api_key: None,
            source: default_source(),
            service_ids: Vec::new(),
            group_ids: Vec::new(),
            environment_ids: Vec::new(),
            notification_target: None,
            label_mapping: LabelMapping::default(),
            incident: None,
            rate_limit: DEFAULT_RATE_LIMIT,
            timeout: default_timeout(),
        }
    }
}

/// Everything the Rootly publisher needs. `Debug` never shows the API key.
#[derive(Debug, Clone)]
pub struct RootlyConfig {
    /// Target name (logs and metric labels).
    pub name: String,
    /// API base, e.g. `https://api.rootly.com` (a trailing `/v1` is accepted and dropped).
    pub base_url: reqwest::Url,
    /// The API key.
    pub api_key: Secret,
    /// Extra headers from the target definition (values may be credentials).
    pub headers: Vec<(reqwest::header::HeaderName, Secret)>,
    /// Typed options (`api_key` taken out).
    pub options: RootlyOptions,
    /// The alert's templated fields (set by [`crate::build`], which has the shared
    /// definitions).
    pub templates: publish::templates::Templates,
}

impl RootlyConfig {
    /// A configuration for `base_url` (empty: [`DEFAULT_URL`]) and `api_key` with default
    /// options (for use as a library).
    pub fn new(
        name: impl Into<String>,
        base_url: &str,
        api_key: Secret,
    ) -> Result<Self, ConfigError> {
        Self::checked(name.into(), base_url, api_key, RootlyOptions::default())
    }

    /// Reads and checks a `type: rootly` target.
    pub fn from_target(target: &Target) -> Result<Self, ConfigError> {
        if target.kind != TargetType::Rootly {
            return Err(ConfigError::new(
                "type",
                format!("expected rootly, got {}", target.kind),
            ));
        }
        if target.format != Format::Rootly {
            return Err(ConfigError::new(
                "format",
                format!("a rootly target sends `rootly`, not `{}`", target.format),
            ));
        }
        let mut options: RootlyOptions = publish::options(&target.options)?;
        let mut from_header = None;
        let mut headers = Vec::new();
        for (name, value) in &target.headers {
            let field = format!("headers.{name}");
            if name.eq_ignore_ascii_case("authorization") {
                let key = value
                    .expose()
                    .trim()
                    .strip_prefix("Bearer ")
                    .ok_or_else(|| ConfigError::new(&field, "must be `Bearer <api key>`"))?;
                from_header = Some((field, Secret::new(key.trim())));
            } else if !name.eq_ignore_ascii_case("content-type") {
                // Content-Type is ours (JSON:API); anything else is sent as given.
                headers.push(publish::header(name, value)?);
            }
        }
        let api_key = match (options.api_key.take(), from_header) {
            (Some(key), None) => key,
            (None, Some((_, key))) => key,
            (Some(_), Some((field, _))) => {
                return Err(ConfigError::new(
                    field,
                    "the API key is also set in options.api_key; set it once",
                ));
            }
            (None, None) => {
                return Err(ConfigError::new(
                    "options.api_key",
                    "is required (a Rootly API key; or an `Authorization: Bearer <key>` header)",
                ));
            }
        };
        let mut config = Self::checked(target.name.to_string(), &target.url, api_key, options)?;
        config.headers = headers;
        Ok(config)
    }

    fn checked(
        name: String,
        base_url: &str,
        api_key: Secret,
        options: RootlyOptions,
    ) -> Result<Self, ConfigError> {
        let base_url = if base_url.trim().is_empty() {
            DEFAULT_URL
        } else {
            base_url
        };
        let mut url = publish::http::url("url", base_url)?;
        if url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(ConfigError::new(
                "url",
                "must be the API base alone, without credentials, query or fragment",
            ));
        }
        let path = url.path().trim_end_matches('/');
        let path = path.strip_suffix("/v1").unwrap_or(path).to_owned();
        url.set_path(&format!("{path}/"));
        if api_key.is_empty() {
            return Err(ConfigError::new("options.api_key", "must not be empty"));
        }
        if api_key
            .expose()
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || !b.is_ascii())
        {
            return Err(ConfigError::new(
                "options.api_key",
                "must be one word of printable ASCII (check for a stray newline)",
            ));
        }
        if options.source.trim().is_empty() {
            return Err(ConfigError::new(
                "options.source",
                "must not be empty (Rootly requires a source)",
            ));
        }
        if options.timeout.is_zero() {
            return Err(ConfigError::new(
                "options.timeout",
                "must be greater than zero",
            ));
        }
        options.rate_limit.check(
            "options.rate_limit",
            &format!("Rootly allows {ROOTLY_WRITES_PER_MINUTE} writes per minute per key"),
        )?;
        if options.rate_limit.per_minute > ROOTLY_WRITES_PER_MINUTE {
            return Err(ConfigError::new(
                "options.rate_limit.per_minute",
                format!(
                    "{} is above Rootly's limit of {ROOTLY_WRITES_PER_MINUTE} writes per minute per key",
                    options.rate_limit.per_minute
                ),
            ));
        }
        for (field, ids) in [
            ("service_ids", &options.service_ids),
            ("group_ids", &options.group_ids),
            ("environment_ids", &options.environment_ids),
        ] {
            if ids.iter().any(|id| id.trim().is_empty()) {
                return Err(ConfigError::new(
                    format!("options.{field}"),
                    "ids must not be empty",
                ));
            }
        }
        if options
            .notification_target
            .as_ref()
            .is_some_and(|t| t.id.trim().is_empty())
        {
            return Err(ConfigError::new(
                "options.notification_target.id",
                "must not be empty",
            ));
        }
        if options
            .incident
            .as_ref()
            .is_some_and(|i| i.severities.is_empty())
        {
            return Err(ConfigError::new(
                "options.incident.severities",
                "list at least one severity (e.g. critical)",
            ));
        }
        Ok(Self {
            name,
            base_url: url,
            api_key,
            headers: Vec::new(),
            options,
            templates: publish::templates::Templates::default(),
        })
    }

    /// `{base}/v1/{segments...}`, each segment percent-encoded.
    pub(crate) fn endpoint(&self, segments: &[&str]) -> reqwest::Url {
        let mut url = self.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            // The base ends with '/': drop the empty last segment before extending.
            path.pop_if_empty().push("v1").extend(segments);
        }
        url
    }
}
