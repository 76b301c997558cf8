//! Project automation (matklad's xtask pattern). `cargo xtask ci` runs everything CI checks;
//! if it passes locally, CI passes.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, bail};

mod tidy;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci      everything CI checks: tools present, fmt, clippy (deny warnings), all tests
          (unit, integration, end-to-end with a real Alertmanager), repository rules
  e2e     only the end-to-end tests of the service
  demo    a newcomer's tour: the service with simulated PagerDuty, Slack, Rootly and webhook
          targets, sample alerts (through Alertmanager if installed), what each target received
          and where to look next; runs until Ctrl-C, `--once` exits after printing
  bench   the load harness (release build): throughput vs Alertmanager, latency, stats API,
          memory, storm; `--quick` runs small sizes (under a minute); table in target/bench/
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
        Some("bench") => bench(&args[1..]),
        Some("demo") => demo(&args[1..]),
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
    eprintln!("==> {name}: {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("{name}: cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    eprintln!("==> {name}: ok in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
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

/// The real components the tests need must be installed: a missing one is a failure.
fn check_tools() -> anyhow::Result<()> {
    let alertmanager = std::env::var_os("ALERTMANAGER_BIN")
        .map(PathBuf::from)
        .or_else(|| which("prometheus-alertmanager"))
        .or_else(|| which("alertmanager"));
    if alertmanager.is_none() {
        bail!(
            "Alertmanager not found: the end-to-end tests run a real one.\n\
             Install it with `apt-get install -y --no-install-recommends prometheus-alertmanager` \
             (or run `bash .ci/run`, which installs what the tests need), or set ALERTMANAGER_BIN."
        );
    }
    Ok(())
}

fn ci() -> anyhow::Result<()> {
    let started = Instant::now();
    check_tools()?;
    step("rustfmt", cargo().args(["fmt", "--all", "--check"]))?;
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
    eprintln!(
        "==> ci: all checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn bench(args: &[String]) -> anyhow::Result<()> {
    check_tools()?;
    step(
        "release build",
        cargo().args([
            "build",
            "--release",
            "--package",
            "server",
            "--bin",
            "alert-publisher",
            "--package",
            "testkit",
            "--bin",
            "ap-bench",
        ]),
    )?;
    step(
        "load harness",
        Command::new("target/release/ap-bench")
            .args([
                "--binary",
                "target/release/alert-publisher",
                "--out",
                "target/bench",
            ])
            .args(args),
    )
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
    step(
        "build",
        cargo().args([
            "build",
            "--package",
            "server",
            "--bin",
            "alert-publisher",
            "--package",
            "testkit",
            "--bin",
            "ap-demo",
        ]),
    )?;
    let bin = target_dir().join("debug");
    step(
        "demo",
        Command::new(bin.join("ap-demo"))
            .arg("--binary")
            .arg(bin.join("alert-publisher"))
            .args(args),
    )
}
