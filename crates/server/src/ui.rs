//! The web console: three hand-written files (`ui/index.html`, `ui/app.js`, `ui/app.css`)
//! embedded in the binary and served under `/ui/`. Nothing is fetched from elsewhere: the
//! `Content-Security-Policy` allows only this origin, and no inline script or style.
//!
//! The pages are public static content; the API calls the console makes carry the caller's
//! key, and the API decides what they may do. The console is not part of the API: its routes
//! are in `auth::ACCESS` (public) but not in the OpenAPI document.

use std::hash::{Hash, Hasher};

use axum::{
    Router,
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};

use crate::{error::ApiError, state::AppState};

/// Where the console lives.
pub const PATH: &str = "/ui/";

/// Only this origin, no inline code, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// The embedded files: name under `/ui/`, content type, bytes.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../ui/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../ui/app.css"),
    ),
];

/// `/ui` (redirected), `/ui/` and `/ui/{asset}`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent(PATH) }))
        .route("/ui/", get(index))
        .route("/ui/{asset}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

/// The file `name` with its type, a strong `ETag` (304 when the browser has it) and
/// `Cache-Control: no-cache` (the browser revalidates: a new binary may bring new files under
/// the same names).
fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return ApiError::not_found(format!("no console file {name:?}")).into_response();
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    let etag = format!("\"{:016x}\"", h.finish());
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            *body,
        )
            .into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_page_loads_is_embedded_and_nothing_comes_from_elsewhere() {
        let (_, _, html) = ASSETS[0];
        for name in ["app.js", "app.css"] {
            assert!(html.contains(&format!("\"{name}\"")), "{name}");
            assert!(ASSETS.iter().any(|(n, _, _)| *n == name));
        }
        for (name, _, body) in ASSETS {
            // The SVG namespace is a name, not an address anything is fetched from.
            let body = body.replace("http://www.w3.org/2000/svg", "");
            for outside in ["http://", "https://", "//cdn", "localStorage"] {
                assert!(!body.contains(outside), "{name} mentions {outside}");
            }
        }
        assert!(!html.contains("<script>") && !html.contains("style="));
    }
}
