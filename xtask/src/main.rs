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
  bench   the load harness (release build): throughput vs Alertmanager, latency, stats API,
          memory, storm; `--quick` runs small sizes (under a minute); table in target/bench/
  chaos   the resilience suite (SIGKILL storms, flapping target, PostgreSQL restart, disk
          full / read-only store, damaged store) with more kill trials: `--trials N`
          (default 100), `--seed S`; `cargo xtask ci` runs it with 20 trials
  fuzz    every fuzz target for `--time SECONDS` each (default 60); installs cargo-fuzz if
          missing, builds on stable with RUSTC_BOOTSTRAP=1; fails on a crash and names the
          reproducer (fuzz/artifacts/<target>/)
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
        Some("chaos") => chaos(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
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
