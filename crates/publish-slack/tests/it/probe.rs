//! Health probes post nothing: `auth.test` in token mode, a TCP connect in webhook mode.

use publish::Publisher;
use serde_json::json;
use testkit::{SlackEndpoint, SlackSim};

use crate::{target, token_options};

#[tokio::test]
async fn token_mode_probe_checks_the_token_with_auth_test() {
    let sim = SlackSim::start().await;
    sim.add_channel("alerts");
    let good = publish_slack::build(
        &target(&sim.api_url(), token_options("alerts")),
        &publish::BuildContext::default(),
    )
    .unwrap()
    .probe()
    .await;
    assert!(good.ok, "{good:?}");
    assert_eq!(
        good.detail,
        "auth.test ok: workspace \"Sim Workspace\", bot user \"alert-publisher\""
    );
    let bad = publish_slack::build(
        &target(
            &sim.api_url(),
            json!({"token": "xoxb-revoked-secret", "channel": "alerts"}),
        ),
        &publish::BuildContext::default(),
    )
    .unwrap()
    .probe()
    .await;
    assert!(!bad.ok);
    assert!(
        bad.detail.contains("invalid_auth") && !bad.detail.contains("xoxb-revoked-secret"),
        "{}",
        bad.detail
    );
    let calls = sim.calls();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.endpoint == SlackEndpoint::AuthTest));
    assert!(sim.messages("alerts").is_empty(), "a probe posts nothing");
}

#[tokio::test]
async fn webhook_mode_probe_only_connects() {
    let sim = SlackSim::start().await;
    sim.add_channel("alerts");
    let url = format!("{}{}", sim.base_url(), sim.add_webhook("alerts"));
    let up = publish_slack::build(&target(&url, json!({})), &publish::BuildContext::default())
        .unwrap()
        .probe()
        .await;
    assert!(up.ok, "{up:?}");
    assert_eq!(
        up.detail,
        format!("connected to 127.0.0.1:{}", sim.addr().port())
    );
    assert!(sim.calls().is_empty(), "nothing was sent to the webhook");
    let closed = format!(
        "http://127.0.0.1:{}/services/T0/B0/secret-part",
        testkit::free_port()
    );
    let down = publish_slack::build(
        &target(&closed, json!({})),
        &publish::BuildContext::default(),
    )
    .unwrap()
    .probe()
    .await;
    assert!(!down.ok && !down.detail.contains("secret-part"), "{down:?}");
}
