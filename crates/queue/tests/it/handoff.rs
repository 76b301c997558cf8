//! The engine's hand-off buffer: fresh jobs go from enqueue to a worker without a claim, a job
//! that waited in memory too long is delivered through the store instead, never twice, and a
//! backlog larger than the buffer drains through claims that read ahead into it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use chrono::Utc;
use publish::{
    Alert, AlertStatus, Delivered, Delivery, Fingerprint, GroupContext, Labels, ProbeResult,
    PublishOutcome, Publisher,
};
use queue::{Engine, EngineConfig, JobStore, NewJob, SqlStore, StoreOptions};

/// A target that takes its time and counts what it received, by alert name.
#[derive(Debug, Default)]
struct Slow {
    delay: Duration,
    seen: Mutex<HashMap<String, usize>>,
    attempts: Mutex<Vec<u32>>,
    order: Mutex<Vec<String>>,
}

#[async_trait]
impl Publisher for Slow {
    async fn publish(&self, d: &Delivery) -> PublishOutcome {
        tokio::time::sleep(self.delay).await;
        *self
            .seen
            .lock()
            .unwrap()
            .entry(d.alert.name().to_owned())
            .or_default() += 1;
        self.attempts.lock().unwrap().push(d.attempt);
        self.order.lock().unwrap().push(d.alert.name().to_owned());
        Ok(Delivered {
            status_code: Some(200),
            vendor_state: None,
        })
    }

    async fn probe(&self) -> ProbeResult {
        crate::healthy()
    }
}

impl Slow {
    /// `n` distinct alerts arrived, each once.
    fn assert_each_once(&self, n: usize) {
        let seen = self.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), n, "{seen:?}");
        assert!(
            seen.values().all(|&c| c == 1),
            "each delivered once: {seen:?}"
        );
    }
}

fn job(name: &str) -> NewJob {
    job_with(name, "warning")
}

fn job_with(name: &str, severity: &str) -> NewJob {
    let labels: Labels = [
        ("alertname".to_owned(), name.to_owned()),
        ("severity".to_owned(), severity.to_owned()),
    ]
    .into_iter()
    .collect();
    NewJob::new(
        "t",
        Alert {
            status: AlertStatus::Firing,
            fingerprint: Fingerprint::from_labels(&labels),
            labels,
            annotations: Labels::new(),
            starts_at: Utc::now(),
            ends_at: None,
            generator_url: String::new(),
        },
        GroupContext::default(),
        Duration::from_secs(3600),
    )
}

async fn store(dir: &tempfile::TempDir) -> Arc<dyn JobStore> {
    Arc::new(
        SqlStore::open_sqlite(&dir.path().join("jobs.db"), StoreOptions::default())
            .await
            .unwrap(),
    )
}

async fn drained(store: &Arc<dyn JobStore>, within: Duration) -> queue::QueueStats {
    let deadline = std::time::Instant::now() + within;
    loop {
        let s = store.stats().await.unwrap();
        if s.pending == 0 && s.in_flight == 0 {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "not drained: {s:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An engine over `store` delivering to a target that takes `delay` per delivery, started
/// and given time to attach its buffer.
async fn running(
    store: &Arc<dyn JobStore>,
    delay: Duration,
    config: EngineConfig,
) -> (Arc<Slow>, tokio::task::JoinHandle<()>) {
    let target = Arc::new(Slow {
        delay,
        ..Default::default()
    });
    let engine = tokio::spawn(
        Engine::new(
            store.clone(),
            Arc::new(crate::One(target.clone(), Arc::default())),
            config,
        )
        .run(std::future::pending()),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    (target, engine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_jobs_are_delivered_without_a_claim() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let (target, engine) = running(
        &store,
        Duration::from_millis(300),
        EngineConfig {
            concurrency: 4,
            poll_interval: Duration::from_millis(50),
            ..Default::default()
        },
    )
    .await;
    let names: Vec<String> = (0..6).map(|i| format!("A{i}")).collect();
    store
        .enqueue(names.iter().map(|n| job(n)).collect(), Utc::now())
        .await
        .unwrap();
    // Stored claimed at once: nothing waits pending for a claim, although only four workers run.
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.pending, stats.in_flight), (0, 6), "{stats:?}");
    let stats = drained(&store, Duration::from_secs(10)).await;
    assert_eq!(stats.done, 6);
    target.assert_each_once(6);
    assert!(target.attempts.lock().unwrap().iter().all(|&a| a == 1));
    engine.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_waited_past_half_its_lease_goes_through_the_store_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    // One worker, 300 ms per delivery, a 400 ms lease: the second and third jobs wait in memory
    // longer than half the lease; they are handed back to the store (no attempt counted) and
    // claimed from it — delivered once each, each at its first attempt.
    let (target, engine) = running(
        &store,
        Duration::from_millis(300),
        EngineConfig {
            concurrency: 1,
            batch: 1,
            lease: Duration::from_millis(400),
            poll_interval: Duration::from_millis(50),
            ..Default::default()
        },
    )
    .await;
    store
        .enqueue(vec![job("A"), job("B"), job("C")], Utc::now())
        .await
        .unwrap();
    let stats = drained(&store, Duration::from_secs(15)).await;
    assert_eq!(stats.done, 3, "{stats:?}");
    target.assert_each_once(3);
    let attempts = target.attempts.lock().unwrap().clone();
    assert_eq!(
        attempts,
        [1, 1, 1],
        "waiting in memory is not an attempt: {attempts:?}"
    );
    let jobs = store
        .list(&queue::JobFilter {
            limit: Some(10),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        jobs.iter().all(|j| j.attempts == 1),
        "the store counts one attempt each: {jobs:?}"
    );
    engine.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_larger_than_the_buffer_drains_once_in_priority_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    // Room for 8 in memory: of 200 warnings, 8 are handed off at enqueue and the rest wait in
    // the store, claimed ahead into the buffer as it empties.
    let (target, engine) = running(
        &store,
        Duration::from_millis(20),
        EngineConfig {
            concurrency: 4,
            batch: 4,
            handoff_capacity: 8,
            poll_interval: Duration::from_millis(50),
            ..Default::default()
        },
    )
    .await;
    let warnings: Vec<NewJob> = (0..200).map(|i| job(&format!("W{i:03}"))).collect();
    store.enqueue(warnings, Utc::now()).await.unwrap();
    let stats = store.stats().await.unwrap();
    assert!(
        stats.pending >= 150,
        "the backlog waits in the store: {stats:?}"
    );
    // Critical alerts arriving behind the backlog go ahead of it.
    let critical: Vec<NewJob> = (0..10)
        .map(|i| job_with(&format!("C{i}"), "critical"))
        .collect();
    store.enqueue(critical, Utc::now()).await.unwrap();
    let stats = drained(&store, Duration::from_secs(30)).await;
    assert_eq!(stats.done, 210, "{stats:?}");
    target.assert_each_once(210);
    assert!(
        target.attempts.lock().unwrap().iter().all(|&a| a == 1),
        "each claimed once"
    );
    let order = target.order.lock().unwrap().clone();
    let last_critical = order.iter().rposition(|n| n.starts_with('C')).unwrap();
    assert!(
        last_critical < 100,
        "critical alerts overtake the backlog (the last went out {last_critical}th): {order:?}"
    );
    engine.abort();
}
