use std::{
    collections::HashMap,
    future::Future,
    num::NonZeroU32,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::Utc;
use governor::{Quota, RateLimiter, clock::Clock as _};
use publish::{Delivery, Publisher, RateLimit};
use tokio::{
    sync::{Notify, Semaphore, mpsc, oneshot},
    task::JoinSet,
};
use tracing::{debug, error, info, warn};

use crate::{
    BreakerState, Completion, Failure, Finished, Handoff, Job, JobPayload, JobStore, NewJob, Ready,
    StoreError, TargetPolicy,
    breaker::{Admit, Breakers, Outcome, Transition},
    metrics::{
        CIRCUIT_BREAKER_RECOVERIES_TOTAL, CIRCUIT_BREAKER_STATE, CIRCUIT_BREAKER_TRIPS_TOTAL,
        CIRCUIT_BREAKER_WAITS_TOTAL, COMMIT_BATCH_SIZE, DLQ_WRITES_TOTAL, FALLBACK_TOTAL,
        JOB_DURATION_SECONDS, JOB_WAIT_TIME_SECONDS, JOBS_PROCESSED_TOTAL, RATE_LIMIT_WAITS_TOTAL,
        RETRY_ATTEMPTS_TOTAL, RETRY_SUCCESS_RATE, WORKER_PROCESSING_DURATION_SECONDS,
        WORKERS_ACTIVE, WORKERS_IDLE,
    },
};

/// Resolves a target name to its publisher and policy at delivery time, so definitions can
/// change while jobs wait.
pub trait Publishers: Send + Sync + std::fmt::Debug {
    /// The publisher for `target`, or `None` when no such target is defined (any more).
    fn publisher(&self, target: &str) -> Option<Arc<dyn Publisher>>;
    /// How the engine treats `target`.
    fn policy(&self, target: &str) -> Arc<TargetPolicy>;
    /// Both at once, from one look at the set of targets (the engine asks once per delivery).
    fn resolve(&self, target: &str) -> (Option<Arc<dyn Publisher>>, Arc<TargetPolicy>) {
        (self.publisher(target), self.policy(target))
    }
}

/// What a finished delivery attempt looked like, for passive health monitoring.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Target name.
    pub target: String,
    /// Delivered.
    pub success: bool,
    /// Failure kind (bounded), when it failed.
    pub error_kind: Option<String>,
    /// The failure says the target is in trouble (retryable), as opposed to a bad request.
    pub target_fault: bool,
    /// How long the attempt took.
    pub latency: Duration,
}

/// Receives every delivery outcome (health monitor, statistics).
pub trait DeliveryObserver: Send + Sync + std::fmt::Debug {
    /// Called after each attempt.
    fn observe(&self, observation: &Observation);
}

/// Claims read ahead into the hand-off buffer while it holds fewer jobs than this many rounds
/// of the workers (`concurrency` each).
const READ_AHEAD_ROUNDS: usize = 4;

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
    /// Done and superseded jobs are deleted after this long.
    pub retain_finished: Duration,
    /// Dead letters are deleted after this long.
    pub retain_dead: Duration,
    /// How often the retention sweep runs.
    pub sweep_interval: Duration,
    /// Fresh jobs held in memory for the workers (see [`crate::Handoff`]); 0 turns the hand-off
    /// off, so every job is claimed from the store.
    pub handoff_capacity: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            concurrency: 64,
            batch: 64,
            lease: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(10),
            retain_finished: Duration::from_secs(24 * 3600),
            retain_dead: Duration::from_secs(7 * 24 * 3600),
            sweep_interval: Duration::from_secs(600),
            handoff_capacity: 8192,
        }
    }
}

/// A handle on a running engine: wake it, read its circuit breakers and worker counts.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    wake: Arc<Notify>,
    shared: Arc<Shared>,
}

impl EngineHandle {
    /// Tells the engine to look at the store now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The circuit state of a target.
    pub fn breaker_state(&self, target: &str) -> BreakerState {
        self.shared.breakers.state(target)
    }

    /// Every circuit that has seen traffic.
    pub fn breakers(&self) -> Vec<(String, BreakerState)> {
        self.shared.breakers.all()
    }

    /// Deliveries in flight now.
    pub fn active_workers(&self) -> usize {
        self.shared.active.load(Ordering::Relaxed)
    }

    /// The configured concurrency.
    pub fn concurrency(&self) -> usize {
        self.shared.concurrency
    }
}

#[derive(Debug)]
struct Shared {
    limiters: Limiters,
    breakers: Breakers,
    active: AtomicUsize,
    concurrency: usize,
    /// How long a claim holds a job.
    lease: Duration,
    /// Places for delivered outcomes not yet written: twice the delivery slots, enough for the
    /// committer's batches to stay full while the next deliveries run.
    unrecorded: Arc<Semaphore>,
    /// Free delivery slot numbers (`0` to `concurrency` − 1), for the per-worker metric.
    free_slots: std::sync::Mutex<Vec<usize>>,
}

/// Claims due jobs and delivers them.
#[derive(Debug)]
pub struct Engine {
    store: Arc<dyn JobStore>,
    publishers: Arc<dyn Publishers>,
    observer: Option<Arc<dyn DeliveryObserver>>,
    config: EngineConfig,
    wake: Arc<Notify>,
    shared: Arc<Shared>,
    handoff: Option<Arc<Handoff>>,
}

impl Engine {
    /// An engine over a store and a publisher registry.
    pub fn new(
        store: Arc<dyn JobStore>,
        publishers: Arc<dyn Publishers>,
        config: EngineConfig,
    ) -> Self {
        let shared = Arc::new(Shared {
            limiters: Limiters::default(),
            breakers: Breakers::default(),
            active: AtomicUsize::new(0),
            concurrency: config.concurrency.max(1),
            lease: config.lease,
            unrecorded: Arc::new(Semaphore::new(2 * config.concurrency.max(1))),
            free_slots: std::sync::Mutex::new((0..config.concurrency.max(1)).rev().collect()),
        });
        let wake = Arc::new(Notify::new());
        let handoff = (config.handoff_capacity > 0).then(|| {
            Arc::new(Handoff::new(
                config.handoff_capacity,
                config.lease,
                wake.clone(),
            ))
        });
        Self {
            store,
            publishers,
            observer: None,
            config,
            wake,
            shared,
            handoff,
        }
    }

    /// Reports every outcome to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn DeliveryObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// A handle to wake the engine and read its state.
    pub fn handle(&self) -> EngineHandle {
        EngineHandle {
            wake: self.wake.clone(),
            shared: self.shared.clone(),
        }
    }

    /// Runs until `shutdown` completes, then stops claiming and waits up to the shutdown
    /// timeout for in-flight deliveries. Deliveries still running after that are abandoned;
    /// their jobs stay in flight in the store and are picked up again after their lease (or
    /// at the next start).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let semaphore = Arc::new(Semaphore::new(self.shared.concurrency));
        let (commits, commit_rx) = mpsc::channel::<Commit>(self.shared.concurrency * 2);
        let committer = tokio::spawn(committer(self.store.clone(), commit_rx));
        // The helper tasks end with this future, also when it is dropped rather than shut down
        // (an aborted engine task behaves like a crash: nothing more is claimed or written).
        let _committer_guard = AbortOnDrop(committer.abort_handle());
        let mut tasks: JoinSet<()> = JoinSet::new();
        if let Some(handoff) = &self.handoff {
            self.store.attach_handoff(handoff.clone());
        }
        // However this loop ends (shutdown, or the task aborted), the store stops handing jobs
        // to a buffer nobody reads.
        let _detach = self.handoff.clone().map(|handoff| DetachOnDrop {
            store: self.store.clone(),
            handoff,
        });
        // Off the delivery loop: each of its writes can wait behind others.
        let keeper = tokio::spawn(housekeeping(
            self.store.clone(),
            self.config.clone(),
            self.shared.clone(),
            self.wake.clone(),
        ));
        let _keeper_guard = AbortOnDrop(keeper.abort_handle());
        let mut last_reap = Instant::now();
        // Ask the store even if nothing said it holds claimable jobs (a retry came due).
        let mut force_claim = true;
        let mut store_due: Option<chrono::DateTime<Utc>> = None;
        let mut reading: Option<tokio::task::JoinHandle<Result<ReadAhead, StoreError>>> = None;
        let mut _reading_guard: Option<AbortOnDrop> = None;
        tokio::pin!(shutdown);
        info!(
            concurrency = self.shared.concurrency,
            "delivery engine started"
        );
        self.publish_worker_gauges();
        loop {
            while tasks.try_join_next().is_some() {}
            if last_reap.elapsed() >= self.config.poll_interval {
                last_reap = Instant::now();
                force_claim = true;
            }
            let free = semaphore.available_permits().min(self.config.batch);
            let mut claimed = 0;
            // Claim in batches: while most workers are busy, wait for a quarter of them to
            // free up instead of paying one claim transaction per finished delivery.
            let threshold = (self.shared.concurrency / 4).clamp(1, self.config.batch.max(1));
            let worth_claiming = free >= threshold
                || (free > 0 && self.shared.active.load(Ordering::Relaxed) < threshold);
            // A read-ahead claim finished: its jobs wait in the buffer.
            if let Some(done) = reading.take_if(|r| r.is_finished()) {
                match done.await {
                    Ok(Ok(read)) => {
                        if read.claimed == read.limit
                            && let Some(handoff) = &self.handoff
                        {
                            // there may be more, ordered after what was claimed
                            handoff.mark_store_dirty_from(read.last_key);
                        } else {
                            store_due = read.due;
                        }
                        for job in read.unreadable {
                            self.dispatch(job, None, &semaphore, &mut tasks, &commits)
                                .await;
                        }
                    }
                    // the poll timer asks again
                    Ok(Err(e)) => error!(error = %e, "claiming jobs failed"),
                    Err(e) => error!(error = %e, "claiming jobs failed (the claim task ended)"),
                }
            }
            // With a buffer, claims run in the background and fill it; the workers go on taking
            // from it meanwhile. While it holds less than a few rounds of the workers and the
            // store may hold claimable jobs, a large claim reads ahead; otherwise, for free
            // workers, a claim takes only what goes ahead of the jobs in memory (a job of higher
            // priority than those the buffer holds).
            if reading.is_none()
                && let Some(handoff) = &self.handoff
            {
                let want =
                    (READ_AHEAD_ROUNDS * self.shared.concurrency).saturating_sub(handoff.len());
                let granted = if want >= self.config.batch {
                    handoff.reserve(want)
                } else {
                    0
                };
                let claim = if granted >= self.config.batch
                    && (std::mem::take(&mut force_claim) | handoff.take_store_dirty())
                {
                    Some((granted, granted, None))
                } else {
                    handoff.fill(granted, Vec::new());
                    let head = handoff.head();
                    (worth_claiming
                        && (std::mem::take(&mut force_claim)
                            | handoff.take_store_dirty_ahead_of(head)))
                    .then_some((free, 0, head))
                };
                if let Some((limit, reserved, before)) = claim {
                    let read = tokio::spawn(read_ahead(
                        self.store.clone(),
                        handoff.clone(),
                        Claim {
                            limit,
                            reserved,
                            before,
                            lease: self.config.lease,
                        },
                        self.wake.clone(),
                    ));
                    _reading_guard = Some(AbortOnDrop(read.abort_handle()));
                    reading = Some(read);
                }
            }
            // Without one, the store is asked for the free workers directly.
            let ask_store = self.handoff.is_none() && worth_claiming;
            if ask_store {
                match self.store.claim(free, Utc::now(), self.config.lease).await {
                    Ok(jobs) => {
                        claimed = jobs.len();
                        for job in jobs {
                            let delivery = delivery_of(&job);
                            self.dispatch(job, delivery, &semaphore, &mut tasks, &commits)
                                .await;
                        }
                    }
                    Err(e) => {
                        error!(error = %e, "claiming jobs failed");
                        force_claim = true;
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(self.config.poll_interval) => {}
                        }
                        continue;
                    }
                }
            }
            let room = semaphore.available_permits();
            if room > 0
                && let Some(handoff) = &self.handoff
            {
                let (ready, stale) = handoff.take(room, self.config.lease / 2);
                if !stale.is_empty() {
                    // Back to the store at once and in their place, with no attempt counted:
                    // waiting in memory is not an attempt.
                    warn!(
                        jobs = stale.len(),
                        "handed-off jobs waited in memory for half their lease; handed back to the store"
                    );
                    let store = self.store.clone();
                    tasks.spawn(async move {
                        let now = Utc::now();
                        for r in stale {
                            if let Err(e) = store.defer(&r.job, now, now).await {
                                error!(job = r.job.id, error = %e, "handing a job back to the store failed; it is delivered again after its lease");
                            }
                        }
                    });
                }
                for r in ready {
                    self.dispatch(r.job, Some(r.delivery), &semaphore, &mut tasks, &commits)
                        .await;
                }
            }
            self.publish_worker_gauges();
            if ask_store && claimed == free && free > 0 {
                // there may be more due work right away
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = tokio::task::yield_now() => {}
                }
                continue;
            }
            // Every worker busy: a finishing one wakes the loop, the store need not be asked.
            let saturated = !worth_claiming && !tasks.is_empty();
            let sleep = if saturated {
                self.config.poll_interval
            } else {
                if ask_store {
                    // when the next stored job comes due (a retry, a deferred job)
                    store_due = self.store.next_due().await.ok().flatten();
                }
                store_due
                    .map_or(self.config.poll_interval, |due| {
                        (due - Utc::now()).to_std().unwrap_or(Duration::ZERO)
                    })
                    .min(self.config.poll_interval)
            };
            let sleep = sleep.max(Duration::from_millis(5));
            tokio::select! {
                () = &mut shutdown => break,
                () = self.wake.notified() => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => self.publish_worker_gauges(),
                () = tokio::time::sleep(sleep) => force_claim = true,
            }
        }
        if let Some(read) = reading {
            // its jobs stay claimed in the store: put back at the next start or after the lease
            let _ = tokio::time::timeout(self.config.shutdown_timeout, read).await;
        }
        keeper.abort();
        if let Some(handoff) = &self.handoff {
            handoff.close();
        }
        let in_flight = tasks.len();
        info!(
            in_flight,
            "delivery engine stopping, draining in-flight deliveries"
        );
        let drained = tokio::time::timeout(self.config.shutdown_timeout, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            warn!(
                abandoned = tasks.len(),
                "shutdown deadline passed; unfinished deliveries stay in the store"
            );
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        // Every worker is gone: the committer writes what is left and stops.
        drop(commits);
        let _ = committer.await;
        info!("delivery engine stopped");
    }

    /// Starts delivering a claimed job, or hands it back to the store until its rate-limit
    /// slot when a proactive limit says "not yet" (decided here, in claim order).
    async fn dispatch(
        &self,
        job: Job,
        delivery: Option<Delivery>,
        semaphore: &Arc<Semaphore>,
        tasks: &mut JoinSet<()>,
        commits: &mpsc::Sender<Commit>,
    ) {
        let (publisher, policy) = self.publishers.resolve(&job.target);
        if let Some(wait) = self.rate_gate(&job, delivery.as_ref(), publisher.as_deref(), &policy) {
            let store = self.store.clone();
            let target = job.target.clone();
            tasks.spawn(async move {
                metrics::counter!(RATE_LIMIT_WAITS_TOTAL, "target" => target.clone()).increment(1);
                let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                if let Err(e) = store.defer(&job, at, Utc::now()).await {
                    error!(target_name = %target, job = job.id, error = %e, "deferring a rate-limited job failed; it is retried after its lease");
                }
            });
            return;
        }
        let Ok(permit) = semaphore.clone().acquire_owned().await else {
            return;
        };
        let worker = Worker {
            store: self.store.clone(),
            publishers: self.publishers.clone(),
            observer: self.observer.clone(),
            wake: self.wake.clone(),
            shared: self.shared.clone(),
            commits: commits.clone(),
        };
        let slot = Slot::new(permit, self.shared.clone());
        tasks.spawn(async move {
            worker
                .deliver(job, delivery, publisher, &policy, slot)
                .await;
        });
    }

    /// The wait a proactive rate limit imposes on `job` (its own target limit, then the
    /// publisher's vendor limit), or `None` when it may go now.
    fn rate_gate(
        &self,
        job: &Job,
        delivery: Option<&Delivery>,
        publisher: Option<&dyn Publisher>,
        policy: &TargetPolicy,
    ) -> Option<Duration> {
        let publisher = publisher?;
        let delivery = delivery?;
        let own = policy.rate_limit.as_ref().map(|r| RateLimit {
            key: format!("target:{}", job.target),
            per_minute: r.per_minute,
            burst: r.burst,
        });
        let limits: Vec<RateLimit> = own
            .into_iter()
            .chain(publisher.rate_limits(delivery))
            .collect();
        for (i, limit) in limits.iter().enumerate() {
            if let Some(wait) = self.shared.limiters.check(limit, job.id, job.sort_key) {
                // The buckets it passed keep what it took: it does not pay twice (nor lose its
                // place) when it comes back for this one.
                for passed in &limits[..i] {
                    self.shared.limiters.hold(passed, job.id);
                }
                return Some(wait);
            }
        }
        None
    }
}

/// What a read-ahead claim did.
#[derive(Debug)]
struct ReadAhead {
    /// Jobs claimed.
    claimed: usize,
    /// Jobs asked for.
    limit: usize,
    /// The claim order of the last job claimed.
    last_key: i64,
    /// When the next stored job comes due, when the claim took everything there was.
    due: Option<chrono::DateTime<Utc>>,
    /// Claimed jobs whose stored payload cannot be read: the engine records them as dead.
    unreadable: Vec<Job>,
}

/// A claim into the hand-off buffer.
#[derive(Debug)]
struct Claim {
    /// Jobs to claim at most.
    limit: usize,
    /// Places reserved for them in the buffer (a claim for free workers may go past its
    /// capacity, by at most one batch).
    reserved: usize,
    /// Only jobs ordered at or before this.
    before: Option<i64>,
    /// How long the claim holds.
    lease: Duration,
}

/// Claims jobs into the buffer, then wakes the engine.
async fn read_ahead(
    store: Arc<dyn JobStore>,
    handoff: Arc<Handoff>,
    claim: Claim,
    wake: Arc<Notify>,
) -> Result<ReadAhead, StoreError> {
    let Claim {
        limit,
        reserved,
        before,
        lease,
    } = claim;
    let claimed = store.claim_ahead_of(limit, Utc::now(), lease, before).await;
    let jobs = match claimed {
        Ok(jobs) => jobs,
        Err(e) => {
            handoff.fill(reserved, Vec::new());
            wake.notify_one();
            return Err(e);
        }
    };
    let claimed = jobs.len();
    let last_key = jobs.iter().map(|j| j.sort_key).max().unwrap_or(i64::MIN);
    let stored = Instant::now();
    let mut ready = Vec::with_capacity(claimed);
    let mut unreadable = Vec::new();
    for job in jobs {
        match delivery_of(&job) {
            Some(delivery) => ready.push(Ready {
                sort_key: job.sort_key,
                job,
                delivery,
                stored,
            }),
            None => unreadable.push(job),
        }
    }
    handoff.fill(reserved, ready);
    let due = if claimed < limit {
        store.next_due().await.ok().flatten()
    } else {
        None
    };
    wake.notify_one();
    Ok(ReadAhead {
        claimed,
        limit,
        last_key,
        due,
        unreadable,
    })
}

/// The delivery a job describes, parsed once per claim; `None` when the stored payload cannot
/// be read.
fn delivery_of(job: &Job) -> Option<Delivery> {
    let payload: JobPayload = serde_json::from_str(&job.payload).ok()?;
    Some(Delivery {
        id: job.delivery_key.clone(),
        alert: payload.alert,
        context: payload.context,
        attempt: job.attempt,
        vendor_state: job
            .vendor_state
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok()),
        action: payload.action,
    })
}

impl Engine {
    fn publish_worker_gauges(&self) {
        let active = self.shared.active.load(Ordering::Relaxed);
        metrics::gauge!(WORKERS_ACTIVE).set(active as f64);
        metrics::gauge!(WORKERS_IDLE).set(self.shared.concurrency.saturating_sub(active) as f64);
    }
}

/// Every poll interval: puts back jobs whose lease expired (and wakes the engine for them), runs
/// the retention sweep when due and publishes the circuit-breaker gauges.
async fn housekeeping(
    store: Arc<dyn JobStore>,
    config: EngineConfig,
    shared: Arc<Shared>,
    wake: Arc<Notify>,
) {
    let mut last_sweep: Option<Instant> = None;
    loop {
        match store.requeue_in_flight(Utc::now(), false).await {
            Ok(0) => {}
            Ok(n) => {
                warn!(jobs = n, "requeued jobs whose lease expired");
                wake.notify_one();
            }
            Err(e) => warn!(error = %e, "lease reaper failed"),
        }
        if last_sweep.is_none_or(|t| t.elapsed() >= config.sweep_interval) {
            last_sweep = Some(Instant::now());
            let now = Utc::now();
            let finished =
                now - chrono::Duration::from_std(config.retain_finished).unwrap_or_default();
            let dead = now - chrono::Duration::from_std(config.retain_dead).unwrap_or_default();
            match store.sweep(finished, dead).await {
                Ok(0) => {}
                Ok(n) => info!(jobs = n, "retention sweep deleted old jobs"),
                Err(e) => warn!(error = %e, "retention sweep failed"),
            }
        }
        for (target, state) in shared.breakers.all() {
            metrics::gauge!(CIRCUIT_BREAKER_STATE, "target" => target).set(state.gauge());
        }
        tokio::time::sleep(config.poll_interval).await;
    }
}

type Bucket = RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    governor::clock::DefaultClock,
>;

/// Token buckets by rate-limit key (one bucket per key, whatever rate each target asks for:
/// the strictest rate seen wins). While a key is over its rate, its deliveries wait in a queue
/// in claim order — priority with aging, the store's order — with slots one period apart; a job
/// that arrives while others wait takes its place in that order (a critical one goes next,
/// and the ones behind it move back a period), and a job coming back for its slot goes ahead of
/// fresh ones. A storm drains at the vendor's rate, highest priority first, without 429s.
#[derive(Debug, Default)]
struct Limiters {
    buckets: Mutex<HashMap<String, LimiterEntry>>,
}

#[derive(Debug)]
struct LimiterEntry {
    bucket: Arc<Bucket>,
    per_minute: u32,
    burst: u32,
    /// Jobs waiting for a slot, in the order they go, each with its slot.
    waiting: Vec<Waiting>,
    /// Jobs that took their slot here but were held back by another bucket (job id → since
    /// when): they pass once, without paying again, when they come back.
    held: HashMap<i64, Instant>,
    /// No slot before this: the vendor answered 429 with a `Retry-After`.
    paused_until: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Waiting {
    job: i64,
    /// Claim order (arrival minus the priority's boost).
    order: i64,
    slot: Instant,
}

fn bucket(per_minute: u32, burst: u32) -> Arc<Bucket> {
    let per_minute = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Arc::new(RateLimiter::direct(
        Quota::per_minute(per_minute).allow_burst(burst),
    ))
}

/// A job that has not come back this long after its slot is forgotten (taken over, deleted).
const FORGET_AFTER: Duration = Duration::from_secs(60);

impl Limiters {
    /// `None` when job `job` (claim order `order`) may go now; otherwise how long it should
    /// wait (until its slot).
    fn check(&self, limit: &RateLimit, job: i64, order: i64) -> Option<Duration> {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = buckets
            .entry(limit.key.clone())
            .or_insert_with(|| LimiterEntry {
                bucket: bucket(limit.per_minute, limit.burst),
                per_minute: limit.per_minute,
                burst: limit.burst,
                waiting: Vec::new(),
                held: HashMap::new(),
                paused_until: None,
            });
        if limit.per_minute < entry.per_minute || limit.burst < entry.burst {
            entry.per_minute = entry.per_minute.min(limit.per_minute);
            entry.burst = entry.burst.min(limit.burst);
            entry.bucket = bucket(entry.per_minute, entry.burst);
        }
        let period = Duration::from_secs(60) / entry.per_minute.max(1);
        if entry.held.remove(&job).is_some() {
            return None;
        }
        if let Some(i) = entry.waiting.iter().position(|w| w.job == job) {
            let slot = entry.waiting[i].slot;
            if now + Duration::from_millis(1) >= slot {
                entry.waiting.remove(i);
                // keep the bucket in step with what is sent
                let _ = entry.bucket.check();
                return None;
            }
            return Some(slot - now);
        }
        entry.waiting.retain(|w| w.slot + FORGET_AFTER > now);
        entry.held.retain(|_, since| *since + FORGET_AFTER > now);
        let paused_until = entry.paused_until.filter(|until| *until > now);
        let first = match (entry.waiting.is_empty(), paused_until) {
            (true, None) => match entry.bucket.check() {
                Ok(()) => return None,
                Err(not_until) => {
                    now + not_until.wait_time_from(governor::clock::DefaultClock::default().now())
                }
            },
            (_, Some(until)) => until,
            (false, None) => now,
        };
        // Behind every waiting job ordered before it; ahead of the rest, who move back.
        let at = entry
            .waiting
            .iter()
            .position(|w| w.order > order)
            .unwrap_or(entry.waiting.len());
        let slot = match (entry.waiting.get(at), at.checked_sub(1)) {
            (Some(next), _) => next.slot,
            (None, Some(last)) => entry.waiting[last].slot + period,
            (None, None) => first,
        }
        .max(paused_until.unwrap_or(now));
        for w in &mut entry.waiting[at..] {
            w.slot += period;
        }
        if slot <= now + Duration::from_millis(1) {
            // Its slot is now (the one before it is overdue): it goes.
            let _ = entry.bucket.check();
            return None;
        }
        entry.waiting.insert(at, Waiting { job, order, slot });
        Some(slot - now)
    }

    /// Job `job` passed `limit` but another bucket holds it back: it keeps what it took here
    /// for when it comes back.
    fn hold(&self, limit: &RateLimit, job: i64) {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = buckets.get_mut(&limit.key) {
            entry.held.insert(job, Instant::now());
        }
    }

    /// Holds every delivery of bucket `key` until `until` (the vendor answered 429 with a
    /// `Retry-After`): fresh deliveries get slots from then on, and waiting ones whose slot
    /// falls before it move after it, one period apart, in their order. A key never checked is
    /// ignored (nothing waits on it).
    fn pause(&self, key: &str, until: Instant) {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(entry) = buckets.get_mut(key) else {
            return;
        };
        let period = Duration::from_secs(60) / entry.per_minute.max(1);
        let until = entry.paused_until.map_or(until, |p| p.max(until));
        entry.paused_until = Some(until);
        let mut next = until;
        for w in &mut entry.waiting {
            w.slot = w.slot.max(next);
            next = w.slot + period;
        }
    }
}

/// Detaches an engine's hand-off buffer from its store when dropped.
struct DetachOnDrop {
    store: Arc<dyn JobStore>,
    handoff: Arc<Handoff>,
}

/// Aborts a task when dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Drop for DetachOnDrop {
    fn drop(&mut self) {
        self.store.detach_handoff(&self.handoff);
    }
}

/// How the reason of a job whose retries ran out begins.
const GAVE_UP: &str = "gave up after";

/// A delivery slot (one of `concurrency`), held from claim until the outcome is handed to the
/// committer.
#[derive(Debug)]
struct Slot {
    _permit: tokio::sync::OwnedSemaphorePermit,
    shared: Arc<Shared>,
    /// Its number, `0` to `concurrency` − 1 (the `worker_id` label).
    id: usize,
}

impl Slot {
    fn new(permit: tokio::sync::OwnedSemaphorePermit, shared: Arc<Shared>) -> Self {
        shared.active.fetch_add(1, Ordering::Relaxed);
        let id = shared
            .free_slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or(0);
        Self {
            _permit: permit,
            shared,
            id,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared
            .free_slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(self.id);
        self.shared.active.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct Worker {
    store: Arc<dyn JobStore>,
    publishers: Arc<dyn Publishers>,
    observer: Option<Arc<dyn DeliveryObserver>>,
    wake: Arc<Notify>,
    shared: Arc<Shared>,
    commits: mpsc::Sender<Commit>,
}

/// An outcome on its way to the store, and who waits for it.
#[derive(Debug)]
struct Commit {
    finished: Finished,
    reply: oneshot::Sender<bool>,
}

/// Group commit: records outcomes in batches, one transaction (one sync) for everything that
/// finished while the previous batch was being written.
async fn committer(store: Arc<dyn JobStore>, mut rx: mpsc::Receiver<Commit>) {
    const MAX_BATCH: usize = 256;
    let mut buf: Vec<Commit> = Vec::with_capacity(MAX_BATCH);
    // Outcomes that finish within this long of the first one share its transaction: a few
    // milliseconds of latency for far fewer disk syncs under load.
    const LINGER: Duration = Duration::from_millis(2);
    while let Some(first) = rx.recv().await {
        buf.push(first);
        let until = tokio::time::Instant::now() + LINGER;
        while buf.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(c) => buf.push(c),
                Err(_) => match tokio::time::timeout_at(until, rx.recv()).await {
                    Ok(Some(c)) => buf.push(c),
                    Ok(None) | Err(_) => break,
                },
            }
        }
        let (items, replies): (Vec<Finished>, Vec<oneshot::Sender<bool>>) =
            buf.drain(..).map(|c| (c.finished, c.reply)).unzip();
        metrics::histogram!(COMMIT_BATCH_SIZE).record(items.len() as f64);
        let mut result = None;
        for attempt in 0..5u32 {
            match store.complete_many(&items, Utc::now()).await {
                Ok(v) => {
                    result = Some(v);
                    break;
                }
                Err(e) => {
                    error!(jobs = items.len(), error = %e, "recording delivery outcomes failed");
                    tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt))).await;
                }
            }
        }
        for (i, (reply, f)) in replies.into_iter().zip(&items).enumerate() {
            let recorded = result
                .as_ref()
                .is_some_and(|v| v.get(i).copied().unwrap_or(false));
            if result.is_some() && !recorded {
                warn!(target_name = %f.job.target, job = f.job.id, "job was taken over after its lease expired; outcome kept in history only");
            }
            let _ = reply.send(recorded);
        }
    }
}

enum Attempted {
    Done(Completion, Option<Observation>),
    Wait(Duration, &'static str),
}

impl Worker {
    /// Delivers `job` through the publisher and under the policy the dispatcher looked up.
    async fn deliver(
        &self,
        job: Job,
        delivery: Option<Delivery>,
        publisher: Option<Arc<dyn Publisher>>,
        policy: &TargetPolicy,
        slot: Slot,
    ) {
        let started = Instant::now();
        let target = job.target.clone();
        let (completion, observation) = match self
            .attempt(&job, delivery.as_ref(), publisher.as_deref(), policy)
            .await
        {
            Attempted::Done(c, o) => (c, o),
            Attempted::Wait(wait, why) => {
                let metric = if why == "rate_limit" {
                    RATE_LIMIT_WAITS_TOTAL
                } else {
                    CIRCUIT_BREAKER_WAITS_TOTAL
                };
                metrics::counter!(metric, "target" => target.clone()).increment(1);
                let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                debug!(target_name = %target, fingerprint = %job.fingerprint, job = job.id, wait_ms = wait.as_millis() as u64, reason = why, "deferred");
                if let Err(e) = self.store.defer(&job, at, Utc::now()).await {
                    error!(target_name = %target, job = job.id, error = %e, "deferring a job failed; it is retried after its lease");
                }
                return;
            }
        };
        let latency = started.elapsed();
        if let Some(o) = &observation {
            let outcome = if o.success {
                Outcome::Success
            } else if latency >= self.shared.lease {
                // An attempt that outlived its lease says more about this process (paused,
                // starved) than about the target, and its job may be another's by now.
                Outcome::Neutral
            } else if o.target_fault && o.error_kind.as_deref() != Some("rate_limited") {
                // A 429 asks us to slow down; it is not a sign the target is broken, so it
                // does not count towards opening the circuit (Retry-After spaces the retries).
                Outcome::Failure
            } else {
                Outcome::Neutral
            };
            match self.shared.breakers.record(
                &target,
                &policy.circuit_breaker,
                outcome,
                Instant::now(),
            ) {
                Some(Transition::Tripped) => {
                    metrics::counter!(CIRCUIT_BREAKER_TRIPS_TOTAL, "target" => target.clone())
                        .increment(1);
                    warn!(target_name = %target, open_for_s = policy.circuit_breaker.open_for.as_secs(), "circuit opened: deliveries to this target wait");
                }
                Some(Transition::Recovered) => {
                    metrics::counter!(CIRCUIT_BREAKER_RECOVERIES_TOTAL, "target" => target.clone())
                        .increment(1);
                    info!(target_name = %target, "circuit closed: target recovered");
                }
                None => {}
            }
            metrics::gauge!(CIRCUIT_BREAKER_STATE, "target" => target.clone())
                .set(self.shared.breakers.state(&target).gauge());
            if let Some(observer) = &self.observer {
                observer.observe(o);
            }
        }
        let alertname = delivery
            .as_ref()
            .and_then(|d| d.alert.labels.get("alertname"))
            .map_or("", String::as_str);
        self.record_metrics(&job, alertname, &completion, latency, slot.id);
        // The outcome must be recorded; the committer retries a store hiccup briefly. If the
        // store stays down the job keeps its lease and is delivered again after it expires (at
        // least once).
        let dead = matches!(completion, Completion::Dead { .. });
        let id = job.id;
        let recorded = self.commit(job, completion, latency, slot).await;
        if recorded
            && dead
            && let (Some(fallback), Some(delivery)) = (&policy.fallback, delivery)
            && delivery.action.is_notify()
        {
            let payload = JobPayload {
                alert: delivery.alert,
                context: delivery.context,
                action: delivery.action,
            };
            self.to_fallback(id, &target, fallback, payload).await;
        }
    }

    /// Hands an outcome to the committer and waits until it is stored. False when it could not
    /// be stored (or the job was taken over after its lease expired).
    ///
    /// The delivery slot is given back once the outcome waits for the committer: the job stays
    /// in flight in the store until its outcome is written, so nothing can claim it twice, and
    /// the next delivery need not wait for this one's disk sync. Outcomes waiting to be written
    /// are bounded (twice the concurrency), which holds back new deliveries when the store
    /// falls behind.
    async fn commit(
        &self,
        job: Job,
        completion: Completion,
        latency: Duration,
        slot: Slot,
    ) -> bool {
        let (reply, answer) = oneshot::channel();
        let finished = Finished {
            // recording an outcome does not need the payload
            job: Job {
                payload: String::new(),
                ..job
            },
            completion,
            latency,
        };
        // At most twice `concurrency` outcomes wait to be written: with the deliveries in
        // flight, a crash repeats at most three times the concurrency.
        let recording = self.shared.unrecorded.clone().acquire_owned().await;
        drop(slot);
        self.wake.notify_one();
        if recording.is_err() || self.commits.send(Commit { finished, reply }).await.is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    async fn to_fallback(&self, id: i64, target: &str, fallback: &str, payload: JobPayload) {
        if fallback == target {
            return;
        }
        let repeat = self.publishers.policy(fallback).repeat_interval;
        let new = NewJob::new(fallback, payload.alert, payload.context, repeat);
        match self.store.enqueue(vec![new], Utc::now()).await {
            Ok(r) => {
                metrics::counter!(FALLBACK_TOTAL, "target" => target.to_owned())
                    .increment(r.inserted as u64);
                info!(
                    target_name = target,
                    fallback,
                    job = id,
                    "dead letter handed to the fallback target"
                );
            }
            Err(e) => {
                error!(target_name = target, fallback, error = %e, "handing a dead letter to the fallback target failed")
            }
        }
    }

    fn record_metrics(
        &self,
        job: &Job,
        alertname: &str,
        completion: &Completion,
        latency: Duration,
        slot: usize,
    ) {
        let target = job.target.clone();
        let priority = job.priority.as_str();
        let label = match completion {
            Completion::Delivered { .. } => "delivered",
            Completion::Retry { .. } => "retry",
            Completion::Dead { .. } => "dead",
        };
        metrics::counter!(JOBS_PROCESSED_TOTAL, "target" => target.clone(), "state" => label)
            .increment(1);
        metrics::histogram!(JOB_DURATION_SECONDS, "target" => target.clone(), "priority" => priority)
            .record(latency.as_secs_f64());
        metrics::histogram!(WORKER_PROCESSING_DURATION_SECONDS, "worker_id" => slot.to_string())
            .record(latency.as_secs_f64());
        let attempt = match job.attempt {
            n @ 1..=5 => n.to_string(),
            _ => "6+".to_owned(),
        };
        let delivered = matches!(completion, Completion::Delivered { .. });
        metrics::histogram!(RETRY_SUCCESS_RATE, "target" => target.clone(), "attempt" => attempt)
            .record(if delivered { 1.0 } else { 0.0 });
        if job.attempt == 1 {
            let waited = (Utc::now() - job.created_at)
                .to_std()
                .unwrap_or_default()
                .saturating_sub(latency);
            metrics::histogram!(JOB_WAIT_TIME_SECONDS, "target" => target.clone(), "priority" => priority)
                .record(waited.as_secs_f64());
        }
        match completion {
            Completion::Delivered { status_code, .. } => {
                debug!(target_name = %target, alertname, fingerprint = %job.fingerprint, job = job.id, attempt = job.attempt, status = ?status_code, "delivered");
            }
            Completion::Retry { at, failure, .. } => {
                metrics::counter!(RETRY_ATTEMPTS_TOTAL, "target" => target.clone(), "error_type" => failure.kind.clone()).increment(1);
                warn!(target_name = %target, alertname, fingerprint = %job.fingerprint, job = job.id, attempt = job.attempt, kind = %failure.kind, error = %failure.reason, retry_at = %at, "delivery failed, will retry");
            }
            Completion::Dead { failure } => {
                // Retries that ran out say so in the reason (see `attempt`).
                let error_type = if failure.reason.starts_with(GAVE_UP) {
                    "transient"
                } else {
                    "permanent"
                };
                metrics::counter!(DLQ_WRITES_TOTAL, "target" => target.clone(), "reason" => failure.kind.clone(), "error_type" => error_type).increment(1);
                warn!(target_name = %target, alertname, fingerprint = %job.fingerprint, job = job.id, attempt = job.attempt, kind = %failure.kind, error = %failure.reason, "delivery failed permanently, moved to the dead-letter queue");
            }
        }
    }

    async fn attempt(
        &self,
        job: &Job,
        delivery: Option<&Delivery>,
        publisher: Option<&dyn Publisher>,
        policy: &TargetPolicy,
    ) -> Attempted {
        let dead = |kind: &str, reason: String| {
            Attempted::Done(
                Completion::Dead {
                    failure: Failure {
                        kind: kind.to_owned(),
                        reason,
                        status_code: None,
                    },
                },
                None,
            )
        };
        let Some(delivery) = delivery else {
            return dead("other", "stored payload cannot be read".to_owned());
        };
        let Some(publisher) = publisher else {
            return dead("config", format!("target {:?} is not defined", job.target));
        };
        if let Admit::Wait(wait) =
            self.shared
                .breakers
                .admit(&job.target, &policy.circuit_breaker, Instant::now())
        {
            return Attempted::Wait(wait, "circuit_open");
        }
        let started = Instant::now();
        let result = if delivery.action.is_notify() {
            publisher.publish(delivery).await
        } else {
            publisher.acknowledge(delivery).await
        };
        let observation = Observation {
            target: job.target.clone(),
            success: result.is_ok(),
            error_kind: result.as_ref().err().map(|e| e.kind().as_str().to_owned()),
            target_fault: result
                .as_ref()
                .err()
                .is_some_and(publish::PublishError::is_retryable),
            latency: started.elapsed(),
        };
        // The vendor asked to slow down for a bucket every job of the key shares (a Slack
        // channel): hold them all, not only this one.
        if let Err(err) = &result
            && let (Some(key), Some(wait)) = (err.rate_limit_key(), err.retry_after())
        {
            let wait = policy.retry.retry_after_wait(wait);
            self.shared.limiters.pause(key, Instant::now() + wait);
            debug!(target_name = %job.target, wait_ms = wait.as_millis() as u64, "rate-limit bucket paused for the vendor's retry-after");
        }
        let completion = match result {
            Ok(delivered) => Completion::Delivered {
                status_code: delivered.status_code,
                vendor_state: delivered.vendor_state.map(|v| v.to_string()),
            },
            Err(err) => {
                let failure = Failure {
                    kind: err.kind().as_str().to_owned(),
                    reason: err.reason().to_owned(),
                    status_code: err.status_code(),
                };
                let age = (Utc::now() - job.created_at).to_std().unwrap_or_default();
                if !err.is_retryable() {
                    Completion::Dead { failure }
                } else if !policy.retry.may_retry(job.attempt, age) {
                    let reason = format!(
                        "{GAVE_UP} {} attempts over {}s: {}",
                        job.attempt,
                        age.as_secs(),
                        failure.reason
                    );
                    Completion::Dead {
                        failure: Failure { reason, ..failure },
                    }
                } else {
                    let delay = policy.retry.delay(job.attempt, err.retry_after());
                    Completion::Retry {
                        at: Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default(),
                        failure,
                        vendor_state: err.vendor_state().map(ToString::to_string),
                    }
                }
            }
        };
        Attempted::Done(completion, Some(observation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Priority;

    fn limit(per_minute: u32, burst: u32) -> RateLimit {
        RateLimit {
            key: "slack:channel".to_owned(),
            per_minute,
            burst,
        }
    }

    #[test]
    fn a_higher_priority_job_goes_ahead_of_those_waiting() {
        let limiters = Limiters::default();
        let aging = crate::Aging::default();
        let order = |arrived: i64, p: Priority| arrived - p.boost(&aging).as_millis() as i64;
        // The burst goes at once; 30 info jobs then wait a period (500 ms) apart.
        assert_eq!(
            limiters.check(&limit(120, 1), 0, order(0, Priority::Low)),
            None
        );
        let waits: Vec<Duration> = (1..=30)
            .map(|id| {
                limiters
                    .check(&limit(120, 1), id, order(id, Priority::Low))
                    .unwrap()
            })
            .collect();
        assert!(waits.windows(2).all(|w| w[1] > w[0]), "{waits:?}");
        // A critical one arriving later takes the first slot; the others move back a period.
        let critical = limiters
            .check(&limit(120, 1), 100, order(100, Priority::High))
            .unwrap();
        assert!(
            critical <= waits[0] + Duration::from_millis(5),
            "{critical:?} vs {waits:?}"
        );
        let first_info = limiters
            .check(&limit(120, 1), 1, order(1, Priority::Low))
            .unwrap();
        assert!(
            first_info >= waits[0] + Duration::from_millis(450),
            "moved back: {first_info:?}"
        );
        // A medium one goes behind the critical one and ahead of the info ones.
        let medium = limiters
            .check(&limit(120, 1), 101, order(101, Priority::Medium))
            .unwrap();
        assert!(medium > critical && medium < first_info + Duration::from_millis(5));
        // Aging: a low job that arrived more than the medium boost (1 min) earlier goes ahead
        // of the medium one — still behind the critical one (boost 5 min).
        let old_low = limiters
            .check(&limit(120, 1), 102, order(-120_000, Priority::Low))
            .unwrap();
        assert!(
            old_low > critical && old_low <= medium + Duration::from_millis(5),
            "{old_low:?} between {critical:?} and {medium:?}"
        );
    }

    #[test]
    fn a_pause_holds_fresh_and_reserved_deliveries_of_the_bucket() {
        let limiters = Limiters::default();
        let l = limit(60, 1);
        assert_eq!(limiters.check(&l, 1, 1), None, "the burst goes at once");
        let reserved = limiters.check(&l, 2, 2).expect("job 2 gets a slot");
        assert!(reserved <= Duration::from_secs(1));
        // The vendor answered 429 with Retry-After: 5 s.
        limiters.pause(&l.key, Instant::now() + Duration::from_secs(5));
        let moved = limiters.check(&l, 2, 2).expect("job 2 waits for the pause");
        assert!(
            moved > Duration::from_millis(4900) && moved <= Duration::from_secs(5),
            "{moved:?}"
        );
        let fresh = limiters
            .check(&l, 3, 3)
            .expect("a fresh job waits behind it");
        assert!(fresh >= moved + Duration::from_millis(900), "{fresh:?}");
        // Another bucket is not held.
        let other = RateLimit {
            key: "slack:other".to_owned(),
            ..l.clone()
        };
        assert_eq!(limiters.check(&other, 4, 4), None);
        // A job that passed this bucket but waits for another keeps its place here.
        let held = limiters.check(&l, 5, 5).expect("the bucket is paused");
        limiters.hold(&l, 6);
        assert_eq!(
            limiters.check(&l, 6, 6),
            None,
            "held: passes once without paying"
        );
        assert!(limiters.check(&l, 6, 6).is_some(), "only once");
        assert!(held > Duration::ZERO);
        // A bucket nobody used is not created by a pause.
        limiters.pause("never", Instant::now() + Duration::from_secs(5));
        assert!(limiters.buckets.lock().unwrap().get("never").is_none());
    }
}
