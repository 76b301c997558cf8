//! How locations are shown in logs, the API and the redacted configuration.

/// A URL without user info, query or fragment — those can carry credentials (Slack webhook
/// paths are secret too, so only scheme, host and port are shown for them).
pub fn redact_url(url: &str) -> String {
    redact_url_path(url, false)
}

/// Like [`redact_url`]; `hide_path` also hides the path (a Slack incoming-webhook URL is a
/// secret on whatever host it lives).
pub fn redact_url_path(url: &str, hide_path: bool) -> String {
    match url::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or_default();
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let path = if hide_path || host.ends_with("hooks.slack.com") {
                "/<redacted>"
            } else {
                u.path()
            };
            let query = if u.query().is_some() {
                "?<redacted>"
            } else {
                ""
            };
            format!("{}://{host}{port}{path}{query}", u.scheme())
        }
        Err(_) => publish::Secret::REDACTED.to_owned(),
    }
}

/// The store location for logs: paths as they are, URLs without credentials.
pub fn store_display(store: &str) -> String {
    if store.contains("://") {
        redact_url(store)
    } else {
        store.to_owned()
    }
}
