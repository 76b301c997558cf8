//! The targets API: definitions (secrets redacted), discovery status and manual refresh,
//! health, probe now, and a test delivery.

use std::{collections::BTreeMap, time::Instant};

use axum::{
    Json, Router,
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::Utc;
use publish::{Alert, AlertStatus, Delivery, GroupContext, TargetType};
use queue::Publishers;
use serde::Deserialize;
use serde_json::{Value, json};
use targets::TargetSpec;

use crate::{
    app::{AppState, PathParam},
    error::ApiError,
};

/// Routes under `/api/v2/publishing/targets`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/publishing/targets", get(list))
        .route("/api/v2/publishing/targets/status", get(status))
        .route("/api/v2/publishing/targets/refresh", post(refresh))
        .route("/api/v2/publishing/targets/health", get(health_all))
        .route("/api/v2/publishing/targets/health/{name}", get(health_one))
        .route("/api/v2/publishing/targets/{name}", get(one))
        .route("/api/v2/publishing/targets/{name}/check", post(check))
        .route("/api/v2/publishing/targets/{name}/test", post(test))
}

/// One target as the API shows it: header values, credential-like options and secret URL
/// parts redacted.
pub(crate) fn target_json(state: &AppState, s: &TargetSpec) -> Value {
    let hide_path = s.target.kind == TargetType::Slack && !s.target.options.contains_key("token");
    json!({
        "name": s.target.name,
        "type": s.target.kind,
        "url": crate::redact_url_path(&s.target.url, hide_path),
        "enabled": s.target.enabled,
        "format": s.target.format,
        "headers": s.target.headers,
        "filter": publish::redact_json(&json!({
            "severity": s.filter.severity,
            "labels": s.filter.labels,
            "matchers": s.filter.matchers,
            "namespaces": s.filter.namespaces,
            "send_resolved": s.filter.send_resolved,
            "classification": s.filter.classification,
        })),
        "options": publish::redact_json(&Value::Object(s.target.options.clone())),
        "delivery": publish::redact_json(&Value::Object(s.delivery.clone())),
        "health": state.health.status(s.target.name.as_str()),
        "circuit_breaker": state.engine.breaker_state(s.target.name.as_str()),
        "source": s.source,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    #[serde(rename = "type")]
    kind: Option<TargetType>,
    enabled: Option<bool>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// Target definitions with health and circuit state
///
/// Header values, credential-like options and secret URL parts are redacted.
#[utoipa::path(
    get,
    path = "/api/v2/publishing/targets",
    tag = "targets",
    operation_id = "list_targets",
    params(crate::openapi::schema::TargetQuery),
    responses(
        (status = 200, description = "Targets, `total` and skipped definitions", body = crate::openapi::schema::TargetList),
        (status = 400, description = "`invalid_payload`: a query parameter is wrong", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::invalid(e.body_text()))?;
    let specs = state.registry.specs();
    let matching: Vec<&TargetSpec> = specs
        .iter()
        .filter(|s| q.kind.is_none_or(|k| s.target.kind == k))
        .filter(|s| q.enabled.is_none_or(|e| s.target.enabled == e))
        .collect();
    let total = matching.len();
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let targets: Vec<Value> = matching
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|s| target_json(&state, s))
        .collect();
    Ok(Json(json!({
        "targets": targets,
        "total": total,
        "limit": limit,
        "offset": offset,
        "invalid": state.registry.invalid(),
    })))
}

fn find(state: &AppState, name: &str) -> Result<TargetSpec, ApiError> {
    state
        .registry
        .spec(name)
        .ok_or_else(|| ApiError::not_found(format!("no target {name:?}")))
}

/// One target definition, redacted
#[utoipa::path(
    get,
    path = "/api/v2/publishing/targets/{name}",
    tag = "targets",
    operation_id = "get_target",
    params(("name" = String, Path, description = "Target name")),
    responses(
        (status = 200, description = "The target", body = crate::openapi::schema::Target),
        (status = 400, description = "`invalid_payload`: the name is not valid UTF-8", body = crate::openapi::schema::ErrorBody),
        (status = 404, description = "`not_found`: no such target", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn one(
    State(state): State<AppState>,
    PathParam(name): PathParam,
) -> Result<Json<Value>, ApiError> {
    let spec = find(&state, &name)?;
    Ok(Json(target_json(&state, &spec)))
}

/// Discovery status per source
#[utoipa::path(
    get,
    path = "/api/v2/publishing/targets/status",
    tag = "targets",
    operation_id = "discovery_status",
    responses(
        (status = 200, description = "Every source and the merged counts", body = crate::openapi::schema::DiscoveryStatus),
    )
)]
pub(crate) async fn status(State(state): State<AppState>) -> Json<Value> {
    let discovery = state.registry.discovery();
    Json(serde_json::to_value(discovery.status(&state.registry)).unwrap_or_default())
}

/// Makes every discovery source re-read now
#[utoipa::path(
    post,
    path = "/api/v2/publishing/targets/refresh",
    tag = "targets",
    operation_id = "refresh_targets",
    responses(
        (status = 202, description = "Refresh requested; a second one within `discovery.manual_refresh_interval` gets 429", body = crate::openapi::schema::RefreshAccepted),
    )
)]
pub(crate) async fn refresh(State(state): State<AppState>) -> Response {
    match state.registry.discovery().refresh() {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(json!({"status": "refresh requested"})),
        )
            .into_response(),
        Err(wait) => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut resp = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("a refresh was requested less than a minute ago; retry in {secs} s"),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
    }
}

/// Health of every target
#[utoipa::path(
    get,
    path = "/api/v2/publishing/targets/health",
    tag = "targets",
    operation_id = "targets_health",
    responses(
        (status = 200, description = "Every target and a count per status", body = crate::openapi::schema::HealthList),
    )
)]
pub(crate) async fn health_all(State(state): State<AppState>) -> Json<Value> {
    let targets: Vec<_> = state
        .registry
        .specs()
        .iter()
        .map(|s| state.health.get(s.target.name.as_str()))
        .collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &targets {
        *counts.entry(t.status.as_str()).or_default() += 1;
    }
    Json(json!({"targets": targets, "summary": counts}))
}

/// Health of one target
#[utoipa::path(
    get,
    path = "/api/v2/publishing/targets/health/{name}",
    tag = "targets",
    operation_id = "target_health",
    params(("name" = String, Path, description = "Target name")),
    responses(
        (status = 200, description = "The target's health", body = crate::openapi::schema::TargetHealth),
        (status = 400, description = "`invalid_payload`: the name is not valid UTF-8", body = crate::openapi::schema::ErrorBody),
        (status = 404, description = "`not_found`: no such target", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn health_one(
    State(state): State<AppState>,
    PathParam(name): PathParam,
) -> Result<Json<Value>, ApiError> {
    find(&state, &name)?;
    Ok(Json(json!(state.health.get(&name))))
}

/// Probes one target now (side-effect free)
#[utoipa::path(
    post,
    path = "/api/v2/publishing/targets/{name}/check",
    tag = "targets",
    operation_id = "check_target",
    params(("name" = String, Path, description = "Target name")),
    responses(
        (status = 200, description = "The target's health after the probe", body = crate::openapi::schema::TargetHealth),
        (status = 400, description = "`invalid_payload`: the name is not valid UTF-8", body = crate::openapi::schema::ErrorBody),
        (status = 404, description = "`not_found`: no such target", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn check(
    State(state): State<AppState>,
    PathParam(name): PathParam,
) -> Result<Json<Value>, ApiError> {
    find(&state, &name)?;
    let publisher = state
        .registry
        .publisher(&name)
        .ok_or_else(|| ApiError::not_found(format!("no target {name:?}")))?;
    let timeout = state.registry.discovery().probe_timeout;
    let health = targets::monitor::check(&state.health, &name, publisher.as_ref(), timeout).await;
    Ok(Json(json!(health)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    /// Extra labels for the test alert.
    #[serde(default)]
    labels: BTreeMap<String, String>,
    /// Extra annotations.
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    /// `firing` (default) or `resolved`.
    #[serde(default)]
    status: Option<AlertStatus>,
}

/// Delivers a test alert through the target's publisher
///
/// The alert is `alertname=AlertPublisherTest`; the result counts as a passive health result.
#[utoipa::path(
    post,
    path = "/api/v2/publishing/targets/{name}/test",
    tag = "targets",
    operation_id = "test_target",
    params(("name" = String, Path, description = "Target name")),
    request_body(content = Option<crate::openapi::schema::TestRequest>, content_type = "application/json", description = "Optional"),
    responses(
        (status = 200, description = "The outcome of the delivery", body = crate::openapi::schema::TestResult),
        (status = 400, description = "`invalid_payload`: the body is wrong, or the name is not valid UTF-8", body = crate::openapi::schema::ErrorBody),
        (status = 404, description = "`not_found`: no such target", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn test(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    find(&state, &name)?;
    let req: TestRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TestRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("invalid request: {e}")))?
    };
    let publisher = state
        .registry
        .publisher(&name)
        .ok_or_else(|| ApiError::not_found(format!("no target {name:?}")))?;
    let mut labels: BTreeMap<String, String> = [
        ("alertname", "AlertPublisherTest"),
        ("severity", "info"),
        ("alert_publisher_test", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    labels.extend(req.labels);
    let mut annotations: BTreeMap<String, String> = [(
        "summary".to_owned(),
        format!("Test alert from alert-publisher to target {name}"),
    )]
    .into_iter()
    .collect();
    annotations.extend(req.annotations);
    let status = req.status.unwrap_or(AlertStatus::Firing);
    let now = Utc::now();
    let alert = Alert {
        status,
        fingerprint: publish::Fingerprint::from_labels(&labels),
        labels: labels.into_iter().collect(),
        annotations: annotations.into_iter().collect(),
        starts_at: now,
        ends_at: (status == AlertStatus::Resolved).then_some(now),
        generator_url: String::new(),
    };
    let delivery = Delivery {
        id: format!("test-{:032x}", fastrand::u128(..)),
        alert,
        context: GroupContext {
            receiver: "alert-publisher-test".to_owned(),
            status,
            ..Default::default()
        },
        attempt: 1,
        vendor_state: None,
    };
    let started = Instant::now();
    let outcome = publisher.publish(&delivery).await;
    let latency = started.elapsed();
    let success = outcome.is_ok();
    state.health.record(
        &name,
        success,
        latency,
        outcome.as_ref().err().map(|e| e.kind().as_str().to_owned()),
        targets::CheckSource::Delivery,
        Utc::now(),
    );
    metrics::counter!("alert_history_publishing_target_tests_total", "target" => name.clone(), "result" => if success { "success" } else { "failure" }).increment(1);
    let body = match &outcome {
        Ok(d) => json!({
            "target": name, "success": true, "status_code": d.status_code,
            "latency_ms": latency.as_millis() as u64,
        }),
        Err(e) => json!({
            "target": name, "success": false, "status_code": e.status_code(),
            "latency_ms": latency.as_millis() as u64,
            "error": {"kind": e.kind().as_str(), "reason": e.reason(), "retryable": e.is_retryable()},
        }),
    };
    Ok(Json(body))
}
