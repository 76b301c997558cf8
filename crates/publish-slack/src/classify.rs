//! Response → outcome, with Slack's own error strings.
//!
//! The Web API answers HTTP 200 and says in the body whether it worked (`{"ok":false,
//! "error":"channel_not_found"}`); incoming webhooks answer a status with a plain error string.
//! Known strings are classified by what they mean: permanent ones (bad token, missing channel,
//! bot not in the channel, archived channel, rejected blocks, ...) carry the string and a hint
//! in the reason; `ratelimited`, `internal_error`, `fatal_error`, `request_timeout`, any 429 and
//! any 5xx are retryable (429 with its `Retry-After`). An unknown string is permanent: Slack
//! answered, and repeating the same request is not known to help.

use std::time::Duration;

use publish::{ErrorKind, PublishError};

/// At most this much of an answer's detail is kept in a reason.
const MAX_DETAIL: usize = 256;

/// What a known Slack error string means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlackErrorCode {
    /// The string Slack sends.
    pub code: &'static str,
    /// Whether trying again later may succeed.
    pub retryable: bool,
    /// The bounded kind.
    pub kind: ErrorKind,
    /// What it means and what to do.
    pub hint: &'static str,
}

const fn c(
    code: &'static str,
    retryable: bool,
    kind: ErrorKind,
    hint: &'static str,
) -> SlackErrorCode {
    SlackErrorCode {
        code,
        retryable,
        kind,
        hint,
    }
}

/// Every Slack error string we classify (Web API and incoming webhooks).
pub const KNOWN_ERRORS: &[SlackErrorCode] = &[
    // Try again later.
    c(
        "ratelimited",
        true,
        ErrorKind::RateLimited,
        "Slack is rate limiting this app",
    ),
    c(
        "rate_limited",
        true,
        ErrorKind::RateLimited,
        "Slack is rate limiting this webhook",
    ),
    c(
        "internal_error",
        true,
        ErrorKind::Server,
        "Slack had an internal error",
    ),
    c(
        "fatal_error",
        true,
        ErrorKind::Server,
        "Slack had a server error",
    ),
    c(
        "request_timeout",
        true,
        ErrorKind::Timeout,
        "Slack timed out reading the request",
    ),
    c(
        "service_unavailable",
        true,
        ErrorKind::Server,
        "Slack is unavailable",
    ),
    c(
        "rollup_error",
        true,
        ErrorKind::Server,
        "Slack had an internal error",
    ),
    c(
        "team_added_to_org",
        true,
        ErrorKind::Server,
        "the workspace is being migrated",
    ),
    // Credentials and permissions.
    c("not_authed", false, ErrorKind::Auth, "no token was sent"),
    c(
        "invalid_auth",
        false,
        ErrorKind::Auth,
        "the token is not valid; check options.token",
    ),
    c(
        "account_inactive",
        false,
        ErrorKind::Auth,
        "the token's bot or user was deactivated",
    ),
    c(
        "token_revoked",
        false,
        ErrorKind::Auth,
        "the token was revoked; install the app again",
    ),
    c("token_expired", false, ErrorKind::Auth, "the token expired"),
    c(
        "no_permission",
        false,
        ErrorKind::Auth,
        "the token may not do this",
    ),
    c(
        "missing_scope",
        false,
        ErrorKind::Auth,
        "the token lacks a scope; chat:write is needed",
    ),
    c(
        "not_allowed_token_type",
        false,
        ErrorKind::Auth,
        "use a bot token (xoxb-)",
    ),
    c(
        "ekm_access_denied",
        false,
        ErrorKind::Auth,
        "administrators suspended this app's access",
    ),
    c(
        "invalid_token",
        false,
        ErrorKind::Auth,
        "the webhook's token is invalid; create a new webhook",
    ),
    c(
        "action_prohibited",
        false,
        ErrorKind::Auth,
        "an administrator restricted posting here",
    ),
    c(
        "restricted_action",
        false,
        ErrorKind::Auth,
        "a workspace preference forbids posting here",
    ),
    c(
        "not_in_channel",
        false,
        ErrorKind::Auth,
        "the bot is not a member of the channel; invite it",
    ),
    // Where the message should go.
    c(
        "channel_not_found",
        false,
        ErrorKind::NotFound,
        "the channel does not exist or the bot cannot see it; check options.channel",
    ),
    c(
        "is_archived",
        false,
        ErrorKind::NotFound,
        "the channel is archived",
    ),
    c(
        "channel_is_archived",
        false,
        ErrorKind::NotFound,
        "the channel is archived",
    ),
    c(
        "no_service",
        false,
        ErrorKind::NotFound,
        "the webhook was removed or disabled; create a new one",
    ),
    c(
        "user_not_found",
        false,
        ErrorKind::NotFound,
        "the user does not exist",
    ),
    c(
        "message_not_found",
        false,
        ErrorKind::NotFound,
        "the message to update no longer exists",
    ),
    c(
        "thread_not_found",
        false,
        ErrorKind::NotFound,
        "the thread's parent message no longer exists",
    ),
    c(
        "cant_update_message",
        false,
        ErrorKind::Client,
        "the message was not posted by this bot",
    ),
    c(
        "edit_window_closed",
        false,
        ErrorKind::Client,
        "the message is too old to edit",
    ),
    // The message itself.
    c(
        "invalid_blocks",
        false,
        ErrorKind::Invalid,
        "Slack rejected the blocks",
    ),
    c(
        "invalid_blocks_format",
        false,
        ErrorKind::Invalid,
        "the blocks are not a JSON array",
    ),
    c(
        "invalid_attachments",
        false,
        ErrorKind::Invalid,
        "Slack rejected the attachments",
    ),
    c(
        "too_many_attachments",
        false,
        ErrorKind::Invalid,
        "more than 100 attachments",
    ),
    c(
        "no_text",
        false,
        ErrorKind::Invalid,
        "the message has no text, blocks or attachments",
    ),
    c(
        "msg_too_long",
        false,
        ErrorKind::Invalid,
        "the message text is too long",
    ),
    c(
        "invalid_payload",
        false,
        ErrorKind::Invalid,
        "Slack could not read the request",
    ),
    c(
        "invalid_arguments",
        false,
        ErrorKind::Invalid,
        "Slack rejected an argument",
    ),
    c(
        "invalid_json",
        false,
        ErrorKind::Invalid,
        "Slack could not read the JSON",
    ),
    c(
        "json_not_object",
        false,
        ErrorKind::Invalid,
        "the body is not a JSON object",
    ),
];

/// What a Slack error string means, if we know it.
pub fn error_code(code: &str) -> Option<&'static SlackErrorCode> {
    KNOWN_ERRORS.iter().find(|k| k.code == code)
}

/// A failure with its bounded metric label (a known Slack error string, or the error kind).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub(crate) error: PublishError,
    pub(crate) label: &'static str,
}

impl Failure {
    pub(crate) fn transport(err: reqwest::Error) -> Self {
        let error = publish::classify::transport(err);
        Failure {
            label: error.kind().as_str(),
            error,
        }
    }

    fn plain(error: PublishError) -> Self {
        Failure {
            label: error.kind().as_str(),
            error,
        }
    }
}

/// A Slack error string cut to something safe to show (it comes from the network).
fn clean(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

fn detail_of(text: &str) -> String {
    publish::truncate::chars(text.trim(), MAX_DETAIL).0
}

/// Classifies Slack's error string `code` answered by `method` with HTTP `status`. A 5xx is
/// retryable whatever the string says.
fn slack_error(
    method: &str,
    code: &str,
    status: u16,
    retry_after: Option<Duration>,
    detail: &str,
) -> Failure {
    let status_code = Some(status);
    let known = error_code(code);
    let reason = match known {
        Some(k) => format!("slack {method}: {} ({})", k.code, k.hint),
        None => format!("slack {method}: {} (unknown Slack error)", clean(code)),
    };
    let reason = if detail.is_empty() {
        reason
    } else {
        format!("{reason}: {}", detail_of(detail))
    };
    let (retryable, kind, label) = match known {
        _ if status >= 500 => (true, ErrorKind::Server, known.map_or("server", |k| k.code)),
        Some(k) => (k.retryable, k.kind, k.code),
        None => (false, ErrorKind::Client, "client"),
    };
    let error = if retryable {
        PublishError::Retryable {
            kind,
            reason,
            status_code,
            retry_after,
            vendor_state: None,
            rate_limit_key: None,
        }
    } else {
        PublishError::Permanent {
            kind,
            reason,
            status_code,
        }
    };
    Failure { error, label }
}

fn rate_limited(method: &str, retry_after: Option<Duration>) -> Failure {
    let hint = retry_after
        .map(|d| format!(", retry after {}s", d.as_secs_f64()))
        .unwrap_or_default();
    Failure {
        error: PublishError::Retryable {
            kind: ErrorKind::RateLimited,
            reason: format!("slack {method}: HTTP 429 rate limited{hint}"),
            status_code: Some(429),
            retry_after,
            vendor_state: None,
            rate_limit_key: None,
        },
        label: "ratelimited",
    }
}

/// A Web API answer: the JSON body when `ok` is true.
pub(crate) fn api_response(
    method: &str,
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<serde_json::Value, Failure> {
    if status == 429 {
        return Err(rate_limited(method, retry_after));
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let ok = json
        .as_ref()
        .and_then(|j| j.get("ok"))
        .and_then(serde_json::Value::as_bool);
    let code = json
        .as_ref()
        .and_then(|j| j.get("error"))
        .and_then(serde_json::Value::as_str);
    match (status, ok, code) {
        (200..=299, Some(true), _) => Ok(json.unwrap_or_default()),
        (_, _, Some(code)) => {
            // `invalid_blocks` and friends list what was wrong in `errors`.
            let detail = json
                .as_ref()
                .and_then(|j| j.get("errors"))
                .and_then(serde_json::Value::as_array)
                .map(|errs| {
                    errs.iter()
                        .filter_map(serde_json::Value::as_str)
                        .take(3)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            Err(slack_error(method, code, status, retry_after, &detail))
        }
        (200..=299, _, None) => Err(Failure::plain(PublishError::Retryable {
            kind: ErrorKind::Server,
            reason: format!(
                "slack {method}: HTTP {status} without an `ok` answer (not the Slack API?)"
            ),
            status_code: Some(status),
            retry_after,
            vendor_state: None,
            rate_limit_key: None,
        })),
        (_, _, None) => {
            let text = String::from_utf8_lossy(body);
            Err(http_failure(method, status, retry_after, &text))
        }
    }
}

/// An incoming webhook answer: any 2xx is delivered; otherwise the plain error string (or the
/// status) decides.
pub(crate) fn webhook_response(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<(), Failure> {
    const METHOD: &str = "webhook";
    if (200..300).contains(&status) {
        return Ok(());
    }
    if status == 429 {
        return Err(rate_limited(METHOD, retry_after));
    }
    let text = String::from_utf8_lossy(body);
    let code = text.trim();
    if error_code(code).is_some() {
        return Err(slack_error(METHOD, code, status, retry_after, ""));
    }
    Err(http_failure(METHOD, status, retry_after, code))
}

/// A status without a Slack error string, classified by status, the reason naming the method.
fn http_failure(method: &str, status: u16, retry_after: Option<Duration>, text: &str) -> Failure {
    let mut f = Failure::plain(publish::classify::http_status(
        status,
        retry_after,
        &detail_of(text),
    ));
    let (PublishError::Retryable { reason, .. } | PublishError::Permanent { reason, .. }) =
        &mut f.error;
    *reason = format!("slack {method}: {reason}");
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, body: &str) -> Result<serde_json::Value, Failure> {
        api_response("chat.postMessage", status, None, body.as_bytes())
    }

    #[test]
    fn every_known_code_from_the_web_api() {
        for k in KNOWN_ERRORS {
            let f = api(200, &format!(r#"{{"ok":false,"error":"{}"}}"#, k.code)).unwrap_err();
            assert_eq!(f.error.is_retryable(), k.retryable, "{}", k.code);
            assert_eq!(f.error.kind(), k.kind, "{}", k.code);
            assert_eq!(f.label, k.code);
            assert_eq!(f.error.status_code(), Some(200));
            assert!(
                f.error.reason().contains(k.code) && f.error.reason().contains(k.hint),
                "{}",
                f.error.reason()
            );
        }
    }

    #[test]
    fn every_known_code_from_a_webhook() {
        for k in KNOWN_ERRORS {
            let f = webhook_response(400, None, k.code.as_bytes()).unwrap_err();
            assert_eq!(f.error.is_retryable(), k.retryable, "{}", k.code);
            assert_eq!(f.label, k.code);
            assert!(
                f.error
                    .reason()
                    .starts_with(&format!("slack webhook: {}", k.code)),
                "{}",
                f.error.reason()
            );
        }
    }

    #[test]
    fn the_issue_list() {
        for code in [
            "channel_not_found",
            "invalid_auth",
            "not_in_channel",
            "is_archived",
            "invalid_blocks",
        ] {
            assert!(
                !api(200, &format!(r#"{{"ok":false,"error":"{code}"}}"#))
                    .unwrap_err()
                    .error
                    .is_retryable(),
                "{code}"
            );
        }
        for code in [
            "ratelimited",
            "internal_error",
            "fatal_error",
            "request_timeout",
        ] {
            assert!(
                api(200, &format!(r#"{{"ok":false,"error":"{code}"}}"#))
                    .unwrap_err()
                    .error
                    .is_retryable(),
                "{code}"
            );
        }
    }

    #[test]
    fn statuses_and_shapes() {
        assert_eq!(api(200, r#"{"ok":true,"ts":"1.2"}"#).unwrap()["ts"], "1.2");
        let f = api_response(
            "chat.postMessage",
            429,
            Some(Duration::from_secs(3)),
            br#"{"ok":false,"error":"ratelimited"}"#,
        )
        .unwrap_err();
        assert_eq!(f.error.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(f.error.kind(), ErrorKind::RateLimited);
        // 5xx is retryable even with a permanent-looking string
        let f = api(503, r#"{"ok":false,"error":"invalid_auth"}"#).unwrap_err();
        assert!(f.error.is_retryable() && f.error.status_code() == Some(503));
        let f = api(502, "<html>bad gateway</html>").unwrap_err();
        assert!(
            f.error.is_retryable()
                && f.error
                    .reason()
                    .starts_with("slack chat.postMessage: HTTP 502"),
            "{}",
            f.error.reason()
        );
        let f = api(404, "nope").unwrap_err();
        assert!(!f.error.is_retryable() && f.error.kind() == ErrorKind::NotFound);
        let f = api(200, "not json").unwrap_err();
        assert!(f.error.is_retryable(), "{}", f.error.reason());
        let f = api(200, r#"{"ok":false,"error":"brand_new_thing<script>"}"#).unwrap_err();
        assert!(!f.error.is_retryable() && f.label == "client");
        assert!(
            f.error
                .reason()
                .contains("brand_new_thingscript (unknown Slack error)"),
            "{}",
            f.error.reason()
        );
        let f = api(200, r#"{"ok":false,"error":"invalid_blocks","errors":["must be less than 3001 characters [json-pointer:/blocks/1/text/text]"]}"#)
            .unwrap_err();
        assert!(
            f.error
                .reason()
                .ends_with("[json-pointer:/blocks/1/text/text]"),
            "{}",
            f.error.reason()
        );
        assert!(webhook_response(200, None, b"ok").is_ok());
        let f = webhook_response(500, None, b"rollup_error").unwrap_err();
        assert!(f.error.is_retryable() && f.label == "rollup_error");
        let f = webhook_response(403, None, b"").unwrap_err();
        assert!(!f.error.is_retryable() && f.error.kind() == ErrorKind::Auth && f.label == "auth");
        let f = webhook_response(429, Some(Duration::from_secs(1)), b"rate_limited").unwrap_err();
        assert_eq!(f.error.retry_after(), Some(Duration::from_secs(1)));
    }
}
