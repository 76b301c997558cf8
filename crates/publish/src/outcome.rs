use std::{fmt, time::Duration};

use serde::Serialize;

/// A successful delivery.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delivered {
    /// HTTP status the target answered with, when there was one.
    pub status_code: Option<u16>,
    /// Vendor state to keep for this (target, alert): a PagerDuty dedup key, a Slack `ts`,
    /// a Rootly alert id. `None` leaves the stored state unchanged.
    pub vendor_state: Option<serde_json::Value>,
}

/// Short, bounded reason of a failure, used in metric labels and dead-letter filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Could not connect (refused, DNS, TLS).
    Connect,
    /// The request or the answer took too long.
    Timeout,
    /// The connection broke while the request was in flight.
    Io,
    /// 429 or a vendor's own rate-limit answer.
    RateLimited,
    /// 5xx or a vendor's own "try later".
    Server,
    /// 401 / 403 or a vendor's invalid-token answer.
    Auth,
    /// 404, 410 or a vendor's "no such channel".
    NotFound,
    /// 400, 413, 422 or a vendor's validation answer.
    Invalid,
    /// Another 4xx.
    Client,
    /// The target's configuration cannot work.
    Config,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Io,
        ErrorKind::RateLimited,
        ErrorKind::Server,
        ErrorKind::Auth,
        ErrorKind::NotFound,
        ErrorKind::Invalid,
        ErrorKind::Client,
        ErrorKind::Config,
        ErrorKind::Other,
    ];

    /// The kind as a metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Io => "io",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Server => "server",
            ErrorKind::Auth => "auth",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Client => "client",
            ErrorKind::Config => "config",
            ErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed delivery, classified. The publisher says *whether* a retry can help; the queue
/// decides when and how often.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PublishError {
    /// Trying again later may succeed.
    #[error("{reason}")]
    Retryable {
        /// Bounded kind for metrics.
        kind: ErrorKind,
        /// Human-readable reason, free of secrets.
        reason: String,
        /// HTTP status, when the target answered.
        status_code: Option<u16>,
        /// The target's own hint (`Retry-After`, `RateLimit-Reset`).
        retry_after: Option<Duration>,
    },
    /// Trying again cannot succeed without a change (auth, validation, configuration).
    #[error("{reason}")]
    Permanent {
        /// Bounded kind for metrics.
        kind: ErrorKind,
        /// Human-readable reason, free of secrets.
        reason: String,
        /// HTTP status, when the target answered.
        status_code: Option<u16>,
    },
}

impl PublishError {
    /// A retryable error without a status or hint.
    pub fn retryable(kind: ErrorKind, reason: impl Into<String>) -> Self {
        PublishError::Retryable {
            kind,
            reason: reason.into(),
            status_code: None,
            retry_after: None,
        }
    }

    /// A permanent error without a status.
    pub fn permanent(kind: ErrorKind, reason: impl Into<String>) -> Self {
        PublishError::Permanent {
            kind,
            reason: reason.into(),
            status_code: None,
        }
    }

    /// Whether a retry may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PublishError::Retryable { .. })
    }

    /// The bounded kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PublishError::Retryable { kind, .. } | PublishError::Permanent { kind, .. } => *kind,
        }
    }

    /// The reason text.
    pub fn reason(&self) -> &str {
        match self {
            PublishError::Retryable { reason, .. } | PublishError::Permanent { reason, .. } => {
                reason
            }
        }
    }

    /// The HTTP status, when the target answered.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            PublishError::Retryable { status_code, .. }
            | PublishError::Permanent { status_code, .. } => *status_code,
        }
    }

    /// The target's retry hint, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PublishError::Retryable { retry_after, .. } => *retry_after,
            PublishError::Permanent { .. } => None,
        }
    }
}

/// What one delivery attempt came to.
pub type PublishOutcome = Result<Delivered, PublishError>;
