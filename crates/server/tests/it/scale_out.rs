//! Two `alert-publisher` processes sharing one PostgreSQL database: every alert of a
//! 2,000-alert burst is delivered, none twice while both run, and killing one midway still
//! ends with every alert delivered (its leased jobs are taken over after the lease).

use std::{
    collections::{BTreeSet, HashMap},
    time::{Duration, Instant},
};

use serde_json::json;
use testkit::{Postgres, WebhookSink};

use crate::support::{Service, write_targets};

const ALERTS: usize = 2000;
const PER_NOTIFICATION: usize = 100;

fn notification(batch: usize) -> Vec<u8> {
    let alerts: Vec<_> = (0..PER_NOTIFICATION)
        .map(|j| {
            let n = batch * PER_NOTIFICATION + j;
            json!({"status": "firing", "labels": {"alertname": "Burst", "n": n.to_string()}, "annotations": {},
                   "startsAt": "2026-11-23T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
                   "fingerprint": format!("{n:016x}")})
        })
        .collect();
    serde_json::to_vec(&json!({"version": "4", "status": "firing", "receiver": "r", "groupKey": "burst",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "", "truncatedAlerts": 0,
        "alerts": alerts}))
    .unwrap()
}

fn fingerprint(r: &testkit::Recorded) -> String {
    r.json()["alerts"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_the_work_and_survive_one_being_killed() {
    let pg = Postgres::start().await;
    let url = pg.create_database("scale_out");
    let sink = WebhookSink::start().await;
    let config = format!(
        "store: {url}\ndelivery:\n  poll_interval: 100ms\n  lease: 3s\n  concurrency: 16\n  circuit_breaker:\n    enabled: false\n"
    );
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&dir_a, &dir_b] {
        write_targets(
            dir.path(),
            &format!(
                "- name: sink\n  type: webhook\n  url: {}\n",
                sink.url("/burst")
            ),
        );
    }
    let mut a = Service::start(dir_a.path(), &config).await;
    let b = Service::start(dir_b.path(), &config).await;

    for batch in 0..ALERTS / PER_NOTIFICATION {
        let service = if batch % 2 == 0 { &a } else { &b };
        let (status, body) = service.post("/webhook", notification(batch)).await;
        assert_eq!(status, 200, "{body}");
    }
    // Let both work for a while, then kill A in the middle of the burst.
    let started = Instant::now();
    while sink.delivered().len() < ALERTS / 3 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no progress: {} delivered",
            sink.delivered().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before_kill = sink.requests();
    a.sigkill();
    let killed_at = Instant::now();

    // While both ran, nothing was delivered twice.
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in &before_kill {
        *counts.entry(fingerprint(r)).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "delivered twice while both replicas ran: {twice:?}"
    );
    let a_delivered = a.log().matches("delivered").count();
    let b_delivered = b.log().matches("delivered").count();
    assert!(
        a_delivered > 0 && b_delivered > 0,
        "both replicas took part ({a_delivered} / {b_delivered})"
    );

    // B finishes everything, including what A had leased when it died (A's repeats count
    // towards the total, so wait for every alert rather than for a number of requests).
    let deadline = Instant::now() + Duration::from_secs(120);
    let all = loop {
        let all = sink.delivered();
        let distinct: BTreeSet<String> = all.iter().map(fingerprint).collect();
        if distinct.len() == ALERTS || Instant::now() > deadline {
            break all;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let distinct: BTreeSet<String> = all.iter().map(fingerprint).collect();
    let expected: BTreeSet<String> = (0..ALERTS).map(|n| format!("{n:016x}")).collect();
    assert_eq!(
        distinct.len(),
        ALERTS,
        "{} missing",
        ALERTS - distinct.len()
    );
    assert_eq!(distinct, expected);
    let duplicates = all.len() - distinct.len();
    assert!(
        duplicates <= 3 * 16,
        "only what A had in flight (its concurrency of 16) or answered but not yet written (twice \
         that) may be delivered twice, got {duplicates}"
    );
    // B counts its own changes at once and A's when it recounts (its counts are at most 5 s
    // old): the counts settle at every alert delivered once.
    let stats = b
        .wait_json(
            "/api/v2/publishing/queue/stats",
            Duration::from_secs(30),
            |s| s["pending"] == 0 && s["in_flight"] == 0 && s["done"] == ALERTS,
        )
        .await;
    assert_eq!(stats["done"], ALERTS, "{stats}");
    assert!(killed_at.elapsed() < Duration::from_secs(120));
    drop(pg);
}
