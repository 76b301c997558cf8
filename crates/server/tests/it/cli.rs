//! The client subcommands against a running service: tables and JSON, paging, `dlq show`,
//! `dlq purge`, exit codes (0 success, 1 failed, 2 usage) and which options each help lists.

use std::{
    collections::BTreeSet,
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};
use testkit::{Behaviour, WebhookSink};

use crate::support::{Service, binary, fixture_body, write_targets};

/// What a run of the binary left behind.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Standard output as JSON (panics unless it is).
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// Runs the binary with `args` (standard input closed: not a terminal).
fn run_args(args: &[&str]) -> Run {
    let out = Command::new(binary())
        .args(args)
        .stdin(Stdio::null())
        .env_remove("ALERT_PUBLISHER_TOKEN")
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a client command against `service`.
fn run(service: &Service, args: &[&str]) -> Run {
    let url = service.url("");
    let mut args = args.to_vec();
    args.extend(["--url", &url]);
    run_args(&args)
}

/// Runs a client command that must succeed.
fn ok(service: &Service, args: &[&str]) -> Run {
    let out = run(service, args);
    assert_eq!(out.code, Some(0), "{args:?}: {out:?}");
    out
}

/// The cells of a table the client printed, cut at the offsets where the header's columns
/// start. Panics unless every row has a cell starting exactly there (a space before it, a
/// character at it) and no cell but the last holds a space.
fn cells(table: &str) -> Vec<Vec<String>> {
    let header = table.lines().next().expect("a header line");
    let starts: Vec<usize> = (0..header.len())
        .filter(|&i| header.as_bytes()[i] != b' ' && (i == 0 || header.as_bytes()[i - 1] == b' '))
        .collect();
    table
        .lines()
        .map(|line| {
            let bytes = line.as_bytes();
            for &s in &starts[1..] {
                assert!(
                    bytes.len() > s && bytes[s - 1] == b' ' && bytes[s] != b' ',
                    "no column starts at {s} in {line:?}:\n{table}"
                );
            }
            starts
                .iter()
                .enumerate()
                .map(|(n, &s)| {
                    let cell = line[s..starts.get(n + 1).copied().unwrap_or(line.len())].trim_end();
                    assert!(
                        n + 1 == starts.len() || !cell.contains(' '),
                        "cell {cell:?} runs into the next column in {line:?}:\n{table}"
                    );
                    cell.to_owned()
                })
                .collect()
        })
        .collect()
}

/// An Alertmanager notification of `n` firing alerts named `name`.
fn notification(name: &str, n: usize) -> Vec<u8> {
    let alerts: Vec<Value> = (0..n)
        .map(|i| {
            json!({"status": "firing", "labels": {"alertname": name, "n": i.to_string()},
                   "annotations": {}, "startsAt": "2026-11-23T10:00:00Z",
                   "endsAt": "0001-01-01T00:00:00Z", "generatorURL": ""})
        })
        .collect();
    serde_json::to_vec(&json!({"version": "4", "status": "firing", "receiver": "r",
        "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"), "groupLabels": {"alertname": name},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": "", "truncatedAlerts": 0,
        "alerts": alerts}))
    .unwrap()
}

/// A service with targets `a` and `long-target-name` that both refuse everything with a 400,
/// and `per_target` dead letters at each.
async fn dead_letters(dir: &std::path::Path, sink: &WebhookSink, per_target: usize) -> Service {
    sink.set_default(Behaviour::Respond {
        status: 400,
        headers: vec![],
        body: "bad payload".into(),
    });
    write_targets(
        dir,
        &format!(
            "- name: a\n  type: webhook\n  url: {}\n- name: long-target-name\n  type: webhook\n  url: {}\n",
            sink.url("/a"),
            sink.url("/long")
        ),
    );
    let service = Service::start(dir, "").await;
    let (status, body) = service
        .post("/webhook", notification("DiskFull", per_target))
        .await;
    assert_eq!(status, 200, "{body}");
    service
        .wait_json(
            "/api/v2/publishing/queue/stats",
            Duration::from_secs(30),
            |s| s["dead"] == 2 * per_target,
        )
        .await;
    service
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
    let out = ok(&service, &["targets", "list"]);
    let listed = ok(&service, &["targets", "list", "-o", "json"]).json();
    let target = &listed["targets"][0];
    assert_eq!(
        cells(&out.stdout),
        [
            ["NAME", "TYPE", "ENABLED", "HEALTH", "CIRCUIT", "URL"],
            [
                "cli-hook",
                "webhook",
                "true",
                target["health"].as_str().unwrap(),
                target["circuit_breaker"].as_str().unwrap(),
                &sink.url("/h")
            ]
        ],
        "{out:?}"
    );
    assert!(!out.stdout.contains("cli-secret"));
    assert_eq!(listed["total"], 1, "{listed}");

    service
        .post("/webhook", fixture_body("am-webhook-firing.json"))
        .await;
    service
        .wait_json("/api/v2/publishing/dlq", Duration::from_secs(10), |d| {
            d["count"] == 1
        })
        .await;
    let out = ok(&service, &["dlq", "list"]);
    let rows = cells(&out.stdout);
    assert_eq!(rows.len(), 2, "{out:?}");
    let row = &rows[1];
    assert_eq!(
        (&row[2], &row[3], &row[6], &row[8]),
        (
            &"cli-hook".to_owned(),
            &"HighErrorRate".to_owned(),
            &"invalid".to_owned(),
            &"HTTP 400: bad payload".to_owned()
        ),
        "{out:?}"
    );
    let id = row[0].clone();

    sink.set_default(Behaviour::Ok);
    let out = ok(&service, &["dlq", "replay", &id]);
    assert_eq!(out.stdout.trim(), "replayed 1");
    sink.wait_for_delivered(1, Duration::from_secs(10)).await;
    let out = run(&service, &["dlq", "replay", &id]);
    assert_eq!(out.code, Some(1), "a second replay is refused: {out:?}");
    assert_eq!(
        out.stderr,
        format!(
            "error: POST /api/v2/publishing/dlq/{id}/replay: 404 Not Found: \
             dead letter {id}: no dead letter with this id that was not replayed already\n"
        ),
        "one line, no JSON: {out:?}"
    );
    let listed = ok(&service, &["dlq", "list", "--replayed", "true"]);
    let rows = cells(&listed.stdout);
    let replayed = ok(&service, &["dlq", "list", "-o", "json"]).json();
    assert_eq!(
        rows[1][7],
        format!("#{}", replayed["jobs"][0]["replayed_as"]),
        "{listed:?}"
    );
    let out = ok(&service, &["dlq", "list", "--replayed", "false"]);
    assert_eq!(cells(&out.stdout).len(), 1, "{out:?}");
}

/// Every dead letter is listed, past the API's page of 100, in columns that line up; the
/// table holds what the JSON says; `--limit` cuts the list and says so on standard error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_list_pages_past_100_in_aligned_columns() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    let service = dead_letters(dir.path(), &sink, 65).await;

    let json = ok(&service, &["dlq", "list", "-o", "json"]);
    assert!(json.stdout.ends_with("}\n") && json.stdout.contains("\n  \"jobs\": ["));
    let json = json.json();
    let jobs = json["jobs"].as_array().unwrap();
    assert_eq!((jobs.len(), json["count"].as_u64()), (130, Some(130)));

    let table = ok(&service, &["dlq", "list"]);
    assert!(table.stderr.is_empty(), "{table:?}");
    let rows = cells(&table.stdout);
    assert_eq!(
        rows[0],
        [
            "ID", "DIED", "TARGET", "ALERT", "STATUS", "ATTEMPTS", "KIND", "REPLAYED", "ERROR"
        ]
    );
    assert_eq!(rows.len(), 131, "{table:?}");
    for (row, job) in rows[1..].iter().zip(jobs) {
        let died = chrono::DateTime::parse_from_rfc3339(&row[1])
            .unwrap_or_else(|e| panic!("{row:?}: {e}"));
        let updated =
            chrono::DateTime::parse_from_rfc3339(job["updated_at"].as_str().unwrap()).unwrap();
        assert!(
            (updated - died).num_milliseconds().abs() < 1000,
            "{row:?} {job}"
        );
        assert_eq!(
            row.iter().map(String::as_str).collect::<Vec<_>>(),
            [
                &job["id"].to_string(),
                &row[1],
                job["target"].as_str().unwrap(),
                "DiskFull",
                "firing",
                "1",
                "invalid",
                "-",
                "HTTP 400: bad payload",
            ],
        );
    }
    let ids =
        |rows: &[Vec<String>]| -> Vec<String> { rows[1..].iter().map(|r| r[0].clone()).collect() };
    let all = ids(&rows);
    assert_eq!(
        all.iter().collect::<BTreeSet<_>>().len(),
        130,
        "no id twice"
    );

    // Small pages: the same list.
    let paged = ok(&service, &["dlq", "list", "--page-size", "7"]);
    assert_eq!(ids(&cells(&paged.stdout)), all);

    // A limit: the newest 50 and a note that more exist.
    let cut = ok(
        &service,
        &["dlq", "list", "--limit", "50", "--page-size", "20"],
    );
    assert_eq!(ids(&cells(&cut.stdout)), all[..50]);
    assert_eq!(
        cut.stderr,
        "showing the first 50 dead letters; more exist (raise --limit, or leave it out to list every one)\n"
    );
    let cut = ok(&service, &["dlq", "list", "--limit", "50", "-o", "json"]);
    assert_eq!(cut.json()["count"], 50);
    assert!(!cut.stderr.is_empty());
    let whole = ok(&service, &["dlq", "list", "--limit", "130"]);
    assert!(whole.stderr.is_empty(), "nothing more: {whole:?}");

    // Filters.
    let a = ok(&service, &["dlq", "list", "--target", "a"]);
    let rows = cells(&a.stdout);
    assert_eq!(rows.len(), 66, "{a:?}");
    assert!(rows[1..].iter().all(|r| r[2] == "a"), "{a:?}");
    let none = ok(
        &service,
        &["dlq", "list", "--error-kind", "auth", "--since", "1h"],
    );
    assert_eq!(cells(&none.stdout).len(), 1, "{none:?}");
    let future = ok(
        &service,
        &[
            "dlq",
            "list",
            "--since",
            "2999-01-01T00:00:00Z",
            "-o",
            "json",
        ],
    );
    assert_eq!(future.json()["count"], 0);
}

/// `dlq show` prints one dead letter with its attempts; `dlq purge` asks first, refuses
/// without `--yes` when nothing can answer, and deletes what its filters select.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_show_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    let service = dead_letters(dir.path(), &sink, 3).await;
    let jobs = ok(&service, &["dlq", "list", "-o", "json"]).json();
    let id = jobs["jobs"][0]["id"].to_string();

    let shown = ok(&service, &["dlq", "show", &id]);
    let (fields, attempts) = shown.stdout.split_once("\n\n").expect("two parts");
    let offsets: BTreeSet<usize> = fields
        .lines()
        .map(|l| {
            l.find(':').unwrap() + 1 + l[l.find(':').unwrap() + 1..].find(|c| c != ' ').unwrap()
        })
        .collect();
    assert_eq!(offsets.len(), 1, "values line up: {shown:?}");
    for label in ["ID:", "Target:", "Alert:", "Error kind:", "Last error:"] {
        assert!(fields.contains(label), "{label}: {shown:?}");
    }
    assert!(
        fields.contains("DiskFull") && fields.contains("HTTP 400: bad payload"),
        "{shown:?}"
    );
    assert!(
        fields
            .lines()
            .any(|l| l.starts_with("Replayed:") && l.ends_with(" no")),
        "{shown:?}"
    );
    let rows = cells(attempts);
    assert_eq!(
        rows[0],
        [
            "ATTEMPT", "AT", "OUTCOME", "STATUS", "LATENCY", "KIND", "ERROR"
        ]
    );
    assert_eq!(rows.len(), 2, "{shown:?}");
    assert_eq!(
        (
            &rows[1][0][..],
            &rows[1][2][..],
            &rows[1][3][..],
            &rows[1][6][..]
        ),
        ("1", "dead", "400", "HTTP 400: bad payload")
    );
    let json = ok(&service, &["dlq", "show", &id, "-o", "json"]).json();
    assert_eq!(json["id"].to_string(), id);
    assert_eq!(json["history"].as_array().map(Vec::len), Some(1), "{json}");

    let missing = run(&service, &["dlq", "show", "999999"]);
    assert_eq!(missing.code, Some(1), "{missing:?}");
    assert_eq!(
        missing.stderr,
        "error: GET /api/v2/publishing/dlq/999999: 404 Not Found: no dead letter 999999\n"
    );
    assert!(missing.stdout.is_empty());

    // Without --yes and without a terminal: refused, nothing deleted.
    let refused = run(&service, &["dlq", "purge", "--target", "a"]);
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert_eq!(
        refused.stderr,
        "error: refusing to purge without --yes: standard input is not a terminal to confirm on\n"
    );
    let stats = service.get_json("/api/v2/publishing/queue/stats").await;
    assert_eq!(stats["dead"], 6, "{stats}");

    let purged = ok(
        &service,
        &[
            "dlq",
            "purge",
            "--target",
            "a",
            "--older-than",
            "0s",
            "--yes",
        ],
    );
    assert_eq!(purged.stdout, "purged 3 dead letter(s)\n");
    let rest = ok(&service, &["dlq", "list"]);
    let rows = cells(&rest.stdout);
    assert_eq!(rows.len(), 4, "{rest:?}");
    assert!(
        rows[1..].iter().all(|r| r[2] == "long-target-name"),
        "{rest:?}"
    );
    // Nothing is older than a day yet.
    let young = ok(
        &service,
        &["dlq", "purge", "--older-than", "1d", "-y", "-o", "json"],
    );
    assert_eq!(young.json(), json!({"purged": 0}));
    let all = ok(&service, &["dlq", "purge", "-y", "-o", "json"]);
    assert_eq!(all.json(), json!({"purged": 3}));
    let stats = service.get_json("/api/v2/publishing/queue/stats").await;
    assert_eq!(stats["dead"], 0, "{stats}");
}

/// Arguments that cannot go together, or values that cannot be right, are clap errors (exit
/// 2) before anything is sent.
#[test]
fn conflicting_or_wrong_arguments_are_usage_errors() {
    for args in [
        &["dlq", "replay", "7", "--target", "t"][..],
        &["dlq", "replay", "7", "--error-kind", "auth"],
        &["dlq", "replay"],
        &["dlq", "list", "--error-kind", "bogus"],
        &["dlq", "list", "--priority", "urgent"],
        &["dlq", "list", "--since", "yesterday"],
        &["dlq", "list", "--limit", "0"],
        &["dlq", "list", "--page-size", "1001"],
        &["dlq", "list", "--replayed", "maybe"],
        &["dlq", "purge", "--older-than", "soon", "-y"],
        &["dlq", "list", "-o", "yaml"],
        &["--listen", "127.0.0.1:1", "dlq", "list"],
        &["dlq", "list", "--store", "x.db"],
        &["serve", "--url", "http://127.0.0.1:1"],
    ] {
        let out = run_args(&[args, &["--url", "http://127.0.0.1:1"]].concat());
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert!(out.stderr.starts_with("error: "), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
    let out = run_args(&["dlq", "replay", "7", "--target", "t"]);
    assert!(out.stderr.contains("cannot be used with"), "{out:?}");
    // Nothing listens there: the operation fails (1) in one line.
    let out = run_args(&["dlq", "list", "--url", "http://127.0.0.1:1"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .starts_with("error: cannot reach http://127.0.0.1:1")
            && out.stderr.lines().count() == 1,
        "{out:?}"
    );
}

/// Each help lists its own options: the service's under `serve` (and the top level, which
/// runs it), the client's (`--url`, `--token`, `--output`) under the client commands.
#[test]
fn each_help_lists_only_its_own_options() {
    const SERVE: [&str; 7] = [
        "--config",
        "--listen",
        "--targets <",
        "--store",
        "--api-keys-file",
        "--log-format",
        "--log-level",
    ];
    const CLIENT: [&str; 3] = ["--url", "--token", "--output"];
    let help = |args: &[&str]| {
        let out = run_args(&[args, &["--help"]].concat());
        assert_eq!(out.code, Some(0), "{args:?}: {out:?}");
        out.stdout
    };
    for args in [
        &["dlq"][..],
        &["dlq", "list"],
        &["dlq", "show"],
        &["dlq", "replay"],
        &["dlq", "purge"],
        &["targets"],
        &["targets", "list"],
        &["targets", "test"],
        &["alerts"],
        &["alerts", "ack"],
    ] {
        let text = help(args);
        for option in SERVE {
            assert!(!text.contains(option), "{args:?} lists {option}:\n{text}");
        }
        for option in CLIENT {
            assert!(text.contains(option), "{args:?} lacks {option}:\n{text}");
        }
    }
    for args in [&["serve"][..], &["check-config"], &[]] {
        let text = help(args);
        for option in SERVE {
            assert!(text.contains(option), "{args:?} lacks {option}:\n{text}");
        }
        for option in CLIENT {
            assert!(!text.contains(option), "{args:?} lists {option}:\n{text}");
        }
    }
    let text = help(&["dlq", "purge"]);
    for option in ["--target", "--error-kind", "--older-than", "--yes"] {
        assert!(text.contains(option), "{text}");
    }
}

/// `targets test` says in one line what happened and exits 1 when the target did not take the
/// test alert, 0 when it did; `-o json` prints the API's answer either way. (Two runtime
/// threads: the sinks answer while the command blocks one.)
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
    let out = ok(&service, &["targets", "test", "good"]);
    assert!(
        out.stdout.starts_with("good: delivered (HTTP 200) in ") && out.stdout.ends_with(" ms\n"),
        "{out:?}"
    );
    let out = run(&service, &["targets", "test", "bad"]);
    assert_eq!(
        out.code,
        Some(1),
        "a failed test delivery must fail the command: {out:?}"
    );
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(
        out.stderr
            .contains("bad: the test delivery failed (HTTP 400")
            && out.stderr.contains("schema mismatch")
            && out.stderr.contains("would not retry"),
        "{out:?}"
    );

    let out = ok(&service, &["targets", "test", "good", "-o", "json"]);
    assert_eq!(out.json()["success"], true, "{out:?}");
    let out = run(&service, &["targets", "-o", "json", "test", "bad"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    let v = out.json();
    assert_eq!(
        (v["success"].as_bool(), v["status_code"].as_u64()),
        (Some(false), Some(400)),
        "{v}"
    );
    assert!(out.stderr.contains("schema mismatch"), "{out:?}");
    assert_eq!(good.requests().len(), 2);
    assert_eq!(bad.requests().len(), 2);
}
