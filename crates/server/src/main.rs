//! `alert-publisher`: receives Alertmanager notifications and delivers every alert to its
//! targets, durably.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use server::config::{Config, LogFormat};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    name = "alert-publisher",
    version,
    about = "Delivers Alertmanager alerts to PagerDuty, Slack, Rootly and webhooks, durably"
)]
struct Cli {
    #[command(flatten)]
    opts: ServeOpts,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Validate the config file and every target definition, then exit.
    CheckConfig,
    /// Targets of a running service.
    Targets {
        #[command(subcommand)]
        command: TargetsCommand,
        #[command(flatten)]
        api: ApiOpts,
    },
    /// Dead letters of a running service.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
        #[command(flatten)]
        api: ApiOpts,
    },
    /// Alerts of a running service.
    Alerts {
        #[command(subcommand)]
        command: AlertsCommand,
        #[command(flatten)]
        api: ApiOpts,
    },
}

#[derive(Debug, Subcommand)]
enum AlertsCommand {
    /// Acknowledge an alert at its PagerDuty targets (queued after its trigger).
    Ack {
        /// The alert's fingerprint (16 hex digits).
        fingerprint: String,
    },
}

#[derive(Debug, Subcommand)]
enum TargetsCommand {
    /// List targets with their type, health and (redacted) URL.
    List,
    /// Deliver a test alert through the target's real publisher and show the outcome.
    Test {
        /// Target name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// List dead letters.
    List {
        /// Only this target.
        #[arg(long)]
        target: Option<String>,
    },
    /// Replay one dead letter, or every dead letter of a target.
    Replay {
        /// Dead letter id.
        id: Option<i64>,
        /// Replay every dead letter of this target.
        #[arg(long)]
        target: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
struct ApiOpts {
    /// The running service.
    #[arg(
        long,
        env = "ALERT_PUBLISHER_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// API key (bearer token).
    #[arg(
        long,
        env = "ALERT_PUBLISHER_TOKEN",
        hide_env_values = true,
        global = true
    )]
    token: Option<String>,
}

async fn client_command(command: Command) -> anyhow::Result<String> {
    match command {
        Command::Targets { command, api } => {
            let client = server::cli::ApiClient::new(&api.url, api.token)?;
            match command {
                TargetsCommand::List => client.targets_list().await,
                TargetsCommand::Test { name } => client.targets_test(&name).await,
            }
        }
        Command::Dlq { command, api } => {
            let client = server::cli::ApiClient::new(&api.url, api.token)?;
            match command {
                DlqCommand::List { target } => client.dlq_list(target.as_deref()).await,
                DlqCommand::Replay { id, target } => client.dlq_replay(id, target.as_deref()).await,
            }
        }
        Command::Alerts { command, api } => {
            let client = server::cli::ApiClient::new(&api.url, api.token)?;
            match command {
                AlertsCommand::Ack { fingerprint } => client.alerts_ack(&fingerprint).await,
            }
        }
        Command::Serve | Command::CheckConfig => Ok(String::new()),
    }
}

#[derive(Debug, clap::Args)]
struct ServeOpts {
    /// Config file (YAML).
    #[arg(long, short = 'c', env = "ALERT_PUBLISHER_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "ALERT_PUBLISHER_LISTEN", global = true)]
    listen: Option<SocketAddr>,
    /// Target definitions: a YAML/JSON file, or a directory of them.
    #[arg(long, env = "ALERT_PUBLISHER_TARGETS", global = true)]
    targets: Option<PathBuf>,
    /// Job store: a SQLite file path or sqlite: URL [default: ./data/alert-publisher.db].
    #[arg(long, env = "ALERT_PUBLISHER_STORE", global = true)]
    store: Option<String>,
    /// API keys file (YAML list of keys), re-read while running.
    #[arg(long, env = "ALERT_PUBLISHER_API_KEYS_FILE", global = true)]
    api_keys_file: Option<PathBuf>,
    /// Log format.
    #[arg(long, env = "ALERT_PUBLISHER_LOG_FORMAT", global = true)]
    log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `info,queue=debug`.
    #[arg(long, env = "ALERT_PUBLISHER_LOG_LEVEL", global = true)]
    log_level: Option<String>,
}

fn resolve(opts: ServeOpts) -> anyhow::Result<Config> {
    let mut config = match &opts.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    if let Some(listen) = opts.listen {
        config.listen = listen;
    }
    if let Some(targets) = opts.targets {
        config.targets = Some(targets);
    }
    if let Some(store) = opts.store {
        config.store = store;
    }
    if let Some(file) = opts.api_keys_file {
        config.auth.keys_file = Some(file);
    }
    if let Some(format) = opts.log_format {
        config.log.format = format;
    }
    if let Some(level) = opts.log_level {
        config.log.level = level;
    }
    Ok(config)
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match config.log.format {
        // Fields at the top level of each line, beside `level`, `target` (the module) and
        // `message`, so that `jq 'select(.target_name == "x")'` finds a target's lines.
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    token.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    token.cancel();
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match resolve(cli.opts) {
        Ok(c) => c,
        Err(e) => {
            for line in format!("{e:#}").lines() {
                eprintln!("error: {line}");
            }
            return ExitCode::from(2);
        }
    };
    if let Some(
        command @ (Command::Targets { .. } | Command::Dlq { .. } | Command::Alerts { .. }),
    ) = cli.command
    {
        return match client_command(command).await {
            Ok(out) => {
                use std::io::Write as _;
                let _ = std::io::stdout().write_all(out.as_bytes());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    // API keys and ingest credentials are checked before anything starts (and by check-config).
    if !matches!(cli.command, Some(Command::CheckConfig))
        && let Err(e) = server::guard::Guard::new(&config)
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    match cli.command {
        Some(Command::Targets { .. } | Command::Dlq { .. } | Command::Alerts { .. }) => {
            ExitCode::SUCCESS
        }
        Some(Command::CheckConfig) => match server::check_config(&config) {
            Ok(targets) => {
                eprintln!("config ok: {targets} target(s)");
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for line in errors.lines() {
                    eprintln!("error: {line}");
                }
                ExitCode::from(2)
            }
        },
        None | Some(Command::Serve) => {
            let registry = match server::load_registry(&config) {
                Ok(r) => r,
                Err(e) => {
                    for line in format!("{e:#}").lines() {
                        eprintln!("error: {line}");
                    }
                    return ExitCode::from(2);
                }
            };
            init_logging(&config);
            let token = CancellationToken::new();
            tokio::spawn(shutdown_signal(token.clone()));
            match server::serve(config, registry, token).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "alert-publisher failed");
                    eprintln!("error: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
