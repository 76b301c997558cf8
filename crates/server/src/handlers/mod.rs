//! The handlers: each translates a request into a call on the service and its answer into a
//! typed response. One module per tag of the OpenAPI document.

use axum::{
    Router,
    routing::{get, post},
};

use crate::state::AppState;

pub(crate) mod history;
pub(crate) mod ingest;
pub(crate) mod ops;
pub(crate) mod publishing;
pub(crate) mod session;
pub(crate) mod stats;
pub(crate) mod targets;
pub(crate) mod templates;

/// Every route of the API but the configuration and the OpenAPI document.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhook", post(ingest::webhook))
        .route("/api/v2/alerts", post(ingest::api_alerts))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::prometheus))
        .route("/api/v2/publishing/session", get(session::session))
        .merge(history::routes())
        .merge(publishing::routes())
        .merge(targets::routes())
        .merge(stats::routes())
        .merge(templates::routes())
}
