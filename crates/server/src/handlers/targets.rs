//! The targets API: definitions (secrets redacted), discovery status and manual refresh,
//! health, probe now, and a test delivery.

use std::collections::BTreeMap;

use axum::{
    Json, Router,
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
    routing::{get, post},
};
use publish::TargetType;
use serde::{Deserialize, Serialize};
use service::{TargetView, TestRequest, TestResult, discovery};
use targets::{InvalidTarget, TargetHealth, TargetSpec};
use utoipa::{IntoParams, ToSchema};

use crate::{
    error::{ApiError, ErrorBody},
    extract::PathParam,
    state::AppState,
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

/// Filters of the target list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    #[serde(rename = "type")]
    kind: Option<TargetType>,
    enabled: Option<bool>,
    /// Default 100, at most 1000.
    limit: Option<usize>,
    offset: Option<usize>,
}

/// Target definitions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TargetList {
    targets: Vec<TargetView>,
    /// Matching targets before `limit` and `offset`.
    total: usize,
    limit: usize,
    offset: usize,
    /// Definitions that were skipped.
    invalid: Vec<InvalidTarget>,
}

/// Target definitions with health and circuit state
///
/// Header values, credential-like options and secret URL parts are redacted.
#[utoipa::path(
    get,
    path = "/api/v2/publishing/targets",
    tag = "targets",
    operation_id = "list_targets",
    params(ListQuery),
    responses(
        (status = 200, description = "Targets, `total` and skipped definitions", body = TargetList),
        (status = 400, description = "`invalid_payload`: a query parameter is wrong", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<TargetList>, ApiError> {
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
    Ok(Json(TargetList {
        targets,
        total,
        limit,
        offset,
        invalid: state.service.registry().invalid(),
    }))
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
        (status = 200, description = "The target", body = TargetView),
        (status = 400, description = "`invalid_payload`: the name is not valid UTF-8", body = ErrorBody),
        (status = 404, description = "`not_found`: no such target", body = ErrorBody),
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
        (status = 200, description = "Every source and the merged counts", body = discovery::Status),
    )
)]
pub(crate) async fn status(State(state): State<AppState>) -> Json<discovery::Status> {
    let registry = state.service.registry();
    Json(registry.discovery().status(registry))
}

/// A refresh was requested.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RefreshAccepted {
    /// `refresh requested`.
    status: &'static str,
}

/// Makes every discovery source re-read now
#[utoipa::path(
    post,
    path = "/api/v2/publishing/targets/refresh",
    tag = "targets",
    operation_id = "refresh_targets",
    responses(
        (status = 202, description = "Refresh requested; a second one within `discovery.manual_refresh_interval` gets 429", body = RefreshAccepted),
    )
)]
pub(crate) async fn refresh(
    State(state): State<AppState>,
) -> Result<(StatusCode, Json<RefreshAccepted>), ApiError> {
    match state.service.registry().discovery().refresh() {
        Ok(()) => Ok((
            StatusCode::ACCEPTED,
            Json(RefreshAccepted {
                status: "refresh requested",
            }),
        )),
        Err(wait) => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("a refresh was requested less than a minute ago; retry in {secs} s"),
            )
            .with_retry_after(secs))
        }
    }
}

/// Health of every target.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HealthList {
    targets: Vec<TargetHealth>,
    /// Status → number of targets.
    summary: BTreeMap<&'static str, usize>,
}

/// Health of every target
#[utoipa::path(
    get,
    path = "/api/v2/publishing/targets/health",
    tag = "targets",
    operation_id = "targets_health",
    responses(
        (status = 200, description = "Every target and a count per status", body = HealthList),
    )
)]
pub(crate) async fn health_all(State(state): State<AppState>) -> Json<HealthList> {
    let health = state.service.health();
    let targets: Vec<_> = state
        .service
        .registry()
        .specs()
        .iter()
        .map(|s| health.get(s.target.name.as_str()))
        .collect();
    let mut summary = BTreeMap::new();
    for t in &targets {
        *summary.entry(t.status.as_str()).or_default() += 1;
    }
    Json(HealthList { targets, summary })
}

/// Health of one target
#[utoipa::path(
    get,
    path = "/api/v2/publishing/targets/health/{name}",
    tag = "targets",
    operation_id = "target_health",
    params(("name" = String, Path, description = "Target name")),
    responses(
        (status = 200, description = "The target's health", body = TargetHealth),
        (status = 400, description = "`invalid_payload`: the name is not valid UTF-8", body = ErrorBody),
        (status = 404, description = "`not_found`: no such target", body = ErrorBody),
    )
)]
pub(crate) async fn health_one(
    State(state): State<AppState>,
    PathParam(name): PathParam,
) -> Result<Json<TargetHealth>, ApiError> {
    find(&state, &name)?;
    Ok(Json(state.service.health().get(&name)))
}

/// Probes one target now (side-effect free)
#[utoipa::path(
    post,
    path = "/api/v2/publishing/targets/{name}/check",
    tag = "targets",
    operation_id = "check_target",
    params(("name" = String, Path, description = "Target name")),
    responses(
        (status = 200, description = "The target's health after the probe", body = TargetHealth),
        (status = 400, description = "`invalid_payload`: the name is not valid UTF-8", body = ErrorBody),
        (status = 404, description = "`not_found`: no such target", body = ErrorBody),
    )
)]
pub(crate) async fn check(
    State(state): State<AppState>,
    PathParam(name): PathParam,
) -> Result<Json<TargetHealth>, ApiError> {
    find(&state, &name)?;
    Ok(Json(state.service.check_target(&name).await?))
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
    request_body(content = Option<TestRequest>, content_type = "application/json", description = "Optional"),
    responses(
        (status = 200, description = "The outcome of the delivery", body = TestResult),
        (status = 400, description = "`invalid_payload`: the body is wrong, or the name is not valid UTF-8", body = ErrorBody),
        (status = 404, description = "`not_found`: no such target", body = ErrorBody),
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
