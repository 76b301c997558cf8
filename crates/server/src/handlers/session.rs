//! Who the caller is: what the web console asks first, to show only what the caller's role
//! may do.

use std::sync::Arc;

use axum::{Extension, Json, http::HeaderMap};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    auth::{self, Role},
    guard::Guard,
};

/// The caller as the guard sees it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Session {
    /// Whether API keys are configured (otherwise the API is open to anyone).
    keys_enabled: bool,
    /// The name of the key the request carried; null without keys.
    key: Option<String>,
    /// What the caller may do: the key's role, or `admin` when keys are off (the API is open).
    role: Role,
}

/// The caller's key and role
#[utoipa::path(
    get,
    path = "/api/v2/publishing/session",
    tag = "console",
    responses((status = 200, description = "The caller's key name and role", body = Session)),
)]
pub(crate) async fn session(
    Extension(guard): Extension<Arc<Guard>>,
    headers: HeaderMap,
) -> Json<Session> {
    let keys_enabled = guard.keys.enabled();
    // The guard has let the request through, so with keys on the token is a valid one.
    let verified = keys_enabled
        .then(|| auth::bearer(&headers).and_then(|t| guard.keys.verify(t)))
        .flatten();
    let (key, role) = match verified {
        Some((name, role)) => (Some(name), role),
        None => (None, Role::Admin),
    };
    debug_assert!(
        !keys_enabled || key.is_some(),
        "the guard checks the key first"
    );
    Json(Session {
        keys_enabled,
        key,
        role,
    })
}
