//! How each target is doing, from active probes and from real deliveries.
//!
//! Status per target: **unknown** (no data yet), **healthy**, **degraded** (last latency at or
//! above `degraded_latency`, or 1 to `unhealthy_after - 1` consecutive failures), **unhealthy**
//! (`unhealthy_after` or more consecutive failures; default 3).

use std::{
    collections::{HashMap, VecDeque},
    sync::RwLock,
    time::Duration,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Health status of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Nothing known yet.
    Unknown,
    /// Working.
    Healthy,
    /// Slow or failing now and then.
    Degraded,
    /// Failing.
    Unhealthy,
}

impl HealthStatus {
    /// Label form.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Unknown => "unknown",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    /// Gauge value: 0 unknown, 1 healthy, 2 degraded, 3 unhealthy.
    pub fn gauge(self) -> f64 {
        match self {
            HealthStatus::Unknown => 0.0,
            HealthStatus::Healthy => 1.0,
            HealthStatus::Degraded => 2.0,
            HealthStatus::Unhealthy => 3.0,
        }
    }
}

/// Thresholds; `health:` in the service configuration (unknown keys refused, missing keys
/// default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// A check or delivery slower than this makes the target degraded (default 5 s).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub degraded_latency: Duration,
    /// Consecutive failures that make a target unhealthy (default 3).
    pub unhealthy_after: u32,
    /// Results kept for the success rate (default 100).
    pub window: usize,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            degraded_latency: Duration::from_secs(5),
            unhealthy_after: 3,
            window: 100,
        }
    }
}

/// Where a result came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckSource {
    /// A side-effect-free probe.
    Probe,
    /// A real delivery.
    Delivery,
}

/// What is known of one target.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TargetHealth {
    /// Target name.
    pub target: String,
    /// Current status.
    pub status: HealthStatus,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Successes over results in the window (0–1); `None` without data.
    #[schema(required)]
    pub success_rate: Option<f64>,
    /// Results in the window.
    pub checks_in_window: usize,
    /// Every result seen.
    pub total_checks: u64,
    /// When the last result came in.
    #[schema(required)]
    pub last_check: Option<DateTime<Utc>>,
    /// Latency of the last result in milliseconds.
    #[schema(required)]
    pub last_latency_ms: Option<u64>,
    /// Where the last result came from.
    #[schema(required)]
    pub last_source: Option<CheckSource>,
    /// The last failure, free of secrets.
    #[schema(required)]
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
struct Entry {
    window: VecDeque<bool>,
    consecutive_failures: u32,
    total: u64,
    last_check: Option<DateTime<Utc>>,
    last_latency: Option<Duration>,
    last_source: Option<CheckSource>,
    last_error: Option<String>,
}

/// Health of every target, fed by probes and deliveries.
#[derive(Debug, Default)]
pub struct HealthBook {
    config: HealthConfig,
    entries: RwLock<HashMap<String, Entry>>,
    /// Each target's type (the `target_type` label).
    kinds: RwLock<HashMap<String, String>>,
}

impl HealthBook {
    /// An empty book with these thresholds.
    pub fn new(config: HealthConfig) -> Self {
        Self {
            config,
            entries: RwLock::default(),
            kinds: RwLock::default(),
        }
    }

    /// Tells the book each target's type (for the `target_type` metric label).
    pub fn set_kinds(&self, kinds: impl IntoIterator<Item = (String, String)>) {
        *self
            .kinds
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = kinds.into_iter().collect();
    }

    /// Records one result and returns the target's status after it.
    pub fn record(
        &self,
        target: &str,
        success: bool,
        latency: Duration,
        error: Option<String>,
        source: CheckSource,
        at: DateTime<Utc>,
    ) -> HealthStatus {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let e = entries.entry(target.to_owned()).or_default();
        e.window.push_back(success);
        while e.window.len() > self.config.window.max(1) {
            e.window.pop_front();
        }
        e.total += 1;
        e.consecutive_failures = if success {
            0
        } else {
            e.consecutive_failures + 1
        };
        e.last_check = Some(at);
        e.last_latency = Some(latency);
        e.last_source = Some(source);
        if !success {
            e.last_error = error;
        }
        let status = self.status_of(e);
        let kind = self
            .kinds
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(target)
            .cloned()
            .unwrap_or_default();
        let name = target.to_owned();
        metrics::gauge!(crate::metrics::TARGET_HEALTH_STATUS, "target" => name.clone(), "target_name" => name.clone(), "target_type" => kind)
            .set(status.gauge());
        metrics::gauge!(crate::metrics::TARGET_CONSECUTIVE_FAILURES, "target_name" => name.clone())
            .set(f64::from(e.consecutive_failures));
        let ok = e.window.iter().filter(|s| **s).count();
        metrics::gauge!(crate::metrics::TARGET_SUCCESS_RATE, "target_name" => name)
            .set(100.0 * ok as f64 / e.window.len().max(1) as f64);
        status
    }

    /// Forgets a target (it was deleted).
    pub fn forget(&self, target: &str) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(target);
    }

    fn status_of(&self, e: &Entry) -> HealthStatus {
        if e.total == 0 {
            HealthStatus::Unknown
        } else if e.consecutive_failures >= self.config.unhealthy_after.max(1) {
            HealthStatus::Unhealthy
        } else if e.consecutive_failures > 0
            || e.last_latency
                .is_some_and(|l| l >= self.config.degraded_latency)
        {
            HealthStatus::Degraded
        } else {
            HealthStatus::Healthy
        }
    }

    /// The status of a target (unknown when never seen).
    pub fn status(&self, target: &str) -> HealthStatus {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(target)
            .map_or(HealthStatus::Unknown, |e| self.status_of(e))
    }

    /// What is known of a target.
    pub fn get(&self, target: &str) -> TargetHealth {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let empty = Entry::default();
        let e = entries.get(target).unwrap_or(&empty);
        let successes = e.window.iter().filter(|s| **s).count();
        TargetHealth {
            target: target.to_owned(),
            status: self.status_of(e),
            consecutive_failures: e.consecutive_failures,
            success_rate: (!e.window.is_empty()).then(|| successes as f64 / e.window.len() as f64),
            checks_in_window: e.window.len(),
            total_checks: e.total,
            last_check: e.last_check,
            last_latency_ms: e.last_latency.map(|l| l.as_millis() as u64),
            last_source: e.last_source,
            last_error: e.last_error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        let book = HealthBook::new(HealthConfig::default());
        let fast = Duration::from_millis(20);
        let now = Utc::now();
        let record = |ok: bool, latency: Duration| {
            book.record(
                "t",
                ok,
                latency,
                (!ok).then(|| "HTTP 503".to_owned()),
                CheckSource::Delivery,
                now,
            )
        };
        assert_eq!(record(true, fast), HealthStatus::Healthy);
        assert_eq!(
            record(true, Duration::from_secs(6)),
            HealthStatus::Degraded,
            "slow"
        );
        assert_eq!(record(true, fast), HealthStatus::Healthy);
        assert_eq!(record(false, fast), HealthStatus::Degraded);
        assert_eq!(record(false, fast), HealthStatus::Degraded);
        assert_eq!(record(false, fast), HealthStatus::Unhealthy);
        assert_eq!(record(false, fast), HealthStatus::Unhealthy);
        assert_eq!(
            record(true, fast),
            HealthStatus::Healthy,
            "recovers at once on success"
        );
        let h = book.get("t");
        assert_eq!(h.total_checks, 8);
        assert_eq!(h.success_rate, Some(4.0 / 8.0));
        assert_eq!(h.last_error.as_deref(), Some("HTTP 503"));
        assert_eq!(book.status("never-seen"), HealthStatus::Unknown);
        assert_eq!(book.get("never-seen").success_rate, None);
    }

    #[test]
    fn config_keys_defaults_and_unknown_keys() {
        let parse = |yaml: &str| serde_yaml::from_str::<HealthConfig>(yaml);
        assert_eq!(parse("{}").unwrap(), HealthConfig::default());
        let c = parse("degraded_latency: 800ms\nunhealthy_after: 5\nwindow: 20\n").unwrap();
        assert_eq!(c.degraded_latency, Duration::from_millis(800));
        assert_eq!((c.unhealthy_after, c.window), (5, 20));
        let e = parse("unhealthy_afte: 5\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `unhealthy_afte`"), "{e}");
        let e = parse("degraded_latency: slow\n").unwrap_err().to_string();
        assert!(e.contains("invalid duration"), "{e}");
    }

    #[test]
    fn window_is_bounded() {
        let book = HealthBook::new(HealthConfig {
            window: 10,
            ..Default::default()
        });
        for i in 0..50 {
            book.record(
                "t",
                i % 2 == 0,
                Duration::ZERO,
                None,
                CheckSource::Probe,
                Utc::now(),
            );
        }
        let h = book.get("t");
        assert_eq!(h.checks_in_window, 10);
        assert_eq!(h.success_rate, Some(0.5));
    }
}
