//! Notification history: "where did my alert go?" Every notification an alert caused, where
//! it was routed or filtered out and why, and each delivery's attempts (recorded by ingest with
//! the jobs, see [`queue::JobStore::history`]).

use queue::{AlertStory, HistoryFilter, HistoryPage};

use crate::{Error, Result, Service};

impl Service {
    /// Notifications matching `filter`, newest first, one page.
    pub async fn alert_history(&self, filter: &HistoryFilter) -> Result<HistoryPage> {
        self.store
            .history(filter)
            .await
            .map_err(|e| Error::store(&e))
    }

    /// One alert's story. Unknown fingerprints (or swept by retention) are
    /// [`crate::ErrorKind::NotFound`].
    pub async fn alert_story(&self, fingerprint: &str) -> Result<AlertStory> {
        self.store
            .story(fingerprint)
            .await
            .map_err(|e| Error::store(&e))?
            .ok_or_else(|| Error::not_found(format!("no notification of alert {fingerprint:?} is recorded")))
    }
}
