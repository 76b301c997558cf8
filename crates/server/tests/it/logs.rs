//! Logs an engineer can filter: JSON lines with their fields at the top level, delivery lines
//! naming the target (`target_name`, apart from the module in `target`), the alert's name and
//! fingerprint; a degraded `/health` and a normal shutdown log no warning or error.

use std::time::Duration;

use serde_json::Value;
use testkit::Behaviour;

use crate::support::{Service, fixture_body, one_webhook_target};

fn lines(log: &str) -> Vec<Value> {
    log.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[tokio::test]
async fn json_logs_name_the_target_and_the_alert_and_stay_quiet_when_nothing_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let _sink = one_webhook_target(dir.path(), "refuses", Behaviour::Status(500), "").await;
    let mut service = Service::start(
        dir.path(),
        "log:\n  format: json\n  level: info,queue=debug\n",
    )
    .await;
    let (status, _) = service
        .post("/webhook", fixture_body("am-webhook-firing.json"))
        .await;
    assert_eq!(status, 200);
    service
        .wait_json(
            "/api/v2/publishing/queue/stats",
            Duration::from_secs(30),
            |v| v["dead"].as_u64() >= Some(1),
        )
        .await;

    let dead: Vec<Value> = lines(&service.log())
        .into_iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("delivery failed permanently"))
        })
        .collect();
    assert!(!dead.is_empty(), "{}", service.log());
    let line = &dead[0];
    assert_eq!(line["level"], "WARN", "{line}");
    assert_eq!(line["target_name"], "refuses", "{line}");
    assert_eq!(
        line["target"], "queue::engine",
        "the module stays in `target`: {line}"
    );
    let alertname = line["alertname"].as_str().unwrap_or_default();
    assert!(!alertname.is_empty(), "{line}");
    let fingerprint = line["fingerprint"].as_str().unwrap_or_default();
    assert_eq!(fingerprint.len(), 16, "{line}");
    assert!(
        line.get("fields").is_none(),
        "fields are not nested: {line}"
    );
    // The dead letter is the one the line names.
    let dlq = service.get_json("/api/v2/publishing/dlq").await;
    assert!(
        dlq["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["fingerprint"] == fingerprint && j["target"] == "refuses"),
        "{dlq}"
    );

    // A failing target makes /health answer 503; that is an answer, not an error.
    let mut degraded = 0;
    for _ in 0..5 {
        let resp = reqwest::get(service.url("/api/v2/publishing/health"))
            .await
            .unwrap();
        degraded += u32::from(resp.status() == 503);
    }
    assert!(
        degraded > 0,
        "a target failing every delivery degrades /health"
    );
    let before_shutdown = lines(&service.log()).len();
    let exit = service.sigterm(Duration::from_secs(15)).await;
    assert!(exit.success());
    let log = lines(&service.log());
    let loud: Vec<&Value> = log
        .iter()
        .filter(|l| l["level"] == "ERROR")
        .chain(
            log[before_shutdown..]
                .iter()
                .filter(|l| l["level"] == "WARN"),
        )
        .collect();
    assert!(
        loud.is_empty(),
        "({degraded} degraded /health answers) no error, and no warning at shutdown: {loud:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l["message"] == "alert-publisher stopped"),
        "{log:#?}"
    );
}
