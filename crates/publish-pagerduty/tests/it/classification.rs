//! Every classification path against the simulated PagerDuty: each kind of 400, 429 with and
//! without `Retry-After`, 500, 503, timeouts, connection resets and refused connections end
//! as the queue expects (permanent or retryable, with the right kind and hint).

use std::time::Duration;

use publish::{AlertStatus, ErrorKind, PublishError, Publisher};
use publish_pagerduty::{ChangeEvent, Encoded, Event, Plan, encode};
use serde_json::{Value, json};
use testkit::{PagerDutySim, PagerDutySimConfig, PdFault};

use crate::support::{self, KEY, alert, context, delivery};

fn firing() -> publish::Delivery {
    delivery(
        alert(&[("alertname", "Classify"), ("severity", "warning")], &[]),
        context(AlertStatus::Firing),
        None,
    )
}

/// Sends a raw body to the alert (or change) endpoint through the publisher's `send`.
async fn send_raw(
    sim: &PagerDutySim,
    change: bool,
    body: Value,
) -> Result<publish_pagerduty::Accepted, PublishError> {
    let pd = support::publisher("pd-raw", &sim.url(), json!({}));
    let Plan::Send(template) = encode(pd.config(), &firing()) else {
        panic!("nothing to send")
    };
    let event = if change {
        Event::Change(ChangeEvent {
            payload: serde_json::from_value(json!({"summary": "x"})).unwrap(),
            links: Vec::new(),
        })
    } else {
        template.event
    };
    let encoded = Encoded {
        event,
        body: serde_json::to_vec(&body).unwrap(),
        truncations: Vec::new(),
    };
    pd.send(&encoded).await
}

fn valid_trigger() -> Value {
    json!({
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "k1",
        "payload": {"summary": "s", "source": "web-1", "severity": "warning"}
    })
}

/// One invalid event: the change to a valid trigger, and the error PagerDuty names.
async fn check_400(name: &str, change: bool, body: Value, expected_error: &str) {
    let sim = PagerDutySim::start().await;
    let err = send_raw(&sim, change, body).await.unwrap_err();
    assert!(!err.is_retryable(), "{name}: {err}");
    assert_eq!(err.kind(), ErrorKind::Invalid, "{name}");
    assert_eq!(err.status_code(), Some(400), "{name}");
    assert!(
        err.reason()
            .starts_with("HTTP 400: PagerDuty: Event object is invalid: "),
        "{name}: {err}"
    );
    assert!(err.reason().contains(expected_error), "{name}: {err}");
    assert!(
        !err.reason().contains(KEY),
        "{name}: the routing key leaked: {err}"
    );
    assert_eq!(sim.count_status(400), 1, "{name}");
    assert!(
        sim.alerts().is_empty() && sim.change_events().is_empty(),
        "{name}"
    );
}

fn with(mut base: Value, pointer: &str, value: Option<Value>) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut base
    } else {
        base.pointer_mut(parent).unwrap()
    };
    match value {
        Some(v) => {
            target[key] = v;
        }
        None => {
            target.as_object_mut().unwrap().remove(key);
        }
    }
    base
}

#[tokio::test]
async fn each_kind_of_400_is_permanent_with_pagerdutys_errors() {
    let t = valid_trigger;
    let cases: Vec<(&str, bool, Value, &str)> = vec![
        (
            "not json",
            false,
            json!("just a string"),
            "not a JSON object",
        ),
        (
            "no routing key",
            false,
            with(t(), "/routing_key", None),
            "'routing_key' is missing or blank",
        ),
        (
            "short routing key",
            false,
            with(t(), "/routing_key", Some(json!("abc"))),
            "'routing_key' must be 32 characters (got 3)",
        ),
        (
            "bad action",
            false,
            with(t(), "/event_action", Some(json!("explode"))),
            "'event_action' is missing or invalid",
        ),
        (
            "long dedup key",
            false,
            with(t(), "/dedup_key", Some(json!("k".repeat(256)))),
            "'dedup_key' is longer than 255 characters",
        ),
        (
            "resolve without key",
            false,
            with(
                with(t(), "/event_action", Some(json!("resolve"))),
                "/dedup_key",
                None,
            ),
            "'dedup_key' is required",
        ),
        (
            "no payload",
            false,
            with(t(), "/payload", None),
            "'payload' is required for trigger",
        ),
        (
            "no summary",
            false,
            with(t(), "/payload/summary", None),
            "'payload.summary' is missing or blank",
        ),
        (
            "long summary",
            false,
            with(t(), "/payload/summary", Some(json!("s".repeat(1025)))),
            "'payload.summary' is longer than 1024 characters",
        ),
        (
            "no source",
            false,
            with(t(), "/payload/source", None),
            "'payload.source' is missing or blank",
        ),
        (
            "bad severity",
            false,
            with(t(), "/payload/severity", Some(json!("fatal"))),
            "'payload.severity' must be one of",
        ),
        (
            "bad timestamp",
            false,
            with(t(), "/payload/timestamp", Some(json!("yesterday"))),
            "'payload.timestamp' is not a valid ISO 8601",
        ),
        (
            "http image",
            false,
            with(t(), "/images", Some(json!([{"src": "http://x/y.png"}]))),
            "'images[0].src' must be an https URL",
        ),
        (
            "link without href",
            false,
            with(t(), "/links", Some(json!([{"text": "t"}]))),
            "'links[0].href' is missing",
        ),
        (
            "too large",
            false,
            with(
                t(),
                "/payload/custom_details",
                Some(json!({"blob": "x".repeat(600_000)})),
            ),
            "Event object is too large",
        ),
        (
            "change event with action",
            true,
            json!({"routing_key": KEY, "event_action": "trigger", "payload": {"summary": "s"}}),
            "'event_action' is not allowed in a change event",
        ),
        (
            "change event without summary",
            true,
            json!({"routing_key": KEY, "payload": {"source": "s"}}),
            "'payload.summary' is missing or blank",
        ),
    ];
    for (name, change, body, expected) in &cases {
        check_400(name, *change, body.clone(), expected).await;
    }
    // and the valid forms are accepted
    let sim = PagerDutySim::start().await;
    assert_eq!(
        send_raw(&sim, false, valid_trigger())
            .await
            .unwrap()
            .dedup_key
            .as_deref(),
        Some("k1")
    );
    assert!(
        send_raw(
            &sim,
            true,
            json!({"routing_key": KEY, "payload": {"summary": "deployed"}})
        )
        .await
        .is_ok()
    );
}

async fn publish_with(fault: PdFault, options: Value) -> (PublishError, PagerDutySim) {
    let sim = PagerDutySim::start().await;
    sim.script([fault]);
    let pd = support::publisher("pd-faults", &sim.url(), options);
    let err = pd.publish(&firing()).await.unwrap_err();
    (err, sim)
}

#[tokio::test]
async fn scripted_400_is_permanent() {
    let (err, _) = publish_with(PdFault::Status(400), json!({})).await;
    assert!(!err.is_retryable());
    assert_eq!(
        (err.kind(), err.status_code()),
        (ErrorKind::Invalid, Some(400))
    );
    assert_eq!(
        err.reason(),
        "HTTP 400: PagerDuty: Event object is invalid: scripted failure"
    );
}

#[tokio::test]
async fn too_many_requests_with_retry_after() {
    let (err, _) = publish_with(
        PdFault::TooManyRequests {
            retry_after: Some("7".to_owned()),
        },
        json!({}),
    )
    .await;
    assert!(err.is_retryable());
    assert_eq!(
        (err.kind(), err.status_code(), err.retry_after()),
        (
            ErrorKind::RateLimited,
            Some(429),
            Some(Duration::from_secs(7))
        )
    );
    assert!(err.reason().contains("arriving too quickly"), "{err}");
}

#[tokio::test]
async fn too_many_requests_without_retry_after() {
    let (err, _) = publish_with(PdFault::TooManyRequests { retry_after: None }, json!({})).await;
    assert!(err.is_retryable());
    assert_eq!(
        (err.kind(), err.retry_after()),
        (ErrorKind::RateLimited, None)
    );
}

#[tokio::test]
async fn the_simulators_own_rate_limit_is_retryable() {
    let sim = PagerDutySim::start_with(PagerDutySimConfig {
        events_per_window: 2,
        window: Duration::from_secs(60),
        rate_limit_retry_after: Some(30),
        ..Default::default()
    })
    .await;
    let pd = support::publisher("pd-sim-limit", &sim.url(), json!({}));
    let d = firing();
    pd.publish(&d).await.unwrap();
    pd.publish(&d).await.unwrap();
    let err = pd.publish(&d).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.retry_after()),
        (ErrorKind::RateLimited, Some(Duration::from_secs(30)))
    );
    assert_eq!(sim.count_status(429), 1);
}

#[tokio::test]
async fn server_errors_are_retryable() {
    for status in [500, 502, 503] {
        let (err, _) = publish_with(PdFault::Status(status), json!({})).await;
        assert!(err.is_retryable(), "{status}");
        assert_eq!(
            (err.kind(), err.status_code()),
            (ErrorKind::Server, Some(status))
        );
        assert_eq!(
            err.reason(),
            format!("HTTP {status}: PagerDuty: scripted {status}")
        );
    }
}

#[tokio::test]
async fn timeout_is_retryable() {
    let (err, sim) = publish_with(
        PdFault::Slow(Duration::from_secs(3)),
        json!({"timeout": "300ms"}),
    )
    .await;
    assert!(err.is_retryable());
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.status_code(), None);
    assert_eq!(sim.requests().len(), 1);
}

#[tokio::test]
async fn connection_reset_is_retryable() {
    let (err, sim) = publish_with(PdFault::Reset, json!({})).await;
    assert!(err.is_retryable(), "{err}");
    assert!(
        matches!(err.kind(), ErrorKind::Io | ErrorKind::Connect),
        "{:?}: {err}",
        err.kind()
    );
    assert_eq!(err.status_code(), None);
    assert_eq!(sim.requests().len(), 1);
    assert!(sim.alerts().is_empty());
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let port = testkit::free_port();
    let pd = support::publisher("pd-refused", &format!("http://127.0.0.1:{port}"), json!({}));
    let err = pd.publish(&firing()).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_eq!(err.status_code(), None);
}

#[tokio::test]
async fn metrics_count_events_by_action_and_result_and_errors_by_reason() {
    let sim = PagerDutySim::start().await;
    sim.script([PdFault::Status(503), PdFault::Status(400)]);
    let pd = support::publisher("pd-metrics", &sim.url(), json!({}));
    let d = firing();
    assert!(pd.publish(&d).await.unwrap_err().is_retryable());
    assert!(!pd.publish(&d).await.unwrap_err().is_retryable());
    pd.publish(&d).await.unwrap();
    let t = ("target", "pd-metrics");
    assert_eq!(
        support::counter(
            "alert_publisher_pagerduty_events_total",
            &[t, ("action", "trigger"), ("result", "retryable")]
        ),
        1
    );
    assert_eq!(
        support::counter(
            "alert_publisher_pagerduty_events_total",
            &[t, ("action", "trigger"), ("result", "permanent")]
        ),
        1
    );
    assert_eq!(
        support::counter(
            "alert_publisher_pagerduty_events_total",
            &[t, ("action", "trigger"), ("result", "delivered")]
        ),
        1
    );
    assert_eq!(
        support::counter(
            "alert_publisher_pagerduty_errors_total",
            &[t, ("reason", "server")]
        ),
        1
    );
    assert_eq!(
        support::counter(
            "alert_publisher_pagerduty_errors_total",
            &[t, ("reason", "invalid")]
        ),
        1
    );
    // the engine checks the rate limit twice for a delivery it deferred once
    assert!(pd.rate_limit(&d).is_some());
    assert!(pd.rate_limit(&d).is_some());
    assert_eq!(
        support::counter("alert_publisher_pagerduty_rate_limit_waits_total", &[t]),
        1
    );
}
