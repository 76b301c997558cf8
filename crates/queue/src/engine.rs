use std::{
    collections::HashMap,
    future::Future,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use governor::{Quota, RateLimiter, clock::Clock as _};

use chrono::Utc;
use publish::{Delivery, Publisher, RateLimit};
use tokio::{
    sync::{Notify, Semaphore},
    task::JoinSet,
};
use tracing::{debug, error, info, warn};

use crate::{Completion, Failure, Job, JobPayload, JobStore, RetryPolicy};

/// Resolves a target name to its publisher and retry policy at delivery time, so definitions
/// can change while jobs wait.
pub trait Publishers: Send + Sync + std::fmt::Debug {
    /// The publisher for `target`, or `None` when no such target is defined (any more).
    fn publisher(&self, target: &str) -> Option<Arc<dyn Publisher>>;
    /// The retry policy for `target`.
    fn retry_policy(&self, target: &str) -> RetryPolicy;
}

/// Worker settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// Jobs claimed per store round trip.
    pub batch: usize,
    /// How long a claim is held before another worker may take the job.
    pub lease: Duration,
    /// Longest sleep between looks at the store.
    pub poll_interval: Duration,
    /// How long shutdown waits for in-flight deliveries.
    pub shutdown_timeout: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            concurrency: 64,
            batch: 64,
            lease: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// Wakes the engine when new work arrives.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    wake: Arc<Notify>,
}

impl EngineHandle {
    /// Tells the engine to look at the store now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Claims due jobs and delivers them.
#[derive(Debug)]
pub struct Engine {
    store: Arc<dyn JobStore>,
    publishers: Arc<dyn Publishers>,
    config: EngineConfig,
    wake: Arc<Notify>,
    limiters: Arc<Limiters>,
}

impl Engine {
    /// An engine over a store and a publisher registry.
    pub fn new(store: Arc<dyn JobStore>, publishers: Arc<dyn Publishers>, config: EngineConfig) -> Self {
        Self { store, publishers, config, wake: Arc::new(Notify::new()), limiters: Arc::default() }
    }

    /// A handle to wake the engine.
    pub fn handle(&self) -> EngineHandle {
        EngineHandle { wake: self.wake.clone() }
    }

    /// Runs until `shutdown` completes, then stops claiming and waits up to the shutdown
    /// timeout for in-flight deliveries. Deliveries still running after that are abandoned;
    /// their jobs stay in flight in the store and are picked up again after their lease (or
    /// at the next start).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let semaphore = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut last_reap = Instant::now();
        tokio::pin!(shutdown);
        info!(concurrency = self.config.concurrency, "delivery engine started");
        loop {
            while tasks.try_join_next().is_some() {}
            if last_reap.elapsed() >= self.config.poll_interval {
                last_reap = Instant::now();
                match self.store.requeue_in_flight(Utc::now(), false).await {
                    Ok(0) => {}
                    Ok(n) => warn!(jobs = n, "requeued jobs whose lease expired"),
                    Err(e) => warn!(error = %e, "lease reaper failed"),
                }
            }
            let free = semaphore.available_permits().min(self.config.batch);
            let mut claimed = 0;
            if free > 0 {
                match self.store.claim(free, Utc::now(), self.config.lease).await {
                    Ok(jobs) => {
                        claimed = jobs.len();
                        for job in jobs {
                            let Ok(permit) = semaphore.clone().acquire_owned().await else { break };
                            let worker = Worker {
                                store: self.store.clone(),
                                publishers: self.publishers.clone(),
                                wake: self.wake.clone(),
                                limiters: self.limiters.clone(),
                            };
                            tasks.spawn(async move {
                                worker.deliver(job).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => {
                        error!(error = %e, "claiming jobs failed");
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(self.config.poll_interval) => {}
                        }
                        continue;
                    }
                }
            }
            if claimed == free && free > 0 {
                // there may be more due work right away
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = tokio::task::yield_now() => {}
                }
                continue;
            }
            let sleep = match self.store.next_due().await {
                Ok(Some(due)) => (due - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(self.config.poll_interval),
                Ok(None) => self.config.poll_interval,
                Err(_) => self.config.poll_interval,
            };
            let sleep = sleep.max(Duration::from_millis(5));
            tokio::select! {
                () = &mut shutdown => break,
                () = self.wake.notified() => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
        let in_flight = tasks.len();
        info!(in_flight, "delivery engine stopping, draining in-flight deliveries");
        let drained = tokio::time::timeout(self.config.shutdown_timeout, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            warn!(abandoned = tasks.len(), "shutdown deadline passed; unfinished deliveries stay in the store");
            tasks.abort_all();
        }
        info!("delivery engine stopped");
    }
}

type Bucket = RateLimiter<governor::state::NotKeyed, governor::state::InMemoryState, governor::clock::DefaultClock>;

/// Token buckets by rate-limit key, with a count of deliveries already told to wait on each so
/// that they are spread over the coming slots instead of all waking at once.
#[derive(Debug, Default)]
struct Limiters {
    buckets: Mutex<HashMap<RateLimit, (Arc<Bucket>, u32)>>,
}

impl Limiters {
    /// `None` when the delivery may go now; otherwise how long it should wait.
    fn check(&self, limit: &RateLimit) -> Option<Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (bucket, waiting) = buckets.entry(limit.clone()).or_insert_with(|| {
            let per_minute = NonZeroU32::new(limit.per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
            let burst = NonZeroU32::new(limit.burst.max(1)).unwrap_or(NonZeroU32::MIN);
            (Arc::new(RateLimiter::direct(Quota::per_minute(per_minute).allow_burst(burst))), 0)
        });
        match bucket.check() {
            Ok(()) => {
                *waiting = waiting.saturating_sub(1);
                None
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
                let period = Duration::from_secs(60) / limit.per_minute.max(1);
                let spread = period * *waiting;
                *waiting = waiting.saturating_add(1);
                Some(wait + spread)
            }
        }
    }
}

#[derive(Debug)]
struct Worker {
    store: Arc<dyn JobStore>,
    publishers: Arc<dyn Publishers>,
    wake: Arc<Notify>,
    limiters: Arc<Limiters>,
}

impl Worker {
    async fn deliver(&self, job: Job) {
        let started = Instant::now();
        let target = job.target.clone();
        let completion = match self.attempt(&job).await {
            Attempted::Done(c) => c,
            Attempted::Wait(wait) => {
                metrics::counter!("alert_history_publishing_rate_limit_waits_total", "target" => target.clone()).increment(1);
                let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                debug!(target = %target, job = job.id, wait_ms = wait.as_millis() as u64, "rate limited, deferred");
                if let Err(e) = self.store.defer(&job, at, Utc::now()).await {
                    error!(target = %target, job = job.id, error = %e, "deferring a rate-limited job failed; it is retried after its lease");
                }
                return;
            }
        };
        let latency = started.elapsed();
        let label = match &completion {
            Completion::Delivered { .. } => "delivered",
            Completion::Retry { .. } => "retry",
            Completion::Dead { .. } => "dead",
        };
        metrics::counter!("alert_history_publishing_jobs_processed_total", "target" => target.clone(), "state" => label).increment(1);
        metrics::histogram!("alert_history_publishing_job_duration_seconds", "target" => target.clone()).record(latency.as_secs_f64());
        if job.attempt == 1 {
            let waited = (Utc::now() - job.created_at).to_std().unwrap_or_default().saturating_sub(latency);
            metrics::histogram!("alert_history_publishing_job_wait_time_seconds", "target" => target.clone()).record(waited.as_secs_f64());
        }
        match &completion {
            Completion::Delivered { status_code, .. } => {
                debug!(target = %target, job = job.id, attempt = job.attempt, status = ?status_code, "delivered");
            }
            Completion::Retry { at, failure } => {
                metrics::counter!("alert_history_publishing_retry_attempts_total", "target" => target.clone()).increment(1);
                warn!(target = %target, job = job.id, attempt = job.attempt, kind = %failure.kind, error = %failure.reason, retry_at = %at, "delivery failed, will retry");
            }
            Completion::Dead { failure } => {
                metrics::counter!("alert_history_publishing_dlq_writes_total", "target" => target.clone(), "reason" => failure.kind.clone()).increment(1);
                warn!(target = %target, job = job.id, attempt = job.attempt, kind = %failure.kind, error = %failure.reason, "delivery failed permanently, moved to the dead-letter queue");
            }
        }
        // The outcome must be recorded; a store hiccup is retried briefly. If the store stays
        // down the job keeps its lease and is delivered again after it expires (at least once).
        for attempt in 0..5u32 {
            match self.store.complete(&job, completion.clone(), latency, Utc::now()).await {
                Ok(true) => break,
                Ok(false) => {
                    warn!(target = %target, job = job.id, "job was taken over after its lease expired; outcome kept in history only");
                    break;
                }
                Err(e) => {
                    error!(target = %target, job = job.id, error = %e, "recording delivery outcome failed");
                    tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt))).await;
                }
            }
        }
        self.wake.notify_one();
    }

    async fn attempt(&self, job: &Job) -> Attempted {
        let dead = |kind: &str, reason: String| {
            Attempted::Done(Completion::Dead { failure: Failure { kind: kind.to_owned(), reason, status_code: None } })
        };
        let payload: JobPayload = match serde_json::from_str(&job.payload) {
            Ok(p) => p,
            Err(e) => return dead("other", format!("stored payload cannot be read: {e}")),
        };
        let Some(publisher) = self.publishers.publisher(&job.target) else {
            return dead("config", format!("target {:?} is not defined", job.target));
        };
        let delivery = Delivery {
            id: job.delivery_key.clone(),
            alert: payload.alert,
            context: payload.context,
            attempt: job.attempt,
            vendor_state: job.vendor_state.as_deref().and_then(|s| serde_json::from_str(s).ok()),
        };
        if let Some(limit) = publisher.rate_limit(&delivery) {
            if let Some(wait) = self.limiters.check(&limit) {
                return Attempted::Wait(wait);
            }
        }
        Attempted::Done(match publisher.publish(&delivery).await {
            Ok(delivered) => Completion::Delivered {
                status_code: delivered.status_code,
                vendor_state: delivered.vendor_state.map(|v| v.to_string()),
            },
            Err(err) => {
                let policy = self.publishers.retry_policy(&job.target);
                let failure = Failure {
                    kind: err.kind().as_str().to_owned(),
                    reason: err.reason().to_owned(),
                    status_code: err.status_code(),
                };
                if !err.is_retryable() {
                    return Attempted::Done(Completion::Dead { failure });
                }
                let age = (Utc::now() - job.created_at).to_std().unwrap_or_default();
                if !policy.may_retry(job.attempt, age) {
                    let reason = format!("gave up after {} attempts over {}s: {}", job.attempt, age.as_secs(), failure.reason);
                    return Attempted::Done(Completion::Dead { failure: Failure { reason, ..failure } });
                }
                let delay = policy.delay(job.attempt, err.retry_after());
                let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                Completion::Retry { at, failure }
            }
        })
    }
}

enum Attempted {
    Done(Completion),
    Wait(Duration),
}
