//! Liveness, readiness and the Prometheus exposition.

use std::sync::atomic::Ordering;

use axum::{
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{
    error::{ApiError, ErrorBody},
    state::AppState,
};

/// Liveness: the process runs
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")),
)]
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the store answers and shutdown has not begun
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
        (status = 503, description = "`shutting_down` or `store_unavailable`", body = ErrorBody),
    ),
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    if !state.ready.load(Ordering::Relaxed) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the service is shutting down",
        ));
    }
    state.service.ping().await?;
    Ok("ready")
}

/// Prometheus metrics in the text exposition format
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Text exposition format 0.0.4", body = String, content_type = "text/plain")),
)]
pub(crate) async fn prometheus(State(state): State<AppState>) -> Response {
    state.service.export_queue_gauges().await;
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render() + &service::telemetry::process_exposition(),
    )
        .into_response()
}
