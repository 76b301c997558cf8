//! What we remember per (target, fingerprint): Rootly's alert id and whether it is open.
//!
//! The delivery engine stores it durably (it is `Delivered::vendor_state`) and hands it back as
//! `Delivery::vendor_state` for the next delivery of the same alert, across restarts.

use serde::{Deserialize, Serialize};

/// Whether the Rootly alert we created is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Created and not resolved by us.
    Open,
    /// Resolved by us, or gone (404) when we tried.
    Resolved,
}

/// The vendor state of one alert at one Rootly target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootlyState {
    /// Rootly's alert id.
    pub alert_id: String,
    /// Open or resolved.
    pub status: AlertState,
    /// The incident opened for it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
}

impl RootlyState {
    /// An open alert.
    pub fn open(alert_id: impl Into<String>) -> Self {
        Self {
            alert_id: alert_id.into(),
            status: AlertState::Open,
            incident_id: None,
        }
    }

    /// Whether the alert is open.
    pub fn is_open(&self) -> bool {
        self.status == AlertState::Open
    }

    /// Reads the state a delivery carries; `None` when there is none or it is not ours.
    pub fn from_delivery(delivery: &publish::Delivery) -> Option<Self> {
        delivery
            .vendor_state
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// The state as JSON for `Delivered::vendor_state`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}
