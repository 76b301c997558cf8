//! Durable delivery for Alert Publisher.
//!
//! The [`JobStore`] trait holds jobs — one alert (by fingerprint) for one target — with their
//! state, priority, attempts, `next_run_at` and lease; [`SqlStore`] (SQLite, the embedded default, or PostgreSQL shared
//! by replicas) implements it.
//! The [`Engine`] claims due jobs, delivers them through the [`publish::Publisher`] trait, and
//! records the outcome: delivered, retry later (exponential backoff with jitter, `Retry-After`
//! honoured, stored in the row rather than slept in memory) or dead, with the reason.
//!
//! Ordering: a job is claimable only when no earlier job for the same (target, fingerprint) is
//! still pending or in flight, so a resolve never overtakes its firing. A newer notification
//! supersedes an older one still waiting. Notification state per (target, fingerprint) turns an
//! unchanged re-sent alert into a no-op until the repeat interval passes.
//!
//! With its jobs, enqueue may record a receipt per alert ([`NewReceipt`]: where it came from,
//! which targets filtered it out and why, which deduplicated it); [`JobStore::history`] lists
//! notifications newest first and [`JobStore::story`] tells one alert's whole story.
//!
//! The store also keeps small time series for the service (the stats service's trend history,
//! [`JobStore::append_sample`] and [`JobStore::samples`]), so they survive restarts.
//!
//! [`DeliverySettings`] is the `delivery:` section of the service configuration; it builds the
//! [`EngineConfig`], the [`StoreOptions`] and the default [`TargetPolicy`].
//!
//! **Invariant:** talks to publishers only through the `Publisher` trait; knows no HTTP API.

mod breaker;
mod counts;
mod engine;
mod handoff;
mod history;
pub mod metrics;
mod model;
mod policy;
mod settings;
mod sql;
mod store;

pub use breaker::{BreakerConfig, BreakerState};
pub use engine::{DeliveryObserver, Engine, EngineConfig, EngineHandle, Observation, Publishers};
pub use handoff::{Handoff, Ready};
pub use history::{
    AlertStory, Cursor, DEFAULT_LIMIT, DeliveryState, DeliveryStory, FilteredTarget, HistoryFilter,
    HistoryPage, MAX_LIMIT, NewReceipt, Notification, NotificationStory, STORY_LIMIT,
    TargetDelivery,
};
pub use model::{
    Aging, Attempt, Completion, EnqueueReport, Failure, Finished, Job, JobFilter, JobPayload,
    JobRecord, JobState, NewJob, Priority, QueueStats, ReplayReport, StoredSample, Submission,
};
pub use policy::{RateLimitConfig, RetryPolicy, TargetPolicy};
pub use settings::DeliverySettings;
pub use sql::{Dialect, SqlStore, StoreOptions};
pub use store::{JobStore, StoreError};
