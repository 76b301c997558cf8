//! The newcomer's tour (`cargo xtask demo`, the `ap-demo` binary) against the real binary:
//! every simulated endpoint receives something, and every URL and command it prints works.

use std::process::Command;

use testkit::{Demo, DemoOptions};

use crate::support::binary;

// Two runtime threads: the simulated targets answer while a printed command blocks one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_reaches_every_target_and_what_it_prints_works() {
    let demo = Demo::start(DemoOptions {
        binary: binary().into(),
        examples: DemoOptions::default_examples(),
        alertmanager: true,
    })
    .await
    .unwrap_or_else(|e| panic!("demo: {e}"));
    let report = demo.report().await.unwrap();

    assert!(!demo.pagerduty.requests().is_empty(), "{report}");
    assert!(!demo.slack.calls().is_empty(), "{report}");
    assert!(!demo.rootly.requests().is_empty(), "{report}");
    assert!(demo.webhook.delivered_count() >= 4, "{report}");
    assert!(!demo.broken.requests().is_empty(), "{report}");
    assert!(report.contains("dead letter(s)"), "{report}");
    assert!(report.contains("RESOLVED · HighErrorRate"), "{report}");

    let base = demo.url("");
    let urls: Vec<&str> = report
        .split_whitespace()
        .filter(|w| w.starts_with(&format!("{base}/")) && !w.ends_with("/webhook"))
        .filter(|w| !w.ends_with("/replay"))
        .collect();
    assert!(urls.len() >= 11, "{report}");
    let client = reqwest::Client::new();
    for url in &urls {
        let resp = client.get(*url).send().await.unwrap();
        let status = resp.status().as_u16();
        // The health summary answers 503 while a target (the failing one) is unhealthy.
        let ok = status == 200 || (status == 503 && url.ends_with("/publishing/health"));
        assert!(ok, "GET {url}: {status}\n{report}");
    }

    let commands: Vec<Vec<&str>> = report
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(binary()))
        .map(|l| l.split_whitespace().skip(1).collect())
        .collect();
    assert_eq!(commands.len(), 5, "{report}");
    for args in commands {
        let out = Command::new(binary()).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
