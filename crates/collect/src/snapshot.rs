//! The collected samples and their JSON form.

use std::{collections::BTreeMap, fmt::Write as _};

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer, ser::SerializeMap};

/// One value with its name and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name without prefix (`queue_size`, `health_status`, …).
    pub name: &'static str,
    /// Label pairs (bounded values: target names, types, states, reasons).
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// A sample without labels.
    pub fn new(name: &'static str, value: f64) -> Self {
        Self {
            name,
            labels: Vec::new(),
            value,
        }
    }

    /// Adds a label.
    pub fn label(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.labels.push((key, value.into()));
        self
    }

    /// The value of label `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The key as the API guide writes it: `name{k="v",…}`.
    pub fn key(&self) -> String {
        metric_key(self.name, &self.labels)
    }
}

/// `name{k="v",…}` (just `name` without labels); quotes and backslashes are escaped.
pub fn metric_key(name: &str, labels: &[(&'static str, String)]) -> String {
    let mut s = String::with_capacity(name.len() + 32 * labels.len());
    s.push_str(name);
    if !labels.is_empty() {
        s.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{k}=\"");
            for c in v.chars() {
                if c == '"' || c == '\\' {
                    s.push('\\');
                }
                s.push(c);
            }
            s.push('"');
        }
        s.push('}');
    }
    s
}

/// Everything one collection run produced.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct MetricsSnapshot {
    /// When collection started.
    pub timestamp: DateTime<Utc>,
    /// Collectors that ran.
    pub collector_count: usize,
    /// How long the run took.
    pub collection_duration_ms: f64,
    /// Samples, serialized as an object of `name{labels}` → value.
    #[serde(rename = "metrics", serialize_with = "as_map")]
    #[schema(value_type = BTreeMap<String, f64>)]
    pub samples: Vec<Sample>,
    /// Collector name → why it produced nothing.
    pub errors: BTreeMap<String, String>,
}

fn as_map<S: Serializer>(samples: &[Sample], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(samples.len()))?;
    for sample in samples {
        let v = if sample.value.is_finite() {
            sample.value
        } else {
            0.0
        };
        m.serialize_entry(&sample.key(), &v)?;
    }
    m.end()
}

impl MetricsSnapshot {
    /// The first sample named `name` whose labels include all of `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| s.name == name && labels.iter().all(|(k, v)| s.get(k) == Some(*v)))
            .map(|s| s.value)
    }

    /// Samples whose label `key` equals `value` (for one target's view).
    pub fn with_label<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples
            .iter()
            .filter(move |s| s.get(key) == Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_guide() {
        let s = Sample::new("health_status", 1.0)
            .label("target", "rootly-prod")
            .label("type", "rootly");
        assert_eq!(
            s.key(),
            r#"health_status{target="rootly-prod",type="rootly"}"#
        );
        assert_eq!(Sample::new("queue_size", 3.0).key(), "queue_size");
        assert_eq!(
            metric_key("x", &[("target", "a\"b".to_owned())]),
            r#"x{target="a\"b"}"#
        );
        let snap = MetricsSnapshot {
            samples: vec![s, Sample::new("queue_size", f64::NAN)],
            ..Default::default()
        };
        let v = serde_json::to_value(&snap).unwrap_or_default();
        assert_eq!(v["metrics"]["queue_size"], 0.0);
        assert_eq!(
            v["metrics"][r#"health_status{target="rootly-prod",type="rootly"}"#],
            1.0
        );
    }
}
