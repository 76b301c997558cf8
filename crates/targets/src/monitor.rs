//! Active health checks: every `interval`, each target's side-effect-free
//! [`Publisher::probe`](publish::Publisher::probe) runs (at most `concurrency` at once, each
//! within `timeout`), and the result goes into the [`HealthBook`] next to the passive results
//! of real deliveries.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use futures::StreamExt;
use publish::Publisher;
use tokio_util::sync::CancellationToken;

use crate::{CheckSource, HealthBook, TargetHealth};

/// Probe settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorConfig {
    /// Time between rounds of probes.
    pub interval: Duration,
    /// Longest a probe may take; a slower one is a failure.
    pub timeout: Duration,
    /// Probes running at once.
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
    metrics::counter!("alert_history_publishing_health_checks_total", "target" => name.to_owned(), "result" => if ok { "success" } else { "failure" }).increment(1);
    metrics::histogram!("alert_history_publishing_health_check_duration_seconds", "target" => name.to_owned()).record(latency.as_secs_f64());
    book.record(name, ok, latency, error, CheckSource::Probe, Utc::now());
    book.get(name)
}

/// Probes every target returned by `targets` each interval until `shutdown`.
pub async fn run<F>(book: Arc<HealthBook>, config: MonitorConfig, targets: F, shutdown: CancellationToken)
where
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
