//! The HTTP handlers of the stats API.

use std::{
    hash::{Hash, Hasher},
    sync::Arc,
};

use aggregate::{PublishingStats, Status, TargetStats};
use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::Utc;
use serde_json::{Value, json};
use service::stats::{Stats, View};

use crate::{error::ApiError, extract::PathParam, router::AppState};

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
    body: &Value,
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
        (status = 200, description = "The snapshot (header `X-Collection-Duration-Ms`)", body = crate::openapi::schema::MetricsSnapshot),
        (status = 304, description = "Not modified: `If-None-Match` matches the `ETag`"),
        (status = 503, description = "`stats_unavailable`: the stats service is not running", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn metrics_snapshot(svc: Svc, headers: HeaderMap) -> Result<Response, ApiError> {
    let view = service(svc)?.view().await;
    let body = serde_json::to_value(&view.snapshot).unwrap_or_default();
    let ms = format!("{:.3}", view.snapshot.collection_duration_ms);
    Ok(answer(
        StatusCode::OK,
        &headers,
        &body,
        &[("x-collection-duration-ms", ms)],
    ))
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn stats_body(stats: &Stats, view: &View) -> Value {
    let s: &PublishingStats = &view.stats;
    let c = &s.system.targets;
    let q = &s.system.queue;
    let jobs = &s.system.jobs;
    let (last_refresh, discovered, interval) = stats.last_refresh();
    let discovery = stats.last_discovery();
    let latency_ms = discovery.map(|(_, l)| l.as_secs_f64() * 1000.0);
    json!({
        "timestamp": s.timestamp,
        "health": {
            "total_targets": c.total_targets,
            "healthy": c.healthy,
            "degraded": c.degraded,
            "unhealthy": c.unhealthy,
            "unknown": c.unknown,
            "success_rate": round(jobs.success_rate),
            "score": s.score.score,
            "status": s.score.status,
            "message": format!("{} of {} targets healthy ({:.1}% success rate)", c.healthy, c.total_targets, jobs.success_rate),
        },
        "queue": {
            "size": q.size,
            "capacity": q.capacity,
            "utilization": round(q.utilization),
            "by_priority": q.by_priority,
            "in_flight": q.in_flight,
            "dlq_size": q.dlq_size,
            "jobs_submitted": q.jobs_submitted,
            "jobs_completed": jobs.succeeded,
            "jobs_failed": jobs.dead_lettered,
            "jobs_retried": jobs.retried,
            "success_rate": round(jobs.success_rate),
            "message": format!("Queue: {}/{} ({:.1}% utilization), {:.1}% success rate", q.size, q.capacity, q.utilization, jobs.success_rate),
        },
        "refresh": {
            "last_refresh": last_refresh,
            "next_refresh": interval.zip(last_refresh).map(|(i, l)| l + chrono::Duration::from_std(i).unwrap_or_default()),
            "refresh_interval": interval.map(|i| format!("{}s", i.as_secs())),
            "targets_discovered": discovered,
            "state": "idle",
            "message": match last_refresh {
                Some(l) => format!("Last refresh: {}s ago, discovered {discovered} targets", (Utc::now() - l).num_seconds().max(0)),
                None => "Targets not loaded yet".to_owned(),
            },
        },
        "discovery": {
            "total_targets": view.targets.len(),
            "last_discovery": discovery.map(|(at, _)| at),
            "latency_ms": latency_ms.map(round),
            "message": format!("{} targets discovered in {:.0}ms", view.targets.len(), latency_ms.unwrap_or(0.0)),
        },
        "system": s.system,
        "score": s.score,
        "targets": s.targets,
        "collection_errors": s.collection_errors,
    })
}

/// Publishing statistics: health, queue, refresh, discovery, system, score, targets
#[utoipa::path(
    get,
    path = "/api/v2/publishing/stats",
    tag = "stats",
    responses(
        (status = 200, description = "Statistics", body = crate::openapi::schema::StatsBody),
        (status = 304, description = "Not modified: `If-None-Match` matches the `ETag`"),
        (status = 503, description = "`stats_unavailable`: the stats service is not running", body = crate::openapi::schema::ErrorBody),
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

/// Statistics of one target (exact, case-sensitive name)
#[utoipa::path(
    get,
    path = "/api/v2/publishing/stats/{target}",
    tag = "stats",
    params(("target" = String, Path, description = "Target name")),
    responses(
        (status = 200, description = "Statistics of the target", body = crate::openapi::schema::TargetStatsBody),
        (status = 304, description = "Not modified: `If-None-Match` matches the `ETag`"),
        (status = 400, description = "`invalid_payload`: the name is not valid UTF-8", body = crate::openapi::schema::ErrorBody),
        (status = 404, description = "`target_not_found`", body = crate::openapi::schema::TargetNotFound),
        (status = 503, description = "`stats_unavailable`: the stats service is not running", body = crate::openapi::schema::ErrorBody),
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
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "target_not_found",
            format!(
                "Target not found: {target:?} (GET /api/v2/publishing/health lists the targets)"
            ),
        )
        .with_details(json!({ "target": target }))
        .with_top_level("target", json!(target)));
    }
    let empty = TargetStats::empty(&target, configured.map_or("", |t| t.kind.as_str()));
    let t = stats.unwrap_or(&empty);
    let metrics: serde_json::Map<String, Value> = view
        .snapshot
        .with_label("target", &target)
        .map(|s| {
            (
                s.key(),
                json!(if s.value.is_finite() { s.value } else { 0.0 }),
            )
        })
        .collect();
    let body = json!({
        "target_name": target,
        "type": configured.map(|t| t.kind.as_str()).unwrap_or(t.kind.as_str()),
        "enabled": configured.map(|t| t.enabled),
        "timestamp": view.stats.timestamp,
        "health": {
            "status": t.health.status,
            "success_rate": t.health.success_rate.map(round),
            "consecutive_failures": t.health.consecutive_failures,
            "latency_ms": t.health.latency_ms,
            "last_check": t.health.last_check,
        },
        "jobs": t.jobs,
        "latency": t.latency,
        "dead_letters_by_reason": t.dead_letters_by_reason,
        "circuit_breaker": t.circuit_breaker,
        "metrics": metrics,
    });
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

/// Health of the publishing system: status, score and a check per target
#[utoipa::path(
    get,
    path = "/api/v2/publishing/health",
    tag = "stats",
    operation_id = "publishing_health",
    responses(
        (status = 200, description = "Healthy", body = crate::openapi::schema::HealthBody),
        (status = 304, description = "Not modified: `If-None-Match` matches the `ETag`"),
        (status = 503, description = "Degraded or unhealthy (the health answer), or `stats_unavailable`", body = crate::openapi::schema::HealthUnavailable),
    )
)]
pub(crate) async fn health(svc: Svc, headers: HeaderMap) -> Result<Response, ApiError> {
    let view = service(svc)?.view().await;
    let s = &view.stats;
    let status = overall(s);
    let checks: Vec<Value> = view
        .targets
        .iter()
        .map(|t| {
            let st = s.targets.get(&t.name);
            let h = st.map(|x| x.health.clone()).unwrap_or_default();
            let mut check = json!({
                "target": t.name,
                "type": t.kind,
                "status": h.status,
                "success_rate": h.success_rate.map(round),
                "consecutive_failures": h.consecutive_failures,
                "last_check": h.last_check,
                "circuit_breaker": st.map_or("closed", |x| x.circuit_breaker),
            });
            if let (Some(ms), Some(m)) = (h.latency_ms, check.as_object_mut()) {
                m.insert("latency_ms".into(), json!(ms as u64));
            }
            check
        })
        .collect();
    let c = &s.system.targets;
    let body = json!({
        "timestamp": s.timestamp,
        "status": status,
        "score": s.score.score,
        "message": format!("{} of {} targets healthy", c.healthy, c.total_targets),
        "checks": checks,
    });
    let code = if status == Status::Healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok(answer(code, &headers, &body, &[]))
}

/// Trends of success rate, latency, errors and queue growth
#[utoipa::path(
    get,
    path = "/api/v2/publishing/trends",
    tag = "stats",
    responses(
        (status = 200, description = "Trends", body = crate::openapi::schema::TrendsBody),
        (status = 304, description = "Not modified: `If-None-Match` matches the `ETag`"),
        (status = 503, description = "`stats_unavailable`: the stats service is not running", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn trends(svc: Svc, headers: HeaderMap) -> Result<Response, ApiError> {
    let svc = service(svc)?;
    let a = svc.trends();
    let body = json!({
        "timestamp": a.timestamp,
        "samples": a.samples,
        "interval_seconds": svc.settings().interval.as_secs_f64(),
        "trends": a.trends,
        "summary": a.summary,
        "thresholds": svc.settings().trends,
    });
    Ok(answer(StatusCode::OK, &headers, &body, &[]))
}
