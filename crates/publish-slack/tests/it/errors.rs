//! Every Slack error string, as the simulated Slack answers it, classified: permanent with the
//! string and a hint in the reason, or retryable (with `Retry-After` on a 429).

use std::time::Duration;

use publish::{ErrorKind, PublishError, Publisher};
use publish_slack::KNOWN_ERRORS;
use serde_json::json;
use testkit::{SlackChannelSpec, SlackEndpoint, SlackFault, SlackSim, SlackSimConfig};

use crate::{delivery, firing, target, token_options};

async fn sim() -> SlackSim {
    let sim = SlackSim::start_with(SlackSimConfig {
        messages_per_second: 1000.0,
        burst: 1000,
        ..Default::default()
    })
    .await;
    sim.add_channel("alerts");
    sim
}

async fn publish_once(
    p: &publish_slack::SlackPublisher,
) -> Result<publish::Delivered, PublishError> {
    let (alert, context) = firing();
    p.publish(&delivery(&alert, &context, None)).await
}

#[tokio::test]
async fn every_known_error_string_from_the_web_api() {
    let sim = sim().await;
    let p = publish_slack::build(
        &target(&sim.api_url(), token_options("alerts")),
        &publish::BuildContext::default(),
    )
    .unwrap();
    for known in KNOWN_ERRORS {
        sim.push_fault(SlackEndpoint::PostMessage, SlackFault::error(known.code));
        let err = publish_once(&p).await.unwrap_err();
        assert_eq!(err.is_retryable(), known.retryable, "{}: {err}", known.code);
        assert_eq!(err.kind(), known.kind, "{}", known.code);
        assert_eq!(
            err.status_code(),
            Some(200),
            "the Web API says it in the body"
        );
        assert_eq!(
            err.reason(),
            format!("slack chat.postMessage: {} ({})", known.code, known.hint)
        );
    }
    assert!(sim.messages("alerts").is_empty());
    publish_once(&p)
        .await
        .expect("with the faults used up, it goes through");
}

#[tokio::test]
async fn every_known_error_string_from_an_incoming_webhook() {
    let sim = sim().await;
    let url = format!("{}{}", sim.base_url(), sim.add_webhook("alerts"));
    let p =
        publish_slack::build(&target(&url, json!({})), &publish::BuildContext::default()).unwrap();
    for known in KNOWN_ERRORS {
        sim.push_fault(SlackEndpoint::Webhook, SlackFault::error(known.code));
        let err = publish_once(&p).await.unwrap_err();
        let status = sim.calls().last().unwrap().status;
        let retryable = known.retryable || status >= 500;
        assert_eq!(
            err.is_retryable(),
            retryable,
            "{} ({status}): {err}",
            known.code
        );
        assert_eq!(err.status_code(), Some(status));
        if status == 429 {
            // Slack's webhook `rate_limited` comes with HTTP 429
            assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
        } else {
            assert!(
                err.reason()
                    .starts_with(&format!("slack webhook: {} (", known.code)),
                "{}",
                err.reason()
            );
        }
    }
}

fn permanent(err: &PublishError, kind: ErrorKind, code: &str) {
    assert!(!err.is_retryable(), "{code}: {err}");
    assert_eq!(err.kind(), kind, "{code}: {err}");
    assert!(err.reason().contains(code), "{code}: {err}");
}

#[tokio::test]
async fn the_simulated_slack_refuses_what_slack_refuses() {
    let sim = sim().await;
    sim.add_channel_with(SlackChannelSpec {
        bot_is_member: false,
        ..SlackChannelSpec::new("private")
    });
    sim.add_channel_with(SlackChannelSpec {
        archived: true,
        ..SlackChannelSpec::new("old")
    });
    let api = |options| {
        publish_slack::build(
            &target(&sim.api_url(), options),
            &publish::BuildContext::default(),
        )
        .unwrap()
    };

    let err = publish_once(&api(token_options("#nope")))
        .await
        .unwrap_err();
    permanent(&err, ErrorKind::NotFound, "channel_not_found");
    assert!(err.reason().contains("check options.channel"), "{err}");
    let err = publish_once(&api(
        json!({"token": "xoxb-not-the-right-token", "channel": "alerts"}),
    ))
    .await
    .unwrap_err();
    permanent(&err, ErrorKind::Auth, "invalid_auth");
    assert!(!err.reason().contains("xoxb-not-the-right-token"));
    permanent(
        &publish_once(&api(token_options("private")))
            .await
            .unwrap_err(),
        ErrorKind::Auth,
        "not_in_channel",
    );
    permanent(
        &publish_once(&api(token_options("old"))).await.unwrap_err(),
        ErrorKind::NotFound,
        "is_archived",
    );

    let secret_path = "/services/T0SIM/B0SIM/not-registered-secret";
    let hook = |path: &str| {
        publish_slack::build(
            &target(&format!("{}{path}", sim.base_url()), json!({})),
            &publish::BuildContext::default(),
        )
        .unwrap()
    };
    let err = publish_once(&hook(secret_path)).await.unwrap_err();
    permanent(&err, ErrorKind::NotFound, "no_service");
    assert_eq!(err.status_code(), Some(404));
    assert!(!err.reason().contains("not-registered-secret"));
    let archived = sim.add_webhook("old");
    let err = publish_once(&hook(&archived)).await.unwrap_err();
    permanent(&err, ErrorKind::NotFound, "channel_is_archived");
    assert_eq!(err.status_code(), Some(410));
    assert!(sim.messages("alerts").is_empty() && sim.messages("old").is_empty());
}

#[tokio::test]
async fn invalid_blocks_names_what_was_wrong() {
    let sim = sim().await;
    let p = publish_slack::build(
        &target(&sim.api_url(), token_options("alerts")),
        &publish::BuildContext::default(),
    )
    .unwrap();
    sim.push_fault(
        SlackEndpoint::PostMessage,
        SlackFault::error("invalid_blocks"),
    );
    let err = publish_once(&p).await.unwrap_err();
    permanent(&err, ErrorKind::Invalid, "invalid_blocks");
}

#[tokio::test]
async fn a_429_is_retryable_and_carries_retry_after() {
    let sim = sim().await;
    let p = publish_slack::build(
        &target(&sim.api_url(), token_options("alerts")),
        &publish::BuildContext::default(),
    )
    .unwrap();
    sim.push_fault(
        SlackEndpoint::PostMessage,
        SlackFault::RateLimited {
            retry_after_secs: 7,
        },
    );
    let err = publish_once(&p).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(
        (err.kind(), err.status_code(), err.retry_after()),
        (
            ErrorKind::RateLimited,
            Some(429),
            Some(Duration::from_secs(7))
        )
    );

    // over the channel's rate, the simulated Slack itself answers 429 with Retry-After
    sim.set_rate(0.5, 1);
    publish_once(&p)
        .await
        .expect("the first message of the second fits");
    let err = publish_once(&p).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(sim.calls().last().unwrap().retry_after, Some(2));
    assert_eq!(sim.messages("alerts").len(), 1);
}

#[tokio::test]
async fn server_errors_are_retryable() {
    let sim = sim().await;
    let p = publish_slack::build(
        &target(&sim.api_url(), token_options("alerts")),
        &publish::BuildContext::default(),
    )
    .unwrap();
    for status in [500, 502, 503, 504] {
        sim.push_fault(SlackEndpoint::PostMessage, SlackFault::Status(status));
        let err = publish_once(&p).await.unwrap_err();
        assert!(
            err.is_retryable()
                && err.kind() == ErrorKind::Server
                && err.status_code() == Some(status),
            "{err}"
        );
    }
    let url = format!("{}{}", sim.base_url(), sim.add_webhook("alerts"));
    let hook =
        publish_slack::build(&target(&url, json!({})), &publish::BuildContext::default()).unwrap();
    sim.push_fault(SlackEndpoint::Webhook, SlackFault::Status(503));
    assert!(publish_once(&hook).await.unwrap_err().is_retryable());
}

#[tokio::test]
async fn connection_failures_are_retryable_and_never_show_the_webhook_url() {
    let port = testkit::free_port();
    let url = format!("http://127.0.0.1:{port}/services/T0/B0/very-secret-path");
    let p = publish_slack::build(
        &target(&url, json!({"timeout": "2s"})),
        &publish::BuildContext::default(),
    )
    .unwrap();
    let err = publish_once(&p).await.unwrap_err();
    assert!(
        err.is_retryable() && err.kind() == ErrorKind::Connect,
        "{err}"
    );
    assert!(
        !err.reason().contains("very-secret-path") && !err.reason().contains("/services/"),
        "{err}"
    );
}
