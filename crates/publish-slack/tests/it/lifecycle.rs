//! The life of a message against the simulated Slack: post, update, thread reply, re-fire,
//! repeat, fallbacks, webhook mode, and the vendor state the engine keeps between deliveries.

use std::time::Duration;

use publish::{AlertStatus, Publisher};
use publish_slack::MessageRef;
use serde_json::{Value, json};
use testkit::{SlackEndpoint, SlackSim, SlackVia};

use crate::{delivery, firing, resolved, target, token_options};

/// What the engine does with vendor state: keep it as JSON text in the store.
fn stored(state: Option<Value>) -> Option<Value> {
    state.map(|s| serde_json::from_str(&s.to_string()).expect("state is JSON"))
}

async fn sim_with_channel() -> (SlackSim, String) {
    let sim = SlackSim::start_with(testkit::SlackSimConfig {
        messages_per_second: 100.0,
        burst: 100,
        ..Default::default()
    })
    .await;
    let id = sim.add_channel("alerts");
    (sim, id)
}

fn token_publisher(sim: &SlackSim, options: Value) -> publish_slack::SlackPublisher {
    publish_slack::build(
        &target(&sim.api_url(), options),
        &publish::BuildContext::default(),
    )
    .expect("valid target")
}

/// A token-mode publisher for `#alerts` on a fresh simulator, with the firing alert already
/// posted: the simulator, the publisher, the group context and the stored message state.
async fn posted_firing() -> (
    SlackSim,
    publish_slack::SlackPublisher,
    publish::GroupContext,
    Option<Value>,
) {
    let (sim, _) = sim_with_channel().await;
    let p = token_publisher(&sim, token_options("alerts"));
    let (f, ctx) = firing();
    let posted = stored(
        p.publish(&delivery(&f, &ctx, None))
            .await
            .unwrap()
            .vendor_state,
    );
    (sim, p, ctx, posted)
}

#[tokio::test]
async fn fire_posts_then_resolve_updates_the_message_and_replies_in_its_thread() {
    let (sim, channel_id) = sim_with_channel().await;
    let p = token_publisher(&sim, token_options("#alerts"));
    let (alert, context) = firing();

    let fired = p
        .publish(&delivery(&alert, &context, None))
        .await
        .expect("fire delivered");
    let state = stored(fired.vendor_state);
    let posted = MessageRef::from_state(state.as_ref()).expect("a message reference is kept");
    assert_eq!(
        (posted.channel.as_str(), posted.status),
        (channel_id.as_str(), AlertStatus::Firing)
    );
    let messages = sim.messages("alerts");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].ts, posted.ts);
    assert_eq!(
        messages[0].header().as_deref(),
        Some(":red_circle: FIRING · HighErrorRate")
    );
    assert!(
        messages[0]
            .visible_text()
            .contains("Error rate above 5% on checkout")
    );
    let call = &sim.calls()[0];
    assert_eq!(call.endpoint, SlackEndpoint::PostMessage);
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {}", SlackSim::TOKEN).as_str())
    );
    assert_eq!(call.body["channel"], "#alerts");

    let (alert, context) = resolved();
    let done = p
        .publish(&delivery(&alert, &context, state))
        .await
        .expect("resolve delivered");
    let after = MessageRef::from_state(done.vendor_state.as_ref()).unwrap();
    assert_eq!(
        (after.ts.as_str(), after.status),
        (posted.ts.as_str(), AlertStatus::Resolved)
    );
    let messages = sim.messages("alerts");
    assert_eq!(messages.len(), 1, "no new top-level message");
    let m = &messages[0];
    assert!(m.edited());
    assert_eq!(
        m.header().as_deref(),
        Some(":white_check_mark: RESOLVED · HighErrorRate")
    );
    assert!(
        m.visible_text().contains("*Duration*\n6s"),
        "{}",
        m.visible_text()
    );
    assert_eq!(m.replies.len(), 1);
    assert!(
        m.replies[0]
            .text
            .starts_with(":white_check_mark: *Resolved*"),
        "{}",
        m.replies[0].text
    );
    assert!(
        m.replies[0].text.ends_with("after 6s"),
        "{}",
        m.replies[0].text
    );
    // chat.update used the channel id, as Slack requires
    let update = sim
        .calls()
        .into_iter()
        .find(|c| c.endpoint == SlackEndpoint::Update)
        .unwrap();
    assert_eq!(
        (update.body["channel"].as_str(), update.body["ts"].as_str()),
        (Some(channel_id.as_str()), Some(posted.ts.as_str()))
    );
}

#[tokio::test]
async fn refire_after_resolve_starts_a_new_message() {
    let (sim, _) = sim_with_channel().await;
    let p = token_publisher(&sim, token_options("alerts"));
    let (f, ctx) = firing();
    let (r, _) = resolved();
    let s1 = stored(
        p.publish(&delivery(&f, &ctx, None))
            .await
            .unwrap()
            .vendor_state,
    );
    let s2 = stored(
        p.publish(&delivery(&r, &ctx, s1.clone()))
            .await
            .unwrap()
            .vendor_state,
    );
    let s3 = stored(
        p.publish(&delivery(&f, &ctx, s2))
            .await
            .unwrap()
            .vendor_state,
    );
    let (first, third) = (
        MessageRef::from_state(s1.as_ref()).unwrap(),
        MessageRef::from_state(s3.as_ref()).unwrap(),
    );
    assert_ne!(first.ts, third.ts);
    let messages = sim.messages("alerts");
    assert_eq!(messages.len(), 2);
    assert!(messages[0].header().unwrap().contains("RESOLVED"));
    assert!(messages[1].header().unwrap().contains("FIRING") && !messages[1].edited());
    assert_eq!(messages[1].ts, third.ts);
}

#[tokio::test]
async fn repeat_of_a_firing_alert_follows_on_repeat() {
    let (f, ctx) = firing();
    for (mode, messages, edited, replies) in [
        ("reply", 1, true, 1),
        ("update", 1, true, 0),
        ("new", 2, false, 0),
    ] {
        let (sim, _) = sim_with_channel().await;
        let mut options = token_options("alerts");
        options["on_repeat"] = json!(mode);
        let p = token_publisher(&sim, options);
        let s1 = stored(
            p.publish(&delivery(&f, &ctx, None))
                .await
                .unwrap()
                .vendor_state,
        );
        p.publish(&delivery(&f, &ctx, s1)).await.unwrap();
        let got = sim.messages("alerts");
        assert_eq!(got.len(), messages, "{mode}");
        assert_eq!(got[0].edited(), edited, "{mode}");
        assert_eq!(got[0].replies.len(), replies, "{mode}");
        if replies == 1 {
            assert!(
                got[0].replies[0]
                    .text
                    .starts_with(":repeat: *Still firing* since <!date^"),
                "{}",
                got[0].replies[0].text
            );
        }
    }
}

#[tokio::test]
async fn on_resolve_choices() {
    let (f, ctx) = firing();
    let (r, _) = resolved();
    for (on_resolve, top_level, edited, replies) in [
        (json!({"update_message": false}), 1, false, 1),
        (json!({"thread_reply": false}), 1, true, 0),
        (
            json!({"update_message": false, "thread_reply": false}),
            2,
            false,
            0,
        ),
        (json!({"reply_broadcast": true}), 2, true, 1),
    ] {
        let (sim, _) = sim_with_channel().await;
        let mut options = token_options("alerts");
        options["on_resolve"] = on_resolve.clone();
        let p = token_publisher(&sim, options);
        let s1 = stored(
            p.publish(&delivery(&f, &ctx, None))
                .await
                .unwrap()
                .vendor_state,
        );
        p.publish(&delivery(&r, &ctx, s1)).await.unwrap();
        let got = sim.messages("alerts");
        assert_eq!(got.len(), top_level, "{on_resolve}");
        assert_eq!(got[0].edited(), edited, "{on_resolve}");
        assert_eq!(got[0].replies.len(), replies, "{on_resolve}");
        if top_level == 2 {
            assert!(
                got[1].text.starts_with(":white_check_mark:"),
                "{on_resolve}: {}",
                got[1].text
            );
        }
    }
}

#[tokio::test]
async fn a_deleted_message_is_posted_anew_in_its_current_form() {
    let (sim, channel_id) = sim_with_channel().await;
    let p = token_publisher(&sim, token_options("alerts"));
    let (r, ctx) = resolved();
    let gone = json!({"channel": channel_id, "ts": "1000.000001", "status": "firing"});
    let done = p
        .publish(&delivery(&r, &ctx, Some(gone)))
        .await
        .expect("delivered by posting anew");
    let messages = sim.messages("alerts");
    assert_eq!(messages.len(), 1);
    assert!(messages[0].header().unwrap().contains("RESOLVED"));
    assert!(
        messages[0].replies.is_empty(),
        "no reply to a message that is not there"
    );
    assert_eq!(
        MessageRef::from_state(done.vendor_state.as_ref())
            .unwrap()
            .ts,
        messages[0].ts
    );
    let update = sim
        .calls()
        .into_iter()
        .find(|c| c.endpoint == SlackEndpoint::Update)
        .unwrap();
    assert_eq!(update.error.as_deref(), Some("message_not_found"));
}

#[tokio::test]
async fn a_failed_thread_reply_is_retried_without_a_second_message_or_reply() {
    let (sim, p, ctx, s1) = posted_firing().await;
    let (r, _) = resolved();
    sim.push_fault(
        SlackEndpoint::PostMessage,
        testkit::SlackFault::error("internal_error"),
    );
    let err = p
        .publish(&delivery(&r, &ctx, s1.clone()))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    // the engine keeps the old state after a failure and tries again
    p.publish(&delivery(&r, &ctx, s1))
        .await
        .expect("retry delivered");
    let messages = sim.messages("alerts");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].replies.len(), 1);
    assert_eq!(
        messages[0].history.len(),
        2,
        "updated twice, to the same resolved form"
    );
}

#[tokio::test]
async fn webhook_mode_posts_every_status_as_a_new_message() {
    let (sim, _) = sim_with_channel().await;
    let url = format!("{}{}", sim.base_url(), sim.add_webhook("alerts"));
    let p =
        publish_slack::build(&target(&url, json!({})), &publish::BuildContext::default()).unwrap();
    let (f, ctx) = firing();
    let (r, _) = resolved();
    let fired = p.publish(&delivery(&f, &ctx, None)).await.unwrap();
    assert_eq!(
        (fired.status_code, fired.vendor_state),
        (Some(200), None),
        "a webhook gives no ts to keep"
    );
    p.publish(&delivery(&r, &ctx, None)).await.unwrap();
    let messages = sim.messages("alerts");
    assert_eq!(messages.len(), 2);
    assert!(
        messages
            .iter()
            .all(|m| m.via == SlackVia::Webhook && !m.edited() && m.replies.is_empty())
    );
    assert!(messages[0].header().unwrap().contains("FIRING"));
    assert!(messages[1].header().unwrap().contains("RESOLVED"));
    let call = &sim.calls()[0];
    assert_eq!(call.header("authorization"), None);
    assert!(call.body.get("channel").is_none());
}

#[tokio::test]
async fn rate_limit_buckets_are_per_channel_and_hold_no_secret() {
    let (sim, _) = sim_with_channel().await;
    let (f, ctx) = firing();
    let d = delivery(&f, &ctx, None);
    let a = token_publisher(
        &sim,
        json!({"token": SlackSim::TOKEN, "channel": "#alerts"}),
    )
    .rate_limit(&d)
    .unwrap();
    let b = token_publisher(&sim, json!({"token": SlackSim::TOKEN, "channel": "alerts"}))
        .rate_limit(&d)
        .unwrap();
    let c = token_publisher(&sim, json!({"token": SlackSim::TOKEN, "channel": "#other"}))
        .rate_limit(&d)
        .unwrap();
    assert_eq!(a, b, "one channel, one bucket");
    assert_ne!(a.key, c.key);
    assert_eq!(
        (a.per_minute, a.burst),
        (60, 1),
        "about one message per second by default"
    );
    assert!(
        !a.key.contains(SlackSim::TOKEN) && !a.key.contains("xoxb"),
        "{}",
        a.key
    );
    let path = sim.add_webhook("alerts");
    let url = format!("{}{path}", sim.base_url());
    let w = publish_slack::build(
        &target(&url, json!({"rate_limit": {"per_minute": 30, "burst": 2}})),
        &publish::BuildContext::default(),
    )
    .unwrap()
    .rate_limit(&d)
    .unwrap();
    assert_eq!((w.per_minute, w.burst), (30, 2));
    assert!(
        !w.key
            .contains(path.trim_start_matches('/').split('/').next_back().unwrap()),
        "{}",
        w.key
    );
}

#[tokio::test]
async fn the_simulator_keeps_threads_apart_per_message() {
    let (sim, _) = sim_with_channel().await;
    let p = token_publisher(&sim, token_options("alerts"));
    let m = crate::fixture("am-webhook-group-2-firing.json");
    let mut states = Vec::new();
    for a in &m.alerts {
        states.push(stored(
            p.publish(&delivery(a, &m.context, None))
                .await
                .unwrap()
                .vendor_state,
        ));
    }
    let mut second = m.alerts[1].clone();
    second.status = AlertStatus::Resolved;
    second.ends_at = Some(second.starts_at + chrono::Duration::seconds(90));
    p.publish(&delivery(&second, &m.context, states[1].clone()))
        .await
        .unwrap();
    let got = sim
        .wait_for_messages("alerts", 2, Duration::from_secs(1))
        .await;
    assert!(got[0].header().unwrap().contains("FIRING") && got[0].replies.is_empty());
    assert!(got[1].header().unwrap().contains("RESOLVED") && got[1].replies.len() == 1);
    assert!(
        got[1].replies[0].text.ends_with("after 1m 30s"),
        "{}",
        got[1].replies[0].text
    );
    assert!(
        got[1].visible_text().contains("db-2:9100") && got[0].visible_text().contains("db-1:9100")
    );
}

#[tokio::test]
async fn a_resolve_whose_reply_is_refused_keeps_its_update_and_the_retry_only_replies() {
    let (sim, p, ctx, posted) = posted_firing().await;
    let (r, _) = resolved();
    let resolve = publish::Delivery {
        id: "resolve-1".to_owned(),
        ..delivery(&r, &ctx, posted.clone())
    };
    let channel = p.rate_limit(&resolve).unwrap();
    let limits = p.rate_limits(&resolve);
    assert_eq!(limits.len(), 2, "an update and a reply: {limits:?}");
    assert_eq!(
        (limits[0].per_minute, limits[0].burst),
        (50, 3),
        "chat.update counts against its Tier 3 limit"
    );
    assert!(!limits[0].key.contains("xoxb"), "{}", limits[0].key);
    assert_eq!(
        limits[1], channel,
        "the reply against the channel's messages"
    );

    // The channel is busy: the reply draws a 429 after the update went through.
    sim.push_fault(
        SlackEndpoint::PostMessage,
        testkit::SlackFault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let err = p.publish(&resolve).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(
        err.rate_limit_key(),
        Some(channel.key.as_str()),
        "the channel's bucket is to pause"
    );
    let progress = stored(err.vendor_state().cloned());
    let m = MessageRef::from_state(progress.as_ref()).expect("the update is kept");
    assert_eq!(m.status, AlertStatus::Resolved);
    assert_eq!(
        m.reply_due.as_ref().map(|d| d.delivery.as_str()),
        Some("resolve-1")
    );

    // The retry of the same delivery: no update again, only the reply, one channel slot.
    let retry = publish::Delivery {
        attempt: 2,
        vendor_state: progress,
        ..resolve.clone()
    };
    assert_eq!(p.rate_limits(&retry), vec![channel.clone()]);
    let before = sim.calls().len();
    let done = p.publish(&retry).await.expect("the reply goes through");
    let calls: Vec<SlackEndpoint> = sim.calls()[before..].iter().map(|c| c.endpoint).collect();
    assert_eq!(calls, [SlackEndpoint::PostMessage], "only the reply");
    let end = MessageRef::from_state(done.vendor_state.as_ref()).unwrap();
    assert_eq!((end.status, end.reply_due), (AlertStatus::Resolved, None));
    let messages = sim.messages("alerts");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].history.len(), 1, "updated once");
    assert_eq!(messages[0].replies.len(), 1, "one reply");
    // Delivered: nothing more is due, and a replay updates without replying again.
    let replay = publish::Delivery {
        id: "replay".to_owned(),
        vendor_state: stored(done.vendor_state),
        ..resolve
    };
    assert_eq!(p.rate_limits(&replay).len(), 1);
}

#[tokio::test]
async fn a_refused_update_names_its_own_bucket_and_keeps_no_progress() {
    let (sim, p, ctx, posted) = posted_firing().await;
    let (r, _) = resolved();
    let resolve = delivery(&r, &ctx, posted);
    sim.push_fault(
        SlackEndpoint::Update,
        testkit::SlackFault::RateLimited {
            retry_after_secs: 7,
        },
    );
    let err = p.publish(&resolve).await.unwrap_err();
    let update_bucket = &p.rate_limits(&resolve)[0];
    assert_eq!(err.rate_limit_key(), Some(update_bucket.key.as_str()));
    assert_ne!(
        Some(p.rate_limit(&resolve).unwrap().key.as_str()),
        err.rate_limit_key()
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(err.vendor_state(), None, "nothing went through");
    assert!(sim.messages("alerts")[0].replies.is_empty());
}
