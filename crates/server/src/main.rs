//! `alert-publisher`: receives Alertmanager notifications and delivers every alert to its
//! targets, durably.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use server::{
    cli::{
        ApiClient, ClientOpts, DLQ_FILTER_ARGS, DlqFilter, HistoryArgs, ListOpts, PurgeArgs, Report, UsageError,
    },
    config::{Config, LogFormat},
};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    name = "alert-publisher",
    version,
    about = "Delivers Alertmanager alerts to PagerDuty, Slack, Rootly and webhooks, durably",
    after_help = "Without a subcommand it runs the service, as `serve` does.\n\
                  Exit codes: 0 success, 1 the operation failed or the service refused it, \
                  2 a usage error.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// The service's options when no subcommand is given (the same as `serve`'s).
    #[command(flatten)]
    serve: ServeOpts,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve(ServeOpts),
    /// Validate the config file and every target definition `serve` would use, then exit.
    CheckConfig(ServeOpts),
    /// Alertmanager templates, offline.
    Template {
        #[command(subcommand)]
        command: TemplateCommand,
    },
    #[command(flatten)]
    Client(ClientCommand),
}

#[derive(Debug, Subcommand)]
enum TemplateCommand {
    /// Render a template as Alertmanager would (and as the render API does), without a
    /// running service; prints the output and a newline.
    Render(RenderArgs),
}

#[derive(Debug, clap::Args)]
struct RenderArgs {
    /// The template, e.g. '{{ template "slack.default.title" . }}'.
    #[arg(long)]
    template: String,
    /// An Alertmanager webhook payload (a JSON file, `-` for stdin) to render; default: a
    /// sample notification with a firing and a resolved alert.
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Files of shared `{{ define }}` blocks (paths, or globs in the file name); repeatable.
    /// Default: the `templates:` of the config file.
    #[arg(long = "templates", value_name = "GLOB")]
    templates: Vec<String>,
    /// Config file whose `templates:` to use.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
}

/// `template render`: 0 and the output, 1 when the template or the data is wrong (one line
/// naming the place), 2 when the config file is.
fn template_render(args: RenderArgs) -> ExitCode {
    let patterns = if args.templates.is_empty() {
        match &args.config {
            Some(path) => match Config::from_file(path) {
                Ok(c) => c.templates,
                Err(e) => return config_errors(&e.to_string()),
            },
            None => Vec::new(),
        }
    } else {
        args.templates
    };
    let fail = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(1)
    };
    let library = match service::templates::load_library(&patterns) {
        Ok(l) => l,
        Err(errors) => return fail(errors.join("; ")),
    };
    let data = match &args.data {
        None => None,
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(path)
            };
            let text = match text {
                Ok(t) => t,
                Err(e) => return fail(format!("{}: cannot read: {e}", path.display())),
            };
            let de = &mut serde_json::Deserializer::from_str(&text);
            match serde_path_to_error::deserialize::<_, template::Data>(de) {
                Ok(d) => Some(d),
                Err(e) => {
                    return fail(format!(
                        "{}: not an Alertmanager webhook payload at `{}`: {}",
                        path.display(),
                        e.path(),
                        e.inner()
                    ));
                }
            }
        }
    };
    match service::templates::render(&library, None, &args.template, data.as_ref()) {
        Ok(output) => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            match writeln!(out, "{output}").and_then(|()| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(format!("cannot write the output: {e}")),
            }
        }
        Err(e) => fail(e.to_string()),
    }
}

/// The commands that talk to a running service.
#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Targets of a running service.
    Targets {
        #[command(subcommand)]
        command: TargetsCommand,
        #[command(flatten)]
        client: ClientOpts,
    },
    /// Dead letters of a running service.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
        #[command(flatten)]
        client: ClientOpts,
    },
    /// Alerts of a running service.
    Alerts {
        #[command(subcommand)]
        command: AlertsCommand,
        #[command(flatten)]
        client: ClientOpts,
    },
}

#[derive(Debug, Subcommand)]
enum AlertsCommand {
    /// List notifications newest first: where each alert went, what was filtered out or
    /// deduplicated, and the state of each delivery.
    List(HistoryArgs),
    /// Show one alert's story: every notification, delivery and attempt.
    Show {
        /// The alert's fingerprint (16 hex digits).
        fingerprint: String,
    },
    /// Acknowledge an alert at its PagerDuty targets (queued after its trigger).
    Ack {
        /// The alert's fingerprint (16 hex digits).
        fingerprint: String,
    },
}

#[derive(Debug, Subcommand)]
enum TargetsCommand {
    /// List targets with their type, health, circuit and (redacted) URL.
    List(ListOpts),
    /// Deliver a test alert through the target's real publisher and show the outcome.
    Test {
        /// Target name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// List dead letters, newest first.
    List {
        #[command(flatten)]
        filter: DlqFilter,
        /// Only replayed (true) or not yet replayed (false) dead letters.
        #[arg(long)]
        replayed: Option<bool>,
        #[command(flatten)]
        list: ListOpts,
    },
    /// Show one dead letter with every attempt.
    Show {
        /// Dead letter id.
        id: i64,
    },
    /// Replay one dead letter, or every dead letter a filter selects.
    #[command(group(
        clap::ArgGroup::new("selection")
            .required(true)
            .multiple(true)
            .args(["id"].into_iter().chain(DLQ_FILTER_ARGS))
    ))]
    Replay {
        /// Dead letter id.
        #[arg(conflicts_with_all = DLQ_FILTER_ARGS)]
        id: Option<i64>,
        #[command(flatten)]
        filter: DlqFilter,
    },
    /// Delete dead letters for good (asks first unless --yes).
    Purge(PurgeArgs),
}

async fn client_command(command: ClientCommand) -> anyhow::Result<Report> {
    match command {
        ClientCommand::Targets { command, client } => {
            let client = ApiClient::new(&client)?;
            match command {
                TargetsCommand::List(list) => client.targets_list(&list).await,
                TargetsCommand::Test { name } => client.targets_test(&name).await,
            }
        }
        ClientCommand::Dlq { command, client } => {
            let client = ApiClient::new(&client)?;
            match command {
                DlqCommand::List {
                    filter,
                    replayed,
                    list,
                } => client.dlq_list(&filter, replayed, &list).await,
                DlqCommand::Show { id } => client.dlq_show(id).await,
                DlqCommand::Replay { id, filter } => client.dlq_replay(id, &filter).await,
                DlqCommand::Purge(args) => client.dlq_purge(&args).await,
            }
        }
        ClientCommand::Alerts { command, client } => {
            let client = ApiClient::new(&client)?;
            match command {
                AlertsCommand::Ack { fingerprint } => client.alerts_ack(&fingerprint).await,
                AlertsCommand::List(args) => client.alerts_list(&args).await,
                AlertsCommand::Show { fingerprint } => client.alerts_show(&fingerprint).await,
            }
        }
    }
}

/// Prints what a client command produced; exit 1 when it failed, 2 on a usage error.
fn finish(result: anyhow::Result<Report>) -> ExitCode {
    use std::io::Write as _;
    match result {
        Ok(report) => {
            let _ = std::io::stdout().write_all(report.stdout.as_bytes());
            for note in &report.notes {
                eprintln!("{note}");
            }
            match report.failure {
                Some(failure) => {
                    eprintln!("error: {failure}");
                    ExitCode::from(1)
                }
                None => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            match e.downcast_ref::<UsageError>() {
                Some(_) => ExitCode::from(2),
                None => ExitCode::from(1),
            }
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Service options")]
struct ServeOpts {
    /// Config file (YAML).
    #[arg(long, short = 'c', env = "ALERT_PUBLISHER_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "ALERT_PUBLISHER_LISTEN")]
    listen: Option<SocketAddr>,
    /// Target definitions: a YAML/JSON file, or a directory of them.
    #[arg(long, env = "ALERT_PUBLISHER_TARGETS")]
    targets: Option<PathBuf>,
    /// Job store: a SQLite file path or sqlite: URL [default: ./data/alert-publisher.db].
    #[arg(long, env = "ALERT_PUBLISHER_STORE")]
    store: Option<String>,
    /// API keys file (YAML list of keys), re-read while running.
    #[arg(long, env = "ALERT_PUBLISHER_API_KEYS_FILE")]
    api_keys_file: Option<PathBuf>,
    /// Log format.
    #[arg(long, env = "ALERT_PUBLISHER_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `info,queue=debug`.
    #[arg(long, env = "ALERT_PUBLISHER_LOG_LEVEL")]
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
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(opts)) => serve(opts).await,
        Some(Command::CheckConfig(opts)) => check_config(opts),
        Some(Command::Template {
            command: TemplateCommand::Render(args),
        }) => template_render(args),
        Some(Command::Client(command)) => finish(client_command(command).await),
    }
}

/// Prints every line of an error as `error: …` and gives the usage exit code (2).
fn config_errors(errors: &str) -> ExitCode {
    for line in errors.lines() {
        eprintln!("error: {line}");
    }
    ExitCode::from(2)
}

/// The configuration `opts` select (exit 2 listing every error when the file has some).
fn resolved(opts: ServeOpts) -> Result<Config, ExitCode> {
    resolve(opts).map_err(|e| config_errors(&format!("{e:#}")))
}

/// The configuration `opts` select, with its API keys and ingest credentials checked (exit 2
/// naming the place when something is wrong).
fn configure(opts: ServeOpts) -> Result<Config, ExitCode> {
    let config = resolved(opts)?;
    server::guard::Guard::new(&config).map_err(|e| config_errors(&e.to_string()))?;
    Ok(config)
}

/// Checks everything offline and reports every error: the config file's, then the API keys'
/// and every target definition's.
fn check_config(opts: ServeOpts) -> ExitCode {
    let config = match resolved(opts) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match server::check_config(&config) {
        Ok(targets) => {
            eprintln!("config ok: {targets} target(s)");
            ExitCode::SUCCESS
        }
        Err(errors) => config_errors(&errors),
    }
}

async fn serve(opts: ServeOpts) -> ExitCode {
    let config = match configure(opts) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let registry = match server::load_registry(&config) {
        Ok(r) => r,
        Err(e) => return config_errors(&format!("{e:#}")),
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
