//! The job store on SQL: SQLite (embedded default) and PostgreSQL (several replicas sharing one
//! database), one implementation over sqlx's `Any` driver with a few dialect-specific
//! statements (claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::Path,
    sync::Arc,
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::{
    AnyPool, Executor, Row,
    any::{AnyPoolOptions, AnyRow},
};

use tokio::sync::oneshot;
use tracing::warn;

mod history;
mod samples;

use crate::counts::{Counters, Tally};
use crate::{
    Aging, AlertStory, Attempt, Completion, EnqueueReport, Finished, Handoff, HistoryFilter,
    HistoryPage, Job, JobFilter, JobPayload, JobRecord, JobState, JobStore, NewJob, NewReceipt,
    Priority, QueueStats, Ready, ReplayReport, StoreError, StoredSample, Submission,
};

/// Which SQL database a [`SqlStore`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Embedded SQLite file (WAL); one process owns it.
    Sqlite,
    /// PostgreSQL shared by any number of replicas.
    Postgres,
}

/// How a store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// SQLite: `FULL` (default) survives power loss; `NORMAL` survives process crashes only.
    pub synchronous_full: bool,
    /// Read connections (SQLite) or pool size (PostgreSQL).
    pub connections: u32,
    /// How long a write waits for a lock held by another connection before it fails (and
    /// ingest answers 503).
    pub busy_timeout: Duration,
    /// Identifies this process in leases (PostgreSQL replicas).
    pub instance: String,
    /// How priority orders jobs (the claim order of each new job).
    pub aging: Aging,
    /// How old the in-memory job counts may get before a status request has them recounted
    /// from the store: what other replicas did shows within this (default: 5 s on PostgreSQL;
    /// 60 s on SQLite, where this process makes every change and the recount is a safety net).
    /// A recount reads every job: it runs at most once per fifty times its own duration (at
    /// 1,000,000 jobs on a 2-core machine: 0.2 s on PostgreSQL, so every 10 s).
    pub recount_every: Option<Duration>,
}

/// [`StoreOptions::recount_every`] on SQLite.
const RECOUNT_SQLITE: Duration = Duration::from_secs(60);
/// [`StoreOptions::recount_every`] on PostgreSQL.
const RECOUNT_POSTGRES: Duration = Duration::from_secs(5);

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            synchronous_full: true,
            connections: 4,
            busy_timeout: Duration::from_secs(5),
            instance: format!("{}-{:08x}", std::process::id(), fastrand::u32(..)),
            aging: Aging::default(),
            recount_every: None,
        }
    }
}

/// Statements, written once with `?` placeholders and numbered for PostgreSQL.
#[derive(Debug)]
struct Sql {
    supersede: String,
    /// PostgreSQL's claim, one statement.
    claim: String,
    /// SQLite claims in three steps (see `claim_sqlite`): pick, mark, read.
    claim_pick: String,
    claim_mark: String,
    claim_read: String,
    delivered_state: String,
    /// The vendor state a failed attempt hands back for its retry.
    progress_state: String,
    failed: String,
    defer: String,
    requeue_expired: String,
    requeue_all: String,
    next_due: String,
    stats: String,
    list: String,
    get: String,
    history: String,
    replay_candidates: String,
    replay_by_id: String,
    newer_job: String,
    newer_dead: String,
    replay_insert: String,
    replay_mark: String,
    replay_supersede: String,
    purge_attempts: String,
    purge: String,
    purge_payloads: String,
    sweep_attempts: String,
    sweep: String,
    sweep_payloads: String,
    orphan_payloads: String,
    ping: String,
}

/// Writes `?` placeholders as `$1, $2, …` for PostgreSQL.
fn numbered(dialect: Dialect, sql: &str) -> String {
    if dialect != Dialect::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Rows per multi-row statement: few round trips, bind parameters far below both databases'
/// limits.
const CHUNK: usize = 200;

/// A query of the `Any` driver.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// A statement of `rows` rows of a chunked write or lookup. One of a whole [`CHUNK`] stays
/// prepared on its connection (one shape per statement, so the statement cache holds them all,
/// and a large batch is parsed once per connection instead of once per chunk); a shorter one,
/// of any length, is parsed afresh.
fn chunk_query(sql: &str, rows: usize) -> AnyQuery<'_> {
    sqlx::query(sql).persistent(rows == CHUNK)
}

impl SqlStore {
    /// Runs `template` once per [`CHUNK`] of `items`, its `{rows}` replaced by as many `row`s
    /// (`(?, ?)`, or `?` in an `IN` list), each bound by `bind`.
    async fn execute_chunked<T>(
        &self,
        conn: &mut sqlx::AnyConnection,
        template: &str,
        row: &str,
        items: &[T],
        bind: impl for<'q> Fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
    ) -> Result<(), sqlx::Error> {
        for chunk in items.chunks(CHUNK) {
            let sql = numbered(
                self.dialect,
                &template.replace("{rows}", &rows(row, chunk.len())),
            );
            let mut q = chunk_query(&sql, chunk.len());
            for item in chunk {
                q = bind(q, item);
            }
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// `n` row tuples of `row` (e.g. `(?, ?)`), comma separated.
fn rows(row: &str, n: usize) -> String {
    let mut out = String::with_capacity((row.len() + 2) * n);
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(row);
    }
    out
}

const JOB_COLUMNS: &str = "id, target, fingerprint, status, priority, state, attempts, created_at, updated_at, \
    next_run_at, last_error_kind, last_error, last_status_code, replayed_at, replayed_as, superseded_by";

/// A job's payload, in a query where its row is `alias`: the row of `payloads` it points at, or
/// (jobs written before payloads had a table of their own) its inline column.
fn payload_of(alias: &str) -> String {
    format!(
        "COALESCE((SELECT p.body FROM payloads p WHERE p.id = {alias}.payload_id), {alias}.payload)"
    )
}

const FILTER: &str = "(? IS NULL OR state = ?) AND (? IS NULL OR target = ?) AND (? IS NULL OR fingerprint = ?) \
    AND (? IS NULL OR last_error_kind = ?) \
    AND (? IS NULL OR priority = ?) AND (? IS NULL OR updated_at >= ?) AND (? IS NULL OR updated_at < ?) \
    AND (? IS NULL OR (? = 1 AND replayed_at IS NOT NULL) OR (? = 0 AND replayed_at IS NULL))";

/// SQLite: look jobs of one alert up in the index of pending and in-flight jobs (the planner
/// does not see that a query's state condition implies the index's).
fn active_order_hint(dialect: Dialect) -> &'static str {
    if dialect == Dialect::Sqlite {
        " INDEXED BY jobs_active_order"
    } else {
        ""
    }
}

/// SQLite: look dead letters of one alert up in their own index (see `active_order_hint`).
fn dead_by_alert_hint(dialect: Dialect) -> &'static str {
    if dialect == Dialect::Sqlite {
        " INDEXED BY jobs_dead_by_alert"
    } else {
        ""
    }
}

/// Retention: finished jobs older than their cutoff. The first term repeats the `jobs_finished`
/// index's condition word for word, so SQLite uses it; binds: the later cutoff, the cutoff for
/// done and superseded jobs, the cutoff for dead letters.
const SWEEP: &str = "state IN ('done', 'superseded', 'dead') AND updated_at < ? \
    AND ((state <> 'dead' AND updated_at < ?) OR (state = 'dead' AND updated_at < ?))";

impl Sql {
    fn new(dialect: Dialect) -> Self {
        let pg = dialect == Dialect::Postgres;
        let number = |sql: &str| numbered(dialect, sql);
        let payload = payload_of("jobs");
        let blocked = "NOT EXISTS (SELECT 1 FROM jobs e WHERE e.target = j.target AND e.fingerprint = j.fingerprint \
                       AND e.id < j.id AND e.state IN ('pending', 'in_flight'))";
        // PostgreSQL claims in one statement; SQLite in three (see `claim_sqlite`).
        let claim = format!(
            "UPDATE jobs SET state = 'in_flight', attempts = jobs.attempts + 1, lease_until = ?, lease_owner = ?, updated_at = ? \
                 FROM (SELECT j.id FROM jobs j WHERE j.state = 'pending' AND j.next_run_at <= ? AND j.sort_key <= ? AND {blocked} \
                       ORDER BY j.sort_key, j.id LIMIT ? FOR UPDATE OF j SKIP LOCKED) ready \
                 WHERE jobs.id = ready.id \
                 RETURNING jobs.id, jobs.delivery_key, jobs.target, jobs.fingerprint, jobs.status, jobs.priority, jobs.attempts, \
                 jobs.created_at, {payload} AS payload, jobs.sort_key"
        );
        Self {
            supersede: number(
                "UPDATE jobs SET state = 'superseded', superseded_by = ?, updated_at = ? \
                 WHERE target = ? AND fingerprint = ? AND state IN ('pending', 'in_flight') AND state = 'pending' AND id < ? \
                 RETURNING priority",
            ),
            claim: number(&claim),
            claim_pick: format!(
                "SELECT json_group_array(id) FROM (SELECT j.id FROM jobs j INDEXED BY jobs_pending_order \
                 WHERE j.state = 'pending' AND j.next_run_at <= ? AND j.sort_key <= ? AND {blocked} \
                 ORDER BY j.sort_key, j.id LIMIT ?)"
            ),
            claim_mark: "UPDATE jobs SET state = 'in_flight', attempts = attempts + 1, lease_until = ?, lease_owner = ?, \
                 updated_at = ? WHERE id IN (SELECT value FROM json_each(?))"
                .to_owned(),
            claim_read: format!(
                "SELECT json_group_array(json_array(id, delivery_key, target, fingerprint, status, priority, \
                 attempts, created_at, sort_key, {payload})) FROM jobs WHERE id IN (SELECT value FROM json_each(?))"
            ),
            delivered_state: number(
                "UPDATE notification_state SET last_delivered_status = ?, last_delivered_at = ?, \
                 vendor_state = COALESCE(?, vendor_state) WHERE target = ? AND fingerprint = ?",
            ),
            progress_state: number(
                "UPDATE notification_state SET vendor_state = ? WHERE target = ? AND fingerprint = ?",
            ),
            // A failed attempt: back to pending at `next_run_at` (retry) or dead (next_run_at NULL).
            failed: number(
                "UPDATE jobs SET state = ?, lease_until = NULL, lease_owner = NULL, updated_at = ?, \
                 next_run_at = COALESCE(?, next_run_at), last_error_kind = ?, last_error = ?, last_status_code = ? \
                 WHERE id = ? AND state = 'in_flight' AND lease_owner = ?",
            ),
            defer: number(
                "UPDATE jobs SET state = 'pending', attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
                 lease_until = NULL, lease_owner = NULL, updated_at = ?, next_run_at = ? \
                 WHERE id = ? AND state = 'in_flight' AND lease_owner = ?",
            ),
            requeue_expired: number(
                "UPDATE jobs SET state = 'pending', lease_until = NULL, lease_owner = NULL, updated_at = ?, \
                 next_run_at = CASE WHEN next_run_at < ? THEN next_run_at ELSE ? END \
                 WHERE state = 'in_flight' AND lease_until < ?",
            ),
            requeue_all: number(
                "UPDATE jobs SET state = 'pending', lease_until = NULL, lease_owner = NULL, updated_at = ?, \
                 next_run_at = CASE WHEN next_run_at < ? THEN next_run_at ELSE ? END WHERE state = 'in_flight'",
            ),
            // Walks the (state, next_run_at) index in order and stops at the first job that is
            // not waiting behind an earlier one of the same alert: usually the very first.
            next_due: format!(
                "SELECT j.next_run_at FROM jobs j{} WHERE j.state = 'pending' AND {blocked} \
                 ORDER BY j.next_run_at LIMIT 1",
                if pg {
                    ""
                } else {
                    " INDEXED BY jobs_pending_due"
                }
            ),
            // Dead letters by target too (the per-target DLQ size).
            stats: "SELECT state, priority, CASE WHEN state = 'dead' THEN target ELSE '' END AS target, \
                    COUNT(*) AS n FROM jobs GROUP BY state, priority, 3"
                .to_owned(),
            list: number(&format!(
                "SELECT {JOB_COLUMNS}, {payload} AS payload FROM jobs WHERE {FILTER} ORDER BY id DESC LIMIT ? OFFSET ?"
            )),
            get: number(&format!(
                "SELECT {JOB_COLUMNS}, {payload} AS payload FROM jobs WHERE id = ?"
            )),
            history: number(
                "SELECT attempt, at, outcome, status_code, latency_ms, error_kind, error FROM attempts WHERE job_id = ? ORDER BY id",
            ),
            // Newest first: with a limit, the dead letters that win over older ones of their alert.
            replay_candidates: number(&format!(
                "SELECT id, delivery_key, target, fingerprint, status, priority, {payload} AS payload, updated_at FROM jobs WHERE {FILTER} \
                 ORDER BY id DESC LIMIT ?"
            )),
            replay_by_id: number(&format!(
                "SELECT id, delivery_key, target, fingerprint, status, priority, {payload} AS payload, updated_at FROM jobs \
                 WHERE id = ? AND state = 'dead' AND replayed_at IS NULL"
            )),
            // A later job of the alert still waiting or in flight; delivered ones show in the
            // notification state (jobs of an alert are delivered in order, so one delivered
            // after this job died is a later one).
            newer_job: number(&format!(
                "SELECT MIN(j.id) AS waiting, (SELECT n.last_delivered_at FROM notification_state n \
                 WHERE n.target = ? AND n.fingerprint = ?) AS delivered_at FROM jobs j{} \
                 WHERE j.target = ? AND j.fingerprint = ? AND j.id > ? AND j.state IN ('pending', 'in_flight')",
                active_order_hint(dialect)
            )),
            // Later dead letters of the alert not replayed yet (the caller keeps notifications:
            // a dead acknowledgement is not a newer status).
            newer_dead: number(&format!(
                "SELECT d.id, {} AS payload FROM jobs d{} WHERE d.target = ? AND d.fingerprint = ? AND d.id > ? \
                 AND d.state = 'dead' AND d.replayed_at IS NULL ORDER BY d.id",
                payload_of("d"),
                dead_by_alert_hint(dialect)
            )),
            // A replay belongs to the notification of the dead letter it replays, and shares
            // its payload.
            replay_insert: number(
                "INSERT INTO jobs (delivery_key, target, fingerprint, status, priority, state, attempts, sort_key, \
                 created_at, updated_at, next_run_at, payload, payload_id, receipt_id) \
                 SELECT ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, o.payload, o.payload_id, o.receipt_id \
                 FROM jobs o WHERE o.id = ? RETURNING id",
            ),
            replay_mark: number(
                "UPDATE jobs SET replayed_at = ?, replayed_as = ?, updated_at = updated_at WHERE id = ?",
            ),
            // An older dead letter whose alert's newer dead letter was replayed instead.
            replay_supersede: number(
                "UPDATE jobs SET replayed_at = ?, replayed_as = ?, superseded_by = ?, updated_at = updated_at WHERE id = ?",
            ),
            purge_attempts: number(&format!(
                "DELETE FROM attempts WHERE job_id IN (SELECT id FROM jobs WHERE {FILTER})"
            )),
            purge: number(&format!("DELETE FROM jobs WHERE {FILTER}")),
            purge_payloads: number(&format!(
                "SELECT MIN(payload_id), MAX(payload_id) FROM jobs WHERE {FILTER}"
            )),
            sweep_attempts: number(&format!(
                "DELETE FROM attempts WHERE job_id IN (SELECT id FROM jobs WHERE {SWEEP})"
            )),
            sweep: number(&format!("DELETE FROM jobs WHERE {SWEEP}")),
            sweep_payloads: number(&format!(
                "SELECT MIN(payload_id), MAX(payload_id) FROM jobs WHERE {SWEEP}"
            )),
            orphan_payloads: number(
                "DELETE FROM payloads WHERE id BETWEEN ? AND ? \
                 AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.payload_id = payloads.id)",
            ),
            ping: "SELECT 1".to_owned(),
        }
    }
}

/// The SQL job store.
#[derive(Debug, Clone)]
pub struct SqlStore {
    writer: AnyPool,
    reader: AnyPool,
    dialect: Dialect,
    instance: Arc<str>,
    sql: Arc<Sql>,
    ingest: Arc<GroupCommit<Enqueue, EnqueueReport>>,
    deferrals: Arc<GroupCommit<Deferral, ()>>,
    /// SQLite with synchronous commits: claims skip the sync (see `claim_sqlite`).
    claims_unsynced: bool,
    /// Dropped with the last handle: background tasks of this store stop.
    alive: Arc<()>,
    /// Jobs by state, kept as counters (see [`crate::counts`]).
    counters: Arc<Counters>,
    /// PostgreSQL: how the jobs grew since their statistics were last refreshed.
    growth: Arc<Growth>,
    /// Where enqueue hands jobs that may go at once (see [`Handoff`]), once an engine runs.
    handoff: Arc<std::sync::Mutex<Option<Arc<Handoff>>>>,
    /// How priority orders jobs.
    aging: Aging,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

fn dur_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn delivery_key() -> String {
    format!("{:032x}", fastrand::u128(..))
}

/// Locks a mutex whose data stays consistent even if a holder panicked.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn decode<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T, sqlx::Error> {
    s.parse().map_err(|e: String| sqlx::Error::Decode(e.into()))
}

/// A SQLite URL for a file path (percent-encoding what a URL cannot hold as is).
fn sqlite_url(path: &Path, mode: &str) -> String {
    let mut encoded = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' | ' ' => encoded.push_str(&format!("%{:02X}", c as u32)),
            c => encoded.push(c),
        }
    }
    format!("sqlite://{encoded}?mode={mode}")
}

/// Opens an existing SQLite file read-only, on one connection (a pool would retry a file that
/// is not a database until its timeout and hide why), and runs `PRAGMA quick_check`: every
/// page is read once, so start-up takes longer on a large store (about a second per few hundred
/// MB on an SSD).
async fn check_sqlite(path: &Path) -> Result<(), StoreError> {
    use sqlx::Connection as _;
    let damaged = |what: String| StoreError::Corrupt(format!("{}: {what}", path.display()));
    // SQLITE_CORRUPT (11) and SQLITE_NOTADB (26), with their extended codes; anything else
    // (permissions, I/O) is not the file's fault.
    let classify = |e: sqlx::Error| match &e {
        sqlx::Error::Database(d)
            if d.code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 11 | 26)) =>
        {
            damaged(e.to_string())
        }
        _ => StoreError::Database(e),
    };
    let mut conn = sqlx::AnyConnection::connect(&sqlite_url(path, "ro"))
        .await
        .map_err(classify)?;
    let verdict: Vec<String> = sqlx::query("PRAGMA quick_check")
        .fetch_all(&mut conn)
        .await
        .map_err(classify)?
        .iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    conn.close().await.ok();
    if verdict != ["ok"] {
        return Err(damaged(format!(
            "integrity check failed: {}",
            verdict.join("; ")
        )));
    }
    Ok(())
}

impl SqlStore {
    /// Opens (creating if needed) the SQLite database at `path` and applies migrations.
    pub async fn open_sqlite(path: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        let path = if path.is_absolute() {
            path.to_owned()
        } else {
            std::env::current_dir()
                .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?
                .join(path)
        };
        let pragmas = format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA busy_timeout = {}; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 268435456; PRAGMA cache_size = -32768;",
            if options.synchronous_full {
                "FULL"
            } else {
                "NORMAL"
            },
            options.busy_timeout.as_millis()
        );
        // An existing file is checked before anything writes to it (the pools set WAL mode and
        // migrations create tables): a damaged file is reported, never changed or replaced.
        if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
            check_sqlite(&path).await?;
        }
        // Checkpoints run on a connection of their own (see `checkpointer`); the writer's own
        // automatic checkpoint stays as a backstop far above what the checkpointer lets pile up.
        let writer_pragmas = format!("{pragmas} PRAGMA wal_autocheckpoint = 16384;");
        let writer = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                let pragmas = writer_pragmas.clone();
                Box::pin(async move {
                    conn.execute(pragmas.as_str()).await?;
                    Ok(())
                })
            })
            // A COMMIT that fails (disk full, I/O error) can leave SQLite inside the
            // transaction; every later write would then join it, acknowledged but never
            // committed. A connection still in a transaction when it comes back to the pool is
            // closed (which rolls back) and replaced, never reused. (Two statements without
            // I/O per write.)
            .after_release(|conn, _| {
                Box::pin(async move {
                    match conn.execute("BEGIN").await {
                        Ok(_) => {
                            conn.execute("ROLLBACK").await?;
                            // The driver's own count of open transactions must agree: after a
                            // failed COMMIT that SQLite rolled back itself, its ROLLBACK fails
                            // and the count stays up, and every later write transaction
                            // would be refused.
                            if sqlx::Connection::is_in_transaction(&*conn) {
                                tracing::warn!("closing a store connection whose driver still counts a failed transaction");
                                return Ok(false);
                            }
                            Ok(true)
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "closing a store connection left inside a failed transaction");
                            Ok(false)
                        }
                    }
                })
            })
            .connect(&sqlite_url(&path, "rwc"))
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = AnyPoolOptions::new()
            .max_connections(options.connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                let pragmas = pragmas.clone();
                Box::pin(async move {
                    conn.execute(pragmas.as_str()).await?;
                    Ok(())
                })
            })
            .connect(&sqlite_url(&path, "ro"))
            .await?;
        let store = Self::new(writer, reader, Dialect::Sqlite, &options);
        checkpointer(path, Arc::downgrade(&store.alive));
        store.recount().await?;
        Ok(store)
    }

    /// Connects to PostgreSQL (`postgres://...`) and applies migrations.
    pub async fn connect_postgres(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(options.connections.max(2) * 2)
            .acquire_timeout(options.busy_timeout.max(Duration::from_secs(1)))
            .connect(url)
            .await?;
        // Replicas starting together must not race on migrations.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        analyze(&pool).await;
        let store = Self::new(pool.clone(), pool, Dialect::Postgres, &options);
        let counted = store.recount().await?;
        let jobs =
            counted.pending + counted.in_flight + counted.done + counted.dead + counted.superseded;
        store
            .growth
            .analyzed
            .store(jobs, std::sync::atomic::Ordering::Relaxed);
        Ok(store)
    }

    fn new(writer: AnyPool, reader: AnyPool, dialect: Dialect, options: &StoreOptions) -> Self {
        Self {
            writer,
            reader,
            dialect,
            instance: options.instance.as_str().into(),
            sql: Arc::new(Sql::new(dialect)),
            ingest: Arc::default(),
            deferrals: Arc::default(),
            claims_unsynced: dialect == Dialect::Sqlite && options.synchronous_full,
            handoff: Arc::default(),
            alive: Arc::default(),
            growth: Arc::default(),
            counters: Arc::new(Counters::new(options.recount_every.unwrap_or(
                match dialect {
                    Dialect::Sqlite => RECOUNT_SQLITE,
                    Dialect::Postgres => RECOUNT_POSTGRES,
                },
            ))),
            aging: options.aging,
        }
    }

    /// Tells the engine the store may hold claimable jobs it has not seen.
    fn store_dirty(&self) {
        if let Some(handoff) = self.handoff() {
            handoff.mark_store_dirty();
        }
    }

    /// Tells the engine the store may hold claimable jobs ordered at `key` or later.
    fn store_dirty_from(&self, key: i64) {
        if let Some(handoff) = self.handoff() {
            handoff.mark_store_dirty_from(key);
        }
    }

    /// A write transaction. SQLite's takes the write lock at once (`BEGIN IMMEDIATE`): one that
    /// starts with a read and writes later fails at once, without waiting, when another
    /// connection wrote in between.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.writer.begin().await,
        }
    }

    /// Commits a transaction whose changes of job state `tally` counts (see [`crate::counts`]).
    async fn commit_counted(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Any>,
        tally: &Tally,
    ) -> Result<(), sqlx::Error> {
        let held = self.counters.hold().await;
        match tx.commit().await {
            Ok(()) => {
                held.apply(tally);
                Ok(())
            }
            Err(e) => {
                held.unsure();
                Err(e)
            }
        }
    }

    /// The engine's hand-off buffer, once one runs.
    fn handoff(&self) -> Option<Arc<Handoff>> {
        lock(&self.handoff).clone()
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    fn bind_filter<'q>(
        &self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        f: &'q JobFilter,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        let state = f.state.map(JobState::as_str);
        let priority = f.priority.map(|p| p as i64);
        let since = f.since.map(ms);
        let before = f.before.map(ms);
        let replayed = f.replayed.map(i64::from);
        q = q.bind(state).bind(state);
        q = q.bind(f.target.as_deref()).bind(f.target.as_deref());
        q = q
            .bind(f.fingerprint.as_deref())
            .bind(f.fingerprint.as_deref());
        q = q
            .bind(f.error_kind.as_deref())
            .bind(f.error_kind.as_deref());
        q = q.bind(priority).bind(priority);
        q = q.bind(since).bind(since);
        q = q.bind(before).bind(before);
        q.bind(replayed).bind(replayed).bind(replayed)
    }
}

fn record(row: &AnyRow) -> Result<JobRecord, sqlx::Error> {
    let payload: String = row.try_get("payload")?;
    let payload = serde_json::from_str::<JobPayload>(&payload).ok();
    let alertname = payload
        .as_ref()
        .map(|p| p.alert.name().to_owned())
        .unwrap_or_default();
    let status: String = row.try_get("status")?;
    let state: String = row.try_get("state")?;
    Ok(JobRecord {
        id: row.try_get("id")?,
        target: row.try_get("target")?,
        fingerprint: row.try_get("fingerprint")?,
        alertname,
        status: decode(&status)?,
        priority: Priority::from_i64(row.try_get("priority")?),
        state: decode(&state)?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        next_run_at: from_ms(row.try_get("next_run_at")?),
        last_error_kind: row.try_get("last_error_kind")?,
        last_error: row.try_get("last_error")?,
        last_status_code: row
            .try_get::<Option<i64>, _>("last_status_code")?
            .map(|c| c as u16),
        replayed_at: row.try_get::<Option<i64>, _>("replayed_at")?.map(from_ms),
        replayed_as: row.try_get("replayed_as")?,
        superseded_by: row.try_get("superseded_by")?,
        history: None,
        payload,
    })
}

/// Group commit: callers that arrive while a transaction is being written wait for it, and the
/// next transaction takes all of them at once (one sync for many requests).
#[derive(Debug)]
struct GroupCommit<T, R> {
    pending: std::sync::Mutex<Vec<Waiting<T, R>>>,
    writing: Arc<tokio::sync::Mutex<()>>,
}

impl<T, R> Default for GroupCommit<T, R> {
    fn default() -> Self {
        Self {
            pending: std::sync::Mutex::default(),
            writing: Arc::default(),
        }
    }
}

impl<T: Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    /// Adds `item` to the next transaction, which `write` applies to everything waiting (one
    /// result per item, in order), and waits for its result.
    async fn submit<W, F>(&self, item: T, write: W) -> Result<R, StoreError>
    where
        W: FnOnce(Vec<T>) -> F + Send + 'static,
        F: Future<Output = Result<Vec<R>, StoreError>> + Send + 'static,
    {
        let (reply, mut answer) = oneshot::channel();
        lock(&self.pending).push((item, reply));
        // Our item is written either by a transaction someone else starts (answered without
        // waiting for our own turn at the lock: callers queued behind it would each wait for
        // one more transaction) or by the one we start when we get the lock first.
        let writing = tokio::select! {
            biased;
            result = &mut answer => return result.unwrap_or_else(|_| Err(abandoned_transaction())),
            writing = Arc::clone(&self.writing).lock_owned() => writing,
        };
        let batch = std::mem::take(&mut *lock(&self.pending));
        if batch.is_empty() {
            drop(writing);
        } else {
            // Written by a task of its own: a caller that goes away (a client hanging up) must
            // not abort the transaction the others wait for.
            store_runtime().spawn(async move {
                let _writing = writing;
                let (items, replies): (Vec<T>, Vec<_>) = batch.into_iter().unzip();
                match write(items).await {
                    Ok(results) => {
                        for (reply, result) in replies.into_iter().zip(results) {
                            let _ = reply.send(Ok(result));
                        }
                    }
                    Err(e) => {
                        let e = Arc::new(e);
                        for reply in replies {
                            let _ = reply.send(Err(StoreError::Shared(Arc::clone(&e))));
                        }
                    }
                }
            });
        }
        answer
            .await
            .unwrap_or_else(|_| Err(abandoned_transaction()))
    }
}

fn abandoned_transaction() -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(
        "the transaction was abandoned".to_owned(),
    ))
}

/// An item waiting for the next group commit, and who waits for its result.
type Waiting<T, R> = (T, oneshot::Sender<Result<R, StoreError>>);

/// One caller's jobs and receipts for the next enqueue transaction, and when they arrived.
type Enqueue = (Vec<NewJob>, Vec<NewReceipt>, DateTime<Utc>);

/// Targets whose job was deduplicated, by (request, receipt index).
type Deduplicated<'a> = HashMap<(usize, usize), Vec<&'a str>>;

/// What the notification state says of one (target, fingerprint): target, fingerprint, last
/// status enqueued, when, vendor state.
type KnownPair = (String, String, String, i64, Option<String>);

/// A job handed back to the store until its rate-limit slot: (id, wake-up ms, now ms, priority).
type Deferral = (i64, i64, i64, Priority);

/// What the store knows about one (target, fingerprint) while an enqueue batch is applied.
#[derive(Debug)]
struct PairState {
    status: String,
    at: i64,
    /// Jobs of this pair may be waiting in the store (supersede them).
    may_wait: bool,
    /// Jobs this batch adds for the pair.
    added: usize,
    /// The request of the last job added (it is credited with the supersedes).
    request: usize,
    /// That job's priority.
    priority: Priority,
    /// What the target was told before (JSON), for jobs handed straight to the engine.
    vendor_state: Option<String>,
    /// A job of this pair is pending or in flight in the store.
    active: bool,
}

/// A job this batch adds.
#[derive(Debug)]
struct Insert<'a> {
    request: usize,
    job: &'a NewJob,
    now: i64,
    /// The job's priority boost (ms).
    boost: i64,
    delivery_key: String,
    /// Its payload, an index into the batch's distinct payloads (jobs of one alert to several
    /// targets share one).
    body: usize,
    /// Written as claimed by this process and handed to the engine after commit.
    handed_off: bool,
}

impl SqlStore {
    /// Applies several callers' enqueues in one transaction; one report per caller.
    async fn enqueue_batch(&self, requests: &[Enqueue]) -> Result<Vec<EnqueueReport>, StoreError> {
        let mut reports = vec![EnqueueReport::default(); requests.len()];
        // One lock order for every transaction (PostgreSQL row locks); the sort is stable, so
        // arrival order is kept per key.
        let mut jobs: Vec<(usize, i64, &NewJob)> = requests
            .iter()
            .enumerate()
            .flat_map(|(i, (jobs, _, now))| jobs.iter().map(move |j| (i, ms(*now), j)))
            .collect();
        jobs.sort_by(|a, b| pair_of(a.2).cmp(&pair_of(b.2)));
        let mut pairs: Vec<(&str, &str)> = jobs.iter().map(|(_, _, j)| pair_of(j)).collect();
        pairs.dedup();
        // Where each key is in `pairs`, so rows read back map to the caller's strings.
        let position: HashMap<(&str, &str), usize> =
            pairs.iter().enumerate().map(|(i, p)| (*p, i)).collect();

        let mut tx = self.begin_write().await?;
        let mut known: HashMap<(&str, &str), PairState> = HashMap::with_capacity(pairs.len());
        for chunk in pairs.chunks(CHUNK) {
            if self.dialect == Dialect::Postgres {
                // Rows to lock, so replicas enqueueing the same alert take turns.
                let sql = numbered(
                    self.dialect,
                    &format!(
                        "INSERT INTO notification_state (target, fingerprint, last_status, last_enqueued_at) VALUES {} \
                     ON CONFLICT (target, fingerprint) DO NOTHING",
                        rows("(?, ?, '', 0)", chunk.len())
                    ),
                );
                let mut q = chunk_query(&sql, chunk.len());
                for (t, f) in chunk {
                    q = q.bind(*t).bind(*f);
                }
                q.execute(&mut *tx).await?;
            }
            let for_update = if self.dialect == Dialect::Postgres {
                " ORDER BY n.target, n.fingerprint FOR UPDATE OF n"
            } else {
                ""
            };
            // A join on the key: SQLite answers `(a, b) IN (VALUES …)` with a scan. SQLite's
            // rows come back as one aggregated row (see `claim_sqlite`): a notification that
            // repeats a thousand alerts to four targets would otherwise hand over 4,000.
            let columns =
                "n.target, n.fingerprint, n.last_status, n.last_enqueued_at, n.vendor_state";
            let what = if self.dialect == Dialect::Sqlite {
                format!("json_group_array(json_array({columns}))")
            } else {
                columns.to_owned()
            };
            let sql = numbered(
                self.dialect,
                &format!(
                    "SELECT {what} FROM (VALUES {}) AS v JOIN notification_state n \
                     ON n.target = v.column1 AND n.fingerprint = v.column2{for_update}",
                    rows("(?, ?)", chunk.len())
                ),
            );
            let mut q = chunk_query(&sql, chunk.len());
            for (t, f) in chunk {
                q = q.bind(*t).bind(*f);
            }
            let found: Vec<KnownPair> = if self.dialect == Dialect::Sqlite {
                let list: String = q.fetch_one(&mut *tx).await?.try_get(0)?;
                serde_json::from_str(&list).map_err(|e| sqlx::Error::Decode(Box::new(e)))?
            } else {
                q.fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|row| {
                        Ok((
                            row.try_get("target")?,
                            row.try_get("fingerprint")?,
                            row.try_get("last_status")?,
                            row.try_get("last_enqueued_at")?,
                            row.try_get("vendor_state")?,
                        ))
                    })
                    .collect::<Result<_, sqlx::Error>>()?
            };
            for (target, fingerprint, status, at, vendor_state) in found {
                let Some(&i) = position.get(&(target.as_str(), fingerprint.as_str())) else {
                    continue;
                };
                known.insert(
                    pairs[i],
                    PairState {
                        may_wait: !status.is_empty(),
                        status,
                        at,
                        added: 0,
                        request: 0,
                        priority: Priority::Low,
                        vendor_state,
                        active: false,
                    },
                );
            }
        }

        let mut inserts: Vec<Insert<'_>> = Vec::with_capacity(jobs.len());
        let mut deduplicated: Deduplicated<'_> = HashMap::new();
        // The batch's distinct payloads, serialized once each, and which they are by alert.
        let mut bodies: Vec<String> = Vec::new();
        let mut bodies_of: HashMap<&str, Vec<(&JobPayload, usize)>> = HashMap::new();
        for (request, now_ms, job) in &jobs {
            let status = job.payload.alert.status.as_str();
            let state = known.entry(pair_of(job)).or_insert_with(|| PairState {
                status: String::new(),
                at: 0,
                may_wait: false,
                added: 0,
                request: 0,
                priority: Priority::Low,
                vendor_state: None,
                active: false,
            });
            if job.notifies() {
                let within_repeat = now_ms - state.at < dur_ms(job.repeat_interval);
                if state.status == status && (status == "resolved" || within_repeat) {
                    reports[*request].count(job.priority, Submission::Deduplicated, 1);
                    if let Some(receipt) = job.receipt {
                        deduplicated
                            .entry((*request, receipt))
                            .or_default()
                            .push(job.target.as_str());
                    }
                    continue;
                }
                status.clone_into(&mut state.status);
                state.at = *now_ms;
                state.added += 1;
                state.request = *request;
                state.priority = job.priority;
            }
            // An acknowledgement changes nothing of the pair's state: it is not a newer
            // notification (it replaces nothing, and a repeat of the firing alert is still
            // deduplicated against the last one).
            let same = bodies_of
                .entry(job.payload.alert.fingerprint.as_str())
                .or_default();
            let body = match same.iter().find(|(p, _)| **p == job.payload) {
                Some(&(_, body)) => body,
                None => {
                    bodies.push(serde_json::to_string(&job.payload)?);
                    same.push((&job.payload, bodies.len() - 1));
                    bodies.len() - 1
                }
            };
            inserts.push(Insert {
                request: *request,
                job,
                now: *now_ms,
                boost: dur_ms(job.priority.boost(&self.aging)),
                delivery_key: delivery_key(),
                body,
                handed_off: false,
            });
        }
        let handoff = self.handoff();
        let granted = match &handoff {
            Some(handoff) => {
                self.choose_handoff(&mut tx, &mut known, &mut inserts, handoff)
                    .await?
            }
            None => 0,
        };
        // The first claim order among the jobs written pending: the engine need not ask the
        // store while what it holds in memory goes ahead of them.
        let pending_from = inserts.iter().filter(|i| !i.handed_off).map(sort_key).min();
        let inserted = inserts.len();
        // From here on the granted places are given back whatever happens.
        let lease = handoff.as_ref().map(|h| dur_ms(h.lease()));
        let written = self
            .write_enqueue(
                tx,
                &known,
                (&inserts, &bodies),
                (requests, &deduplicated),
                lease,
                &mut reports,
            )
            .await;
        if let Some(handoff) = &handoff {
            let ready = match &written {
                Ok(ids) => ready_jobs(inserts, &bodies, ids, &known),
                Err(_) => Vec::new(),
            };
            handoff.fill(granted, ready);
        }
        written?;
        self.note_growth(inserted);
        if let Some(key) = pending_from {
            self.store_dirty_from(key);
        }
        Ok(reports)
    }

    /// Writes deferrals in one transaction.
    async fn defer_batch(&self, items: &[Deferral]) -> Result<Vec<()>, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut tally = Tally::default();
        for &(id, at_ms, now_ms, priority) in items {
            let deferred = sqlx::query(&self.sql.defer)
                .bind(now_ms)
                .bind(at_ms)
                .bind(id)
                .bind(&*self.instance)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deferred > 0 {
                tally.in_flight(-1);
                tally.pending(priority, 1);
            }
        }
        self.commit_counted(tx, &tally).await?;
        self.store_dirty();
        Ok(vec![(); items.len()])
    }

    /// Marks the jobs of this batch that may go at once and fit in the hand-off buffer: the
    /// newest of each alert and target, when nothing of that alert is pending or in flight,
    /// highest priority first. Returns how many places the buffer granted.
    async fn choose_handoff(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        known: &mut HashMap<(&str, &str), PairState>,
        inserts: &mut [Insert<'_>],
        handoff: &Handoff,
    ) -> Result<usize, StoreError> {
        // Pairs seen before may still have a job waiting or in flight.
        let seen: Vec<(&str, &str)> = known
            .iter()
            .filter(|(_, s)| s.added > 0 && s.may_wait)
            .map(|(k, _)| *k)
            .collect();
        let position: HashMap<(&str, &str), usize> =
            seen.iter().enumerate().map(|(i, p)| (*p, i)).collect();
        for chunk in seen.chunks(CHUNK) {
            let sql =
                self.active_jobs_of_alerts(chunk.len(), "DISTINCT j.target, j.fingerprint", "");
            let mut q = chunk_query(&sql, chunk.len());
            for (t, f) in chunk {
                q = q.bind(*t).bind(*f);
            }
            for row in q.fetch_all(&mut **tx).await? {
                let target: String = row.try_get(0)?;
                let fingerprint: String = row.try_get(1)?;
                if let Some(&i) = position.get(&(target.as_str(), fingerprint.as_str()))
                    && let Some(state) = known.get_mut(&seen[i])
                {
                    state.active = true;
                }
            }
        }
        // The newest insert of each pair (inserts are in arrival order per pair). An
        // acknowledgement is never handed off: it goes through the store's claim, which lets it
        // go only after the pair's earlier jobs.
        let mut newest: HashMap<(&str, &str), usize> = HashMap::with_capacity(inserts.len());
        for (i, ins) in inserts.iter().enumerate() {
            if ins.job.notifies() {
                newest.insert(pair_of(ins.job), i);
            }
        }
        let mut eligible: Vec<usize> = newest
            .into_iter()
            .filter(|(pair, _)| known.get(pair).is_some_and(|s| !s.active))
            .map(|(_, i)| i)
            .collect();
        let granted = handoff.reserve(eligible.len());
        if granted < eligible.len() {
            eligible.sort_by_key(|&i| (sort_key(&inserts[i]), i));
        }
        for &i in eligible.iter().take(granted) {
            inserts[i].handed_off = true;
        }
        Ok(granted)
    }

    /// Writes the jobs, supersedes older waiting ones, updates the notification state and
    /// commits. Returns the id of each inserted job by delivery key.
    async fn write_enqueue(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        known: &HashMap<(&str, &str), PairState>,
        (inserts, bodies): (&[Insert<'_>], &[String]),
        (requests, deduplicated): (&[Enqueue], &Deduplicated<'_>),
        lease: Option<i64>,
        reports: &mut [EnqueueReport],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let receipts = self
            .write_receipts(&mut tx, requests, deduplicated, reports)
            .await?;
        // The jobs, in arrival order per key: ids grow in VALUES order.
        let mut ids: HashMap<String, i64> = HashMap::with_capacity(inserts.len());
        // SQLite's driver passes result rows between threads one at a time: its ids come back
        // in one row after the inserts instead (the writer is alone, so every job above the
        // highest id before them is one of them).
        let sqlite = self.dialect == Dialect::Sqlite;
        // The payloads' ids: SQLite's writer is alone, so it numbers them on from the highest;
        // PostgreSQL takes them from the sequence.
        let (before, payload_ids): (i64, Vec<i64>) = if sqlite {
            let row = sqlx::query(
                "SELECT (SELECT COALESCE(MAX(id), 0) FROM jobs), (SELECT COALESCE(MAX(id), 0) FROM payloads)",
            )
            .fetch_one(&mut *tx)
            .await?;
            let last: i64 = row.try_get(1)?;
            (
                row.try_get(0)?,
                (last + 1..=last + bodies.len() as i64).collect(),
            )
        } else {
            let ids = sqlx::query(
                "SELECT nextval(pg_get_serial_sequence('payloads', 'id')) FROM generate_series(1, $1)",
            )
            .bind(bodies.len() as i64)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
            (0, ids)
        };
        let payloads: Vec<(i64, &str)> = payload_ids
            .iter()
            .copied()
            .zip(bodies.iter().map(String::as_str))
            .collect();
        self.execute_chunked(
            &mut tx,
            "INSERT INTO payloads (id, body) VALUES {rows}",
            "(?, ?)",
            &payloads,
            |q, (id, body)| q.bind(*id).bind(*body),
        )
        .await?;
        for chunk in inserts.chunks(CHUNK) {
            let sql = numbered(
                self.dialect,
                &format!(
                    "INSERT INTO jobs (delivery_key, target, fingerprint, status, priority, state, attempts, sort_key, \
                 created_at, updated_at, next_run_at, payload, payload_id, lease_until, lease_owner, receipt_id) VALUES {}{}",
                    rows(
                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?)",
                        chunk.len()
                    ),
                    if sqlite {
                        ""
                    } else {
                        " RETURNING id, delivery_key"
                    }
                ),
            );
            let mut q = chunk_query(&sql, chunk.len());
            for ins in chunk {
                let alert = &ins.job.payload.alert;
                let (state, attempts, lease_until, owner) = match lease {
                    Some(lease) if ins.handed_off => (
                        "in_flight",
                        1i64,
                        Some(ins.now + lease),
                        Some(&*self.instance),
                    ),
                    _ => ("pending", 0, None, None),
                };
                q = q
                    .bind(ins.delivery_key.as_str())
                    .bind(ins.job.target.as_str())
                    .bind(alert.fingerprint.as_str())
                    .bind(alert.status.as_str())
                    .bind(ins.job.priority as i64)
                    .bind(state)
                    .bind(attempts)
                    .bind(sort_key(ins))
                    .bind(ins.now)
                    .bind(ins.now)
                    .bind(ins.now)
                    .bind(payload_ids[ins.body])
                    .bind(lease_until)
                    .bind(owner)
                    .bind(
                        ins.job
                            .receipt
                            .and_then(|r| receipts.get(&(ins.request, r)).copied()),
                    );
            }
            if sqlite {
                q.execute(&mut *tx).await?;
            } else {
                for row in q.fetch_all(&mut *tx).await? {
                    ids.insert(row.try_get("delivery_key")?, row.try_get("id")?);
                }
            }
        }
        if sqlite {
            let list: Option<String> = sqlx::query(
                "SELECT group_concat(id || ':' || delivery_key) FROM jobs WHERE id > ?",
            )
            .bind(before)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            for (id, key) in list
                .iter()
                .flat_map(|l| l.split(','))
                .filter_map(|p| p.split_once(':'))
            {
                ids.insert(
                    key.to_owned(),
                    id.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                );
            }
        }
        let mut newest: HashMap<(&str, &str), i64> = HashMap::new();
        let mut tally = Tally::default();
        for ins in inserts {
            if lease.is_some() && ins.handed_off {
                tally.in_flight(1);
            } else {
                tally.pending(ins.job.priority, 1);
            }
            let id = *ids.get(&ins.delivery_key).ok_or_else(|| {
                StoreError::Database(sqlx::Error::Protocol(
                    "an inserted job was not returned".to_owned(),
                ))
            })?;
            reports[ins.request].count(ins.job.priority, Submission::Inserted, 1);
            reports[ins.request].ids.push(id);
            if ins.job.notifies() {
                newest.insert(pair_of(ins.job), id);
            }
        }

        // Older waiting jobs of the same alert and target are replaced by the newest one. Only
        // pairs that had jobs before or got several now can have any.
        for (pair, state) in known {
            if state.added == 0 || !(state.may_wait || state.added > 1) {
                continue;
            }
            let Some(&id) = newest.get(pair) else {
                continue;
            };
            let superseded = sqlx::query(&self.sql.supersede)
                .bind(id)
                .bind(state.at)
                .bind(pair.0)
                .bind(pair.1)
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            for row in &superseded {
                tally.pending(Priority::from_i64(row.try_get(0)?), -1);
            }
            tally.superseded(superseded.len() as i64);
            reports[state.request].count(state.priority, Submission::Superseded, superseded.len());
        }

        let changed: Vec<(&(&str, &str), &PairState)> =
            known.iter().filter(|(_, s)| s.added > 0).collect();
        self.execute_chunked(
            &mut tx,
            "INSERT INTO notification_state (target, fingerprint, last_status, last_enqueued_at) VALUES {rows} \
             ON CONFLICT (target, fingerprint) DO UPDATE SET last_status = excluded.last_status, \
             last_enqueued_at = excluded.last_enqueued_at",
            "(?, ?, ?, ?)",
            &changed,
            |q, ((t, f), s)| q.bind(*t).bind(*f).bind(s.status.as_str()).bind(s.at),
        )
        .await?;
        self.commit_counted(tx, &tally).await?;
        Ok(ids)
    }

    /// Records many outcomes (and their attempts) in one transaction, with multi-row
    /// statements for the common cases.
    async fn complete_batch(
        &self,
        items: &[Finished],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        let now_ms = ms(now);
        let owner = &*self.instance;
        let mut recorded = vec![false; items.len()];
        let mut delivered: BTreeMap<Option<i64>, Vec<usize>> = BTreeMap::new();
        let mut failed = Vec::new();
        for (i, f) in items.iter().enumerate() {
            match &f.completion {
                Completion::Delivered { status_code, .. } => delivered
                    .entry(status_code.map(i64::from))
                    .or_default()
                    .push(i),
                Completion::Retry { .. } | Completion::Dead { .. } => failed.push(i),
            }
        }
        let mut tx = self.begin_write().await?;
        let sqlite = self.dialect == Dialect::Sqlite;
        for (code, indices) in &delivered {
            for chunk in indices.chunks(CHUNK) {
                if sqlite {
                    // The jobs still ours, in one row (SQLite's driver passes result rows
                    // between threads one at a time); the update below changes exactly these.
                    let sql = format!(
                        "SELECT group_concat(id) FROM jobs WHERE state = 'in_flight' AND lease_owner = ? AND id IN ({})",
                        rows("?", chunk.len())
                    );
                    let mut q = chunk_query(&sql, chunk.len()).bind(owner);
                    for &i in chunk {
                        q = q.bind(items[i].job.id);
                    }
                    let list: Option<String> = q.fetch_one(&mut *tx).await?.try_get(0)?;
                    let ours: HashSet<i64> = list
                        .iter()
                        .flat_map(|l| l.split(','))
                        .filter_map(|id| id.parse().ok())
                        .collect();
                    for &i in chunk {
                        recorded[i] = ours.contains(&items[i].job.id);
                    }
                }
                let sql = numbered(
                    self.dialect,
                    &format!(
                        "UPDATE jobs SET state = 'done', lease_until = NULL, lease_owner = NULL, updated_at = ?, \
                     last_status_code = ? WHERE state = 'in_flight' AND lease_owner = ? AND id IN ({}){}",
                        rows("?", chunk.len()),
                        if sqlite { "" } else { " RETURNING id" }
                    ),
                );
                let mut q = chunk_query(&sql, chunk.len())
                    .bind(now_ms)
                    .bind(*code)
                    .bind(owner);
                for &i in chunk {
                    q = q.bind(items[i].job.id);
                }
                if sqlite {
                    q.execute(&mut *tx).await?;
                    continue;
                }
                let done: HashSet<i64> = q
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<i64, _>(0))
                    .collect::<Result<_, _>>()?;
                for &i in chunk {
                    recorded[i] = done.contains(&items[i].job.id);
                }
            }
        }
        // What each target was last told: one statement per status for the plain deliveries,
        // one per delivery that brought vendor state.
        let mut plain: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, f) in items.iter().enumerate() {
            let Completion::Delivered { vendor_state, .. } = &f.completion else {
                continue;
            };
            if !recorded[i] {
                continue;
            }
            match vendor_state {
                None => plain.entry(f.job.status.as_str()).or_default().push(i),
                Some(vendor_state) => {
                    sqlx::query(&self.sql.delivered_state)
                        .bind(f.job.status.as_str())
                        .bind(now_ms)
                        .bind(vendor_state.as_str())
                        .bind(f.job.target.as_str())
                        .bind(f.job.fingerprint.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        for (status, indices) in &plain {
            for chunk in indices.chunks(CHUNK) {
                let sql = numbered(
                    self.dialect,
                    &format!(
                        "UPDATE notification_state SET last_delivered_status = ?, last_delivered_at = ? \
                         FROM (VALUES {}) AS v \
                         WHERE notification_state.target = v.column1 AND notification_state.fingerprint = v.column2",
                        rows("(?, ?)", chunk.len())
                    ),
                );
                let mut q = chunk_query(&sql, chunk.len()).bind(*status).bind(now_ms);
                for &i in chunk {
                    q = q
                        .bind(items[i].job.target.as_str())
                        .bind(items[i].job.fingerprint.as_str());
                }
                q.execute(&mut *tx).await?;
            }
        }
        // A failed attempt: back to pending at `next_run_at` (retry) or dead.
        for &i in &failed {
            let f = &items[i];
            let (state, at, failure, progress) = match &f.completion {
                Completion::Retry {
                    at,
                    failure,
                    vendor_state,
                } => ("pending", Some(ms(*at)), failure, vendor_state.as_deref()),
                Completion::Dead { failure } => ("dead", None, failure, None),
                Completion::Delivered { .. } => continue,
            };
            recorded[i] = sqlx::query(&self.sql.failed)
                .bind(state)
                .bind(now_ms)
                .bind(at)
                .bind(failure.kind.as_str())
                .bind(failure.reason.as_str())
                .bind(failure.status_code.map(i64::from))
                .bind(f.job.id)
                .bind(owner)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            // What the failed attempt achieved, for its retry (only while the job is ours).
            if let Some(vendor_state) = progress
                && recorded[i]
            {
                sqlx::query(&self.sql.progress_state)
                    .bind(vendor_state)
                    .bind(f.job.target.as_str())
                    .bind(f.job.fingerprint.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        // The audit trail: every attempt, also those whose lease was lost.
        let attempts: Vec<(&Finished, bool)> = items.iter().zip(recorded.iter().copied()).collect();
        self.execute_chunked(
            &mut tx,
            "INSERT INTO attempts (job_id, attempt, at, outcome, status_code, latency_ms, error_kind, error) VALUES {rows}",
            "(?, ?, ?, ?, ?, ?, ?, ?)",
            &attempts,
            |q, (f, recorded)| {
                let (outcome, code, kind, reason) = match &f.completion {
                    Completion::Delivered { status_code, .. } => {
                        ("delivered", status_code.map(i64::from), None, None)
                    }
                    Completion::Retry { failure, .. } => (
                        "retry",
                        failure.status_code.map(i64::from),
                        Some(failure.kind.as_str()),
                        Some(failure.reason.as_str()),
                    ),
                    Completion::Dead { failure } => (
                        "dead",
                        failure.status_code.map(i64::from),
                        Some(failure.kind.as_str()),
                        Some(failure.reason.as_str()),
                    ),
                };
                q.bind(f.job.id)
                    .bind(i64::from(f.job.attempt))
                    .bind(now_ms)
                    .bind(if *recorded { outcome } else { "lease_lost" })
                    .bind(code)
                    .bind(dur_ms(f.latency))
                    .bind(kind)
                    .bind(reason)
            },
        )
        .await?;
        // Retries wait in the store, and a finished job may have held back a later one of the
        // same alert: tell the engine to look when either happened.
        let mut claimable = !failed.is_empty();
        if !claimable && self.handoff().is_some() {
            claimable = self.any_waiting(&mut tx, items).await?;
        }
        let mut tally = Tally::default();
        for (f, _) in items.iter().zip(&recorded).filter(|(_, r)| **r) {
            tally.in_flight(-1);
            match &f.completion {
                Completion::Delivered { .. } => tally.done(1),
                Completion::Retry { .. } => tally.pending(f.job.priority, 1),
                Completion::Dead { .. } => tally.dead(&f.job.target, 1),
            }
        }
        self.commit_counted(tx, &tally).await?;
        if claimable {
            self.store_dirty();
        }
        Ok(recorded)
    }
}

impl SqlStore {
    /// Whether a job of the alert and target of any of `items` is pending.
    async fn any_waiting(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        items: &[Finished],
    ) -> Result<bool, StoreError> {
        for chunk in items.chunks(CHUNK) {
            let sql =
                self.active_jobs_of_alerts(chunk.len(), "1", " AND j.state = 'pending' LIMIT 1");
            let mut q = chunk_query(&sql, chunk.len());
            for f in chunk {
                q = q
                    .bind(f.job.target.as_str())
                    .bind(f.job.fingerprint.as_str());
            }
            if q.fetch_optional(&mut **tx).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `SELECT {what}` over the pending and in-flight jobs of `n` alerts (bind target and
    /// fingerprint of each), further limited by `and`.
    fn active_jobs_of_alerts(&self, n: usize, what: &str, and: &str) -> String {
        numbered(
            self.dialect,
            &format!(
                "SELECT {what} FROM (VALUES {}) AS v JOIN jobs j{} \
                 ON j.target = v.column1 AND j.fingerprint = v.column2 \
                 WHERE j.state IN ('pending', 'in_flight'){and}",
                rows("(?, ?)", n),
                active_order_hint(self.dialect)
            ),
        )
    }

    fn claim_query(
        &self,
        limit: usize,
        now: DateTime<Utc>,
        lease: Duration,
        before: Option<i64>,
    ) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
        let now_ms = ms(now);
        sqlx::query(&self.sql.claim)
            .bind(now_ms + dur_ms(lease))
            .bind(&*self.instance)
            .bind(now_ms)
            .bind(now_ms)
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    }

    /// A SQLite claim. With synchronous commits, it is committed without waiting for the
    /// disk. A claim lost in a power cut
    /// changes nothing: the single process that owns the file puts every in-flight job back
    /// at start-up, and the next synced commit makes the claim durable along with it. It
    /// saves one disk sync between an alert's arrival and its delivery.
    ///
    /// The claim picks the jobs, marks them and reads them back, one result row per step, in
    /// one `BEGIN IMMEDIATE` transaction (no other writer in between): SQLite's driver passes
    /// result rows between threads one at a time, so a claim that returned a row per job spent
    /// most of its time handing them over.
    async fn claim_sqlite(
        &self,
        limit: usize,
        now: DateTime<Utc>,
        lease: Duration,
        before: Option<i64>,
    ) -> Result<Vec<Job>, StoreError> {
        let conn = self.writer.acquire().await?;
        // Closed, not handed back to the pool, if this is dropped before synced commits are
        // restored (a caller that goes away half way).
        let mut guard = Unsynced(Some(conn));
        let conn = guard.0.as_mut().ok_or_else(abandoned)?;
        if self.claims_unsynced {
            conn.execute("PRAGMA synchronous = NORMAL").await?;
        }
        conn.execute("BEGIN IMMEDIATE").await?;
        let claimed = self.claim_steps(conn, limit, now, lease, before).await;
        let held = self.counters.hold().await;
        let ended = conn
            .execute(if claimed.is_ok() {
                "COMMIT"
            } else {
                "ROLLBACK"
            })
            .await;
        match (&claimed, &ended) {
            (Ok(jobs), Ok(_)) => held.apply(&claimed_tally(jobs)),
            (Ok(_), Err(_)) => held.unsure(),
            (Err(_), _) => drop(held),
        }
        let restored = if self.claims_unsynced {
            conn.execute("PRAGMA synchronous = FULL").await.map(|_| ())
        } else {
            Ok(())
        };
        match (&ended, &restored) {
            (Ok(_), Ok(())) => drop(guard.0.take()),
            (Err(e), _) | (_, Err(e)) => {
                warn!(error = %e, "cannot end a claim cleanly; reopening the connection");
            }
        }
        let jobs = claimed?;
        ended?;
        Ok(jobs)
    }

    /// The three steps of [`SqlStore::claim_sqlite`].
    async fn claim_steps(
        &self,
        conn: &mut sqlx::AnyConnection,
        limit: usize,
        now: DateTime<Utc>,
        lease: Duration,
        before: Option<i64>,
    ) -> Result<Vec<Job>, StoreError> {
        let now_ms = ms(now);
        let ids: String = sqlx::query(&self.sql.claim_pick)
            .bind(now_ms)
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        if ids == "[]" {
            return Ok(Vec::new());
        }
        sqlx::query(&self.sql.claim_mark)
            .bind(now_ms + dur_ms(lease))
            .bind(&*self.instance)
            .bind(now_ms)
            .bind(ids.as_str())
            .execute(&mut *conn)
            .await?;
        let rows: String = sqlx::query(&self.sql.claim_read)
            .bind(ids.as_str())
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        type Claimed = (
            i64,
            String,
            String,
            String,
            String,
            i64,
            i64,
            i64,
            i64,
            String,
        );
        let rows: Vec<Claimed> =
            serde_json::from_str(&rows).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        rows.into_iter()
            .map(
                |(
                    id,
                    delivery_key,
                    target,
                    fingerprint,
                    status,
                    priority,
                    attempts,
                    created_at,
                    sort_key,
                    payload,
                )| {
                    Ok(Job {
                        id,
                        delivery_key,
                        target,
                        fingerprint,
                        status: decode(&status)?,
                        priority: Priority::from_i64(priority),
                        attempt: attempts as u32,
                        created_at: from_ms(created_at),
                        sort_key,
                        payload,
                        vendor_state: None,
                    })
                },
            )
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

impl SqlStore {
    /// Deletes the payloads in `range` (the lowest and highest payload of the jobs just
    /// deleted) that no job points at any more: a replay shares its dead letter's payload, and
    /// the jobs of one alert to several targets share theirs.
    async fn delete_orphan_payloads(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        range: &AnyRow,
    ) -> Result<(), sqlx::Error> {
        let (Some(low), Some(high)) = (
            range.try_get::<Option<i64>, _>(0)?,
            range.try_get::<Option<i64>, _>(1)?,
        ) else {
            return Ok(());
        };
        sqlx::query(&self.sql.orphan_payloads)
            .bind(low)
            .bind(high)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// What claiming `jobs` changed: pending to in flight.
fn claimed_tally(jobs: &[Job]) -> Tally {
    let mut tally = Tally::default();
    for job in jobs {
        tally.pending(job.priority, -1);
    }
    tally.in_flight(jobs.len() as i64);
    tally
}

/// How the jobs grew since PostgreSQL's statistics of them were refreshed.
#[derive(Debug, Default)]
struct Growth {
    /// Jobs inserted since.
    since: std::sync::atomic::AtomicU64,
    /// Jobs there were then.
    analyzed: std::sync::atomic::AtomicU64,
    /// A refresh runs.
    running: std::sync::atomic::AtomicBool,
}

/// Jobs inserted before the statistics are refreshed, at least (and at least half as many as
/// there were at the last refresh).
const ANALYZE_AFTER: u64 = 1_000;

impl SqlStore {
    /// PostgreSQL: counts `inserted` jobs and refreshes the statistics in the background once
    /// the jobs have grown by half since the last refresh (and by at least [`ANALYZE_AFTER`]).
    /// With the statistics of a near-empty table the planner checks each pending job's
    /// predecessors by scanning: a claim among 8,000 pending jobs took seconds, and the
    /// engine waited for autovacuum (up to a minute) to notice the table had grown.
    fn note_growth(&self, inserted: usize) {
        use std::sync::atomic::Ordering;
        if self.dialect != Dialect::Postgres || inserted == 0 {
            return;
        }
        let growth = &self.growth;
        let since = growth.since.fetch_add(inserted as u64, Ordering::AcqRel) + inserted as u64;
        let analyzed = growth.analyzed.load(Ordering::Acquire);
        if since < ANALYZE_AFTER.max(analyzed / 2) || growth.running.swap(true, Ordering::AcqRel) {
            return;
        }
        growth.since.fetch_sub(since, Ordering::AcqRel);
        growth.analyzed.store(analyzed + since, Ordering::Release);
        let store = self.clone();
        tokio::spawn(async move {
            analyze(&store.writer).await;
            store.growth.running.store(false, Ordering::Release);
        });
    }
}

/// Refreshes PostgreSQL's statistics of the queue tables. Without them the planner takes the
/// pending jobs for a handful and sorts all of them on every claim instead of walking the
/// claim-order index; autovacuum alone lags behind a queue that fills in seconds.
async fn analyze(pool: &AnyPool) {
    if let Err(e) = pool
        .execute("ANALYZE jobs, notification_state, receipts, alert_labels")
        .await
    {
        warn!(error = %e, "refreshing the queue tables' statistics failed");
    }
}

/// A writer connection in a state it must not go back to the pool in (commits not synced, a
/// transaction open): dropped with it still inside, it is closed rather than returned.
struct Unsynced(Option<sqlx::pool::PoolConnection<sqlx::Any>>);

impl Drop for Unsynced {
    fn drop(&mut self) {
        if let Some(conn) = self.0.as_mut() {
            conn.close_on_drop();
        }
    }
}

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Copies committed pages from the WAL into the database file (`PRAGMA wal_checkpoint(PASSIVE)`)
/// on a connection of its own, while the store is alive. SQLite would otherwise checkpoint
/// inside whichever commit crosses the threshold, and that commit (and every write queued
/// behind it) would wait for the copy and the sync of the database file. A passive checkpoint
/// never blocks the writer or readers.
fn checkpointer(path: std::path::PathBuf, alive: std::sync::Weak<()>) {
    use sqlx::Connection as _;
    store_runtime().spawn(async move {
        let mut conn = match sqlx::AnyConnection::connect(&sqlite_url(&path, "rw")).await {
            Ok(conn) => conn,
            Err(e) => {
                warn!(error = %e, "cannot open the checkpoint connection; commits checkpoint the WAL themselves");
                return;
            }
        };
        let mut failing = false;
        while alive.strong_count() > 0 {
            tokio::time::sleep(CHECKPOINT_EVERY).await;
            match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_optional(&mut conn)
                .await
            {
                Ok(_) => failing = false,
                Err(e) => {
                    if !failing {
                        warn!(error = %e, "WAL checkpoint failed; retrying");
                    }
                    failing = true;
                }
            }
        }
        conn.close().await.ok();
    });
}

/// A runtime on a thread of its own for the store's write transactions: the many short
/// round trips of a transaction to the database thread do not queue behind delivery tasks.
fn store_runtime() -> tokio::runtime::Handle {
    static RT: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("store runtime");
        let handle = rt.handle().clone();
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || rt.block_on(std::future::pending::<()>()))
            .expect("store thread");
        handle
    })
    .clone()
}

fn abandoned() -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(
        "the connection was abandoned".to_owned(),
    ))
}

fn pair_of(job: &NewJob) -> (&str, &str) {
    (job.target.as_str(), job.payload.alert.fingerprint.as_str())
}

/// Claim order of a new job: its arrival minus its priority's boost.
fn sort_key(ins: &Insert<'_>) -> i64 {
    ins.now - ins.boost
}

/// The handed-off jobs of a committed batch, as a claim would have returned them.
fn ready_jobs(
    inserts: Vec<Insert<'_>>,
    bodies: &[String],
    ids: &HashMap<String, i64>,
    known: &HashMap<(&str, &str), PairState>,
) -> Vec<Ready> {
    let stored = std::time::Instant::now();
    inserts
        .into_iter()
        .filter(|ins| ins.handed_off)
        .filter_map(|ins| {
            let id = *ids.get(&ins.delivery_key)?;
            let alert = &ins.job.payload.alert;
            let vendor_state = known
                .get(&pair_of(ins.job))
                .and_then(|s| s.vendor_state.clone());
            let key = sort_key(&ins);
            Some(Ready {
                sort_key: key,
                delivery: publish::Delivery {
                    id: ins.delivery_key.clone(),
                    alert: alert.clone(),
                    context: ins.job.payload.context.clone(),
                    attempt: 1,
                    vendor_state: vendor_state
                        .as_deref()
                        .and_then(|s| serde_json::from_str(s).ok()),
                    action: ins.job.payload.action,
                },
                job: Job {
                    id,
                    delivery_key: ins.delivery_key,
                    target: ins.job.target.clone(),
                    fingerprint: alert.fingerprint.as_str().to_owned(),
                    status: alert.status,
                    priority: ins.job.priority,
                    attempt: 1,
                    created_at: from_ms(ins.now),
                    sort_key: key,
                    payload: bodies[ins.body].clone(),
                    vendor_state,
                },
                stored,
            })
        })
        .collect()
}

impl SqlStore {
    /// Jobs by state (and pending ones by priority), counted.
    /// Takes the job counts from the store (see [`crate::counts`]): a snapshot taken while no
    /// counted commit is in progress, counted while commits go on.
    async fn recount(&self) -> Result<QueueStats, StoreError> {
        let _one = self.counters.recounting().await;
        let started = std::time::Instant::now();
        let mut tx = self.reader.begin().await?;
        let snapshot = {
            let _gate = self.counters.exclusive().await;
            let taken = self.take_snapshot(&mut tx).await;
            if taken.is_ok() {
                self.counters.snapshot_taken();
            }
            taken
        };
        let counted = match snapshot {
            Ok(()) => self.count_in(&mut tx).await,
            Err(e) => Err(e),
        };
        let _ = tx.rollback().await;
        match counted {
            Ok(tally) => Ok(self
                .counters
                .counted(Some(tally), started.elapsed())
                .unwrap_or_default()),
            Err(e) => {
                self.counters.counted(None, started.elapsed());
                Err(e)
            }
        }
    }

    /// Fixes what the transaction reads from here on (its first read).
    async fn take_snapshot(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<(), StoreError> {
        if self.dialect == Dialect::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query("SELECT 1 FROM jobs LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
        Ok(())
    }

    /// Counts the jobs by state (reads every job).
    async fn count_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<Tally, StoreError> {
        let rows = sqlx::query(&self.sql.stats).fetch_all(&mut **tx).await?;
        let mut tally = Tally::default();
        for row in rows {
            let state: String = row.try_get("state")?;
            let priority = Priority::from_i64(row.try_get("priority")?);
            let n = row.try_get::<i64, _>("n")?;
            match state.parse::<JobState>() {
                Ok(JobState::Pending) => tally.pending(priority, n),
                Ok(JobState::InFlight) => tally.in_flight(n),
                Ok(JobState::Done) => tally.done(n),
                Ok(JobState::Dead) => tally.dead(&row.try_get::<String, _>("target")?, n),
                Ok(JobState::Superseded) => tally.superseded(n),
                Err(_) => {}
            }
        }
        Ok(tally)
    }

    /// Recounts in the background (at most one waiting), for a status answer that found the
    /// counts older than the recount period.
    fn recount_soon(&self) {
        if !self.counters.schedule() {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            if let Err(e) = store.recount().await {
                warn!(error = %e, "cannot recount the jobs by state; the counts shown may be stale");
            }
            store.counters.scheduled_done();
        });
    }

    /// After an operation that moved many jobs without a tally: the counts are taken again
    /// before it returns. A failed recount is retried by the next status request.
    async fn recount_after(&self) {
        if let Err(e) = self.recount().await {
            warn!(error = %e, "cannot recount the jobs by state; the counts shown may be stale");
        }
    }
}

/// A dead letter a replay looks at.
#[derive(Debug)]
struct Candidate {
    id: i64,
    delivery_key: String,
    target: String,
    fingerprint: String,
    status: String,
    priority: i64,
    died_at: i64,
    /// A notification, not an acknowledgement: only a notification is a newer status of its
    /// alert.
    notifies: bool,
}

impl Candidate {
    fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            delivery_key: row.try_get("delivery_key")?,
            target: row.try_get("target")?,
            fingerprint: row.try_get("fingerprint")?,
            status: row.try_get("status")?,
            priority: row.try_get("priority")?,
            notifies: notifies(&row.try_get::<String, _>("payload")?),
            died_at: row.try_get("updated_at")?,
        })
    }

    fn same_alert(&self, other: &Self) -> bool {
        self.target == other.target && self.fingerprint == other.fingerprint
    }
}

/// Whether a stored payload notifies (an unreadable one counts as a notification: it then
/// holds back older dead letters rather than letting them overwrite it).
fn notifies(payload: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Action {
        #[serde(default)]
        action: publish::DeliveryAction,
    }
    serde_json::from_str::<Action>(payload).map_or(true, |a| a.action.is_notify())
}

/// What a replay does with one dead letter.
#[derive(Debug)]
enum Verdict {
    /// Sent again as a new pending job.
    Replay,
    /// Left alone: a newer notification exists (why).
    Refused(String),
    /// Not sent: the newer dead letter of its alert at this index of the candidates is
    /// replayed in its place. Marked replayed so that it is not offered again.
    Superseded(usize),
}

impl SqlStore {
    /// Why dead letter `c` must not be replayed, if it must not: a later job of its alert is
    /// waiting or in flight, a later notification of it is a dead letter not replayed yet, or
    /// a later one was delivered after `c` died (jobs of an alert are delivered in order).
    async fn newer_than(
        &self,
        conn: &mut sqlx::AnyConnection,
        c: &Candidate,
    ) -> Result<Option<String>, StoreError> {
        let newer = sqlx::query(&self.sql.newer_job)
            .bind(c.target.as_str())
            .bind(c.fingerprint.as_str())
            .bind(c.target.as_str())
            .bind(c.fingerprint.as_str())
            .bind(c.id)
            .fetch_one(&mut *conn)
            .await?;
        if let Some(waiting) = newer.try_get::<Option<i64>, _>("waiting")? {
            return Ok(Some(format!("job {waiting} is waiting")));
        }
        let dead = sqlx::query(&self.sql.newer_dead)
            .bind(c.target.as_str())
            .bind(c.fingerprint.as_str())
            .bind(c.id)
            .fetch_all(&mut *conn)
            .await?;
        for row in dead {
            if notifies(&row.try_get::<String, _>("payload")?) {
                let id: i64 = row.try_get("id")?;
                return Ok(Some(format!(
                    "dead letter {id} is newer: replay that one instead"
                )));
            }
        }
        Ok(match newer.try_get::<Option<i64>, _>("delivered_at")? {
            Some(at) if at >= c.died_at => {
                Some(format!("one was delivered at {}", from_ms(at).to_rfc3339()))
            }
            _ => None,
        })
    }
}

#[async_trait]
impl JobStore for SqlStore {
    async fn enqueue(
        &self,
        jobs: Vec<NewJob>,
        now: DateTime<Utc>,
    ) -> Result<EnqueueReport, StoreError> {
        self.enqueue_with_receipts(Vec::new(), jobs, now).await
    }

    async fn enqueue_with_receipts(
        &self,
        receipts: Vec<NewReceipt>,
        jobs: Vec<NewJob>,
        now: DateTime<Utc>,
    ) -> Result<EnqueueReport, StoreError> {
        let store = self.clone();
        self.ingest
            .submit((jobs, receipts, now), move |requests| async move {
                metrics::histogram!(crate::metrics::ENQUEUE_BATCH_REQUESTS)
                    .record(requests.len() as f64);
                store.enqueue_batch(&requests).await
            })
            .await
    }

    fn attach_handoff(&self, handoff: Arc<Handoff>) {
        *lock(&self.handoff) = Some(handoff);
    }

    fn detach_handoff(&self, handoff: &Arc<Handoff>) {
        let mut current = lock(&self.handoff);
        if current.as_ref().is_some_and(|h| Arc::ptr_eq(h, handoff)) {
            *current = None;
        }
    }

    async fn claim_ahead_of(
        &self,
        limit: usize,
        now: DateTime<Utc>,
        lease: Duration,
        before: Option<i64>,
    ) -> Result<Vec<Job>, StoreError> {
        let mut jobs = if self.dialect == Dialect::Sqlite {
            self.claim_sqlite(limit, now, lease, before).await?
        } else {
            // One statement, committed on its own: counted as it returns.
            let held = self.counters.hold().await;
            let rows = match self
                .claim_query(limit, now, lease, before)
                .fetch_all(&self.writer)
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    held.unsure();
                    return Err(e.into());
                }
            };
            let jobs = rows
                .iter()
                .map(|row| {
                    let status: String = row.try_get("status")?;
                    Ok(Job {
                        id: row.try_get("id")?,
                        delivery_key: row.try_get("delivery_key")?,
                        target: row.try_get("target")?,
                        fingerprint: row.try_get("fingerprint")?,
                        status: decode(&status)?,
                        priority: Priority::from_i64(row.try_get("priority")?),
                        attempt: row.try_get::<i64, _>("attempts")? as u32,
                        created_at: from_ms(row.try_get("created_at")?),
                        sort_key: row.try_get("sort_key")?,
                        payload: row.try_get("payload")?,
                        vendor_state: None,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>();
            match jobs {
                Ok(jobs) => {
                    held.apply(&claimed_tally(&jobs));
                    jobs
                }
                Err(e) => {
                    held.unsure();
                    return Err(e.into());
                }
            }
        };
        jobs.sort_by_key(|job| (job.sort_key, job.id));
        // What each target was told before (message ids and the like), for the claimed jobs.
        for chunk in jobs.chunks_mut(CHUNK) {
            let sql = numbered(
                self.dialect,
                &format!(
                    "SELECT j.id, n.vendor_state FROM jobs j JOIN notification_state n \
                     ON n.target = j.target AND n.fingerprint = j.fingerprint \
                     WHERE j.id IN ({}) AND n.vendor_state IS NOT NULL",
                    rows("?", chunk.len())
                ),
            );
            let mut q = chunk_query(&sql, chunk.len());
            for job in chunk.iter() {
                q = q.bind(job.id);
            }
            for row in q.fetch_all(&self.writer).await? {
                let id: i64 = row.try_get(0)?;
                if let Some(job) = chunk.iter_mut().find(|j| j.id == id) {
                    job.vendor_state = row.try_get(1)?;
                }
            }
        }
        Ok(jobs)
    }

    async fn complete(
        &self,
        job: &Job,
        completion: Completion,
        latency: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let item = Finished {
            job: job.clone(),
            completion,
            latency,
        };
        Ok(self
            .complete_batch(std::slice::from_ref(&item), now)
            .await?
            .first()
            .copied()
            .unwrap_or(false))
    }

    async fn complete_many(
        &self,
        items: &[Finished],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        let store = self.clone();
        let items = items.to_vec();
        store_runtime()
            .spawn(async move { store.complete_batch(&items, now).await })
            .await
            .unwrap_or_else(|_| Err(abandoned()))
    }

    async fn defer(
        &self,
        job: &Job,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Round the wake-up time up: a deferred job must not wake a fraction of a millisecond
        // before its rate-limit slot and be deferred a whole period again.
        let at_ms = (at.timestamp_micros() + 999).div_euclid(1000);
        // A storm defers hundreds of jobs at once: they share transactions, so the claims that
        // bring them back at their slots do not queue behind one disk sync per job.
        let store = self.clone();
        self.deferrals
            .submit(
                (job.id, at_ms, ms(now), job.priority),
                move |items| async move { store.defer_batch(&items).await },
            )
            .await
    }

    async fn requeue_in_flight(&self, now: DateTime<Utc>, all: bool) -> Result<u64, StoreError> {
        let now_ms = ms(now);
        let q = if all {
            sqlx::query(&self.sql.requeue_all)
                .bind(now_ms)
                .bind(now_ms)
                .bind(now_ms)
        } else {
            sqlx::query(&self.sql.requeue_expired)
                .bind(now_ms)
                .bind(now_ms)
                .bind(now_ms)
                .bind(now_ms)
        };
        let n = q.execute(&self.writer).await?.rows_affected();
        if n > 0 {
            self.recount_after().await;
            self.store_dirty();
        }
        Ok(n)
    }

    fn exclusive(&self) -> bool {
        self.dialect == Dialect::Sqlite
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        // On the writer: its page cache stays warm (a reader's is dropped on every write), and
        // the engine asks this often.
        let row = sqlx::query(&self.sql.next_due)
            .fetch_optional(&self.writer)
            .await?;
        Ok(row
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?
            .map(from_ms))
    }

    async fn stats(&self) -> Result<QueueStats, StoreError> {
        // Counters, never a count of the jobs (see `crate::counts`).
        match self.counters.read() {
            Some((stats, false)) => Ok(stats),
            Some((stats, true)) => {
                self.recount_soon();
                Ok(stats)
            }
            None => self.recount().await,
        }
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, StoreError> {
        let q = self.bind_filter(sqlx::query(&self.sql.list), filter);
        let rows = q
            .bind(i64::from(filter.limit.unwrap_or(100).min(1000)))
            .bind(i64::from(filter.offset.unwrap_or(0)))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(record).collect::<Result<_, _>>()?)
    }

    async fn get(&self, id: i64) -> Result<Option<JobRecord>, StoreError> {
        let Some(row) = sqlx::query(&self.sql.get)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
        else {
            return Ok(None);
        };
        let mut rec = record(&row)?;
        let attempts = sqlx::query(&self.sql.history)
            .bind(id)
            .fetch_all(&self.reader)
            .await?;
        rec.history = Some(
            attempts
                .iter()
                .map(|r| {
                    Ok(Attempt {
                        attempt: r.try_get::<i64, _>("attempt")? as u32,
                        at: from_ms(r.try_get("at")?),
                        outcome: r.try_get("outcome")?,
                        status_code: r
                            .try_get::<Option<i64>, _>("status_code")?
                            .map(|c| c as u16),
                        latency_ms: r.try_get::<i64, _>("latency_ms")? as u64,
                        error_kind: r.try_get("error_kind")?,
                        error: r.try_get("error")?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()?,
        );
        Ok(Some(rec))
    }

    async fn replay(
        &self,
        filter: &JobFilter,
        now: DateTime<Utc>,
    ) -> Result<ReplayReport, StoreError> {
        let now_ms = ms(now);
        let filter = JobFilter {
            state: Some(JobState::Dead),
            replayed: Some(false),
            ..filter.clone()
        };
        let mut report = ReplayReport::default();
        let mut tx = self.begin_write().await?;
        let rows = match &filter.ids {
            Some(ids) => {
                let mut rows = Vec::with_capacity(ids.len());
                let mut seen = HashSet::with_capacity(ids.len());
                for id in ids.iter().filter(|id| seen.insert(**id)) {
                    match sqlx::query(&self.sql.replay_by_id)
                        .bind(*id)
                        .fetch_optional(&mut *tx)
                        .await?
                    {
                        Some(row) => rows.push(row),
                        None => report.skipped.push((
                            *id,
                            "no dead letter with this id that was not replayed already".to_owned(),
                        )),
                    }
                }
                rows
            }
            None => {
                self.bind_filter(sqlx::query(&self.sql.replay_candidates), &filter)
                    .bind(i64::from(filter.limit.unwrap_or(1000).min(10_000)))
                    .fetch_all(&mut *tx)
                    .await?
            }
        };
        let mut candidates = rows
            .iter()
            .map(Candidate::read)
            .collect::<Result<Vec<_>, _>>()?;
        // The dead letters of each alert and target together, newest first. Every verdict is
        // reached before anything is written, so a replay made by this call is never taken for
        // a newer notification than the dead letters it supersedes.
        candidates.sort_by(|a, b| {
            (&a.target, &a.fingerprint, std::cmp::Reverse(a.id)).cmp(&(
                &b.target,
                &b.fingerprint,
                std::cmp::Reverse(b.id),
            ))
        });
        let mut verdicts: Vec<Verdict> = Vec::with_capacity(candidates.len());
        // The newest notification among the alert's candidates looked at so far.
        let mut newest: Option<usize> = None;
        for (i, c) in candidates.iter().enumerate() {
            report.targets.insert(c.id, c.target.clone());
            if i > 0 && !c.same_alert(&candidates[i - 1]) {
                newest = None;
            }
            let verdict = match newest {
                Some(n) => match verdicts[n] {
                    Verdict::Replay => Verdict::Superseded(n),
                    _ => Verdict::Refused(format!("dead letter {} is newer", candidates[n].id)),
                },
                None => match self.newer_than(&mut tx, c).await? {
                    Some(why) => Verdict::Refused(why),
                    None => Verdict::Replay,
                },
            };
            if c.notifies && newest.is_none() {
                newest = Some(i);
            }
            verdicts.push(verdict);
        }

        // Replays in the order the dead letters were first stored.
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        order.sort_by_key(|&i| candidates[i].id);
        let mut new_ids: HashMap<usize, i64> = HashMap::new();
        for &i in &order {
            if !matches!(verdicts[i], Verdict::Replay) {
                continue;
            }
            let c = &candidates[i];
            let new_id: i64 = sqlx::query(&self.sql.replay_insert)
                .bind(c.delivery_key.as_str())
                .bind(c.target.as_str())
                .bind(c.fingerprint.as_str())
                .bind(c.status.as_str())
                .bind(c.priority)
                .bind(now_ms - dur_ms(Priority::from_i64(c.priority).boost(&self.aging)))
                .bind(now_ms)
                .bind(now_ms)
                .bind(now_ms)
                .bind(c.id)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            sqlx::query(&self.sql.replay_mark)
                .bind(now_ms)
                .bind(new_id)
                .bind(c.id)
                .execute(&mut *tx)
                .await?;
            new_ids.insert(i, new_id);
            report.replayed.push((c.id, new_id));
        }
        for &i in &order {
            let c = &candidates[i];
            match &verdicts[i] {
                Verdict::Replay => {}
                Verdict::Refused(why) => report.skipped.push((
                    c.id,
                    format!(
                        "a newer notification for this alert and target exists ({why}); \
                         replaying would send an outdated status"
                    ),
                )),
                Verdict::Superseded(n) => {
                    let (newer, new_id) = (candidates[*n].id, new_ids[n]);
                    sqlx::query(&self.sql.replay_supersede)
                        .bind(now_ms)
                        .bind(new_id)
                        .bind(newer)
                        .bind(c.id)
                        .execute(&mut *tx)
                        .await?;
                    report.skipped.push((
                        c.id,
                        format!(
                            "dead letter {newer} of the same alert and target is newer and was \
                             replayed in its place as job {new_id}; this one is marked replayed"
                        ),
                    ));
                }
            }
        }
        report.skipped.sort_by_key(|(id, _)| *id);
        tx.commit().await?;
        if !report.replayed.is_empty() {
            self.recount_after().await;
            self.store_dirty();
        }
        Ok(report)
    }

    async fn purge(&self, filter: &JobFilter) -> Result<u64, StoreError> {
        let filter = JobFilter {
            state: Some(JobState::Dead),
            ..filter.clone()
        };
        let mut tx = self.begin_write().await?;
        self.bind_filter(sqlx::query(&self.sql.purge_attempts), &filter)
            .execute(&mut *tx)
            .await?;
        let payloads = self
            .bind_filter(sqlx::query(&self.sql.purge_payloads), &filter)
            .fetch_one(&mut *tx)
            .await?;
        let n = self
            .bind_filter(sqlx::query(&self.sql.purge), &filter)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        self.delete_orphan_payloads(&mut tx, &payloads).await?;
        tx.commit().await?;
        if n > 0 {
            self.recount_after().await;
        }
        Ok(n)
    }

    async fn sweep(
        &self,
        finished_before: DateTime<Utc>,
        dead_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let latest = ms(finished_before.max(dead_before));
        // The three cutoffs of `SWEEP`, for each statement over the swept jobs.
        let swept = |sql| {
            sqlx::query(sql)
                .bind(latest)
                .bind(ms(finished_before))
                .bind(ms(dead_before))
        };
        let mut tx = self.begin_write().await?;
        swept(&self.sql.sweep_attempts).execute(&mut *tx).await?;
        let payloads = swept(&self.sql.sweep_payloads).fetch_one(&mut *tx).await?;
        let n = swept(&self.sql.sweep)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        self.delete_orphan_payloads(&mut tx, &payloads).await?;
        // Receipts whose jobs are all gone (or that had none: filtered out, deduplicated).
        self.sweep_receipts(&mut tx, ms(finished_before)).await?;
        tx.commit().await?;
        if n > 0 {
            self.recount_after().await;
        }
        if self.dialect == Dialect::Postgres {
            analyze(&self.writer).await;
        }
        Ok(n)
    }

    async fn history(&self, filter: &HistoryFilter) -> Result<HistoryPage, StoreError> {
        self.history_page(filter).await
    }

    async fn story(&self, fingerprint: &str) -> Result<Option<AlertStory>, StoreError> {
        self.alert_story(fingerprint).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query(&self.sql.ping).execute(&self.reader).await?;
        Ok(())
    }

    async fn append_sample(
        &self,
        series: &str,
        sample: &StoredSample,
        keep_after: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.append_stats_sample(series, sample, keep_after).await
    }

    async fn samples(
        &self,
        series: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<StoredSample>, StoreError> {
        self.stats_samples(series, since).await
    }
}
