use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    AlertStory, Completion, EnqueueReport, Finished, HistoryFilter, HistoryPage, Job, JobFilter,
    JobRecord, NewJob, NewReceipt, QueueStats, ReplayReport, StoredSample,
};

/// The store could not do what was asked. Ingest answers 503 on this, so the sender retries.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("job store: {0}")]
    Database(#[from] sqlx::Error),
    /// The database file is damaged.
    #[error(
        "job store is damaged: {0}; restore it from a backup or move it aside (nothing was changed)"
    )]
    Corrupt(String),
    /// Schema migration failed.
    #[error("job store migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The shared transaction this request was part of failed.
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
    /// A payload could not be encoded.
    #[error("job store: cannot encode payload: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Durable jobs. Every method is atomic.
#[async_trait]
pub trait JobStore: Send + Sync + std::fmt::Debug {
    /// Adds jobs in one transaction: all are committed, or none. Applies the notification
    /// state (skips an unchanged notification inside its repeat interval) and supersedes older
    /// waiting jobs of the same (target, fingerprint).
    async fn enqueue(
        &self,
        jobs: Vec<NewJob>,
        now: DateTime<Utc>,
    ) -> Result<EnqueueReport, StoreError>;

    /// [`JobStore::enqueue`], recording `receipts` (one per alert received) in the same
    /// transaction: each job names its receipt by index ([`NewJob::receipt`]), and a receipt
    /// lists the targets whose job was deduplicated. The report's `receipts` holds their ids.
    /// A store without a history ignores the receipts.
    async fn enqueue_with_receipts(
        &self,
        receipts: Vec<NewReceipt>,
        jobs: Vec<NewJob>,
        now: DateTime<Utc>,
    ) -> Result<EnqueueReport, StoreError> {
        let _ = receipts;
        self.enqueue(jobs, now).await
    }

    /// Notifications matching `filter`, newest first, one page.
    async fn history(&self, filter: &HistoryFilter) -> Result<HistoryPage, StoreError>;

    /// Everything recorded of the alert `fingerprint`: its newest notifications with every
    /// delivery and attempt. `None` when nothing is.
    async fn story(&self, fingerprint: &str) -> Result<Option<AlertStory>, StoreError>;

    /// Claims up to `limit` due jobs under a lease, highest priority (with ageing) first, never
    /// a job that has an earlier pending or in-flight job for the same (target, fingerprint).
    async fn claim(
        &self,
        limit: usize,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<Job>, StoreError> {
        self.claim_ahead_of(limit, now, lease, None).await
    }

    /// [`JobStore::claim`], limited to jobs whose claim order key is at most `before` (the jobs
    /// that go ahead of those waiting in the hand-off buffer).
    async fn claim_ahead_of(
        &self,
        limit: usize,
        now: DateTime<Utc>,
        lease: Duration,
        before: Option<i64>,
    ) -> Result<Vec<Job>, StoreError>;

    /// From now on, enqueue writes jobs that may go at once as claimed by this process and
    /// hands them to `handoff` after commit. A store without the ability ignores it.
    fn attach_handoff(&self, _handoff: std::sync::Arc<crate::Handoff>) {}

    /// Stops handing jobs to `handoff` (when it is the one attached): its engine stopped, and
    /// jobs written as claimed for it would wait for their lease.
    fn detach_handoff(&self, _handoff: &std::sync::Arc<crate::Handoff>) {}

    /// Records how an attempt ended (and the attempt itself). Returns false when the job was no
    /// longer in flight (its lease expired and someone else took it).
    async fn complete(
        &self,
        job: &Job,
        completion: Completion,
        latency: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Records many outcomes in one transaction (group commit: one sync for a batch of
    /// deliveries). Returns, per item, what [`JobStore::complete`] would.
    async fn complete_many(
        &self,
        items: &[Finished],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        let mut out = Vec::with_capacity(items.len());
        for f in items {
            out.push(
                self.complete(&f.job, f.completion.clone(), f.latency, now)
                    .await?,
            );
        }
        Ok(out)
    }

    /// Hands a claimed job back without counting an attempt, to run again at `at` (used when a
    /// proactive rate limit says "not yet").
    async fn defer(
        &self,
        job: &Job,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Puts in-flight jobs back to pending: those whose lease expired before `now`, or all of
    /// them when `all` (at start-up of a single-process store). Returns how many.
    async fn requeue_in_flight(&self, now: DateTime<Utc>, all: bool) -> Result<u64, StoreError>;

    /// Whether this process is the only user of the store (then every in-flight job at
    /// start-up was abandoned by a crash and can be requeued at once).
    fn exclusive(&self) -> bool;

    /// When the earliest claimable job becomes due, if any.
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Counts by state.
    async fn stats(&self) -> Result<QueueStats, StoreError>;

    /// Jobs matching a filter, newest first.
    async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, StoreError>;

    /// One job with its attempt history.
    async fn get(&self, id: i64) -> Result<Option<JobRecord>, StoreError>;

    /// Replays dead letters matching `filter` (or `filter.ids`; without ids, the newest
    /// `filter.limit`): each becomes a new pending job with the same payload and delivery key,
    /// and is marked replayed.
    ///
    /// The newest dead letter of an alert and target wins. A dead letter is skipped, with the
    /// reason, when a newer notification of the same alert and target exists: a later job
    /// waiting or in flight, a later notification that is a dead letter not replayed yet, or a
    /// later one delivered after it died; sending it would overwrite a newer status. Among the
    /// selected dead letters of one alert and target only the newest notification is replayed
    /// (with any later acknowledgement); the older ones are marked replayed, with
    /// `replayed_as` naming that replay and `superseded_by` the newer dead letter, so they are
    /// not offered again. Verdicts are reached before anything is written: a replay made by
    /// this call never counts as newer than the dead letters it supersedes.
    async fn replay(
        &self,
        filter: &JobFilter,
        now: DateTime<Utc>,
    ) -> Result<ReplayReport, StoreError>;

    /// Deletes dead letters matching `filter` (with their history). Returns how many.
    async fn purge(&self, filter: &JobFilter) -> Result<u64, StoreError>;

    /// Retention: deletes done and superseded jobs last changed before `finished_before`, and
    /// dead letters before `dead_before`, with their history. Returns how many jobs.
    async fn sweep(
        &self,
        finished_before: DateTime<Utc>,
        dead_before: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Whether the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Appends `sample` to the time series `series` (replacing a sample of the same series
    /// taken at the same millisecond) and deletes the series' samples taken before
    /// `keep_after`, in one transaction: the series stays bounded without a sweep of its own.
    async fn append_sample(
        &self,
        series: &str,
        sample: &StoredSample,
        keep_after: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The samples of `series` taken at or after `since`, oldest first.
    async fn samples(
        &self,
        series: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<StoredSample>, StoreError>;
}
