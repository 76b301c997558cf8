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
use serde::Deserialize;
use serde_json::{Value, json};
use service::{ParallelOutcome, QueueStatus, Selection, SubmitReport};

use crate::{
    error::ApiError,
    extract::{PathParam, json_body},
    router::AppState,
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
            "/api/v2/publishing/parallel/targets",
            post(parallel_targets),
        )
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
        (status = 200, description = "Counts", body = crate::openapi::schema::QueueStats),
        (status = 503, description = "`store_unavailable`: retry later", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn queue_stats(
    State(state): State<AppState>,
) -> Result<Json<QueueStatus>, ApiError> {
    Ok(Json(state.service.queue_stats().await?))
}

/// Query parameters of the job and dead-letter lists.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobQuery {
    state: Option<String>,
    target: Option<String>,
    error_kind: Option<String>,
    priority: Option<String>,
    since: Option<String>,
    replayed: Option<bool>,
    limit: Option<u32>,
    offset: Option<u32>,
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
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let filter = q.filter(forced)?;
    let jobs = state
        .service
        .store()
        .list(&filter)
        .await
        .map_err(unavailable)?;
    Ok(Json(json!({ "jobs": jobs, "count": jobs.len() })))
}

/// Jobs, newest first
#[utoipa::path(
    get,
    path = "/api/v2/publishing/queue/jobs",
    tag = "queue",
    params(crate::openapi::schema::JobQuery),
    responses(
        (status = 200, description = "Jobs", body = crate::openapi::schema::JobList),
        (status = 400, description = "`invalid_payload`: a query parameter is wrong; the message names it", body = crate::openapi::schema::ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn list_jobs(
    State(state): State<AppState>,
    query: Result<Query<JobQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    jobs(&state, query, None).await
}

/// Dead letters with their last error, newest first
#[utoipa::path(
    get,
    path = "/api/v2/publishing/dlq",
    tag = "dlq",
    params(crate::openapi::schema::JobQuery),
    responses(
        (status = 200, description = "Dead letters", body = crate::openapi::schema::JobList),
        (status = 400, description = "`invalid_payload`: a query parameter is wrong; the message names it", body = crate::openapi::schema::ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn list_dlq(
    State(state): State<AppState>,
    query: Result<Query<JobQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
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
        (status = 200, description = "The job with `history`", body = crate::openapi::schema::Job),
        (status = 400, description = "`invalid_payload`: the id is not an integer", body = crate::openapi::schema::ErrorBody),
        (status = 404, description = "`not_found`: no such job", body = crate::openapi::schema::ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = crate::openapi::schema::ErrorBody),
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
        (status = 200, description = "The dead letter with `history`", body = crate::openapi::schema::Job),
        (status = 400, description = "`invalid_payload`: the id is not an integer", body = crate::openapi::schema::ErrorBody),
        (status = 404, description = "`not_found`: no such dead letter", body = crate::openapi::schema::ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = crate::openapi::schema::ErrorBody),
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

fn replay_json(report: &queue::ReplayReport) -> Value {
    json!({
        "replayed": report.replayed.iter().map(|(id, new)| json!({"id": id, "new_job_id": new})).collect::<Vec<_>>(),
        "skipped": report.skipped.iter().map(|(id, why)| json!({"id": id, "reason": why})).collect::<Vec<_>>(),
    })
}

/// Replays one dead letter as a new pending job
#[utoipa::path(
    post,
    path = "/api/v2/publishing/dlq/{id}/replay",
    tag = "dlq",
    params(("id" = i64, Path, description = "Job id")),
    responses(
        (status = 200, description = "Replayed", body = crate::openapi::schema::ReplayResponse),
        (status = 400, description = "`invalid_payload`: the id is not an integer", body = crate::openapi::schema::ErrorBody),
        (status = 404, description = "`not_found`: no such dead letter, or it was replayed already", body = crate::openapi::schema::ErrorBody),
        (status = 409, description = "`replay_refused`: a newer notification for the same alert and target exists", body = crate::openapi::schema::ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn replay_one(
    State(state): State<AppState>,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let report = state.service.replay_one(id).await?;
    Ok(Json(replay_json(&report)))
}

/// Body of a bulk replay: every field narrows the selection; at least one is required.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    ids: Option<Vec<i64>>,
    target: Option<String>,
    error_kind: Option<String>,
    priority: Option<String>,
    since: Option<String>,
    limit: Option<u32>,
}

/// Replays every matching dead letter
#[utoipa::path(
    post,
    path = "/api/v2/publishing/dlq/replay",
    tag = "dlq",
    request_body(content = crate::openapi::schema::ReplayRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "What was replayed and what was skipped, with reasons", body = crate::openapi::schema::ReplayResponse),
        (status = 400, description = "`invalid_payload`: the body is wrong; the message names the field", body = crate::openapi::schema::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::openapi::schema::ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn replay_many(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
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
    let report = state.service.replay(&filter).await?;
    Ok(Json(replay_json(&report)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PurgeQuery {
    older_than: Option<String>,
    target: Option<String>,
    error_kind: Option<String>,
}

/// Deletes matching dead letters last changed before now minus `older_than`
#[utoipa::path(
    delete,
    path = "/api/v2/publishing/dlq/purge",
    tag = "dlq",
    params(crate::openapi::schema::PurgeQuery),
    responses(
        (status = 200, description = "How many were deleted", body = crate::openapi::schema::PurgeResponse),
        (status = 400, description = "`invalid_payload`: `older_than` is missing or not a duration, or a parameter is unknown", body = crate::openapi::schema::ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn purge(
    State(state): State<AppState>,
    query: Result<Query<PurgeQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({ "purged": purged })))
}

/// An alert in the Prometheus API form (`labels`, `annotations`, `startsAt`, `endsAt`,
/// `generatorURL`), plus optional target names.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitRequest {
    alert: Value,
    #[serde(default)]
    targets: Option<Vec<String>>,
}

/// Submits one alert for durable delivery
///
/// Without `targets` the routing filters decide. Not subject to the repeat interval.
#[utoipa::path(
    post,
    path = "/api/v2/publishing/queue/submit",
    tag = "queue",
    request_body(content = crate::openapi::schema::SubmitRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Jobs stored", body = crate::openapi::schema::SubmitResponse),
        (status = 400, description = "`invalid_payload`: the body is wrong; the message names the field", body = crate::openapi::schema::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::openapi::schema::ErrorBody),
        (status = 404, description = "`not_found`: unknown target", body = crate::openapi::schema::ErrorBody),
        (status = 422, description = "`target_disabled` or `no_matching_target`", body = crate::openapi::schema::ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn submit(
    State(state): State<AppState>,
    req: Request,
) -> Result<(StatusCode, Json<SubmitReport>), ApiError> {
    let r: SubmitRequest = json_body(req, state.max_body_bytes).await?;
    let alert = service::alert_from_json(r.alert)?;
    let report = state.service.submit(alert, r.targets.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, Json(report)))
}

/// Body of a parallel publish.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParallelRequest {
    alert: Value,
    #[serde(default)]
    targets: Option<Vec<String>>,
    #[serde(default)]
    strategy: Option<Strategy>,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    concurrency: Option<usize>,
}

async fn parallel(
    state: AppState,
    req: Request,
    selection: Selection,
) -> Result<Json<ParallelOutcome>, ApiError> {
    let svc = &state.service;
    let parsed: Result<ParallelRequest, ApiError> = json_body(req, state.max_body_bytes).await;
    let request = parsed.and_then(|r| {
        Ok(service::ParallelRequest {
            alert: service::alert_from_json(r.alert)?,
            targets: r.targets,
            strategy: r.strategy,
            timeout: r
                .timeout
                .as_deref()
                .map(publish::parse_duration)
                .transpose()
                .map_err(|e| ApiError::invalid(format!("timeout: {e}")))?,
            concurrency: r.concurrency,
        })
    });
    match request {
        Ok(request) => Ok(Json(svc.publish_parallel(selection, request).await?)),
        Err(e) => {
            svc.parallel_rejected(selection, e.code());
            Err(e)
        }
    }
}

/// Publishes one alert now to each named target at once
#[utoipa::path(
    post,
    path = "/api/v2/publishing/parallel/targets",
    tag = "parallel",
    request_body(content = crate::openapi::schema::ParallelRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "At least one target delivered", body = crate::openapi::schema::ParallelResponse),
        (status = 400, description = "`invalid_payload`: the body is wrong; the message names the field", body = crate::openapi::schema::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::openapi::schema::ErrorBody),
        (status = 404, description = "`not_found`: unknown target", body = crate::openapi::schema::ErrorBody),
        (status = 422, description = "`target_disabled` or `no_enabled_targets`", body = crate::openapi::schema::ErrorBody),
        (status = 502, description = "`all_failed`: no target delivered; the report is in `error.details.report`", body = crate::openapi::schema::ErrorBody),
        (status = 503, description = "`no_healthy_targets` (the strategy skipped every target) or `cancelled` (shutdown)", body = crate::openapi::schema::ErrorBody),
        (status = 504, description = "`timeout`: the report is in `error.details.report`", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn parallel_targets(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<ParallelOutcome>, ApiError> {
    parallel(state, req, Selection::Named).await
}

/// Publishes one alert now to every enabled target at once
#[utoipa::path(
    post,
    path = "/api/v2/publishing/parallel/all",
    tag = "parallel",
    request_body(content = crate::openapi::schema::ParallelRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "At least one target delivered", body = crate::openapi::schema::ParallelResponse),
        (status = 400, description = "`invalid_payload`: the body is wrong; the message names the field", body = crate::openapi::schema::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::openapi::schema::ErrorBody),
        (status = 404, description = "`not_found`: unknown target", body = crate::openapi::schema::ErrorBody),
        (status = 422, description = "`target_disabled` or `no_enabled_targets`", body = crate::openapi::schema::ErrorBody),
        (status = 502, description = "`all_failed`: no target delivered; the report is in `error.details.report`", body = crate::openapi::schema::ErrorBody),
        (status = 503, description = "`no_healthy_targets` (the strategy skipped every target) or `cancelled` (shutdown)", body = crate::openapi::schema::ErrorBody),
        (status = 504, description = "`timeout`: the report is in `error.details.report`", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn parallel_all(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<ParallelOutcome>, ApiError> {
    parallel(state, req, Selection::All).await
}

/// Publishes one alert now to every healthy enabled target at once
#[utoipa::path(
    post,
    path = "/api/v2/publishing/parallel/healthy",
    tag = "parallel",
    request_body(content = crate::openapi::schema::ParallelRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "At least one target delivered", body = crate::openapi::schema::ParallelResponse),
        (status = 400, description = "`invalid_payload`: the body is wrong; the message names the field", body = crate::openapi::schema::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::openapi::schema::ErrorBody),
        (status = 404, description = "`not_found`: unknown target", body = crate::openapi::schema::ErrorBody),
        (status = 422, description = "`target_disabled` or `no_enabled_targets`", body = crate::openapi::schema::ErrorBody),
        (status = 502, description = "`all_failed`: no target delivered; the report is in `error.details.report`", body = crate::openapi::schema::ErrorBody),
        (status = 503, description = "`no_healthy_targets` (the strategy skipped every target) or `cancelled` (shutdown)", body = crate::openapi::schema::ErrorBody),
        (status = 504, description = "`timeout`: the report is in `error.details.report`", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn parallel_healthy(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<ParallelOutcome>, ApiError> {
    parallel(state, req, Selection::Healthy).await
}
