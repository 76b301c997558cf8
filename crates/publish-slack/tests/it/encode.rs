//! Messages for every Alertmanager fixture (snapshots), Slack's limits, escaping, links.

use publish::{Alert, AlertStatus, GroupContext};
use publish_slack::{
    EncodeOptions, MARKER, MAX_BLOCKS, MAX_FIELD, MAX_HEADER, MAX_TEXT, Message, Placement,
    encode_body, encode_message, resolved_reply, silence_url, still_firing_reply,
};
use serde_json::{Value, json};

use crate::{FIXTURES, alertmanager_slack_request, firing, fixture, resolved};

fn to_json(message: &Message) -> Value {
    serde_json::from_slice(&encode_body(message, Placement::default())).expect("body is JSON")
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Every Block Kit limit we promise, checked independently of the encoder: the simulated Slack's
/// validator plus the `text` budget.
fn assert_within_limits(body: &Value, what: &str) {
    let violations = testkit::validate_slack_message(body);
    assert!(violations.is_empty(), "{what}: {violations:#?}\n{body:#}");
    let text = body["text"].as_str().unwrap_or_default();
    assert!(
        !text.is_empty() && utf16(text) <= MAX_TEXT,
        "{what}: text of {} units",
        utf16(text)
    );
    assert!(utf16(text) < 4000);
}

#[test]
fn snapshot_of_every_fixture_alert() {
    for name in FIXTURES {
        let m = fixture(name);
        for alert in &m.alerts {
            let message = encode_message(alert, &m.context, &EncodeOptions::default());
            let body = to_json(&message);
            assert_within_limits(&body, name);
            let snapshot = format!(
                "{}-{}-{}",
                name.trim_end_matches(".json"),
                alert.fingerprint,
                alert.status
            );
            insta::assert_json_snapshot!(snapshot, body);
        }
    }
}

#[test]
fn snapshot_of_thread_replies() {
    let (alert, _) = resolved();
    insta::assert_json_snapshot!("resolved-reply", to_json(&resolved_reply(&alert)));
    let (alert, _) = firing();
    insta::assert_json_snapshot!("still-firing-reply", to_json(&still_firing_reply(&alert)));
}

#[test]
fn request_bodies_place_the_message() {
    let (alert, context) = firing();
    let message = encode_message(&alert, &context, &EncodeOptions::default());
    let at = Placement {
        channel: Some("C1"),
        thread_ts: Some("1.5"),
        reply_broadcast: true,
        ..Default::default()
    };
    let body: Value = serde_json::from_slice(&encode_body(&message, at)).unwrap();
    assert_eq!(body["channel"], "C1");
    assert_eq!(body["thread_ts"], "1.5");
    assert_eq!(body["reply_broadcast"], true);
    assert_eq!(body["unfurl_links"], false);
    assert!(body.get("ts").is_none());
    let update: Value = serde_json::from_slice(&encode_body(
        &message,
        Placement {
            channel: Some("C1"),
            ts: Some("1.5"),
            ..Default::default()
        },
    ))
    .unwrap();
    assert_eq!(
        (update["channel"].as_str(), update["ts"].as_str()),
        (Some("C1"), Some("1.5"))
    );
    assert!(update.get("thread_ts").is_none() && update.get("reply_broadcast").is_none());
}

/// A storm of everything that can be long: every limit is respected and every cut is visible.
#[test]
fn oversized_alert_is_cut_to_the_limits_with_a_visible_marker() {
    let (mut alert, context) = firing();
    alert.labels.insert("alertname".into(), "Disk".repeat(100));
    alert.labels.insert("instance".into(), "i".repeat(5000));
    for i in 0..200 {
        alert.labels.insert(format!("label_{i:03}"), "v".repeat(50));
    }
    alert
        .annotations
        .insert("summary".into(), "S".repeat(10_000));
    alert
        .annotations
        .insert("description".into(), "😀".repeat(5000));
    for i in 0..80 {
        alert
            .annotations
            .insert(format!("note_{i:02}"), "n".repeat(4000));
    }
    for i in 0..12 {
        alert.annotations.insert(
            format!("dash{i:02}_url"),
            format!("https://grafana.example/d/{i}"),
        );
    }
    let message = encode_message(&alert, &context, &EncodeOptions::default());
    let body = to_json(&message);
    assert_within_limits(&body, "oversized");
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), MAX_BLOCKS);
    let header = blocks[0]["text"]["text"].as_str().unwrap();
    assert!(
        header.ends_with(MARKER) && utf16(header) <= MAX_HEADER,
        "{header}"
    );
    let all = body.to_string();
    assert!(
        all.contains("more annotations not shown"),
        "the dropped annotations are announced"
    );
    assert!(
        all.contains("more links"),
        "the dropped links are announced"
    );
    assert!(message.text.ends_with(MARKER));
    // the instance field was cut, not dropped
    let fields = blocks.iter().find_map(|b| b["fields"].as_array()).unwrap();
    let instance = fields
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .find(|t| t.starts_with("*Instance*"))
        .unwrap();
    assert!(instance.ends_with(MARKER) && utf16(instance) <= MAX_FIELD);
    // the fingerprint context block is always last
    assert!(
        blocks
            .last()
            .unwrap()
            .to_string()
            .contains(alert.fingerprint.as_str())
    );
}

#[test]
fn nothing_in_an_alert_can_ping_or_inject_links() {
    let (mut alert, context) = firing();
    alert.annotations.insert(
        "summary".into(),
        "<!channel> look <https://evil.example|here> & now".into(),
    );
    alert.labels.insert("team".into(), "<@U123>`x`".into());
    alert
        .annotations
        .insert("runbook_url".into(), "javascript:alert(1)".into());
    let message = encode_message(&alert, &context, &EncodeOptions::default());
    let all = to_json(&message).to_string();
    assert!(
        !all.contains("<!channel>") && !all.contains("<@U123>") && !all.contains("<https://evil"),
        "{all}"
    );
    assert!(
        all.contains("&lt;!channel&gt; look &lt;https://evil.example|here&gt; &amp; now"),
        "{all}"
    );
    assert!(
        !all.contains("javascript:alert(1)>"),
        "a non-http runbook is not a link: {all}"
    );
    assert!(
        all.contains("*runbook_url*\\njavascript:alert(1)"),
        "it is shown as text: {all}"
    );
}

#[test]
fn silence_link_prefills_every_label_and_prefers_the_configured_alertmanager() {
    let (alert, context) = firing();
    let url = silence_url("http://vm:9093/", &alert);
    assert_eq!(
        url,
        "http://vm:9093/#/silences/new?filter=%7Balertname%3D%22HighErrorRate%22%2Cinstance%3D%22web-1%3A9100%22%2C\
         service%3D%22checkout%22%2Cseverity%3D%22critical%22%7D"
    );
    let options = EncodeOptions {
        alertmanager_url: Some("https://am.example.com".into()),
    };
    let all = to_json(&encode_message(&alert, &context, &options)).to_string();
    assert!(
        all.contains("<https://am.example.com/#/silences/new?filter=%7Balertname"),
        "{all}"
    );
    assert!(!all.contains("http://vm:9093/#/silences"), "{all}");
    // no Alertmanager known: no silence link
    let none = GroupContext {
        external_url: String::new(),
        ..context
    };
    let all = to_json(&encode_message(&alert, &none, &EncodeOptions::default())).to_string();
    assert!(!all.contains("Silence"), "{all}");
}

#[test]
fn minimal_alert_still_makes_a_valid_message() {
    let alert: Alert = serde_json::from_value(json!({
        "status": "firing", "labels": {"x": "y"}, "startsAt": "2026-11-23T18:17:06Z", "fingerprint": "0000000000000001"
    }))
    .unwrap();
    let message = encode_message(&alert, &GroupContext::default(), &EncodeOptions::default());
    let body = to_json(&message);
    assert_within_limits(&body, "minimal");
    assert_eq!(
        body["blocks"][0]["text"]["text"],
        ":large_blue_circle: FIRING · (unnamed alert)"
    );
    assert_eq!(message.text, ":large_blue_circle: [FIRING] (unnamed alert)");
}

#[test]
fn severity_decides_the_emoji_and_resolved_is_green() {
    let (mut alert, context) = firing();
    for (severity, emoji) in [
        ("critical", ":red_circle:"),
        ("error", ":large_orange_circle:"),
        ("warning", ":large_yellow_circle:"),
        ("info", ":large_blue_circle:"),
    ] {
        alert.labels.insert("severity".into(), severity.into());
        let m = encode_message(&alert, &context, &EncodeOptions::default());
        assert!(
            m.text
                .starts_with(&format!("{emoji} [FIRING:{severity}] HighErrorRate")),
            "{}",
            m.text
        );
    }
    alert.status = AlertStatus::Resolved;
    let m = encode_message(&alert, &context, &EncodeOptions::default());
    assert!(
        m.text
            .starts_with(":white_check_mark: [RESOLVED] HighErrorRate"),
        "{}",
        m.text
    );
}

/// Alertmanager's own Slack message only has a title; ours carries what an on-call engineer
/// needs without clicking.
#[test]
fn ours_says_more_than_alertmanagers_own_slack_message() {
    let theirs = alertmanager_slack_request("am-slack-firing.json").to_string();
    let (alert, context) = firing();
    let ours = to_json(&encode_message(&alert, &context, &EncodeOptions::default())).to_string();
    for needed in [
        "Error rate above 5% on checkout",
        "5xx ratio 7.3% over 5m",
        "https://runbooks.example.com/high-error-rate",
        "http://prometheus.example:9090/graph",
        "/#/silences/new?filter=",
        "web-1:9100",
        "ac36b8d065d4a922",
    ] {
        assert!(ours.contains(needed), "ours lacks {needed:?}");
        assert!(
            !theirs.contains(needed) || needed == "web-1:9100",
            "Alertmanager's has {needed:?} too"
        );
    }
}
