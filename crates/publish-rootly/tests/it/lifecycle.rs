//! The alert lifecycle against the simulated Rootly: what Rootly holds after each delivery.

use publish::{ErrorKind, Publisher};
use publish_rootly::{AlertState, RootlyState};
use serde_json::json;
use testkit::RootlySim;

use crate::support::{alert, delivery, firing, publisher, resolved, state_of};

#[tokio::test]
async fn firing_creates_one_open_alert_with_every_attribute() {
    let sim = RootlySim::start().await;
    let p = publisher(&sim, json!({}));
    let (alert, context) = firing();
    let mut d = delivery(&alert, 1, None);
    d.context = context;

    let delivered = p.publish(&d).await.expect("delivered");
    assert_eq!(delivered.status_code, Some(201));
    let state = state_of(&delivered);
    assert_eq!(state.status, AlertState::Open);

    let alerts = sim.alerts();
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a.id, state.alert_id, "the returned id is the one kept");
    assert_eq!(a.status, "open");
    assert_eq!(a.attr("source"), "alertmanager");
    assert_eq!(a.attr("summary"), "Error rate above 5% on checkout");
    assert!(
        a.attr("description")
            .starts_with("5xx ratio 7.3% over 5m\n\n**Labels**"),
        "{}",
        a.attr("description")
    );
    assert_eq!(a.attr("started_at"), "2026-11-23T18:17:06.300056641Z");
    assert_eq!(a.attr("external_id"), "ac36b8d065d4a922");
    assert_eq!(a.attr("deduplication_key"), "ac36b8d065d4a922");
    assert_eq!(a.attr("external_url"), alert.generator_url);
    assert_eq!(
        a.attributes["labels"],
        json!([
            {"key": "alertname", "value": "HighErrorRate"},
            {"key": "instance", "value": "web-1:9100"},
            {"key": "service", "value": "checkout"},
            {"key": "severity", "value": "critical"}
        ])
    );
    assert_eq!(a.attributes["data"]["fingerprint"], "ac36b8d065d4a922");
    assert_eq!(a.attributes["data"]["endsAt"], "0001-01-01T00:00:00Z");

    let requests = sim.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str(), r.status),
        ("POST", "/v1/alerts", 201)
    );
    assert_eq!(r.header("content-type"), Some("application/vnd.api+json"));
    assert_eq!(r.header("accept"), Some("application/vnd.api+json"));
    assert_eq!(r.header("authorization"), Some("Bearer rootly-test-key"));
    assert!(
        r.header("user-agent")
            .unwrap_or_default()
            .starts_with("alert-publisher/")
    );
}

#[tokio::test]
async fn resolve_uses_the_stored_id() {
    let sim = RootlySim::start().await;
    let p = publisher(&sim, json!({}));
    let a = alert(&[("alertname", "Lifecycle")]);
    let state = state_of(&p.publish(&delivery(&a, 1, None)).await.unwrap());

    let delivered = p
        .publish(&delivery(&resolved(&a), 1, Some(&state)))
        .await
        .expect("resolved");
    assert_eq!(delivered.status_code, Some(200));
    assert_eq!(
        state_of(&delivered),
        RootlyState {
            status: AlertState::Resolved,
            ..state.clone()
        }
    );
    let stored = sim.alert(&state.alert_id).unwrap();
    assert_eq!(stored.status, "resolved");
    assert_eq!(
        stored.attr("resolution_message"),
        "Resolved in Alertmanager (ended at 2026-11-23T10:05:00Z)"
    );
    let paths: Vec<String> = sim
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        paths,
        [
            "POST /v1/alerts".to_owned(),
            format!("POST /v1/alerts/{}/resolve", state.alert_id)
        ]
    );
}

#[tokio::test]
async fn refire_of_an_open_alert_sends_nothing_and_takes_no_rate_limit_token() {
    let sim = RootlySim::start().await;
    let p = publisher(&sim, json!({}));
    let a = alert(&[("alertname", "Refire")]);
    let first = delivery(&a, 1, None);
    assert!(p.rate_limit(&first).is_some());
    let state = state_of(&p.publish(&first).await.unwrap());

    let again = delivery(&a, 1, Some(&state));
    assert_eq!(p.rate_limit(&again), None, "a no-op needs no token");
    let delivered = p.publish(&again).await.expect("no-op");
    assert_eq!(
        delivered,
        publish::Delivered {
            status_code: None,
            vendor_state: None
        }
    );
    assert_eq!(sim.alerts().len(), 1, "no duplicate");
    assert_eq!(sim.requests().len(), 1, "nothing sent");

    // A resolve already done is a no-op too.
    let done = RootlyState {
        status: AlertState::Resolved,
        ..state
    };
    let repeat = delivery(&resolved(&a), 1, Some(&done));
    assert_eq!(p.rate_limit(&repeat), None);
    assert_eq!(p.publish(&repeat).await.unwrap().vendor_state, None);
    assert_eq!(sim.requests().len(), 1);
}

#[tokio::test]
async fn refire_after_resolve_opens_a_new_alert() {
    let sim = RootlySim::start().await;
    let p = publisher(&sim, json!({}));
    let a = alert(&[("alertname", "Flapping")]);
    let s1 = state_of(&p.publish(&delivery(&a, 1, None)).await.unwrap());
    let s2 = state_of(
        &p.publish(&delivery(&resolved(&a), 1, Some(&s1)))
            .await
            .unwrap(),
    );
    let s3 = state_of(&p.publish(&delivery(&a, 1, Some(&s2))).await.unwrap());
    assert_ne!(s3.alert_id, s1.alert_id);
    let statuses: Vec<String> = sim.alerts().iter().map(|x| x.status.clone()).collect();
    assert_eq!(statuses, ["resolved", "open"]);
}

#[tokio::test]
async fn retry_after_a_lost_answer_adopts_the_alert_instead_of_duplicating() {
    let sim = RootlySim::start().await;
    let p = publisher(&sim, json!({}));
    let a = alert(&[("alertname", "LostAnswer")]);
    // Attempt 1 created the alert, but its answer never got recorded (crash, timeout).
    let lost = state_of(&p.publish(&delivery(&a, 1, None)).await.unwrap());

    let delivered = p.publish(&delivery(&a, 2, None)).await.expect("adopted");
    assert_eq!(state_of(&delivered).alert_id, lost.alert_id);
    assert_eq!(sim.alerts().len(), 1, "no duplicate");
    let last = sim.requests().pop().unwrap();
    assert_eq!(last.method, "GET");
    assert!(
        last.path.starts_with("/v1/alerts?filter%5Bexternal_id%5D="),
        "{}",
        last.path
    );

    // With nothing to adopt, the retry creates.
    let b = alert(&[("alertname", "FirstTry")]);
    p.publish(&delivery(&b, 3, None)).await.expect("created");
    assert_eq!(sim.alerts_with_external_id(b.fingerprint.as_str()).len(), 1);
}

#[tokio::test]
async fn resolve_without_stored_id_looks_the_alert_up() {
    let sim = RootlySim::start().await;
    let p = publisher(&sim, json!({}));
    let a = alert(&[("alertname", "StateLost")]);
    let created = state_of(&p.publish(&delivery(&a, 1, None)).await.unwrap());

    let delivered = p
        .publish(&delivery(&resolved(&a), 1, None))
        .await
        .expect("resolved after lookup");
    assert_eq!(state_of(&delivered).alert_id, created.alert_id);
    assert_eq!(sim.alert(&created.alert_id).unwrap().status, "resolved");
    let methods: Vec<String> = sim.requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["POST", "GET", "POST"]);

    // Looked up again, it is found resolved already: delivered, nothing written.
    let again = p
        .publish(&delivery(&resolved(&a), 2, None))
        .await
        .expect("already resolved");
    assert_eq!(state_of(&again).status, AlertState::Resolved);
    assert_eq!(sim.requests().iter().filter(|r| r.is_write()).count(), 2);
}

#[tokio::test]
async fn resolve_of_an_unknown_alert_gives_up_on_the_record() {
    let sim = RootlySim::start().await;
    let p = publisher(&sim, json!({}));
    let a = alert(&[("alertname", "NeverSent")]);
    let err = p
        .publish(&delivery(&resolved(&a), 1, None))
        .await
        .expect_err("nothing to resolve");
    assert!(!err.is_retryable());
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.reason().contains("gave up") && err.reason().contains(a.fingerprint.as_str()),
        "{}",
        err.reason()
    );
    assert!(
        sim.requests().iter().all(|r| !r.is_write()),
        "nothing written"
    );
}

#[tokio::test]
async fn resolve_of_a_deleted_alert_counts_as_delivered() {
    let sim = RootlySim::start().await;
    let p = publisher(&sim, json!({}));
    let a = alert(&[("alertname", "Deleted")]);
    let state = state_of(&p.publish(&delivery(&a, 1, None)).await.unwrap());
    assert!(sim.delete_alert(&state.alert_id));

    let delivered = p
        .publish(&delivery(&resolved(&a), 1, Some(&state)))
        .await
        .expect("404 is delivered");
    assert_eq!(delivered.status_code, Some(404));
    assert_eq!(state_of(&delivered).status, AlertState::Resolved);
    assert_eq!(sim.requests().last().unwrap().status, 404);
}

#[tokio::test]
async fn critical_alerts_open_an_incident_once() {
    let sim = RootlySim::start().await;
    let p = publisher(&sim, json!({"incident": {"severity_id": "sev-critical"}}));
    let critical = alert(&[("alertname", "Down"), ("severity", "CRITICAL")]);
    let warning = alert(&[("alertname", "Slow"), ("severity", "warning")]);

    let state = state_of(&p.publish(&delivery(&critical, 1, None)).await.unwrap());
    p.publish(&delivery(&warning, 1, None)).await.unwrap();
    let incidents = sim.incidents();
    assert_eq!(incidents.len(), 1, "only the critical alert opens one");
    assert_eq!(state.incident_id.as_deref(), Some(incidents[0].id.as_str()));
    let attrs = &incidents[0].attributes;
    assert_eq!(attrs["title"], "something broke");
    assert_eq!(attrs["severity_id"], "sev-critical");
    assert_eq!(attrs["alert_ids"], json!([state.alert_id]));
    assert_eq!(
        attrs["labels"],
        json!({"alertname": "Down", "severity": "CRITICAL"})
    );

    // A retry that finds the alert (and its incident) opens nothing new.
    p.publish(&delivery(&critical, 2, None)).await.unwrap();
    assert_eq!((sim.alerts().len(), sim.incidents().len()), (2, 1));
}

#[tokio::test]
async fn failed_incident_is_retried_without_a_second_alert() {
    let sim = RootlySim::start().await;
    let p = publisher(&sim, json!({"incident": {}}));
    let critical = alert(&[("alertname", "Down"), ("severity", "critical")]);
    sim.script([
        testkit::RootlyFault::Slow(std::time::Duration::ZERO),
        testkit::RootlyFault::status(503, "Service Unavailable"),
    ]);

    let err = p
        .publish(&delivery(&critical, 1, None))
        .await
        .expect_err("incident failed");
    assert!(err.is_retryable());
    assert!(
        err.reason()
            .starts_with("rootly open incident: HTTP 503: Service Unavailable (rootly alert "),
        "{}",
        err.reason()
    );
    let retried = state_of(
        &p.publish(&delivery(&critical, 2, None))
            .await
            .expect("retry"),
    );
    assert_eq!(sim.alerts().len(), 1);
    assert_eq!(sim.incidents().len(), 1);
    assert_eq!(retried.alert_id, sim.alerts()[0].id);
}

#[tokio::test]
async fn probe_is_an_authenticated_read() {
    let sim = RootlySim::start().await;
    let good = publisher(&sim, json!({})).probe().await;
    assert!(good.ok, "{good:?}");
    let bad = publisher(&sim, json!({"api_key": "wrong"})).probe().await;
    assert!(!bad.ok);
    assert_eq!(bad.detail, "rootly probe: HTTP 401: Invalid token");
    assert!(
        sim.requests().iter().all(|r| r.method == "GET"),
        "a probe writes nothing"
    );
    assert!(sim.alerts().is_empty());
    let down = publish_rootly::build(
        &crate::support::target(
            &format!("http://127.0.0.1:{}", testkit::free_port()),
            json!({"api_key": "k"}),
        ),
        &publish::BuildContext::default(),
    )
    .unwrap()
    .probe()
    .await;
    assert!(!down.ok && down.detail.contains("connect"), "{down:?}");
}
