//! Publishing now, outside the queue: parallel fan-out of one alert to several targets, and
//! test deliveries through a target's real publisher. Both are real deliveries: they feed
//! passive health like queued ones do.

use std::{collections::BTreeMap, time::Duration, time::Instant};

use chrono::Utc;
use publish::{
    Alert, AlertStatus, Delivery, GroupContext,
    parallel::{FanoutTarget, Health, ParallelError, ParallelOptions, ParallelReport, Strategy},
};
use queue::Publishers;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use targets::HealthStatus;

use crate::{Error, ErrorKind, Feedback, Result, Service};

/// Which targets a parallel publish goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The targets named in the request.
    Named,
    /// Every enabled target.
    All,
    /// Every enabled target the strategy considers healthy.
    Healthy,
}

impl Selection {
    /// Its label value (the endpoint's last path segment).
    pub fn as_str(self) -> &'static str {
        match self {
            Selection::Named => "targets",
            Selection::All => "all",
            Selection::Healthy => "healthy",
        }
    }
}

/// A parallel publish.
#[derive(Debug, Clone)]
pub struct ParallelRequest {
    /// The alert.
    pub alert: Alert,
    /// Target names (only with [`Selection::Named`]).
    pub targets: Option<Vec<String>>,
    /// Which health states are skipped (default by selection).
    pub strategy: Option<Strategy>,
    /// Per-target deadline (default 10 s; the whole fan-out gets three times that, at most 60 s).
    pub timeout: Option<Duration>,
    /// Deliveries at once (default 16; with `worker_pool`, the pool's size).
    pub concurrency: Option<usize>,
    /// Skip targets whose circuit breaker is open (default true).
    pub respect_circuit_breakers: Option<bool>,
    /// Deliver through a pool of `concurrency` workers (default false).
    pub worker_pool: Option<bool>,
}

/// A parallel publish in which at least one target delivered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParallelOutcome {
    /// Always true.
    pub success: bool,
    /// The strategy applied.
    pub strategy: Strategy,
    /// One result per target.
    pub report: ParallelReport,
}

/// A test delivery's extras.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// Extra labels for the test alert.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Extra annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// `firing` (default) or `resolved`.
    #[serde(default)]
    pub status: Option<AlertStatus>,
}

/// Why a test delivery failed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestError {
    /// Error kind (`timeout`, `http_5xx`, `auth`, …).
    pub kind: String,
    /// What the target answered or what went wrong (secrets redacted).
    pub reason: String,
    /// Whether the queue would retry it.
    pub retryable: bool,
}

/// The outcome of a test delivery.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestResult {
    /// Target name.
    pub target: String,
    /// Whether the target took it.
    pub success: bool,
    /// HTTP status the target answered, if any.
    pub status_code: Option<u16>,
    /// Time to the answer.
    pub latency_ms: u64,
    /// On failure: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TestError>,
}

/// Parses one alert in the Prometheus API form (`labels`, `annotations`, `startsAt`, …).
pub fn alert_from_json(v: Value) -> Result<Alert> {
    let body = serde_json::to_vec(&Value::Array(vec![v])).unwrap_or_default();
    let mut alerts = publish::parse_api_alerts(&body, Utc::now())
        .map_err(|e| Error::invalid(format!("alert: {e}")))?;
    alerts
        .pop()
        .ok_or_else(|| Error::invalid("alert is required"))
}

impl Service {
    fn health_of(&self, name: &str) -> Health {
        match self.health.status(name) {
            HealthStatus::Unknown => Health::Unknown,
            HealthStatus::Healthy => Health::Healthy,
            HealthStatus::Degraded => Health::Degraded,
            HealthStatus::Unhealthy => Health::Unhealthy,
        }
    }

    /// Publishes one alert now to the selected targets at once.
    pub async fn publish_parallel(
        &self,
        selection: Selection,
        request: ParallelRequest,
    ) -> Result<ParallelOutcome> {
        let started = Instant::now();
        let result = self.parallel_inner(selection, request).await;
        let (label, report) = match &result {
            Ok(o) => ("success", Some(&o.report)),
            Err(e) => (parallel_code(e.error.kind), e.report.as_ref()),
        };
        publish::metrics::record_parallel_request(
            selection.as_str(),
            label,
            started.elapsed(),
            report,
        );
        result.map_err(|e| e.error)
    }

    /// Counts a parallel publish refused before it started (its body was wrong); `code` is
    /// the error's stable code.
    pub fn parallel_rejected(&self, selection: Selection, code: &'static str) {
        publish::metrics::record_parallel_request(selection.as_str(), code, Duration::ZERO, None);
    }

    /// The original's `GET /parallel/status`, computed from the targets and their health.
    pub fn parallel_status(&self) -> crate::compat::ParallelStatus {
        let mut by_state = BTreeMap::new();
        let mut total = 0;
        for spec in self.registry.specs().iter().filter(|s| s.target.enabled) {
            total += 1;
            *by_state
                .entry(format!("{:?}", self.health_of(spec.target.name.as_str())).to_lowercase())
                .or_insert(0) += 1;
        }
        let count = |k: &str| by_state.get(k).copied().unwrap_or(0);
        let unhealthy = count("unhealthy");
        let status = match (total, unhealthy) {
            (0, _) => "unknown",
            (_, 0) => "healthy",
            (t, u) if u == t => "unhealthy",
            _ => "degraded",
        };
        crate::compat::ParallelStatus {
            enabled: true,
            total_targets: total,
            healthy_count: count("healthy") + count("unknown"),
            unhealthy_count: unhealthy,
            status: status.to_owned(),
            by_state,
        }
    }

    async fn parallel_inner(
        &self,
        selection: Selection,
        r: ParallelRequest,
    ) -> std::result::Result<ParallelOutcome, Failed> {
        let names: Vec<String> = match (selection, &r.targets) {
            (Selection::Named, None) => {
                return Err(Error::invalid("targets: name at least one target").into());
            }
            (Selection::Named, Some(names)) if names.is_empty() => {
                return Err(Error::invalid("targets: name at least one target").into());
            }
            (Selection::Named, Some(names)) => self.named_targets(names)?,
            (_, Some(_)) => {
                return Err(Error::invalid(
                    "targets: only /parallel and /parallel/targets take target names",
                )
                .into());
            }
            (_, None) => self
                .registry
                .specs()
                .iter()
                .filter(|s| s.target.enabled)
                .map(|s| s.target.name.to_string())
                .collect(),
        };
        let strategy = match selection {
            Selection::Healthy => r.strategy.unwrap_or(Strategy::SkipUnhealthyAndDegraded),
            _ => r.strategy.unwrap_or(Strategy::SkipUnhealthy),
        };
        let per_target = r.timeout.unwrap_or(Duration::from_secs(10));
        let options = ParallelOptions {
            strategy,
            per_target_timeout: per_target,
            overall_timeout: per_target.saturating_mul(3).min(Duration::from_secs(60)),
            concurrency: r.concurrency.unwrap_or(16),
            respect_circuit_breakers: r.respect_circuit_breakers.unwrap_or(true),
            worker_pool: r.worker_pool.unwrap_or(false),
        };
        let specs = self.registry.specs();
        let fanout: Vec<FanoutTarget> = names
            .iter()
            .filter_map(|n| {
                let target_type = specs
                    .iter()
                    .find(|s| s.target.name.as_str() == n)
                    .map(|s| s.target.kind.as_str().to_owned())
                    .unwrap_or_default();
                self.registry.publisher(n).map(|p| FanoutTarget {
                    name: n.clone(),
                    target_type,
                    publisher: p,
                    health: self.health_of(n),
                    circuit_open: self.engine.breaker_state(n) == queue::BreakerState::Open,
                })
            })
            .collect();
        let delivery = Delivery {
            id: format!("{:032x}", fastrand::u128(..)),
            alert: r.alert,
            context: GroupContext {
                receiver: "api".to_owned(),
                ..Default::default()
            },
            attempt: 1,
            vendor_state: None,
            action: Default::default(),
        };
        let shutdown = self.shutdown.clone();
        match publish::parallel::publish_parallel(fanout, &delivery, &options, async move {
            shutdown.cancelled().await
        })
        .await
        {
            Ok(report) => {
                self.record_parallel_health(&report);
                publish::metrics::record_parallel_targets(&report);
                Ok(ParallelOutcome {
                    success: true,
                    strategy,
                    report,
                })
            }
            Err(e) => {
                let report = match &e {
                    ParallelError::AllFailed(report) | ParallelError::Timeout(_, report) => {
                        self.record_parallel_health(report);
                        publish::metrics::record_parallel_targets(report);
                        Some(report.clone())
                    }
                    _ => None,
                };
                Err(Failed {
                    error: parallel_error(e, strategy),
                    report,
                })
            }
        }
    }

    fn record_parallel_health(&self, report: &ParallelReport) {
        use publish::parallel::TargetOutcome;
        for r in &report.results {
            let (success, fault) = match r.outcome {
                TargetOutcome::Delivered => (true, false),
                TargetOutcome::Failed => (false, r.retryable == Some(true)),
                TargetOutcome::Timeout => (false, true),
                TargetOutcome::Skipped => continue,
            };
            Feedback::record_health(
                &self.health,
                &r.target,
                success,
                fault,
                Duration::from_millis(r.latency_ms),
                r.error_kind.clone(),
            );
        }
    }

    /// Delivers a test alert (`alertname=AlertPublisherTest`) through the target's publisher;
    /// the result counts as a passive health result.
    pub async fn test_target(&self, name: &str, req: TestRequest) -> Result<TestResult> {
        let publisher = self
            .registry
            .publisher(name)
            .ok_or_else(|| Error::not_found(format!("no target {name:?}")))?;
        let mut labels: BTreeMap<String, String> = [
            ("alertname", "AlertPublisherTest"),
            ("severity", "info"),
            ("alert_publisher_test", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        labels.extend(req.labels);
        let mut annotations: BTreeMap<String, String> = [(
            "summary".to_owned(),
            format!("Test alert from alert-publisher to target {name}"),
        )]
        .into_iter()
        .collect();
        annotations.extend(req.annotations);
        let status = req.status.unwrap_or(AlertStatus::Firing);
        let now = Utc::now();
        let alert = Alert {
            status,
            fingerprint: publish::Fingerprint::from_labels(&labels),
            labels: labels.into_iter().collect(),
            annotations: annotations.into_iter().collect(),
            starts_at: now,
            ends_at: (status == AlertStatus::Resolved).then_some(now),
            generator_url: String::new(),
        };
        let delivery = Delivery {
            id: format!("test-{:032x}", fastrand::u128(..)),
            alert,
            context: GroupContext {
                receiver: "alert-publisher-test".to_owned(),
                status,
                ..Default::default()
            },
            attempt: 1,
            vendor_state: None,
            action: Default::default(),
        };
        let started = Instant::now();
        let outcome = publisher.publish(&delivery).await;
        let latency = started.elapsed();
        let success = outcome.is_ok();
        self.health.record(
            name,
            success,
            latency,
            outcome.as_ref().err().map(|e| e.kind().as_str().to_owned()),
            targets::CheckSource::Delivery,
            Utc::now(),
        );
        metrics::counter!(crate::metrics::TARGET_TESTS_TOTAL, "target" => name.to_owned(), "result" => if success { "success" } else { "failure" }).increment(1);
        Ok(match &outcome {
            Ok(d) => TestResult {
                target: name.to_owned(),
                success: true,
                status_code: d.status_code,
                latency_ms: latency.as_millis() as u64,
                error: None,
            },
            Err(e) => TestResult {
                target: name.to_owned(),
                success: false,
                status_code: e.status_code(),
                latency_ms: latency.as_millis() as u64,
                error: Some(TestError {
                    kind: e.kind().as_str().to_owned(),
                    reason: e.reason().to_owned(),
                    retryable: e.is_retryable(),
                }),
            },
        })
    }

    /// Probes one target now (side-effect free) and answers its health after the probe.
    pub async fn check_target(&self, name: &str) -> Result<targets::TargetHealth> {
        let publisher = self
            .registry
            .publisher(name)
            .ok_or_else(|| Error::not_found(format!("no target {name:?}")))?;
        let timeout = self.registry.discovery().probe_timeout;
        Ok(targets::monitor::check(&self.health, name, publisher.as_ref(), timeout).await)
    }
}

/// A parallel publish that failed, with the fan-out's report when there was one.
struct Failed {
    error: Error,
    report: Option<ParallelReport>,
}

impl From<Error> for Failed {
    fn from(error: Error) -> Self {
        Self {
            error,
            report: None,
        }
    }
}

/// The stable code of a parallel failure (also its metric label).
fn parallel_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Invalid => "invalid_payload",
        ErrorKind::NotFound => "not_found",
        ErrorKind::TargetDisabled => "target_disabled",
        ErrorKind::NoEnabledTargets => "no_enabled_targets",
        ErrorKind::NoHealthyTargets => "no_healthy_targets",
        ErrorKind::AllFailed => "all_failed",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Cancelled => "cancelled",
        _ => "other",
    }
}

fn parallel_error(e: ParallelError, strategy: Strategy) -> Error {
    let message = e.to_string();
    match e {
        ParallelError::InvalidInput(_) => Error::invalid(message),
        ParallelError::NoEnabledTargets => Error::new(ErrorKind::NoEnabledTargets, message),
        ParallelError::NoHealthyTargets(_) => Error::new(
            ErrorKind::NoHealthyTargets,
            format!("{message} (strategy {strategy:?})"),
        ),
        ParallelError::AllFailed(report) => {
            Error::new(ErrorKind::AllFailed, message).with_details(json!({"report": report}))
        }
        ParallelError::Timeout(_, report) => {
            Error::new(ErrorKind::Timeout, message).with_details(json!({"report": report}))
        }
        ParallelError::Cancelled => Error::new(ErrorKind::Cancelled, message),
    }
}
