//! `ap-screenshots`: the pictures of the web console behind `cargo xtask screenshots`. Starts
//! the demo (the service with simulated targets, one of them failing, and the sample alerts),
//! lets the trend history gather a minute of samples while more alerts arrive, then opens each
//! page of the console in a real headless Chromium and writes PNGs: every page at laptop width
//! in light mode, the overview in dark mode and the dead letters at a phone's width.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use serde_json::json;
use testkit::{Browser, Demo, DemoOptions};

const USAGE: &str = "usage: ap-screenshots [--binary PATH] [--out DIR] [--warmup SECONDS]";

#[tokio::main]
async fn main() -> ExitCode {
    let mut opts = DemoOptions {
        binary: PathBuf::from("target/debug/alert-publisher"),
        examples: DemoOptions::default_examples(),
        alertmanager: false,
    };
    let mut out = PathBuf::from("docs/screenshots");
    let mut warmup = 60u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--binary", Some(v)) => opts.binary = PathBuf::from(v),
            ("--out", Some(v)) => out = PathBuf::from(v),
            ("--warmup", Some(v)) if v.parse::<u64>().is_ok() => warmup = v.parse().unwrap_or(60),
            _ => {
                eprintln!("ap-screenshots: bad arguments\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    match run(opts, &out, warmup).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ap-screenshots: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(opts: DemoOptions, out: &std::path::Path, warmup: u64) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("create {}: {e}", out.display()))?;
    eprintln!("ap-screenshots: starting the demo…");
    let demo = Demo::start(opts).await?;
    // More alerts over the warm-up, so the charts have a shape: a burst every few seconds,
    // the failing target slowing down for a while.
    eprintln!("ap-screenshots: {warmup} s of traffic for the trend charts…");
    let client = reqwest::Client::new();
    let rounds = warmup.div_ceil(4);
    for round in 0..rounds {
        let n = 1 + (round * 7 % 5);
        for i in 0..n {
            let name = ["DiskFull", "HighLatency", "ErrorBudgetBurn", "NodeDown"][(i % 4) as usize];
            let body = json!({
                "version": "4", "status": "firing", "receiver": "team-db",
                "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
                "groupLabels": {"alertname": name}, "commonLabels": {}, "commonAnnotations": {},
                "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
                "alerts": [{"status": "firing",
                            "labels": {"alertname": name, "severity": if i % 2 == 0 { "critical" } else { "warning" },
                                       "instance": format!("db-{round}-{i}"), "service": "postgres"},
                            "annotations": {"summary": format!("{name} on db-{round}-{i}")},
                            "startsAt": chrono::Utc::now().to_rfc3339(), "endsAt": "0001-01-01T00:00:00Z",
                            "generatorURL": ""}]
            });
            client
                .post(demo.url("/webhook"))
                .json(&body)
                .send()
                .await
                .map_err(|e| format!("post an alert: {e}"))?;
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    let browser = Browser::launch().await;
    let page = browser.new_page().await;
    let shots: [(&str, &str, u32, u32, bool, &str); 6] = [
        (
            "overview",
            "overview",
            1280,
            900,
            false,
            "[data-chart=queue-size]",
        ),
        ("targets", "targets", 1280, 900, false, "[data-target]"),
        ("alerts", "alerts", 1280, 900, false, "#alert-results"),
        ("dlq", "dlq", 1280, 900, false, "#dlq-list table"),
        (
            "overview-dark",
            "overview",
            1280,
            900,
            true,
            "[data-chart=queue-size]",
        ),
        ("dlq-phone", "dlq", 375, 740, false, "#dlq-list table"),
    ];
    for (file, route, width, height, dark, ready) in shots {
        page.viewport(width, height, width < 600).await;
        page.dark(dark).await;
        page.goto("about:blank").await;
        page.goto(&demo.url(&format!("/ui/#/{route}"))).await;
        page.wait_for(
            &format!("!!document.querySelector({})", json!(ready)),
            Duration::from_secs(20),
        )
        .await;
        // Let the charts and lists settle.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let path = out.join(format!("{file}.png"));
        page.screenshot(&path).await;
        eprintln!("ap-screenshots: wrote {}", path.display());
    }
    let errors = page.errors();
    if !errors.is_empty() {
        return Err(format!("javascript errors on the pages: {errors:#?}"));
    }
    Ok(())
}
