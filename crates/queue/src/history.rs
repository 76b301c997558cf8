//! Notification history: what the store records of each alert it receives (a receipt per
//! alert per request) and the two questions it answers — which notifications match a filter,
//! newest first, and one alert's whole story with every delivery and attempt.

use std::{collections::BTreeMap, fmt, str::FromStr};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use publish::AlertStatus;
use serde::{Deserialize, Serialize};

use crate::{Attempt, JobState};

/// Most notifications one page holds.
pub const MAX_LIMIT: usize = 500;
/// Notifications a page holds when the caller does not say.
pub const DEFAULT_LIMIT: usize = 50;
/// Most notifications an alert's story shows (the newest).
pub const STORY_LIMIT: usize = 200;

/// What to record of one alert received: written with its jobs, in their transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReceipt {
    /// The alert's fingerprint.
    pub fingerprint: String,
    /// Its `alertname` label (empty when it has none).
    pub alertname: String,
    /// Firing or resolved.
    pub status: AlertStatus,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
    /// Where it came from: `webhook`, `api`, `submit`.
    pub source: String,
    /// The Alertmanager receiver (or `api`).
    pub receiver: String,
    /// The Alertmanager group key (empty when none).
    pub group_key: String,
    /// Targets that did not take it, and why.
    pub filtered: Vec<FilteredTarget>,
}

/// A target that did not take an alert, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FilteredTarget {
    /// Target name.
    pub target: String,
    /// Why: `target disabled`, `severity "info" not allowed (critical)`, `matcher env!="dev"
    /// failed`, …
    pub reason: String,
}

/// Where a delivery is, as the history shows it (the filter `state` takes the same words plus
/// `deduplicated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting (first try or retry).
    Pending,
    /// Being delivered.
    InFlight,
    /// Delivered.
    Delivered,
    /// Given up: a dead letter.
    Dead,
    /// Replaced by a newer notification before it was sent.
    Superseded,
    /// Not stored: the same notification had been sent within the repeat interval (filter only).
    Deduplicated,
}

impl DeliveryState {
    /// Every state, as the filter takes them.
    pub const ALL: [DeliveryState; 6] = [
        DeliveryState::Delivered,
        DeliveryState::Dead,
        DeliveryState::Superseded,
        DeliveryState::Pending,
        DeliveryState::InFlight,
        DeliveryState::Deduplicated,
    ];

    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::InFlight => "in_flight",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
            DeliveryState::Superseded => "superseded",
            DeliveryState::Deduplicated => "deduplicated",
        }
    }

    /// The job state this is (none for `deduplicated`: no job was stored).
    pub fn job_state(self) -> Option<JobState> {
        match self {
            DeliveryState::Pending => Some(JobState::Pending),
            DeliveryState::InFlight => Some(JobState::InFlight),
            DeliveryState::Delivered => Some(JobState::Done),
            DeliveryState::Dead => Some(JobState::Dead),
            DeliveryState::Superseded => Some(JobState::Superseded),
            DeliveryState::Deduplicated => None,
        }
    }

    /// The history's word for a job state.
    pub fn of(state: JobState) -> Self {
        match state {
            JobState::Pending => DeliveryState::Pending,
            JobState::InFlight => DeliveryState::InFlight,
            JobState::Done => DeliveryState::Delivered,
            JobState::Dead => DeliveryState::Dead,
            JobState::Superseded => DeliveryState::Superseded,
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeliveryState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeliveryState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown state {s:?} (expected delivered, dead, superseded, pending, in_flight or deduplicated)"
                )
            })
    }
}

/// Where a page of history starts: after the notification (received_at, id), newest first.
/// Opaque to callers (URL-safe base64); stable while new notifications arrive, since they all
/// sort before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Received at (unix ms) of the last notification of the previous page.
    pub received_at: i64,
    /// Its receipt id.
    pub id: i64,
}

impl Cursor {
    /// The opaque form.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{}:{}", self.received_at, self.id))
    }
}

impl FromStr for Cursor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || "not a cursor this server handed out".to_owned();
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (at, id) = raw.split_once(':').ok_or_else(bad)?;
        Ok(Cursor {
            received_at: at.parse().map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

/// Which notifications to list. Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryFilter {
    /// `alertname` label.
    pub alertname: Option<String>,
    /// Alert fingerprint.
    pub fingerprint: Option<String>,
    /// A target the notification went to (or that deduplicated it).
    pub target: Option<String>,
    /// A delivery of the notification (at `target`, when given) is in this state.
    pub state: Option<DeliveryState>,
    /// Received at or after.
    pub since: Option<DateTime<Utc>>,
    /// Received before.
    pub until: Option<DateTime<Utc>>,
    /// Labels that must be equal.
    pub labels: Vec<(String, String)>,
    /// Page size (default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]).
    pub limit: Option<usize>,
    /// Continue after this notification.
    pub cursor: Option<Cursor>,
}

impl HistoryFilter {
    /// The page size this filter asks for, within bounds.
    pub fn page_size(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }
}

/// One delivery of a notification, in a list.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TargetDelivery {
    /// Target name.
    pub target: String,
    /// Where it is.
    pub state: DeliveryState,
    /// Its job (a replay's job when the dead letter was replayed).
    pub job_id: i64,
    /// Attempts made.
    pub attempts: u32,
    /// Last failure reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Last failure kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_kind: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// One notification: an alert received once, where it went and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Notification {
    /// Its receipt.
    pub receipt_id: i64,
    /// Alert fingerprint.
    pub fingerprint: String,
    /// `alertname` label.
    pub alertname: String,
    /// Firing or resolved.
    #[schema(value_type = String, example = "firing")]
    pub status: AlertStatus,
    /// The alert's labels.
    pub labels: BTreeMap<String, String>,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// `webhook`, `api` or `submit`.
    pub source: String,
    /// The Alertmanager receiver.
    pub receiver: String,
    /// The Alertmanager group key.
    pub group_key: String,
    /// Each target it went to: the newest delivery there.
    pub targets: Vec<TargetDelivery>,
    /// Targets that did not take it, and why.
    pub filtered: Vec<FilteredTarget>,
    /// Targets that had been sent the same notification within their repeat interval.
    pub deduplicated: Vec<String>,
}

/// A page of history, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HistoryPage {
    /// The notifications.
    pub alerts: Vec<Notification>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
    /// The page size used.
    pub limit: usize,
}

/// One delivery (job) in an alert's story.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeliveryStory {
    /// Target name.
    pub target: String,
    /// Its job.
    pub job_id: i64,
    /// Where it is.
    pub state: DeliveryState,
    /// The job that replaced it before it was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<i64>,
    /// The job that replays this dead letter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed_as: Option<i64>,
    /// The dead letter this job replays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<i64>,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
    /// When it is tried next (pending only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// One notification in an alert's story, with its deliveries.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NotificationStory {
    /// The receipt (its `targets` summarise the deliveries below).
    pub receipt: Notification,
    /// Every job of the notification (replays included), oldest first.
    pub deliveries: Vec<DeliveryStory>,
}

/// Everything that happened to one alert, newest notification first.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AlertStory {
    /// Alert fingerprint.
    pub fingerprint: String,
    /// `alertname` label.
    pub alertname: String,
    /// Labels (of the newest notification).
    pub labels: BTreeMap<String, String>,
    /// Annotations (of the newest notification).
    pub annotations: BTreeMap<String, String>,
    /// Its notifications, newest first (at most [`STORY_LIMIT`]).
    pub notifications: Vec<NotificationStory>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        let c = Cursor {
            received_at: 1_765_000_000_123,
            id: 42,
        };
        assert_eq!(c.encode().parse::<Cursor>(), Ok(c));
        assert!("nope!".parse::<Cursor>().is_err());
        assert!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode("1:x")
                .parse::<Cursor>()
                .is_err()
        );
    }

    #[test]
    fn states() {
        for s in DeliveryState::ALL {
            assert_eq!(s.as_str().parse::<DeliveryState>(), Ok(s));
        }
        assert!("done".parse::<DeliveryState>().is_err());
    }
}
