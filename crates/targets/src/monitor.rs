//! Active health checks: every `interval`, each target's side-effect-free
//! [`Publisher::probe`](publish::Publisher::probe) runs (at most `concurrency` at once, each
//! within `timeout`), and the result goes into the [`HealthBook`] next to the passive results
//! of real deliveries.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use futures::StreamExt;
use publish::Publisher;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::{
    HealthBook, TargetHealth,
    metrics::{HEALTH_CHECK_DURATION_SECONDS, HEALTH_CHECK_ERRORS_TOTAL, HEALTH_CHECKS_TOTAL},
};

/// Probe settings; `discovery.probes:` in the service configuration (unknown keys refused,
/// missing keys default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// Time between rounds of probes (default 2 min); zero turns the probes off (the caller
    /// does not start [`run`]).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub interval: Duration,
    /// Longest a probe may take; a slower one is a failure (default 5 s).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub timeout: Duration,
    /// Probes running at once (default 8).
    pub concurrency: usize,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(120),
            timeout: Duration::from_secs(5),
            concurrency: 8,
        }
    }
}

/// Probes one target now, records the result and returns the target's health after it.
pub async fn check(
    book: &HealthBook,
    name: &str,
    publisher: &dyn Publisher,
    timeout: Duration,
) -> TargetHealth {
    let started = std::time::Instant::now();
    let (ok, latency, error) = match tokio::time::timeout(timeout, publisher.probe()).await {
        Ok(r) => (r.ok, r.latency, (!r.ok).then_some(r.detail)),
        Err(_) => (
            false,
            started.elapsed(),
            Some(format!("probe timed out after {} ms", timeout.as_millis())),
        ),
    };
    let result = if ok { "success" } else { "failure" };
    metrics::counter!(HEALTH_CHECKS_TOTAL, "target" => name.to_owned(), "result" => result, "target_name" => name.to_owned(), "status" => result).increment(1);
    metrics::histogram!(HEALTH_CHECK_DURATION_SECONDS, "target" => name.to_owned(), "target_name" => name.to_owned())
        .record(latency.as_secs_f64());
    if let Some(detail) = &error {
        metrics::counter!(HEALTH_CHECK_ERRORS_TOTAL, "target_name" => name.to_owned(), "error_type" => probe_error_type(detail))
            .increment(1);
    }
    book.record_probe(
        name,
        ok,
        latency,
        error,
        publisher.probe_exercises_delivery_path(),
        Utc::now(),
    );
    book.get(name)
}

/// The original's `error_type` of a failed probe, from what the probe reported.
fn probe_error_type(detail: &str) -> &'static str {
    let d = detail.to_ascii_lowercase();
    if d.contains("timed out") || d.contains("timeout") {
        "timeout"
    } else if d.contains("dns") || d.contains("resolve") || d.contains("lookup") {
        "dns"
    } else if d.contains("tls") || d.contains("certificate") {
        "tls"
    } else if d.contains("refused") {
        "refused"
    } else if d.contains("http") || d.contains("status") {
        "http_error"
    } else {
        "unknown"
    }
}

/// Probes every target returned by `targets` each interval until `shutdown`.
pub async fn run<F>(
    book: Arc<HealthBook>,
    config: MonitorConfig,
    targets: F,
    shutdown: CancellationToken,
) where
    F: Fn() -> Vec<(String, Arc<dyn Publisher>)> + Send + 'static,
{
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(config.interval) => {}
        }
        let round = targets();
        let book = &book;
        let timeout = config.timeout;
        futures::stream::iter(round)
            .for_each_concurrent(config.concurrency.max(1), |(name, p)| async move {
                check(book, &name, p.as_ref(), timeout).await;
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use publish::{Delivery, ProbeResult, PublishOutcome};

    use super::*;
    use crate::{CheckSource, HealthConfig, HealthStatus};

    /// A target that answers probes as scripted: `Ok(delay)` succeeds after `delay`,
    /// `Err(())` fails.
    #[derive(Debug, Default)]
    struct Scripted(Mutex<Vec<Result<Duration, ()>>>);

    #[async_trait::async_trait]
    impl Publisher for Scripted {
        async fn publish(&self, _: &Delivery) -> PublishOutcome {
            unreachable!("probes only")
        }

        async fn probe(&self) -> ProbeResult {
            let next = self.0.lock().unwrap().remove(0);
            let started = std::time::Instant::now();
            match next {
                Ok(delay) => {
                    tokio::time::sleep(delay).await;
                    ProbeResult {
                        ok: true,
                        latency: started.elapsed(),
                        detail: "ok".into(),
                    }
                }
                Err(()) => ProbeResult {
                    ok: false,
                    latency: started.elapsed(),
                    detail: "HTTP 503".into(),
                },
            }
        }
    }

    #[test]
    fn config_keys_defaults_and_unknown_keys() {
        let parse = |yaml: &str| serde_yaml::from_str::<MonitorConfig>(yaml);
        let d = parse("{}").unwrap();
        assert_eq!(d, MonitorConfig::default());
        assert_eq!(
            (d.interval, d.timeout, d.concurrency),
            (Duration::from_secs(120), Duration::from_secs(5), 8)
        );
        let c = parse("interval: 0s\ntimeout: 1s\nconcurrency: 2\n").unwrap();
        assert_eq!(
            (c.interval, c.timeout, c.concurrency),
            (Duration::ZERO, Duration::from_secs(1), 2)
        );
        let e = parse("intervall: 1s\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `intervall`"), "{e}");
    }

    #[tokio::test]
    async fn every_transition_with_a_slow_failing_recovering_target() {
        let book = HealthBook::new(HealthConfig {
            degraded_latency: Duration::from_millis(100),
            ..Default::default()
        });
        let fast = Ok(Duration::ZERO);
        let slow = Ok(Duration::from_millis(150));
        let script = vec![
            fast,
            slow,
            fast,
            Err(()),
            Err(()),
            Err(()),
            Err(()),
            fast,
            Err(()),
            fast,
            // a probe that hangs past the timeout is a failure
            Ok(Duration::from_secs(10)),
            Ok(Duration::from_secs(10)),
            Ok(Duration::from_secs(10)),
            fast,
        ];
        let target = Scripted(Mutex::new(script));
        assert_eq!(book.get("t").status, HealthStatus::Unknown);
        let timeout = Duration::from_millis(300);
        let expected = [
            (HealthStatus::Healthy, 0, "unknown -> healthy"),
            (HealthStatus::Degraded, 0, "healthy -> degraded (slow)"),
            (HealthStatus::Healthy, 0, "degraded -> healthy"),
            (HealthStatus::Degraded, 1, "healthy -> degraded (1 failure)"),
            (HealthStatus::Degraded, 2, "degraded (2 failures)"),
            (
                HealthStatus::Unhealthy,
                3,
                "degraded -> unhealthy (3 failures)",
            ),
            (HealthStatus::Unhealthy, 4, "stays unhealthy"),
            (HealthStatus::Healthy, 0, "unhealthy -> healthy (recovered)"),
            (HealthStatus::Degraded, 1, "fails again"),
            (HealthStatus::Healthy, 0, "degraded -> healthy"),
            (HealthStatus::Degraded, 1, "timeout 1"),
            (HealthStatus::Degraded, 2, "timeout 2"),
            (HealthStatus::Unhealthy, 3, "timeout 3"),
            (HealthStatus::Healthy, 0, "recovered"),
        ];
        for (status, failures, step) in expected {
            let h = check(&book, "t", &target, timeout).await;
            assert_eq!(
                (h.status, h.consecutive_failures),
                (status, failures),
                "{step}"
            );
            assert_eq!(h.last_source, Some(CheckSource::Probe));
            assert!(h.last_check.is_some() && h.last_latency_ms.is_some());
        }
        let h = book.get("t");
        assert_eq!(h.total_checks, 14);
        assert_eq!(h.probe.total, 14);
        assert_eq!(
            h.success_rate, None,
            "the success rate counts deliveries only"
        );
        assert!(h.last_error.unwrap().contains("timed out"));
    }

    #[tokio::test]
    async fn run_probes_every_target_each_interval() {
        let book = Arc::new(HealthBook::new(HealthConfig::default()));
        let a: Arc<dyn Publisher> = Arc::new(Scripted(Mutex::new(vec![Ok(Duration::ZERO); 100])));
        let b: Arc<dyn Publisher> = Arc::new(Scripted(Mutex::new(vec![Err(()); 100])));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(
            book.clone(),
            MonitorConfig {
                interval: Duration::from_millis(20),
                timeout: Duration::from_secs(1),
                concurrency: 2,
            },
            move || vec![("a".to_owned(), a.clone()), ("b".to_owned(), b.clone())],
            shutdown.clone(),
        ));
        tokio::time::timeout(Duration::from_secs(5), async {
            while book.get("b").consecutive_failures < 3 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
        assert_eq!(book.status("a"), HealthStatus::Healthy);
        assert_eq!(book.status("b"), HealthStatus::Unhealthy);
        shutdown.cancel();
        task.await.unwrap();
    }
}
