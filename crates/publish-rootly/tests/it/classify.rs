//! Every classification path, observed through real HTTP answers.

use std::time::Duration;

use publish::{ErrorKind, Publisher};
use serde_json::json;
use testkit::{RootlyFault, RootlySim, RootlySimConfig};

use crate::support::{alert, delivery, publisher, resolved};

#[tokio::test]
async fn created_201_is_delivered() {
    let sim = RootlySim::start().await;
    let d = p_delivery("Created");
    let delivered = publisher(&sim, json!({}))
        .publish(&d)
        .await
        .expect("delivered");
    assert_eq!(delivered.status_code, Some(201));
    assert!(delivered.vendor_state.is_some());
}

#[tokio::test]
async fn bad_key_401_is_permanent_with_rootlys_title() {
    let sim = RootlySim::start().await;
    let err = publisher(&sim, json!({"api_key": "not-the-key"}))
        .publish(&p_delivery("Auth"))
        .await
        .unwrap_err();
    assert!(!err.is_retryable());
    assert_eq!(
        (err.kind(), err.status_code()),
        (ErrorKind::Auth, Some(401))
    );
    assert_eq!(err.reason(), "rootly create alert: HTTP 401: Invalid token");
    assert!(sim.alerts().is_empty());
}

#[tokio::test]
async fn resolve_404_is_delivered() {
    let sim = RootlySim::start().await;
    let a = alert(&[("alertname", "Gone")]);
    let state = publish_rootly::RootlyState::open("00000000-0000-4000-8000-000000000000");
    let delivered = publisher(&sim, json!({}))
        .publish(&delivery(&resolved(&a), 1, Some(&state)))
        .await
        .unwrap();
    assert_eq!(delivered.status_code, Some(404));
}

#[tokio::test]
async fn validation_422_is_permanent_with_every_title() {
    let sim = RootlySim::start().await;
    sim.script([RootlyFault::Respond {
        status: 422,
        headers: vec![("content-type".to_owned(), testkit::JSONAPI.to_owned())],
        body: json!({"errors": [
            {"title": "Summary is too long", "status": "422"},
            {"title": "Service ids is invalid", "detail": "svc-x does not exist", "status": "422"}
        ]})
        .to_string(),
    }]);
    let err = publisher(&sim, json!({}))
        .publish(&p_delivery("Invalid"))
        .await
        .unwrap_err();
    assert!(!err.is_retryable());
    assert_eq!(
        (err.kind(), err.status_code()),
        (ErrorKind::Invalid, Some(422))
    );
    assert_eq!(
        err.reason(),
        "rootly create alert: HTTP 422: Summary is too long; Service ids is invalid: svc-x does not exist"
    );
}

#[tokio::test]
async fn rate_limited_429_waits_until_ratelimit_reset() {
    let sim = RootlySim::start_with(RootlySimConfig {
        writes_per_window: 1,
        window: Duration::from_secs(30),
        ..Default::default()
    })
    .await;
    let p = publisher(&sim, json!({}));
    p.publish(&p_delivery("First"))
        .await
        .expect("within the limit");
    let err = p.publish(&p_delivery("Second")).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(
        (err.kind(), err.status_code()),
        (ErrorKind::RateLimited, Some(429))
    );
    let wait = err.retry_after().expect("RateLimit-Reset honoured");
    assert!(
        wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
    let answer = sim.requests().pop().unwrap();
    assert_eq!(answer.status, 429);
    assert_eq!(sim.alerts().len(), 1);
}

#[tokio::test]
async fn server_error_500_is_retryable() {
    let sim = RootlySim::start().await;
    sim.script([RootlyFault::status(500, "Internal Server Error")]);
    let err = publisher(&sim, json!({}))
        .publish(&p_delivery("Server"))
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(
        (err.kind(), err.status_code(), err.retry_after()),
        (ErrorKind::Server, Some(500), None)
    );
    assert_eq!(
        err.reason(),
        "rootly create alert: HTTP 500: Internal Server Error"
    );
}

#[tokio::test]
async fn timeout_is_retryable() {
    let sim = RootlySim::start().await;
    sim.script([RootlyFault::Slow(Duration::from_secs(3))]);
    let err = publisher(&sim, json!({"timeout": "300ms"}))
        .publish(&p_delivery("Slow"))
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        err.reason().starts_with("rootly create alert: timed out"),
        "{}",
        err.reason()
    );
    assert!(
        !err.reason().contains("127.0.0.1"),
        "no URL in reasons: {}",
        err.reason()
    );
}

#[tokio::test]
async fn connect_error_is_retryable() {
    let url = format!("http://127.0.0.1:{}", testkit::free_port());
    let p = publish_rootly::build(
        &crate::support::target(&url, json!({"api_key": "k"})),
        &publish::BuildContext::default(),
    )
    .unwrap();
    let err = p.publish(&p_delivery("Refused")).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.kind(), ErrorKind::Connect);
}

#[tokio::test]
async fn unreadable_success_is_retryable() {
    let sim = RootlySim::start().await;
    let p = publisher(&sim, json!({}));
    // A proxy answered 201 with something else, after Rootly created the alert.
    sim.script([RootlyFault::Respond {
        status: 201,
        headers: vec![],
        body: "ok".to_owned(),
    }]);
    let a = alert(&[("alertname", "Garbled")]);
    let err = p.publish(&delivery(&a, 1, None)).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Other);
}

fn p_delivery(name: &str) -> publish::Delivery {
    delivery(&alert(&[("alertname", name)]), 1, None)
}
