//! The publishing API: queue, job history, dead letters, parallel publishing.

use axum::{
    Json, Router,
    extract::{Query, Request, State, rejection::QueryRejection},
    http::StatusCode,
    routing::{delete, get, post},
};
use chrono::{DateTime, Utc};
use publish::parallel::Strategy;
use queue::{JobFilter, JobState, Priority};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service::{ParallelOutcome, QueueStatus, Selection, SubmitReport};
use utoipa::{IntoParams, ToSchema};

use crate::{
    error::{ApiError, ErrorBody},
    extract::{PathParam, json_body},
    state::AppState,
};

/// Routes under `/api/v2/publishing`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/publishing/queue/stats", get(queue_stats))
        .route("/api/v2/publishing/queue/jobs", get(list_jobs))
        .route("/api/v2/publishing/queue/jobs/{id}", get(get_job))
        .route("/api/v2/publishing/queue/submit", post(submit))
        .route("/api/v2/publishing/dlq", get(list_dlq))
        .route("/api/v2/publishing/dlq/replay", post(replay_many))
        .route("/api/v2/publishing/dlq/purge", delete(purge))
        .route("/api/v2/publishing/dlq/{id}", get(get_dead))
        .route("/api/v2/publishing/dlq/{id}/replay", post(replay_one))
        .route(
            "/api/v2/publishing/alerts/{fingerprint}/acknowledge",
            post(acknowledge),
        )
        .route("/api/v2/publishing/parallel", post(parallel_go))
        .route(
            "/api/v2/publishing/parallel/targets",
            post(parallel_targets),
        )
        .route("/api/v2/publishing/parallel/status", get(parallel_status))
        .route("/api/v2/publishing/parallel/all", post(parallel_all))
        .route(
            "/api/v2/publishing/parallel/healthy",
            post(parallel_healthy),
        )
}

fn unavailable(e: queue::StoreError) -> ApiError {
    service::Error::store(&e).into()
}

/// Job counts by state, workers and circuit breakers
#[utoipa::path(
    get,
    path = "/api/v2/publishing/queue/stats",
    tag = "queue",
    responses(
        (status = 200, description = "Counts", body = QueueStatus),
        (status = 503, description = "`store_unavailable`: retry later", body = ErrorBody),
    )
)]
pub(crate) async fn queue_stats(
    State(state): State<AppState>,
) -> Result<Json<QueueStatus>, ApiError> {
    Ok(Json(state.service.queue_stats().await?))
}

/// Filters of the job and dead-letter lists.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct JobQuery {
    /// Only jobs in this state (ignored by the dead-letter list).
    #[param(value_type = Option<JobState>)]
    state: Option<String>,
    /// Only this target's jobs.
    target: Option<String>,
    /// Only jobs whose last failure had this kind.
    error_kind: Option<String>,
    #[param(value_type = Option<Priority>)]
    priority: Option<String>,
    /// Only jobs accepted at or after this time (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    since: Option<String>,
    /// Only replayed (`true`) or not replayed (`false`) dead letters.
    replayed: Option<bool>,
    /// Default 100, at most 1000.
    limit: Option<u32>,
    offset: Option<u32>,
}

/// Jobs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobList {
    /// Without `history`.
    jobs: Vec<queue::JobRecord>,
    count: usize,
}

fn parse_priority(p: &str) -> Result<Priority, ApiError> {
    match p {
        "high" => Ok(Priority::High),
        "medium" => Ok(Priority::Medium),
        "low" => Ok(Priority::Low),
        other => Err(ApiError::invalid(format!(
            "unknown priority {other:?} (expected high, medium or low)"
        ))),
    }
}

fn parse_time(field: &str, v: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ApiError::invalid(format!("{field}: invalid RFC 3339 timestamp {v:?}: {e}")))
}

impl JobQuery {
    fn filter(self, forced: Option<JobState>) -> Result<JobFilter, ApiError> {
        let state = match (forced, self.state) {
            (Some(s), _) => Some(s),
            (None, Some(s)) => Some(s.parse::<JobState>().map_err(ApiError::invalid)?),
            (None, None) => None,
        };
        Ok(JobFilter {
            state,
            target: self.target,
            error_kind: self.error_kind,
            priority: self.priority.as_deref().map(parse_priority).transpose()?,
            since: self
                .since
                .as_deref()
                .map(|s| parse_time("since", s))
                .transpose()?,
            replayed: self.replayed,
            limit: self.limit,
            offset: self.offset,
            ..Default::default()
        })
    }
}

async fn jobs(
    state: &AppState,
    query: Result<Query<JobQuery>, QueryRejection>,
    forced: Option<JobState>,
) -> Result<Json<JobList>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let filter = q.filter(forced)?;
    let jobs = state
        .service
        .store()
        .list(&filter)
        .await
        .map_err(unavailable)?;
    Ok(Json(JobList {
        count: jobs.len(),
        jobs,
    }))
}

/// Jobs, newest first
#[utoipa::path(
    get,
    path = "/api/v2/publishing/queue/jobs",
    tag = "queue",
    params(JobQuery),
    responses(
        (status = 200, description = "Jobs", body = JobList),
        (status = 400, description = "`invalid_payload`: a query parameter is wrong; the message names it", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = ErrorBody),
    )
)]
pub(crate) async fn list_jobs(
    State(state): State<AppState>,
    query: Result<Query<JobQuery>, QueryRejection>,
) -> Result<Json<JobList>, ApiError> {
    jobs(&state, query, None).await
}

/// Dead letters with their last error, newest first
#[utoipa::path(
    get,
    path = "/api/v2/publishing/dlq",
    tag = "dlq",
    params(JobQuery),
    responses(
        (status = 200, description = "Dead letters", body = JobList),
        (status = 400, description = "`invalid_payload`: a query parameter is wrong; the message names it", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = ErrorBody),
    )
)]
pub(crate) async fn list_dlq(
    State(state): State<AppState>,
    query: Result<Query<JobQuery>, QueryRejection>,
) -> Result<Json<JobList>, ApiError> {
    jobs(&state, query, Some(JobState::Dead)).await
}

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::invalid(format!("job id must be an integer (got {id:?})")))
}

/// One job with its attempt history
#[utoipa::path(
    get,
    path = "/api/v2/publishing/queue/jobs/{id}",
    tag = "queue",
    params(("id" = i64, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job with `history`", body = queue::JobRecord),
        (status = 400, description = "`invalid_payload`: the id is not an integer", body = ErrorBody),
        (status = 404, description = "`not_found`: no such job", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = ErrorBody),
    )
)]
pub(crate) async fn get_job(
    State(state): State<AppState>,
    PathParam(id): PathParam,
) -> Result<Json<queue::JobRecord>, ApiError> {
    let id = parse_id(&id)?;
    match state.service.store().get(id).await.map_err(unavailable)? {
        Some(job) => Ok(Json(job)),
        None => Err(ApiError::not_found(format!("no job {id}"))),
    }
}

/// One dead letter with its attempt history
#[utoipa::path(
    get,
    path = "/api/v2/publishing/dlq/{id}",
    tag = "dlq",
    params(("id" = i64, Path, description = "Job id")),
    responses(
        (status = 200, description = "The dead letter with `history`", body = queue::JobRecord),
        (status = 400, description = "`invalid_payload`: the id is not an integer", body = ErrorBody),
        (status = 404, description = "`not_found`: no such dead letter", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = ErrorBody),
    )
)]
pub(crate) async fn get_dead(
    State(state): State<AppState>,
    PathParam(id): PathParam,
) -> Result<Json<queue::JobRecord>, ApiError> {
    let id = parse_id(&id)?;
    match state.service.store().get(id).await.map_err(unavailable)? {
        Some(job) if job.state == JobState::Dead => Ok(Json(job)),
        _ => Err(ApiError::not_found(format!("no dead letter {id}"))),
    }
}

/// What a replay did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReplayResponse {
    replayed: Vec<Replayed>,
    skipped: Vec<Skipped>,
}

/// A replayed dead letter.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Replayed {
    id: i64,
    new_job_id: i64,
}

/// A dead letter that was not replayed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Skipped {
    id: i64,
    reason: String,
}

impl From<queue::ReplayReport> for ReplayResponse {
    fn from(report: queue::ReplayReport) -> Self {
        Self {
            replayed: report
                .replayed
                .into_iter()
                .map(|(id, new_job_id)| Replayed { id, new_job_id })
                .collect(),
            skipped: report
                .skipped
                .into_iter()
                .map(|(id, reason)| Skipped { id, reason })
                .collect(),
        }
    }
}

/// Replays one dead letter as a new pending job
#[utoipa::path(
    post,
    path = "/api/v2/publishing/dlq/{id}/replay",
    tag = "dlq",
    params(("id" = i64, Path, description = "Job id")),
    responses(
        (status = 200, description = "Replayed", body = ReplayResponse),
        (status = 400, description = "`invalid_payload`: the id is not an integer", body = ErrorBody),
        (status = 404, description = "`not_found`: no such dead letter, or it was replayed already", body = ErrorBody),
        (status = 409, description = "`replay_refused`: a newer notification for the same alert and target exists (a later job waiting, a newer dead letter, or one delivered after this one died); the message names it", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = ErrorBody),
    )
)]
pub(crate) async fn replay_one(
    State(state): State<AppState>,
    PathParam(id): PathParam,
) -> Result<Json<ReplayResponse>, ApiError> {
    let id = parse_id(&id)?;
    Ok(Json(state.service.replay_one(id).await?.into()))
}

/// Which dead letters to replay: every field narrows the selection; at least one of `ids`,
/// `target`, `error_kind`, `priority` and `since` is required. Without `ids`, `limit` (default
/// 1000, at most 10000) takes the newest.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayRequest {
    ids: Option<Vec<i64>>,
    target: Option<String>,
    error_kind: Option<String>,
    #[schema(value_type = Option<Priority>)]
    priority: Option<String>,
    /// RFC 3339.
    #[schema(value_type = Option<DateTime<Utc>>)]
    since: Option<String>,
    limit: Option<u32>,
}

/// Replays every matching dead letter
#[utoipa::path(
    post,
    path = "/api/v2/publishing/dlq/replay",
    tag = "dlq",
    request_body(content = ReplayRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "What was replayed and what was skipped, with reasons. Of the selected dead letters of one alert and target only the newest is replayed; the older ones are skipped and marked replayed", body = ReplayResponse),
        (status = 400, description = "`invalid_payload`: the body is wrong; the message names the field", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = ErrorBody),
    )
)]
pub(crate) async fn replay_many(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<ReplayResponse>, ApiError> {
    let r: ReplayRequest = json_body(req, state.max_body_bytes).await?;
    if r.ids.is_none()
        && r.target.is_none()
        && r.error_kind.is_none()
        && r.priority.is_none()
        && r.since.is_none()
    {
        return Err(ApiError::invalid(
            "name what to replay: ids, target, error_kind, priority or since",
        ));
    }
    let filter = JobFilter {
        ids: r.ids,
        target: r.target,
        error_kind: r.error_kind,
        priority: r.priority.as_deref().map(parse_priority).transpose()?,
        since: r
            .since
            .as_deref()
            .map(|s| parse_time("since", s))
            .transpose()?,
        limit: r.limit,
        ..Default::default()
    };
    Ok(Json(state.service.replay(&filter).await?.into()))
}

/// Filters of a purge.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PurgeQuery {
    /// Dead letters last changed before now minus this (`24h`; `0s`: all).
    #[param(
        required = true,
        pattern = "^([0-9]+(\\.[0-9]+)?(y|w|d|h|m|s|ms))+$|^[0-9]+(\\.[0-9]+)?$"
    )]
    older_than: Option<String>,
    target: Option<String>,
    error_kind: Option<String>,
}

/// How many dead letters were deleted.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PurgeResponse {
    purged: u64,
}

/// Deletes matching dead letters last changed before now minus `older_than`
#[utoipa::path(
    delete,
    path = "/api/v2/publishing/dlq/purge",
    tag = "dlq",
    params(PurgeQuery),
    responses(
        (status = 200, description = "How many were deleted", body = PurgeResponse),
        (status = 400, description = "`invalid_payload`: `older_than` is missing or not a duration, or a parameter is unknown", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = ErrorBody),
    )
)]
pub(crate) async fn purge(
    State(state): State<AppState>,
    query: Result<Query<PurgeQuery>, QueryRejection>,
) -> Result<Json<PurgeResponse>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let Some(older_than) = q.older_than else {
        return Err(ApiError::invalid(
            "older_than is required (for example 24h; 0s purges every matching dead letter)",
        ));
    };
    let age = publish::parse_duration(&older_than)
        .map_err(|e| ApiError::invalid(format!("older_than: {e}")))?;
    let before = chrono::Duration::from_std(age)
        .ok()
        .and_then(|age| Utc::now().checked_sub_signed(age))
        .ok_or_else(|| ApiError::invalid(format!("older_than: {older_than:?} is too large")))?;
    let filter = JobFilter {
        before: Some(before),
        target: q.target,
        error_kind: q.error_kind,
        ..Default::default()
    };
    let purged = state.service.purge(&filter).await?;
    Ok(Json(PurgeResponse { purged }))
}

/// An alert in any of the forms the API reads: the Prometheus API alert (ours), or the
/// original service's `Alert` or `EnrichedAlert` (`{"alert": …, "classification": …}`).
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only: the body is read by `service::compat::parse_alert`
pub(crate) enum AnyAlert {
    Api(publish::ApiAlert),
    Go(service::compat::GoAlert),
    Enriched(service::compat::EnrichedAlert),
}

/// A durable delivery of one alert.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubmitRequest {
    /// The alert (any form of [`AnyAlert`]).
    #[schema(value_type = AnyAlert)]
    alert: Value,
    /// Target names; without it (and without `target_name`) the routing filters decide.
    #[serde(default)]
    targets: Option<Vec<String>>,
    /// One target name (the original's field).
    #[serde(default)]
    target_name: Option<String>,
    /// The alert's classification (also read from an `EnrichedAlert`).
    #[serde(default)]
    classification: Option<publish::Classification>,
}

/// Submits one alert for durable delivery
///
/// Without `targets` the routing filters decide. Not subject to the repeat interval. The
/// answer carries the original's fields (`success`, `message`, `job_ids`) beside ours.
#[utoipa::path(
    post,
    path = "/api/v2/publishing/queue/submit",
    tag = "queue",
    request_body(content = SubmitRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Jobs stored", body = SubmitReport),
        (status = 400, description = "`invalid_payload`: the body is wrong; the message names the field", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 404, description = "`not_found`: unknown target", body = ErrorBody),
        (status = 422, description = "`target_disabled` or `no_matching_target`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = ErrorBody),
    )
)]
pub(crate) async fn submit(
    State(state): State<AppState>,
    req: Request,
) -> Result<(StatusCode, Json<SubmitReport>), ApiError> {
    let r: SubmitRequest = json_body(req, state.max_body_bytes).await?;
    let (alert, _) = service::compat::parse_alert(r.alert, r.classification)?;
    let targets = match (r.targets, r.target_name) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "give either targets or target_name, not both",
            ));
        }
        (Some(t), None) => Some(t),
        (None, Some(t)) => Some(vec![t]),
        (None, None) => None,
    };
    let report = state.service.submit(alert, targets.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, Json(report)))
}

/// A synchronous publish to several targets, in our form or the original's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ParallelRequest {
    /// The alert (any form of [`AnyAlert`]); an `EnrichedAlert` asks for the original's answer.
    #[schema(value_type = AnyAlert)]
    alert: Value,
    /// Target names (for `/parallel` and `/parallel/targets` only, and required there).
    #[serde(default)]
    targets: Option<Vec<String>>,
    /// Target names, the original's field: asks for the original's answer.
    #[serde(default)]
    target_names: Option<Vec<String>>,
    /// The alert's classification (also read from an `EnrichedAlert`).
    #[serde(default)]
    classification: Option<publish::Classification>,
    #[serde(default)]
    strategy: Option<Strategy>,
    /// Per-target timeout (default `10s`).
    #[serde(default)]
    #[schema(pattern = "^([0-9]+(\\.[0-9]+)?(y|w|d|h|m|s|ms))+$|^[0-9]+(\\.[0-9]+)?$")]
    timeout: Option<String>,
    /// Targets in flight at once (default 16).
    #[serde(default)]
    #[schema(minimum = 1)]
    concurrency: Option<usize>,
    /// The original's name for `concurrency`.
    #[serde(default)]
    #[schema(minimum = 1)]
    max_concurrent: Option<usize>,
    /// Start a target's delivery only when one of `concurrency` workers is free (default
    /// false: every delivery starts at once and `concurrency` of them proceed).
    #[serde(default)]
    use_worker_pool: Option<bool>,
    /// Skip targets whose circuit breaker is open (default true).
    #[serde(default)]
    respect_circuit_breakers: Option<bool>,
}

/// The answer of a parallel publish: ours, or the original's when the request was in its form.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum ParallelAnswer {
    Native(ParallelOutcome),
    Go(service::compat::GoPublishResponse),
}

/// A parallel publish failure in the original's terms: 400 `VALIDATION_ERROR`, 404
/// `NOT_FOUND`, and 500 `INTERNAL_ERROR` "Publish failed: …" when nothing was delivered.
fn go_error(e: service::Error) -> ApiError {
    use service::ErrorKind as K;
    let details = e.details.clone();
    let err = match e.kind {
        K::Invalid => ApiError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", e.message),
        K::NotFound => ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", e.message),
        K::AllFailed
        | K::Timeout
        | K::NoEnabledTargets
        | K::NoHealthyTargets
        | K::TargetDisabled => {
            let message = match (e.kind, &details) {
                (K::AllFailed | K::Timeout, Some(d)) => {
                    let n = |k: &str| d["report"][k].as_u64().unwrap_or(0);
                    format!(
                        "Publish failed: all targets failed: success_count=0, failure_count={}, skipped_count={}",
                        n("failed"),
                        n("skipped")
                    )
                }
                (K::NoEnabledTargets, _) => {
                    "Publish failed: no enabled targets available".to_owned()
                }
                (K::NoHealthyTargets, _) => {
                    "Publish failed: no healthy targets available".to_owned()
                }
                _ => format!("Publish failed: {}", e.message),
            };
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", message)
        }
        _ => return e.into(),
    };
    match details {
        Some(d) => err.with_details(d),
        None => err,
    }
}

async fn parallel(
    state: AppState,
    req: Request,
    selection: Selection,
    go_path: bool,
) -> Result<Json<ParallelAnswer>, ApiError> {
    let svc = &state.service;
    let started = std::time::Instant::now();
    let parsed: Result<ParallelRequest, ApiError> = json_body(req, state.max_body_bytes).await;
    let mut go = go_path;
    let request = parsed.and_then(|r| {
        go |= r.target_names.is_some();
        let (alert, shape) = service::compat::parse_alert(r.alert, r.classification)?;
        go |= shape == service::compat::Shape::Go;
        let targets = match (r.targets, r.target_names) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "give either targets or target_names, not both",
                ));
            }
            (t, None) | (None, t) => t,
        };
        if r.concurrency.is_some() && r.max_concurrent.is_some() {
            return Err(ApiError::invalid(
                "give either concurrency or max_concurrent, not both",
            ));
        }
        Ok(service::ParallelRequest {
            alert,
            targets,
            strategy: r.strategy,
            timeout: r
                .timeout
                .as_deref()
                .map(publish::parse_duration)
                .transpose()
                .map_err(|e| ApiError::invalid(format!("timeout: {e}")))?,
            concurrency: r.concurrency.or(r.max_concurrent),
            respect_circuit_breakers: r.respect_circuit_breakers,
            worker_pool: r.use_worker_pool,
        })
    });
    let request = match request {
        Ok(request) => request,
        Err(e) => {
            svc.parallel_rejected(selection, e.code());
            return Err(if go {
                ApiError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", e.message())
            } else {
                e
            });
        }
    };
    match svc.publish_parallel(selection, request).await {
        Ok(outcome) if go => Ok(Json(ParallelAnswer::Go(
            service::compat::GoPublishResponse::from_report(&outcome.report, started.elapsed()),
        ))),
        Ok(outcome) => Ok(Json(ParallelAnswer::Native(outcome))),
        Err(e) if go => Err(go_error(e)),
        Err(e) => Err(e.into()),
    }
}

/// The parallel endpoints differ only in path, summary and which targets they select.
macro_rules! parallel_endpoint {
    ($name:ident, $path:literal, $summary:literal, $selection:expr, $go:literal) => {
        #[doc = $summary]
        ///
        /// A request in the original's form (`target_names`, or an `EnrichedAlert` or Go `Alert`
        /// as `alert`) is answered in its form ([`service::compat::GoPublishResponse`]: 200 also
        /// for a partial success, with `success: false`; errors 400 `VALIDATION_ERROR`, 404
        /// `NOT_FOUND`, 500 `INTERNAL_ERROR` when nothing was delivered).
        #[utoipa::path(
            post,
            path = $path,
            tag = "parallel",
            request_body(content = ParallelRequest, content_type = "application/json"),
            responses(
                (status = 200, description = "Ours: at least one target delivered. The original's form: the fan-out ran", body = ParallelAnswer),
                (status = 400, description = "`invalid_payload` (`VALIDATION_ERROR`): the body is wrong; the message names the field", body = ErrorBody),
                (status = 413, description = "`payload_too_large`", body = ErrorBody),
                (status = 404, description = "`not_found` (`NOT_FOUND`): unknown target", body = ErrorBody),
                (status = 422, description = "`target_disabled` or `no_enabled_targets`", body = ErrorBody),
                (status = 500, description = "The original's form: `INTERNAL_ERROR`, nothing was delivered", body = ErrorBody),
                (status = 502, description = "`all_failed`: no target delivered; the report is in `error.details.report`", body = ErrorBody),
                (status = 503, description = "`no_healthy_targets` (the strategy skipped every target) or `cancelled` (shutdown)", body = ErrorBody),
                (status = 504, description = "`timeout`: the report is in `error.details.report`", body = ErrorBody),
            )
        )]
        pub(crate) async fn $name(
            State(state): State<AppState>,
            req: Request,
        ) -> Result<Json<ParallelAnswer>, ApiError> {
            parallel(state, req, $selection, $go).await
        }
    };
}

parallel_endpoint!(
    parallel_go,
    "/api/v2/publishing/parallel",
    "Publishes one alert now to each named target at once (the original's path; answers in the original's form)",
    Selection::Named,
    true
);
parallel_endpoint!(
    parallel_targets,
    "/api/v2/publishing/parallel/targets",
    "Publishes one alert now to each named target at once",
    Selection::Named,
    false
);
parallel_endpoint!(
    parallel_all,
    "/api/v2/publishing/parallel/all",
    "Publishes one alert now to every enabled target at once",
    Selection::All,
    false
);
parallel_endpoint!(
    parallel_healthy,
    "/api/v2/publishing/parallel/healthy",
    "Publishes one alert now to every healthy enabled target at once",
    Selection::Healthy,
    false
);

/// Parallel publishing's status: enabled targets and their health (the original's fields)
#[utoipa::path(
    get,
    path = "/api/v2/publishing/parallel/status",
    tag = "parallel",
    responses(
        (status = 200, description = "Status", body = service::compat::ParallelStatus),
    )
)]
pub(crate) async fn parallel_status(
    State(state): State<AppState>,
) -> Json<service::compat::ParallelStatus> {
    Json(state.service.parallel_status())
}

/// Acknowledges an alert at its PagerDuty targets
///
/// Queues `acknowledge` (with the dedup key the alert's trigger was accepted under) for each
/// enabled PagerDuty target that was sent the alert and not yet its resolve. It is a job of the
/// alert's own line: it goes after the alert's earlier notifications (never before its trigger),
/// is retried like them, and a later resolve replaces it while it waits.
#[utoipa::path(
    post,
    path = "/api/v2/publishing/alerts/{fingerprint}/acknowledge",
    tag = "queue",
    params(("fingerprint" = String, Path, description = "The alert's fingerprint (16 hex digits)")),
    responses(
        (status = 202, description = "Queued", body = service::AckReport),
        (status = 400, description = "`invalid_payload`: not a fingerprint", body = ErrorBody),
        (status = 404, description = "`not_found`: no PagerDuty target was sent the alert", body = ErrorBody),
        (status = 409, description = "`conflict`: the alert is resolved wherever it was sent", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = ErrorBody),
    )
)]
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    PathParam(fingerprint): PathParam,
) -> Result<(StatusCode, Json<service::AckReport>), ApiError> {
    let report = state.service.acknowledge(&fingerprint).await?;
    Ok((StatusCode::ACCEPTED, Json(report)))
}
