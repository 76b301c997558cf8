//! API keys with roles, optional ingest credentials, and the one access table that says what
//! every endpoint needs.
//!
//! **Invariant:** only SHA-256 digests of tokens are kept in memory after loading, every
//! comparison is constant-time over all keys, and no token is ever logged or echoed in an error.
//! **Invariant:** a route missing from [`ACCESS`] needs the admin role, never nothing.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use arc_swap::ArcSwap;
use axum::http::{HeaderMap, Method, header};
use publish::Secret;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

/// What a key may do. Each role includes the ones below it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read: queue, jobs, dead letters, targets, stats, health, trends, metrics.
    Viewer,
    /// Also act: submit, parallel publishing, target test and check, refresh, replay.
    Operator,
    /// Also purge dead letters and read the configuration.
    Admin,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        })
    }
}

/// What a request needs to be let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing (liveness and readiness probes, the API description).
    Public,
    /// The ingest credentials when configured (what Alertmanager's `http_config` sends).
    Ingest,
    /// An API key with at least this role when keys are configured.
    Role(Role),
}

use Access::{Ingest, Public};
const VIEWER: Access = Access::Role(Role::Viewer);
const OPERATOR: Access = Access::Role(Role::Operator);
const ADMIN: Access = Access::Role(Role::Admin);

/// Method, route (as registered with the router) and what it needs. The only place
/// authorization is decided; `HEAD` is looked up as `GET`.
pub const ACCESS: &[(&str, &str, Access)] = &[
    ("GET", "/healthz", Public),
    ("GET", "/readyz", Public),
    ("GET", "/api/v2/openapi.json", Public),
    ("POST", "/webhook", Ingest),
    ("POST", "/api/v2/alerts", Ingest),
    ("GET", "/metrics", VIEWER),
    ("GET", "/api/v2/config", ADMIN),
    ("GET", "/api/v2/publishing/queue/stats", VIEWER),
    ("GET", "/api/v2/publishing/queue/jobs", VIEWER),
    ("GET", "/api/v2/publishing/queue/jobs/{id}", VIEWER),
    ("POST", "/api/v2/publishing/queue/submit", OPERATOR),
    ("GET", "/api/v2/publishing/dlq", VIEWER),
    ("POST", "/api/v2/publishing/dlq/replay", OPERATOR),
    ("DELETE", "/api/v2/publishing/dlq/purge", ADMIN),
    ("GET", "/api/v2/publishing/dlq/{id}", VIEWER),
    ("POST", "/api/v2/publishing/dlq/{id}/replay", OPERATOR),
    ("GET", "/api/v2/publishing/alerts", VIEWER),
    ("GET", "/api/v2/publishing/alerts/{fingerprint}", VIEWER),
    (
        "POST",
        "/api/v2/publishing/alerts/{fingerprint}/acknowledge",
        OPERATOR,
    ),
    ("POST", "/api/v2/publishing/parallel", OPERATOR),
    ("POST", "/api/v2/publishing/parallel/targets", OPERATOR),
    ("GET", "/api/v2/publishing/parallel/status", VIEWER),
    ("POST", "/api/v2/publishing/parallel/all", OPERATOR),
    ("POST", "/api/v2/publishing/parallel/healthy", OPERATOR),
    ("GET", "/api/v2/publishing/targets", VIEWER),
    ("GET", "/api/v2/publishing/targets/status", VIEWER),
    ("POST", "/api/v2/publishing/targets/refresh", OPERATOR),
    ("GET", "/api/v2/publishing/targets/health", VIEWER),
    ("GET", "/api/v2/publishing/targets/health/{name}", VIEWER),
    ("GET", "/api/v2/publishing/targets/{name}", VIEWER),
    ("POST", "/api/v2/publishing/targets/{name}/check", OPERATOR),
    ("POST", "/api/v2/publishing/targets/{name}/test", OPERATOR),
    ("GET", "/api/v2/publishing/metrics", VIEWER),
    ("GET", "/api/v2/publishing/stats", VIEWER),
    ("GET", "/api/v2/publishing/stats/{target}", VIEWER),
    ("GET", "/api/v2/publishing/health", VIEWER),
    ("GET", "/api/v2/publishing/trends", VIEWER),
    ("POST", "/api/v2/publishing/templates/render", VIEWER),
    ("GET", "/api/v2/publishing/session", VIEWER),
    // The web console: static files; the API calls it makes carry the key.
    ("GET", "/ui", Public),
    ("GET", "/ui/", Public),
    ("GET", "/ui/{asset}", Public),
];

/// What `method` on the matched `route` needs. A route that is not in [`ACCESS`] needs admin;
/// a `path` that matched no route (answered 404) needs what the table says for that exact
/// path, otherwise any valid key.
pub fn required(method: &Method, route: Option<&str>, path: &str) -> Access {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let lookup = |route: &str| {
        ACCESS
            .iter()
            .find(|(m, r, _)| *m == method && *r == route)
            .map(|(_, _, a)| *a)
    };
    match route {
        Some(route) => lookup(route).unwrap_or(ADMIN),
        None => lookup(path).unwrap_or(VIEWER),
    }
}

/// `auth:` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// API keys given in the config file.
    pub keys: Vec<KeySpec>,
    /// A YAML file with more keys (the same list), re-read while running.
    #[schema(value_type = Option<String>)]
    pub keys_file: Option<PathBuf>,
    /// How often the keys file is checked for changes (default 2 s); SIGHUP checks at once.
    #[serde(with = "publish::serde_duration")]
    #[schema(value_type = String)]
    pub reload_interval: Duration,
    /// Credentials required on `/webhook` and `/api/v2/alerts`.
    pub ingest: IngestAuthSettings,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            keys_file: None,
            reload_interval: Duration::from_secs(2),
            ingest: IngestAuthSettings::default(),
        }
    }
}

impl AuthSettings {
    /// Replaces every token and password by [`Secret::REDACTED`] (what serializing shows in
    /// any case), keeping which ones are set.
    pub fn redact_secrets(&mut self) {
        let redact = |secret: &mut Option<Secret>| {
            if secret.is_some() {
                *secret = Some(Secret::new(Secret::REDACTED));
            }
        };
        for key in &mut self.keys {
            redact(&mut key.token);
        }
        redact(&mut self.ingest.bearer_token);
        if let Some(basic) = &mut self.ingest.basic {
            redact(&mut basic.password);
        }
    }

    /// Drops the plain-text tokens and passwords once their digests are loaded (file paths
    /// stay, so the settings still describe where keys come from).
    pub fn forget_secrets(&mut self) {
        for key in &mut self.keys {
            key.token = None;
        }
        self.ingest.bearer_token = None;
        if let Some(basic) = &mut self.ingest.basic {
            basic.password = None;
        }
    }
}

/// One API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    /// Shown in logs instead of the token.
    pub name: String,
    /// What the key may do.
    pub role: Role,
    /// The bearer token (at least 16 characters).
    #[serde(default, deserialize_with = "secret")]
    #[schema(value_type = Option<String>)]
    pub token: Option<Secret>,
    /// A file holding the token (surrounding whitespace ignored).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub token_file: Option<PathBuf>,
}

/// `auth.ingest:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct IngestAuthSettings {
    /// Bearer token Alertmanager sends (`http_config.authorization.credentials`).
    #[serde(deserialize_with = "secret")]
    #[schema(value_type = Option<String>)]
    pub bearer_token: Option<Secret>,
    /// A file holding the bearer token.
    #[schema(value_type = Option<String>)]
    pub bearer_token_file: Option<PathBuf>,
    /// Basic credentials Alertmanager sends (`http_config.basic_auth`).
    pub basic: Option<BasicSettings>,
}

/// `auth.ingest.basic:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicSettings {
    /// User name.
    pub username: String,
    /// Password.
    #[serde(default, deserialize_with = "secret")]
    #[schema(value_type = Option<String>)]
    pub password: Option<Secret>,
    /// A file holding the password.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub password_file: Option<PathBuf>,
}

/// A secret string whose parse errors never echo the value (a number where a string is
/// expected would otherwise be printed).
fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Option<Secret>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Secret::new(v)))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom("must be a quoted string"))
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::custom("must be a quoted string"))
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::custom("must be a quoted string"))
        }
        fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<Self::Value, E> {
            Err(E::custom("must be a quoted string"))
        }
        fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<Self::Value, E> {
            Err(E::custom("must be a quoted string"))
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom("must be a quoted string"))
        }
    }
    d.deserialize_any(V)
}

/// Keys or credentials that cannot be used; names the file (or `config`) and the field, never
/// the secret.
#[derive(Debug, thiserror::Error)]
pub struct AuthError {
    /// The keys file, or `config file` for keys given in the config.
    pub source_name: String,
    /// The field path.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.source_name, self.message)
        } else {
            write!(
                f,
                "{}: field `{}`: {}",
                self.source_name, self.field, self.message
            )
        }
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Shortest accepted API key.
pub const MIN_TOKEN_LEN: usize = 16;

/// A loaded key: its name, role and the digest of its token.
#[derive(Clone)]
struct Key {
    name: String,
    role: Role,
    digest: [u8; 32],
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

fn read_secret_file(path: &Path, source: &str, field: &str) -> Result<String, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|e| AuthError {
        source_name: source.to_owned(),
        field: field.to_owned(),
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    Ok(text.trim().to_owned())
}

fn load_specs(specs: &[KeySpec], source: &str, prefix: &str) -> Result<Vec<Key>, AuthError> {
    let mut keys = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let err = |field: &str, message: String| AuthError {
            source_name: source.to_owned(),
            field: format!("{prefix}[{i}].{field}"),
            message,
        };
        if spec.name.trim().is_empty() {
            return Err(err("name", "must not be empty".to_owned()));
        }
        let token = match (&spec.token, &spec.token_file) {
            (Some(t), None) => t.expose().trim().to_owned(),
            (None, Some(path)) => {
                read_secret_file(path, source, &format!("{prefix}[{i}].token_file"))?
            }
            _ => {
                return Err(err(
                    "token",
                    format!(
                        "key {:?}: give exactly one of token and token_file",
                        spec.name
                    ),
                ));
            }
        };
        if token.len() < MIN_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(err(
                "token",
                format!(
                    "key {:?}: a token must be at least {MIN_TOKEN_LEN} printable characters without spaces",
                    spec.name
                ),
            ));
        }
        keys.push(Key {
            name: spec.name.clone(),
            role: spec.role,
            digest: digest(token.as_bytes()),
        });
    }
    Ok(keys)
}

/// Parses a keys file's text: a YAML list of keys.
fn parse_keys_file(text: &str, path: &Path) -> Result<Vec<Key>, AuthError> {
    let source = format!("api keys file {}", path.display());
    let specs: Vec<KeySpec> = if text.trim().is_empty() {
        Vec::new()
    } else {
        let de = serde_yaml::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| AuthError {
            source_name: source.clone(),
            field: e.path().to_string(),
            message: e.into_inner().to_string(),
        })?
    };
    load_specs(&specs, &source, "")
}

/// The API keys in force; replaced whole when the keys file changes.
#[derive(Debug)]
pub struct KeyRing {
    enabled: bool,
    from_config: Vec<Key>,
    keys: ArcSwap<Vec<Key>>,
    file: Option<PathBuf>,
    file_digest: ArcSwap<Option<[u8; 32]>>,
}

impl KeyRing {
    /// No keys: the API is open.
    pub fn open() -> Self {
        Self {
            enabled: false,
            from_config: Vec::new(),
            keys: ArcSwap::from_pointee(Vec::new()),
            file: None,
            file_digest: ArcSwap::from_pointee(None),
        }
    }

    /// Loads the keys of the config and of the keys file.
    pub fn load(settings: &AuthSettings) -> Result<Self, AuthError> {
        let from_config = load_specs(&settings.keys, "config file", "auth.keys")?;
        let ring = Self {
            enabled: !settings.keys.is_empty() || settings.keys_file.is_some(),
            from_config,
            keys: ArcSwap::from_pointee(Vec::new()),
            file: settings.keys_file.clone(),
            file_digest: ArcSwap::from_pointee(None),
        };
        ring.reload(true)?;
        Ok(ring)
    }

    /// Whether requests need a key.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Keys in force.
    pub fn len(&self) -> usize {
        self.keys.load().len()
    }

    /// Whether no key is in force.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Re-reads the keys file if it changed (or always with `force`); on error the keys in
    /// force stay. Returns whether the keys were replaced.
    pub fn reload(&self, force: bool) -> Result<bool, AuthError> {
        let mut keys = self.from_config.clone();
        if let Some(path) = &self.file {
            let text = std::fs::read(path).map_err(|e| AuthError {
                source_name: format!("api keys file {}", path.display()),
                field: String::new(),
                message: format!("cannot read: {e}"),
            })?;
            let file_digest = digest(&text);
            if !force && **self.file_digest.load() == Some(file_digest) {
                return Ok(false);
            }
            let text = String::from_utf8_lossy(&text);
            keys.extend(parse_keys_file(&text, path)?);
            self.file_digest.store(Arc::new(Some(file_digest)));
        }
        let mut names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(AuthError {
                source_name: self.file.as_ref().map_or_else(
                    || "config file".to_owned(),
                    |p| format!("api keys file {}", p.display()),
                ),
                field: "name".to_owned(),
                message: format!("two keys are named {:?}", w[0]),
            });
        }
        self.keys.store(Arc::new(keys));
        Ok(true)
    }

    /// The name and role of the key whose token this is. Every key is compared, in constant
    /// time, whatever matches.
    pub fn verify(&self, token: &str) -> Option<(String, Role)> {
        let presented = digest(token.as_bytes());
        let keys = self.keys.load();
        let mut found = None;
        for key in keys.iter() {
            let same = key.digest.ct_eq(&presented);
            if bool::from(same) {
                found = Some((key.name.clone(), key.role));
            }
        }
        found
    }

    /// Re-reads the keys file every `interval` and on SIGHUP until `shutdown`.
    pub async fn watch(self: Arc<Self>, interval: Duration, shutdown: CancellationToken) {
        let Some(path) = self.file.clone() else {
            return;
        };
        #[cfg(unix)]
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut last_error: Option<String> = None;
        loop {
            #[cfg(unix)]
            let hup = async {
                match hangup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let hup = std::future::pending::<()>();
            let force = tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => false,
                () = hup => true,
            };
            let ring = self.clone();
            let result = tokio::task::spawn_blocking(move || ring.reload(force))
                .await
                .unwrap_or(Ok(false));
            match result {
                Ok(true) => {
                    info!(file = %path.display(), keys = self.len(), "api keys reloaded");
                    last_error = None;
                }
                Ok(false) => last_error = None,
                Err(e) => {
                    let message = e.to_string();
                    // Once per distinct problem, not every poll.
                    if force || last_error.as_deref() != Some(&message) {
                        error!(file = %path.display(), error = %message, "cannot reload api keys; the previous keys stay in force");
                    }
                    last_error = Some(message);
                }
            }
        }
    }
}

/// The ingest credentials, as digests.
#[derive(Debug, Clone)]
pub struct IngestAuth {
    bearer: Option<[u8; 32]>,
    basic: Option<[u8; 32]>,
}

impl IngestAuth {
    /// None when no ingest credentials are configured.
    pub fn load(settings: &IngestAuthSettings) -> Result<Option<Self>, AuthError> {
        let source = "config file";
        let bearer = match (&settings.bearer_token, &settings.bearer_token_file) {
            (None, None) => None,
            (Some(t), None) => Some(t.expose().trim().to_owned()),
            (None, Some(p)) => Some(read_secret_file(
                p,
                source,
                "auth.ingest.bearer_token_file",
            )?),
            (Some(_), Some(_)) => {
                return Err(AuthError {
                    source_name: source.to_owned(),
                    field: "auth.ingest.bearer_token".to_owned(),
                    message: "give bearer_token or bearer_token_file, not both".to_owned(),
                });
            }
        };
        if bearer.as_ref().is_some_and(String::is_empty) {
            return Err(AuthError {
                source_name: source.to_owned(),
                field: "auth.ingest.bearer_token".to_owned(),
                message: "must not be empty".to_owned(),
            });
        }
        let basic = match &settings.basic {
            None => None,
            Some(b) => {
                let password = match (&b.password, &b.password_file) {
                    (Some(p), None) => p.expose().to_owned(),
                    (None, Some(path)) => {
                        read_secret_file(path, source, "auth.ingest.basic.password_file")?
                    }
                    _ => {
                        return Err(AuthError {
                            source_name: source.to_owned(),
                            field: "auth.ingest.basic.password".to_owned(),
                            message: "give exactly one of password and password_file".to_owned(),
                        });
                    }
                };
                if b.username.is_empty() || b.username.contains(':') || password.is_empty() {
                    return Err(AuthError {
                        source_name: source.to_owned(),
                        field: "auth.ingest.basic".to_owned(),
                        message: "username (without ':') and password must not be empty".to_owned(),
                    });
                }
                Some(digest(format!("{}:{password}", b.username).as_bytes()))
            }
        };
        Ok((bearer.is_some() || basic.is_some()).then(|| Self {
            bearer: bearer.map(|t| digest(t.as_bytes())),
            basic,
        }))
    }

    /// Whether the request carries one of the configured credentials.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some((scheme, value)) = authorization(headers) else {
            return false;
        };
        let (expected, presented) = if scheme.eq_ignore_ascii_case("bearer") {
            (self.bearer, digest(value.as_bytes()))
        } else if scheme.eq_ignore_ascii_case("basic") {
            use base64::Engine as _;
            let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(value) else {
                return false;
            };
            (self.basic, digest(&decoded))
        } else {
            return false;
        };
        expected.is_some_and(|e| bool::from(e.ct_eq(&presented)))
    }

    /// The `WWW-Authenticate` challenge for a refused request.
    pub fn challenge(&self) -> &'static str {
        if self.bearer.is_some() {
            "Bearer"
        } else {
            "Basic realm=\"alert-publisher\""
        }
    }
}

/// The scheme and credentials of the `Authorization` header.
fn authorization(headers: &HeaderMap) -> Option<(&str, &str)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    Some((scheme, rest.trim()))
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    authorization(headers)
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, role: Role, token: &str) -> KeySpec {
        KeySpec {
            name: name.to_owned(),
            role,
            token: Some(Secret::new(token)),
            token_file: None,
        }
    }

    #[test]
    fn table_lookup() {
        let check = |m: Method, route: Option<&str>, want: Access| {
            let path = route.unwrap_or("/unknown");
            assert_eq!(required(&m, route, path), want, "{m} {route:?}");
        };
        check(Method::GET, Some("/healthz"), Public);
        check(Method::HEAD, Some("/metrics"), VIEWER);
        check(Method::POST, Some("/webhook"), Ingest);
        check(Method::DELETE, Some("/api/v2/publishing/dlq/purge"), ADMIN);
        // Not listed: admin.
        check(Method::GET, Some("/api/v2/publishing/queue/submit"), ADMIN);
        check(Method::GET, Some("/new/endpoint"), ADMIN);
        check(Method::GET, None, VIEWER);
        assert_eq!(required(&Method::GET, None, "/api/v2/openapi.json"), Public);
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
    }

    #[test]
    fn keys_verify_by_digest() {
        let settings = AuthSettings {
            keys: vec![
                spec("ci", Role::Operator, "0123456789abcdef-ci"),
                spec("grafana", Role::Viewer, "0123456789abcdef-gr"),
            ],
            ..Default::default()
        };
        let ring = KeyRing::load(&settings).unwrap();
        assert!(ring.enabled());
        assert_eq!(
            ring.verify("0123456789abcdef-ci"),
            Some(("ci".to_owned(), Role::Operator))
        );
        assert_eq!(ring.verify("0123456789abcdef-c"), None);
        assert_eq!(ring.verify(""), None);
        assert!(!format!("{ring:?}").contains("0123456789abcdef"));
        assert!(!KeyRing::open().enabled());
    }

    #[test]
    fn bad_keys_name_the_field_not_the_token() {
        let check = |specs: Vec<KeySpec>, field: &str| {
            let e = KeyRing::load(&AuthSettings {
                keys: specs,
                ..Default::default()
            })
            .unwrap_err()
            .to_string();
            assert!(e.contains(field), "{e}");
            assert!(!e.contains("short"), "{e}");
        };
        check(vec![spec("a", Role::Admin, "short")], "auth.keys[0].token");
        check(
            vec![
                spec("a", Role::Admin, "0123456789abcdef"),
                spec("", Role::Admin, "short"),
            ],
            "auth.keys[1].name",
        );
        let e = parse_keys_file(
            "- name: a\n  role: root\n  token: \"0123456789abcdef\"\n",
            Path::new("k.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("api keys file k.yaml: field `[0].role`"),
            "{e}"
        );
        let e = parse_keys_file(
            "- name: a\n  role: admin\n  token: 12345678901234567890\n",
            Path::new("k.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("[0].token") && !e.contains("1234567890"), "{e}");
    }

    #[test]
    fn ingest_bearer_and_basic() {
        let ia = IngestAuth::load(&IngestAuthSettings {
            bearer_token: Some(Secret::new("am-token")),
            bearer_token_file: None,
            basic: Some(BasicSettings {
                username: "am".to_owned(),
                password: Some(Secret::new("pw")),
                password_file: None,
            }),
        })
        .unwrap()
        .unwrap();
        let check = |auth: Option<&str>, want: bool| {
            let mut h = HeaderMap::new();
            if let Some(a) = auth {
                h.insert(header::AUTHORIZATION, a.parse().unwrap());
            }
            assert_eq!(ia.allows(&h), want, "{auth:?}");
        };
        check(None, false);
        check(Some("Bearer am-token"), true);
        check(Some("bearer am-token"), true);
        check(Some("Bearer am-tokem"), false);
        check(Some("Basic YW06cHc="), true); // am:pw
        check(Some("Basic YW06cHg="), false); // am:px
        check(Some("Basic !!"), false);
        check(Some("Digest x"), false);
        assert!(
            IngestAuth::load(&IngestAuthSettings::default())
                .unwrap()
                .is_none()
        );
    }
}
