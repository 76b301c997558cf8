//! Layer 1 of the publishing metrics system: **collect**.
//!
//! A [`Collector`] reads the cached state of one subsystem (queue counts refreshed in the
//! background, the health book, circuit breakers, the in-memory [`Tap`] of the service's own
//! counters) and turns it into [`Sample`]s. [`collect_all`] runs every collector concurrently
//! under a deadline and returns one [`MetricsSnapshot`]; a collector that fails or misses the
//! deadline is reported in [`MetricsSnapshot::errors`] and does not fail the rest.
//!
//! **Invariant:** collectors never touch the database or the network on the call path; they
//! read state other parts of the service keep current. **API boundary:** knows the queue and
//! targets types it reads, nothing of HTTP; reads other crates' metric families only through
//! their constants (`queue::metrics`, `publish::metrics`) and knows no vendor: the vendor
//! counter families come from [`TargetList::vendor_counters`].

mod collectors;
pub mod metrics;
mod snapshot;
mod tap;

use std::{sync::Arc, time::Duration};

/// Re-exported from [`crate::metrics`] for callers that name them at the crate root.
pub use crate::metrics::{COLLECTION_DURATION, COLLECTION_ERRORS};
pub use collectors::{
    BreakerCollector, DeliveryCollector, DiscoveryCollector, HealthCollector, ParallelCollector,
    PublisherCollector, QueueCache, QueueCollector, RefreshCollector, RefreshSource, RefreshState,
    TargetInfo, TargetList, VendorCounters,
};
pub use snapshot::{MetricsSnapshot, Sample, metric_key};
pub use tap::{BUCKETS, Labels, Tap, TapHistogram, TapRecorder, label};

/// Why one collector produced nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectError {
    /// The state it reads is not available (yet).
    #[error("{0}")]
    Unavailable(String),
    /// It missed the deadline.
    #[error("deadline of {0:?} exceeded")]
    Deadline(Duration),
}

/// One subsystem's metrics.
#[async_trait::async_trait]
pub trait Collector: Send + Sync + std::fmt::Debug {
    /// A short stable name (`queue`, `health`, …), used in errors.
    fn name(&self) -> &'static str;
    /// Appends this subsystem's samples to `out`.
    async fn collect(&self, out: &mut Vec<Sample>) -> Result<(), CollectError>;
}

/// Runs every collector concurrently; each has `deadline` to finish. Records
/// [`COLLECTION_DURATION`] and [`COLLECTION_ERRORS`].
pub async fn collect_all(collectors: &[Arc<dyn Collector>], deadline: Duration) -> MetricsSnapshot {
    let started = std::time::Instant::now();
    let timestamp = chrono::Utc::now();
    let runs = collectors.iter().map(|c| async move {
        let mut out = Vec::new();
        let result = match tokio::time::timeout(deadline, c.collect(&mut out)).await {
            Ok(r) => r,
            Err(_) => Err(CollectError::Deadline(deadline)),
        };
        (c.name(), out, result)
    });
    let results = futures::future::join_all(runs).await;
    let mut snapshot = MetricsSnapshot {
        timestamp,
        collector_count: collectors.len(),
        ..Default::default()
    };
    for (name, out, result) in results {
        match result {
            Ok(()) => snapshot.samples.extend(out),
            Err(e) => {
                ::metrics::counter!(COLLECTION_ERRORS, "collector" => name).increment(1);
                snapshot.errors.insert(name.to_owned(), e.to_string());
            }
        }
    }
    let elapsed = started.elapsed();
    snapshot.collection_duration_ms = elapsed.as_secs_f64() * 1000.0;
    ::metrics::histogram!(COLLECTION_DURATION).record(elapsed.as_secs_f64());
    snapshot
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fixed(&'static str, f64);
    #[async_trait::async_trait]
    impl Collector for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        async fn collect(&self, out: &mut Vec<Sample>) -> Result<(), CollectError> {
            out.push(Sample::new(self.0, self.1));
            Ok(())
        }
    }

    #[derive(Debug)]
    struct Slow;
    #[async_trait::async_trait]
    impl Collector for Slow {
        fn name(&self) -> &'static str {
            "slow"
        }
        async fn collect(&self, out: &mut Vec<Sample>) -> Result<(), CollectError> {
            out.push(Sample::new("slow_partial", 1.0));
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
    }

    #[derive(Debug)]
    struct Failing;
    #[async_trait::async_trait]
    impl Collector for Failing {
        fn name(&self) -> &'static str {
            "failing"
        }
        async fn collect(&self, _: &mut Vec<Sample>) -> Result<(), CollectError> {
            Err(CollectError::Unavailable(
                "queue stats not loaded yet".into(),
            ))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn slow_and_failing_collectors_do_not_fail_the_rest() {
        let collectors: Vec<Arc<dyn Collector>> = vec![
            Arc::new(Fixed("a", 1.0)),
            Arc::new(Slow),
            Arc::new(Failing),
            Arc::new(Fixed("b", 2.0)),
        ];
        let snap = collect_all(&collectors, Duration::from_millis(100)).await;
        assert_eq!(snap.collector_count, 4);
        assert_eq!(snap.value("a", &[]), Some(1.0));
        assert_eq!(snap.value("b", &[]), Some(2.0));
        assert_eq!(
            snap.value("slow_partial", &[]),
            None,
            "partial output dropped"
        );
        assert_eq!(
            snap.errors.get("slow").map(String::as_str),
            Some("deadline of 100ms exceeded")
        );
        assert_eq!(
            snap.errors.get("failing").map(String::as_str),
            Some("queue stats not loaded yet")
        );
    }
}
