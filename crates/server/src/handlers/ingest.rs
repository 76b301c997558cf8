//! Alerts in: Alertmanager webhooks and the Prometheus alert API.

use axum::{
    Json,
    extract::{Request, State},
};
use chrono::Utc;
use publish::GroupContext;
use service::{IngestReport, Source};

use crate::{
    error::{ApiError, ErrorBody},
    extract::read_body,
    state::AppState,
};

/// Accepts an Alertmanager webhook notification
///
/// Answers once every job (alert × target) is durably stored. Any `Content-Type` is
/// accepted; unknown fields are ignored; each alert's own `status` decides firing or resolved.
#[utoipa::path(
    post,
    path = "/webhook",
    tag = "ingest",
    request_body(content = publish::RawWebhook, content_type = "application/json"),
    responses(
        (status = 200, description = "Every job is stored", body = IngestReport),
        (status = 400, description = "`invalid_payload`: the body is not a webhook payload; the message names the field", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body exceeds `ingest.max_body_bytes`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later (`Retry-After`)", body = ErrorBody),
    )
)]
pub(crate) async fn webhook(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<IngestReport>, ApiError> {
    let body = read_body(req, state.max_body_bytes).await?;
    let svc = &state.service;
    let msg = publish::parse_webhook(&body).map_err(|e| {
        svc.rejected(Source::Webhook, &e);
        ApiError::invalid(e.to_string())
    })?;
    Ok(Json(
        svc.ingest(Source::Webhook, msg.alerts, msg.context).await?,
    ))
}

/// Accepts alerts in the Prometheus/Alertmanager API form
///
/// An array of alerts; an `endsAt` in the past means resolved. Answers once every job is stored.
#[utoipa::path(
    post,
    path = "/api/v2/alerts",
    tag = "ingest",
    request_body(content = Vec<publish::ApiAlert>, content_type = "application/json"),
    responses(
        (status = 200, description = "Every job is stored", body = IngestReport),
        (status = 400, description = "`invalid_payload`: the body is not an alert array; the message names the field", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body exceeds `ingest.max_body_bytes`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later (`Retry-After`)", body = ErrorBody),
    )
)]
pub(crate) async fn api_alerts(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<IngestReport>, ApiError> {
    let body = read_body(req, state.max_body_bytes).await?;
    let svc = &state.service;
    let alerts = publish::parse_api_alerts(&body, Utc::now()).map_err(|e| {
        svc.rejected(Source::Api, &e);
        ApiError::invalid(e.to_string())
    })?;
    let context = GroupContext {
        receiver: "api".to_owned(),
        ..Default::default()
    };
    Ok(Json(svc.ingest(Source::Api, alerts, context).await?))
}
