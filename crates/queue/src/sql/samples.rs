//! Small time series the service keeps in the store (the stats service's trend history): one
//! row per sample, written with one insert and one bounded delete per sample.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{SqlStore, from_ms, ms, numbered};
use crate::{StoreError, StoredSample};

/// Adds a sample; a second sample of the same series and millisecond replaces the first.
const APPEND: &str = "INSERT INTO stats_samples (series, at, sample) VALUES (?, ?, ?) \
    ON CONFLICT (series, at) DO UPDATE SET sample = excluded.sample";
/// Retention: the series' samples before the cutoff (a range of the primary key).
const TRIM: &str = "DELETE FROM stats_samples WHERE series = ? AND at < ?";
/// The series from a time on, oldest first (a range of the primary key).
const SINCE: &str = "SELECT at, sample FROM stats_samples WHERE series = ? AND at >= ? ORDER BY at";

impl SqlStore {
    pub(super) async fn append_stats_sample(
        &self,
        series: &str,
        sample: &StoredSample,
        keep_after: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&numbered(self.dialect, APPEND))
            .bind(series)
            .bind(ms(sample.at))
            .bind(sample.body.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(&numbered(self.dialect, TRIM))
            .bind(series)
            .bind(ms(keep_after))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn stats_samples(
        &self,
        series: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<StoredSample>, StoreError> {
        let rows = sqlx::query(&numbered(self.dialect, SINCE))
            .bind(series)
            .bind(ms(since))
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredSample {
                    at: from_ms(r.try_get::<i64, _>("at")?),
                    body: r.try_get("sample")?,
                })
            })
            .collect()
    }
}
