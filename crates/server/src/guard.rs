//! The request guard: per-client rate limits, then authentication and authorization by the
//! access table in `auth`, on every route.

use std::{net::SocketAddr, sync::Arc, time::Instant};

use axum::{
    Extension, Json,
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tracing::debug;

use crate::{
    Config,
    auth::{self, Access, AuthError, IngestAuth, KeyRing},
    error::ApiError,
    ratelimit::{self, Cidr, Decision, Limiter},
};

/// Everything the guard decides with.
#[derive(Debug)]
pub struct Guard {
    /// API keys.
    pub keys: Arc<KeyRing>,
    ingest: Option<IngestAuth>,
    api_limiter: Option<Limiter>,
    ingest_limiter: Option<Limiter>,
    trusted_proxies: Vec<Cidr>,
    /// `GET /api/v2/config`: the effective configuration, secrets redacted.
    config: Config,
    /// Allowed CORS origins (none: no CORS headers).
    pub cors_origins: Vec<String>,
    /// Whether responses are compressed when the client accepts it.
    pub compression: bool,
}

impl Guard {
    /// No keys, no ingest credentials, no rate limits (in-process tests).
    pub fn open() -> Self {
        let mut config = Config::default();
        config.rate_limit.api.enabled = false;
        config.rate_limit.ingest.enabled = false;
        // Nothing to load from disk: an empty auth section cannot fail.
        Self::new(&config).unwrap_or_else(|_| Self {
            keys: Arc::new(KeyRing::open()),
            ingest: None,
            api_limiter: None,
            ingest_limiter: None,
            trusted_proxies: Vec::new(),
            config: config.redacted(),
            cors_origins: Vec::new(),
            compression: true,
        })
    }

    /// The guard `config` asks for: loads keys (and the keys file) and ingest credentials.
    pub fn new(config: &Config) -> Result<Self, AuthError> {
        let rl = &config.rate_limit;
        let limiter = |name, s: &ratelimit::LimitSettings| {
            s.enabled.then(|| Limiter::new(name, s, rl.max_clients))
        };
        Ok(Self {
            keys: Arc::new(KeyRing::load(&config.auth)?),
            ingest: IngestAuth::load(&config.auth.ingest)?,
            api_limiter: limiter("api", &rl.api),
            ingest_limiter: limiter("ingest", &rl.ingest),
            trusted_proxies: rl.trusted_proxies.clone(),
            config: config.redacted(),
            cors_origins: config.http.cors.allowed_origins.clone(),
            compression: config.http.compression,
        })
    }

    /// Whether ingest needs credentials.
    pub fn ingest_auth(&self) -> bool {
        self.ingest.is_some()
    }
}

fn rate_headers(headers: &mut HeaderMap, d: &Decision) {
    for (name, value) in [
        ("x-ratelimit-limit", u64::from(d.limit)),
        ("x-ratelimit-remaining", u64::from(d.remaining)),
        ("x-ratelimit-reset", d.reset_secs),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}

fn unauthorized(challenge: &'static str, message: &str) -> Response {
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    resp
}

/// The middleware: rate limit, then authenticate and authorize, then the handler.
pub(crate) async fn guard(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let access = auth::required(req.method(), route.as_deref(), req.uri().path());
    let limiter = match access {
        Access::Public => None,
        Access::Ingest => guard.ingest_limiter.as_ref(),
        // Scrapes are not API calls: a Prometheus (or several) scraping often must never see
        // 429. `/metrics` stays subject to authentication.
        Access::Role(_) if route.as_deref() == Some("/metrics") => None,
        Access::Role(_) => guard.api_limiter.as_ref(),
    };
    let decision = limiter.map(|l| {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let client = ratelimit::client_ip(peer, req.headers(), &guard.trusted_proxies);
        l.check(client, Instant::now())
    });
    let mut resp = match decision {
        Some(d) if !d.allowed => {
            let limiter = if access == Access::Ingest {
                "ingest"
            } else {
                "api"
            };
            metrics::counter!(crate::metrics::RATE_LIMITED_TOTAL, "limiter" => limiter)
                .increment(1);
            let mut resp = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests; retry in {} s", d.retry_after_secs),
            )
            .into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(d.retry_after_secs));
            resp
        }
        _ => match refusal(&guard, access, &req) {
            Some(resp) => resp,
            None => next.run(req).await,
        },
    };
    if let Some(d) = decision {
        rate_headers(resp.headers_mut(), &d);
    }
    resp
}

/// The answer refusing the request, or None when it may proceed.
fn refusal(guard: &Guard, access: Access, req: &Request) -> Option<Response> {
    match access {
        Access::Public => None,
        Access::Ingest => match &guard.ingest {
            Some(ia) if !ia.allows(req.headers()) => {
                metrics::counter!(crate::metrics::AUTH_FAILURES_TOTAL, "reason" => "ingest")
                    .increment(1);
                debug!(path = %req.uri().path(), "ingest request without valid credentials");
                Some(unauthorized(
                    ia.challenge(),
                    "ingest needs the configured credentials (bearer token or basic auth)",
                ))
            }
            _ => None,
        },
        Access::Role(needed) => {
            if !guard.keys.enabled() {
                return None;
            }
            let Some((name, role)) = auth::bearer(req.headers()).and_then(|t| guard.keys.verify(t))
            else {
                metrics::counter!(crate::metrics::AUTH_FAILURES_TOTAL, "reason" => "unauthenticated").increment(1);
                debug!(method = %req.method(), path = %req.uri().path(), "request without a valid api key");
                return Some(unauthorized(
                    "Bearer",
                    "missing or invalid API key; send Authorization: Bearer <key>",
                ));
            };
            if role < needed {
                metrics::counter!(crate::metrics::AUTH_FAILURES_TOTAL, "reason" => "forbidden")
                    .increment(1);
                debug!(key = %name, %role, %needed, path = %req.uri().path(), "api key lacks the role");
                return Some(
                    ApiError::new(
                        StatusCode::FORBIDDEN,
                        "forbidden",
                        format!(
                            "{} {} needs the {needed} role; key {name:?} has {role}",
                            req.method(),
                            req.uri().path()
                        ),
                    )
                    .into_response(),
                );
            }
            None
        }
    }
}

/// The effective configuration, every secret redacted
#[utoipa::path(
    get,
    path = "/api/v2/config",
    tag = "operations",
    responses(
        (status = 200, description = "Defaults, file, environment and flags merged; tokens, passwords and URL credentials are `<redacted>`", body = Config),
    )
)]
pub(crate) async fn config(Extension(guard): Extension<Arc<Guard>>) -> Json<Config> {
    Json(guard.config.clone())
}
