//! Classification of HTTP answers and transport errors shared by the publishers.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{ErrorKind, PublishError};

/// Classifies a non-2xx HTTP status: 408, 429 and 5xx are retryable, other 4xx permanent.
/// `detail` (free of secrets) is appended to the reason.
pub fn http_status(status: u16, retry_after: Option<Duration>, detail: &str) -> PublishError {
    let detail = detail.trim();
    let reason = if detail.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {detail}")
    };
    let retry = |kind| PublishError::Retryable {
        kind,
        reason: reason.clone(),
        status_code: Some(status),
        retry_after,
        vendor_state: None,
        rate_limit_key: None,
    };
    let permanent = |kind| PublishError::Permanent {
        kind,
        reason: reason.clone(),
        status_code: Some(status),
    };
    match status {
        408 => retry(ErrorKind::Timeout),
        429 => retry(ErrorKind::RateLimited),
        500..=599 => retry(ErrorKind::Server),
        401 | 403 => permanent(ErrorKind::Auth),
        404 | 410 => permanent(ErrorKind::NotFound),
        400 | 413 | 422 => permanent(ErrorKind::Invalid),
        _ => permanent(ErrorKind::Client),
    }
}

/// Classifies a transport error. Connect errors, timeouts and broken connections are
/// retryable; errors building the request are permanent, and so is a request the outbound
/// guard refused (the reason is the refusal: "address 10.0.0.5 of internal.test is not
/// allowed (private)"). The URL is never part of the reason (it can hold a token, as Slack
/// webhook URLs do).
pub fn transport(err: reqwest::Error) -> PublishError {
    let err = err.without_url();
    if let Some(refused) = crate::outbound::refusal(&err) {
        return PublishError::permanent(ErrorKind::Config, format!("refused: {refused}"));
    }
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    if err.is_timeout() {
        PublishError::retryable(ErrorKind::Timeout, format!("timed out: {chain}"))
    } else if err.is_connect() {
        PublishError::retryable(ErrorKind::Connect, format!("connect failed: {chain}"))
    } else if err.is_builder() {
        PublishError::permanent(ErrorKind::Config, format!("invalid request: {chain}"))
    } else {
        PublishError::retryable(ErrorKind::Io, format!("request failed: {chain}"))
    }
}

/// Parses a `Retry-After` header: delay-seconds or an HTTP date (relative to `now`).
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Reads `Retry-After` from a response's headers.
pub fn retry_after_header(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after(v, Utc::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: u16, retryable: bool, kind: ErrorKind) {
        let e = http_status(status, None, "body");
        assert_eq!(e.is_retryable(), retryable, "{status}");
        assert_eq!(e.kind(), kind, "{status}");
        assert_eq!(e.status_code(), Some(status));
        assert_eq!(e.reason(), format!("HTTP {status}: body"));
    }

    #[test]
    fn statuses() {
        check(400, false, ErrorKind::Invalid);
        check(401, false, ErrorKind::Auth);
        check(403, false, ErrorKind::Auth);
        check(404, false, ErrorKind::NotFound);
        check(409, false, ErrorKind::Client);
        check(422, false, ErrorKind::Invalid);
        check(408, true, ErrorKind::Timeout);
        check(429, true, ErrorKind::RateLimited);
        check(500, true, ErrorKind::Server);
        check(503, true, ErrorKind::Server);
    }

    #[test]
    fn retry_after_forms() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(" 1.5 ", now), Some(Duration::from_millis(1500)));
        assert_eq!(
            retry_after("Mon, 23 Nov 2026 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Mon, 23 Nov 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }
}
