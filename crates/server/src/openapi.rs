//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers' `#[utoipa::path]`
//! annotations and served at `GET /api/v2/openapi.json`.
//!
//! Every operation gets, from one table ([`required_role`]): the role it needs
//! (`x-required-role`), its security requirement, `401`/`403` answers (all but the public
//! ones), a `429` answer with the rate-limit headers, and the `500` a panic answers. `docs/openapi.json` and the endpoint
//! table in `docs/api.md` are written from this document (`cargo xtask openapi`); a test fails
//! when either is stale.

use std::sync::OnceLock;

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, ContentBuilder, HeaderBuilder, Ref, RefOr, ResponseBuilder,
        extensions::ExtensionsBuilder,
        path::Operation,
        security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
    },
};

/// Path of the document itself.
pub const DOCUMENT_PATH: &str = "/api/v2/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Alert Publisher",
        description = "Receives Prometheus Alertmanager notifications, stores one durable job \
                       per alert and target, and delivers them to PagerDuty, Slack, Rootly and \
                       generic webhooks. Every error answer is `{\"error\": {\"code\", \
                       \"message\", \"request_id\"}}`; every answer carries `X-Request-Id`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        crate::handlers::ingest::webhook,
        crate::handlers::ingest::api_alerts,
        crate::handlers::ops::healthz,
        crate::handlers::ops::readyz,
        crate::handlers::ops::prometheus,
        crate::guard::config,
        openapi_json,
        crate::handlers::publishing::queue_stats,
        crate::handlers::publishing::list_jobs,
        crate::handlers::publishing::get_job,
        crate::handlers::publishing::submit,
        crate::handlers::publishing::list_dlq,
        crate::handlers::publishing::get_dead,
        crate::handlers::publishing::replay_one,
        crate::handlers::publishing::replay_many,
        crate::handlers::publishing::purge,
        crate::handlers::publishing::acknowledge,
        crate::handlers::history::list,
        crate::handlers::history::story,
        crate::handlers::publishing::parallel_go,
        crate::handlers::publishing::parallel_targets,
        crate::handlers::publishing::parallel_all,
        crate::handlers::publishing::parallel_healthy,
        crate::handlers::publishing::parallel_status,
        crate::handlers::targets::list,
        crate::handlers::targets::one,
        crate::handlers::targets::status,
        crate::handlers::targets::refresh,
        crate::handlers::targets::health_all,
        crate::handlers::targets::health_one,
        crate::handlers::targets::check,
        crate::handlers::targets::test,
        crate::handlers::stats::metrics_snapshot,
        crate::handlers::stats::stats,
        crate::handlers::stats::target_stats,
        crate::handlers::stats::health,
        crate::handlers::stats::trends,
        crate::handlers::templates::render,
        crate::handlers::session::session,
    ),
    modifiers(&Access),
    tags(
        (name = "ingest", description = "Alerts in: Alertmanager webhooks and the Prometheus alert API"),
        (name = "operations", description = "Liveness, readiness, Prometheus metrics and this document"),
        (name = "queue", description = "Durable jobs: counts, listing, history, submission"),
        (name = "alerts", description = "Alert history: every notification an alert caused and its deliveries"),
        (name = "dlq", description = "Dead letters: listing, replay, purge"),
        (name = "parallel", description = "Synchronous publishing to several targets at once"),
        (name = "targets", description = "Target definitions, discovery, health, probes and test deliveries"),
        (name = "stats", description = "Publishing statistics, health score and trends"),
        (name = "templates", description = "Alertmanager templates: render one before it goes live"),
        (name = "console", description = "What the web console at `/ui/` asks: the caller's key and role"),
    )
)]
struct ApiDoc;

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Anyone.
    Public,
    /// Senders of alerts (the optional ingest credentials).
    Ingest,
    /// Read-only API keys and above.
    Viewer,
    /// Keys that change what is delivered.
    Operator,
    /// Keys that delete data.
    Admin,
}

impl Role {
    /// Its name in the document and the docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Public => "public",
            Role::Ingest => "ingest",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// The role an operation needs (method in upper case).
pub fn required_role(method: &str, path: &str) -> Role {
    use crate::auth::{ACCESS, Access, Role as KeyRole};
    let access = ACCESS
        .iter()
        .find(|(m, r, _)| m.eq_ignore_ascii_case(method) && *r == path)
        .map(|(_, _, a)| *a);
    match access {
        Some(Access::Public) => Role::Public,
        Some(Access::Ingest) => Role::Ingest,
        Some(Access::Role(KeyRole::Viewer)) => Role::Viewer,
        Some(Access::Role(KeyRole::Operator)) => Role::Operator,
        // What the access table does not list needs admin (as the guard decides).
        Some(Access::Role(KeyRole::Admin)) | None => Role::Admin,
    }
}

const BEARER: &str = "bearerAuth";
const BASIC: &str = "basicAuth";

/// Adds security schemes, roles and the answers of authentication and rate limiting.
#[derive(Debug)]
struct Access;

fn error_json(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    )
}

fn integer_header(description: &str) -> openapi::Header {
    HeaderBuilder::new()
        .schema(
            openapi::ObjectBuilder::new()
                .schema_type(openapi::Type::Integer)
                .minimum(Some(0)),
        )
        .description(Some(description))
        .build()
}

impl Modify for Access {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("API key: `Authorization: Bearer <token>`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            BASIC,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "Ingest credentials as Alertmanager's `http_config.basic_auth` sends them",
                    ))
                    .build(),
            ),
        );
        components.responses.insert(
            "Unauthorized".to_owned(),
            RefOr::T(
                error_json("`unauthorized`: no credentials, or unknown ones")
                    .header(
                        "WWW-Authenticate",
                        HeaderBuilder::new().description(Some("`Bearer`")).build(),
                    )
                    .build(),
            ),
        );
        components.responses.insert(
            "Forbidden".to_owned(),
            RefOr::T(error_json("`forbidden`: the key's role is below the one needed").build()),
        );
        components.responses.insert(
            "TooManyRequests".to_owned(),
            RefOr::T(
                error_json("`rate_limited`: too many requests from this client; retry later")
                    .header("Retry-After", integer_header("seconds to wait"))
                    .header(
                        "X-RateLimit-Limit",
                        integer_header("requests allowed per minute"),
                    )
                    .header(
                        "X-RateLimit-Remaining",
                        integer_header("requests left in the current window"),
                    )
                    .header(
                        "X-RateLimit-Reset",
                        integer_header("seconds until the limit is fully restored"),
                    )
                    .build(),
            ),
        );
        components.responses.insert(
            "InternalError".to_owned(),
            RefOr::T(
                error_json("`internal_error`: a bug; the service log has the details").build(),
            ),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in [
                ("GET", item.get.as_mut()),
                ("POST", item.post.as_mut()),
                ("PUT", item.put.as_mut()),
                ("DELETE", item.delete.as_mut()),
                ("PATCH", item.patch.as_mut()),
            ] {
                if let Some(op) = op {
                    annotate(op, required_role(method, path));
                }
            }
        }
    }
}

fn annotate(op: &mut Operation, role: Role) {
    op.extensions.get_or_insert_with(Default::default).merge(
        ExtensionsBuilder::new()
            .add("x-required-role", role.as_str())
            .build(),
    );
    let responses = &mut op.responses.responses;
    let reference = |name: &str| RefOr::Ref(Ref::new(format!("#/components/responses/{name}")));
    op.security = Some(match role {
        Role::Public => vec![],
        Role::Ingest => vec![
            SecurityRequirement::new(BEARER, Vec::<String>::new()),
            SecurityRequirement::new(BASIC, Vec::<String>::new()),
        ],
        _ => vec![SecurityRequirement::new(BEARER, Vec::<String>::new())],
    });
    if role != Role::Public {
        responses.insert("401".to_owned(), reference("Unauthorized"));
        responses.insert("403".to_owned(), reference("Forbidden"));
    }
    responses.insert("429".to_owned(), reference("TooManyRequests"));
    responses.insert("500".to_owned(), reference("InternalError"));
}

/// The document.
pub fn document() -> openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as pretty JSON with stable key order, ending in a newline.
pub fn document_json() -> String {
    // Through `Value`: its maps are ordered, so the output is the same on every run.
    let value = serde_json::to_value(document()).unwrap_or_default();
    let mut out = serde_json::to_string_pretty(&value).unwrap_or_default();
    out.push('\n');
    out
}

/// The endpoint table of `docs/api.md`: method, path, summary and required role of every
/// operation, in path order.
pub fn endpoint_table() -> String {
    let value = serde_json::to_value(document()).unwrap_or_default();
    let mut out = String::from("| method | path | summary | role |\n|---|---|---|---|\n");
    let Some(paths) = value.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let summary = op.get("summary").and_then(Value::as_str).unwrap_or("");
            let role = op
                .get("x-required-role")
                .and_then(Value::as_str)
                .unwrap_or("");
            out.push_str(&format!(
                "| {} | `{path}` | {} | {role} |\n",
                method.to_uppercase(),
                summary.replace('|', "\\|")
            ));
        }
    }
    out
}

/// The OpenAPI 3.1 document of this API
#[utoipa::path(
    get,
    path = "/api/v2/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object),
    )
)]
pub(crate) async fn openapi_json() -> Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let body = DOC.get_or_init(document_json).as_str();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Markers around the generated endpoint table in `docs/api.md`.
pub const TABLE_BEGIN: &str =
    "<!-- BEGIN endpoint table: generated from docs/openapi.json by `cargo xtask openapi` -->";
/// End marker of the generated table.
pub const TABLE_END: &str = "<!-- END endpoint table -->";

/// `api_md` with the text between the table markers replaced by the current table; `None`
/// when the markers are missing.
pub fn with_endpoint_table(api_md: &str) -> Option<String> {
    let start = api_md.find(TABLE_BEGIN)? + TABLE_BEGIN.len();
    let end = start + api_md[start..].find(TABLE_END)?;
    Some(format!(
        "{}\n\n{}\n{}",
        &api_md[..start],
        endpoint_table(),
        &api_md[end..]
    ))
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeSet, path::PathBuf};

    use super::*;

    fn docs() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs")
    }

    /// `docs/openapi.json` and the endpoint table of `docs/api.md` are what the code
    /// generates. `UPDATE_OPENAPI=1` (what `cargo xtask openapi` sets) rewrites them.
    #[test]
    fn committed_document_and_endpoint_table_are_current() {
        let update = std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v == "1");
        let json_path = docs().join("openapi.json");
        let md_path = docs().join("api.md");
        let api_md = std::fs::read_to_string(&md_path).unwrap();
        let expected_md = with_endpoint_table(&api_md).unwrap_or_else(|| {
            panic!("docs/api.md lacks the markers {TABLE_BEGIN:?} … {TABLE_END:?}")
        });
        let expected_json = document_json();
        if update {
            std::fs::write(&json_path, &expected_json).unwrap();
            std::fs::write(&md_path, &expected_md).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&json_path).unwrap_or_default();
        assert!(
            committed == expected_json,
            "docs/openapi.json is stale: run `cargo xtask openapi` and commit the result"
        );
        assert!(
            api_md == expected_md,
            "the endpoint table in docs/api.md is stale: run `cargo xtask openapi` and commit \
             the result"
        );
    }

    fn operations() -> BTreeSet<(String, String)> {
        let doc = serde_json::to_value(document()).unwrap();
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
        out
    }

    /// Every route the router registers (read from the sources that build it) is in the
    /// document, and the document has nothing the router lacks.
    #[test]
    fn every_route_of_the_router_is_documented() {
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
        let route = regex::Regex::new(
            r#"\.route\(\s*("([^"]+)"|crate::openapi::DOCUMENT_PATH),\s*(get|post|put|delete|patch)\("#,
        )
        .unwrap();
        let mut routes = BTreeSet::new();
        let mut files = vec![src.join("router.rs")];
        for entry in std::fs::read_dir(src.join("handlers")).unwrap() {
            files.push(entry.unwrap().path());
        }
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for c in route.captures_iter(&text) {
                let path = c.get(2).map_or(DOCUMENT_PATH, |m| m.as_str());
                routes.insert((c[3].to_uppercase(), path.to_owned()));
            }
        }
        assert!(
            routes.len() >= 30,
            "found only {} routes: {routes:?}",
            routes.len()
        );
        assert_eq!(routes, operations());
    }

    #[test]
    fn every_operation_documents_auth_and_rate_limiting() {
        let doc = serde_json::to_value(document()).unwrap();
        for (method, path) in operations() {
            let op = &doc["paths"][&path][method.to_lowercase()];
            let responses = op["responses"].as_object().unwrap();
            let role = required_role(&method, &path);
            assert_eq!(op["x-required-role"], role.as_str(), "{method} {path}");
            assert!(responses.contains_key("429"), "{method} {path}");
            assert!(responses.contains_key("500"), "{method} {path}");
            assert_eq!(
                responses.contains_key("401") && responses.contains_key("403"),
                role != Role::Public,
                "{method} {path}"
            );
            assert_eq!(
                op["security"].as_array().unwrap().is_empty(),
                role == Role::Public,
                "{method} {path}"
            );
            for (status, r) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let text = r.to_string();
                    assert!(
                        text.contains("ErrorBody")
                            || text.contains("#/components/responses/")
                            || text.contains("TargetNotFound")
                            || text.contains("HealthUnavailable"),
                        "{method} {path} {status} does not answer the error envelope: {text}"
                    );
                }
            }
        }
        assert_eq!(required_role("GET", "/healthz"), Role::Public);
        assert_eq!(
            required_role("DELETE", "/api/v2/publishing/dlq/purge"),
            Role::Admin
        );
        assert_eq!(
            required_role("POST", "/api/v2/publishing/queue/submit"),
            Role::Operator
        );
        assert_eq!(required_role("GET", "/metrics"), Role::Viewer);
    }
}
