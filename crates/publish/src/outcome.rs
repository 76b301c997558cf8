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
        /// Progress to keep although the delivery failed: the vendor state after the calls that
        /// did succeed (a Slack message already updated when its thread reply was refused), so
        /// the retry makes only the calls still due. `None` leaves the stored state unchanged.
        vendor_state: Option<serde_json::Value>,
        /// The proactive rate-limit bucket ([`crate::RateLimit::key`]) a rate-limit refusal
        /// applies to: with `retry_after`, the engine holds every delivery of that bucket that
        /// long, not only this one (a vendor's per-channel limit is shared by every job for the
        /// channel).
        rate_limit_key: Option<String>,
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
            vendor_state: None,
            rate_limit_key: None,
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

    /// The vendor state to keep with a retry (the progress the failed attempt made), if any.
    pub fn vendor_state(&self) -> Option<&serde_json::Value> {
        match self {
            PublishError::Retryable { vendor_state, .. } => vendor_state.as_ref(),
            PublishError::Permanent { .. } => None,
        }
    }

    /// The rate-limit bucket a refusal applies to, if the publisher named one.
    pub fn rate_limit_key(&self) -> Option<&str> {
        match self {
            PublishError::Retryable { rate_limit_key, .. } => rate_limit_key.as_deref(),
            PublishError::Permanent { .. } => None,
        }
    }

    /// A retryable error that keeps `state` as the vendor state for the retry. A permanent
    /// error is returned unchanged: nothing retries it.
    pub fn with_vendor_state(mut self, state: serde_json::Value) -> Self {
        if let PublishError::Retryable { vendor_state, .. } = &mut self {
            *vendor_state = Some(state);
        }
        self
    }

    /// A retryable error naming the rate-limit bucket it applies to. A permanent error is
    /// returned unchanged.
    pub fn with_rate_limit_key(mut self, key: impl Into<String>) -> Self {
        if let PublishError::Retryable { rate_limit_key, .. } = &mut self {
            *rate_limit_key = Some(key.into());
        }
        self
    }

    /// The reason, for rewording it in place (adding context, scrubbing secrets).
    pub fn reason_mut(&mut self) -> &mut String {
        match self {
            PublishError::Retryable { reason, .. } | PublishError::Permanent { reason, .. } => {
                reason
            }
        }
    }
}

/// What one delivery attempt came to.
pub type PublishOutcome = Result<Delivered, PublishError>;
