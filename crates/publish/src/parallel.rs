//! Parallel fan-out of one alert to many publishers, with per-target results.
//!
//! Used by the parallel publishing endpoints and target tests: it is synchronous (the caller
//! waits for every target or the deadline) and never retries; queued deliveries go through the
//! delivery engine instead.

use std::{future::Future, sync::Arc, time::Duration};

use futures::{StreamExt, stream::FuturesUnordered};
use serde::{Deserialize, Serialize};
use tokio::{sync::Semaphore, time::Instant};

use crate::{Delivery, Publisher};

/// What is known of a target's health when the fan-out starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// No data yet (treated as healthy).
    Unknown,
    /// Working.
    Healthy,
    /// Slow or failing now and then.
    Degraded,
    /// Failing.
    Unhealthy,
}

/// Which targets a fan-out skips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Skip unhealthy targets (the default).
    #[default]
    SkipUnhealthy,
    /// Publish to every target whatever its health.
    PublishToAll,
    /// Skip unhealthy and degraded targets.
    SkipUnhealthyAndDegraded,
}

impl Strategy {
    fn skips(self, health: Health) -> bool {
        match self {
            Strategy::PublishToAll => false,
            Strategy::SkipUnhealthy => health == Health::Unhealthy,
            Strategy::SkipUnhealthyAndDegraded => {
                matches!(health, Health::Unhealthy | Health::Degraded)
            }
        }
    }
}

/// One target of a fan-out.
#[derive(Debug, Clone)]
pub struct FanoutTarget {
    /// Target name.
    pub name: String,
    /// Its type (`webhook`, `slack`, …).
    pub target_type: String,
    /// Its publisher.
    pub publisher: Arc<dyn Publisher>,
    /// Its health now.
    pub health: Health,
    /// Whether the delivery engine's circuit breaker for it is open now.
    pub circuit_open: bool,
}

/// Fan-out settings.
#[derive(Debug, Clone)]
pub struct ParallelOptions {
    /// Which targets to skip.
    pub strategy: Strategy,
    /// Longest time one target may take.
    pub per_target_timeout: Duration,
    /// Longest time the whole fan-out may take.
    pub overall_timeout: Duration,
    /// Targets published to at once.
    pub concurrency: usize,
    /// Skip targets whose circuit breaker is open (`skip_reason: circuit_open`).
    pub respect_circuit_breakers: bool,
    /// Publish through a pool of `concurrency` workers that start a target's delivery only
    /// when a worker is free, instead of starting every delivery at once and letting
    /// `concurrency` of them proceed.
    pub worker_pool: bool,
}

impl Default for ParallelOptions {
    fn default() -> Self {
        Self {
            strategy: Strategy::default(),
            per_target_timeout: Duration::from_secs(10),
            overall_timeout: Duration::from_secs(30),
            concurrency: 16,
            respect_circuit_breakers: true,
            worker_pool: false,
        }
    }
}

/// How one target fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetOutcome {
    /// Delivered.
    Delivered,
    /// The target refused or could not be reached.
    Failed,
    /// Skipped by the strategy.
    Skipped,
    /// No answer within the per-target timeout or the overall deadline.
    Timeout,
}

impl TargetOutcome {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetOutcome::Delivered => "delivered",
            TargetOutcome::Failed => "failed",
            TargetOutcome::Skipped => "skipped",
            TargetOutcome::Timeout => "timeout",
        }
    }
}

/// The result for one target.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TargetResult {
    /// Target name.
    pub target: String,
    /// Target type.
    pub target_type: String,
    /// Outcome.
    pub outcome: TargetOutcome,
    /// Health when the fan-out started.
    pub health: Health,
    /// HTTP status the target answered.
    #[schema(required)]
    pub status_code: Option<u16>,
    /// How long it took.
    pub latency_ms: u64,
    /// Failure kind.
    #[schema(required)]
    pub error_kind: Option<String>,
    /// Failure reason (free of secrets).
    #[schema(required)]
    pub error: Option<String>,
    /// Whether a retry could help.
    #[schema(required)]
    pub retryable: Option<bool>,
    /// Why the target was skipped: `unhealthy`, `degraded` or `circuit_open`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
}

/// Per-target results of a fan-out that reached at least one target.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ParallelReport {
    /// One entry per target, in the order given.
    pub results: Vec<TargetResult>,
    /// Delivered count.
    pub succeeded: usize,
    /// Failed or timed-out count.
    pub failed: usize,
    /// Skipped count.
    pub skipped: usize,
    /// Whole fan-out duration.
    pub duration_ms: u64,
    /// True when every attempted target delivered; false for a partial success.
    pub complete: bool,
}

/// Why a fan-out did not succeed anywhere.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParallelError {
    /// The request itself is wrong.
    #[error("invalid request: {0}")]
    InvalidInput(String),
    /// No target to publish to.
    #[error("no enabled targets")]
    NoEnabledTargets,
    /// The strategy skipped every target.
    #[error("no healthy targets: the strategy skipped all {0} targets")]
    NoHealthyTargets(usize),
    /// Every attempted target failed.
    #[error("all {} attempted targets failed", .0.failed)]
    AllFailed(ParallelReport),
    /// The overall deadline passed before any target succeeded.
    #[error("timed out after {0:?} before any target succeeded")]
    Timeout(Duration, ParallelReport),
    /// Cancelled (shutdown or the caller went away).
    #[error("cancelled")]
    Cancelled,
}

/// Holds one count of [`crate::metrics::PARALLEL_GOROUTINES`] while a target's delivery runs.
struct InFlight;

impl InFlight {
    fn enter() -> Self {
        metrics::gauge!(crate::metrics::PARALLEL_GOROUTINES).increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!(crate::metrics::PARALLEL_GOROUTINES).decrement(1.0);
    }
}

/// Publishes `delivery` to every target (per the strategy) at once, at most
/// `options.concurrency` in flight, and reports each result. Success means at least one
/// target delivered.
pub async fn publish_parallel(
    targets: Vec<FanoutTarget>,
    delivery: &Delivery,
    options: &ParallelOptions,
    cancel: impl Future<Output = ()>,
) -> Result<ParallelReport, ParallelError> {
    if options.concurrency == 0 {
        return Err(ParallelError::InvalidInput(
            "concurrency must be at least 1".to_owned(),
        ));
    }
    if options.per_target_timeout.is_zero() || options.overall_timeout.is_zero() {
        return Err(ParallelError::InvalidInput(
            "timeouts must be greater than zero".to_owned(),
        ));
    }
    if targets.is_empty() {
        return Err(ParallelError::NoEnabledTargets);
    }
    let started = Instant::now();
    let deadline = started + options.overall_timeout;
    let total = targets.len();
    let mut results: Vec<Option<TargetResult>> = vec![None; total];
    let mut attempted = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let reason = if options.strategy.skips(t.health) {
            Some(format!("{:?}", t.health).to_lowercase())
        } else if options.respect_circuit_breakers && t.circuit_open {
            Some("circuit_open".to_owned())
        } else {
            None
        };
        match reason {
            Some(reason) => {
                results[i] = Some(TargetResult {
                    target: t.name.clone(),
                    target_type: t.target_type.clone(),
                    outcome: TargetOutcome::Skipped,
                    health: t.health,
                    status_code: None,
                    latency_ms: 0,
                    error_kind: None,
                    error: Some(format!("skipped: {}", reason.replace('_', " "))),
                    retryable: None,
                    skip_reason: Some(reason),
                });
            }
            None => attempted.push(i),
        }
    }
    if attempted.is_empty() {
        return Err(ParallelError::NoHealthyTargets(total));
    }
    let semaphore = Arc::new(Semaphore::new(options.concurrency));
    let per_target = options.per_target_timeout;
    let deliver = |i: usize| {
        let target = targets[i].clone();
        let semaphore = semaphore.clone();
        async move {
            let _permit = semaphore.acquire_owned().await;
            let _in_flight = InFlight::enter();
            let t0 = Instant::now();
            let outcome =
                tokio::time::timeout(per_target, target.publisher.publish(delivery)).await;
            (i, target, outcome, t0.elapsed())
        }
    };
    // A pool starts at most `concurrency` deliveries at a time; otherwise every delivery is
    // started and the semaphore lets `concurrency` of them proceed.
    let mut running: std::pin::Pin<Box<dyn futures::Stream<Item = _> + Send + '_>> =
        if options.worker_pool {
            Box::pin(
                futures::stream::iter(attempted.clone())
                    .map(deliver)
                    .buffer_unordered(options.concurrency),
            )
        } else {
            Box::pin(
                attempted
                    .iter()
                    .map(|&i| deliver(i))
                    .collect::<FuturesUnordered<_>>(),
            )
        };
    tokio::pin!(cancel);
    let sleep = tokio::time::sleep_until(deadline);
    tokio::pin!(sleep);
    let mut timed_out = false;
    loop {
        tokio::select! {
            () = &mut cancel => return Err(ParallelError::Cancelled),
            () = &mut sleep => { timed_out = true; break; }
            next = running.next() => {
                let Some((i, target, outcome, latency)) = next else { break };
                let latency_ms = latency.as_millis() as u64;
                let result = match outcome {
                    Ok(Ok(d)) => TargetResult { target: target.name, target_type: target.target_type, outcome: TargetOutcome::Delivered, health: target.health, status_code: d.status_code, latency_ms, error_kind: None, error: None, retryable: None, skip_reason: None },
                    Ok(Err(e)) => TargetResult { target: target.name, target_type: target.target_type, outcome: TargetOutcome::Failed, health: target.health, status_code: e.status_code(), latency_ms, error_kind: Some(e.kind().as_str().to_owned()), error: Some(e.reason().to_owned()), retryable: Some(e.is_retryable()), skip_reason: None },
                    Err(_) => TargetResult { target: target.name, target_type: target.target_type, outcome: TargetOutcome::Timeout, health: target.health, status_code: None, latency_ms, error_kind: Some("timeout".to_owned()), error: Some(format!("no answer within {:?}", options.per_target_timeout)), retryable: Some(true), skip_reason: None },
                };
                results[i] = Some(result);
            }
        }
    }
    drop(running);
    let results: Vec<TargetResult> = results
        .into_iter()
        .zip(targets.iter())
        .map(|(r, t)| {
            r.unwrap_or_else(|| TargetResult {
                target: t.name.clone(),
                target_type: t.target_type.clone(),
                skip_reason: None,
                outcome: TargetOutcome::Timeout,
                health: t.health,
                status_code: None,
                latency_ms: options.overall_timeout.as_millis() as u64,
                error_kind: Some("timeout".to_owned()),
                error: Some(format!(
                    "overall deadline of {:?} passed",
                    options.overall_timeout
                )),
                retryable: Some(true),
            })
        })
        .collect();
    let count = |o: TargetOutcome| results.iter().filter(|r| r.outcome == o).count();
    let succeeded = count(TargetOutcome::Delivered);
    let skipped = count(TargetOutcome::Skipped);
    let failed = count(TargetOutcome::Failed) + count(TargetOutcome::Timeout);
    let report = ParallelReport {
        succeeded,
        failed,
        skipped,
        duration_ms: started.elapsed().as_millis() as u64,
        complete: failed == 0,
        results,
    };
    if succeeded > 0 {
        Ok(report)
    } else if timed_out {
        Err(ParallelError::Timeout(options.overall_timeout, report))
    } else {
        Err(ParallelError::AllFailed(report))
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::{
        Alert, AlertStatus, Delivered, ErrorKind, Fingerprint, GroupContext, ProbeResult,
        PublishError, PublishOutcome,
    };

    #[derive(Debug)]
    struct Fake {
        delay: Duration,
        result: Result<u16, PublishError>,
    }

    #[async_trait]
    impl Publisher for Fake {
        async fn publish(&self, _d: &Delivery) -> PublishOutcome {
            tokio::time::sleep(self.delay).await;
            self.result.clone().map(|code| Delivered {
                status_code: Some(code),
                vendor_state: None,
            })
        }
        async fn probe(&self) -> ProbeResult {
            ProbeResult {
                ok: true,
                latency: Duration::ZERO,
                detail: String::new(),
            }
        }
    }

    fn target(
        name: &str,
        health: Health,
        delay_ms: u64,
        result: Result<u16, PublishError>,
    ) -> FanoutTarget {
        FanoutTarget {
            name: name.into(),
            target_type: "webhook".into(),
            publisher: Arc::new(Fake {
                delay: Duration::from_millis(delay_ms),
                result,
            }),
            health,
            circuit_open: false,
        }
    }

    fn delivery() -> Delivery {
        let labels = [("alertname".to_owned(), "A".to_owned())]
            .into_iter()
            .collect();
        Delivery {
            id: "k".into(),
            alert: Alert {
                status: AlertStatus::Firing,
                fingerprint: Fingerprint::from_labels(&labels),
                labels,
                annotations: Default::default(),
                starts_at: chrono::Utc::now(),
                ends_at: None,
                generator_url: String::new(),
            },
            context: GroupContext::default(),
            attempt: 1,
            vendor_state: None,
            action: Default::default(),
        }
    }

    fn fail() -> Result<u16, PublishError> {
        Err(PublishError::Retryable {
            kind: ErrorKind::Server,
            reason: "HTTP 503".into(),
            status_code: Some(503),
            retry_after: None,
            vendor_state: None,
            rate_limit_key: None,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn strategies_and_partial_success() {
        let targets = || {
            vec![
                target("ok", Health::Healthy, 10, Ok(200)),
                target("slow", Health::Degraded, 10, Ok(202)),
                target("down", Health::Unhealthy, 10, fail()),
                target("new", Health::Unknown, 10, fail()),
            ]
        };
        let d = delivery();
        let run = |strategy| {
            let d = d.clone();
            let t = targets();
            async move {
                publish_parallel(
                    t,
                    &d,
                    &ParallelOptions {
                        strategy,
                        ..Default::default()
                    },
                    std::future::pending(),
                )
                .await
            }
        };
        let r = run(Strategy::SkipUnhealthy).await.unwrap();
        let outcomes: Vec<_> = r
            .results
            .iter()
            .map(|x| (x.target.as_str(), x.outcome))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("ok", TargetOutcome::Delivered),
                ("slow", TargetOutcome::Delivered),
                ("down", TargetOutcome::Skipped),
                ("new", TargetOutcome::Failed)
            ]
        );
        assert_eq!(
            (r.succeeded, r.failed, r.skipped, r.complete),
            (2, 1, 1, false)
        );
        let r = run(Strategy::PublishToAll).await.unwrap();
        assert_eq!((r.succeeded, r.failed, r.skipped), (2, 2, 0));
        assert_eq!(r.results[2].status_code, Some(503));
        assert_eq!(r.results[2].retryable, Some(true));
        let r = run(Strategy::SkipUnhealthyAndDegraded).await.unwrap();
        assert_eq!((r.succeeded, r.failed, r.skipped), (1, 1, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn distinct_errors() {
        let d = delivery();
        let opts = ParallelOptions::default();
        assert_eq!(
            publish_parallel(vec![], &d, &opts, std::future::pending()).await,
            Err(ParallelError::NoEnabledTargets)
        );
        let sick = vec![target("a", Health::Unhealthy, 1, Ok(200))];
        assert_eq!(
            publish_parallel(sick, &d, &opts, std::future::pending()).await,
            Err(ParallelError::NoHealthyTargets(1))
        );
        let failing = vec![
            target("a", Health::Healthy, 1, fail()),
            target("b", Health::Healthy, 1, fail()),
        ];
        assert!(
            matches!(publish_parallel(failing, &d, &opts, std::future::pending()).await, Err(ParallelError::AllFailed(r)) if r.failed == 2)
        );
        let bad = ParallelOptions {
            concurrency: 0,
            ..Default::default()
        };
        assert!(matches!(
            publish_parallel(
                vec![target("a", Health::Healthy, 1, Ok(200))],
                &d,
                &bad,
                std::future::pending()
            )
            .await,
            Err(ParallelError::InvalidInput(_))
        ));
        let slow = vec![target("a", Health::Healthy, 60_000, Ok(200))];
        let short = ParallelOptions {
            per_target_timeout: Duration::from_secs(120),
            overall_timeout: Duration::from_secs(1),
            ..Default::default()
        };
        match publish_parallel(slow, &d, &short, std::future::pending()).await {
            Err(ParallelError::Timeout(_, r)) => {
                assert_eq!(r.results[0].outcome, TargetOutcome::Timeout)
            }
            other => panic!("{other:?}"),
        }
        let per_target = ParallelOptions {
            per_target_timeout: Duration::from_millis(100),
            ..Default::default()
        };
        let mixed = vec![
            target("fast", Health::Healthy, 10, Ok(200)),
            target("stuck", Health::Healthy, 60_000, Ok(200)),
        ];
        let r = publish_parallel(mixed, &d, &per_target, std::future::pending())
            .await
            .unwrap();
        assert_eq!(r.results[1].outcome, TargetOutcome::Timeout);
        let cancelled = publish_parallel(
            vec![target("a", Health::Healthy, 60_000, Ok(200))],
            &d,
            &opts,
            tokio::time::sleep(Duration::from_millis(5)),
        )
        .await;
        assert_eq!(cancelled, Err(ParallelError::Cancelled));
    }

    /// Publishes to `n` targets taking 1 s each, 2 at a time; the (paused, simulated) seconds
    /// it took.
    async fn seconds_for(n: usize, worker_pool: bool) -> u64 {
        let d = delivery();
        let targets: Vec<_> = (0..n)
            .map(|i| target(&format!("t{i}"), Health::Healthy, 1000, Ok(200)))
            .collect();
        let started = Instant::now();
        let r = publish_parallel(
            targets,
            &d,
            &ParallelOptions {
                concurrency: 2,
                worker_pool,
                ..Default::default()
            },
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!(r.succeeded, n);
        started.elapsed().as_secs()
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_bounded() {
        // 6 targets, 2 at a time, 1 s each: 3 s of (paused, simulated) time.
        assert_eq!(seconds_for(6, false).await, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn worker_pool_is_bounded_too() {
        // 5 targets, 2 workers, 1 s each: 3 s.
        assert_eq!(seconds_for(5, true).await, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn open_circuits_are_skipped_unless_told_otherwise() {
        let d = delivery();
        let targets = || {
            let mut broken = target("broken", Health::Healthy, 1, Ok(200));
            broken.circuit_open = true;
            vec![target("ok", Health::Healthy, 1, Ok(200)), broken]
        };
        let r = publish_parallel(
            targets(),
            &d,
            &ParallelOptions::default(),
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!(r.results[1].outcome, TargetOutcome::Skipped);
        assert_eq!(r.results[1].skip_reason.as_deref(), Some("circuit_open"));
        assert_eq!((r.succeeded, r.skipped), (1, 1));
        let r = publish_parallel(
            targets(),
            &d,
            &ParallelOptions {
                respect_circuit_breakers: false,
                ..Default::default()
            },
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!((r.succeeded, r.skipped), (2, 0));
    }
}
