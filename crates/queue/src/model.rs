use std::{fmt, str::FromStr, time::Duration};

use chrono::{DateTime, Utc};
use publish::{Alert, AlertStatus, DeliveryAction, GroupContext};
use serde::{Deserialize, Serialize};

/// Delivery priority. Higher is claimed first; waiting time ages lower priorities up so
/// nothing starves (see [`Priority::boost`]).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Resolved alerts and `info`.
    Low = 0,
    /// Everything else.
    Medium = 1,
    /// Firing critical alerts.
    High = 2,
}

/// The no-starvation rule (`delivery.aging`): a job is ordered as if it had arrived earlier by
/// its priority's boost, everywhere jobs wait (the store's claim order, the in-memory hand-off,
/// a rate-limited target's queue). So a `low` job waits behind `medium` jobs arriving up to
/// `medium` after it and behind `high` jobs arriving up to `high` after it — then it goes
/// first. (A `medium` job waits behind `high` ones arriving up to `high` − `medium` after it.)
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields, default)]
pub struct Aging {
    /// Boost of `medium` jobs (default 1 min).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub medium: Duration,
    /// Boost of `high` jobs (default 5 min).
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub high: Duration,
}

impl Default for Aging {
    fn default() -> Self {
        Self {
            medium: Duration::from_secs(60),
            high: Duration::from_secs(300),
        }
    }
}

impl Priority {
    /// The priority of an alert: high for firing critical, low for resolved or info.
    pub fn of(alert: &Alert) -> Self {
        let severity = alert.severity();
        let severity = severity.as_deref();
        match (alert.status, severity) {
            (AlertStatus::Resolved, _) | (_, Some("info" | "none")) => Priority::Low,
            (AlertStatus::Firing, Some("critical" | "page" | "emergency")) => Priority::High,
            _ => Priority::Medium,
        }
    }

    /// How much earlier than its arrival a job of this priority is ordered, under `aging`.
    pub fn boost(self, aging: &Aging) -> Duration {
        match self {
            Priority::High => aging.high,
            Priority::Medium => aging.medium,
            Priority::Low => Duration::ZERO,
        }
    }

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }

    pub(crate) fn from_i64(v: i64) -> Self {
        match v {
            2 => Priority::High,
            1 => Priority::Medium,
            _ => Priority::Low,
        }
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its `next_run_at` (and for earlier jobs of the same alert and target).
    Pending,
    /// Claimed by a worker under a lease.
    InFlight,
    /// Delivered.
    Done,
    /// Given up: permanent failure or retries exhausted (the dead-letter queue).
    Dead,
    /// Replaced by a newer notification for the same alert and target before it was sent.
    Superseded,
}

impl JobState {
    /// Every state.
    pub const ALL: [JobState; 5] = [
        JobState::Pending,
        JobState::InFlight,
        JobState::Done,
        JobState::Dead,
        JobState::Superseded,
    ];

    /// Stored / label form.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::InFlight => "in_flight",
            JobState::Done => "done",
            JobState::Dead => "dead",
            JobState::Superseded => "superseded",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown job state {s:?} (expected pending, in_flight, done, dead or superseded)"))
    }
}

/// What a job carries: the alert and the group it came in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPayload {
    /// The alert.
    pub alert: Alert,
    /// Its group.
    pub context: GroupContext,
    /// Notify (the default, left out of the stored JSON) or acknowledge.
    #[serde(default, skip_serializing_if = "DeliveryAction::is_notify")]
    pub action: DeliveryAction,
}

/// A job to add.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Target name.
    pub target: String,
    /// The alert and its group.
    pub payload: JobPayload,
    /// Ordering priority.
    pub priority: Priority,
    /// An unchanged firing alert is not sent again to this target before this much time.
    pub repeat_interval: Duration,
    /// Which receipt (an index into the receipts enqueued with it) records the notification
    /// this job delivers; `None`: not recorded in the history.
    pub receipt: Option<usize>,
}

impl NewJob {
    /// A job for `alert` to `target`, priority from the alert.
    pub fn new(
        target: impl Into<String>,
        alert: Alert,
        context: GroupContext,
        repeat_interval: Duration,
    ) -> Self {
        let priority = Priority::of(&alert);
        Self {
            target: target.into(),
            payload: JobPayload {
                alert,
                context,
                action: DeliveryAction::Notify,
            },
            priority,
            repeat_interval,
            receipt: None,
        }
    }

    /// A job acknowledging `alert` at `target`: ordered after the pair's earlier jobs (a
    /// trigger still waiting goes first), never deduplicated, and replacing nothing; a later
    /// notification of the alert replaces it while it waits. High priority.
    pub fn acknowledge(target: impl Into<String>, alert: Alert, context: GroupContext) -> Self {
        Self {
            target: target.into(),
            payload: JobPayload {
                alert,
                context,
                action: DeliveryAction::Acknowledge,
            },
            priority: Priority::High,
            repeat_interval: Duration::ZERO,
            receipt: None,
        }
    }

    /// The same job, recorded by receipt `index` of those enqueued with it.
    pub fn with_receipt(mut self, index: usize) -> Self {
        self.receipt = Some(index);
        self
    }

    /// Whether it notifies (not an acknowledgement).
    pub fn notifies(&self) -> bool {
        self.payload.action.is_notify()
    }
}

/// What [`crate::JobStore::enqueue`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EnqueueReport {
    /// Jobs added.
    pub inserted: usize,
    /// Unchanged notifications within the repeat interval: nothing to do.
    pub deduplicated: usize,
    /// Older waiting jobs replaced by the new ones.
    pub superseded: usize,
    /// Ids of the jobs added.
    #[serde(skip)]
    pub ids: Vec<i64>,
    /// Ids of the receipts recorded, in the order given.
    #[serde(skip)]
    pub receipts: Vec<i64>,
    /// The three counts by priority of the job submitted (for superseded: of the job that
    /// replaced them): `[priority as usize][inserted, deduplicated, superseded]`.
    #[serde(skip)]
    pub by_priority: [[usize; 3]; 3],
}

/// Which count of an [`EnqueueReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submission {
    /// A job added.
    Inserted = 0,
    /// Nothing to do.
    Deduplicated = 1,
    /// Older waiting jobs replaced.
    Superseded = 2,
}

impl EnqueueReport {
    /// Adds `n` to one count, for a job of `priority`.
    pub fn count(&mut self, priority: Priority, what: Submission, n: usize) {
        match what {
            Submission::Inserted => self.inserted += n,
            Submission::Deduplicated => self.deduplicated += n,
            Submission::Superseded => self.superseded += n,
        }
        self.by_priority[priority as usize][what as usize] += n;
    }
}

/// What a dead-letter replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// (dead job, new pending job) pairs.
    pub replayed: Vec<(i64, i64)>,
    /// Dead jobs not replayed, with the reason.
    pub skipped: Vec<(i64, String)>,
    /// The target of each dead job looked at (for the metrics).
    #[serde(skip)]
    pub targets: std::collections::BTreeMap<i64, String>,
}

impl ReplayReport {
    /// Counts the replayed and refused dead letters in the metrics, by target.
    pub fn record(&self) {
        let target = |id: &i64| self.targets.get(id).map_or("", String::as_str);
        crate::metrics::record_replays(
            self.replayed.iter().map(|(id, _)| target(id)),
            self.skipped
                .iter()
                .filter(|(id, _)| self.targets.contains_key(id))
                .map(|(id, _)| target(id)),
        );
    }
}

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Job {
    /// Id.
    pub id: i64,
    /// Stable key of this delivery (idempotency key at the target).
    pub delivery_key: String,
    /// Target name.
    pub target: String,
    /// Alert fingerprint.
    pub fingerprint: String,
    /// Firing or resolved.
    pub status: AlertStatus,
    /// Priority.
    pub priority: Priority,
    /// Attempt number of this claim (1 for the first).
    pub attempt: u32,
    /// When the job was accepted.
    pub created_at: DateTime<Utc>,
    /// Claim order: `created_at` minus the priority boost (ms).
    pub sort_key: i64,
    /// JSON of [`JobPayload`].
    pub payload: String,
    /// Vendor state of (target, fingerprint), JSON.
    pub vendor_state: Option<String>,
}

/// A failure as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Bounded kind (`publish::ErrorKind` label form).
    pub kind: String,
    /// Reason, free of secrets.
    pub reason: String,
    /// HTTP status, when there was an answer.
    pub status_code: Option<u16>,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum Completion {
    /// Delivered.
    Delivered {
        /// Status the target answered.
        status_code: Option<u16>,
        /// New vendor state to keep, if any (JSON).
        vendor_state: Option<String>,
    },
    /// Try again at `at`.
    Retry {
        /// When.
        at: DateTime<Utc>,
        /// Why.
        failure: Failure,
        /// Vendor state to keep for the retry (JSON): what the failed attempt did achieve (a
        /// message already updated before its thread reply was refused). `None` leaves it.
        vendor_state: Option<String>,
    },
    /// Give up; the job becomes a dead letter.
    Dead {
        /// Why.
        failure: Failure,
    },
}

/// A finished attempt waiting to be recorded.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The job.
    pub job: Job,
    /// How it ended.
    pub completion: Completion,
    /// How long the attempt took.
    pub latency: Duration,
}

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    /// 1-based attempt number.
    pub attempt: u32,
    /// When it ended.
    pub at: DateTime<Utc>,
    /// delivered, retry or dead.
    pub outcome: String,
    /// HTTP status, if any.
    pub status_code: Option<u16>,
    /// How long the attempt took.
    pub latency_ms: u64,
    /// Failure kind, if it failed.
    pub error_kind: Option<String>,
    /// Failure reason, if it failed.
    pub error: Option<String>,
}

/// A job as shown by the API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobRecord {
    /// Id.
    pub id: i64,
    /// Target name.
    pub target: String,
    /// Alert fingerprint.
    pub fingerprint: String,
    /// `alertname` of the alert.
    pub alertname: String,
    /// firing / resolved.
    pub status: AlertStatus,
    /// Priority.
    pub priority: Priority,
    /// State.
    pub state: JobState,
    /// Attempts made.
    pub attempts: u32,
    /// Accepted at.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Next attempt (pending jobs).
    pub next_run_at: DateTime<Utc>,
    /// Last failure kind.
    #[schema(required)]
    pub last_error_kind: Option<String>,
    /// Last failure reason.
    #[schema(required)]
    pub last_error: Option<String>,
    /// Last HTTP status.
    #[schema(required)]
    pub last_status_code: Option<u16>,
    /// When this dead letter was replayed.
    #[schema(required)]
    pub replayed_at: Option<DateTime<Utc>>,
    /// The job created by the replay. For a dead letter superseded by a newer one of its alert
    /// (see `superseded_by`): the replay of that newer one, which was sent in its place.
    #[schema(required)]
    pub replayed_as: Option<i64>,
    /// The newer job of the same alert and target that made this one obsolete: for a
    /// superseded job, the one that replaced it while it waited; for a dead letter, the newer
    /// dead letter replayed in its place.
    #[schema(required)]
    pub superseded_by: Option<i64>,
    /// Every attempt, oldest first (only in single-job answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<Attempt>>,
    /// The alert and group it carries (not part of the API's answer).
    #[serde(skip)]
    pub payload: Option<JobPayload>,
}

/// Which jobs to list, replay or purge. Every field narrows the selection.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only this state.
    pub state: Option<JobState>,
    /// Only this target.
    pub target: Option<String>,
    /// Only this alert (fingerprint).
    pub fingerprint: Option<String>,
    /// Only this last error kind.
    pub error_kind: Option<String>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only jobs last changed at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Only jobs last changed before this.
    pub before: Option<DateTime<Utc>>,
    /// Only replayed (true) or not yet replayed (false) dead letters.
    pub replayed: Option<bool>,
    /// Only these ids (replay).
    pub ids: Option<Vec<i64>>,
    /// At most this many (newest first); default 100.
    pub limit: Option<u32>,
    /// Skip this many.
    pub offset: Option<u32>,
}

/// Counts by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct QueueStats {
    /// Waiting, by priority (`high`, `medium`, `low`).
    pub pending_by_priority: std::collections::BTreeMap<String, u64>,
    /// Waiting.
    pub pending: u64,
    /// Claimed: being delivered, or handed off at enqueue and waiting in memory for a worker.
    pub in_flight: u64,
    /// Delivered.
    pub done: u64,
    /// Dead letters.
    pub dead: u64,
    /// Dead letters by target.
    pub dead_by_target: std::collections::BTreeMap<String, u64>,
    /// Replaced before delivery.
    pub superseded: u64,
}

/// One stored sample of a time series the service keeps across restarts (the stats service's
/// trend history): when it was taken and the sample itself, a JSON document the store does not
/// look into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSample {
    /// When the sample was taken (stored to the millisecond; one sample per series and time).
    pub at: DateTime<Utc>,
    /// The sample, as JSON.
    pub body: String,
}
