//! One error envelope for every endpoint: `{"error":{"code","message","request_id"}}`.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

tokio::task_local! {
    /// The id of the request being served (set by the request-id middleware).
    pub static REQUEST_ID: String;
}

/// The current request's id, if inside a request.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<Box<serde_json::Value>>,
    top_level: Option<Box<(&'static str, serde_json::Value)>>,
}

impl ApiError {
    /// An error with status, stable code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            top_level: None,
        }
    }

    /// Adds structured details (inside `error.details`).
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// Adds a field next to `error` (for bodies an older API documented, such as the stats
    /// guide's `{"error": …, "target": …}`).
    pub fn with_top_level(mut self, key: &'static str, value: serde_json::Value) -> Self {
        self.top_level = Some(Box::new((key, value)));
        self
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// 400 with code `invalid_payload`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_payload", message)
    }

    /// 404 with code `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 503 with code `store_unavailable`: the sender should retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            message,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error =
            json!({"code": self.code, "message": self.message, "request_id": current_request_id()});
        if let (Some(details), Some(map)) = (self.details, error.as_object_mut()) {
            map.insert("details".to_owned(), *details);
        }
        let mut body = json!({ "error": error });
        if let (Some(extra), Some(map)) = (self.top_level, body.as_object_mut()) {
            let (key, value) = *extra;
            map.insert(key.to_owned(), value);
        }
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        resp
    }
}

impl From<service::Error> for ApiError {
    fn from(e: service::Error) -> Self {
        use service::ErrorKind as K;
        let (status, code) = match e.kind {
            K::Invalid => (StatusCode::BAD_REQUEST, "invalid_payload"),
            K::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            K::TargetDisabled => (StatusCode::UNPROCESSABLE_ENTITY, "target_disabled"),
            K::NoMatchingTarget => (StatusCode::UNPROCESSABLE_ENTITY, "no_matching_target"),
            K::NoEnabledTargets => (StatusCode::UNPROCESSABLE_ENTITY, "no_enabled_targets"),
            K::NoHealthyTargets => (StatusCode::SERVICE_UNAVAILABLE, "no_healthy_targets"),
            K::AllFailed => (StatusCode::BAD_GATEWAY, "all_failed"),
            K::Timeout => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            K::Cancelled => (StatusCode::SERVICE_UNAVAILABLE, "cancelled"),
            K::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            K::ReplayRefused => (StatusCode::CONFLICT, "replay_refused"),
            K::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        };
        let err = Self::new(status, code, e.message);
        match e.details {
            Some(d) => err.with_details(d),
            None => err,
        }
    }
}
