//! The template API: render an Alertmanager template before it goes live.

use axum::{
    Json, Router,
    extract::{Request, State},
    http::StatusCode,
    routing::post,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service::templates::TemplateFile;
use utoipa::ToSchema;

use crate::{
    error::{ApiError, ErrorBody},
    extract::json_body,
    state::AppState,
};

/// Routes under `/api/v2/publishing/templates`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v2/publishing/templates/render", post(render))
}

/// A template to render.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenderRequest {
    /// The template: Go `text/template` with Alertmanager's functions and data model, e.g.
    /// `{{ template "slack.default.title" . }}`.
    template: String,
    /// Files of `{{ define }}` blocks to render with, over Alertmanager's `default.tmpl`,
    /// instead of the service's `templates:` files.
    #[serde(default)]
    files: Option<Vec<TemplateFile>>,
    /// An Alertmanager webhook payload: the notification to render, as Alertmanager would
    /// render it for that payload's group. Default: a sample notification with a firing and a
    /// resolved alert.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
}

/// The rendered text.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Rendered {
    /// What the template produced.
    output: String,
}

/// Renders a template as Alertmanager would
///
/// Uses the service's shared templates unless the request brings its own `files`. A template
/// that does not parse or fails while rendering answers 422 `template_error`, with the file
/// or template, line and column in `error.details`. Work and output are bounded.
#[utoipa::path(
    post,
    path = "/api/v2/publishing/templates/render",
    tag = "templates",
    request_body(content = RenderRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The rendered text", body = Rendered),
        (status = 400, description = "`invalid_payload`: the body is wrong; the message names the field", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`template_error`: the template does not parse or fails to render; `details` has `name`, `line`, `column` and `message`", body = ErrorBody),
    )
)]
pub(crate) async fn render(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<Rendered>, ApiError> {
    let r: RenderRequest = json_body(req, state.max_body_bytes).await?;
    let data = match r.data {
        Some(v) => Some(
            serde_path_to_error::deserialize::<_, template::Data>(v).map_err(|e| {
                ApiError::invalid(format!(
                    "invalid request at `data.{}`: {}",
                    e.path(),
                    e.inner()
                ))
            })?,
        ),
        None => None,
    };
    let library = state.service.registry().templates().clone();
    // Rendering is bounded but CPU work: off the async threads.
    let rendered = tokio::task::spawn_blocking(move || {
        service::templates::render(&library, r.files.as_deref(), &r.template, data.as_ref())
    })
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the template could not be rendered",
        )
    })?;
    match rendered {
        Ok(output) => Ok(Json(Rendered { output })),
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "template_error",
            e.to_string(),
        )
        .with_details(serde_json::json!({
            "name": e.name,
            "line": e.line,
            "column": e.column,
            "message": e.message,
        }))),
    }
}
