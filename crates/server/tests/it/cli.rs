//! The client subcommands against a running service: `targets list`, `dlq list`, `dlq replay`.

use std::{process::Command, time::Duration};

use testkit::{Behaviour, WebhookSink};

use crate::support::{Service, binary, fixture_body, write_targets};

fn run(service: &Service, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(binary())
        .args(args)
        .arg("--url")
        .arg(service.url(""))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn targets_and_dead_letters_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    sink.set_default(Behaviour::Respond {
        status: 400,
        headers: vec![],
        body: "bad payload".into(),
    });
    write_targets(
        dir.path(),
        &format!(
            "- name: cli-hook\n  type: webhook\n  url: {}\n  headers: {{Authorization: Bearer cli-secret}}\n",
            sink.url("/h")
        ),
    );
    let service = Service::start(dir.path(), "").await;
    let (ok, out, err) = run(&service, &["targets", "list"]);
    assert!(ok, "{err}");
    assert!(out.contains("cli-hook") && out.contains("webhook"), "{out}");
    assert!(!out.contains("cli-secret"));

    service
        .post("/webhook", fixture_body("am-webhook-firing.json"))
        .await;
    service
        .wait_json("/api/v2/publishing/dlq", Duration::from_secs(10), |d| {
            d["count"] == 1
        })
        .await;
    let (ok, out, err) = run(&service, &["dlq", "list"]);
    assert!(ok, "{err}");
    let line = out
        .lines()
        .find(|l| l.contains("cli-hook"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("HighErrorRate") && line.contains("HTTP 400: bad payload"),
        "{line}"
    );
    let id = line.split_whitespace().next().unwrap().to_owned();

    sink.set_default(Behaviour::Ok);
    let (ok, out, err) = run(&service, &["dlq", "replay", &id]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "replayed 1");
    sink.wait_for_delivered(1, Duration::from_secs(10)).await;
    let (ok, _, err) = run(&service, &["dlq", "replay", &id]);
    assert!(
        !ok && err.contains("404"),
        "a second replay is refused: {err}"
    );
    let (ok, _, err) = run(&service, &["dlq", "replay"]);
    assert!(!ok && err.contains("--target"), "{err}");
}

/// `targets test` says in one line what happened and exits 1 when the target did not take the
/// test alert, 0 when it did. (Two runtime threads: the sinks answer while the command blocks
/// one.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_test_exits_non_zero_when_the_delivery_failed() {
    let dir = tempfile::tempdir().unwrap();
    let good = WebhookSink::start().await;
    let bad = WebhookSink::start().await;
    bad.set_default(Behaviour::Respond {
        status: 400,
        headers: vec![],
        body: "schema mismatch".into(),
    });
    write_targets(
        dir.path(),
        &format!(
            "- name: good\n  type: webhook\n  url: {}\n- name: bad\n  type: webhook\n  url: {}\n",
            good.url("/h"),
            bad.url("/h")
        ),
    );
    let service = Service::start(dir.path(), "").await;
    let (ok, out, err) = run(&service, &["targets", "test", "good"]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("good: delivered (HTTP 200) in ") && out.ends_with(" ms\n"),
        "{out:?}"
    );
    let (ok, out, err) = run(&service, &["targets", "test", "bad"]);
    assert!(!ok, "a failed test delivery must fail the command: {out}");
    assert!(out.is_empty(), "{out:?}");
    assert!(
        err.contains("bad: the test delivery failed (HTTP 400")
            && err.contains("schema mismatch")
            && err.contains("would not retry"),
        "{err}"
    );
    assert_eq!(good.requests().len(), 1);
    assert_eq!(bad.requests().len(), 1);
}
