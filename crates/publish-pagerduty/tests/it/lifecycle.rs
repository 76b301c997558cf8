//! The alert lifecycle against the simulated PagerDuty: trigger, resolve with the same dedup
//! key, retries updating the same alert, acknowledge, change events, per-group keys.

use publish::{AlertStatus, Publisher};
use publish_pagerduty::Action;
use serde_json::{Value, json};
use testkit::{PagerDutySim, PdAlertStatus};

use crate::support::{self, KEY, alert, context, delivery, resolved};

fn checkout_alert() -> publish::Alert {
    alert(
        &[
            ("alertname", "HighErrorRate"),
            ("instance", "web-1:9100"),
            ("service", "checkout"),
            ("severity", "critical"),
            ("cluster", "eu-1"),
        ],
        &[
            ("summary", "Error rate above 5% on checkout"),
            (
                "runbook_url",
                "https://runbooks.example.com/high-error-rate",
            ),
            ("dashboard_url", "https://grafana.example.com/d/checkout"),
            (
                "image_url",
                "https://grafana.example.com/render/checkout.png",
            ),
        ],
    )
}

#[tokio::test]
async fn firing_then_resolved_leaves_one_resolved_alert() {
    let sim = PagerDutySim::start().await;
    let pd = support::publisher("pd-lifecycle", &sim.url(), json!({}));
    let firing = checkout_alert();
    let fingerprint = firing.fingerprint.to_string();

    let delivered = pd
        .publish(&delivery(
            firing.clone(),
            context(AlertStatus::Firing),
            None,
        ))
        .await
        .unwrap();
    assert_eq!(delivered.status_code, Some(202));
    let state = delivered.vendor_state.expect("dedup key kept");
    assert_eq!(state, json!({"dedup_key": fingerprint, "status": "open"}));
    let open = sim.alert(&fingerprint).expect("alert opened");
    assert_eq!(open.status, PdAlertStatus::Triggered);
    assert_eq!(open.routing_key, KEY);
    assert_eq!(
        open.field("summary"),
        "HighErrorRate: Error rate above 5% on checkout"
    );
    assert_eq!(open.field("severity"), "critical");
    assert_eq!(open.field("source"), "web-1:9100");
    assert_eq!(open.field("component"), "checkout");
    assert_eq!(open.field("group"), "eu-1");
    assert_eq!(open.field("class"), "HighErrorRate");
    assert_eq!(open.field("timestamp"), "2026-11-23T18:17:06.300Z");
    assert_eq!(
        open.payload["custom_details"]["labels"]["service"],
        "checkout"
    );
    assert_eq!(
        open.payload["custom_details"]["annotations"]["summary"],
        "Error rate above 5% on checkout"
    );
    assert_eq!(open.client.as_deref(), Some("Alert Publisher"));
    assert_eq!(
        open.client_url.as_deref(),
        Some("http://alertmanager.example:9093/#/alerts?receiver=pagerduty")
    );
    let hrefs: Vec<&str> = open
        .links
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["href"].as_str().unwrap())
        .collect();
    assert_eq!(
        hrefs,
        [
            "http://prometheus.example:9090/graph?g0.expr=up",
            "https://runbooks.example.com/high-error-rate",
            "https://grafana.example.com/d/checkout"
        ]
    );
    assert_eq!(
        open.images,
        json!([{"src": "https://grafana.example.com/render/checkout.png", "href": "https://grafana.example.com/render/checkout.png", "alt": "image_url"}])
    );

    let delivered = pd
        .publish(&delivery(
            resolved(firing),
            context(AlertStatus::Resolved),
            Some(state),
        ))
        .await
        .unwrap();
    assert_eq!(
        delivered.vendor_state,
        Some(json!({"dedup_key": fingerprint, "status": "resolved"}))
    );
    let alerts = sim.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].status, PdAlertStatus::Resolved);
    assert_eq!(alerts[0].log, ["trigger", "resolve"]);
    let resolve = sim.requests()[1].json().unwrap();
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], fingerprint.as_str());
    assert_eq!(
        resolve["payload"]["summary"],
        "[RESOLVED] HighErrorRate: Error rate above 5% on checkout"
    );
    assert_eq!(resolve["payload"]["timestamp"], "2026-11-23T18:27:06.000Z");
}

#[tokio::test]
async fn a_retry_updates_the_same_alert() {
    let sim = PagerDutySim::start().await;
    let pd = support::publisher("pd-retry", &sim.url(), json!({}));
    let d = delivery(checkout_alert(), context(AlertStatus::Firing), None);
    pd.publish(&d).await.unwrap();
    // the same delivery again, as after a crash between sending and recording
    let again = publish::Delivery {
        attempt: 2,
        ..d.clone()
    };
    pd.publish(&again).await.unwrap();
    let alerts = sim.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].triggers(), 2);
    assert_eq!(alerts[0].status, PdAlertStatus::Triggered);
}

#[tokio::test]
async fn resolve_of_an_alert_never_triggered_is_delivered() {
    let sim = PagerDutySim::start().await;
    let pd = support::publisher("pd-unknown", &sim.url(), json!({}));
    let d = delivery(
        resolved(checkout_alert()),
        context(AlertStatus::Resolved),
        None,
    );
    let delivered = pd.publish(&d).await.unwrap();
    assert_eq!(delivered.status_code, Some(202));
    assert!(sim.alerts().is_empty());
    assert_eq!(sim.count_status(202), 1);
}

#[tokio::test]
async fn acknowledge_and_resolve_by_dedup_key() {
    let sim = PagerDutySim::start().await;
    let pd = support::publisher("pd-ack", &sim.url(), json!({}));
    let a = checkout_alert();
    pd.publish(&delivery(a.clone(), context(AlertStatus::Firing), None))
        .await
        .unwrap();
    let key = a.fingerprint.to_string();
    let acked = pd.acknowledge(&key).await.unwrap();
    assert_eq!(acked.dedup_key.as_deref(), Some(key.as_str()));
    assert_eq!(sim.alert(&key).unwrap().status, PdAlertStatus::Acknowledged);
    let ack = sim.requests()[1].json().unwrap();
    assert_eq!(
        ack,
        json!({"routing_key": KEY, "event_action": "acknowledge", "dedup_key": key, "client": "Alert Publisher"})
    );
    pd.resolve(&key).await.unwrap();
    assert_eq!(
        sim.alert(&key).unwrap().log,
        ["trigger", "acknowledge", "resolve"]
    );
    let too_long = pd.acknowledge(&"k".repeat(256)).await.unwrap_err();
    assert!(
        !too_long.is_retryable() && too_long.reason().contains("255"),
        "{too_long}"
    );
    assert_eq!(sim.requests().len(), 3, "an invalid key is never sent");
}

#[tokio::test]
async fn change_events_go_to_the_change_endpoint() {
    let sim = PagerDutySim::start().await;
    let by_label = support::publisher("pd-change", &sim.url(), json!({}));
    let mut a = checkout_alert();
    a.labels
        .insert("change_event".to_owned(), "true".to_owned());
    let delivered = by_label
        .publish(&delivery(a.clone(), context(AlertStatus::Firing), None))
        .await
        .unwrap();
    assert_eq!(
        delivered,
        publish::Delivered {
            status_code: Some(202),
            vendor_state: None
        }
    );
    // a resolved change alert sends nothing
    let skipped = by_label
        .publish(&delivery(resolved(a), context(AlertStatus::Resolved), None))
        .await
        .unwrap();
    assert_eq!(
        skipped,
        publish::Delivered {
            status_code: None,
            vendor_state: None
        }
    );
    // the target option turns every alert into a change event
    let by_option = support::publisher("pd-change-all", &sim.url(), json!({"change_events": true}));
    by_option
        .publish(&delivery(
            checkout_alert(),
            context(AlertStatus::Firing),
            None,
        ))
        .await
        .unwrap();

    let requests = sim.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests
            .iter()
            .all(|r| r.path == "/v2/change/enqueue" && r.status == Some(202))
    );
    let changes = sim.change_events();
    assert_eq!(changes.len(), 2);
    assert_eq!(
        changes[0].payload["summary"],
        "HighErrorRate: Error rate above 5% on checkout"
    );
    assert_eq!(changes[0].payload["source"], "web-1:9100");
    assert_eq!(changes[0].links.as_array().unwrap().len(), 3);
    assert!(sim.alerts().is_empty());
}

#[tokio::test]
async fn per_group_keys_open_one_alert_and_resolve_with_the_group() {
    let sim = PagerDutySim::start().await;
    let pd = support::publisher("pd-group", &sim.url(), json!({"dedup": "per_group"}));
    let m = support::fixture("am-webhook-group-2-firing.json");
    for a in &m.alerts {
        pd.publish(&delivery(a.clone(), m.context.clone(), None))
            .await
            .unwrap();
    }
    let alerts = sim.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].triggers(), 2);
    assert!(
        alerts[0].dedup_key.starts_with("group-"),
        "{}",
        alerts[0].dedup_key
    );

    // one alert resolves while the group still fires: nothing is sent
    let mixed = support::fixture("am-webhook-group-mixed.json");
    let before = sim.requests().len();
    let first = mixed
        .alerts
        .iter()
        .find(|a| a.status == AlertStatus::Resolved)
        .unwrap();
    let d = pd
        .publish(&delivery(first.clone(), mixed.context.clone(), None))
        .await
        .unwrap();
    assert_eq!(d.status_code, None);
    assert_eq!(sim.requests().len(), before);

    // the whole group resolves
    let mut context = mixed.context.clone();
    context.status = AlertStatus::Resolved;
    pd.publish(&delivery(resolved(mixed.alerts[1].clone()), context, None))
        .await
        .unwrap();
    assert_eq!(sim.alerts()[0].status, PdAlertStatus::Resolved);
}

#[tokio::test]
async fn a_stored_dedup_key_wins() {
    let sim = PagerDutySim::start().await;
    let pd = support::publisher("pd-stored", &sim.url(), json!({"dedup_key_prefix": "new-"}));
    let a = checkout_alert();
    let state: Value = json!({"dedup_key": "old-key", "status": "open"});
    let plan = pd.plan(
        &resolved(a.clone()),
        &context(AlertStatus::Resolved),
        Some(&state),
    );
    let publish_pagerduty::Plan::Send(encoded) = plan else {
        panic!("nothing to send")
    };
    assert_eq!(encoded.event.dedup_key(), Some("old-key"));
    assert_eq!(encoded.event.action(), Action::Resolve.as_str());
    pd.publish(&delivery(
        resolved(a),
        context(AlertStatus::Resolved),
        Some(state),
    ))
    .await
    .unwrap();
    assert_eq!(sim.requests()[0].json().unwrap()["dedup_key"], "old-key");
}

#[tokio::test]
async fn standalone_publish_alert() {
    let sim = PagerDutySim::start().await;
    let pd = support::publisher("pd-standalone", &sim.url(), json!({}));
    let a = checkout_alert();
    let d = pd
        .publish_alert(&a, &context(AlertStatus::Firing))
        .await
        .unwrap();
    assert_eq!(d.status_code, Some(202));
    assert_eq!(
        sim.alert(a.fingerprint.as_str()).unwrap().status,
        PdAlertStatus::Triggered
    );
}
