//! Start-up and shutdown of the real binary: configuration errors name the place; SIGTERM
//! finishes in-flight deliveries.

use std::{process::Command, time::Duration};

use testkit::{Behaviour, WebhookSink};

use crate::support::{Service, binary, fixture_body, write_targets};

fn run_with_targets(yaml: &str, file: &str, subcommand: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, yaml).unwrap();
    let out = Command::new(binary())
        .arg(subcommand)
        .arg("--targets")
        .arg(&path)
        .arg("--store")
        .arg(dir.path().join("s.db"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", testkit::free_port()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (
        out.status.code().unwrap_or(-1),
        stderr.replace(&path.display().to_string(), file),
    )
}

/// `alert-publisher check-config --config <config>`: exit code and stderr.
fn check_config(config: &std::path::Path) -> (Option<i32>, String) {
    let out = Command::new(binary())
        .arg("check-config")
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn invalid_target_files_fail_startup_naming_file_target_and_field() {
    let cases = [
        (
            "name: hook\ntype: webhook\nurl: http://x\nformat: slack\n",
            "bad.yaml",
            "targets file bad.yaml: target \"hook\": field `format`",
        ),
        (
            "- name: ok\n  type: webhook\n  url: http://x\n- name: NotDns\n  type: webhook\n  url: http://x\n",
            "list.yaml",
            "target #2: field `name`",
        ),
        (
            "name: hook\ntype: carrier-pigeon\nurl: http://x\n",
            "type.yaml",
            "field `type`: unknown variant `carrier-pigeon`",
        ),
        (
            "[{\"name\":\"j\",\"type\":\"webhook\",\"url\":\"http://x\",\"options\":{\"timeout\":\"forever\"}}]",
            "t.json",
            "target \"j\": field `options.timeout`",
        ),
        (
            "name: hook\ntype: webhook\nurl: http://x\noptions: {auth: {type: bearer}}\n",
            "auth.yaml",
            "target \"hook\": field `options.auth`",
        ),
        (
            "name: meta\ntype: webhook\nurl: http://169.254.169.254/latest/\n",
            "meta.yaml",
            "target \"meta\": field `url`: address 169.254.169.254 of 169.254.169.254 is not allowed (cloud metadata)",
        ),
        (
            "name: local\ntype: webhook\nurl: http://127.0.0.1:9/\n",
            "local.yaml",
            "target \"local\": field `url`: address 127.0.0.1 of 127.0.0.1 is not allowed (loopback)",
        ),
    ];
    for (yaml, file, expected) in cases {
        for sub in ["serve", "check-config"] {
            let (code, stderr) = run_with_targets(yaml, file, sub);
            assert_eq!(code, 2, "{sub} {file}: {stderr}");
            assert!(
                stderr.contains(expected),
                "{sub} {file}: {expected:?} not in {stderr:?}"
            );
        }
    }
    let (code, stderr) = run_with_targets(
        "name: good\ntype: webhook\nurl: http://x\n",
        "good.yaml",
        "check-config",
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("config ok: 1 target(s)"), "{stderr}");
}

#[test]
fn invalid_config_file_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, "delivery:\n  concurrency: lots\n").unwrap();
    let (code, stderr) = check_config(&path);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("field `delivery.concurrency`"), "{stderr}");
}

#[tokio::test]
async fn sigterm_finishes_in_flight_deliveries_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    sink.set_default(Behaviour::slow(Duration::from_millis(1500), Behaviour::Ok));
    write_targets(
        dir.path(),
        &format!(
            "- name: slow\n  type: webhook\n  url: {}\n",
            sink.url("/hook")
        ),
    );
    let mut service = Service::start(dir.path(), "").await;
    let port = service.port();
    let (status, _) = service
        .post("/webhook", fixture_body("am-webhook-firing.json"))
        .await;
    assert_eq!(status, 200);
    sink.wait_for_requests(1, Duration::from_secs(10)).await;
    let exit = service.sigterm(Duration::from_secs(10)).await;
    assert!(
        exit.success(),
        "clean exit on SIGTERM: {exit}\n{}",
        service.log()
    );
    assert_eq!(
        sink.delivered().len(),
        1,
        "the in-flight delivery finished before exit:\n{}",
        service.log()
    );
    assert!(service.log().contains("delivery engine stopped"));
    // After a restart nothing is sent again: the job was recorded as done.
    let service = Service::start_on(dir.path(), port, "").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(sink.requests().len(), 1);
    let stats = service.get_json("/api/v2/publishing/queue/stats").await;
    assert_eq!(
        (stats["done"].as_u64(), stats["pending"].as_u64()),
        (Some(1), Some(0)),
        "{stats}"
    );
}

#[test]
fn https_only_rejects_http_webhook_urls_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let targets = dir.path().join("targets.yaml");
    std::fs::write(
        &config,
        format!(
            "outbound:\n  https_only: true\ntargets: {}\n",
            targets.display()
        ),
    )
    .unwrap();
    let check = |url: &str| {
        std::fs::write(
            &targets,
            format!("name: plain\ntype: webhook\nurl: {url}\n"),
        )
        .unwrap();
        check_config(&config)
    };
    let (code, stderr) = check("http://hooks.example.com/x");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "target \"plain\": field `url`: http:// URLs are not allowed (outbound.https_only is set)"
        ),
        "{stderr}"
    );
    let (code, stderr) = check("https://hooks.example.com/x");
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn check_config_reports_every_error() {
    let dir = tempfile::tempdir().unwrap();
    let targets = dir.path().join("targets.yaml");
    std::fs::write(
        &targets,
        "- name: ok\n  type: webhook\n  url: http://x\n\
         - name: no-url\n  type: webhook\n\
         - name: hook\n  type: webhook\n  url: http://x\n  options: {timeout: forever}\n\
         - name: pd\n  type: pagerduty\n",
    )
    .unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "targets: {}\nauth:\n  keys:\n    - {{name: k, token: short, role: admin}}\n",
            targets.display()
        ),
    )
    .unwrap();
    let (code, stderr) = check_config(&config);
    assert_eq!(code, Some(2), "{stderr}");
    for expected in [
        "auth.keys",
        "target \"no-url\": field `url`",
        "target \"hook\": field `options.timeout`",
        "target \"pd\": field `options.routing_key`",
    ] {
        assert!(stderr.contains(expected), "{expected} in {stderr}");
    }
    assert!(
        stderr.lines().all(|l| l.starts_with("error: ")),
        "one error a line: {stderr}"
    );

    // The config file's own errors, every section that has one.
    std::fs::write(
        &config,
        "listn: x\ndelivery: {concurrency: lots}\nhttp: {max_connections: -1}\n",
    )
    .unwrap();
    let (code, stderr) = check_config(&config);
    assert_eq!(code, Some(2), "{stderr}");
    for expected in [
        "unknown field `listn`",
        "field `delivery.concurrency`",
        "field `http.max_connections`",
    ] {
        assert!(stderr.contains(expected), "{expected} in {stderr}");
    }
}

/// Writes `bytes` slowly, a chunk every `every`, and reports how long the server kept the
/// connection open (until a read sees it closed), or `None` if it was still open when the
/// chunks ran out.
async fn trickle(port: u16, chunks: &[&str], every: Duration) -> Option<Duration> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let started = std::time::Instant::now();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    for chunk in chunks {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            return Some(started.elapsed());
        }
        if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(every, stream.read(&mut buf)).await {
            return Some(started.elapsed());
        }
    }
    None
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(dir.path(), "http:\n  header_read_timeout: 1s\n").await;
    // One header line every 300 ms: the headers never complete within the deadline.
    let mut lines = vec!["POST /webhook HTTP/1.1\r\n", "Host: x\r\n"];
    lines.extend(std::iter::repeat_n("X-Slow: 1\r\n", 30));
    let closed = trickle(service.port(), &lines, Duration::from_millis(300)).await;
    let closed = closed.expect("a client trickling headers for 9 s was never cut off");
    assert!(closed < Duration::from_secs(3), "cut off after {closed:?}");

    // A kept-alive connection left idle after its response is closed too.
    let closed = trickle(
        service.port(),
        &[
            "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        Duration::from_millis(500),
    )
    .await;
    let closed = closed.expect("an idle kept-alive connection was never closed");
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");

    // A client that sends its headers in time is served.
    let (status, _) = service
        .post("/webhook", fixture_body("am-webhook-firing.json"))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn sigterm_with_a_half_sent_request_exits_within_the_deadline() {
    use tokio::io::AsyncWriteExt as _;
    let dir = tempfile::tempdir().unwrap();
    let mut service = Service::start(
        dir.path(),
        "delivery:\n  shutdown_timeout: 2s\n  poll_interval: 100ms\n",
    )
    .await;
    // Headers complete, body promised but only partly sent; and a request stopped mid-headers.
    let mut body_pending = tokio::net::TcpStream::connect(("127.0.0.1", service.port()))
        .await
        .unwrap();
    body_pending
        .write_all(
            b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"version\":",
        )
        .await
        .unwrap();
    let mut head_pending = tokio::net::TcpStream::connect(("127.0.0.1", service.port()))
        .await
        .unwrap();
    head_pending
        .write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    // `sigterm` fails the test if the process outlives the bound.
    let exit = service.sigterm(Duration::from_secs(6)).await;
    assert!(exit.success(), "{exit}\n{}", service.log());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "exited after {:?}",
        started.elapsed()
    );
    drop((body_pending, head_pending));
}
