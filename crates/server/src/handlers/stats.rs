//! The HTTP handlers of the stats API.

use std::{
    hash::{Hash, Hasher},
    sync::Arc,
};

use std::collections::BTreeMap;

use aggregate::{
    HealthScore, Jobs, Latency, PublishingStats, Status, SystemStats, TargetHealthStats,
    TargetStats,
};
use analyze::{Analysis, Point, TrendConfig, Trends};
use axum::{
    Router,
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Utc};
use collect::MetricsSnapshot;
use serde::{Deserialize, Serialize};
use serde_json::json;
use service::stats::{Stats, View};
use utoipa::{IntoParams, ToSchema};

use crate::{
    error::{ApiError, ErrorBody, ErrorDetail},
    extract::PathParam,
    state::AppState,
};

/// Routes of the stats API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/publishing/metrics", get(metrics_snapshot))
        .route("/api/v2/publishing/stats", get(stats))
        .route("/api/v2/publishing/stats/{target}", get(target_stats))
        .route("/api/v2/publishing/health", get(health))
        .route("/api/v2/publishing/trends", get(trends))
}

type Svc = State<AppState>;

fn service(State(state): Svc) -> Result<Arc<Stats>, ApiError> {
    state.service.stats().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "stats_unavailable",
            "the stats service is not running",
        )
    })
}

/// A JSON answer with a strong ETag over its bytes; 304 when the client has it.
fn answer(
    status: StatusCode,
    headers: &HeaderMap,
    body: &impl Serialize,
    extra: &[(&'static str, String)],
) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    let etag = format!("\"{:016x}\"", h.finish());
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response()
    };
    let hs = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        hs.insert(header::ETAG, v);
    }
    hs.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=1"));
    for (k, v) in extra {
        if let Ok(v) = HeaderValue::from_str(v) {
            hs.insert(*k, v);
        }
    }
    resp
}

/// The raw metrics snapshot the statistics are computed from
#[utoipa::path(
    get,
    path = "/api/v2/publishing/metrics",
    tag = "stats",
    responses(
        (status = 200, description = "The snapshot (header `X-Collection-Duration-Ms`)", body = MetricsSnapshot),
        (status = 304, description = "Not modified: `If-None-Match` matches the `ETag`"),
        (status = 503, description = "`stats_unavailable`: the stats service is not running", body = ErrorBody),
    )
)]
pub(crate) async fn metrics_snapshot(svc: Svc, headers: HeaderMap) -> Result<Response, ApiError> {
    let view = service(svc)?.view().await;
    let ms = format!("{:.3}", view.snapshot.collection_duration_ms);
    Ok(answer(
        StatusCode::OK,
        &headers,
        &view.snapshot,
        &[("x-collection-duration-ms", ms)],
    ))
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Publishing statistics: the guide's sections and the aggregated ones.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatsBody<'a> {
    timestamp: DateTime<Utc>,
    health: StatsHealth,
    queue: StatsQueue<'a>,
    refresh: StatsRefresh,
    discovery: StatsDiscovery,
    system: &'a SystemStats,
    score: &'a HealthScore,
    /// Target name → its statistics.
    targets: &'a BTreeMap<String, TargetStats>,
    /// Collector → why it produced nothing.
    collection_errors: &'a BTreeMap<String, String>,
}

/// Targets by health, with the success rate and the health score.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatsHealth {
    total_targets: u64,
    healthy: u64,
    degraded: u64,
    unhealthy: u64,
    unknown: u64,
    /// Percent, two decimals.
    success_rate: f64,
    /// 0–100.
    score: f64,
    status: Status,
    message: String,
}

/// The queue and the outcomes of its jobs.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatsQueue<'a> {
    /// Pending jobs.
    size: u64,
    capacity: u64,
    /// Percent of the capacity, two decimals.
    utilization: f64,
    /// Pending jobs by priority.
    by_priority: &'a BTreeMap<String, u64>,
    in_flight: u64,
    dlq_size: u64,
    jobs_submitted: u64,
    /// Delivered attempts.
    jobs_completed: u64,
    /// Dead-lettered attempts.
    jobs_failed: u64,
    jobs_retried: u64,
    /// Percent, two decimals.
    success_rate: f64,
    message: String,
}

/// Target refreshes: the last one, the next one, and whether one runs now (every discovery
/// source folded into one: the latest refresh, the earliest next one).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatsRefresh {
    /// When the last successful refresh (or the start-up load) finished.
    #[schema(required)]
    last_refresh: Option<DateTime<Utc>>,
    /// How long it took, in milliseconds (fractions kept: a file reload takes well under one).
    #[schema(required)]
    last_duration_ms: Option<f64>,
    /// When the next periodic refresh or retry is due; null when targets are loaded once.
    #[schema(required)]
    next_refresh: Option<DateTime<Utc>>,
    /// `<seconds>s`.
    #[schema(required)]
    refresh_interval: Option<String>,
    targets_discovered: usize,
    /// `in_progress` while a refresh runs, `failed` when the last one failed (the last good
    /// targets stay in force), else `idle`.
    #[schema(example = "idle")]
    state: &'static str,
    /// Why the last refresh failed (`source: error`), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    message: String,
}

/// The last target discovery.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatsDiscovery {
    total_targets: usize,
    /// When the last discovery (a successful refresh) finished.
    #[schema(required)]
    last_discovery: Option<DateTime<Utc>>,
    /// How long it took.
    #[schema(required)]
    latency_ms: Option<f64>,
    /// As `refresh.state`.
    #[schema(example = "idle")]
    state: &'static str,
    message: String,
}

fn stats_body<'a>(stats: &Stats, view: &'a View) -> StatsBody<'a> {
    let s: &PublishingStats = &view.stats;
    let c = &s.system.targets;
    let q = &s.system.queue;
    let jobs = &s.system.jobs;
    let refresh = stats.refresh_state();
    let latency_ms = refresh.duration.map(|d| d.as_secs_f64() * 1000.0);
    StatsBody {
        timestamp: s.timestamp,
        health: StatsHealth {
            total_targets: c.total_targets,
            healthy: c.healthy,
            degraded: c.degraded,
            unhealthy: c.unhealthy,
            unknown: c.unknown,
            success_rate: round(jobs.success_rate),
            score: s.score.score,
            status: s.score.status,
            message: format!(
                "{} of {} targets healthy ({:.1}% success rate)",
                c.healthy, c.total_targets, jobs.success_rate
            ),
        },
        queue: StatsQueue {
            size: q.size,
            capacity: q.capacity,
            utilization: round(q.utilization),
            by_priority: &q.by_priority,
            in_flight: q.in_flight,
            dlq_size: q.dlq_size,
            jobs_submitted: q.jobs_submitted,
            jobs_completed: jobs.succeeded,
            jobs_failed: jobs.dead_lettered,
            jobs_retried: jobs.retried,
            success_rate: round(jobs.success_rate),
            message: format!(
                "Queue: {}/{} ({:.1}% utilization), {:.1}% success rate",
                q.size, q.capacity, q.utilization, jobs.success_rate
            ),
        },
        refresh: StatsRefresh {
            last_refresh: refresh.last,
            last_duration_ms: latency_ms.map(|ms| (ms * 1000.0).round() / 1000.0),
            next_refresh: refresh.next,
            refresh_interval: refresh.interval.map(|i| format!("{}s", i.as_secs())),
            targets_discovered: refresh.targets,
            state: refresh.state(),
            last_error: refresh.last_error.clone(),
            message: match (refresh.in_progress, refresh.last) {
                (true, _) => "Refresh in progress".to_owned(),
                (false, Some(l)) => format!(
                    "Last refresh: {}s ago, discovered {} targets",
                    (Utc::now() - l).num_seconds().max(0),
                    refresh.targets
                ),
                (false, None) => "Targets not loaded yet".to_owned(),
            },
        },
        discovery: StatsDiscovery {
            total_targets: view.targets.len(),
            last_discovery: refresh.last,
            latency_ms: latency_ms.map(|ms| (ms * 1000.0).round() / 1000.0),
            state: refresh.state(),
            message: format!(
                "{} targets discovered in {:.1}ms",
                view.targets.len(),
                latency_ms.unwrap_or(0.0)
            ),
        },
        system: &s.system,
        score: &s.score,
        targets: &s.targets,
        collection_errors: &s.collection_errors,
    }
}

/// Publishing statistics: health, queue, refresh, discovery, system, score, targets
#[utoipa::path(
    get,
    path = "/api/v2/publishing/stats",
    tag = "stats",
    responses(
        (status = 200, description = "Statistics", body = StatsBody),
        (status = 304, description = "Not modified: `If-None-Match` matches the `ETag`"),
        (status = 503, description = "`stats_unavailable`: the stats service is not running", body = ErrorBody),
    )
)]
pub(crate) async fn stats(svc: Svc, headers: HeaderMap) -> Result<Response, ApiError> {
    let svc = service(svc)?;
    let view = svc.view().await;
    Ok(answer(
        StatusCode::OK,
        &headers,
        &stats_body(&svc, &view),
        &[],
    ))
}

/// Statistics of one target.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TargetStatsBody<'a> {
    target_name: String,
    /// Empty when the target is no longer defined and has no statistics.
    #[serde(rename = "type")]
    kind: &'a str,
    /// Null when the target is no longer defined.
    #[schema(required)]
    enabled: Option<bool>,
    timestamp: DateTime<Utc>,
    /// The success rate is in percent, two decimals.
    health: TargetHealthStats,
    jobs: &'a Jobs,
    latency: &'a Latency,
    dead_letters_by_reason: &'a BTreeMap<String, u64>,
    #[schema(value_type = queue::BreakerState)]
    circuit_breaker: &'static str,
    /// This target's samples of the snapshot.
    metrics: BTreeMap<String, f64>,
}

/// The stats guide's 404 for an unknown target: the error envelope plus `target`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TargetNotFound {
    error: ErrorDetail,
    target: String,
}

/// Statistics of one target (exact, case-sensitive name)
#[utoipa::path(
    get,
    path = "/api/v2/publishing/stats/{target}",
    tag = "stats",
    params(("target" = String, Path, description = "Target name")),
    responses(
        (status = 200, description = "Statistics of the target", body = TargetStatsBody),
        (status = 304, description = "Not modified: `If-None-Match` matches the `ETag`"),
        (status = 400, description = "`invalid_payload`: the name is not valid UTF-8", body = ErrorBody),
        (status = 404, description = "`target_not_found`", body = TargetNotFound),
        (status = 503, description = "`stats_unavailable`: the stats service is not running", body = ErrorBody),
    )
)]
pub(crate) async fn target_stats(
    svc: Svc,
    headers: HeaderMap,
    PathParam(target): PathParam,
) -> Result<Response, ApiError> {
    let view = service(svc)?.view().await;
    let configured = view.targets.iter().find(|t| t.name == target);
    let stats = view.stats.targets.get(&target);
    if configured.is_none() && stats.is_none() {
        return Ok(ApiError::new(
            StatusCode::NOT_FOUND,
            "target_not_found",
            format!(
                "Target not found: {target:?} (GET /api/v2/publishing/health lists the targets)"
            ),
        )
        .with_details(json!({ "target": target }))
        .answer_with(|error| TargetNotFound { error, target }));
    }
    let empty = TargetStats::empty(&target, configured.map_or("", |t| t.kind.as_str()));
    let t = stats.unwrap_or(&empty);
    let metrics = view
        .snapshot
        .with_label("target", &target)
        .map(|s| (s.key(), if s.value.is_finite() { s.value } else { 0.0 }))
        .collect();
    let body = TargetStatsBody {
        kind: configured.map_or(t.kind.as_str(), |t| t.kind.as_str()),
        enabled: configured.map(|t| t.enabled),
        timestamp: view.stats.timestamp,
        health: TargetHealthStats {
            success_rate: t.health.success_rate.map(round),
            ..t.health.clone()
        },
        jobs: &t.jobs,
        latency: &t.latency,
        dead_letters_by_reason: &t.dead_letters_by_reason,
        circuit_breaker: t.circuit_breaker,
        metrics,
        target_name: target,
    };
    Ok(answer(StatusCode::OK, &headers, &body, &[]))
}

/// Overall status: the worse of the score's status and the targets' (any degraded or
/// unhealthy target → degraded; every target with data unhealthy → unhealthy).
pub(crate) fn overall(stats: &PublishingStats) -> Status {
    let c = &stats.system.targets;
    let known = c.healthy + c.degraded + c.unhealthy;
    let by_targets = if known > 0 && c.unhealthy == known {
        Status::Unhealthy
    } else if c.degraded + c.unhealthy > 0 {
        Status::Degraded
    } else {
        Status::Healthy
    };
    by_targets.max(stats.score.status)
}

/// Health of the publishing system.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HealthBody {
    timestamp: DateTime<Utc>,
    status: Status,
    /// 0–100.
    score: f64,
    message: String,
    checks: Vec<HealthCheck>,
}

/// One target's line of the health answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HealthCheck {
    target: String,
    #[serde(rename = "type")]
    kind: String,
    status: Status,
    /// Percent, two decimals; null without data.
    #[schema(required)]
    success_rate: Option<f64>,
    consecutive_failures: u64,
    #[schema(required)]
    last_check: Option<DateTime<Utc>>,
    #[schema(value_type = queue::BreakerState)]
    circuit_breaker: &'static str,
    /// When known.
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<u64>,
}

/// `503`: the health answer when not healthy, or the error envelope when the stats service
/// is not running.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum HealthUnavailable {
    /// Degraded or unhealthy.
    NotHealthy(HealthBody),
    /// `stats_unavailable`.
    Unavailable(ErrorBody),
}

/// Health of the publishing system: status, score and a check per target
#[utoipa::path(
    get,
    path = "/api/v2/publishing/health",
    tag = "stats",
    operation_id = "publishing_health",
    responses(
        (status = 200, description = "Healthy", body = HealthBody),
        (status = 304, description = "Not modified: `If-None-Match` matches the `ETag`"),
        (status = 503, description = "Degraded or unhealthy (the health answer), or `stats_unavailable`", body = HealthUnavailable),
    )
)]
pub(crate) async fn health(svc: Svc, headers: HeaderMap) -> Response {
    let view = match service(svc) {
        Ok(stats) => stats.view().await,
        Err(e) => {
            return e.answer_with(|error| HealthUnavailable::Unavailable(ErrorBody { error }));
        }
    };
    let s = &view.stats;
    let status = overall(s);
    let checks = view
        .targets
        .iter()
        .map(|t| {
            let st = s.targets.get(&t.name);
            let h = st.map(|x| x.health.clone()).unwrap_or_default();
            HealthCheck {
                target: t.name.clone(),
                kind: t.kind.clone(),
                status: h.status,
                success_rate: h.success_rate.map(round),
                consecutive_failures: h.consecutive_failures,
                last_check: h.last_check,
                circuit_breaker: st.map_or("closed", |x| x.circuit_breaker),
                latency_ms: h.latency_ms.map(|ms| ms as u64),
            }
        })
        .collect();
    let c = &s.system.targets;
    let body = HealthBody {
        timestamp: s.timestamp,
        status,
        score: s.score.score,
        message: format!("{} of {} targets healthy", c.healthy, c.total_targets),
        checks,
    };
    if status == Status::Healthy {
        answer(StatusCode::OK, &headers, &body, &[])
    } else {
        let body = HealthUnavailable::NotHealthy(body);
        answer(StatusCode::SERVICE_UNAVAILABLE, &headers, &body, &[])
    }
}

/// Trends of the publishing system.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TrendsBody {
    timestamp: DateTime<Utc>,
    /// Points analysed.
    samples: usize,
    /// Seconds between points.
    interval_seconds: f64,
    trends: Trends,
    summary: String,
    thresholds: TrendConfig,
    /// With `?history=`: the samples of that last stretch of time, oldest first (each a
    /// window of the attempts finished since the previous one; see the `samples` above).
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<Point>>,
}

/// What the trends answer adds.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct TrendsQuery {
    /// Also answer the stored samples of this last stretch of time (`1h`, `24h`), oldest
    /// first, as `history`.
    #[param(pattern = "^([0-9]+(\\.[0-9]+)?(y|w|d|h|m|s|ms))+$|^[0-9]+(\\.[0-9]+)?$")]
    history: Option<String>,
}

/// Trends of success rate, latency, errors and queue growth
#[utoipa::path(
    get,
    path = "/api/v2/publishing/trends",
    tag = "stats",
    params(TrendsQuery),
    responses(
        (status = 200, description = "Trends", body = TrendsBody),
        (status = 400, description = "`invalid_payload`: `history` is not a duration, or a parameter is unknown", body = ErrorBody),
        (status = 304, description = "Not modified: `If-None-Match` matches the `ETag`"),
        (status = 503, description = "`stats_unavailable`: the stats service is not running", body = ErrorBody),
    )
)]
pub(crate) async fn trends(
    svc: Svc,
    query: Result<Query<TrendsQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let since = match q.history {
        None => None,
        Some(text) => {
            let span = publish::parse_duration(&text)
                .map_err(|e| ApiError::invalid(format!("history: {e}")))?;
            Some(
                chrono::Duration::from_std(span)
                    .ok()
                    .and_then(|span| Utc::now().checked_sub_signed(span))
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
            )
        }
    };
    let svc = service(svc)?;
    let Analysis {
        timestamp,
        samples,
        trends,
        summary,
    } = svc.trends();
    let body = TrendsBody {
        timestamp,
        samples,
        interval_seconds: svc.settings().interval.as_secs_f64(),
        trends,
        summary,
        thresholds: svc.settings().trends.clone(),
        history: since.map(|since| svc.history(since)),
    };
    Ok(answer(StatusCode::OK, &headers, &body, &[]))
}
