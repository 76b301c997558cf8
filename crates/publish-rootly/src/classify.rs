//! Response → outcome.

use std::time::Duration;

use chrono::{DateTime, Utc};
use publish::{ErrorKind, PublishError};
use serde::Deserialize;

/// At most this much of an error detail is kept in a reason.
const MAX_DETAIL: usize = 512;

/// A `RateLimit-Reset` above this is a Unix time, not a number of seconds.
const EPOCH_THRESHOLD: u64 = 1_000_000_000;

/// What a request was for: part of every reason and the `action` metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// `POST /v1/alerts`.
    Create,
    /// `POST /v1/alerts/{id}/resolve`.
    Resolve,
    /// `GET /v1/alerts?filter[external_id]=...`.
    Lookup,
    /// `POST /v1/incidents`.
    Incident,
    /// The health probe's read.
    Probe,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Resolve => "resolve",
            Action::Lookup => "lookup",
            Action::Incident => "incident",
            Action::Probe => "probe",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Action::Create => "create alert",
            Action::Resolve => "resolve alert",
            Action::Lookup => "look up alert",
            Action::Incident => "open incident",
            Action::Probe => "probe",
        }
    }
}

#[derive(Deserialize)]
struct ErrorDocument {
    errors: Vec<ErrorObject>,
}

#[derive(Deserialize)]
struct ErrorObject {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

/// The `title`s (with `detail` where it adds something) of a JSON:API error document, joined
/// with `; `. `None` when the body is not one.
pub(crate) fn error_titles(body: &[u8]) -> Option<String> {
    let doc: ErrorDocument = serde_json::from_slice(body).ok()?;
    let titles: Vec<String> = doc
        .errors
        .into_iter()
        .filter_map(|e| match (e.title, e.detail) {
            (Some(t), Some(d)) if !d.trim().is_empty() && d.trim() != t.trim() => {
                Some(format!("{}: {}", t.trim(), d.trim()))
            }
            (Some(t), _) if !t.trim().is_empty() => Some(t.trim().to_owned()),
            (_, Some(d)) if !d.trim().is_empty() => Some(d.trim().to_owned()),
            _ => None,
        })
        .collect();
    (!titles.is_empty()).then(|| titles.join("; "))
}

/// How long to wait after a 429: `RateLimit-Reset` (seconds until the window resets, or a
/// Unix time), else `Retry-After`.
pub(crate) fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let reset = headers
        .get("ratelimit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| {
            if v >= EPOCH_THRESHOLD as f64 {
                let now =
                    now.timestamp() as f64 + f64::from(now.timestamp_subsec_millis()) / 1000.0;
                Duration::from_secs_f64((v - now).max(0.0))
            } else {
                Duration::from_secs_f64(v)
            }
        });
    reset.or_else(|| {
        headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| publish::classify::retry_after(v, now))
    })
}

/// Replaces every occurrence of the API key (should a server ever echo it) with the redaction
/// marker.
pub(crate) fn scrub(text: &str, api_key: &str) -> String {
    if api_key.len() >= 4 && text.contains(api_key) {
        text.replace(api_key, publish::Secret::REDACTED)
    } else {
        text.to_owned()
    }
}

/// Classifies a non-success answer to `action`. 401/403 and 422 are permanent with Rootly's
/// error titles; 429 is retryable after `RateLimit-Reset`; 5xx retryable; other 4xx permanent.
pub(crate) fn failure(
    action: Action,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    api_key: &str,
) -> PublishError {
    let detail = match error_titles(body) {
        Some(titles) => titles,
        None => String::from_utf8_lossy(body).trim().to_owned(),
    };
    let detail = publish::truncate::chars(&scrub(&detail, api_key), MAX_DETAIL).0;
    let retry = if status == 429 {
        retry_after(headers, Utc::now())
    } else {
        None
    };
    let mut err = publish::classify::http_status(status, retry, &detail);
    let reason = format!("rootly {}: {}", action.describe(), err.reason());
    *err.reason_mut() = reason;
    err
}

/// A transport failure of `action` (the URL is never part of it).
pub(crate) fn transport(action: Action, err: reqwest::Error, api_key: &str) -> PublishError {
    let mut err = publish::classify::transport(err);
    let reason = scrub(
        &format!("rootly {}: {}", action.describe(), err.reason()),
        api_key,
    );
    *err.reason_mut() = reason;
    err
}

/// A 2xx answer whose body we could not use. The request may have taken effect, so this is
/// retryable: the retry looks the alert up by its external id before creating anything.
pub(crate) fn unreadable(action: Action, status: u16, why: &str) -> PublishError {
    PublishError::Retryable {
        kind: ErrorKind::Other,
        reason: format!(
            "rootly {}: HTTP {status} but the answer is unusable: {why}",
            action.describe()
        ),
        status_code: Some(status),
        retry_after: None,
        vendor_state: None,
        rate_limit_key: None,
    }
}

/// One alert of a JSON:API answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct AlertResource {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) attributes: AlertResourceAttributes,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct AlertResourceAttributes {
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default)]
    pub(crate) external_id: Option<String>,
    #[serde(default)]
    pub(crate) source: Option<String>,
    #[serde(default)]
    pub(crate) incidents: Vec<IncidentRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct IncidentRef {
    pub(crate) id: String,
}

impl AlertResource {
    pub(crate) fn is_open(&self) -> bool {
        self.attributes.status.as_deref() != Some("resolved")
    }
}

#[derive(Deserialize)]
struct One<T> {
    data: T,
}

#[derive(Deserialize)]
struct Many<T> {
    data: Vec<T>,
}

/// `{"data": {"id": ...}}` of a 201/200.
pub(crate) fn created(body: &[u8]) -> Result<AlertResource, String> {
    let doc: One<AlertResource> =
        serde_json::from_slice(body).map_err(|e| format!("expected a JSON:API resource: {e}"))?;
    if doc.data.id.trim().is_empty() {
        return Err("the resource has an empty id".to_owned());
    }
    Ok(doc.data)
}

/// `{"data": [...]}` of a list.
pub(crate) fn listed(body: &[u8]) -> Result<Vec<AlertResource>, String> {
    serde_json::from_slice::<Many<AlertResource>>(body)
        .map(|d| d.data)
        .map_err(|e| format!("expected a JSON:API list: {e}"))
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                *k,
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
            );
        }
        h
    }

    fn check(
        status: u16,
        hdrs: &[(&'static str, &str)],
        body: &str,
        retryable: bool,
        kind: ErrorKind,
        reason: &str,
    ) {
        let e = failure(
            Action::Create,
            status,
            &headers(hdrs),
            body.as_bytes(),
            "s3cr3t-key",
        );
        assert_eq!(e.is_retryable(), retryable, "{status}");
        assert_eq!(e.kind(), kind, "{status}");
        assert_eq!(e.status_code(), Some(status));
        assert_eq!(e.reason(), reason);
    }

    #[test]
    fn statuses() {
        let titles = r#"{"errors":[{"title":"Summary can't be blank","status":"422"},{"title":"Source can't be blank","status":"422"}]}"#;
        check(
            422,
            &[],
            titles,
            false,
            ErrorKind::Invalid,
            "rootly create alert: HTTP 422: Summary can't be blank; Source can't be blank",
        );
        check(
            401,
            &[],
            r#"{"errors":[{"title":"Invalid token","status":"401"}]}"#,
            false,
            ErrorKind::Auth,
            "rootly create alert: HTTP 401: Invalid token",
        );
        check(
            404,
            &[],
            r#"{"errors":[{"title":"Not found"}]}"#,
            false,
            ErrorKind::NotFound,
            "rootly create alert: HTTP 404: Not found",
        );
        check(
            500,
            &[],
            "oops",
            true,
            ErrorKind::Server,
            "rootly create alert: HTTP 500: oops",
        );
        check(
            503,
            &[],
            "",
            true,
            ErrorKind::Server,
            "rootly create alert: HTTP 503",
        );
        check(
            429,
            &[("ratelimit-reset", "17")],
            "{}",
            true,
            ErrorKind::RateLimited,
            "rootly create alert: HTTP 429: {}",
        );
        check(
            401,
            &[],
            "token s3cr3t-key is invalid",
            false,
            ErrorKind::Auth,
            "rootly create alert: HTTP 401: token <redacted> is invalid",
        );
        check(
            422,
            &[],
            r#"{"errors":[{"title":"Invalid","detail":"labels must be an array"}]}"#,
            false,
            ErrorKind::Invalid,
            "rootly create alert: HTTP 422: Invalid: labels must be an array",
        );
    }

    #[test]
    fn rate_limit_reset_forms() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |h: &[(&'static str, &str)]| retry_after(&headers(h), now);
        assert_eq!(
            at(&[("ratelimit-reset", "17")]),
            Some(Duration::from_secs(17))
        );
        assert_eq!(at(&[("ratelimit-reset", "0")]), Some(Duration::ZERO));
        let epoch = (now.timestamp() + 42).to_string();
        assert_eq!(
            at(&[("ratelimit-reset", &epoch)]),
            Some(Duration::from_secs(42))
        );
        assert_eq!(
            at(&[("ratelimit-reset", "soon"), ("retry-after", "5")]),
            Some(Duration::from_secs(5))
        );
        assert_eq!(at(&[]), None);
        let e = failure(
            Action::Resolve,
            429,
            &headers(&[("ratelimit-reset", "9")]),
            b"",
            "k",
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(9)));
        let e = failure(
            Action::Resolve,
            503,
            &headers(&[("ratelimit-reset", "9")]),
            b"",
            "k",
        );
        assert_eq!(e.retry_after(), None, "only a 429 waits for the window");
    }

    #[test]
    fn reads_resources() {
        let r = created(br#"{"data":{"id":"a1","type":"alerts","attributes":{"status":"open","incidents":[{"id":"i1"}]}}}"#).unwrap();
        assert_eq!(r.id, "a1");
        assert!(r.is_open());
        assert_eq!(
            r.attributes.incidents,
            vec![IncidentRef {
                id: "i1".to_owned()
            }]
        );
        assert!(created(br#"{"data":{"id":""}}"#).is_err());
        assert!(created(b"ok").is_err());
        let l = listed(br#"{"data":[{"id":"a","attributes":{"status":"resolved"}},{"id":"b"}]}"#)
            .unwrap();
        assert!(!l[0].is_open() && l[1].is_open());
    }
}
