//! How locations are shown in logs, the API and the redacted configuration.

/// A URL without user info, query or fragment — those can carry credentials (Slack webhook
/// paths are secret too, so only scheme, host and port are shown for them).
pub fn redact_url(url: &str) -> String {
    redact_url_path(url, false)
}

/// Like [`redact_url`]; `hide_path` also hides the path (a Slack incoming-webhook URL is a
/// secret on whatever host it lives, and always on `hooks.slack.com`).
pub fn redact_url_path(url: &str, hide_path: bool) -> String {
    let slack = url::Url::parse(url)
        .is_ok_and(|u| u.host_str().is_some_and(|h| h.ends_with("hooks.slack.com")));
    publish::redact_url_path(url, hide_path || slack)
}

/// The store location for logs: paths as they are, URLs without credentials.
pub fn store_display(store: &str) -> String {
    if store.contains("://") {
        redact_url(store)
    } else {
        store.to_owned()
    }
}
