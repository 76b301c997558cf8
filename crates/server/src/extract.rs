//! Extractors shared by the handlers: path parameters, bodies with a size limit, JSON with
//! the field path in errors.

use axum::{body::Bytes, extract::Request, http::header};

use crate::error::ApiError;

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

pub(crate) async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!("no endpoint {} {}", req.method(), req.uri().path()))
}

/// Reads the body up to the limit: 413 past it, 400 when the body cannot be read.
pub(crate) async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
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

/// Reads a JSON body up to the limit; errors name the field path.
pub(crate) async fn json_body<T: serde::de::DeserializeOwned>(
    req: Request,
    limit: usize,
) -> Result<T, ApiError> {
    let body = read_body(req, limit).await?;
    let de = &mut serde_json::Deserializer::from_slice(&body);
    serde_path_to_error::deserialize(de)
        .map_err(|e| ApiError::invalid(format!("invalid request at `{}`: {}", e.path(), e.inner())))
}
