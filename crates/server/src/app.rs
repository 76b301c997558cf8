//! The HTTP application: `fn app(state) -> Router`.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    Extension, Json, Router,
    body::Bytes,
    extract::{Request, State},
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::Utc;
use metrics_exporter_prometheus::PrometheusHandle;
use publish::{Alert, GroupContext};
use queue::{EngineHandle, JobStore, NewJob, Publishers};
use serde::{Deserialize, Serialize};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use tracing::{info, warn};

use crate::{
    error::{ApiError, REQUEST_ID},
    guard::Guard,
    registry::Registry,
};

/// Shared state of the HTTP handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The job store.
    pub store: Arc<dyn JobStore>,
    /// Targets and publishers.
    pub registry: Arc<Registry>,
    /// Wakes the delivery engine.
    pub engine: EngineHandle,
    /// Prometheus exposition.
    pub metrics: PrometheusHandle,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// False once shutdown has begun.
    pub ready: Arc<AtomicBool>,
    /// Target health (probes and deliveries).
    pub health: Arc<targets::HealthBook>,
    /// Cancelled when the service shuts down.
    pub shutdown: tokio_util::sync::CancellationToken,
}

/// The router with every endpoint and the middleware stack, open: no API keys, no ingest
/// credentials, no rate limits.
pub fn app(state: AppState) -> Router {
    app_with_guard(state, Arc::new(Guard::open()))
}

/// The router with every endpoint, guarded by `guard` (keys, roles, rate limits), with
/// compression and CORS as the guard's configuration says.
pub fn app_with_guard(state: AppState, guard: Arc<Guard>) -> Router {
    let router = Router::new()
        .route("/webhook", post(webhook))
        .route("/api/v2/alerts", post(api_alerts))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(prometheus))
        .route("/api/v2/config", get(crate::guard::config))
        .route(
            crate::openapi::DOCUMENT_PATH,
            get(crate::openapi::openapi_json),
        )
        .merge(crate::api::routes())
        .merge(crate::targets_api::routes())
        .merge(crate::stats::routes())
        .fallback(not_found)
        // Innermost, so that it sees the matched route.
        .layer(middleware::from_fn_with_state(
            guard.clone(),
            crate::guard::guard,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(TraceLayer::new_for_http())
        .layer(middleware::from_fn(request_id))
        .layer(Extension(guard.clone()))
        .with_state(state);
    let router = if guard.compression {
        router.layer(CompressionLayer::new())
    } else {
        router
    };
    if guard.cors_origins.is_empty() {
        router
    } else {
        let origins: Vec<HeaderValue> = guard
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST, Method::DELETE])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                .expose_headers([
                    HeaderName::from_static("x-request-id"),
                    HeaderName::from_static("x-ratelimit-limit"),
                    HeaderName::from_static("x-ratelimit-remaining"),
                    HeaderName::from_static("x-ratelimit-reset"),
                ])
                .max_age(Duration::from_secs(600)),
        )
    }
}

/// Gives every request an id (the caller's `X-Request-Id` when it sent a sane one), makes it
/// available to error bodies and logs, and echoes it in the response.
async fn request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| format!("{:016x}", fastrand::u64(..)), str::to_owned);
    let span = tracing::info_span!("request", request_id = %id);
    let mut resp = REQUEST_ID
        .scope(
            id.clone(),
            tracing::Instrument::instrument(next.run(req), span),
        )
        .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// A handler panicked: the error envelope, not the bare text of the panic layer.
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    warn!("request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "internal error while serving the request; the service log has the details",
    )
    .into_response()
}

/// A path parameter; a malformed one (not UTF-8 once decoded) answers 400 with the error
/// envelope rather than axum's plain-text rejection.
#[derive(Debug)]
pub(crate) struct PathParam(pub(crate) String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(p)| PathParam(p))
            .map_err(|e| ApiError::invalid(format!("path: {}", e.body_text())))
    }
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!("no endpoint {} {}", req.method(), req.uri().path()))
}

/// Reads the body up to the limit: 413 past it, 400 when the body cannot be read.
pub(crate) async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body exceeds the limit of {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|e| {
            let is_limit = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if is_limit {
                too_large()
            } else {
                ApiError::invalid(format!("cannot read request body: {e}"))
            }
        })
}

/// What ingest answers.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct IngestResponse {
    /// Always `accepted` on 2xx: every job below is durably stored.
    pub status: String,
    /// Alerts in the request.
    pub alerts: usize,
    /// Jobs stored (alert × target).
    pub jobs: usize,
    /// Unchanged notifications inside the repeat interval: nothing to send.
    pub deduplicated: usize,
    /// Older waiting jobs replaced by these.
    pub superseded: usize,
    /// Alerts no target wanted.
    pub unrouted: usize,
}

pub(crate) async fn ingest(
    state: &AppState,
    source: &'static str,
    alerts: Vec<Alert>,
    context: GroupContext,
) -> Result<Json<IngestResponse>, ApiError> {
    metrics::counter!("alert_publisher_alerts_received_total", "source" => source)
        .increment(alerts.len() as u64);
    let mut jobs = Vec::new();
    let mut unrouted = 0;
    let count = alerts.len();
    for alert in alerts {
        let before = jobs.len();
        for spec in targets::route(&state.registry.specs(), &alert) {
            let repeat = state
                .registry
                .policy(spec.target.name.as_str())
                .repeat_interval;
            jobs.push(NewJob::new(
                spec.target.name.as_str(),
                alert.clone(),
                context.clone(),
                repeat,
            ));
        }
        if jobs.len() == before {
            unrouted += 1;
        }
    }
    metrics::counter!("alert_publisher_alerts_unrouted_total").increment(unrouted as u64);
    let report = if jobs.is_empty() {
        queue::EnqueueReport::default()
    } else {
        state.store.enqueue(jobs, Utc::now()).await.map_err(|e| {
            warn!(error = %e, "cannot store jobs; answering 503 so the sender retries");
            metrics::counter!("alert_publisher_ingest_failures_total", "reason" => "store")
                .increment(1);
            ApiError::unavailable(format!(
                "alerts not accepted, the job store is unavailable; retry later ({e})"
            ))
        })?
    };
    for (result, n) in [
        ("inserted", report.inserted),
        ("deduplicated", report.deduplicated),
        ("superseded", report.superseded),
    ] {
        metrics::counter!("alert_history_publishing_queue_submissions_total", "result" => result)
            .increment(n as u64);
    }
    if report.inserted > 0 {
        state.engine.wake();
    }
    info!(
        source,
        alerts = count,
        jobs = report.inserted,
        deduplicated = report.deduplicated,
        unrouted,
        "alerts accepted"
    );
    Ok(Json(IngestResponse {
        status: "accepted".to_owned(),
        alerts: count,
        jobs: report.inserted,
        deduplicated: report.deduplicated,
        superseded: report.superseded,
        unrouted,
    }))
}

fn reject(source: &'static str, e: publish::ParseError) -> ApiError {
    metrics::counter!("alert_publisher_ingest_failures_total", "reason" => "invalid").increment(1);
    warn!(source, error = %e, "payload rejected");
    ApiError::invalid(e.to_string())
}

/// Accepts an Alertmanager webhook notification
///
/// Answers once every job (alert × target) is durably stored. Any `Content-Type` is
/// accepted; unknown fields are ignored; each alert's own `status` decides firing or resolved.
#[utoipa::path(
    post,
    path = "/webhook",
    tag = "ingest",
    request_body(content = crate::openapi::schema::AlertmanagerWebhook, content_type = "application/json"),
    responses(
        (status = 200, description = "Every job is stored", body = IngestResponse),
        (status = 400, description = "`invalid_payload`: the body is not a webhook payload; the message names the field", body = crate::openapi::schema::ErrorBody),
        (status = 413, description = "`payload_too_large`: the body exceeds `ingest.max_body_bytes`", body = crate::openapi::schema::ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later (`Retry-After`)", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn webhook(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<IngestResponse>, ApiError> {
    let body = read_body(req, state.max_body_bytes).await?;
    let msg = publish::parse_webhook(&body).map_err(|e| reject("webhook", e))?;
    ingest(&state, "webhook", msg.alerts, msg.context).await
}

/// Accepts alerts in the Prometheus/Alertmanager API form
///
/// An array of alerts; an `endsAt` in the past means resolved. Answers once every job is stored.
#[utoipa::path(
    post,
    path = "/api/v2/alerts",
    tag = "ingest",
    request_body(content = Vec<crate::openapi::schema::ApiAlert>, content_type = "application/json"),
    responses(
        (status = 200, description = "Every job is stored", body = IngestResponse),
        (status = 400, description = "`invalid_payload`: the body is not an alert array; the message names the field", body = crate::openapi::schema::ErrorBody),
        (status = 413, description = "`payload_too_large`: the body exceeds `ingest.max_body_bytes`", body = crate::openapi::schema::ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later (`Retry-After`)", body = crate::openapi::schema::ErrorBody),
    )
)]
pub(crate) async fn api_alerts(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<IngestResponse>, ApiError> {
    let body = read_body(req, state.max_body_bytes).await?;
    let alerts = publish::parse_api_alerts(&body, Utc::now()).map_err(|e| reject("api", e))?;
    let context = GroupContext {
        receiver: "api".to_owned(),
        ..Default::default()
    };
    ingest(&state, "api", alerts, context).await
}

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
        (status = 503, description = "`shutting_down` or `store_unavailable`", body = crate::openapi::schema::ErrorBody),
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
    state
        .store
        .ping()
        .await
        .map_err(|e| ApiError::unavailable(format!("job store unavailable: {e}")))?;
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
    if let Ok(stats) = state.store.stats().await {
        for priority in ["high", "medium", "low"] {
            let n = stats
                .pending_by_priority
                .get(priority)
                .copied()
                .unwrap_or(0);
            metrics::gauge!("alert_history_publishing_queue_size", "priority" => priority)
                .set(n as f64);
        }
        metrics::gauge!("alert_history_publishing_jobs_in_flight").set(stats.in_flight as f64);
        metrics::gauge!("alert_history_publishing_dlq_size").set(stats.dead as f64);
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn a_panic_answers_500_with_the_error_envelope() {
        let resp = REQUEST_ID
            .scope("r-1".to_owned(), async { panicked(Box::new("boom")) })
            .await;
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "internal_error");
        assert_eq!(body["error"]["request_id"], "r-1");
        assert!(!body.to_string().contains("boom"));
    }
}
