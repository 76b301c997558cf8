//! The alert history API: every notification an alert caused, where it was routed or filtered
//! out and why, and what became of each delivery.

use axum::{
    Json, Router,
    extract::{RawQuery, State},
    routing::get,
};
use chrono::{DateTime, Utc};
use queue::{AlertStory, Cursor, DeliveryState, HistoryFilter, HistoryPage, MAX_LIMIT};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    error::{ApiError, ErrorBody},
    extract::PathParam,
    state::AppState,
};

/// Routes under `/api/v2/publishing/alerts`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/publishing/alerts", get(list))
        .route("/api/v2/publishing/alerts/{fingerprint}", get(story))
}

/// Filters of the notification list (documentation only: the query string is read by
/// [`filter`], which takes `label` more than once).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct HistoryQuery {
    /// Only alerts with this `alertname`.
    alertname: Option<String>,
    /// Only this alert.
    fingerprint: Option<String>,
    /// Only notifications that went to this target (or that it deduplicated).
    target: Option<String>,
    /// Only notifications with a delivery (at `target`, when given) in this state.
    #[param(value_type = Option<DeliveryState>)]
    state: Option<String>,
    /// Received at or after (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    since: Option<String>,
    /// Received before (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    until: Option<String>,
    /// `name=value`: only alerts with this label (repeat for several; all must hold).
    #[param(value_type = Option<Vec<String>>, example = "team=sre")]
    label: Option<String>,
    /// Page size: default 50, at most 500.
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn parse_time(field: &str, v: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ApiError::invalid(format!("{field}: invalid RFC 3339 timestamp {v:?}: {e}")))
}

/// Reads the query string; an unknown, repeated (but `label`) or malformed parameter is an
/// error that names it.
fn filter(query: Option<&str>) -> Result<HistoryFilter, ApiError> {
    let mut f = HistoryFilter::default();
    let mut seen = std::collections::HashSet::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let value = value.into_owned();
        if key != "label" && !seen.insert(key.clone().into_owned()) {
            return Err(ApiError::invalid(format!("{key}: given more than once")));
        }
        match &*key {
            "alertname" => f.alertname = Some(value),
            "fingerprint" => f.fingerprint = Some(value),
            "target" => f.target = Some(value),
            "state" => {
                f.state = Some(
                    value
                        .parse()
                        .map_err(|e| ApiError::invalid(format!("state: {e}")))?,
                );
            }
            "since" => f.since = Some(parse_time("since", &value)?),
            "until" => f.until = Some(parse_time("until", &value)?),
            "label" => {
                let (k, v) = value
                    .split_once('=')
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| {
                        ApiError::invalid(format!("label: expected name=value (got {value:?})"))
                    })?;
                f.labels.push((k.to_owned(), v.to_owned()));
            }
            "limit" => {
                let n: usize = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid(format!(
                            "limit: expected a number from 1 to {MAX_LIMIT} (got {value:?})"
                        ))
                    })?;
                f.limit = Some(n);
            }
            "cursor" => {
                f.cursor = Some(
                    value
                        .parse::<Cursor>()
                        .map_err(|e| ApiError::invalid(format!("cursor: {e}")))?,
                );
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "{other}: unknown parameter (expected alertname, fingerprint, target, state, since, until, label, limit or cursor)"
                )));
            }
        }
    }
    Ok(f)
}

/// Notifications, newest first
///
/// One item per alert received (a webhook notification of ten alerts is ten items): where it
/// came from, each target it went to with the state of its newest delivery there, the targets
/// that filtered it out with the reason, and those that deduplicated it. Page with
/// `next_cursor`; pages stay exact while new alerts arrive.
#[utoipa::path(
    get,
    path = "/api/v2/publishing/alerts",
    tag = "alerts",
    params(HistoryQuery),
    responses(
        (status = 200, description = "Notifications", body = HistoryPage),
        (status = 400, description = "`invalid_payload`: a query parameter is wrong; the message names it", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<HistoryPage>, ApiError> {
    let filter = filter(query.as_deref())?;
    Ok(Json(state.service.alert_history(&filter).await?))
}

/// One alert's story
///
/// Every notification of the alert (newest first, at most 200), each with its deliveries:
/// every attempt (time, outcome, status code, latency, error kind and reason), the next
/// retry of a pending one, and what superseded or replayed it.
#[utoipa::path(
    get,
    path = "/api/v2/publishing/alerts/{fingerprint}",
    tag = "alerts",
    params(("fingerprint" = String, Path, description = "The alert's fingerprint")),
    responses(
        (status = 200, description = "The story", body = AlertStory),
        (status = 404, description = "`not_found`: nothing is recorded of this alert", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: retry later", body = ErrorBody),
    )
)]
pub(crate) async fn story(
    State(state): State<AppState>,
    PathParam(fingerprint): PathParam,
) -> Result<Json<AlertStory>, ApiError> {
    Ok(Json(state.service.alert_story(&fingerprint).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_errors_name_the_parameter() {
        for (query, word) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("state=done", "state"),
            ("since=yesterday", "since"),
            ("label=team", "label"),
            ("cursor=zzz", "cursor"),
            ("colour=red", "colour"),
            ("target=a&target=b", "target"),
        ] {
            let err = filter(Some(query)).unwrap_err();
            assert!(err.message().starts_with(word), "{query}: {}", err.message());
        }
        let f = filter(Some("label=team%3Dsre&label=env=prod&limit=7&state=in_flight")).unwrap();
        assert_eq!(
            f.labels,
            vec![
                ("team".to_owned(), "sre".to_owned()),
                ("env".to_owned(), "prod".to_owned())
            ]
        );
        assert_eq!(f.limit, Some(7));
        assert_eq!(f.state, Some(DeliveryState::InFlight));
    }
}
