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
