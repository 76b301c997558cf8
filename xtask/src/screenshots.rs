//! `cargo xtask screenshots`: pictures of the web console for the README and
//! `docs/console.md`, taken in a real headless Chromium by `ap-screenshots` (testkit) from the
//! demo setup. The debug build by default (it shares the tests' build); `--release` uses the
//! release binaries.

use std::process::Command;

use crate::{cargo, step, target_dir};

/// Builds `alert-publisher` and `ap-screenshots`, then writes `docs/screenshots/*.png`.
pub(crate) fn screenshots(args: &[String]) -> anyhow::Result<()> {
    let release = args.iter().any(|a| a == "--release");
    let rest: Vec<&String> = args.iter().filter(|a| *a != "--release").collect();
    let mut build = cargo();
    build.args([
        "build",
        "--bin",
        "alert-publisher",
        "--bin",
        "ap-screenshots",
    ]);
    if release {
        build.arg("--release");
    }
    step("build", &mut build)?;
    let bin = target_dir().join(if release { "release" } else { "debug" });
    step(
        "screenshots",
        Command::new(bin.join("ap-screenshots"))
            .arg("--binary")
            .arg(bin.join("alert-publisher"))
            .args(["--out", "docs/screenshots"])
            .args(rest),
    )?;
    eprintln!("==> screenshots: docs/screenshots/*.png written; review and commit them");
    Ok(())
}
