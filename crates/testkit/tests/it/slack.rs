//! The simulated Slack enforces the limits Slack documents: about one message per second per
//! channel with short bursts (shared with every app posting there), and Tier 3 for
//! `chat.update` per token, not under the channel's budget; past either, 429 with
//! `Retry-After`.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::{SlackSim, SlackVia};

/// Calls Web API `method` with `token`: (HTTP status, `Retry-After`, body).
async fn api(sim: &SlackSim, token: &str, method: &str, body: Value) -> (u16, Option<u64>, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/{method}", sim.api_url()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry_after, resp.json().await.unwrap())
}

async fn post(sim: &SlackSim, channel: &str) -> (u16, Option<u64>, Value) {
    api(
        sim,
        SlackSim::TOKEN,
        "chat.postMessage",
        json!({"channel": channel, "text": "hello"}),
    )
    .await
}

#[tokio::test]
async fn messages_are_limited_per_channel_with_a_short_burst() {
    let sim = SlackSim::start().await;
    sim.add_channel("alerts");
    sim.add_channel("other");
    for _ in 0..3 {
        assert_eq!(post(&sim, "alerts").await.0, 200);
    }
    let (status, retry_after, body) = post(&sim, "alerts").await;
    assert_eq!(
        (status, retry_after, body),
        (429, Some(1), json!({"ok": false, "error": "ratelimited"}))
    );
    assert_eq!(
        post(&sim, "other").await.0,
        200,
        "another channel has its own"
    );
}

#[tokio::test]
async fn chat_update_is_tier_3_per_token_and_not_under_the_channel_budget() {
    let sim = SlackSim::start().await;
    let channel = sim.add_channel("alerts");
    let other_token = "xoxb-0000000000-another-app";
    sim.add_token(other_token);
    let (_, _, posted) = post(&sim, "alerts").await;
    let ts = posted["ts"].as_str().unwrap().to_owned();
    let update = json!({"channel": channel, "ts": ts, "text": "edited"});
    for i in 0..10 {
        let (status, _, body) = api(&sim, SlackSim::TOKEN, "chat.update", update.clone()).await;
        assert_eq!(
            (status, body["ok"].as_bool()),
            (200, Some(true)),
            "update {i}"
        );
    }
    let (status, retry_after, body) =
        api(&sim, SlackSim::TOKEN, "chat.update", update.clone()).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("ratelimited")));
    // 50 a minute: the next one in about 1.2 s
    assert_eq!(retry_after, Some(2));
    // the channel's messages are another budget; another token another bucket
    assert_eq!(post(&sim, "alerts").await.0, 200);
    // (the simulator does not check whose message a token edits)
    let (status, _, body) = api(&sim, other_token, "chat.update", update).await;
    assert_eq!((status, body["ok"].as_bool()), (200, Some(true)));
    assert_eq!(sim.messages("alerts")[0].history.len(), 11);
}

#[tokio::test]
async fn another_app_posting_in_the_channel_takes_its_budget() {
    let sim = SlackSim::start().await;
    sim.add_channel("alerts");
    sim.share_channel("alerts", 0.4);
    sim.wait_for(
        Duration::from_secs(5),
        "the other app's first message",
        |s| (s.other_posts().posted >= 1).then_some(()),
    )
    .await;
    // the burst of 3 less the other app's message
    assert_eq!(post(&sim, "alerts").await.0, 200);
    assert_eq!(post(&sim, "alerts").await.0, 200);
    assert_eq!(post(&sim, "alerts").await.0, 429);
    let messages = sim.messages("alerts");
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.via == SlackVia::OtherApp)
            .count(),
        1
    );
    assert_eq!(
        messages.iter().filter(|m| m.via == SlackVia::Api).count(),
        2
    );
    // it keeps posting (tried again after a 429) at its rate
    sim.wait_for(Duration::from_secs(10), "its second message", |s| {
        (s.other_posts().posted >= 2).then_some(())
    })
    .await;
}
