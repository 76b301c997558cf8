//! `ap-demo`: the newcomer's tour behind `cargo xtask demo`. Starts `alert-publisher` with
//! simulated PagerDuty, Slack, Rootly and webhook endpoints, fires the sample alerts (through a
//! real Alertmanager when one is installed), prints what each target received and where to look
//! next, then keeps running until Ctrl-C (or exits at once with `--once`).

use std::{path::PathBuf, process::ExitCode};

use testkit::{Demo, DemoOptions};

const USAGE: &str = "usage: ap-demo [--binary PATH] [--examples DIR] [--no-alertmanager] [--once]";

#[tokio::main]
async fn main() -> ExitCode {
    let mut opts = DemoOptions {
        binary: PathBuf::from("target/debug/alert-publisher"),
        examples: DemoOptions::default_examples(),
        alertmanager: true,
    };
    let mut once = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--binary" => opts.binary = args.next().map(PathBuf::from).unwrap_or(opts.binary),
            "--examples" => {
                opts.examples = args.next().map(PathBuf::from).unwrap_or(opts.examples);
            }
            "--no-alertmanager" => opts.alertmanager = false,
            "--once" => once = true,
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("ap-demo: unknown argument {other:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    eprintln!("ap-demo: starting the service and the simulated targets…");
    let demo = match Demo::start(opts).await {
        Ok(demo) => demo,
        Err(e) => {
            eprintln!("ap-demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    match demo.report().await {
        // The report is the program's output.
        #[allow(clippy::print_stdout)]
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("ap-demo: {e}");
            return ExitCode::FAILURE;
        }
    }
    if once {
        eprintln!("ap-demo: --once: stopping (run without it to keep the service up)");
    } else {
        eprintln!("ap-demo: running; press Ctrl-C to stop");
        let _ = tokio::signal::ctrl_c().await;
    }
    drop(demo);
    ExitCode::SUCCESS
}
