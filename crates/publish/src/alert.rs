use std::{collections::BTreeMap, fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::time::{serde_go, serde_go_opt};

/// Label or annotation names to values, sorted by name (as Alertmanager sorts them).
pub type Labels = BTreeMap<String, String>;

/// Whether an alert is firing or resolved.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// The alert is active.
    #[default]
    Firing,
    /// The alert has ended.
    Resolved,
}

impl AlertStatus {
    /// `"firing"` or `"resolved"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AlertStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "firing" => Ok(AlertStatus::Firing),
            "resolved" => Ok(AlertStatus::Resolved),
            other => Err(format!(
                "unknown alert status {other:?} (expected firing or resolved)"
            )),
        }
    }
}

/// An alert fingerprint: 16 lowercase hex digits, as Alertmanager computes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Derives the fingerprint of a label set exactly as Prometheus/Alertmanager do
    /// (FNV-1a 64 over the sorted names and values, each followed by the byte 0xff).
    pub fn from_labels(labels: &Labels) -> Self {
        const OFFSET: u64 = 14_695_981_039_346_656_037;
        const PRIME: u64 = 1_099_511_628_211;
        let add = |mut h: u64, bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(PRIME);
            }
            h
        };
        let mut h = OFFSET;
        for (name, value) in labels {
            h = add(h, name.as_bytes());
            h = add(h, &[0xff]);
            h = add(h, value.as_bytes());
            h = add(h, &[0xff]);
        }
        Fingerprint(format!("{h:016x}"))
    }

    /// The fingerprint as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Fingerprint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Fingerprint(s.to_ascii_lowercase()))
        } else {
            Err(format!("fingerprint must be 16 hex digits (got {s:?})"))
        }
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One alert, as Alertmanager describes it in a webhook notification.
///
/// Serializes to exactly the shape Alertmanager sends (`startsAt`, `endsAt` with Go's zero
/// time for "not ended", `generatorURL`, `fingerprint`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Firing or resolved — each alert's own status, even inside a group of the other status.
    pub status: AlertStatus,
    /// Identifying labels.
    pub labels: Labels,
    /// Informational annotations.
    #[serde(default)]
    pub annotations: Labels,
    /// When the alert started.
    #[serde(with = "serde_go")]
    pub starts_at: DateTime<Utc>,
    /// When the alert ended; `None` while it has not.
    #[serde(with = "serde_go_opt", default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// Link to the expression that generated the alert.
    #[serde(rename = "generatorURL", default)]
    pub generator_url: String,
    /// Identity of the alert (derived from the labels when the sender gave none).
    pub fingerprint: Fingerprint,
}

impl Alert {
    /// The `alertname` label, or `""`.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }

    /// The `severity` label, lowercased, if any.
    pub fn severity(&self) -> Option<String> {
        self.labels.get("severity").map(|s| s.to_ascii_lowercase())
    }
}

/// The group an alert arrived in: everything of the Alertmanager notification except the
/// alerts, so a publisher can re-create a faithful v4 payload for one alert.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupContext {
    /// Alertmanager receiver name.
    #[serde(default)]
    pub receiver: String,
    /// Status of the whole group (an alert's own status can differ).
    #[serde(default)]
    pub status: AlertStatus,
    /// Labels the group is formed by.
    #[serde(default)]
    pub group_labels: Labels,
    /// Labels common to every alert of the group.
    #[serde(default)]
    pub common_labels: Labels,
    /// Annotations common to every alert of the group.
    #[serde(default)]
    pub common_annotations: Labels,
    /// Link back to the Alertmanager that sent the group.
    #[serde(rename = "externalURL", default)]
    pub external_url: String,
    /// Alertmanager's key of the group.
    #[serde(default)]
    pub group_key: String,
    /// How many alerts Alertmanager left out because of `max_alerts`.
    #[serde(default)]
    pub truncated_alerts: u64,
}

/// A parsed Alertmanager webhook (version 4) notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookMessage {
    /// The group the alerts belong to.
    pub context: GroupContext,
    /// The alerts, each with its own status.
    pub alerts: Vec<Alert>,
}

/// Why a payload was refused. The message says what was wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not JSON, or JSON of the wrong shape; carries the path of the offending field.
    #[error("invalid payload at `{path}`: {message}")]
    Invalid {
        /// JSON path of the field, `.` for the whole document.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// A version other than "4".
    #[error("unsupported webhook version {0:?}: Alertmanager webhook version \"4\" is expected")]
    Version(String),
    /// Structurally fine but not acceptable.
    #[error("{0}")]
    Rejected(String),
}

/// Alertmanager webhook payload, version 4, as [`parse_webhook`] reads it. Unknown fields
/// are ignored.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AlertmanagerWebhook)]
pub struct RawWebhook {
    /// `4`.
    #[schema(pattern = "^4$")]
    version: String,
    #[serde(default)]
    receiver: String,
    #[serde(default)]
    status: AlertStatus,
    alerts: Vec<RawAlert>,
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    group_labels: Labels,
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    common_labels: Labels,
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    common_annotations: Labels,
    #[serde(rename = "externalURL", default)]
    external_url: String,
    #[serde(default)]
    group_key: String,
    #[serde(default)]
    truncated_alerts: u64,
}

/// One alert of an Alertmanager webhook.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookAlert)]
struct RawAlert {
    status: AlertStatus,
    /// Identifying labels (at least one).
    #[schema(schema_with = non_empty_labels)]
    labels: Labels,
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    annotations: Labels,
    #[serde(with = "serde_go")]
    starts_at: DateTime<Utc>,
    /// Go's zero time (`0001-01-01T00:00:00Z`) while the alert has not ended.
    #[serde(with = "serde_go_opt", default)]
    ends_at: Option<DateTime<Utc>>,
    #[serde(rename = "generatorURL", default)]
    generator_url: String,
    /// Identity of the alert; derived from the labels when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^[0-9a-fA-F]{16}$")]
    fingerprint: Option<Fingerprint>,
}

/// The schema of a label set that needs at least one label (what the parsers check).
/// (`#[schema(min_properties)]` is not used: utoipa 5.5 emits it as `maxProperties`.)
fn non_empty_labels() -> utoipa::openapi::Object {
    use utoipa::{PartialSchema, openapi::ObjectBuilder};
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::Object)
        .additional_properties(Some(String::schema()))
        .min_properties(Some(1))
        .build()
}

impl RawAlert {
    fn into_alert(self) -> Alert {
        let fingerprint = self
            .fingerprint
            .unwrap_or_else(|| Fingerprint::from_labels(&self.labels));
        Alert {
            status: self.status,
            labels: self.labels,
            annotations: self.annotations,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            generator_url: self.generator_url,
            fingerprint,
        }
    }
}

fn from_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ParseError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if inner.is_eof() && inner.line() == 1 && inner.column() == 0 {
            "empty body: a JSON document is expected".to_owned()
        } else {
            inner.to_string()
        };
        ParseError::Invalid { path, message }
    })
}

/// Parses an Alertmanager webhook v4 body. Unknown fields are accepted (newer Alertmanager
/// versions add `notification_reason`, `routeLabels`, ...).
pub fn parse_webhook(body: &[u8]) -> Result<WebhookMessage, ParseError> {
    let raw: RawWebhook = from_json(body)?;
    if raw.version != "4" {
        return Err(ParseError::Version(raw.version));
    }
    for (i, a) in raw.alerts.iter().enumerate() {
        if a.labels.is_empty() {
            return Err(ParseError::Invalid {
                path: format!("alerts[{i}].labels"),
                message: "an alert needs at least one label".to_owned(),
            });
        }
    }
    Ok(WebhookMessage {
        context: GroupContext {
            receiver: raw.receiver,
            status: raw.status,
            group_labels: raw.group_labels,
            common_labels: raw.common_labels,
            common_annotations: raw.common_annotations,
            external_url: raw.external_url,
            group_key: raw.group_key,
            truncated_alerts: raw.truncated_alerts,
        },
        alerts: raw.alerts.into_iter().map(RawAlert::into_alert).collect(),
    })
}

/// One alert of the Prometheus / Alertmanager API array (`POST /api/v2/alerts`). An `endsAt`
/// in the past means resolved.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiAlert {
    /// Identifying labels (required, non-empty).
    #[schema(schema_with = non_empty_labels)]
    pub labels: Labels,
    /// Annotations.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    pub annotations: Labels,
    /// Start; now when absent.
    #[serde(with = "serde_go_opt", default)]
    pub starts_at: Option<DateTime<Utc>>,
    /// End; an end in the past means resolved.
    #[serde(with = "serde_go_opt", default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// Link to the generating expression.
    #[serde(rename = "generatorURL", default)]
    pub generator_url: String,
}

/// Parses a Prometheus/Alertmanager API alert array into alerts, as of `now`.
pub fn parse_api_alerts(body: &[u8], now: DateTime<Utc>) -> Result<Vec<Alert>, ParseError> {
    let raw: Vec<ApiAlert> = from_json(body)?;
    raw.into_iter()
        .enumerate()
        .map(|(i, a)| {
            if a.labels.is_empty() {
                return Err(ParseError::Invalid {
                    path: format!("[{i}].labels"),
                    message: "an alert needs at least one label".to_owned(),
                });
            }
            let status = match a.ends_at {
                Some(end) if end <= now => AlertStatus::Resolved,
                _ => AlertStatus::Firing,
            };
            let fingerprint = Fingerprint::from_labels(&a.labels);
            Ok(Alert {
                status,
                starts_at: a.starts_at.unwrap_or(now),
                // Like Alertmanager: a firing alert reports no end to receivers.
                ends_at: if status == AlertStatus::Resolved {
                    a.ends_at
                } else {
                    None
                },
                labels: a.labels,
                annotations: a.annotations,
                generator_url: a.generator_url,
                fingerprint,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_matches_alertmanager() {
        // From a real Alertmanager 0.25 notification (am-webhook-firing.json).
        let labels: Labels = [
            ("alertname", "HighErrorRate"),
            ("instance", "web-1:9100"),
            ("service", "checkout"),
            ("severity", "critical"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            Fingerprint::from_labels(&labels).as_str(),
            "ac36b8d065d4a922"
        );
    }

    fn err(body: &str) -> String {
        parse_webhook(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn clear_errors() {
        assert!(err("{").contains("EOF"), "{}", err("{"));
        assert!(err("").contains("empty body"));
        assert!(err(r#"{"alerts":[]}"#).contains("missing field `version`"));
        assert!(
            err(r#"{"version":"3","alerts":[]}"#).contains("unsupported webhook version \"3\"")
        );
        let wrong_type = err(r#"{"version":"4","alerts":[{"status":"firing","labels":{"a":1}}]}"#);
        assert!(wrong_type.contains("alerts[0].labels.a"), "{wrong_type}");
        let bad_status = err(
            r#"{"version":"4","alerts":[{"status":"burning","labels":{"a":"b"},"startsAt":"2026-01-01T00:00:00Z"}]}"#,
        );
        assert!(
            bad_status.contains("alerts[0].status") && bad_status.contains("burning"),
            "{bad_status}"
        );
        let no_start = err(r#"{"version":"4","alerts":[{"status":"firing","labels":{"a":"b"}}]}"#);
        assert!(no_start.contains("missing field `startsAt`"), "{no_start}");
        let bad_time = err(
            r#"{"version":"4","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"noon"}]}"#,
        );
        assert!(bad_time.contains("alerts[0].startsAt"), "{bad_time}");
        let bad_fp = err(
            r#"{"version":"4","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"2026-01-01T00:00:00Z","fingerprint":"xyz"}]}"#,
        );
        assert!(bad_fp.contains("16 hex digits"), "{bad_fp}");
    }

    #[test]
    fn derives_missing_fingerprint_and_accepts_unknown_fields() {
        let body = r#"{"version":"4","notification_reason":"x","routeLabels":{},"alerts":[
            {"status":"firing","labels":{"b":"2","a":"1"},"startsAt":"2026-01-01T00:00:00Z","extra":true}]}"#;
        let m = parse_webhook(body.as_bytes()).unwrap();
        let again = Fingerprint::from_labels(&m.alerts[0].labels);
        assert_eq!(m.alerts[0].fingerprint, again);
        assert_eq!(m.alerts[0].ends_at, None);
    }

    #[test]
    fn api_alerts_resolve_by_end_time() {
        let now = crate::time::parse("2026-11-23T12:00:00Z").unwrap().unwrap();
        let body = r#"[
            {"labels":{"alertname":"A"}},
            {"labels":{"alertname":"B"},"startsAt":"2026-11-23T11:00:00Z","endsAt":"2026-11-23T11:30:00Z"},
            {"labels":{"alertname":"C"},"endsAt":"2026-11-23T13:00:00Z"}
        ]"#;
        let alerts = parse_api_alerts(body.as_bytes(), now).unwrap();
        let statuses: Vec<_> = alerts.iter().map(|a| a.status).collect();
        assert_eq!(
            statuses,
            [
                AlertStatus::Firing,
                AlertStatus::Resolved,
                AlertStatus::Firing
            ]
        );
        assert_eq!(alerts[0].starts_at, now);
        assert!(parse_api_alerts(br#"[{"labels":{}}]"#, now).is_err());
        assert!(parse_api_alerts(br#"{"labels":{}}"#, now).is_err());
    }
}
