//! Tests of what `deploy/` ships, run by `cargo test`: the Helm chart rendered by Helm's own
//! template engine with discovery on and off (RBAC, Pod Security "restricted", probes,
//! ServiceMonitor, PodDisruptionBudget, PrometheusRule, dashboard), and the chart's copies of
//! the alert rules and the dashboard; the alert rules through `promtool check rules` and
//! `promtool test rules`, each with a runbook that is a heading of `docs/operations.md`; the
//! Grafana dashboard's variables and queries, evaluated by promtool over several replicas.
//!
//! The renderer is `xtask/helm-render.py` on the Helm Go SDK that the `helm-python-sdk`
//! package bundles, installed by `xtask/setup-test-tools.sh` (which `cargo xtask ci` runs)
//! into `<target>/helm-venv` (or the python named by `HELM_RENDER_PYTHON`). Without it the chart tests say so and pass, except under `CI=true`,
//! where a missing renderer fails them.

#[cfg(test)]
mod tests {
    use std::{
        path::{Path, PathBuf},
        process::Command,
    };

    use serde::Deserialize as _;
    use serde_yaml::Value;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf()
    }

    const CHART: &str = "deploy/helm/alert-publisher";
    const RELEASE: &str = "ap";
    const NAMESPACE: &str = "monitoring";

    /// The python of the venv that has `helm_python`, if there is one; `None` (after saying
    /// why) when there is not and this is not CI. Under `CI=true` a missing renderer panics.
    fn renderer() -> Option<PathBuf> {
        let python = std::env::var_os("HELM_RENDER_PYTHON").map_or_else(
            || {
                let target = std::env::var_os("CARGO_TARGET_DIR")
                    .map_or_else(|| root().join("target"), |t| root().join(t));
                target.join("helm-venv").join("bin").join("python")
            },
            PathBuf::from,
        );
        let works = Command::new(&python)
            .args(["-c", "import helm_python"])
            .output()
            .is_ok_and(|o| o.status.success());
        if works {
            return Some(python);
        }
        let why = format!(
            "the Helm chart tests need Helm's template engine: {} cannot import helm_python. \
             Run `bash xtask/setup-test-tools.sh` (it installs helm-python-sdk into <target>/helm-venv), or \
             `python3 -m venv target/helm-venv && target/helm-venv/bin/pip install \
             helm-python-sdk`, or point HELM_RENDER_PYTHON at a python that has it",
            python.display()
        );
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!ci, "{why}");
        eprintln!("skipped: {why}");
        None
    }

    fn helm(python: &Path, args: &[&str]) -> String {
        let out = Command::new(python)
            .arg(root().join("xtask/helm-render.py"))
            .args(args)
            .current_dir(root())
            .output()
            .expect("run xtask/helm-render.py");
        assert!(
            out.status.success(),
            "helm-render.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Every object the chart renders with `values` (JSON), as `helm template` would.
    fn render(python: &Path, values: &serde_json::Value) -> Vec<Value> {
        let text = helm(
            python,
            &["template", CHART, RELEASE, NAMESPACE, &values.to_string()],
        );
        serde_yaml::Deserializer::from_str(&text)
            .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{e}\n{text}")))
            .filter(|v| !v.is_null())
            .collect()
    }

    fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
        objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
        let found = of_kind(objects, kind);
        assert_eq!(found.len(), 1, "one {kind} expected: {found:?}");
        found[0]
    }

    fn kinds(objects: &[Value]) -> Vec<&str> {
        objects.iter().filter_map(|o| o["kind"].as_str()).collect()
    }

    /// The workload: a StatefulSet (SQLite) or a Deployment (PostgreSQL).
    fn workload(objects: &[Value]) -> &Value {
        let found: Vec<_> = objects
            .iter()
            .filter(|o| o["kind"] == "StatefulSet" || o["kind"] == "Deployment")
            .collect();
        assert_eq!(found.len(), 1, "one workload: {:?}", kinds(objects));
        found[0]
    }

    fn yaml(v: serde_json::Value) -> Value {
        serde_yaml::to_value(v).unwrap()
    }

    /// What the Pod Security "restricted" profile (Kubernetes 1.25+) asks of a pod template.
    fn assert_restricted(workload: &Value) {
        let spec = &workload["spec"]["template"]["spec"];
        let pod = &spec["securityContext"];
        for host in ["hostNetwork", "hostPID", "hostIPC"] {
            assert!(spec[host].is_null() || spec[host] == false, "{host}");
        }
        assert_eq!(pod["seccompProfile"]["type"], "RuntimeDefault", "{pod:?}");
        assert_eq!(pod["runAsNonRoot"], true, "{pod:?}");
        assert_ne!(pod["runAsUser"], 0, "{pod:?}");
        for volume in spec["volumes"].as_sequence().unwrap() {
            let allowed = [
                "name",
                "configMap",
                "secret",
                "emptyDir",
                "persistentVolumeClaim",
                "projected",
                "downwardAPI",
                "csi",
                "ephemeral",
            ];
            for key in volume.as_mapping().unwrap().keys() {
                assert!(
                    allowed.contains(&key.as_str().unwrap()),
                    "volume type {key:?} is not allowed under restricted: {volume:?}"
                );
            }
        }
        let containers = spec["containers"].as_sequence().unwrap();
        assert!(!containers.is_empty());
        for c in containers {
            let sc = &c["securityContext"];
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{sc:?}");
            assert_eq!(sc["runAsNonRoot"], true, "{sc:?}");
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{sc:?}");
            assert!(sc["privileged"].is_null() || sc["privileged"] == false);
            assert_eq!(sc["capabilities"]["drop"], yaml(serde_json::json!(["ALL"])));
            assert!(sc["capabilities"]["add"].is_null(), "{sc:?}");
            assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{sc:?}");
        }
    }

    fn assert_probes(workload: &Value) {
        let c = &workload["spec"]["template"]["spec"]["containers"][0];
        let ports: Vec<_> = c["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for (probe, path) in [
            ("startupProbe", "/healthz"),
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ] {
            let p = &c[probe];
            assert_eq!(p["httpGet"]["path"], path, "{probe}: {p:?}");
            let port = p["httpGet"]["port"].as_str().unwrap();
            assert!(
                ports.contains(&port),
                "{probe} port {port} is not {ports:?}"
            );
        }
        // Migrations run before the listener binds: the startup probe allows minutes, not
        // the seconds liveness allows.
        let startup = &c["startupProbe"];
        let budget = startup["periodSeconds"].as_u64().unwrap()
            * startup["failureThreshold"].as_u64().unwrap();
        assert!(budget >= 120, "startup probe allows only {budget}s");
    }

    /// The routes the probes name exist in the server's router.
    #[test]
    fn probe_paths_are_routes_of_the_server() {
        let routes =
            std::fs::read_to_string(root().join("crates/server/src/handlers/mod.rs")).unwrap();
        for path in ["/healthz", "/readyz", "/metrics"] {
            assert!(
                routes.contains(&format!(".route(\"{path}\"")),
                "the router has no {path}"
            );
        }
        let values = std::fs::read_to_string(root().join(CHART).join("values.yaml")).unwrap();
        assert!(values.contains("path: /healthz") && values.contains("path: /readyz"));
    }

    #[test]
    fn chart_without_discovery_has_no_secrets_access() {
        let Some(python) = renderer() else { return };
        let objects = render(
            &python,
            &serde_json::json!({
                "serviceMonitor": {
                    "enabled": true,
                    "labels": {"release": "kube-prometheus-stack"},
                    "interval": "15s",
                    "scrapeTimeout": "5s",
                },
                "podDisruptionBudget": {"enabled": true},
            }),
        );
        assert!(
            of_kind(&objects, "Role").is_empty()
                && of_kind(&objects, "RoleBinding").is_empty()
                && of_kind(&objects, "ClusterRole").is_empty()
                && of_kind(&objects, "ClusterRoleBinding").is_empty(),
            "discovery is off: no RBAC, got {:?}",
            kinds(&objects)
        );
        let sts = workload(&objects);
        assert_eq!(sts["kind"], "StatefulSet");
        assert_eq!(sts["metadata"]["name"], "ap-alert-publisher");
        assert_eq!(
            sts["spec"]["template"]["spec"]["automountServiceAccountToken"], false,
            "no API token without discovery"
        );
        assert_restricted(sts);
        assert_probes(sts);

        let sm = one(&objects, "ServiceMonitor");
        assert_eq!(sm["metadata"]["labels"]["release"], "kube-prometheus-stack");
        let endpoint = &sm["spec"]["endpoints"][0];
        assert_eq!(endpoint["path"], "/metrics");
        assert_eq!(endpoint["port"], "http");
        assert_eq!(endpoint["interval"], "15s");
        assert_eq!(endpoint["scrapeTimeout"], "5s");
        let service = one(&objects, "Service");
        assert_matches(&sm["spec"]["selector"], &service["metadata"]["labels"]);
        assert_eq!(
            sm["spec"]["namespaceSelector"]["matchNames"],
            yaml(serde_json::json!([NAMESPACE]))
        );

        let pdb = one(&objects, "PodDisruptionBudget");
        assert_eq!(pdb["spec"]["maxUnavailable"], 1);
        assert!(pdb["spec"]["minAvailable"].is_null());
        assert_matches(&pdb["spec"]["selector"], pod_labels(sts));
    }

    fn pod_labels(workload: &Value) -> &Value {
        &workload["spec"]["template"]["metadata"]["labels"]
    }

    /// A label selector (`matchLabels`) matches `labels`.
    fn assert_matches(selector: &Value, labels: &Value) {
        let wanted = selector["matchLabels"].as_mapping().unwrap();
        assert!(!wanted.is_empty(), "an empty selector: {selector:?}");
        for (k, v) in wanted {
            assert_eq!(
                &labels[k.as_str().unwrap()],
                v,
                "selector {selector:?} does not match {labels:?}"
            );
        }
    }

    /// The Role and RoleBinding of one namespace, checked: Secrets, read-only, bound to the
    /// chart's service account.
    fn assert_secrets_role(objects: &[Value], namespace: &str, account: &str) {
        let in_ns = |kind: &str| -> &Value {
            let found: Vec<_> = of_kind(objects, kind)
                .into_iter()
                .filter(|o| o["metadata"]["namespace"] == namespace)
                .collect();
            assert_eq!(found.len(), 1, "one {kind} in {namespace}: {found:?}");
            found[0]
        };
        let role = in_ns("Role");
        assert_eq!(
            role["rules"],
            yaml(serde_json::json!([
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}
            ]))
        );
        let binding = in_ns("RoleBinding");
        assert_eq!(binding["roleRef"]["kind"], "Role");
        assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
        assert_eq!(
            binding["subjects"],
            yaml(serde_json::json!([
                {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
            ]))
        );
    }

    #[test]
    fn chart_with_discovery_reads_secrets_in_the_watched_namespaces() {
        let Some(python) = renderer() else { return };
        // The release's namespace by default.
        let objects = render(
            &python,
            &serde_json::json!({"config": {"discovery": {"kubernetes": {"enabled": true}}}}),
        );
        assert_eq!(of_kind(&objects, "Role").len(), 1, "{:?}", kinds(&objects));
        assert_secrets_role(&objects, NAMESPACE, "ap-alert-publisher");
        assert!(of_kind(&objects, "ClusterRole").is_empty());
        let sts = workload(&objects);
        assert_eq!(
            sts["spec"]["template"]["spec"]["automountServiceAccountToken"],
            true
        );
        assert_eq!(
            sts["spec"]["template"]["spec"]["serviceAccountName"],
            "ap-alert-publisher"
        );
        assert_restricted(sts);
        assert_probes(sts);
        let config = one(&objects, "ConfigMap")["data"]["config.yaml"]
            .as_str()
            .unwrap()
            .to_owned();
        let config: Value = serde_yaml::from_str(&config).unwrap();
        assert_eq!(config["discovery"]["kubernetes"]["enabled"], true);

        // Each namespace it is told to watch, and only those.
        let objects = render(
            &python,
            &serde_json::json!({
                "config": {"discovery": {"kubernetes": {"enabled": true, "namespaces": ["team-a", "team-b"]}}},
                "serviceAccount": {"name": "notifier"},
            }),
        );
        assert_eq!(of_kind(&objects, "Role").len(), 2, "{:?}", kinds(&objects));
        assert_secrets_role(&objects, "team-a", "notifier");
        assert_secrets_role(&objects, "team-b", "notifier");

        // rbac.create: false leaves the RBAC to the cluster's owners.
        let objects = render(
            &python,
            &serde_json::json!({
                "config": {"discovery": {"kubernetes": {"enabled": true}}},
                "rbac": {"create": false},
            }),
        );
        assert!(of_kind(&objects, "Role").is_empty());
    }

    /// The defaults: a StatefulSet on SQLite, nothing optional.
    #[test]
    fn chart_defaults_are_one_sqlite_replica_and_no_optional_objects() {
        let Some(python) = renderer() else { return };
        let objects = render(&python, &serde_json::json!({}));
        let mut k = kinds(&objects);
        k.sort_unstable();
        assert_eq!(
            k,
            ["ConfigMap", "Service", "ServiceAccount", "StatefulSet"],
            "no ServiceMonitor, PrometheusRule, dashboard, PDB or RBAC unless asked for"
        );
        let sts = workload(&objects);
        assert_eq!(sts["spec"]["replicas"], 1);
        assert_restricted(sts);
        assert_probes(sts);
        assert_matches(&sts["spec"]["selector"], pod_labels(sts));
        assert_matches(
            &yaml(serde_json::json!({"matchLabels": one(&objects, "Service")["spec"]["selector"]})),
            pod_labels(sts),
        );
    }

    /// Several replicas on PostgreSQL: a Deployment spread over nodes, a PDB keeping some up,
    /// scheduling, environment and pod metadata from the values.
    #[test]
    fn chart_on_postgres_with_scheduling_environment_and_a_budget() {
        let Some(python) = renderer() else { return };
        let spread = serde_json::json!([{
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "alert-publisher"}},
        }]);
        let affinity = serde_json::json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["ops"]}]}]
        }}});
        let tolerations =
            serde_json::json!([{"key": "ops", "operator": "Exists", "effect": "NoSchedule"}]);
        let objects = render(
            &python,
            &serde_json::json!({
                "replicas": 3,
                "store": {"postgres": {"existingSecret": "pg"}},
                "podDisruptionBudget": {"enabled": true, "minAvailable": 2},
                "topologySpreadConstraints": spread,
                "affinity": affinity,
                "tolerations": tolerations,
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "extraEnv": [{"name": "ALERT_PUBLISHER_LOG_LEVEL", "value": "debug"}],
                "extraEnvFrom": [{"secretRef": {"name": "proxy-env"}}],
                "podAnnotations": {"example.com/team": "ops"},
                "podLabels": {"team": "ops"},
                "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}},
            }),
        );
        let deploy = workload(&objects);
        assert_eq!(deploy["kind"], "Deployment");
        assert_eq!(deploy["spec"]["replicas"], 3);
        assert!(deploy["spec"]["volumeClaimTemplates"].is_null());
        assert_restricted(deploy);
        assert_probes(deploy);
        let pod = &deploy["spec"]["template"]["spec"];
        assert_eq!(pod["topologySpreadConstraints"], yaml(spread));
        assert_eq!(pod["affinity"], yaml(affinity));
        assert_eq!(pod["tolerations"], yaml(tolerations));
        assert_eq!(pod["nodeSelector"]["kubernetes.io/os"], "linux");
        let c = &pod["containers"][0];
        let env = c["env"].as_sequence().unwrap();
        assert_eq!(env[0]["name"], "ALERT_PUBLISHER_STORE");
        assert_eq!(env[0]["valueFrom"]["secretKeyRef"]["name"], "pg");
        assert!(
            env.iter()
                .any(|e| e["name"] == "ALERT_PUBLISHER_LOG_LEVEL" && e["value"] == "debug"),
            "{env:?}"
        );
        assert_eq!(c["envFrom"][0]["secretRef"]["name"], "proxy-env");
        assert_eq!(c["resources"]["requests"]["cpu"], "250m");
        let meta = &deploy["spec"]["template"]["metadata"];
        assert_eq!(meta["labels"]["team"], "ops");
        assert_eq!(meta["annotations"]["example.com/team"], "ops");
        assert!(meta["annotations"]["checksum/config"].is_string());
        let pdb = one(&objects, "PodDisruptionBudget");
        assert_eq!(pdb["spec"]["minAvailable"], 2);
        assert!(
            pdb["spec"]["maxUnavailable"].is_null(),
            "minAvailable replaces maxUnavailable: {pdb:?}"
        );
        assert_matches(&pdb["spec"]["selector"], pod_labels(deploy));
    }

    #[test]
    fn chart_names_follow_name_and_fullname_overrides() {
        let Some(python) = renderer() else { return };
        let objects = render(
            &python,
            &serde_json::json!({"fullnameOverride": "notifier"}),
        );
        for o in &objects {
            assert_eq!(o["metadata"]["name"], "notifier", "{o:?}");
        }
        let objects = render(&python, &serde_json::json!({"nameOverride": "pager"}));
        let sts = workload(&objects);
        assert_eq!(sts["metadata"]["name"], "ap-pager");
        assert_eq!(pod_labels(sts)["app.kubernetes.io/name"], "pager");
        assert_matches(&sts["spec"]["selector"], pod_labels(sts));
        let service = one(&objects, "Service");
        assert_eq!(
            service["spec"]["selector"]["app.kubernetes.io/name"],
            "pager"
        );
    }

    /// The PrometheusRule carries exactly the rules of deploy/prometheus, and the dashboard
    /// ConfigMap exactly deploy/grafana's dashboard, with the labels their operators look for.
    #[test]
    fn chart_ships_the_alert_rules_and_the_dashboard() {
        let Some(python) = renderer() else { return };
        let objects = render(
            &python,
            &serde_json::json!({
                "prometheusRule": {"enabled": true, "labels": {"release": "kube-prometheus-stack"}},
                "dashboard": {"enabled": true, "namespace": "grafana", "annotations": {"grafana_folder": "Alerting"}},
            }),
        );
        let rule = one(&objects, "PrometheusRule");
        assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
        assert_eq!(
            rule["metadata"]["labels"]["release"],
            "kube-prometheus-stack"
        );
        let file: Value = serde_yaml::from_str(
            &std::fs::read_to_string(root().join("deploy/prometheus/alert-publisher-rules.yaml"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(rule["spec"]["groups"], file["groups"]);

        let dashboards: Vec<_> = of_kind(&objects, "ConfigMap")
            .into_iter()
            .filter(|c| c["metadata"]["labels"]["grafana_dashboard"] == "1")
            .collect();
        assert_eq!(dashboards.len(), 1, "{dashboards:?}");
        let cm = dashboards[0];
        assert_eq!(cm["metadata"]["namespace"], "grafana");
        assert_eq!(cm["metadata"]["annotations"]["grafana_folder"], "Alerting");
        let shipped: serde_json::Value =
            serde_json::from_str(cm["data"]["alert-publisher.json"].as_str().unwrap()).unwrap();
        let file: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root().join("deploy/grafana/alert-publisher.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(shipped, file);
    }

    /// `helm lint --strict` finds nothing worse than advice, with every option on.
    #[test]
    fn chart_passes_helm_lint() {
        let Some(python) = renderer() else { return };
        let values = serde_json::json!({
            "serviceMonitor": {"enabled": true},
            "prometheusRule": {"enabled": true},
            "dashboard": {"enabled": true},
            "podDisruptionBudget": {"enabled": true},
            "config": {"discovery": {"kubernetes": {"enabled": true}}},
        });
        let report: serde_json::Value = serde_json::from_str(&helm(
            &python,
            &["lint", CHART, NAMESPACE, &values.to_string()],
        ))
        .unwrap();
        assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
        // Severity 1 is advice (an icon); 2 and above are warnings and errors.
        let serious: Vec<_> = report["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["severity"].as_u64().unwrap_or(0) >= 2)
            .collect();
        assert!(serious.is_empty(), "{serious:#?}");
    }

    /// Helm reads only files inside the chart: it ships copies of the rules and the
    /// dashboard, which must stay equal to the originals.
    #[test]
    fn chart_copies_of_the_rules_and_the_dashboard_are_current() {
        for (copy, original) in [
            (
                "files/alert-publisher-rules.yaml",
                "deploy/prometheus/alert-publisher-rules.yaml",
            ),
            (
                "files/alert-publisher.json",
                "deploy/grafana/alert-publisher.json",
            ),
        ] {
            let copy = root().join(CHART).join(copy);
            let original = root().join(original);
            assert!(
                std::fs::read(&copy).unwrap() == std::fs::read(&original).unwrap(),
                "{} differs from {}: cp {} {}",
                copy.display(),
                original.display(),
                original.display(),
                copy.display()
            );
        }
    }

    const RULES: &str = "deploy/prometheus/alert-publisher-rules.yaml";
    const RULE_TESTS: &str = "deploy/prometheus/alert-publisher-rules.test.yaml";

    /// `promtool`, if installed (`PROMTOOL` names another); `None` (after saying why) when it
    /// is not and this is not CI. Under `CI=true` a missing promtool panics.
    fn promtool() -> Option<PathBuf> {
        let promtool =
            std::env::var_os("PROMTOOL").map_or_else(|| "promtool".into(), PathBuf::from);
        if Command::new(&promtool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(promtool);
        }
        let why = format!(
            "the alert rule tests need promtool ({}): `apt-get install prometheus`, or run \
             `bash xtask/setup-test-tools.sh`, which installs what the tests need",
            promtool.display()
        );
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!ci, "{why}");
        eprintln!("skipped: {why}");
        None
    }

    fn run_promtool(promtool: &Path, args: &[&str]) -> String {
        let out = Command::new(promtool)
            .args(args)
            .current_dir(root())
            .output()
            .expect("run promtool");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "promtool {args:?}:\n{text}");
        text
    }

    #[test]
    fn alert_rules_pass_promtool_check_and_their_unit_tests() {
        let Some(promtool) = promtool() else { return };
        let out = run_promtool(&promtool, &["check", "rules", RULES]);
        assert!(out.contains("SUCCESS"), "{out}");
        let out = run_promtool(&promtool, &["test", "rules", RULE_TESTS]);
        assert!(out.contains("SUCCESS"), "{out}");
    }

    fn rules() -> Vec<Value> {
        let file: Value =
            serde_yaml::from_str(&std::fs::read_to_string(root().join(RULES)).unwrap()).unwrap();
        let rules: Vec<Value> = file["groups"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_sequence().unwrap().clone())
            .filter(|r| r["alert"].is_string())
            .collect();
        assert!(rules.len() >= 10, "{rules:?}");
        rules
    }

    /// The anchor GitHub gives a Markdown heading's text: lower case, punctuation dropped
    /// (hyphens and underscores stay), each space a hyphen.
    fn github_slug(heading: &str) -> String {
        heading
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect()
    }

    /// The anchors of every heading of a Markdown text (code blocks left out); a repeated
    /// slug gets `-1`, `-2`, … as on GitHub.
    fn anchors(markdown: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut fenced = false;
        for line in markdown.lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                continue;
            }
            let Some(text) = line.strip_prefix('#') else {
                continue;
            };
            if fenced {
                continue;
            }
            let text = text.trim_start_matches('#');
            if !text.starts_with(' ') {
                continue;
            }
            let slug = github_slug(text);
            let repeats = out
                .iter()
                .filter(|s| {
                    **s == slug
                        || s.strip_prefix(&format!("{slug}-"))
                            .is_some_and(|n| n.parse::<u32>().is_ok())
                })
                .count();
            out.push(if repeats == 0 {
                slug
            } else {
                format!("{slug}-{repeats}")
            });
        }
        out
    }

    #[test]
    fn github_slugs_are_computed_like_github() {
        assert_eq!(
            github_slug(" AlertPublisherDown (critical)"),
            "alertpublisherdown-critical"
        );
        assert_eq!(
            github_slug(" `rate_limit:` — per-client rate limits"),
            "rate_limit--per-client-rate-limits"
        );
        assert_eq!(
            anchors("# A\n```sh\n# not a heading\n```\n## B c\n### B c\n#nope\n"),
            ["a", "b-c", "b-c-1"]
        );
    }

    /// The repository's address (`repository` in the workspace manifest).
    fn repository() -> String {
        let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
        manifest
            .lines()
            .find_map(|l| l.strip_prefix("repository = "))
            .expect("repository in Cargo.toml")
            .trim_matches('"')
            .to_owned()
    }

    /// Every alert has a runbook: `runbook_url` is docs/operations.md in the repository at one
    /// of its headings.
    #[test]
    fn every_alert_rule_links_a_runbook_heading_of_the_operations_guide() {
        let guide = std::fs::read_to_string(root().join("docs/operations.md")).unwrap();
        let anchors = anchors(&guide);
        let prefix = format!("{}/blob/main/docs/operations.md#", repository());
        let mut bad = Vec::new();
        for rule in rules() {
            let alert = rule["alert"].as_str().unwrap();
            let Some(url) = rule["annotations"]["runbook_url"].as_str() else {
                bad.push(format!("{alert}: no runbook_url"));
                continue;
            };
            match url.strip_prefix(&prefix) {
                None => bad.push(format!("{alert}: {url} does not start with {prefix}")),
                Some(anchor) if !anchors.iter().any(|a| a == anchor) => bad.push(format!(
                    "{alert}: #{anchor} is no heading of docs/operations.md"
                )),
                Some(anchor) => assert!(
                    anchor.starts_with(&alert.to_lowercase()),
                    "{alert}: the runbook #{anchor} is another alert's"
                ),
            }
            for key in ["summary", "description"] {
                if !rule["annotations"][key].is_string() {
                    bad.push(format!("{alert}: no {key}"));
                }
            }
            if !rule["labels"]["severity"].is_string() {
                bad.push(format!("{alert}: no severity"));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    /// Every alert has a promtool unit test in which it fires.
    #[test]
    fn every_alert_rule_has_a_unit_test_where_it_fires() {
        let tests: Value =
            serde_yaml::from_str(&std::fs::read_to_string(root().join(RULE_TESTS)).unwrap())
                .unwrap();
        let cases: Vec<&Value> = tests["tests"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|t| t["alert_rule_test"].as_sequence().unwrap())
            .collect();
        let untested: Vec<_> = rules()
            .iter()
            .map(|r| r["alert"].as_str().unwrap().to_owned())
            .filter(|alert| {
                !cases.iter().any(|c| {
                    c["alertname"] == alert.as_str()
                        && c["exp_alerts"].as_sequence().is_some_and(|a| !a.is_empty())
                })
            })
            .collect();
        assert!(
            untested.is_empty(),
            "never seen firing in {RULE_TESTS}: {untested:?}"
        );
    }

    /// The metric families the code declares: every string constant of a `metrics.rs` under
    /// `crates/*/src`.
    fn declared_families() -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        for krate in std::fs::read_dir(root().join("crates")).unwrap().flatten() {
            let Ok(text) = std::fs::read_to_string(krate.path().join("src/metrics.rs")) else {
                continue;
            };
            for (at, _) in text.match_indices("pub const ") {
                let rest = &text[at..];
                let Some(eq) = rest.find('=') else { continue };
                let Some(name) = rest[eq + 1..].trim_start().strip_prefix('"') else {
                    continue;
                };
                out.insert(name[..name.find('"').unwrap()].to_owned());
            }
        }
        assert!(out.len() >= 40, "{out:?}");
        out
    }

    /// Our metric families a PromQL text names (`_bucket`, `_sum`, `_count` stripped).
    fn families_in(text: &str) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        for prefix in ["alert_history_publishing_", "alert_publisher_"] {
            for (at, _) in text.match_indices(prefix) {
                if text[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                    continue;
                }
                let tail = &text[at..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                let name = &tail[..end];
                let name = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(name);
                out.insert(name.to_owned());
            }
        }
        out
    }

    /// The rules and the dashboard name only families the code declares (a typo would make an
    /// alert that never fires or a panel that stays empty).
    #[test]
    fn rules_and_dashboard_use_declared_metric_families() {
        let declared = declared_families();
        for file in [RULES, "deploy/grafana/alert-publisher.json"] {
            let text = std::fs::read_to_string(root().join(file)).unwrap();
            let used = families_in(&text);
            assert!(used.len() >= 5, "{file}: {used:?}");
            let unknown: Vec<_> = used.difference(&declared).collect();
            assert!(
                unknown.is_empty(),
                "{file} names undeclared families: {unknown:?}"
            );
        }
    }

    const DASHBOARD: &str = "deploy/grafana/alert-publisher.json";

    fn dashboard() -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(root().join(DASHBOARD)).unwrap()).unwrap()
    }

    /// Every query of the dashboard: (panel title, expression).
    fn queries(dashboard: &serde_json::Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                out.push((
                    panel["title"].as_str().unwrap().to_owned(),
                    target["expr"].as_str().unwrap().to_owned(),
                ));
            }
        }
        assert!(out.len() >= 10, "{out:?}");
        out
    }

    /// The families the code describes as gauges (`describe_gauge!(CONST, …)` in a crate's
    /// `metrics.rs`).
    fn gauge_families() -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        for krate in std::fs::read_dir(root().join("crates")).unwrap().flatten() {
            let Ok(text) = std::fs::read_to_string(krate.path().join("src/metrics.rs")) else {
                continue;
            };
            for (at, _) in text.match_indices("describe_gauge!(") {
                let rest = text[at + "describe_gauge!(".len()..].trim_start();
                let ident: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let decl = format!("pub const {ident}: &str =");
                let Some(d) = text.find(&decl) else { continue };
                let value = text[d + decl.len()..].trim_start();
                let value = value.strip_prefix('"').unwrap();
                out.insert(value[..value.find('"').unwrap()].to_owned());
            }
        }
        for known in [
            "alert_history_publishing_queue_size",
            "alert_history_publishing_dlq_size",
            "alert_history_publishing_circuit_breaker_state",
        ] {
            assert!(out.contains(known), "{known} not found among {out:?}");
        }
        out
    }

    /// A data source, namespace and job variable; every panel on the data source variable.
    #[test]
    fn dashboard_has_datasource_namespace_and_job_variables() {
        let d = dashboard();
        let vars = d["templating"]["list"].as_array().unwrap();
        let var = |name: &str| {
            vars.iter()
                .find(|v| v["name"] == name)
                .unwrap_or_else(|| panic!("no ${name} variable: {vars:?}"))
        };
        assert_eq!(var("datasource")["type"], "datasource");
        assert_eq!(var("datasource")["query"], "prometheus");
        for name in ["namespace", "job"] {
            let v = var(name);
            assert_eq!(v["type"], "query", "{v}");
            assert_eq!(v["datasource"]["uid"], "${datasource}", "{v}");
            // "All" must also match series without the label (outside Kubernetes).
            assert_eq!(v["includeAll"], true, "{v}");
            assert_eq!(v["allValue"], ".*", "{v}");
            let query = v["query"]["query"].as_str().unwrap();
            assert!(
                query.starts_with("label_values(") && query.contains(name),
                "{v}"
            );
        }
        assert!(
            var("job")["query"]["query"]
                .as_str()
                .unwrap()
                .contains("namespace=~\"$namespace\""),
            "the job list follows the namespace chosen"
        );
        for panel in d["panels"].as_array().unwrap() {
            assert_eq!(
                panel["datasource"]["uid"], "${datasource}",
                "{}",
                panel["title"]
            );
        }
    }

    /// Every series a query selects is filtered by the job and namespace variables, and every
    /// gauge is aggregated with max or min: a replica reports the shared store's queue and
    /// dead letters (summing replicas would count them once per replica) and its own
    /// per-process states (a sum of states means nothing).
    #[test]
    fn dashboard_queries_filter_by_job_and_namespace_and_never_sum_gauges_over_replicas() {
        let gauges = gauge_families();
        let mut bad = Vec::new();
        for (title, expr) in queries(&dashboard()) {
            let mut names: Vec<(usize, String)> = Vec::new();
            for family in families_in(&expr) {
                for (at, _) in expr.match_indices(&family) {
                    names.push((at, family.clone()));
                }
            }
            for (at, _) in expr.match_indices("up{") {
                names.push((at, "up".to_owned()));
            }
            assert!(!names.is_empty(), "{title}: {expr}");
            for (at, name) in names {
                let rest = &expr[at..];
                let Some(open) = rest.find(['{', '[', ')', ' ']) else {
                    bad.push(format!("{title}: {name} has no selector in {expr}"));
                    continue;
                };
                let selector = if rest[open..].starts_with('{') {
                    &rest[open..rest.find('}').unwrap()]
                } else {
                    ""
                };
                if !(selector.contains("job=~\"$job\"")
                    && selector.contains("namespace=~\"$namespace\""))
                {
                    bad.push(format!(
                        "{title}: {name} is not filtered by $job and $namespace in {expr}"
                    ));
                }
                if gauges.contains(&name) {
                    let before = expr[..at].trim_end();
                    let aggregated = before.strip_suffix('(').is_some_and(|b| {
                        let b = b.trim_end();
                        // `max by (labels) (` or `max(`.
                        let b = match b.strip_suffix(')') {
                            Some(inner) => {
                                let open = inner.rfind('(').unwrap();
                                inner[..open]
                                    .trim_end()
                                    .trim_end_matches("by")
                                    .trim_end_matches("without")
                                    .trim_end()
                            }
                            None => b,
                        };
                        b.ends_with("max") || b.ends_with("min")
                    });
                    if !aggregated {
                        bad.push(format!(
                            "{title}: the gauge {name} is not directly under max or min in {expr}"
                        ));
                    }
                }
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    /// The dashboard's queries evaluated by promtool over two deployments, one with two
    /// replicas: each replica reports the same shared queue and dead letters, and the panels
    /// count them once per deployment.
    #[test]
    fn dashboard_counts_the_shared_queue_once_per_deployment() {
        let Some(promtool) = promtool() else { return };
        let d = dashboard();
        let all = |e: &str| e.replace("$job", ".*").replace("$namespace", ".*");
        let query = |title: &str, legend: &str| -> String {
            let panel = d["panels"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["title"].as_str().unwrap().starts_with(title))
                .unwrap_or_else(|| panic!("no panel {title}"));
            let target = panel["targets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["legendFormat"] == legend)
                .unwrap_or_else(|| panic!("no query {legend} in {title}"));
            all(target["expr"].as_str().unwrap())
        };
        let mut exprs = String::new();
        let mut check = |expr: String, samples: &[(&str, f64)]| {
            exprs.push_str(&format!(
                "      - expr: {}\n        eval_time: 5m\n        exp_samples:\n",
                serde_json::to_string(&expr).unwrap()
            ));
            for (labels, value) in samples {
                exprs.push_str(&format!(
                    "          - labels: '{labels}'\n            value: {value}\n"
                ));
            }
        };
        check(
            query("Queue by priority", "{{priority}}"),
            &[("{priority=\"high\"}", 8.0), ("{priority=\"low\"}", 2.0)],
        );
        check(query("Queue by priority", "capacity"), &[("{}", 20000.0)]);
        check(query("Dead-letter queue", "stored"), &[("{}", 10.0)]);
        check(
            query("Circuit breakers", "{{target}}"),
            &[("{target=\"pd\"}", 2.0)],
        );
        check(
            query("Throughput", "{{state}}"),
            &[("{state=\"delivered\"}", 3.0)],
        );
        check(
            query("Instances up", "{{namespace}} {{job}}"),
            &[
                ("{namespace=\"team-a\", job=\"ap-alert-publisher\"}", 2.0),
                ("{namespace=\"team-b\", job=\"alert-publisher\"}", 1.0),
            ],
        );
        let series = |name: &str, instance: &str, labels: &str, values: &str| -> String {
            let (ns, job) = if instance == "c" {
                ("team-b", "alert-publisher")
            } else {
                ("team-a", "ap-alert-publisher")
            };
            let extra = if labels.is_empty() {
                String::new()
            } else {
                format!(",{labels}")
            };
            format!(
                "      - series: '{name}{{namespace=\"{ns}\",job=\"{job}\",instance=\"{instance}\"{extra}}}'\n        values: \"{values}\"\n"
            )
        };
        let mut input = String::new();
        // Deployment team-a: replicas a and b share one PostgreSQL queue; team-b: replica c.
        for instance in ["a", "b", "c"] {
            let (high, low, dead) = if instance == "c" {
                (3, 0, 3)
            } else {
                (5, 2, 7)
            };
            input += &series(
                "alert_history_publishing_queue_size",
                instance,
                "priority=\"high\"",
                &format!("{high}x10"),
            );
            input += &series(
                "alert_history_publishing_queue_size",
                instance,
                "priority=\"low\"",
                &format!("{low}x10"),
            );
            input += &series(
                "alert_history_publishing_queue_capacity",
                instance,
                "",
                "10000x10",
            );
            input += &series(
                "alert_history_publishing_dlq_size",
                instance,
                "target=\"pd\"",
                &format!("{dead}x10"),
            );
            input += &series("up", instance, "", "1x10");
            // Each replica delivers on its own: the rates add up (1/s each).
            input += &series(
                "alert_history_publishing_jobs_processed_total",
                instance,
                "target=\"pd\",state=\"delivered\"",
                "0+60x10",
            );
        }
        input += &series(
            "alert_history_publishing_circuit_breaker_state",
            "a",
            "target=\"pd\"",
            "2x10",
        );
        input += &series(
            "alert_history_publishing_circuit_breaker_state",
            "b",
            "target=\"pd\"",
            "0x10",
        );
        let tests = format!(
            "rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{input}    promql_expr_test:\n{exprs}"
        );
        let dir = std::env::temp_dir().join(format!("xtask-dashboard-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("dashboard.test.yaml");
        std::fs::write(&file, &tests).unwrap();
        let out = Command::new(&promtool)
            .args(["test", "rules"])
            .arg(&file)
            .output()
            .expect("run promtool");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "{}{}\n{tests}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every query of the dashboard parses (promtool checks it as a recording rule).
    #[test]
    fn dashboard_queries_are_valid_promql() {
        let Some(promtool) = promtool() else { return };
        let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
        for (i, (_, expr)) in queries(&dashboard()).iter().enumerate() {
            let expr = expr.replace("$job", ".*").replace("$namespace", ".*");
            rules.push_str(&format!(
                "      - record: dashboard:query{i}\n        expr: {}\n",
                serde_json::to_string(&expr).unwrap()
            ));
        }
        let dir =
            std::env::temp_dir().join(format!("xtask-dashboard-rules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("dashboard-rules.yaml");
        std::fs::write(&file, &rules).unwrap();
        let out = Command::new(&promtool)
            .args(["check", "rules"])
            .arg(&file)
            .output()
            .expect("run promtool");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "{}{}\n{rules}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
