//! Notification history on SQL: receipts written in the enqueue transaction (one multi-row
//! insert per 200 alerts, ids assigned before the insert so the jobs can name them), the
//! newest-first list with its filters, and one alert's story.
//!
//! Indexes (migration `receipts`): `(received_at, id)`, `(alertname, received_at, id)`,
//! `(fingerprint, received_at, id)` on receipts and `(receipt_id)` on jobs. A list walks one
//! of the first three newest first and stops at the page size; label, target and state
//! conditions are checked per receipt on the way (a label by substring of the stored JSON
//! object, a target or state by the receipt's jobs).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sqlx::{Row, any::AnyRow};

use super::{CHUNK, Dialect, Enqueue, SqlStore, chunk_query, from_ms, ms, numbered, rows};
use crate::{
    AlertStory, Attempt, Cursor, DeliveryState, DeliveryStory, EnqueueReport, FilteredTarget,
    HistoryFilter, HistoryPage, JobState, Notification, NotificationStory, STORY_LIMIT, StoreError,
    TargetDelivery,
};

/// Retention: receipts older than the cutoff for finished jobs that no job points at any more.
const SWEEP_RECEIPTS: &str = "DELETE FROM receipts WHERE received_at < ? \
    AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.receipt_id = receipts.id) RETURNING fingerprint";

/// A label filter matching at most this many alerts is answered through their fingerprints
/// (`alert_labels`); one matching more walks the receipts newest first, where matches are
/// frequent enough to fill a page soon.
const FEW_ALERTS: usize = 500;

const RECEIPT_COLUMNS: &str = "r.id, r.fingerprint, r.alertname, r.status, r.labels, r.annotations, \
    r.received_at, r.source, r.receiver, r.group_key, r.filtered, r.deduplicated";

/// A bind value of a query built from a filter.
enum Bind {
    Text(String),
    Int(i64),
}

/// `"key":"value"` as the stored JSON object holds it (serde_json's compact form): a substring
/// that only an equal label matches (quotes inside a label are escaped as `\"`).
fn label_needle(key: &str, value: &str) -> String {
    format!(
        "{}:{}",
        serde_json::Value::from(key),
        serde_json::Value::from(value)
    )
}

fn json_err(e: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

/// A receipt row, without its deliveries.
fn receipt(row: &AnyRow) -> Result<(Notification, BTreeMap<String, String>), sqlx::Error> {
    let status: String = row.try_get("status")?;
    let labels: String = row.try_get("labels")?;
    let annotations: String = row.try_get("annotations")?;
    let filtered: String = row.try_get("filtered")?;
    let deduplicated: String = row.try_get("deduplicated")?;
    let filtered: Vec<(String, String)> = serde_json::from_str(&filtered).map_err(json_err)?;
    Ok((
        Notification {
            receipt_id: row.try_get("id")?,
            fingerprint: row.try_get("fingerprint")?,
            alertname: row.try_get("alertname")?,
            status: super::decode(&status)?,
            labels: serde_json::from_str(&labels).map_err(json_err)?,
            received_at: from_ms(row.try_get("received_at")?),
            source: row.try_get("source")?,
            receiver: row.try_get("receiver")?,
            group_key: row.try_get("group_key")?,
            targets: Vec::new(),
            filtered: filtered
                .into_iter()
                .map(|(target, reason)| FilteredTarget { target, reason })
                .collect(),
            deduplicated: serde_json::from_str(&deduplicated).map_err(json_err)?,
        },
        serde_json::from_str(&annotations).map_err(json_err)?,
    ))
}

/// A job of a receipt, as the history reads it.
struct JobRow {
    id: i64,
    receipt_id: i64,
    target: String,
    state: JobState,
    attempts: u32,
    last_error: Option<String>,
    last_error_kind: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    next_run_at: DateTime<Utc>,
    superseded_by: Option<i64>,
    replayed_as: Option<i64>,
}

impl JobRow {
    fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let state: String = row.try_get("state")?;
        Ok(Self {
            id: row.try_get("id")?,
            receipt_id: row.try_get("receipt_id")?,
            target: row.try_get("target")?,
            state: super::decode(&state)?,
            attempts: row.try_get::<i64, _>("attempts")? as u32,
            last_error: row.try_get("last_error")?,
            last_error_kind: row.try_get("last_error_kind")?,
            created_at: from_ms(row.try_get("created_at")?),
            updated_at: from_ms(row.try_get("updated_at")?),
            next_run_at: from_ms(row.try_get("next_run_at")?),
            superseded_by: row.try_get("superseded_by")?,
            replayed_as: row.try_get("replayed_as")?,
        })
    }
}

/// The newest job per target of each notification, in order of their first job.
fn summarise(n: &mut Notification, jobs: &[&JobRow]) {
    for job in jobs {
        let delivery = TargetDelivery {
            target: job.target.clone(),
            state: DeliveryState::of(job.state),
            job_id: job.id,
            attempts: job.attempts,
            last_error: job.last_error.clone(),
            last_error_kind: job.last_error_kind.clone(),
            updated_at: job.updated_at,
        };
        match n.targets.iter_mut().find(|t| t.target == job.target) {
            Some(t) if t.job_id < job.id => *t = delivery,
            Some(_) => {}
            None => n.targets.push(delivery),
        }
    }
}

impl SqlStore {
    /// Writes the receipts of every request in the transaction; their ids by (request, index).
    pub(super) async fn write_receipts(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        requests: &[Enqueue],
        deduplicated: &HashMap<(usize, usize), Vec<&str>>,
        reports: &mut [EnqueueReport],
    ) -> Result<HashMap<(usize, usize), i64>, StoreError> {
        let all: Vec<(usize, usize, i64)> = requests
            .iter()
            .enumerate()
            .flat_map(|(r, (_, receipts, now))| (0..receipts.len()).map(move |i| (r, i, ms(*now))))
            .collect();
        let mut ids = HashMap::with_capacity(all.len());
        if all.is_empty() {
            return Ok(ids);
        }
        // Ids first, so the jobs can name them: SQLite's writer is alone (the next rowids are
        // the highest plus one, two, …); PostgreSQL draws them from the sequence.
        let assigned: Vec<i64> = match self.dialect {
            Dialect::Sqlite => {
                let max: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM receipts")
                    .fetch_one(&mut **tx)
                    .await?
                    .try_get(0)?;
                (1..=all.len() as i64).map(|i| max + i).collect()
            }
            Dialect::Postgres => sqlx::query(
                "SELECT nextval(pg_get_serial_sequence('receipts', 'id')) FROM generate_series(1, $1)",
            )
            .bind(all.len() as i64)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>(0))
            .collect::<Result<_, _>>()?,
        };
        self.write_alert_labels(tx, requests, &all).await?;
        for (chunk, chunk_ids) in all.chunks(CHUNK).zip(assigned.chunks(CHUNK)) {
            let sql = numbered(
                self.dialect,
                &format!(
                    "INSERT INTO receipts (id, fingerprint, alertname, status, labels, annotations, received_at, \
                     source, receiver, group_key, filtered, deduplicated) VALUES {}",
                    rows("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", chunk.len())
                ),
            );
            let mut q = chunk_query(&sql, chunk.len());
            for (&(r, i, at), &id) in chunk.iter().zip(chunk_ids) {
                let receipt = &requests[r].1[i];
                let filtered: Vec<(&str, &str)> = receipt
                    .filtered
                    .iter()
                    .map(|f| (f.target.as_str(), f.reason.as_str()))
                    .collect();
                let dedup = deduplicated.get(&(r, i)).map_or(&[][..], Vec::as_slice);
                q = q
                    .bind(id)
                    .bind(receipt.fingerprint.as_str())
                    .bind(receipt.alertname.as_str())
                    .bind(receipt.status.as_str())
                    .bind(serde_json::to_string(&receipt.labels)?)
                    .bind(serde_json::to_string(&receipt.annotations)?)
                    .bind(at)
                    .bind(receipt.source.as_str())
                    .bind(receipt.receiver.as_str())
                    .bind(receipt.group_key.as_str())
                    .bind(serde_json::to_string(&filtered)?)
                    .bind(serde_json::to_string(dedup)?);
                ids.insert((r, i), id);
                reports[r].receipts.push(id);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(ids)
    }

    /// Records the labels of the alerts of `all` that no receipt holds yet (the first
    /// notification of an alert, or the first since retention took its last one).
    async fn write_alert_labels(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        requests: &[Enqueue],
        all: &[(usize, usize, i64)],
    ) -> Result<(), StoreError> {
        let mut alerts: HashMap<&str, &BTreeMap<String, String>> = HashMap::new();
        for &(r, i, _) in all {
            let receipt = &requests[r].1[i];
            alerts.insert(receipt.fingerprint.as_str(), &receipt.labels);
        }
        let fingerprints: Vec<&str> = alerts.keys().copied().collect();
        for chunk in fingerprints.chunks(CHUNK) {
            let known = format!(
                "SELECT DISTINCT fingerprint FROM receipts WHERE fingerprint IN ({})",
                rows("?", chunk.len())
            );
            let sql = numbered(
                self.dialect,
                &match self.dialect {
                    // one aggregated row (see `SqlStore::enqueue_batch`)
                    Dialect::Sqlite => {
                        format!("SELECT json_group_array(fingerprint) FROM ({known})")
                    }
                    Dialect::Postgres => known,
                },
            );
            let mut q = chunk_query(&sql, chunk.len());
            for fp in chunk {
                q = q.bind(*fp);
            }
            let seen: Vec<String> = match self.dialect {
                Dialect::Sqlite => {
                    let list: String = q.fetch_one(&mut **tx).await?.try_get(0)?;
                    serde_json::from_str(&list).map_err(json_err)?
                }
                Dialect::Postgres => q
                    .fetch_all(&mut **tx)
                    .await?
                    .iter()
                    .map(|row| row.try_get::<String, _>(0))
                    .collect::<Result<_, _>>()?,
            };
            for fp in &seen {
                alerts.remove(fp.as_str());
            }
        }
        let labels: Vec<(&str, &str, &str)> = alerts
            .iter()
            .flat_map(|(fp, labels)| {
                labels
                    .iter()
                    .map(move |(k, v)| (k.as_str(), v.as_str(), *fp))
            })
            .collect();
        self.execute_chunked(
            tx,
            "INSERT INTO alert_labels (name, value, fingerprint) VALUES {rows} ON CONFLICT DO NOTHING",
            "(?, ?, ?)",
            &labels,
            |q, (k, v, fp)| q.bind(*k).bind(*v).bind(*fp),
        )
        .await?;
        Ok(())
    }

    /// Retention: the receipts no job points at any more, received before `before`, and the
    /// labels of the alerts left without any.
    pub(super) async fn sweep_receipts(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        before: i64,
    ) -> Result<(), StoreError> {
        let gone: Vec<String> = sqlx::query(&numbered(self.dialect, SWEEP_RECEIPTS))
            .bind(before)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;
        let mut gone: Vec<&str> = gone.iter().map(String::as_str).collect();
        gone.sort_unstable();
        gone.dedup();
        self.execute_chunked(
            tx,
            "DELETE FROM alert_labels WHERE fingerprint IN ({rows}) \
             AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.fingerprint = alert_labels.fingerprint)",
            "?",
            &gone,
            |q, fp| q.bind(*fp),
        )
        .await?;
        Ok(())
    }

    /// The fingerprints of the alerts with every label of `labels`, when there are at most
    /// [`FEW_ALERTS`]; `None` when there are more.
    async fn alerts_with_labels(
        &self,
        labels: &[(String, String)],
    ) -> Result<Option<Vec<String>>, StoreError> {
        let mut sql =
            "SELECT l.fingerprint FROM alert_labels l WHERE l.name = ? AND l.value = ?".to_owned();
        for _ in &labels[1..] {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM alert_labels m WHERE m.name = ? AND m.value = ? AND m.fingerprint = l.fingerprint)",
            );
        }
        sql.push_str(" LIMIT ?");
        let sql = numbered(self.dialect, &sql);
        let mut q = sqlx::query(&sql).persistent(false);
        for (k, v) in labels {
            q = q.bind(k.as_str()).bind(v.as_str());
        }
        let found: Vec<String> = q
            .bind(FEW_ALERTS as i64 + 1)
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;
        Ok((found.len() <= FEW_ALERTS).then_some(found))
    }

    /// The jobs of these receipts, oldest first.
    async fn jobs_of_receipts(&self, receipts: &[i64]) -> Result<Vec<JobRow>, StoreError> {
        let mut out = Vec::new();
        for chunk in receipts.chunks(CHUNK) {
            let sql = numbered(
                self.dialect,
                &format!(
                    "SELECT id, receipt_id, target, state, attempts, last_error, last_error_kind, created_at, \
                     updated_at, next_run_at, superseded_by, replayed_as FROM jobs WHERE receipt_id IN ({}) ORDER BY id",
                    rows("?", chunk.len())
                ),
            );
            let mut q = chunk_query(&sql, chunk.len());
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&self.reader).await? {
                out.push(JobRow::read(&row)?);
            }
        }
        out.sort_by_key(|j| j.id);
        Ok(out)
    }

    pub(super) async fn history_page(
        &self,
        filter: &HistoryFilter,
    ) -> Result<HistoryPage, StoreError> {
        let limit = filter.page_size();
        // Substring position (SQLite's LIKE ignores case).
        let position = match self.dialect {
            Dialect::Sqlite => "instr",
            Dialect::Postgres => "strpos",
        };
        let mut conditions: Vec<String> = Vec::new();
        let mut binds: Vec<Bind> = Vec::new();
        if let Some(name) = &filter.alertname {
            conditions.push("r.alertname = ?".to_owned());
            binds.push(Bind::Text(name.clone()));
        }
        if let Some(fp) = &filter.fingerprint {
            conditions.push("r.fingerprint = ?".to_owned());
            binds.push(Bind::Text(fp.clone()));
        }
        if let Some(since) = filter.since {
            conditions.push("r.received_at >= ?".to_owned());
            binds.push(Bind::Int(ms(since)));
        }
        if let Some(until) = filter.until {
            conditions.push("r.received_at < ?".to_owned());
            binds.push(Bind::Int(ms(until)));
        }
        if let Some(c) = filter.cursor {
            conditions.push("(r.received_at < ? OR (r.received_at = ? AND r.id < ?))".to_owned());
            binds.extend([
                Bind::Int(c.received_at),
                Bind::Int(c.received_at),
                Bind::Int(c.id),
            ]);
        }
        // Labels few alerts have: those alerts' receipts only.
        let mut by_fingerprint = filter.fingerprint.is_some();
        if !filter.labels.is_empty()
            && filter.fingerprint.is_none()
            && let Some(fingerprints) = self.alerts_with_labels(&filter.labels).await?
        {
            if fingerprints.is_empty() {
                return Ok(HistoryPage {
                    alerts: Vec::new(),
                    next_cursor: None,
                    limit,
                });
            }
            conditions.push(format!(
                "r.fingerprint IN ({})",
                rows("?", fingerprints.len())
            ));
            by_fingerprint = true;
            binds.extend(fingerprints.into_iter().map(Bind::Text));
        }
        for (k, v) in &filter.labels {
            conditions.push(format!("{position}(r.labels, ?) > 0"));
            binds.push(Bind::Text(label_needle(k, v)));
        }
        let quoted_target = filter
            .target
            .as_ref()
            .map(|t| serde_json::Value::from(t.as_str()).to_string());
        match filter.state {
            Some(DeliveryState::Deduplicated) => match &quoted_target {
                Some(t) => {
                    conditions.push(format!("{position}(r.deduplicated, ?) > 0"));
                    binds.push(Bind::Text(t.clone()));
                }
                None => conditions.push("r.deduplicated <> '[]'".to_owned()),
            },
            state => {
                // The newest job of a target (a replay's, when the dead letter was replayed).
                // The state is written as a literal (one of five words), so the planners see
                // that a partial index of jobs in that state holds the answer.
                let job_state = state.and_then(DeliveryState::job_state);
                // Asked per receipt on the way down the newest-first index (a page is found
                // after a few thousand at most); PostgreSQL would rather hash every job in the
                // state first (`OFFSET 0` keeps it a per-row probe of `jobs_receipt`).
                let mut job = "EXISTS (SELECT 1 FROM jobs j WHERE j.receipt_id = r.id".to_owned();
                let mut job_binds = Vec::new();
                if let Some(t) = &filter.target {
                    job.push_str(" AND j.target = ?");
                    job_binds.push(Bind::Text(t.clone()));
                }
                if let Some(state) = job_state {
                    job.push_str(&format!(
                        " AND j.state = '{}' AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.receipt_id = j.receipt_id \
                         AND k.target = j.target AND k.id > j.id)",
                        state.as_str()
                    ));
                }
                if self.dialect == Dialect::Postgres {
                    job.push_str(" OFFSET 0");
                }
                job.push(')');
                let job_binds_given = job_binds.len() + usize::from(job_state.is_some());
                if job_binds_given > 0 {
                    match (&quoted_target, state) {
                        (Some(t), None) => {
                            conditions
                                .push(format!("({job} OR {position}(r.deduplicated, ?) > 0)"));
                            binds.extend(job_binds);
                            binds.push(Bind::Text(t.clone()));
                        }
                        _ => {
                            conditions.push(job);
                            binds.extend(job_binds);
                        }
                    }
                }
            }
        }
        // SQLite without statistics would rather walk the newest-first index than gather a
        // few alerts' receipts and sort them.
        let hint = if by_fingerprint && self.dialect == Dialect::Sqlite {
            " INDEXED BY receipts_fingerprint"
        } else {
            ""
        };
        let conditions = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = numbered(
            self.dialect,
            &format!(
                "SELECT {RECEIPT_COLUMNS} FROM receipts r{hint} {conditions} \
                 ORDER BY r.received_at DESC, r.id DESC LIMIT ?"
            ),
        );
        let mut q = sqlx::query(&sql).persistent(false);
        for b in binds {
            q = match b {
                Bind::Text(s) => q.bind(s),
                Bind::Int(i) => q.bind(i),
            };
        }
        let rows = q.bind(limit as i64).fetch_all(&self.reader).await?;
        let mut alerts = rows
            .iter()
            .map(|row| receipt(row).map(|(n, _)| n))
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<i64> = alerts.iter().map(|n| n.receipt_id).collect();
        let jobs = self.jobs_of_receipts(&ids).await?;
        let mut by_receipt: HashMap<i64, Vec<&JobRow>> = HashMap::new();
        for job in &jobs {
            by_receipt.entry(job.receipt_id).or_default().push(job);
        }
        for n in &mut alerts {
            summarise(n, by_receipt.get(&n.receipt_id).map_or(&[], Vec::as_slice));
        }
        let next_cursor = (alerts.len() == limit)
            .then(|| alerts.last())
            .flatten()
            .map(|n| {
                Cursor {
                    received_at: ms(n.received_at),
                    id: n.receipt_id,
                }
                .encode()
            });
        Ok(HistoryPage {
            alerts,
            next_cursor,
            limit,
        })
    }

    pub(super) async fn alert_story(
        &self,
        fingerprint: &str,
    ) -> Result<Option<AlertStory>, StoreError> {
        let sql = numbered(
            self.dialect,
            &format!(
                "SELECT {RECEIPT_COLUMNS} FROM receipts r WHERE r.fingerprint = ? \
                 ORDER BY r.received_at DESC, r.id DESC LIMIT ?"
            ),
        );
        let found = sqlx::query(&sql)
            .bind(fingerprint)
            .bind(STORY_LIMIT as i64)
            .fetch_all(&self.reader)
            .await?;
        let mut receipts = found.iter().map(receipt).collect::<Result<Vec<_>, _>>()?;
        if receipts.is_empty() {
            return Ok(None);
        }
        let ids: Vec<i64> = receipts.iter().map(|(n, _)| n.receipt_id).collect();
        let jobs = self.jobs_of_receipts(&ids).await?;
        let job_ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
        let mut attempts: HashMap<i64, Vec<Attempt>> = HashMap::new();
        for chunk in job_ids.chunks(CHUNK) {
            let sql = numbered(
                self.dialect,
                &format!(
                    "SELECT job_id, attempt, at, outcome, status_code, latency_ms, error_kind, error FROM attempts \
                     WHERE job_id IN ({}) ORDER BY id",
                    rows("?", chunk.len())
                ),
            );
            let mut q = chunk_query(&sql, chunk.len());
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.reader).await? {
                attempts
                    .entry(r.try_get("job_id")?)
                    .or_default()
                    .push(Attempt {
                        attempt: r.try_get::<i64, _>("attempt")? as u32,
                        at: from_ms(r.try_get("at")?),
                        outcome: r.try_get("outcome")?,
                        status_code: r
                            .try_get::<Option<i64>, _>("status_code")?
                            .map(|c| c as u16),
                        latency_ms: r.try_get::<i64, _>("latency_ms")? as u64,
                        error_kind: r.try_get("error_kind")?,
                        error: r.try_get("error")?,
                    });
            }
        }
        let replay_of: HashMap<i64, i64> = jobs
            .iter()
            .filter_map(|j| j.replayed_as.map(|new| (new, j.id)))
            .collect();
        let mut by_receipt: HashMap<i64, Vec<&JobRow>> = HashMap::new();
        for job in &jobs {
            by_receipt.entry(job.receipt_id).or_default().push(job);
        }
        let (newest, annotations) = &receipts[0];
        let (alertname, labels, annotations) = (
            newest.alertname.clone(),
            newest.labels.clone(),
            annotations.clone(),
        );
        let notifications = receipts
            .iter_mut()
            .map(|(n, _)| {
                let jobs = by_receipt.get(&n.receipt_id).map_or(&[][..], Vec::as_slice);
                summarise(n, jobs);
                NotificationStory {
                    receipt: n.clone(),
                    deliveries: jobs
                        .iter()
                        .map(|j| DeliveryStory {
                            target: j.target.clone(),
                            job_id: j.id,
                            state: DeliveryState::of(j.state),
                            superseded_by: j.superseded_by,
                            replayed_as: j.replayed_as,
                            replay_of: replay_of.get(&j.id).copied(),
                            attempts: attempts.remove(&j.id).unwrap_or_default(),
                            retry_at: (j.state == JobState::Pending).then_some(j.next_run_at),
                            created_at: j.created_at,
                            updated_at: j.updated_at,
                        })
                        .collect(),
                }
            })
            .collect();
        Ok(Some(AlertStory {
            fingerprint: fingerprint.to_owned(),
            alertname,
            labels,
            annotations,
            notifications,
        }))
    }
}
