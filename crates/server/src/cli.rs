//! Client subcommands (like `amtool` for Alertmanager): they talk to a running service through
//! its HTTP API and print a table (aligned columns) or the API's JSON.
//!
//! Exit codes: 0 success, 1 the operation failed or the API refused it ([`Report::failure`] or
//! an error), 2 a usage error ([`UsageError`], or clap's own).

use std::{collections::HashSet, io::IsTerminal};

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// How a client command prints what the service answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    #[default]
    Table,
    /// The API's JSON, pretty-printed.
    Json,
}

/// Where the service is, how to authenticate and how to print: the options of every client
/// command.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Client options")]
pub struct ClientOpts {
    /// The running service.
    #[arg(
        long,
        env = "ALERT_PUBLISHER_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// API key (bearer token).
    #[arg(
        long,
        env = "ALERT_PUBLISHER_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t, global = true)]
    pub output: Output,
}

/// How much of a list to fetch.
#[derive(Debug, Clone, clap::Args)]
pub struct ListOpts {
    /// Show at most this many (a line on standard error says when more exist); without it,
    /// every one.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
    /// Fetch the list in requests of this many.
    #[arg(long, default_value_t = PAGE_MAX, value_parser = clap::value_parser!(u32).range(1..=i64::from(PAGE_MAX)))]
    pub page_size: u32,
}

/// The largest page the list endpoints answer.
const PAGE_MAX: u32 = 1000;

/// Which dead letters an operation applies to: target and error kind.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Scope {
    /// Only this target's dead letters.
    #[arg(long)]
    pub target: Option<String>,
    /// Only dead letters whose last failure had this kind.
    #[arg(long, value_parser = error_kinds())]
    pub error_kind: Option<String>,
}

/// Which dead letters to list or replay.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DlqFilter {
    #[command(flatten)]
    pub scope: Scope,
    /// Only dead letters of this priority.
    #[arg(long, value_parser = ["high", "medium", "low"])]
    pub priority: Option<String>,
    /// Only dead letters last changed at or after this: an RFC 3339 time, or a duration ago
    /// (`1h`, `2d`).
    #[arg(long, value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
}

/// The ids of the arguments of [`DlqFilter`], for a command that takes an id or a filter.
pub const DLQ_FILTER_ARGS: [&str; 4] = ["target", "error_kind", "priority", "since"];

/// What `dlq purge` deletes.
#[derive(Debug, Clone, clap::Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub scope: Scope,
    /// Only dead letters last changed longer ago than this (`24h`, `7d`); without it, every
    /// matching one.
    #[arg(long, value_parser = parse_age)]
    pub older_than: Option<String>,
    /// Delete without asking for confirmation (required when standard input is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Which notifications `alerts list` shows.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HistoryArgs {
    /// Only alerts with this `alertname`.
    #[arg(long)]
    pub alertname: Option<String>,
    /// Only this alert.
    #[arg(long)]
    pub fingerprint: Option<String>,
    /// Only notifications that went to this target (or that it deduplicated).
    #[arg(long)]
    pub target: Option<String>,
    /// Only notifications with a delivery (at --target, when given) in this state.
    #[arg(long, value_parser = ["delivered", "dead", "superseded", "pending", "in_flight", "deduplicated"])]
    pub state: Option<String>,
    /// Only notifications received at or after this: an RFC 3339 time, or a duration ago
    /// (`1h`, `2d`).
    #[arg(long, value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
    /// Only notifications received before this: an RFC 3339 time, or a duration ago.
    #[arg(long, value_parser = parse_since)]
    pub until: Option<DateTime<Utc>>,
    /// `name=value`: only alerts with this label (repeat for several; all must hold).
    #[arg(long = "label", value_name = "NAME=VALUE", value_parser = parse_label)]
    pub labels: Vec<String>,
    /// Show at most this many, newest first (a line on standard error says when more exist).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Fetch the list in requests of this many.
    #[arg(long, default_value_t = HISTORY_PAGE_MAX, value_parser = clap::value_parser!(u32).range(1..=i64::from(HISTORY_PAGE_MAX)))]
    pub page_size: u32,
}

/// The largest page of the history endpoint.
const HISTORY_PAGE_MAX: u32 = 500;

/// The command line cannot be run as given (exit 2, like clap's own errors).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(String);

/// What a client command printed and how it ended.
#[derive(Debug, Default)]
pub struct Report {
    /// For standard output.
    pub stdout: String,
    /// Lines for standard error that are not failures (more rows exist than were listed).
    pub notes: Vec<String>,
    /// The operation failed although the service answered (exit 1): one line.
    pub failure: Option<String>,
}

impl Report {
    /// `json` pretty-printed under `-o json`, `table(json)` under `-o table`.
    fn show(output: Output, json: &Value, table: impl FnOnce(&Value) -> String) -> Self {
        let stdout = match output {
            Output::Json => {
                let mut text = serde_json::to_string_pretty(json).unwrap_or_default();
                text.push('\n');
                text
            }
            Output::Table => table(json),
        };
        Self {
            stdout,
            ..Self::default()
        }
    }
}

/// Rows in aligned columns: each column as wide as its widest cell, two spaces apart, the
/// last one unpadded. Every list and detail view prints through it.
#[derive(Debug, Default)]
struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table whose first row is `header`.
    fn new(header: &[&str]) -> Self {
        let mut table = Self::default();
        table.row(header.iter().copied());
        table
    }

    /// Adds a row. Empty cells show as `-` and line breaks as spaces, so every row stays on
    /// one line with every column filled.
    fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let cells = cells
            .into_iter()
            .map(|c| {
                let c = c.as_ref().split_whitespace().collect::<Vec<_>>().join(" ");
                if c.is_empty() { "-".to_owned() } else { c }
            })
            .collect();
        self.rows.push(cells);
    }

    fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|i| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let last = row.len().saturating_sub(1);
            for (i, cell) in row.iter().enumerate() {
                if i == last {
                    out.push_str(cell);
                } else {
                    out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
                }
            }
            out.push('\n');
        }
        out
    }
}

/// A client of the service's HTTP API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    token: Option<String>,
    output: Output,
    http: reqwest::Client,
}

type Query = Vec<(&'static str, String)>;

impl ApiClient {
    /// A client for the service `opts` names.
    pub fn new(opts: &ClientOpts) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("alert-publisher-cli/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        Ok(Self {
            base: opts.url.trim_end_matches('/').to_owned(),
            token: opts.token.clone(),
            output: opts.output,
            http,
        })
    }

    /// One request; an answer other than 2xx is an error of one line naming the request, the
    /// status and the service's message.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .query(query);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let json = serde_json::from_str::<Value>(&text);
        if !status.is_success() {
            let message = match &json {
                Ok(v) => v["error"]["message"].as_str().map(str::to_owned),
                Err(_) => text.lines().find(|l| !l.trim().is_empty()).map(|l| {
                    let l = l.trim();
                    l.chars().take(200).collect()
                }),
            };
            let message = message.unwrap_or_else(|| "no error message".to_owned());
            anyhow::bail!("{method} {path}: {status}: {}", one_line(&message));
        }
        json.with_context(|| format!("{method} {path}: the answer is not JSON"))
    }

    /// Every item of a paged list (`limit`/`offset`) under `key`, or the first `list.limit` of
    /// them, and whether more exist. The answer is the first page's object holding them all
    /// (its `count` and `limit` say how many). Items are told apart by `id_key`, so an item
    /// that moved to the next page while paging (a newer one arrived) is listed once.
    async fn list(
        &self,
        path: &str,
        query: Query,
        key: &str,
        id_key: &str,
        list: &ListOpts,
    ) -> anyhow::Result<(Value, bool)> {
        // One more than the limit tells whether more exist.
        let wanted = list.limit.map(|l| l as usize + 1);
        let mut items: Vec<Value> = Vec::new();
        let mut seen = HashSet::new();
        let mut offset = 0usize;
        let mut first: Option<Value> = None;
        loop {
            let page_size = wanted.map_or(list.page_size as usize, |w| {
                (w - items.len()).min(list.page_size as usize)
            });
            let mut page_query = query.clone();
            page_query.push(("limit", page_size.to_string()));
            page_query.push(("offset", offset.to_string()));
            let mut answer = self
                .call(reqwest::Method::GET, path, &page_query, None)
                .await?;
            let page = match answer.get_mut(key).map(Value::take) {
                Some(Value::Array(page)) => page,
                _ => anyhow::bail!("GET {path}: the answer has no {key:?} list"),
            };
            offset += page.len();
            let last_page = page.len() < page_size;
            for item in page {
                if seen.insert(item[id_key].to_string()) {
                    items.push(item);
                }
            }
            first.get_or_insert(answer);
            if last_page || wanted.is_some_and(|w| items.len() >= w) {
                break;
            }
        }
        let more = wanted.is_some_and(|w| items.len() >= w);
        if let Some(limit) = list.limit {
            items.truncate(limit as usize);
        }
        let mut answer = first.unwrap_or_default();
        if let Value::Object(fields) = &mut answer {
            for field in ["count", "limit"] {
                if fields.contains_key(field) {
                    fields.insert(field.to_owned(), items.len().into());
                }
            }
            fields.insert(key.to_owned(), Value::Array(items));
        }
        Ok((answer, more))
    }

    /// `targets list`: name, type, enabled, health and (redacted) URL of every target.
    pub async fn targets_list(&self, list: &ListOpts) -> anyhow::Result<Report> {
        let (v, more) = self
            .list(
                "/api/v2/publishing/targets",
                Vec::new(),
                "targets",
                "name",
                list,
            )
            .await?;
        let mut report = Report::show(self.output, &v, |v| {
            let mut table = Table::new(&["NAME", "TYPE", "ENABLED", "HEALTH", "CIRCUIT", "URL"]);
            for t in items(v, "targets") {
                table.row([
                    text(&t["name"]),
                    text(&t["type"]),
                    text(&t["enabled"]),
                    text(&t["health"]),
                    text(&t["circuit_breaker"]),
                    text(&t["url"]),
                ]);
            }
            table.render()
        });
        if more {
            report.notes.push(more_note("targets", list));
        }
        Ok(report)
    }

    /// `targets test NAME`: delivers a test alert through the target's real publisher; one line
    /// on success, a failure (exit 1) naming the kind and reason when the target did not take it.
    pub async fn targets_test(&self, name: &str) -> anyhow::Result<Report> {
        let v = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v2/publishing/targets/{name}/test"),
                &[],
                None,
            )
            .await?;
        let code = v["status_code"]
            .as_u64()
            .map_or_else(|| "no answer".to_owned(), |c| format!("HTTP {c}"));
        let latency = v["latency_ms"].as_u64().unwrap_or(0);
        if v["success"].as_bool() == Some(true) {
            return Ok(Report::show(self.output, &v, |_| {
                format!("{name}: delivered ({code}) in {latency} ms\n")
            }));
        }
        let error = &v["error"];
        let failure = format!(
            "{name}: the test delivery failed ({code}, after {latency} ms): {}: {}{}",
            error["kind"].as_str().unwrap_or("unknown"),
            one_line(error["reason"].as_str().unwrap_or("")),
            if error["retryable"].as_bool() == Some(true) {
                " (the queue would retry it)"
            } else {
                " (the queue would not retry it)"
            }
        );
        Ok(Report {
            failure: Some(failure),
            ..Report::show(self.output, &v, |_| String::new())
        })
    }

    /// `dlq list`: the matching dead letters, newest first, one row each.
    pub async fn dlq_list(
        &self,
        filter: &DlqFilter,
        replayed: Option<bool>,
        list: &ListOpts,
    ) -> anyhow::Result<Report> {
        let mut query = filter.query();
        if let Some(replayed) = replayed {
            query.push(("replayed", replayed.to_string()));
        }
        let (v, more) = self
            .list("/api/v2/publishing/dlq", query, "jobs", "id", list)
            .await?;
        let mut report = Report::show(self.output, &v, |v| {
            let mut table = Table::new(&[
                "ID", "DIED", "TARGET", "ALERT", "STATUS", "ATTEMPTS", "KIND", "REPLAYED", "ERROR",
            ]);
            for j in items(v, "jobs") {
                table.row([
                    text(&j["id"]),
                    time(&j["updated_at"]),
                    text(&j["target"]),
                    text(&j["alertname"]),
                    text(&j["status"]),
                    text(&j["attempts"]),
                    text(&j["last_error_kind"]),
                    j["replayed_as"]
                        .as_i64()
                        .map_or_else(String::new, |id| format!("#{id}")),
                    text(&j["last_error"]),
                ]);
            }
            table.render()
        });
        if more {
            report.notes.push(more_note("dead letters", list));
        }
        Ok(report)
    }

    /// `dlq show ID`: one dead letter with its attempts.
    pub async fn dlq_show(&self, id: i64) -> anyhow::Result<Report> {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v2/publishing/dlq/{id}"),
                &[],
                None,
            )
            .await?;
        Ok(Report::show(self.output, &v, |j| {
            let mut fields = Table::default();
            let replayed = match (j["replayed_at"].as_str(), j["replayed_as"].as_i64()) {
                (Some(_), Some(new)) => format!("{} as job {new}", time(&j["replayed_at"])),
                (Some(_), None) => time(&j["replayed_at"]),
                _ => "no".to_owned(),
            };
            let status_code = j["last_status_code"]
                .as_u64()
                .map_or_else(String::new, |c| format!("HTTP {c}"));
            for (name, value) in [
                ("ID:", text(&j["id"])),
                ("Target:", text(&j["target"])),
                ("Alert:", text(&j["alertname"])),
                ("Fingerprint:", text(&j["fingerprint"])),
                ("Status:", text(&j["status"])),
                ("Priority:", text(&j["priority"])),
                ("Accepted:", time(&j["created_at"])),
                ("Died:", time(&j["updated_at"])),
                ("Attempts:", text(&j["attempts"])),
                ("Error kind:", text(&j["last_error_kind"])),
                ("Last status:", status_code),
                ("Last error:", text(&j["last_error"])),
                ("Replayed:", replayed),
            ] {
                fields.row([name.to_owned(), value]);
            }
            let mut attempts = Table::new(&[
                "ATTEMPT", "AT", "OUTCOME", "STATUS", "LATENCY", "KIND", "ERROR",
            ]);
            for a in items(j, "history") {
                attempts.row([
                    text(&a["attempt"]),
                    time(&a["at"]),
                    text(&a["outcome"]),
                    text(&a["status_code"]),
                    a["latency_ms"]
                        .as_u64()
                        .map_or_else(String::new, |ms| format!("{ms}ms")),
                    text(&a["error_kind"]),
                    text(&a["error"]),
                ]);
            }
            format!("{}\n{}", fields.render(), attempts.render())
        }))
    }

    /// `dlq replay`: one dead letter by id, or every one `filter` selects.
    pub async fn dlq_replay(&self, id: Option<i64>, filter: &DlqFilter) -> anyhow::Result<Report> {
        let v = match id {
            Some(id) => {
                self.call(
                    reqwest::Method::POST,
                    &format!("/api/v2/publishing/dlq/{id}/replay"),
                    &[],
                    None,
                )
                .await?
            }
            None => {
                let body: serde_json::Map<String, Value> = filter
                    .query()
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), Value::String(v)))
                    .collect();
                if body.is_empty() {
                    return Err(UsageError(
                        "name a dead letter id or a filter (--target, --error-kind, --priority, --since)"
                            .to_owned(),
                    )
                    .into());
                }
                self.call(
                    reqwest::Method::POST,
                    "/api/v2/publishing/dlq/replay",
                    &[],
                    Some(Value::Object(body)),
                )
                .await?
            }
        };
        Ok(Report::show(self.output, &v, |v| {
            let mut out = format!("replayed {}\n", items(v, "replayed").count());
            for s in items(v, "skipped") {
                out.push_str(&format!(
                    "skipped {}: {}\n",
                    s["id"],
                    one_line(s["reason"].as_str().unwrap_or(""))
                ));
            }
            out
        }))
    }

    /// `dlq purge`: deletes the dead letters `args` selects, after asking on the terminal unless
    /// `--yes`; refuses (a usage error) without `--yes` when there is no terminal to ask on.
    pub async fn dlq_purge(&self, args: &PurgeArgs) -> anyhow::Result<Report> {
        if !args.yes {
            confirm(format!("Delete {} for good?", args.describe())).await?;
        }
        let mut query = args.scope.query();
        query.push((
            "older_than",
            args.older_than.clone().unwrap_or_else(|| "0s".to_owned()),
        ));
        let v = self
            .call(
                reqwest::Method::DELETE,
                "/api/v2/publishing/dlq/purge",
                &query,
                None,
            )
            .await?;
        Ok(Report::show(self.output, &v, |v| {
            format!("purged {} dead letter(s)\n", text(&v["purged"]))
        }))
    }

    /// `alerts list`: notifications newest first, one row each, following the cursor from
    /// page to page.
    pub async fn alerts_list(&self, args: &HistoryArgs) -> anyhow::Result<Report> {
        let mut query = Query::new();
        for (key, value) in [
            ("alertname", &args.alertname),
            ("fingerprint", &args.fingerprint),
            ("target", &args.target),
            ("state", &args.state),
        ] {
            if let Some(value) = value {
                query.push((key, value.clone()));
            }
        }
        for (key, time) in [("since", args.since), ("until", args.until)] {
            if let Some(time) = time {
                query.push((key, time.to_rfc3339_opts(SecondsFormat::Millis, true)));
            }
        }
        for label in &args.labels {
            query.push(("label", label.clone()));
        }
        // One more than the limit tells whether more exist.
        let wanted = args.limit as usize + 1;
        let mut found: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut page_query = query.clone();
            page_query.push((
                "limit",
                (wanted - found.len())
                    .min(args.page_size as usize)
                    .to_string(),
            ));
            if let Some(cursor) = &cursor {
                page_query.push(("cursor", cursor.clone()));
            }
            let path = "/api/v2/publishing/alerts";
            let mut answer = self
                .call(reqwest::Method::GET, path, &page_query, None)
                .await?;
            match answer.get_mut("alerts").map(Value::take) {
                Some(Value::Array(page)) => found.extend(page),
                _ => anyhow::bail!("GET {path}: the answer has no \"alerts\" list"),
            }
            cursor = answer["next_cursor"].as_str().map(str::to_owned);
            if cursor.is_none() || found.len() >= wanted {
                break;
            }
        }
        let more = found.len() >= wanted;
        found.truncate(args.limit as usize);
        let v = serde_json::json!({"count": found.len(), "alerts": found});
        let mut report = Report::show(self.output, &v, |v| {
            let mut table = Table::new(&[
                "RECEIVED",
                "FINGERPRINT",
                "ALERT",
                "STATUS",
                "SOURCE",
                "DELIVERIES",
                "DEDUPLICATED",
                "FILTERED",
            ]);
            for n in items(v, "alerts") {
                let deliveries: Vec<String> = items(n, "targets")
                    .map(|t| format!("{}:{}", text(&t["target"]), text(&t["state"])))
                    .collect();
                let dedup: Vec<String> = items(n, "deduplicated").map(text).collect();
                let filtered: Vec<String> = items(n, "filtered")
                    .map(|f| format!("{} ({})", text(&f["target"]), text(&f["reason"])))
                    .collect();
                table.row([
                    time(&n["received_at"]),
                    text(&n["fingerprint"]),
                    text(&n["alertname"]),
                    text(&n["status"]),
                    text(&n["source"]),
                    deliveries.join(","),
                    dedup.join(","),
                    filtered.join("; "),
                ]);
            }
            table.render()
        });
        if more {
            report.notes.push(format!(
                "showing the newest {} notifications; more exist (raise --limit or narrow the filter)",
                args.limit
            ));
        }
        Ok(report)
    }

    /// `alerts show FINGERPRINT`: the alert's story as a timeline, newest notification first.
    pub async fn alerts_show(&self, fingerprint: &str) -> anyhow::Result<Report> {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v2/publishing/alerts/{fingerprint}"),
                &[],
                None,
            )
            .await?;
        Ok(Report::show(self.output, &v, |v| {
            let labels: Vec<String> = v["labels"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, l)| format!("{k}={:?}", text(l)))
                .collect();
            let mut out = format!(
                "alert {} {} {{{}}}\n",
                text(&v["alertname"]),
                text(&v["fingerprint"]),
                labels.join(", ")
            );
            for (k, a) in v["annotations"].as_object().into_iter().flatten() {
                out.push_str(&format!("  {k}: {}\n", one_line(&text(a))));
            }
            for n in items(v, "notifications") {
                let r = &n["receipt"];
                out.push_str(&format!(
                    "\n{} received {} via {} (receiver {}), notification {}\n",
                    time(&r["received_at"]),
                    text(&r["status"]),
                    text(&r["source"]),
                    text(&r["receiver"]),
                    text(&r["receipt_id"]),
                ));
                let routed: HashSet<String> = items(n, "deliveries")
                    .map(|d| text(&d["target"]))
                    .collect();
                let mut routed: Vec<String> = routed.into_iter().collect();
                routed.sort();
                if !routed.is_empty() {
                    out.push_str(&format!("  routed to {}\n", routed.join(", ")));
                }
                for f in items(r, "filtered") {
                    out.push_str(&format!(
                        "  filtered out by {}: {}\n",
                        text(&f["target"]),
                        one_line(&text(&f["reason"]))
                    ));
                }
                for t in items(r, "deduplicated") {
                    out.push_str(&format!(
                        "  deduplicated by {} (sent within its repeat interval)\n",
                        text(t)
                    ));
                }
                for d in items(n, "deliveries") {
                    let mut line = format!(
                        "  {} job {}: {}",
                        text(&d["target"]),
                        text(&d["job_id"]),
                        text(&d["state"])
                    );
                    for (key, words) in [
                        ("superseded_by", "superseded by job"),
                        ("replayed_as", "replayed as job"),
                        ("replay_of", "replay of job"),
                    ] {
                        if !d[key].is_null() {
                            line.push_str(&format!(", {words} {}", text(&d[key])));
                        }
                    }
                    if !d["retry_at"].is_null() {
                        line.push_str(&format!(", next try {}", time(&d["retry_at"])));
                    }
                    out.push_str(&line);
                    out.push('\n');
                    for a in items(d, "attempts") {
                        let mut line = format!(
                            "    {} attempt {}: {}",
                            time(&a["at"]),
                            text(&a["attempt"]),
                            text(&a["outcome"])
                        );
                        if !a["status_code"].is_null() {
                            line.push_str(&format!(" (HTTP {})", text(&a["status_code"])));
                        }
                        line.push_str(&format!(" in {} ms", text(&a["latency_ms"])));
                        if !a["error"].is_null() {
                            line.push_str(&format!(
                                ": {}: {}",
                                text(&a["error_kind"]),
                                one_line(&text(&a["error"]))
                            ));
                        }
                        out.push_str(&line);
                        out.push('\n');
                    }
                }
            }
            out
        }))
    }

    /// `alerts ack`: queues `acknowledge` for the alert at its PagerDuty targets; one line per
    /// target.
    pub async fn alerts_ack(&self, fingerprint: &str) -> anyhow::Result<Report> {
        let v = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v2/publishing/alerts/{fingerprint}/acknowledge"),
                &[],
                None,
            )
            .await?;
        Ok(Report::show(self.output, &v, |v| {
            let mut out = String::new();
            for (t, j) in items(v, "targets").zip(items(v, "jobs")) {
                out.push_str(&format!(
                    "acknowledge queued for {} (job {j})\n",
                    t.as_str().unwrap_or("?")
                ));
            }
            for s in items(v, "skipped") {
                out.push_str(&format!(
                    "skipped {}: {}\n",
                    text(&s["target"]),
                    one_line(s["reason"].as_str().unwrap_or(""))
                ));
            }
            out
        }))
    }
}

impl Scope {
    fn query(&self) -> Query {
        let mut query = Query::new();
        if let Some(target) = &self.target {
            query.push(("target", target.clone()));
        }
        if let Some(kind) = &self.error_kind {
            query.push(("error_kind", kind.clone()));
        }
        query
    }
}

impl DlqFilter {
    /// The filter as the API's query parameters (and replay body fields).
    fn query(&self) -> Query {
        let mut query = self.scope.query();
        if let Some(priority) = &self.priority {
            query.push(("priority", priority.clone()));
        }
        if let Some(since) = self.since {
            query.push(("since", since.to_rfc3339_opts(SecondsFormat::Secs, true)));
        }
        query
    }
}

impl PurgeArgs {
    /// What the purge deletes, in words: `every dead letter of target "t" last changed more
    /// than 24h ago`.
    fn describe(&self) -> String {
        let mut what = "every dead letter".to_owned();
        if let Some(target) = &self.scope.target {
            what.push_str(&format!(" of target {target:?}"));
        }
        if let Some(kind) = &self.scope.error_kind {
            what.push_str(&format!(" with error kind {kind}"));
        }
        if let Some(age) = &self.older_than {
            what.push_str(&format!(" last changed more than {age} ago"));
        }
        what
    }
}

/// Asks `question` on the terminal; `Ok` only on `y` or `yes`.
async fn confirm(question: String) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(
            "refusing to purge without --yes: standard input is not a terminal to confirm on"
                .to_owned(),
        )
        .into());
    }
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let mut stderr = std::io::stderr();
        write!(stderr, "{question} [y/N] ")?;
        stderr.flush()?;
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok::<_, std::io::Error>(line)
    })
    .await??;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => anyhow::bail!("cancelled: nothing was deleted"),
    }
}

/// The note under a list cut at `--limit`.
fn more_note(what: &str, list: &ListOpts) -> String {
    format!(
        "showing the first {} {what}; more exist (raise --limit, or leave it out to list every one)",
        list.limit.unwrap_or_default()
    )
}

/// The items of the array `key` of `v` (none when it is not an array).
fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v[key].as_array().into_iter().flatten()
}

/// A JSON value as a table cell: strings without quotes, null as empty.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An API time as RFC 3339 in UTC to the second (`2026-11-23T18:17:06Z`).
fn time(v: &Value) -> String {
    let raw = text(v);
    DateTime::parse_from_rfc3339(&raw).map_or(raw, |t| {
        t.with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    })
}

/// `s` on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn error_kinds() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(publish::ErrorKind::ALL.map(|k| k.as_str()))
}

/// `--since`: an RFC 3339 time, or a duration before now.
fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let ago = publish::parse_duration(s)
        .map_err(|_| format!("{s:?} is neither an RFC 3339 time nor a duration (1h, 2d)"))?;
    chrono::Duration::from_std(ago)
        .ok()
        .and_then(|ago| Utc::now().checked_sub_signed(ago))
        .ok_or_else(|| format!("{s:?} is too long ago"))
}

/// `--label`: `name=value`, sent as written.
fn parse_label(s: &str) -> Result<String, String> {
    match s.split_once('=') {
        Some((name, _)) if !name.is_empty() => Ok(s.to_owned()),
        _ => Err(format!("{s:?} is not name=value")),
    }
}

/// `--older-than`: a duration, checked here and sent as written.
fn parse_age(s: &str) -> Result<String, String> {
    publish::parse_duration(s).map(|_| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rows: &[&[&str]], expected: &str) {
        let mut table = Table::default();
        for row in rows {
            table.row(row.iter().copied());
        }
        assert_eq!(table.render(), expected);
    }

    #[test]
    fn tables_align_on_the_widest_cell() {
        check(
            &[
                &["ID", "TARGET", "ERROR"],
                &["7", "pd-prod", "HTTP 400: bad"],
            ],
            "ID  TARGET   ERROR\n7   pd-prod  HTTP 400: bad\n",
        );
        check(
            &[&["NAME", "URL"], &["é", ""], &["hook", "line\nbreak"]],
            "NAME  URL\né     -\nhook  line break\n",
        );
        check(&[], "");
    }

    #[test]
    fn since_takes_a_time_or_a_duration_ago() {
        assert_eq!(
            parse_since("2026-11-23T10:00:00+01:00").unwrap(),
            DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z").unwrap()
        );
        let hour_ago = parse_since("1h").unwrap();
        let expected = Utc::now() - chrono::Duration::hours(1);
        assert!((hour_ago - expected).num_seconds().abs() < 5, "{hour_ago}");
        assert!(parse_since("yesterday").unwrap_err().contains("RFC 3339"));
    }
}
