//! Alertmanager's `template.Data` as native types, deserialised from a webhook payload.

use chrono::{DateTime, FixedOffset, TimeZone};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// Alertmanager's `template.KV`: a `map[string]string`.
pub type Kv = BTreeMap<String, String>;

/// Alertmanager's `template.Data` (the webhook payload's fields, same JSON names).
#[derive(Clone, Debug, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct Data {
    /// `.Receiver`
    pub receiver: String,
    /// `.Status`: `firing` or `resolved`.
    pub status: String,
    /// `.Alerts`
    pub alerts: Vec<AlertData>,
    /// `.GroupLabels`
    #[serde(rename = "groupLabels", deserialize_with = "null_default")]
    pub group_labels: Kv,
    /// `.CommonLabels`
    #[serde(rename = "commonLabels", deserialize_with = "null_default")]
    pub common_labels: Kv,
    /// `.CommonAnnotations`
    #[serde(rename = "commonAnnotations", deserialize_with = "null_default")]
    pub common_annotations: Kv,
    /// `.ExternalURL`
    #[serde(rename = "externalURL")]
    pub external_url: String,
}

/// Alertmanager's `template.Alert`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct AlertData {
    /// `.Status`
    pub status: String,
    /// `.Labels`
    #[serde(deserialize_with = "null_default")]
    pub labels: Kv,
    /// `.Annotations`
    #[serde(deserialize_with = "null_default")]
    pub annotations: Kv,
    /// `.StartsAt`
    #[serde(rename = "startsAt", deserialize_with = "go_time")]
    pub starts_at: DateTime<FixedOffset>,
    /// `.EndsAt`; Go's zero time `0001-01-01T00:00:00Z` when absent.
    #[serde(rename = "endsAt", deserialize_with = "go_time")]
    pub ends_at: DateTime<FixedOffset>,
    /// `.GeneratorURL`
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// `.Fingerprint`
    pub fingerprint: String,
}

impl Default for AlertData {
    fn default() -> Self {
        AlertData {
            status: String::new(),
            labels: Kv::new(),
            annotations: Kv::new(),
            starts_at: go_zero_time(),
            ends_at: go_zero_time(),
            generator_url: String::new(),
            fingerprint: String::new(),
        }
    }
}

/// Go's zero `time.Time`: `0001-01-01 00:00:00 +0000 UTC`.
pub(crate) fn go_zero_time() -> DateTime<FixedOffset> {
    FixedOffset::east_opt(0)
        .and_then(|z| z.with_ymd_and_hms(1, 1, 1, 0, 0, 0).single())
        .unwrap_or_default()
}

fn null_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn go_time<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<FixedOffset>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(go_zero_time()),
        Some(s) if s.is_empty() => Ok(go_zero_time()),
        Some(s) => DateTime::parse_from_rfc3339(&s).map_err(serde::de::Error::custom),
    }
}

fn ts(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|_| go_zero_time())
}

fn kv(pairs: &[(&str, &str)]) -> Kv {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Sample data used by the trial render at parse time: a firing group with one firing
/// and one resolved alert.
pub fn sample_data() -> Data {
    Data {
        receiver: "sample-receiver".into(),
        status: "firing".into(),
        alerts: vec![
            AlertData {
                status: "firing".into(),
                labels: kv(&[
                    ("alertname", "SampleAlert"),
                    ("instance", "host-1:9100"),
                    ("job", "node"),
                    ("severity", "critical"),
                ]),
                annotations: kv(&[
                    ("description", "Sample description of host-1"),
                    ("summary", "Sample summary"),
                ]),
                starts_at: ts("2024-01-02T03:04:05Z"),
                ends_at: go_zero_time(),
                generator_url: "http://prometheus.example/graph?g0.expr=up".into(),
                fingerprint: "0123456789abcdef".into(),
            },
            AlertData {
                status: "resolved".into(),
                labels: kv(&[
                    ("alertname", "SampleAlert"),
                    ("instance", "host-2:9100"),
                    ("job", "node"),
                    ("severity", "critical"),
                ]),
                annotations: kv(&[
                    ("description", "Sample description of host-2"),
                    ("summary", "Sample summary"),
                ]),
                starts_at: ts("2024-01-02T03:00:00Z"),
                ends_at: ts("2024-01-02T03:30:00Z"),
                generator_url: "http://prometheus.example/graph?g0.expr=up".into(),
                fingerprint: "fedcba9876543210".into(),
            },
        ],
        group_labels: kv(&[("alertname", "SampleAlert")]),
        common_labels: kv(&[
            ("alertname", "SampleAlert"),
            ("job", "node"),
            ("severity", "critical"),
        ]),
        common_annotations: kv(&[("summary", "Sample summary")]),
        external_url: "http://alertmanager.example:9093".into(),
    }
}
