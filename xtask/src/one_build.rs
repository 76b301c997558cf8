//! `cargo xtask one-build`: after `cargo build --release --workspace`, the README's run
//! command and the release builds of `cargo xtask demo` and `cargo xtask bench` compile
//! nothing, and every binary's `--help` prints its help and exits at once. Part of
//! `cargo xtask ci`.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

use crate::{cargo, release_build, step, target_dir};

/// Compiled artifacts (package ids) in cargo's JSON messages that were not fresh.
fn compiled(messages: &str) -> (Vec<String>, usize) {
    let mut rebuilt = Vec::new();
    let mut fresh = 0;
    for line in messages
        .lines()
        .filter(|l| l.contains(r#""reason":"compiler-artifact""#))
    {
        if line.contains(r#""fresh":true"#) {
            fresh += 1;
        } else {
            let id = line
                .split(r#""package_id":""#)
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or(line);
            rebuilt.push(id.to_owned());
        }
    }
    (rebuilt, fresh)
}

/// The README's run command, as cargo arguments (`run --release --bin alert-publisher`).
fn readme_run(root: &Path) -> anyhow::Result<Vec<String>> {
    let readme = std::fs::read_to_string(root.join("README.md")).context("read README.md")?;
    let line = readme
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("cargo run"))
        .context("the README has no `cargo run` command")?;
    Ok(line.split_whitespace().skip(1).map(str::to_owned).collect())
}

/// Runs `bin --help` with a deadline: it must exit 0 within it and print a usage.
fn help_only(bin: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .arg("--help")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("run {}", bin.display()))?;
    while child.try_wait()?.is_none() {
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            bail!(
                "`{} --help` was still running after 10 s: it must only print help",
                bin.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() || !text.to_lowercase().contains("usage") {
        bail!(
            "`{} --help` ({}) did not print its usage:\n{text}",
            bin.display(),
            out.status
        );
    }
    eprintln!(
        "==> `{} --help`: prints its usage and exits ({} ms)",
        bin.display(),
        started.elapsed().as_millis()
    );
    Ok(())
}

pub(crate) fn one_build() -> anyhow::Result<()> {
    step(
        "release build of the workspace",
        cargo().args(["build", "--release", "--workspace", "--locked"]),
    )?;
    let json = "--message-format=json";
    let mut run = readme_run(Path::new("."))?;
    let readme = format!("the README's `cargo {}`", run.join(" "));
    run.extend([json.to_owned(), "--".to_owned(), "--help".to_owned()]);
    let xtask_build = |command: &str, harness: &str| {
        let args: Vec<String> = release_build(harness)
            .iter()
            .chain(&[json])
            .map(|a| (*a).to_owned())
            .collect();
        (format!("the build of `cargo xtask {command}`"), args)
    };
    let builds = [
        (readme, run),
        xtask_build("demo", "ap-demo"),
        xtask_build("bench", "ap-bench"),
    ];
    for (what, args) in builds {
        let out = cargo()
            .args(&args)
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("run cargo {}", args.join(" ")))?;
        if !out.status.success() {
            bail!("{what} failed ({})", out.status);
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let (rebuilt, fresh) = compiled(&stdout);
        if !rebuilt.is_empty() {
            bail!(
                "{what} compiled {} crates again after `cargo build --release --workspace`: {}",
                rebuilt.len(),
                rebuilt.join(", ")
            );
        }
        if fresh == 0 {
            bail!("{what}: cargo reported no artifacts at all");
        }
        eprintln!("==> {what}: compiles nothing ({fresh} artifacts fresh)");
    }
    let release = target_dir().join("release");
    for bin in ["alert-publisher", "ap-bench", "ap-demo"] {
        help_only(&release.join(bin))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn compiled_artifacts_are_told_from_fresh_ones() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","package_id":"registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0","fresh":true}"#,
            "\n",
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/crates/queue#0.1.0","fresh":false}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
            "\nUsage: alert-publisher\n"
        );
        let (rebuilt, fresh) = super::compiled(messages);
        assert_eq!(rebuilt, ["path+file:///w/crates/queue#0.1.0"]);
        assert_eq!(fresh, 1);
    }

    /// What `cargo run -p xtask` (and `cargo test`) set for the package is not passed on: a
    /// build from xtask fingerprints like one from a shell.
    #[test]
    fn nested_cargo_gets_a_shell_environment() {
        assert!(
            std::env::var_os("CARGO_PKG_NAME").is_some(),
            "cargo sets it for tests"
        );
        let cmd = crate::cargo();
        let removed: Vec<String> = cmd
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        for name in [
            "CARGO_PKG_NAME",
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_VERSION_MAJOR",
        ] {
            assert!(
                removed.iter().any(|r| r == name),
                "{name} kept: {removed:?}"
            );
        }
        assert!(!crate::set_by_cargo_run("CARGO_TARGET_DIR"));
        assert!(!crate::set_by_cargo_run("CARGO_HOME"));
    }

    #[test]
    fn the_readme_run_command_is_read() {
        let args = super::readme_run(&crate::project_root()).unwrap();
        assert_eq!(args.first().map(String::as_str), Some("run"));
    }
}
