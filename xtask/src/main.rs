//! Project automation (matklad's xtask pattern). `cargo xtask ci` runs everything CI checks;
//! if it passes locally, CI passes.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

mod deploy;
mod one_build;
mod screenshots;
mod tidy;
mod walls;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci      everything CI checks: tools present, fmt, dependency walls, clippy (deny warnings),
          all tests (unit, integration, end-to-end with a real Alertmanager), repository rules,
          schemathesis, one release build for every command (`one-build`)
  e2e     only the end-to-end tests of the service
  one-build
          after `cargo build --release --workspace`, the README's run command and the
          release builds of `demo` and `bench` compile nothing, and each binary's `--help`
          only prints help; part of `ci`
  demo    a newcomer's tour (release build): the service with simulated PagerDuty, Slack, Rootly and webhook
          targets, sample alerts (through Alertmanager if installed), what each target received
          and where to look next; runs until Ctrl-C, `--once` exits after printing
  openapi rewrite docs/openapi.json and the endpoint table of docs/api.md from the code
  schemathesis
          fuzz a running debug build against its OpenAPI document (schemathesis, installed
          into a venv under the target directory); part of `ci`
  bench   the load harness (release build): throughput vs Alertmanager, latency, stats API,
          memory, storm, parallel publishing, priority; `--quick` runs small sizes (under a
          minute); `--only parallel,...` some of them; table in target/bench/;
          `--only history`: the alert history's queries at 1,000,000 jobs and its write
          cost, SQLite and PostgreSQL (target/bench/history.md);
          `--repeat N` runs the paired comparison with Alertmanager N times and reports the
          median and range of each ratio (target/bench/repeat.md)
  chaos   the resilience suite (SIGKILL storms, flapping target, PostgreSQL restart, disk
          full / read-only store, damaged store) with more kill trials: `--trials N`
          (default 100), `--seed S`; `cargo xtask ci` runs it with 20 trials
  fuzz    every fuzz target for `--time SECONDS` each (default 60); installs cargo-fuzz if
          missing, builds on stable with RUSTC_BOOTSTRAP=1; fails on a crash and names the
          reproducer (fuzz/artifacts/<target>/)
  screenshots
          pictures of the web console (docs/screenshots/*.png) in a real headless Chromium
          from the demo setup: every page light, the overview dark, dead letters at phone
          width; debug build (`--release` for the release one), `--warmup SECONDS` of traffic
          first (default 60)
  help    this text";

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    std::env::set_current_dir(&root).with_context(|| format!("cd {}", root.display()))?;
    match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("e2e") => e2e(),
        Some("one-build") => one_build::one_build(),
        Some("openapi") => openapi(),
        Some("schemathesis") => schemathesis(),
        Some("bench") => bench(&args[1..]),
        Some("demo") => demo(&args[1..]),
        Some("chaos") => chaos(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("screenshots") => screenshots::screenshots(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            eprintln!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn step(name: &str, cmd: &mut Command) -> anyhow::Result<()> {
    let started = Instant::now();
    let shown: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    eprintln!("==> {name}: {}", shown.join(" "));
    let status = cmd
        .status()
        .with_context(|| format!("{name}: cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    eprintln!("==> {name}: ok in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Cargo, with the environment of a shell: without the variables `cargo run` sets for the
/// package it runs (xtask's `CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`, …). Build scripts watch
/// some of them (`ring`'s `rerun-if-env-changed=CARGO_PKG_NAME`), so a build started from
/// xtask with them would not reuse one started from a shell, and the other way round.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_run) {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// Whether `name` is a variable `cargo run` sets for the package it runs.
fn set_by_cargo_run(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "OUT_DIR"
        )
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_default()
}

/// Installs what the tests need and the machine lacks (`xtask/setup-test-tools.sh`, which does
/// nothing when everything is there); then the real components the tests need must be
/// installed: a missing one is a failure.
fn check_tools() -> anyhow::Result<()> {
    step(
        "set-up",
        Command::new("bash").arg("xtask/setup-test-tools.sh"),
    )?;
    let alertmanager = std::env::var_os("ALERTMANAGER_BIN")
        .map(PathBuf::from)
        .or_else(|| which("prometheus-alertmanager"))
        .or_else(|| which("alertmanager"));
    if alertmanager.is_none() {
        bail!(
            "Alertmanager not found: the end-to-end tests run a real one.\n\
             Install it with `apt-get install -y --no-install-recommends prometheus-alertmanager`, \
             or set ALERTMANAGER_BIN."
        );
    }
    Ok(())
}

fn ci() -> anyhow::Result<()> {
    let started = Instant::now();
    check_tools()?;
    step("rustfmt", cargo().args(["fmt", "--all", "--check"]))?;
    // Also a test (`tidy`), which `cargo test --workspace` runs; checked here first because it
    // takes no build.
    let broken = walls::walls(Path::new("."));
    if !broken.is_empty() {
        bail!("dependency walls broken:\n  {}", broken.join("\n  "));
    }
    eprintln!("==> dependency walls: ok");
    step(
        "clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    step(
        "tests",
        cargo()
            .args(["test", "--workspace", "--locked"])
            .env("CI", "true"),
    )?;
    schemathesis()?;
    one_build::one_build()?;
    eprintln!(
        "==> ci: all checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn bench(args: &[String]) -> anyhow::Result<()> {
    check_tools()?;
    // The notification history at 1,000,000 jobs is a bench of the store alone (no service):
    // `--only history [--jobs N] [--runs N]`, report in target/bench/history.md.
    if let Some(i) = args.iter().position(|a| a == "--only")
        && args.get(i + 1).map(String::as_str) == Some("history")
    {
        let rest: Vec<&String> = args
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i && *j != i + 1)
            .map(|(_, a)| a)
            .collect();
        return step(
            "history bench",
            cargo()
                .args(["bench", "-p", "queue", "--bench", "history", "--"])
                .args(rest),
        );
    }
    let (repeat, args) = repeat_of(args)?;
    let bin = build_service_and("ap-bench")?;
    let harness = |out: PathBuf, args: &[String]| {
        let mut cmd = Command::new(bin.join("ap-bench"));
        cmd.arg("--binary")
            .arg(bin.join("alert-publisher"))
            .arg("--out")
            .arg(out)
            .args(args);
        cmd
    };
    let Some(repeat) = repeat else {
        return step(
            "load harness",
            &mut harness(target_dir().join("bench"), &args),
        );
    };
    // The paired comparison, `repeat` times: ours and Alertmanager in each run, so each
    // ratio compares one moment of a noisy machine.
    let mut args = args;
    if !args.iter().any(|a| a == "--only") {
        args.extend([
            "--only".to_owned(),
            "sqlite,alertmanager,postgres".to_owned(),
        ]);
    }
    let mut runs = Vec::new();
    for i in 1..=repeat {
        let out = target_dir().join("bench").join(format!("run-{i}"));
        step(
            &format!("load harness, run {i} of {repeat}"),
            &mut harness(out.clone(), &args),
        )?;
        let report = ["full.md", "quick.md"]
            .iter()
            .find_map(|f| std::fs::read_to_string(out.join(f)).ok())
            .context("the harness wrote no report")?;
        runs.push(PairedRun::parse(&report));
    }
    let summary = PairedRun::summary(&runs);
    eprintln!("{summary}");
    let path = target_dir().join("bench").join("repeat.md");
    std::fs::write(&path, &summary)?;
    eprintln!("written to {}", path.display());
    Ok(())
}

/// `--repeat N` taken out of the harness's arguments.
fn repeat_of(args: &[String]) -> anyhow::Result<(Option<usize>, Vec<String>)> {
    let mut rest = Vec::new();
    let mut repeat = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--repeat" {
            let n = it.next().context("--repeat needs a number")?;
            let n: usize = n.parse().ok().filter(|n| *n >= 1).with_context(|| {
                format!("--repeat takes a number of runs, at least 1 (got {n:?})")
            })?;
            repeat = Some(n);
        } else {
            rest.push(a.clone());
        }
    }
    Ok((repeat, rest))
}

/// What one run of the paired comparison measured.
#[derive(Debug, Default, PartialEq)]
struct PairedRun {
    /// Ours (SQLite) over Alertmanager, notifications per second.
    ratio: Option<f64>,
    /// Our service's CPU seconds over Alertmanager's, for the same notifications.
    cpu_ratio: Option<f64>,
    /// Ours on PostgreSQL over Alertmanager.
    postgres_ratio: Option<f64>,
}

impl PairedRun {
    /// Reads the harness's report table.
    fn parse(report: &str) -> Self {
        let cell = |prefix: &str| {
            report
                .lines()
                .find(|l| l.starts_with(prefix))
                .and_then(|l| l.split('|').nth(2))
                .map(str::trim)
        };
        let number_before = |text: &str, unit: &str| -> Option<f64> {
            let at = text.find(unit)?;
            text[..at].split_whitespace().last()?.parse().ok()
        };
        let number_after = |text: &str, label: &str| -> Option<f64> {
            let at = text.find(label)? + label.len();
            text[at..].split_whitespace().next()?.parse().ok()
        };
        let ours = cell("| end-to-end, SQLite");
        let am = cell("| same workload through Alertmanager");
        let pg = cell("| end-to-end, PostgreSQL");
        let rate = |c: Option<&str>| c.and_then(|c| number_before(c, "notifications/s"));
        let cpu = |c: Option<&str>, label| c.and_then(|c| number_after(c, label));
        let ratio_of = |a: Option<f64>, b: Option<f64>| Some(a? / b?).filter(|r| r.is_finite());
        PairedRun {
            ratio: cell("| ratio ours (SQLite) / Alertmanager")
                .and_then(|c| c.parse().ok())
                .or_else(|| ratio_of(rate(ours), rate(am))),
            cpu_ratio: ratio_of(cpu(ours, "service CPU"), cpu(am, "Alertmanager CPU")),
            postgres_ratio: ratio_of(rate(pg), rate(am)),
        }
    }

    /// Median and range of each measure over the runs, as a Markdown table.
    fn summary(runs: &[PairedRun]) -> String {
        let stat = |values: Vec<f64>| {
            let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
            if v.is_empty() {
                return "not measured".to_owned();
            }
            v.sort_by(f64::total_cmp);
            let median = if v.len() % 2 == 1 {
                v[v.len() / 2]
            } else {
                (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
            };
            let runs: Vec<String> = v.iter().map(|x| format!("{x:.2}")).collect();
            format!(
                "median {median:.2}, range {:.2}–{:.2} ({})",
                v[0],
                v[v.len() - 1],
                runs.join(", ")
            )
        };
        let mut out = format!(
            "# paired comparison, {} runs\n\n| measure | result |\n|---|---|\n",
            runs.len()
        );
        for (what, values) in [
            (
                "ours (SQLite, FULL sync) / Alertmanager, notifications/s",
                runs.iter().filter_map(|r| r.ratio).collect::<Vec<_>>(),
            ),
            (
                "service CPU / Alertmanager CPU, same notifications",
                runs.iter().filter_map(|r| r.cpu_ratio).collect(),
            ),
            (
                "ours (PostgreSQL) / Alertmanager, notifications/s",
                runs.iter().filter_map(|r| r.postgres_ratio).collect(),
            ),
        ] {
            out.push_str(&format!("| {what} | {} |\n", stat(values)));
        }
        out
    }
}

/// Builds the service and one testkit binary (`harness`) in the release profile; returns the
/// directory holding both. No package is selected: the default members (every crate) are, as
/// for the README's run command and `cargo build --release --workspace`, so dependencies are
/// built with the same features by all of them and none rebuilds what another built.
fn build_service_and(harness: &str) -> anyhow::Result<PathBuf> {
    step("release build", cargo().args(release_build(harness)))?;
    Ok(target_dir().join("release"))
}

/// The arguments of [`build_service_and`]'s build.
fn release_build(harness: &str) -> [&str; 6] {
    [
        "build",
        "--release",
        "--bin",
        "alert-publisher",
        "--bin",
        harness,
    ]
}

fn e2e() -> anyhow::Result<()> {
    check_tools()?;
    step(
        "end-to-end tests",
        cargo().args(["test", "--package", "server", "--test", "it"]),
    )
}

/// Where cargo puts build output (`CARGO_TARGET_DIR` when set).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from)
}

fn demo(args: &[String]) -> anyhow::Result<()> {
    let bin = build_service_and("ap-demo")?;
    step(
        "demo",
        Command::new(bin.join("ap-demo"))
            .arg("--binary")
            .arg(bin.join("alert-publisher"))
            .args(args),
    )
}

fn openapi() -> anyhow::Result<()> {
    step(
        "openapi",
        cargo()
            .args([
                "test",
                "--package",
                "server",
                "--lib",
                "openapi::tests::committed_document_and_endpoint_table_are_current",
            ])
            .env("UPDATE_OPENAPI", "1"),
    )?;
    eprintln!("==> openapi: docs/openapi.json and docs/api.md rewritten; review and commit them");
    Ok(())
}

/// The pinned schemathesis release.
const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// The `st` executable of the pinned version, installed into `<target>/schemathesis-venv`
/// unless it is there already.
fn schemathesis_bin() -> anyhow::Result<PathBuf> {
    let venv = target_dir().join("schemathesis-venv");
    let st = venv.join("bin").join("st");
    let installed = Command::new(&st).arg("--version").output().is_ok_and(|o| {
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains(SCHEMATHESIS_VERSION)
    });
    if !installed {
        step(
            "python venv",
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
        )
        .context("python3 with the venv module is needed (apt-get install python3-venv)")?;
        step(
            "install schemathesis",
            Command::new(venv.join("bin").join("pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("schemathesis=={SCHEMATHESIS_VERSION}"),
            ]),
        )?;
    }
    Ok(std::path::absolute(&st)?)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Writes the configuration the fuzzed service runs with into `dir` and returns its path:
/// the SQLite store in `dir` and two webhook targets (one disabled) at a closed loopback
/// port, so deliveries fail fast and nothing leaves the machine. No API keys: the API is open.
/// Per-IP rate limiting must be off here (the run sends thousands of requests from one
/// address): every key that limits requests belongs in this one place.
fn fuzz_config(dir: &Path, port: u16, closed_port: u16) -> anyhow::Result<PathBuf> {
    let targets = dir.join("targets.yaml");
    std::fs::write(
        &targets,
        format!(
            "- name: hook-a\n  type: webhook\n  url: http://127.0.0.1:{closed_port}/a\n\
             - name: hook-b\n  type: webhook\n  url: http://127.0.0.1:{closed_port}/b\n  enabled: false\n"
        ),
    )?;
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\n\
             store: {store}\n\
             targets: {targets}\n\
             log:\n  level: warn\n\
             rate_limit:\n  api:\n    enabled: false\n  ingest:\n    enabled: false\n\
             outbound:\n  allow: [127.0.0.0/8]\n\
             delivery:\n  retry:\n    initial_delay: 100ms\n    max_attempts: 2\n",
            store = dir.join("store.db").display(),
            targets = targets.display(),
        ),
    )?;
    Ok(config)
}

/// Stops the service however the fuzz run ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Fuzzes a running service against its own OpenAPI document: no 5xx (beyond the documented
/// gateway answers in `xtask/schemathesis.toml`), every status, content type and body as
/// documented.
fn schemathesis() -> anyhow::Result<()> {
    let started = Instant::now();
    let st = schemathesis_bin()?;
    step(
        "build alert-publisher",
        cargo().args(["build", "--package", "server", "--bin", "alert-publisher"]),
    )?;
    let binary = std::path::absolute(target_dir().join("debug").join("alert-publisher"))?;
    let dir = std::env::temp_dir().join(format!("alert-publisher-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let result = schemathesis_run(&st, &binary, &dir);
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!(
            "==> schemathesis: service log and config kept in {}",
            dir.display()
        );
    }
    result?;
    eprintln!(
        "==> schemathesis: ok in {:.1}s (install, build and fuzz)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The value following `--name` in `args`, parsed.
fn flag<T: std::str::FromStr>(args: &[String], name: &str) -> anyhow::Result<Option<T>> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => {
            let value = args
                .get(i + 1)
                .with_context(|| format!("{name} needs a value"))?;
            value
                .parse()
                .map(Some)
                .map_err(|_| anyhow::anyhow!("{name}: not a valid value: {value:?}"))
        }
    }
}

fn chaos(args: &[String]) -> anyhow::Result<()> {
    let trials: u32 = flag(args, "--trials")?.unwrap_or(100);
    let mut test = cargo();
    test.args(["test", "--package", "server", "--test", "it", "chaos::"])
        .env("CHAOS_TRIALS", trials.to_string());
    if let Some(seed) = flag::<u64>(args, "--seed")? {
        test.env("CHAOS_SEED", seed.to_string());
    }
    test.args(["--", "--nocapture"]);
    step("resilience suite", &mut test)
}

/// The fuzz targets, as named in `fuzz/Cargo.toml`.
const FUZZ_TARGETS: [&str; 4] = ["webhook", "api_alerts", "target_document", "k8s_secret"];

fn fuzz(args: &[String]) -> anyhow::Result<()> {
    let seconds: u64 = flag(args, "--time")?.unwrap_or(60);
    let started = Instant::now();
    let installed = cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        step(
            "install cargo-fuzz",
            cargo().args(["install", "cargo-fuzz", "--locked"]),
        )?;
    }
    // cargo-fuzz needs nightly flags (-Z sanitizer); RUSTC_BOOTSTRAP lets stable accept them,
    // so a machine with only the stable toolchain can fuzz.
    let fuzz_cargo = || {
        let mut c = cargo();
        c.current_dir("fuzz").env("RUSTC_BOOTSTRAP", "1");
        c
    };
    step(
        "build fuzz targets",
        fuzz_cargo().args(["fuzz", "build", "-O"]),
    )?;
    let mut crashed = Vec::new();
    for target in FUZZ_TARGETS {
        let corpus = format!("corpus/{target}");
        std::fs::create_dir_all(Path::new("fuzz").join(&corpus))
            .with_context(|| format!("create fuzz/{corpus}"))?;
        let result = step(
            &format!("fuzz {target} for {seconds}s"),
            fuzz_cargo().args(["fuzz", "run", "-O", target]).args([
                corpus,
                format!("seeds/{target}"),
                format!("regressions/{target}"),
                "--".to_owned(),
                format!("-max_total_time={seconds}"),
                "-print_final_stats=1".to_owned(),
            ]),
        );
        if result.is_err() {
            crashed.push(target);
        }
    }
    if !crashed.is_empty() {
        bail!(
            "fuzzing found crashes in {crashed:?}: the reproducers are in fuzz/artifacts/<target>/ \
             (replay with `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <file>`); \
             commit each as fuzz/regressions/<target>/<name> with the fix"
        );
    }
    eprintln!(
        "==> fuzz: no crashes in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn schemathesis_run(st: &Path, binary: &Path, dir: &Path) -> anyhow::Result<()> {
    let port = free_port()?;
    let config = fuzz_config(dir, port, free_port()?)?;
    let log = std::fs::File::create(dir.join("service.log"))?;
    let server = Server(
        Command::new(binary)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_status(port, "/readyz") != Some(200) {
        if Instant::now() > deadline {
            bail!("the service did not become ready on port {port} within 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let config_file = std::path::absolute("xtask/schemathesis.toml")?;
    let result = step(
        "schemathesis",
        Command::new(st)
            .arg("--config-file")
            .arg(&config_file)
            .arg("run")
            .arg(format!("http://127.0.0.1:{port}/api/v2/openapi.json"))
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--max-examples",
                "25",
                // One worker: with two, CPython 3.11 can fail inside the fuzzer itself
                // ("AST constructor recursion depth mismatch", a race in its compiler).
                "--workers",
                "1",
                "--request-timeout",
                "20",
                "--seed",
                "20261123",
                "--no-color",
            ])
            // Hypothesis keeps its example database in the working directory.
            .current_dir(dir),
    );
    drop(server);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "\
# alert-publisher bench (5000 alerts, 2 cores)

| measurement | result |
|---|---|
| end-to-end, SQLite (FULL sync), 5000 alerts × 4 webhook targets | 2400 notifications/s (8.33 s; all accepted after 1.20 s, 3100 delivered by then; service CPU 4.10 s) |
| service RSS idle / peak (SQLite run) | 11.0 MiB / 60.2 MiB |
| same workload through Alertmanager 0.25 (in memory) | 2000 notifications/s (10.00 s; Alertmanager CPU 5.00 s) |
| ratio ours (SQLite) / Alertmanager | 1.20 |
| end-to-end, PostgreSQL 15, same workload | 2200 notifications/s (9.09 s; all accepted after 1.50 s, 2900 delivered by then; service CPU 6.00 s) |
";

    #[test]
    fn a_paired_run_is_read_from_the_report() {
        let run = PairedRun::parse(REPORT);
        assert_eq!(run.ratio, Some(1.2));
        assert!((run.cpu_ratio.unwrap() - 0.82).abs() < 1e-9);
        assert!((run.postgres_ratio.unwrap() - 1.1).abs() < 1e-9);
        assert_eq!(PairedRun::parse("nothing"), PairedRun::default());
    }

    #[test]
    fn the_summary_gives_median_and_range() {
        let runs: Vec<PairedRun> = [1.4, 0.9, 1.6, 1.2, 1.5]
            .into_iter()
            .map(|r| PairedRun {
                ratio: Some(r),
                ..Default::default()
            })
            .collect();
        let s = PairedRun::summary(&runs);
        assert!(s.starts_with("# paired comparison, 5 runs"), "{s}");
        assert!(
            s.contains("median 1.40, range 0.90–1.60 (0.90, 1.20, 1.40, 1.50, 1.60)"),
            "{s}"
        );
        assert!(
            s.contains("| service CPU / Alertmanager CPU, same notifications | not measured |")
        );
        let two = [1.0, 2.0].map(|r| PairedRun {
            ratio: Some(r),
            ..Default::default()
        });
        assert!(PairedRun::summary(&two).contains("median 1.50"));
    }

    #[test]
    fn repeat_is_taken_out_of_the_harness_arguments() {
        let args: Vec<String> = ["--quick", "--repeat", "5", "--only", "sqlite"]
            .map(str::to_owned)
            .to_vec();
        let (n, rest) = repeat_of(&args).unwrap();
        assert_eq!(n, Some(5));
        assert_eq!(rest, ["--quick", "--only", "sqlite"]);
        assert!(repeat_of(&["--repeat".to_owned(), "0".to_owned()]).is_err());
        assert!(repeat_of(&["--repeat".to_owned()]).is_err());
    }
}
