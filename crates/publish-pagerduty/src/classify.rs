//! PagerDuty's answer → outcome.
//!
//! 202 (any 2xx) is delivered, keeping the dedup key PagerDuty returned; 400 is permanent and
//! carries PagerDuty's `errors`; 429 is retryable with `Retry-After` when present; 5xx is
//! retryable. Transport errors are classified by `publish::classify::transport`.

use std::time::Duration;

use publish::PublishError;
use serde::Deserialize;

/// At most this many characters of PagerDuty's error text are kept in a reason.
pub(crate) const MAX_DETAIL_CHARS: usize = 512;

/// PagerDuty accepted the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The HTTP status (202).
    pub status_code: u16,
    /// The dedup key PagerDuty returned (alert events), else the one we sent.
    pub dedup_key: Option<String>,
}

/// PagerDuty's answer body: `{"status","message","dedup_key"}` on success,
/// `{"status","message","errors":[...]}` on failure.
#[derive(Debug, Default, Deserialize)]
struct Answer {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    dedup_key: Option<String>,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

/// Classifies one HTTP answer. `sent_dedup_key` is kept when a 2xx body names none;
/// `secret` (the routing key) is scrubbed from any text taken from the body.
pub fn response(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    sent_dedup_key: Option<&str>,
    secret: &str,
) -> Result<Accepted, PublishError> {
    let answer: Option<Answer> = serde_json::from_slice(body).ok();
    if (200..300).contains(&status) {
        let dedup_key = answer
            .and_then(|a| a.dedup_key)
            .filter(|k| !k.is_empty())
            .or_else(|| sent_dedup_key.map(str::to_owned));
        return Ok(Accepted {
            status_code: status,
            dedup_key,
        });
    }
    let detail = match answer {
        Some(a) => describe(&a),
        None => String::from_utf8_lossy(body).trim().to_owned(),
    };
    let detail = scrub(&detail, secret);
    let (detail, _) = publish::truncate::chars(&detail, MAX_DETAIL_CHARS);
    let retry_after = if status == 429 || status >= 500 {
        retry_after
    } else {
        None
    };
    Err(publish::classify::http_status(
        status,
        retry_after,
        format!("PagerDuty: {detail}").trim_end_matches([':', ' ']),
    ))
}

fn describe(a: &Answer) -> String {
    let mut out = a
        .message
        .clone()
        .or_else(|| a.status.clone())
        .unwrap_or_default();
    let errors: Vec<String> = a
        .errors
        .iter()
        .map(|e| match e {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    if !errors.is_empty() {
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&errors.join("; "));
    }
    out
}

/// `text` with every occurrence of `secret` replaced by the redaction marker.
pub(crate) fn scrub(text: &str, secret: &str) -> String {
    if secret.is_empty() || !text.contains(secret) {
        return text.to_owned();
    }
    text.replace(secret, publish::Secret::REDACTED)
}

#[cfg(test)]
mod tests {
    use publish::ErrorKind;

    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn check(
        status: u16,
        body: &str,
        retry_after: Option<u64>,
        expected: Result<Option<&str>, (bool, ErrorKind, &str)>,
    ) {
        let got = response(
            status,
            retry_after.map(Duration::from_secs),
            body.as_bytes(),
            Some("sent"),
            KEY,
        );
        match (got, expected) {
            (Ok(a), Ok(key)) => {
                assert_eq!(a.status_code, status);
                assert_eq!(a.dedup_key.as_deref(), key);
            }
            (Err(e), Err((retryable, kind, reason))) => {
                assert_eq!(e.is_retryable(), retryable, "{status} {body}");
                assert_eq!(e.kind(), kind, "{status} {body}");
                assert_eq!(e.reason(), reason);
                assert_eq!(e.status_code(), Some(status));
            }
            (got, expected) => panic!("{status} {body}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn answers() {
        check(
            202,
            r#"{"status":"success","message":"Event processed","dedup_key":"abc"}"#,
            None,
            Ok(Some("abc")),
        );
        check(
            202,
            r#"{"status":"success","message":"Change event processed"}"#,
            None,
            Ok(Some("sent")),
        );
        check(202, "", None, Ok(Some("sent")));
        check(
            400,
            r#"{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing"]}"#,
            None,
            Err((
                false,
                ErrorKind::Invalid,
                "HTTP 400: PagerDuty: Event object is invalid: 'payload.summary' is missing",
            )),
        );
        check(
            400,
            &format!(
                r#"{{"status":"invalid event","message":"Event object is invalid","errors":["bad key {KEY}"]}}"#
            ),
            None,
            Err((
                false,
                ErrorKind::Invalid,
                "HTTP 400: PagerDuty: Event object is invalid: bad key <redacted>",
            )),
        );
        check(
            429,
            r#"{"status":"throttle event","message":"Requests for this service are arriving too quickly.  Please retry later."}"#,
            Some(7),
            Err((
                true,
                ErrorKind::RateLimited,
                "HTTP 429: PagerDuty: Requests for this service are arriving too quickly.  Please retry later.",
            )),
        );
        check(
            500,
            "oops",
            None,
            Err((true, ErrorKind::Server, "HTTP 500: PagerDuty: oops")),
        );
        check(
            503,
            "",
            None,
            Err((true, ErrorKind::Server, "HTTP 503: PagerDuty")),
        );
        check(
            403,
            "{}",
            None,
            Err((false, ErrorKind::Auth, "HTTP 403: PagerDuty")),
        );
    }

    #[test]
    fn retry_after_only_where_it_means_something() {
        let e = response(429, Some(Duration::from_secs(3)), b"", None, KEY).unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        let e = response(429, None, b"", None, KEY).unwrap_err();
        assert_eq!(e.retry_after(), None);
        let e = response(400, Some(Duration::from_secs(3)), b"", None, KEY).unwrap_err();
        assert_eq!(e.retry_after(), None);
    }
}
