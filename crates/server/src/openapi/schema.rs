//! Schemas of bodies that handlers build as JSON values (or that come from other crates):
//! these types describe them for the document and are never constructed. The fuzz run
//! (`cargo xtask schemathesis`) checks real answers against them.
#![allow(dead_code)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use utoipa::{
    IntoParams, PartialSchema, ToSchema,
    openapi::{OneOfBuilder, Ref, RefOr, Schema},
};

/// A label set with at least one label.
fn labels() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::Object)
        .additional_properties(Some(String::schema()))
        .min_properties(Some(1))
        .build()
}

/// The error envelope of every error answer.
#[derive(ToSchema)]
pub(crate) struct ErrorBody {
    pub(crate) error: ErrorDetail,
}

/// What went wrong.
#[derive(ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_payload`, `not_found`.
    pub(crate) code: String,
    /// What was wrong and what to do.
    pub(crate) message: String,
    /// The request's id (also in the `X-Request-Id` header).
    pub(crate) request_id: String,
    /// Structured details, for some codes.
    #[schema(value_type = Option<Object>)]
    pub(crate) details: Option<Value>,
}

/// Firing or resolved.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum AlertStatus {
    Firing,
    Resolved,
}

/// One alert of an Alertmanager webhook.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub(crate) struct WebhookAlert {
    pub(crate) status: AlertStatus,
    /// Identifying labels (at least one).
    #[schema(schema_with = labels)]
    pub(crate) labels: BTreeMap<String, String>,
    #[schema(required = false)]
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) starts_at: DateTime<Utc>,
    /// Go's zero time (`0001-01-01T00:00:00Z`) while the alert has not ended.
    pub(crate) ends_at: Option<DateTime<Utc>>,
    #[schema(rename = "generatorURL", required = false)]
    pub(crate) generator_url: String,
    /// Identity of the alert; derived from the labels when absent.
    #[schema(pattern = "^[0-9a-fA-F]{16}$")]
    pub(crate) fingerprint: Option<String>,
}

/// Alertmanager webhook payload, version 4. Unknown fields are ignored.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub(crate) struct AlertmanagerWebhook {
    /// `4`.
    #[schema(pattern = "^4$")]
    pub(crate) version: String,
    #[schema(required = false)]
    pub(crate) receiver: String,
    #[schema(required = false)]
    pub(crate) status: AlertStatus,
    pub(crate) alerts: Vec<WebhookAlert>,
    #[schema(required = false)]
    pub(crate) group_labels: BTreeMap<String, String>,
    #[schema(required = false)]
    pub(crate) common_labels: BTreeMap<String, String>,
    #[schema(required = false)]
    pub(crate) common_annotations: BTreeMap<String, String>,
    #[schema(rename = "externalURL", required = false)]
    pub(crate) external_url: String,
    #[schema(required = false)]
    pub(crate) group_key: String,
    #[schema(required = false)]
    pub(crate) truncated_alerts: u64,
}

/// An alert in the Prometheus API form. An `endsAt` in the past means resolved.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub(crate) struct ApiAlert {
    /// Identifying labels (at least one).
    #[schema(schema_with = labels)]
    pub(crate) labels: BTreeMap<String, String>,
    #[schema(required = false)]
    pub(crate) annotations: BTreeMap<String, String>,
    /// Now when absent.
    pub(crate) starts_at: Option<DateTime<Utc>>,
    pub(crate) ends_at: Option<DateTime<Utc>>,
    #[schema(rename = "generatorURL", required = false)]
    pub(crate) generator_url: String,
}

/// State of a job.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub(crate) enum JobState {
    Pending,
    InFlight,
    Done,
    Dead,
    Superseded,
}

/// Delivery priority (from the alert's severity).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum Priority {
    High,
    Medium,
    Low,
}

/// State of a target's circuit breaker.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub(crate) enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

/// Busy delivery workers.
#[derive(ToSchema)]
pub(crate) struct Workers {
    pub(crate) active: u64,
    pub(crate) concurrency: u64,
}

/// Job counts by state.
#[derive(ToSchema)]
pub(crate) struct QueueStats {
    pub(crate) pending: u64,
    pub(crate) in_flight: u64,
    pub(crate) done: u64,
    pub(crate) dead: u64,
    pub(crate) superseded: u64,
    /// Pending jobs by priority (`high`, `medium`, `low`).
    pub(crate) pending_by_priority: BTreeMap<String, u64>,
    pub(crate) workers: Workers,
    /// Target name → circuit state.
    pub(crate) circuit_breakers: BTreeMap<String, BreakerState>,
}

/// One delivery attempt.
#[derive(ToSchema)]
pub(crate) struct Attempt {
    /// 1-based.
    pub(crate) attempt: u32,
    pub(crate) at: DateTime<Utc>,
    /// `delivered`, `retry`, `dead` or `lease_lost`.
    pub(crate) outcome: String,
    pub(crate) status_code: Option<u16>,
    pub(crate) latency_ms: u64,
    pub(crate) error_kind: Option<String>,
    pub(crate) error: Option<String>,
}

/// A job (a dead letter is a job in state `dead`).
#[derive(ToSchema)]
pub(crate) struct Job {
    pub(crate) id: i64,
    pub(crate) target: String,
    pub(crate) fingerprint: String,
    pub(crate) alertname: String,
    pub(crate) status: AlertStatus,
    pub(crate) priority: Priority,
    pub(crate) state: JobState,
    pub(crate) attempts: u32,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) next_run_at: DateTime<Utc>,
    #[schema(required)]
    pub(crate) last_error_kind: Option<String>,
    #[schema(required)]
    pub(crate) last_error: Option<String>,
    #[schema(required)]
    pub(crate) last_status_code: Option<u16>,
    #[schema(required)]
    pub(crate) replayed_at: Option<DateTime<Utc>>,
    #[schema(required)]
    pub(crate) replayed_as: Option<i64>,
    /// Every attempt, oldest first (single-job answers only).
    pub(crate) history: Option<Vec<Attempt>>,
}

/// Jobs, newest first.
#[derive(ToSchema)]
pub(crate) struct JobList {
    pub(crate) jobs: Vec<Job>,
    pub(crate) count: u64,
}

/// Filters of the job and dead-letter lists.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct JobQuery {
    /// Only jobs in this state (ignored by the dead-letter list).
    pub(crate) state: Option<JobState>,
    /// Only this target's jobs.
    pub(crate) target: Option<String>,
    /// Only jobs whose last failure had this kind.
    pub(crate) error_kind: Option<String>,
    pub(crate) priority: Option<Priority>,
    /// Only jobs accepted at or after this time (RFC 3339).
    pub(crate) since: Option<DateTime<Utc>>,
    /// Only replayed (`true`) or not replayed (`false`) dead letters.
    pub(crate) replayed: Option<bool>,
    /// Default 100, at most 1000.
    pub(crate) limit: Option<u32>,
    pub(crate) offset: Option<u32>,
}

/// A durable delivery of one alert.
#[derive(ToSchema)]
pub(crate) struct SubmitRequest {
    pub(crate) alert: ApiAlert,
    /// Target names; without it the routing filters decide.
    pub(crate) targets: Option<Vec<String>>,
}

/// Jobs created by a submission.
#[derive(ToSchema)]
pub(crate) struct SubmitResponse {
    /// Ids of the stored jobs.
    pub(crate) jobs: Vec<i64>,
    pub(crate) targets: Vec<String>,
    pub(crate) deduplicated: u64,
}

/// Which dead letters to replay (at least one selector).
#[derive(ToSchema)]
pub(crate) struct ReplayRequest {
    pub(crate) ids: Option<Vec<i64>>,
    pub(crate) target: Option<String>,
    pub(crate) error_kind: Option<String>,
    pub(crate) priority: Option<Priority>,
    /// RFC 3339.
    pub(crate) since: Option<DateTime<Utc>>,
    pub(crate) limit: Option<u32>,
}

/// A replayed dead letter.
#[derive(ToSchema)]
pub(crate) struct Replayed {
    pub(crate) id: i64,
    pub(crate) new_job_id: i64,
}

/// A dead letter that was not replayed.
#[derive(ToSchema)]
pub(crate) struct Skipped {
    pub(crate) id: i64,
    pub(crate) reason: String,
}

/// What a replay did.
#[derive(ToSchema)]
pub(crate) struct ReplayResponse {
    pub(crate) replayed: Vec<Replayed>,
    pub(crate) skipped: Vec<Skipped>,
}

/// Filters of a purge.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PurgeQuery {
    /// Dead letters last changed before now minus this (`24h`; `0s`: all).
    #[param(pattern = "^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)?$")]
    pub(crate) older_than: String,
    pub(crate) target: Option<String>,
    pub(crate) error_kind: Option<String>,
}

/// How many dead letters were deleted.
#[derive(ToSchema)]
pub(crate) struct PurgeResponse {
    pub(crate) purged: u64,
}

/// Which targets a parallel publish skips.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub(crate) enum Strategy {
    SkipUnhealthy,
    PublishToAll,
    SkipUnhealthyAndDegraded,
}

/// A synchronous publish to several targets.
#[derive(ToSchema)]
pub(crate) struct ParallelRequest {
    pub(crate) alert: ApiAlert,
    /// Target names (only, and required, for `/parallel/targets`).
    pub(crate) targets: Option<Vec<String>>,
    pub(crate) strategy: Option<Strategy>,
    /// Per-target timeout (default `10s`).
    #[schema(pattern = "^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)?$")]
    pub(crate) timeout: Option<String>,
    /// Targets in flight at once (default 16).
    #[schema(minimum = 1)]
    pub(crate) concurrency: Option<u64>,
}

/// Health of a target.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum HealthStatus {
    Unknown,
    Healthy,
    Degraded,
    Unhealthy,
}

/// How one target fared in a parallel publish.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub(crate) enum TargetOutcome {
    Delivered,
    Failed,
    Skipped,
    Timeout,
}

/// The result for one target.
#[derive(ToSchema)]
pub(crate) struct TargetResult {
    pub(crate) target: String,
    pub(crate) outcome: TargetOutcome,
    pub(crate) health: HealthStatus,
    #[schema(required)]
    pub(crate) status_code: Option<u16>,
    pub(crate) latency_ms: u64,
    #[schema(required)]
    pub(crate) error_kind: Option<String>,
    #[schema(required)]
    pub(crate) error: Option<String>,
    #[schema(required)]
    pub(crate) retryable: Option<bool>,
}

/// Per-target results.
#[derive(ToSchema)]
pub(crate) struct ParallelReport {
    pub(crate) results: Vec<TargetResult>,
    pub(crate) succeeded: u64,
    pub(crate) failed: u64,
    pub(crate) skipped: u64,
    pub(crate) duration_ms: u64,
    /// False for a partial success.
    pub(crate) complete: bool,
}

/// At least one target delivered.
#[derive(ToSchema)]
pub(crate) struct ParallelResponse {
    pub(crate) success: bool,
    pub(crate) strategy: Strategy,
    pub(crate) report: ParallelReport,
}

/// Kind of target.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum TargetType {
    Webhook,
    Pagerduty,
    Slack,
    Rootly,
}

/// A target definition; header values, credential-like options and secret URL parts are
/// redacted.
#[derive(ToSchema)]
pub(crate) struct Target {
    pub(crate) name: String,
    #[schema(rename = "type")]
    pub(crate) kind: TargetType,
    pub(crate) url: String,
    pub(crate) enabled: bool,
    /// `webhook` targets: `alertmanager` or `webhook`; the vendor's name for the others.
    pub(crate) format: String,
    pub(crate) headers: BTreeMap<String, String>,
    #[schema(value_type = Object)]
    pub(crate) filter: Value,
    #[schema(value_type = Object)]
    pub(crate) options: Value,
    #[schema(value_type = Object)]
    pub(crate) delivery: Value,
    pub(crate) health: HealthStatus,
    pub(crate) circuit_breaker: BreakerState,
    /// Where it was defined: a file path or `namespace/secret`.
    pub(crate) source: String,
}

/// A definition that was skipped.
#[derive(ToSchema)]
pub(crate) struct InvalidTarget {
    pub(crate) source: String,
    pub(crate) error: String,
}

/// Filters of the target list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TargetQuery {
    #[param(rename = "type")]
    pub(crate) kind: Option<TargetType>,
    pub(crate) enabled: Option<bool>,
    /// Default 100, at most 1000.
    pub(crate) limit: Option<u32>,
    pub(crate) offset: Option<u32>,
}

/// Target definitions.
#[derive(ToSchema)]
pub(crate) struct TargetList {
    pub(crate) targets: Vec<Target>,
    /// Matching targets before `limit` and `offset`.
    pub(crate) total: u64,
    pub(crate) limit: u64,
    pub(crate) offset: u64,
    pub(crate) invalid: Vec<InvalidTarget>,
}

/// How the refreshes of one discovery source have gone.
#[derive(ToSchema)]
pub(crate) struct SourceStatus {
    /// `file` or `kubernetes`.
    pub(crate) source: String,
    pub(crate) last_refresh: Option<DateTime<Utc>>,
    pub(crate) next_refresh: Option<DateTime<Utc>>,
    pub(crate) last_duration_ms: Option<u64>,
    pub(crate) valid: u64,
    pub(crate) invalid: u64,
    pub(crate) last_error: Option<String>,
    pub(crate) consecutive_failures: u64,
    pub(crate) events: u64,
}

/// Where discovery stands.
#[derive(ToSchema)]
pub(crate) struct DiscoveryStatus {
    pub(crate) sources: Vec<SourceStatus>,
    pub(crate) valid: u64,
    pub(crate) invalid: u64,
    pub(crate) invalid_targets: Vec<InvalidTarget>,
}

/// A refresh was requested.
#[derive(ToSchema)]
pub(crate) struct RefreshAccepted {
    /// `refresh requested`.
    pub(crate) status: String,
}

/// Where a health result came from.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum CheckSource {
    Probe,
    Delivery,
}

/// What is known of one target's health.
#[derive(ToSchema)]
pub(crate) struct TargetHealth {
    pub(crate) target: String,
    pub(crate) status: HealthStatus,
    pub(crate) consecutive_failures: u32,
    /// 0–1; null without data.
    #[schema(required)]
    pub(crate) success_rate: Option<f64>,
    pub(crate) checks_in_window: u64,
    pub(crate) total_checks: u64,
    #[schema(required)]
    pub(crate) last_check: Option<DateTime<Utc>>,
    #[schema(required)]
    pub(crate) last_latency_ms: Option<u64>,
    #[schema(required)]
    pub(crate) last_source: Option<CheckSource>,
    #[schema(required)]
    pub(crate) last_error: Option<String>,
}

/// Health of every target.
#[derive(ToSchema)]
pub(crate) struct HealthList {
    pub(crate) targets: Vec<TargetHealth>,
    /// Status → number of targets.
    pub(crate) summary: BTreeMap<String, u64>,
}

/// Options of a test alert.
#[derive(ToSchema)]
pub(crate) struct TestRequest {
    /// Extra labels.
    #[schema(required = false)]
    pub(crate) labels: BTreeMap<String, String>,
    /// Extra annotations.
    #[schema(required = false)]
    pub(crate) annotations: BTreeMap<String, String>,
    /// `firing` (default) or `resolved`.
    pub(crate) status: Option<AlertStatus>,
}

/// Why a test delivery failed.
#[derive(ToSchema)]
pub(crate) struct TestError {
    pub(crate) kind: String,
    pub(crate) reason: String,
    pub(crate) retryable: bool,
}

/// Outcome of a test delivery.
#[derive(ToSchema)]
pub(crate) struct TestResult {
    pub(crate) target: String,
    pub(crate) success: bool,
    #[schema(required)]
    pub(crate) status_code: Option<u16>,
    pub(crate) latency_ms: u64,
    pub(crate) error: Option<TestError>,
}

/// The raw metrics snapshot.
#[derive(ToSchema)]
pub(crate) struct MetricsSnapshot {
    pub(crate) timestamp: DateTime<Utc>,
    pub(crate) collector_count: u64,
    pub(crate) collection_duration_ms: f64,
    /// `name{label="v",…}` → value.
    pub(crate) metrics: BTreeMap<String, f64>,
    /// Collector → why it produced nothing.
    pub(crate) errors: BTreeMap<String, String>,
}

/// Overall status.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum Status {
    Healthy,
    Degraded,
    Unhealthy,
}

/// Delivery attempts and outcomes since start.
#[derive(ToSchema)]
pub(crate) struct JobsStats {
    /// Attempts.
    pub(crate) processed: u64,
    /// Delivered.
    pub(crate) succeeded: u64,
    /// Retried plus dead-lettered attempts.
    pub(crate) failed: u64,
    pub(crate) retried: u64,
    pub(crate) dead_lettered: u64,
    /// succeeded / processed × 100 (100 without attempts).
    pub(crate) success_rate: f64,
}

/// Delivery latency (null quantiles without data).
#[derive(ToSchema)]
pub(crate) struct LatencyStats {
    pub(crate) count: u64,
    #[schema(required)]
    pub(crate) mean_ms: Option<f64>,
    #[schema(required)]
    pub(crate) p50_ms: Option<f64>,
    #[schema(required)]
    pub(crate) p95_ms: Option<f64>,
    #[schema(required)]
    pub(crate) p99_ms: Option<f64>,
}

/// Queue summary.
#[derive(ToSchema)]
pub(crate) struct QueueSummary {
    pub(crate) size: u64,
    pub(crate) by_priority: BTreeMap<String, u64>,
    pub(crate) in_flight: u64,
    pub(crate) dlq_size: u64,
    pub(crate) capacity: u64,
    /// Percent of the capacity.
    pub(crate) utilization: f64,
    pub(crate) jobs_submitted: u64,
}

/// Targets by health.
#[derive(ToSchema)]
pub(crate) struct HealthCounts {
    pub(crate) total_targets: u64,
    pub(crate) healthy: u64,
    pub(crate) degraded: u64,
    pub(crate) unhealthy: u64,
    pub(crate) unknown: u64,
}

/// The whole system.
#[derive(ToSchema)]
pub(crate) struct SystemStats {
    pub(crate) jobs: JobsStats,
    pub(crate) latency: LatencyStats,
    pub(crate) queue: QueueSummary,
    pub(crate) targets: HealthCounts,
    pub(crate) circuit_breakers_open: u64,
}

/// The health score and its components (each 0–1).
#[derive(ToSchema)]
pub(crate) struct HealthScore {
    /// 0–100.
    pub(crate) score: f64,
    pub(crate) status: Status,
    pub(crate) components: BTreeMap<String, f64>,
}

/// Publishing statistics (see docs/api.md for every section).
#[derive(ToSchema)]
pub(crate) struct StatsBody {
    pub(crate) timestamp: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub(crate) health: Value,
    #[schema(value_type = Object)]
    pub(crate) queue: Value,
    #[schema(value_type = Object)]
    pub(crate) refresh: Value,
    #[schema(value_type = Object)]
    pub(crate) discovery: Value,
    pub(crate) system: SystemStats,
    pub(crate) score: HealthScore,
    /// Target name → its statistics.
    #[schema(value_type = Object)]
    pub(crate) targets: Value,
    /// Collector → why it produced nothing.
    pub(crate) collection_errors: BTreeMap<String, String>,
}

/// Health of one target in the stats view.
#[derive(ToSchema)]
pub(crate) struct TargetStatsHealth {
    pub(crate) status: HealthStatus,
    /// 0–100; null without data.
    #[schema(required)]
    pub(crate) success_rate: Option<f64>,
    pub(crate) consecutive_failures: u64,
    #[schema(required)]
    pub(crate) latency_ms: Option<f64>,
    #[schema(required)]
    pub(crate) last_check: Option<DateTime<Utc>>,
}

/// Statistics of one target.
#[derive(ToSchema)]
pub(crate) struct TargetStatsBody {
    pub(crate) target_name: String,
    #[schema(rename = "type")]
    pub(crate) kind: String,
    /// Null when the target is no longer defined.
    #[schema(required)]
    pub(crate) enabled: Option<bool>,
    pub(crate) timestamp: DateTime<Utc>,
    pub(crate) health: TargetStatsHealth,
    pub(crate) jobs: JobsStats,
    pub(crate) latency: LatencyStats,
    pub(crate) dead_letters_by_reason: BTreeMap<String, u64>,
    pub(crate) circuit_breaker: BreakerState,
    /// This target's samples of the snapshot.
    pub(crate) metrics: BTreeMap<String, f64>,
}

/// The stats guide's 404 for an unknown target: the error envelope plus `target`.
#[derive(ToSchema)]
pub(crate) struct TargetNotFound {
    pub(crate) error: ErrorDetail,
    pub(crate) target: String,
}

/// One target's line of the health answer.
#[derive(ToSchema)]
pub(crate) struct HealthCheck {
    pub(crate) target: String,
    #[schema(rename = "type")]
    pub(crate) kind: String,
    pub(crate) status: HealthStatus,
    /// 0–100; null without data.
    #[schema(required)]
    pub(crate) success_rate: Option<f64>,
    pub(crate) consecutive_failures: u64,
    #[schema(required)]
    pub(crate) last_check: Option<DateTime<Utc>>,
    /// When known.
    pub(crate) latency_ms: Option<u64>,
    pub(crate) circuit_breaker: BreakerState,
}

/// Health of the publishing system.
#[derive(ToSchema)]
pub(crate) struct HealthBody {
    pub(crate) timestamp: DateTime<Utc>,
    pub(crate) status: Status,
    /// 0–100.
    pub(crate) score: f64,
    pub(crate) message: String,
    pub(crate) checks: Vec<HealthCheck>,
}

/// `503`: the health answer when not healthy, or the error envelope when the stats service
/// is not running.
pub(crate) struct HealthUnavailable;

impl utoipa::PartialSchema for HealthUnavailable {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(Ref::from_schema_name("HealthBody"))
            .item(Ref::from_schema_name("ErrorBody"))
            .into()
    }
}

impl ToSchema for HealthUnavailable {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((HealthBody::name().into_owned(), HealthBody::schema()));
        HealthBody::schemas(schemas);
        schemas.push((ErrorBody::name().into_owned(), ErrorBody::schema()));
        ErrorBody::schemas(schemas);
    }
}

/// Trends of the publishing system.
#[derive(ToSchema)]
pub(crate) struct TrendsBody {
    pub(crate) timestamp: DateTime<Utc>,
    /// Points analysed.
    pub(crate) samples: u64,
    pub(crate) interval_seconds: f64,
    /// `success_rate`, `latency`, `error_spike`, `queue_growth`.
    #[schema(value_type = Object)]
    pub(crate) trends: Value,
    pub(crate) summary: String,
    #[schema(value_type = Object)]
    pub(crate) thresholds: Value,
}
