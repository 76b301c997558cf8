//! One error envelope for every endpoint: `{"error":{"code","message","request_id"}}`.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being served (set by the request-id middleware).
    pub static REQUEST_ID: String;
}

/// The current request's id, if inside a request.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The error envelope of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_payload`, `not_found`.
    pub code: &'static str,
    /// What was wrong and what to do.
    pub message: String,
    /// The request's id (also in the `X-Request-Id` header).
    #[schema(required)]
    pub request_id: Option<String>,
    /// Structured details, for some codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<Box<serde_json::Value>>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with status, stable code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    /// Adds structured details (inside `error.details`).
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// Sets `Retry-After` (seconds); a 503 without it says 5.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
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

    /// The answer with the body `wrap` makes of the error's detail, with the status and
    /// headers of the error: the envelope ([`ErrorBody`]) or a body an endpoint documents
    /// around it.
    pub(crate) fn answer_with<T: Serialize>(self, wrap: impl FnOnce(ErrorDetail) -> T) -> Response {
        let error = ErrorDetail {
            code: self.code,
            message: self.message,
            request_id: current_request_id(),
            details: self.details.map(|d| *d),
        };
        let mut resp = (self.status, Json(wrap(error))).into_response();
        let retry_after = self
            .retry_after
            .or((self.status == StatusCode::SERVICE_UNAVAILABLE).then_some(5));
        if let Some(seconds) = retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        resp
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.answer_with(|error| ErrorBody { error })
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
            K::Conflict => (StatusCode::CONFLICT, "conflict"),
            K::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        };
        let err = Self::new(status, code, e.message);
        match e.details {
            Some(d) => err.with_details(d),
            None => err,
        }
    }
}
