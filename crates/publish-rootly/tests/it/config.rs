//! Target definitions: what is accepted, and errors that name the field.

use publish::Secret;
use publish_rootly::{DEFAULT_RATE_LIMIT, DEFAULT_URL, DEFAULT_WRITES_PER_MINUTE, RootlyConfig};
use serde_json::{Value, json};

use crate::support::target;

fn check_err(url: &str, options: Value, headers: &[(&str, &str)], field: &str, message: &str) {
    let mut t = target(url, options);
    t.headers = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Secret::new(*v)))
        .collect();
    let err = RootlyConfig::from_target(&t).expect_err("invalid");
    assert_eq!(err.field, field, "{err}");
    assert!(err.message.contains(message), "{message:?} not in {err}");
}

#[test]
fn errors_name_the_field() {
    let url = "https://api.rootly.com";
    check_err(url, json!({}), &[], "options.api_key", "is required");
    check_err(
        url,
        json!({"api_key": ""}),
        &[],
        "options.api_key",
        "must not be empty",
    );
    check_err(
        url,
        json!({"api_key": "k\n"}),
        &[],
        "options.api_key",
        "stray newline",
    );
    check_err(
        url,
        json!({"api_key": "k", "source": " "}),
        &[],
        "options.source",
        "must not be empty",
    );
    check_err(
        url,
        json!({"api_key": "k", "timeout": "0s"}),
        &[],
        "options.timeout",
        "greater than zero",
    );
    check_err(
        url,
        json!({"api_key": "k", "rate_limit": {"per_minute": 5000}}),
        &[],
        "options.rate_limit.per_minute",
        "above Rootly's limit of 3000",
    );
    check_err(
        url,
        json!({"api_key": "k", "notification_target": {"type": "Pager", "id": "x"}}),
        &[],
        "options.notification_target.type",
        "unknown variant",
    );
    check_err(
        url,
        json!({"api_key": "k", "incident": {"severities": []}}),
        &[],
        "options.incident.severities",
        "at least one",
    );
    check_err(
        url,
        json!({"api_key": "k", "colour": "red"}),
        &[],
        "options.colour",
        "unknown field `colour`",
    );
    check_err(
        url,
        json!({"api_key": "k"}),
        &[("Authorization", "Bearer k2")],
        "headers.Authorization",
        "set it once",
    );
    check_err(
        url,
        json!({}),
        &[("Authorization", "Basic abc")],
        "headers.Authorization",
        "Bearer",
    );
    check_err(
        "https://u:p@api.rootly.com",
        json!({"api_key": "k"}),
        &[],
        "url",
        "without credentials",
    );
    check_err(
        "ftp://api.rootly.com",
        json!({"api_key": "k"}),
        &[],
        "url",
        "http or https",
    );
}

#[test]
fn defaults_and_compatible_forms() {
    let c = RootlyConfig::from_target(&target("https://api.rootly.com", json!({"api_key": "k"})))
        .unwrap();
    assert_eq!(c.options.source, "alertmanager");
    assert_eq!(c.options.rate_limit.per_minute, DEFAULT_WRITES_PER_MINUTE);
    assert_eq!(c.options.timeout, std::time::Duration::from_secs(10));
    assert!(c.options.incident.is_none());
    assert_eq!(c.base_url.as_str(), "https://api.rootly.com/");

    // The original's secrets: the key in an Authorization header, the base URL ending in /v1.
    let mut t = target("https://api.rootly.com/v1/", json!({}));
    t.headers
        .insert("Authorization".to_owned(), Secret::new("Bearer rtly_abc"));
    t.headers
        .insert("Content-Type".to_owned(), Secret::new("application/json"));
    let c = RootlyConfig::from_target(&t).unwrap();
    assert_eq!(c.api_key.expose(), "rtly_abc");
    assert_eq!(c.base_url.as_str(), "https://api.rootly.com/");
    assert!(c.headers.is_empty(), "Content-Type is ours");

    // A proxy path prefix is kept.
    let c = RootlyConfig::new("r", "http://proxy.internal/rootly", Secret::new("k")).unwrap();
    assert_eq!(c.base_url.as_str(), "http://proxy.internal/rootly/");
}

#[test]
fn an_empty_url_is_the_default_and_a_partial_rate_limit_keeps_the_rest() {
    let c = RootlyConfig::from_target(&target(
        "",
        json!({"api_key": "k", "rate_limit": {"burst": 5}}),
    ))
    .unwrap();
    assert_eq!(c.base_url.as_str(), format!("{DEFAULT_URL}/"));
    assert_eq!(
        (c.options.rate_limit.per_minute, c.options.rate_limit.burst),
        (DEFAULT_RATE_LIMIT.per_minute, 5)
    );
    check_err(
        "https://api.rootly.com",
        json!({"api_key": "k", "rate_limit": {"burst": 0}}),
        &[],
        "options.rate_limit.burst",
        "at least 1",
    );
}
