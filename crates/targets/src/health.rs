//! How each target is doing, from real deliveries and from active probes, kept apart.
//!
//! Deliveries are the truth: a target whose deliveries fail is failing, however its probes
//! do. A probe success never clears delivery failures; only a delivery success does — or, when
//! the target has been idle (no delivery result for `idle_after`), a passing probe that
//! exercises the delivery path itself (an authenticated call to the same API: Slack's Web API,
//! Rootly). Probes speak for a target when they are newer than its last delivery result (an
//! idle target whose endpoint went away turns unhealthy without waiting for an alert).
//!
//! Status per target: **unknown** (no data yet), **healthy**, **degraded** (last latency at or
//! above `degraded_latency`, or 1 to `unhealthy_after - 1` failures in a row), **unhealthy**
//! (`unhealthy_after` or more failures in a row; default 3). The success rate counts
//! deliveries only.

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
    /// Delivery results kept for the success rate (default 100).
    pub window: usize,
    /// A target with no delivery result for this long is idle: then a passing probe that
    /// exercises the delivery path clears its delivery failures (default 5 min).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub idle_after: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            degraded_latency: Duration::from_secs(5),
            unhealthy_after: 3,
            window: 100,
            idle_after: Duration::from_secs(300),
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
    /// Failures in a row of the results that set the status: deliveries, or probes newer than
    /// the last delivery result when no delivery is failing.
    pub consecutive_failures: u32,
    /// Successful deliveries over deliveries in the window (0–1); `None` without deliveries.
    /// Probes do not count.
    #[schema(required)]
    pub success_rate: Option<f64>,
    /// Delivery results in the window.
    pub checks_in_window: usize,
    /// Every result seen, deliveries and probes.
    pub total_checks: u64,
    /// When the last result (of either kind) came in.
    #[schema(required)]
    pub last_check: Option<DateTime<Utc>>,
    /// Latency of the last result in milliseconds.
    #[schema(required)]
    pub last_latency_ms: Option<u64>,
    /// Where the last result came from.
    #[schema(required)]
    pub last_source: Option<CheckSource>,
    /// The last failure (of either kind), free of secrets.
    #[schema(required)]
    pub last_error: Option<String>,
    /// Deliveries alone.
    pub delivery: TrackHealth,
    /// Probes alone.
    pub probe: TrackHealth,
}

/// The results of one kind (deliveries or probes) for a target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TrackHealth {
    /// Results seen.
    pub total: u64,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// When the last one came in.
    #[schema(required)]
    pub last_at: Option<DateTime<Utc>>,
    /// Whether the last one succeeded.
    #[schema(required)]
    pub last_ok: Option<bool>,
    /// Its latency in milliseconds.
    #[schema(required)]
    pub last_latency_ms: Option<u64>,
    /// The last failure, free of secrets.
    #[schema(required)]
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
struct Track {
    total: u64,
    consecutive_failures: u32,
    last_at: Option<DateTime<Utc>>,
    last_ok: Option<bool>,
    last_latency: Option<Duration>,
    last_error: Option<String>,
}

impl Track {
    fn record(&mut self, ok: bool, latency: Duration, error: Option<String>, at: DateTime<Utc>) {
        self.total += 1;
        self.consecutive_failures = if ok { 0 } else { self.consecutive_failures + 1 };
        self.last_at = Some(at);
        self.last_ok = Some(ok);
        self.last_latency = Some(latency);
        if !ok {
            self.last_error = error;
        }
    }

    fn view(&self) -> TrackHealth {
        TrackHealth {
            total: self.total,
            consecutive_failures: self.consecutive_failures,
            last_at: self.last_at,
            last_ok: self.last_ok,
            last_latency_ms: self.last_latency.map(|l| l.as_millis() as u64),
            last_error: self.last_error.clone(),
        }
    }
}

#[derive(Debug, Default)]
struct Entry {
    /// Delivery outcomes in the window (the success rate).
    window: VecDeque<bool>,
    delivery: Track,
    probe: Track,
    last_source: Option<CheckSource>,
}

impl Entry {
    /// Probes speak for the target when they are newer than its last delivery result.
    fn probes_newer(&self) -> bool {
        self.probe.last_at.is_some() && self.probe.last_at > self.delivery.last_at
    }

    /// The failures in a row that set the status.
    fn failures(&self) -> u32 {
        if self.delivery.consecutive_failures > 0 {
            self.delivery.consecutive_failures
        } else if self.probes_newer() {
            self.probe.consecutive_failures
        } else {
            0
        }
    }

    /// The latency of the result that speaks for the target.
    fn latency(&self) -> Option<Duration> {
        if self.probes_newer() {
            self.probe.last_latency
        } else {
            self.delivery.last_latency
        }
    }

    fn last(&self) -> Option<&Track> {
        match self.last_source? {
            CheckSource::Delivery => Some(&self.delivery),
            CheckSource::Probe => Some(&self.probe),
        }
    }
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

    /// Records one result and returns the target's status after it (a probe recorded this
    /// way does not exercise the delivery path; see [`HealthBook::record_probe`]).
    pub fn record(
        &self,
        target: &str,
        success: bool,
        latency: Duration,
        error: Option<String>,
        source: CheckSource,
        at: DateTime<Utc>,
    ) -> HealthStatus {
        self.update(target, |e| {
            match source {
                CheckSource::Delivery => {
                    e.window.push_back(success);
                    while e.window.len() > self.config.window.max(1) {
                        e.window.pop_front();
                    }
                    e.delivery.record(success, latency, error, at);
                }
                CheckSource::Probe => e.probe.record(success, latency, error, at),
            }
            e.last_source = Some(source);
        })
    }

    /// Records a probe's result. A passing probe that exercises the delivery path clears the
    /// delivery failures of a target idle for `idle_after`; any other probe leaves them.
    pub fn record_probe(
        &self,
        target: &str,
        ok: bool,
        latency: Duration,
        error: Option<String>,
        exercises_delivery_path: bool,
        at: DateTime<Utc>,
    ) -> HealthStatus {
        let idle_after = chrono::Duration::from_std(self.config.idle_after).unwrap_or_default();
        self.update(target, |e| {
            e.probe.record(ok, latency, error, at);
            e.last_source = Some(CheckSource::Probe);
            let idle = e
                .delivery
                .last_at
                .is_none_or(|last| at - last >= idle_after);
            if ok && exercises_delivery_path && idle {
                e.delivery.consecutive_failures = 0;
            }
        })
    }

    fn update(&self, target: &str, change: impl FnOnce(&mut Entry)) -> HealthStatus {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let e = entries.entry(target.to_owned()).or_default();
        change(e);
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
            .set(f64::from(e.failures()));
        if !e.window.is_empty() {
            let ok = e.window.iter().filter(|s| **s).count();
            metrics::gauge!(crate::metrics::TARGET_SUCCESS_RATE, "target_name" => name)
                .set(100.0 * ok as f64 / e.window.len() as f64);
        }
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
        let failures = e.failures();
        if e.last_source.is_none() {
            HealthStatus::Unknown
        } else if failures >= self.config.unhealthy_after.max(1) {
            HealthStatus::Unhealthy
        } else if failures > 0
            || e.latency()
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
        let last = e.last();
        TargetHealth {
            target: target.to_owned(),
            status: self.status_of(e),
            consecutive_failures: e.failures(),
            success_rate: (!e.window.is_empty()).then(|| successes as f64 / e.window.len() as f64),
            checks_in_window: e.window.len(),
            total_checks: e.delivery.total + e.probe.total,
            last_check: last.and_then(|t| t.last_at),
            last_latency_ms: last
                .and_then(|t| t.last_latency)
                .map(|l| l.as_millis() as u64),
            last_source: e.last_source,
            // The newer track's failure first.
            last_error: if e.probes_newer() {
                [&e.probe, &e.delivery]
            } else {
                [&e.delivery, &e.probe]
            }
            .iter()
            .find_map(|t| t.last_error.clone()),
            delivery: e.delivery.view(),
            probe: e.probe.view(),
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
    fn passing_probes_never_clear_failing_deliveries() {
        let book = HealthBook::new(HealthConfig::default());
        let t0 = Utc::now();
        let ms = Duration::from_millis(5);
        for i in 0..3 {
            book.record(
                "t",
                false,
                ms,
                Some("HTTP 500".into()),
                CheckSource::Delivery,
                t0 + chrono::Duration::seconds(i),
            );
        }
        assert_eq!(book.status("t"), HealthStatus::Unhealthy);
        // A TCP-connect probe passes, again and again, long after: still unhealthy.
        for i in 0..5 {
            let at = t0 + chrono::Duration::minutes(10 + i);
            assert_eq!(
                book.record("t", true, ms, None, CheckSource::Probe, at),
                HealthStatus::Unhealthy
            );
            assert_eq!(
                book.record_probe("t", true, ms, None, false, at),
                HealthStatus::Unhealthy
            );
        }
        let h = book.get("t");
        assert_eq!(h.consecutive_failures, 3);
        assert_eq!(h.success_rate, Some(0.0), "deliveries only");
        assert_eq!(h.checks_in_window, 3);
        assert_eq!((h.delivery.total, h.probe.total), (3, 10));
        assert_eq!(h.probe.last_ok, Some(true));
        assert_eq!(h.last_error.as_deref(), Some("HTTP 500"));
        // A delivery that succeeds makes it healthy.
        let at = t0 + chrono::Duration::minutes(30);
        assert_eq!(
            book.record("t", true, ms, None, CheckSource::Delivery, at),
            HealthStatus::Healthy
        );
        assert_eq!(book.get("t").success_rate, Some(0.25));
    }

    #[test]
    fn a_probe_of_the_delivery_path_clears_failures_only_when_idle() {
        let book = HealthBook::new(HealthConfig::default());
        let t0 = Utc::now();
        let ms = Duration::from_millis(5);
        for _ in 0..3 {
            book.record(
                "t",
                false,
                ms,
                Some("HTTP 500".into()),
                CheckSource::Delivery,
                t0,
            );
        }
        // Deliveries failed a minute ago: the target is not idle, the probe is not enough.
        let soon = t0 + chrono::Duration::minutes(1);
        assert_eq!(
            book.record_probe("t", true, ms, None, true, soon),
            HealthStatus::Unhealthy
        );
        // Idle for longer than idle_after (5 min): an authenticated API probe that passes speaks.
        let later = t0 + chrono::Duration::minutes(6);
        assert_eq!(
            book.record_probe("t", true, ms, None, true, later),
            HealthStatus::Healthy
        );
        assert_eq!(book.get("t").delivery.consecutive_failures, 0);
    }

    #[test]
    fn probes_newer_than_the_last_delivery_speak_for_an_idle_target() {
        let book = HealthBook::new(HealthConfig::default());
        let t0 = Utc::now();
        let ms = Duration::from_millis(5);
        book.record("t", true, ms, None, CheckSource::Delivery, t0);
        for i in 1..=3 {
            book.record_probe(
                "t",
                false,
                ms,
                Some("connection refused".into()),
                false,
                t0 + chrono::Duration::minutes(i),
            );
        }
        let h = book.get("t");
        assert_eq!(
            (h.status, h.consecutive_failures),
            (HealthStatus::Unhealthy, 3)
        );
        assert_eq!(
            h.success_rate,
            Some(1.0),
            "probes do not count in the success rate"
        );
        // The next delivery decides.
        book.record(
            "t",
            true,
            ms,
            None,
            CheckSource::Delivery,
            t0 + chrono::Duration::minutes(4),
        );
        assert_eq!(book.status("t"), HealthStatus::Healthy);
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
                CheckSource::Delivery,
                Utc::now(),
            );
        }
        let h = book.get("t");
        assert_eq!(h.checks_in_window, 10);
        assert_eq!(h.success_rate, Some(0.5));
    }
}
