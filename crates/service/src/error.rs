//! What a call into the service can fail with; the HTTP layer maps each kind to a status and
//! a stable code.

use std::time::Duration;

/// Why a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is wrong; the message names the field.
    Invalid,
    /// No such target, job or dead letter.
    NotFound,
    /// The named target is disabled.
    TargetDisabled,
    /// No enabled target accepts the alert.
    NoMatchingTarget,
    /// There is no enabled target at all.
    NoEnabledTargets,
    /// The strategy skipped every target.
    NoHealthyTargets,
    /// No target delivered.
    AllFailed,
    /// The publishing deadline passed.
    Timeout,
    /// The service is shutting down.
    Cancelled,
    /// The job store cannot be reached; retry later.
    Unavailable,
    /// A dead letter cannot be replayed (a newer notification exists).
    ReplayRefused,
    /// The request conflicts with the alert's state (acknowledging a resolved alert).
    Conflict,
    /// Asked again too soon; retry after the given time.
    RateLimited(Duration),
}

/// A failed call: its kind, a message for people and optional structured details.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// Why.
    pub kind: ErrorKind,
    /// What was wrong, where, and what to do.
    pub message: String,
    /// Structured details (for example the parallel report of a failed fan-out).
    pub details: Option<serde_json::Value>,
}

impl Error {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            details: None,
        }
    }

    /// Adds structured details.
    #[must_use]
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Invalid input.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    /// Not found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// The store failed.
    pub fn store(e: &queue::StoreError) -> Self {
        Self::new(ErrorKind::Unavailable, e.to_string())
    }
}

/// The result of a call into the service.
pub type Result<T> = std::result::Result<T, Error>;
