//! Integration tests for testkit: the webhook sink, the simulated Slack's limits and the real
//! Alertmanager.

mod alertmanager;
mod sink;
mod slack;

/// `ap-bench --help` prints its usage and exits at once, before it starts anything (the
/// binary it is pointed at does not even exist); an unknown argument is refused.
#[test]
fn ap_bench_help_only_prints_help_and_unknown_arguments_are_refused() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ap-bench"))
        .args(["--binary", "/nonexistent/alert-publisher", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("usage: ap-bench"), "{err}");
    assert!(out.stdout.is_empty());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ap-bench"))
        .arg("--no-such-option")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown argument \"--no-such-option\""),
        "{out:?}"
    );
}
