//! The targets API: definitions (secrets redacted), discovery status and manual refresh,
//! health, probe now, and a test delivery.

use std::collections::BTreeMap;

use axum::{
    Json, Router,
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use publish::TargetType;
use serde::Deserialize;
use serde_json::{Value, json};
use service::{TargetView, TestRequest, TestResult};
use targets::TargetSpec;

use crate::{error::ApiError, extract::PathParam, router::AppState};

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
    let specs = state.service.registry().specs();
    let matching: Vec<&TargetSpec> = specs
        .iter()
        .filter(|s| q.kind.is_none_or(|k| s.target.kind == k))
        .filter(|s| q.enabled.is_none_or(|e| s.target.enabled == e))
        .collect();
    let total = matching.len();
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let targets: Vec<TargetView> = matching
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|s| state.service.target_view(s))
        .collect();
    Ok(Json(json!({
        "targets": targets,
        "total": total,
        "limit": limit,
        "offset": offset,
        "invalid": state.service.registry().invalid(),
    })))
}

fn find(state: &AppState, name: &str) -> Result<TargetSpec, ApiError> {
    state
        .service
        .registry()
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
) -> Result<Json<TargetView>, ApiError> {
    let spec = find(&state, &name)?;
    Ok(Json(state.service.target_view(&spec)))
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
    let registry = state.service.registry();
    Json(serde_json::to_value(registry.discovery().status(registry)).unwrap_or_default())
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
    match state.service.registry().discovery().refresh() {
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
    let health = state.service.health();
    let targets: Vec<_> = state
        .service
        .registry()
        .specs()
        .iter()
        .map(|s| health.get(s.target.name.as_str()))
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
    Ok(Json(json!(state.service.health().get(&name))))
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
    Ok(Json(json!(state.service.check_target(&name).await?)))
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
) -> Result<Json<TestResult>, ApiError> {
    find(&state, &name)?;
    let req: TestRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TestRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("invalid request: {e}")))?
    };
    Ok(Json(state.service.test_target(&name, req).await?))
}
