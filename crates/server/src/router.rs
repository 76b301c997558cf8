//! The HTTP application: `fn app(state) -> Router` — every route, the middleware stack and the
//! shared state of the handlers.

use std::{sync::Arc, time::Duration};

use axum::{
    Extension, Router,
    extract::Request,
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use tracing::warn;

use crate::{
    error::{ApiError, REQUEST_ID},
    guard::Guard,
    handlers,
    state::AppState,
};

/// The router with every endpoint and the middleware stack, open: no API keys, no ingest
/// credentials, no rate limits.
pub fn app(state: AppState) -> Router {
    app_with_guard(state, Arc::new(Guard::open()))
}

/// The router with every endpoint, guarded by `guard` (keys, roles, rate limits), with
/// compression and CORS as the guard's configuration says.
pub fn app_with_guard(state: AppState, guard: Arc<Guard>) -> Router {
    let router =
        Router::new()
            .route("/api/v2/config", get(crate::guard::config))
            .route(
                crate::openapi::DOCUMENT_PATH,
                get(crate::openapi::openapi_json),
            )
            .merge(handlers::routes())
            // The web console (static files; not part of the API document).
            .merge(crate::ui::routes())
            .fallback(crate::extract::not_found)
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
            // A 5xx answer is not an error of this process (a degraded `/health` answers 503 by
            // design; ingest's 503 is logged where it is decided), so it is logged at debug like
            // every other response.
            .layer(TraceLayer::new_for_http().on_failure(
                tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG),
            ))
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
