//! The routing key never appears in errors, debug output, metrics or vendor state.

use publish::{AlertStatus, Publisher};
use serde_json::json;
use testkit::{PagerDutySim, PdFault};

use crate::support::{self, KEY, alert, context, delivery};

#[tokio::test]
async fn routing_key_stays_secret() {
    let sim = PagerDutySim::start().await;
    sim.script([
        PdFault::Respond { status: 400, headers: Vec::new(), body: format!(r#"{{"status":"invalid event","message":"Event object is invalid","errors":["unknown routing key {KEY}"]}}"#) },
        PdFault::Respond { status: 500, headers: Vec::new(), body: format!("internal error for {KEY}") },
        PdFault::Reset,
    ]);
    let pd = support::publisher("pd-secret", &sim.url(), json!({}));
    let d = delivery(
        alert(&[("alertname", "Secret")], &[]),
        context(AlertStatus::Firing),
        None,
    );
    let mut seen = vec![
        format!("{pd:?}"),
        format!("{:?}", pd.config()),
        format!("{:?}", pd.rate_limit(&d)),
    ];
    for _ in 0..3 {
        let err = pd.publish(&d).await.unwrap_err();
        seen.push(format!("{err} {err:?}"));
    }
    let delivered = pd.publish(&d).await.unwrap();
    seen.push(format!("{delivered:?}"));
    let publish_pagerduty::Plan::Send(encoded) = pd.plan(&d.alert, &d.context, None) else {
        panic!()
    };
    seen.push(format!("{encoded:?}"));
    seen.push(support::all_metric_text());
    for text in &seen {
        assert!(!text.contains(KEY), "routing key leaked: {text}");
    }
    assert!(
        seen[3].contains("unknown routing key <redacted>"),
        "{}",
        seen[3]
    );
    // it was sent where it belongs: in the event body
    assert_eq!(sim.requests()[3].json().unwrap()["routing_key"], KEY);
}
