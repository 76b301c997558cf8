//! Signed deliveries, verified by an independent implementation (Python's `hmac` module).

use std::{process::Command, time::Duration};

use publish::{Publisher, Target};

use crate::{delivery, loopback};

fn target(url: &str, secret: &str) -> Target {
    let parsed: serde_json::Map<String, serde_json::Value> =
        serde_json::from_value(serde_json::json!({"signing": {"secret": secret}})).unwrap();
    Target {
        templates: Default::default(),
        name: "signed".parse().unwrap(),
        kind: publish::TargetType::Webhook,
        url: url.to_owned(),
        enabled: true,
        format: publish::Format::Webhook,
        headers: Default::default(),
        options: parsed,
    }
}

/// Verifies with Python: returns whether the signature matches.
fn python_verifies(key_b64_or_raw: &str, id: &str, ts: &str, body: &[u8], signature: &str) -> bool {
    let script = r#"
import base64, hashlib, hmac, sys
secret, msg_id, ts, sig = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
body = sys.stdin.buffer.read()
key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
expected = base64.b64encode(hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256).digest()).decode()
sys.exit(0 if hmac.compare_digest("v1," + expected, sig) else 1)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script, key_b64_or_raw, id, ts, signature])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed to verify signatures independently");
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(body).unwrap();
    child.wait().unwrap().success()
}

#[tokio::test]
async fn bodies_are_signed_standard_webhooks_style() {
    for secret in [
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "plain-shared-secret",
    ] {
        let sink = testkit::WebhookSink::start().await;
        let publisher = publish_webhook::build(
            &target(&sink.url("/hook"), secret),
            &crate::ctx(&loopback()),
        )
        .unwrap();
        publisher.publish(&delivery()).await.unwrap();
        let got = sink
            .wait_for_delivered(1, Duration::from_secs(5))
            .await
            .remove(0);
        let id = got.header("webhook-id").unwrap();
        let ts = got.header("webhook-timestamp").unwrap();
        let sig = got.header("webhook-signature").unwrap();
        assert_eq!(id, "0123456789abcdef0123456789abcdef");
        assert!((chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap()).abs() < 60);
        assert!(
            python_verifies(secret, id, ts, &got.body, sig),
            "{secret}: signature {sig} does not verify"
        );
        let mut tampered = got.body.to_vec();
        tampered[0] = b' ';
        assert!(
            !python_verifies(secret, id, ts, &tampered, sig),
            "a changed body must not verify"
        );
        assert!(
            !python_verifies("other-secret", id, ts, &got.body, sig),
            "another secret must not verify"
        );
    }
}

#[test]
fn a_bad_whsec_secret_is_a_config_error() {
    let e = publish_webhook::build(
        &target("http://127.0.0.1:9/", "whsec_***"),
        &crate::ctx(&loopback()),
    )
    .unwrap_err();
    assert_eq!(e.field, "options.signing.secret");
}
