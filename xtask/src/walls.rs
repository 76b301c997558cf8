//! Dependency walls: which crates each workspace crate may depend on, checked over every
//! `crates/*/Cargo.toml` (rust-analyzer's tidy). `[dependencies]` and `[build-dependencies]`
//! count, also under `[target.'cfg(..)']`; `[dev-dependencies]` do not (tests may use
//! testkit). The manifests are read by a small line parser: the lock file has no TOML crate.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// One wall. `crates`: names, `prefix-*` or `*`; `except`: crates it skips. `only`: the
/// workspace crates they may depend on (`None`: any); `deny`: crates they must not depend on,
/// `name/feature` when only that feature of the crate is refused. `why` ends the message.
struct Wall {
    crates: &'static [&'static str],
    except: &'static [&'static str],
    only: Option<&'static [&'static str]>,
    deny: &'static [&'static str],
    why: &'static str,
}

/// Every wall, in one table; the first wall a dependency breaks is the one reported. A crate
/// that does not exist yet (`service`) is simply not checked.
fn table() -> [Wall; 8] {
    [
        Wall {
            crates: &["*"],
            // testkit is dev-only and may use anything.
            except: &["server", "testkit"],
            only: None,
            deny: &["server"],
            why: "nothing below the binary uses it",
        },
        Wall {
            crates: &["*"],
            except: &[],
            only: None,
            deny: &["testkit"],
            why: "testkit is only a dev-dependency",
        },
        Wall {
            crates: &["template"],
            except: &[],
            only: Some(&[]),
            deny: &[],
            why: "the template engine is a leaf: Go templates and Alertmanager's data model",
        },
        Wall {
            crates: &["publish"],
            except: &[],
            only: Some(&["template"]),
            deny: &[],
            why: "the publishing contract depends on no workspace crate but the template engine",
        },
        Wall {
            crates: &["publish-*"],
            except: &[],
            only: Some(&["publish"]),
            deny: &[],
            why: "a publisher knows only the publishing contract",
        },
        Wall {
            crates: &["targets", "queue"],
            except: &[],
            only: Some(&["publish"]),
            deny: &[],
            why: "target definitions and delivery know only the publishing contract",
        },
        Wall {
            crates: &["collect", "aggregate", "analyze"],
            except: &[],
            only: None,
            deny: &["server", "service"],
            why: "the stats layers sit below the service",
        },
        Wall {
            crates: &["service"],
            except: &[],
            only: None,
            deny: &["axum", "hyper/server", "tower-http", "server"],
            why: "the service knows no HTTP server; the binary serves it",
        },
    ]
}

impl Wall {
    fn applies(&self, krate: &str) -> bool {
        let matches = |pattern: &&str| match pattern.strip_suffix('*') {
            Some(prefix) => krate.starts_with(prefix),
            None => *pattern == krate,
        };
        self.crates.iter().any(matches) && !self.except.contains(&krate)
    }

    /// Why `dep` may not be used (the refused name, with its feature), or `None`.
    fn refuses(&self, dep: &Dep, ours: &BTreeSet<String>) -> Option<String> {
        if let Some(only) = self.only
            && ours.contains(&dep.name)
            && !only.contains(&dep.name.as_str())
        {
            return Some(dep.name.clone());
        }
        self.deny
            .iter()
            .find_map(|denied| match denied.split_once('/') {
                Some((name, feature)) => (dep.name == name
                    && dep.features.iter().any(|f| f == feature))
                .then(|| format!("{name} with feature \"{feature}\"")),
                None => (dep.name == *denied).then(|| dep.name.clone()),
            })
    }
}

/// Every wall broken under `root` (a workspace: `Cargo.toml`, `crates/*/Cargo.toml`), one
/// line each naming the crate, the dependency and the manifest section.
pub(crate) fn walls(root: &Path) -> Vec<String> {
    let mut broken = Vec::new();
    let workspace = std::fs::read_to_string(root.join("Cargo.toml"))
        .map(|text| Manifest::parse(&text).workspace)
        .unwrap_or_default();
    let mut manifests = Vec::new();
    let dirs = match std::fs::read_dir(root.join("crates")) {
        Ok(dirs) => dirs,
        Err(e) => return vec![format!("{}/crates: cannot read: {e}", root.display())],
    };
    for dir in dirs.flatten() {
        let path = dir.path().join("Cargo.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => manifests.push(Manifest::parse(&text)),
            Err(e) if path.exists() => broken.push(format!("{}: cannot read: {e}", path.display())),
            Err(_) => {}
        }
    }
    manifests.sort_by(|a, b| a.package.cmp(&b.package));
    let ours: BTreeSet<String> = manifests.iter().map(|m| m.package.clone()).collect();
    let table = table();
    for manifest in &manifests {
        let krate = &manifest.package;
        let mut reported = BTreeSet::new();
        for dep in &manifest.deps {
            let dep = dep.resolve(&workspace);
            for wall in table.iter().filter(|w| w.applies(krate)) {
                if let Some(refused) = wall.refuses(&dep, &ours)
                    && reported.insert(dep.name.clone())
                {
                    broken.push(format!(
                        "{krate} must not depend on {refused} (in [{}]): {}",
                        dep.section, wall.why
                    ));
                }
            }
        }
    }
    broken
}

/// A dependency as a manifest writes it.
#[derive(Debug, Clone, Default)]
struct Dep {
    /// The manifest section: `dependencies`, `build-dependencies`, `target.'cfg(..)'.dependencies`.
    section: String,
    /// The key the manifest names it by.
    key: String,
    /// The package: the key, or its `package = ...`.
    name: String,
    features: Vec<String>,
    workspace: bool,
}

impl Dep {
    /// With `workspace = true`, the package and features of `[workspace.dependencies]` too.
    fn resolve(&self, workspace: &BTreeMap<String, Dep>) -> Dep {
        let mut dep = self.clone();
        if let Some(shared) = self.workspace.then(|| workspace.get(&self.key)).flatten() {
            dep.name.clone_from(&shared.name);
            dep.features.extend(shared.features.iter().cloned());
        }
        dep
    }

    fn set(&mut self, key: &str, value: &str) {
        match key {
            "package" => self.name = unquote(value),
            "features" => self.features = array(value),
            "workspace" => self.workspace = value == "true",
            _ => {}
        }
    }
}

/// What the walls need from a `Cargo.toml`.
#[derive(Debug, Default)]
struct Manifest {
    package: String,
    /// `[dependencies]` and `[build-dependencies]`, in order.
    deps: Vec<Dep>,
    /// `[workspace.dependencies]` by key.
    workspace: BTreeMap<String, Dep>,
}

/// Where a line of the manifest belongs.
enum Section {
    Package,
    /// A dependency table; with `Some(key)` the `[dependencies.key]` table of one dependency.
    Deps(String, Option<String>),
    /// `[workspace.dependencies]`, or one entry of it.
    WorkspaceDeps(Option<String>),
    Other,
}

impl Section {
    fn of(header: &str) -> Section {
        if header == "package" {
            return Section::Package;
        }
        if let Some(rest) = header.strip_prefix("workspace.dependencies") {
            return match rest.strip_prefix('.') {
                Some(key) => Section::WorkspaceDeps(Some(unquote(key))),
                None if rest.is_empty() => Section::WorkspaceDeps(None),
                None => Section::Other,
            };
        }
        // `target.<cfg or triple>.` in front of a dependency table.
        let table = match header.strip_prefix("target.") {
            Some(rest) => match rest.chars().next() {
                Some(q @ ('\'' | '"')) => rest[1..]
                    .find(q)
                    .and_then(|end| rest[end + 2..].strip_prefix('.')),
                _ => rest.split_once('.').map(|(_, table)| table),
            },
            None => Some(header),
        };
        let Some(table) = table else {
            return Section::Other;
        };
        for kind in ["dependencies", "build-dependencies"] {
            if let Some(rest) = table.strip_prefix(kind) {
                let section = header[..header.len() - rest.len()].to_owned();
                if rest.is_empty() {
                    return Section::Deps(section, None);
                }
                if let Some(key) = rest.strip_prefix('.') {
                    return Section::Deps(section, Some(unquote(key)));
                }
            }
        }
        Section::Other
    }
}

impl Manifest {
    fn parse(text: &str) -> Manifest {
        let mut manifest = Manifest::default();
        let mut section = Section::Other;
        for line in logical_lines(text) {
            if line.starts_with('[') {
                let header = line.trim_start_matches('[').trim_end_matches(']').trim();
                section = if line.starts_with("[[") {
                    Section::Other
                } else {
                    Section::of(header)
                };
                continue;
            }
            let Some((key, value)) = split_once_top(&line, '=') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            match &section {
                Section::Package if key == "name" => manifest.package = unquote(value),
                Section::Deps(name, table) => {
                    let (dep_key, sub) = entry_key(key, table.as_deref());
                    let dep = match manifest
                        .deps
                        .iter_mut()
                        .find(|d| d.section == *name && d.key == dep_key)
                    {
                        Some(dep) => dep,
                        None => {
                            manifest.deps.push(Dep {
                                section: name.clone(),
                                key: dep_key.clone(),
                                name: dep_key.clone(),
                                ..Dep::default()
                            });
                            manifest.deps.last_mut().expect("just pushed")
                        }
                    };
                    apply(dep, sub, value);
                }
                Section::WorkspaceDeps(table) => {
                    let (dep_key, sub) = entry_key(key, table.as_deref());
                    let dep = manifest.workspace.entry(dep_key.clone()).or_insert(Dep {
                        key: dep_key.clone(),
                        name: dep_key,
                        ..Dep::default()
                    });
                    apply(dep, sub, value);
                }
                Section::Package | Section::Other => {}
            }
        }
        manifest
    }
}

/// The dependency a key names and the field it sets, if any: `serde` (whole entry),
/// `hyper.features`, or `features` inside `[dependencies.hyper]`.
fn entry_key(key: &str, table: Option<&str>) -> (String, Option<String>) {
    match table {
        Some(dep) => (dep.to_owned(), Some(unquote(key))),
        None => match key.split_once('.') {
            Some((dep, field)) => (unquote(dep), Some(unquote(field))),
            None => (unquote(key), None),
        },
    }
}

/// `value` set as the field `sub` of `dep`, or as the whole entry (a version string or an
/// inline table).
fn apply(dep: &mut Dep, sub: Option<String>, value: &str) {
    match sub {
        Some(field) => dep.set(&field, value),
        None => {
            if let Some(inner) = value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
                for pair in split_top(inner, ',') {
                    if let Some((k, v)) = split_once_top(&pair, '=') {
                        dep.set(&unquote(k.trim()), v.trim());
                    }
                }
            }
        }
    }
}

/// The manifest's lines without comments, a multi-line array joined into one line.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = strip_comment(raw).trim().to_owned();
        if line.is_empty() {
            continue;
        }
        if !pending.is_empty() {
            pending.push(' ');
        }
        pending.push_str(&line);
        if depth(&pending) <= 0 {
            lines.push(std::mem::take(&mut pending));
        }
    }
    if !pending.is_empty() {
        lines.push(pending);
    }
    lines
}

/// Open brackets and braces outside strings.
fn depth(s: &str) -> i32 {
    let mut depth = 0;
    let mut quote = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            _ => {}
        }
    }
    depth
}

fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// `s` split at every `sep` outside strings, brackets and braces.
fn split_top(s: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut nested = 0;
    let mut quote = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => nested += 1,
            (None, ']' | '}') => nested -= 1,
            (None, c) if c == sep && nested == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        parts.last_mut().expect("never empty").push(c);
    }
    parts.retain(|p| !p.trim().is_empty());
    parts
}

fn split_once_top(s: &str, sep: char) -> Option<(String, String)> {
    let mut parts = split_top(s, sep).into_iter();
    let first = parts.next()?;
    let rest: Vec<String> = parts.collect();
    (!rest.is_empty()).then(|| (first, rest.join(&sep.to_string())))
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches(['"', '\'']).to_owned()
}

/// The strings of an array value: `["a", "b"]`.
fn array(value: &str) -> Vec<String> {
    let inner = value
        .trim()
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or_default();
    split_top(inner, ',').iter().map(|s| unquote(s)).collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A throwaway directory, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "xtask-walls-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const ROOT: &str = r#"
[workspace]
members = ["crates/*"]

[workspace.dependencies]
publish = { path = "crates/publish" }
queue = { path = "crates/queue" }
hyper = { version = "1", features = [
    "server", # the server half
    "http1",
] }
"#;

    /// Writes `files` (path → text) as a workspace and checks the walls it breaks.
    fn check(files: &[(&str, &str)], expected: &[&str]) {
        let dir = TempDir::new();
        for (path, text) in files {
            let path = dir.0.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        assert_eq!(walls(&dir.0), expected);
    }

    fn package(name: &str, rest: &str) -> String {
        format!(
            "[package]\nname = \"{name}\"\nversion.workspace = true\npublish.workspace = true\n\n{rest}"
        )
    }

    #[test]
    fn a_broken_wall_names_the_crate_and_the_dependency() {
        let publish = package(
            "publish",
            "[dependencies]\nserde = \"1\"\nqueue.workspace = true\n\n[dev-dependencies]\ntestkit = { path = \"../testkit\" }\n",
        );
        let queue = package(
            "queue",
            "[dependencies]\npublish = { workspace = true }\n\n[dev-dependencies]\ntestkit.workspace = true\n",
        );
        let service = package(
            "service",
            "[dependencies]\nqueue.workspace = true\naxum = { version = \"0.8\", default-features = false }\nhyper = { version = \"1\", features = [\"client\"] }\n",
        );
        let testkit = package(
            "testkit",
            "[dependencies]\naxum = \"0.8\"\nqueue.workspace = true\n",
        );
        check(
            &[
                ("Cargo.toml", ROOT),
                ("crates/publish/Cargo.toml", &publish),
                ("crates/queue/Cargo.toml", &queue),
                ("crates/service/Cargo.toml", &service),
                ("crates/testkit/Cargo.toml", &testkit),
            ],
            &[
                "publish must not depend on queue (in [dependencies]): the publishing contract depends on no workspace crate but the template engine",
                "service must not depend on axum (in [dependencies]): the service knows no HTTP server; the binary serves it",
            ],
        );
    }

    /// The real manifests, with a forbidden dependency added to `publish` and a `service` that
    /// takes `hyper` from `[workspace.dependencies]`: the check must see both.
    #[test]
    fn the_real_manifests_are_read() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let mut files = vec![(
            "Cargo.toml".to_owned(),
            std::fs::read_to_string(repo.join("Cargo.toml")).unwrap(),
        )];
        for dir in std::fs::read_dir(repo.join("crates")).unwrap().flatten() {
            let name = dir.file_name().to_string_lossy().into_owned();
            if let Ok(text) = std::fs::read_to_string(dir.path().join("Cargo.toml")) {
                files.push((format!("crates/{name}/Cargo.toml"), text));
            }
        }
        let publish = files
            .iter_mut()
            .find(|(path, _)| path == "crates/publish/Cargo.toml")
            .unwrap();
        assert!(publish.1.contains("\n[dependencies]\n"));
        publish.1 = publish.1.replace(
            "\n[dependencies]\n",
            "\n[dependencies]\nqueue.workspace = true\n",
        );
        files.retain(|(path, _)| path != "crates/service/Cargo.toml");
        files.push((
            "crates/service/Cargo.toml".to_owned(),
            package(
                "service",
                "[dependencies]\nqueue.workspace = true\nhyper.workspace = true\n",
            ),
        ));
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(path, text)| (path.as_str(), text.as_str()))
            .collect();
        check(
            &files,
            &[
                "publish must not depend on queue (in [dependencies]): the publishing contract depends on no workspace crate but the template engine",
                "service must not depend on hyper with feature \"server\" (in [dependencies]): the service knows no HTTP server; the binary serves it",
            ],
        );
    }

    #[test]
    fn every_kind_of_wall_and_manifest_form() {
        let slack = package(
            "publish-slack",
            "[dependencies]\npublish.workspace = true\n\n[dependencies.targets]\npath = \"../targets\"\n",
        );
        let service = package(
            "service",
            "[dependencies.hyper]\nworkspace = true\n\n[target.'cfg(unix)'.dependencies]\ntower-http = \"0.6\"\n",
        );
        let collect = package(
            "collect",
            "[build-dependencies]\nserver = { path = \"../server\" }\n",
        );
        let targets = package(
            "targets",
            "[dependencies]\nshared = { package = \"queue\", path = \"../queue\" }\nkit = { package = \"testkit\", path = \"../testkit\" }\n",
        );
        let server = package(
            "server",
            "[dependencies]\npublish.workspace = true\nqueue.workspace = true\naxum = \"0.8\"\n",
        );
        check(
            &[
                ("Cargo.toml", ROOT),
                ("crates/publish-slack/Cargo.toml", &slack),
                ("crates/service/Cargo.toml", &service),
                ("crates/collect/Cargo.toml", &collect),
                ("crates/targets/Cargo.toml", &targets),
                ("crates/server/Cargo.toml", &server),
                ("crates/publish/Cargo.toml", &package("publish", "")),
                ("crates/queue/Cargo.toml", &package("queue", "")),
                ("crates/testkit/Cargo.toml", &package("testkit", "")),
            ],
            &[
                "collect must not depend on server (in [build-dependencies]): nothing below the binary uses it",
                "publish-slack must not depend on targets (in [dependencies]): a publisher knows only the publishing contract",
                "service must not depend on hyper with feature \"server\" (in [dependencies]): the service knows no HTTP server; the binary serves it",
                "service must not depend on tower-http (in [target.'cfg(unix)'.dependencies]): the service knows no HTTP server; the binary serves it",
                "targets must not depend on queue (in [dependencies]): target definitions and delivery know only the publishing contract",
                "targets must not depend on testkit (in [dependencies]): testkit is only a dev-dependency",
            ],
        );
    }
}
