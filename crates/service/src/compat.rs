//! The original Go service's request and response shapes, read and written on top of our own
//! types: one implementation underneath, two wire forms.
//!
//! - An alert may come in three forms: the Prometheus API form (`labels`, `startsAt`, …), the
//!   original's `Alert` (`alert_name`, `starts_at`, …) and its `EnrichedAlert`
//!   (`{"alert": <Alert>, "classification": …}`). [`parse_alert`] reads all three and says
//!   which it was.
//! - A parallel publish asked in the original's form is answered in its form
//!   ([`GoPublishResponse`]); see `docs/migration-from-go.md`.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use publish::{
    Alert, AlertStatus, Classification, Fingerprint, Labels,
    parallel::{ParallelReport, TargetOutcome},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result, alert_from_json};

/// Which form a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Ours: the Prometheus API alert.
    Native,
    /// The original's `Alert` or `EnrichedAlert`.
    Go,
}

/// The original's `Alert`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoAlert {
    /// Identity; 16 hex digits are kept, anything else is replaced by the fingerprint of the
    /// labels (the original accepted any string).
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// The alert name (also the `alertname` label when that is missing).
    pub alert_name: String,
    /// `firing` or `resolved`.
    pub status: AlertStatus,
    /// Labels.
    #[serde(default)]
    pub labels: Option<Labels>,
    /// Annotations.
    #[serde(default)]
    pub annotations: Option<Labels>,
    /// When it started.
    pub starts_at: DateTime<Utc>,
    /// When it ended.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// Link to the source.
    #[serde(default)]
    pub generator_url: Option<String>,
    /// When the original received it (not used).
    #[serde(default)]
    pub timestamp: Option<DateTime<Utc>>,
}

/// The original's `EnrichedAlert`: an alert with its classification.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrichedAlert {
    /// The alert.
    pub alert: GoAlert,
    /// Its classification.
    #[serde(default)]
    pub classification: Option<Classification>,
    /// Not used.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub enrichment_metadata: Option<Value>,
    /// Not used.
    #[serde(default)]
    pub processing_timestamp: Option<DateTime<Utc>>,
}

impl GoAlert {
    /// Our alert.
    pub fn into_alert(self) -> Result<Alert> {
        let mut labels = self.labels.unwrap_or_default();
        if self.alert_name.trim().is_empty() {
            return Err(Error::invalid("alert.alert_name is required"));
        }
        labels
            .entry("alertname".to_owned())
            .or_insert(self.alert_name);
        let fingerprint = self
            .fingerprint
            .and_then(|f| f.parse::<Fingerprint>().ok())
            .unwrap_or_else(|| Fingerprint::from_labels(&labels));
        let ends_at = match self.status {
            AlertStatus::Resolved => Some(self.ends_at.unwrap_or_else(Utc::now)),
            AlertStatus::Firing => self.ends_at.filter(|e| *e <= Utc::now()),
        };
        Ok(Alert {
            status: self.status,
            labels,
            annotations: self.annotations.unwrap_or_default(),
            starts_at: self.starts_at,
            ends_at,
            generator_url: self.generator_url.unwrap_or_default(),
            fingerprint,
        })
    }
}

fn from_value<T: serde::de::DeserializeOwned>(what: &str, v: Value) -> Result<T> {
    serde_path_to_error::deserialize(v)
        .map_err(|e| Error::invalid(format!("{what}.{}: {}", e.path(), e.inner())))
}

/// Reads an alert in any of the three forms, with its classification (from an
/// `EnrichedAlert`, or `classification` given beside it), and says which form it was.
pub fn parse_alert(v: Value, classification: Option<Classification>) -> Result<(Alert, Shape)> {
    let Value::Object(map) = &v else {
        return Err(Error::invalid("alert: an object is expected"));
    };
    let (mut alert, embedded, shape) = if map.get("alert").is_some_and(Value::is_object) {
        let enriched: EnrichedAlert = from_value("alert", v)?;
        (
            enriched.alert.into_alert()?,
            enriched.classification,
            Shape::Go,
        )
    } else if map.contains_key("alert_name") || map.contains_key("starts_at") {
        let go: GoAlert = from_value("alert", v)?;
        (go.into_alert()?, None, Shape::Go)
    } else if map.contains_key("alert") {
        return Err(Error::invalid(
            "alert.alert: an object (the original's Alert) is expected",
        ));
    } else {
        (alert_from_json(v)?, None, Shape::Native)
    };
    if let Some(c) = classification.or(embedded) {
        c.validate().map_err(Error::invalid)?;
        c.annotate(&mut alert);
    }
    Ok((alert, shape))
}

/// Go's `time.Duration.String()`: `0s`, `850µs`, `48.123456ms`, `1.5s`, `2m3.5s`.
pub fn go_duration(d: Duration) -> String {
    fn decimal(value: u128, unit: u128) -> String {
        let whole = value / unit;
        let frac = value % unit;
        if frac == 0 {
            return whole.to_string();
        }
        let width = unit.ilog10() as usize;
        let digits = format!("{frac:0width$}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
    let ns = d.as_nanos();
    match ns {
        0 => "0s".to_owned(),
        1..=999 => format!("{ns}ns"),
        1_000..=999_999 => format!("{}µs", decimal(ns, 1_000)),
        1_000_000..=999_999_999 => format!("{}ms", decimal(ns, 1_000_000)),
        _ => {
            let secs = ns / 1_000_000_000;
            let (h, m) = (secs / 3600, (secs % 3600) / 60);
            let s = decimal(ns % 60_000_000_000, 1_000_000_000);
            match (h, m) {
                (0, 0) => format!("{s}s"),
                (0, m) => format!("{m}m{s}s"),
                (h, m) => format!("{h}h{m}m{s}s"),
            }
        }
    }
}

/// One target's result, as the original answered it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GoTargetResult {
    /// Target name.
    pub target_name: String,
    /// Target type.
    pub target_type: String,
    /// Whether it delivered.
    pub success: bool,
    /// Why it failed (the original sent an empty object here; we send the reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took, in nanoseconds (Go's `time.Duration`).
    pub duration: u64,
    /// HTTP status the target answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Whether it was skipped.
    pub skipped: bool,
    /// Why: `unhealthy`, `degraded` or `circuit_open`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
}

/// A parallel publish's answer in the original's form (200 also for a partial success, with
/// `success: false`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GoPublishResponse {
    /// No target failed (and there was at least one).
    pub success: bool,
    /// Targets considered.
    pub total_targets: usize,
    /// Delivered.
    pub success_count: usize,
    /// Failed or timed out.
    pub failure_count: usize,
    /// Skipped.
    pub skipped_count: usize,
    /// Some delivered and some failed.
    pub is_partial_success: bool,
    /// The whole request's duration, as Go prints a `time.Duration` (`48.123456ms`).
    pub duration: String,
    /// One per target.
    pub results: Vec<GoTargetResult>,
}

impl GoPublishResponse {
    /// The original's answer for a fan-out's report that took `elapsed`.
    pub fn from_report(report: &ParallelReport, elapsed: Duration) -> Self {
        let total = report.results.len();
        Self {
            success: report.failed == 0 && total > 0,
            total_targets: total,
            success_count: report.succeeded,
            failure_count: report.failed,
            skipped_count: report.skipped,
            is_partial_success: report.succeeded > 0 && report.failed > 0,
            duration: go_duration(elapsed),
            results: report
                .results
                .iter()
                .map(|r| GoTargetResult {
                    target_name: r.target.clone(),
                    target_type: r.target_type.clone(),
                    success: r.outcome == TargetOutcome::Delivered,
                    error: match r.outcome {
                        TargetOutcome::Failed | TargetOutcome::Timeout => r.error.clone(),
                        _ => None,
                    },
                    duration: r.latency_ms.saturating_mul(1_000_000),
                    status_code: r.status_code,
                    skipped: r.outcome == TargetOutcome::Skipped,
                    skip_reason: r.skip_reason.clone(),
                })
                .collect(),
        }
    }
}

/// `GET /api/v2/publishing/parallel/status`: the original's fields, computed from the
/// registry and the health book (the original answered fixed values).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParallelStatus {
    /// Parallel publishing is available (always true).
    pub enabled: bool,
    /// Enabled targets.
    pub total_targets: usize,
    /// Enabled targets that are healthy (or not yet checked).
    pub healthy_count: usize,
    /// Enabled targets that are unhealthy.
    pub unhealthy_count: usize,
    /// `healthy` (none unhealthy), `degraded` (some), `unhealthy` (all), or `unknown` (no
    /// enabled targets).
    pub status: String,
    /// Targets by health state (ours; includes `degraded` and `unknown`).
    pub by_state: BTreeMap<String, usize>,
}
