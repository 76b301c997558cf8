//! Repository rules, run by `cargo test` (rust-analyzer's tidy).

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf()
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    rust_files(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }

    /// The features of every dependency when cargo builds for `selection` (package args).
    fn resolved_features(selection: &[&str]) -> std::collections::BTreeMap<String, String> {
        let out = std::process::Command::new(env!("CARGO"))
            .current_dir(root())
            .args([
                "tree",
                "-e",
                "normal,build",
                "--prefix",
                "none",
                "--no-dedupe",
            ])
            .args(["-f", "{p}|{f}"])
            .args(selection)
            .output()
            .expect("run cargo tree");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.rsplit_once('|'))
            .map(|(p, f)| {
                let package = p.split(" (").next().unwrap_or(p).trim().to_owned();
                (package, f.replace("(*)", "").trim().to_owned())
            })
            .collect()
    }

    /// One build serves every command: the README's run command, `cargo xtask demo` and
    /// `cargo xtask bench` select no package (the default members, every crate), and that
    /// selection resolves every dependency with the features `cargo build --workspace` does —
    /// so after one release build none of them compiles a dependency again.
    #[test]
    fn every_command_uses_the_one_build() {
        let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
        let runs: Vec<&str> = readme
            .lines()
            .filter(|l| l.trim_start().starts_with("cargo run"))
            .collect();
        assert!(!runs.is_empty(), "the README has a run command");
        for run in &runs {
            assert!(
                !run.contains(" -p ") && !run.contains("--package"),
                "the README's run command selects a package, so it builds its own feature set: {run}"
            );
        }
        for harness in ["ap-demo", "ap-bench"] {
            let args = crate::release_build(harness);
            assert!(
                !args.iter().any(|a| *a == "-p" || *a == "--package"),
                "{args:?}"
            );
        }
        let workspace = resolved_features(&["--workspace"]);
        let default = resolved_features(&[]);
        let differ: Vec<_> = default
            .iter()
            .filter(|(p, f)| workspace.get(*p) != Some(f))
            .collect();
        assert!(
            differ.is_empty(),
            "the default members resolve other features than the workspace: {differ:?}"
        );
        assert!(default.len() > 100, "{} packages", default.len());
    }

    #[test]
    fn every_crate_has_a_crate_doc() {
        let mut missing = Vec::new();
        let mut entries = vec![root().join("xtask/src/main.rs")];
        for krate in std::fs::read_dir(root().join("crates")).unwrap().flatten() {
            for entry in ["src/lib.rs", "src/main.rs"] {
                let p = krate.path().join(entry);
                if p.exists() {
                    entries.push(p);
                }
            }
        }
        for p in entries {
            let text = std::fs::read_to_string(&p).unwrap();
            if !text.trim_start().starts_with("//!") {
                missing.push(p.display().to_string());
            }
        }
        assert!(
            missing.is_empty(),
            "crate roots without a `//!` doc: {missing:?}"
        );
    }

    #[test]
    fn no_ignored_test_without_a_reason() {
        let mut files = Vec::new();
        rust_files(&root().join("crates"), &mut files);
        rust_files(&root().join("xtask"), &mut files);
        let needle = ["#[", "ignore]"].concat(); // not written whole, so this file passes
        let mut bad = Vec::new();
        for f in files {
            for (i, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
                if line.trim_start().starts_with(&needle) {
                    bad.push(format!("{}:{}", f.display(), i + 1));
                }
            }
        }
        assert!(
            bad.is_empty(),
            "use #[ignore = \"reason\"] instead of a bare ignore: {bad:?}"
        );
    }

    #[test]
    fn dependency_walls_hold() {
        let broken = crate::walls::walls(&root());
        assert!(
            broken.is_empty(),
            "dependency walls broken (see xtask/src/walls.rs):\n  {}",
            broken.join("\n  ")
        );
    }

    #[test]
    fn every_workspace_crate_inherits_the_lints() {
        for krate in std::fs::read_dir(root().join("crates")).unwrap().flatten() {
            let manifest = krate.path().join("Cargo.toml");
            let text = std::fs::read_to_string(&manifest).unwrap();
            assert!(
                text.contains("[lints]\nworkspace = true"),
                "{} does not inherit [workspace.lints]",
                manifest.display()
            );
        }
    }

    /// Helm templates are rendered by Helm's engine in `deploy.rs` where it is installed; here
    /// their actions are stubbed so the YAML structure around them is checked everywhere:
    /// whole-line actions go, inline ones become a word.
    fn stub_template(text: &str) -> String {
        let mut out = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with("{{")
                && trimmed.ends_with("}}")
                && trimmed.matches("{{").count() == 1
            {
                continue;
            }
            let mut rest = line;
            let mut stubbed = String::new();
            while let Some(start) = rest.find("{{") {
                stubbed.push_str(&rest[..start]);
                let end = rest[start..]
                    .find("}}")
                    .map(|e| start + e + 2)
                    .unwrap_or(rest.len());
                stubbed.push_str("stub");
                rest = &rest[end..];
            }
            stubbed.push_str(rest);
            out.push_str(&stubbed);
            out.push('\n');
        }
        out
    }

    #[test]
    fn every_deploy_manifest_parses() {
        let mut files = Vec::new();
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        walk(&root().join("deploy"), &mut files);
        let mut checked = 0;
        for f in files {
            let name = f.display().to_string();
            let text = std::fs::read_to_string(&f).unwrap();
            let is_template = name.contains("/templates/");
            match f.extension().and_then(|e| e.to_str()) {
                Some("yaml" | "yml") => {
                    let text = if is_template {
                        stub_template(&text)
                    } else {
                        text
                    };
                    for doc in serde_yaml::Deserializer::from_str(&text) {
                        let v = serde_yaml::Value::deserialize(doc)
                            .unwrap_or_else(|e| panic!("{name}: {e}"));
                        if !is_template
                            && !name.contains("/helm/")
                            && !name.contains("alertmanager")
                            && !name.contains("rules")
                            && !name.contains("prometheus")
                            && !v.is_null()
                        {
                            let kind = v.get("kind").and_then(|k| k.as_str());
                            let api = v.get("apiVersion").and_then(|k| k.as_str());
                            assert!(
                                kind.is_some() && api.is_some() || !name.contains("/kubernetes/"),
                                "{name}: a manifest without kind/apiVersion"
                            );
                        }
                    }
                    checked += 1;
                }
                Some("json") => {
                    serde_json::from_str::<serde_json::Value>(&text)
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                    checked += 1;
                }
                Some("tpl") => {
                    assert_eq!(
                        text.matches("{{").count(),
                        text.matches("}}").count(),
                        "{name}: unbalanced template actions"
                    );
                    checked += 1;
                }
                _ => {}
            }
        }
        assert!(checked >= 8, "only {checked} manifests found");
    }

    /// The modules of a crate (`src/x.rs` and `src/x/…` are module `x`; the crate roots are
    /// left out) and the other modules each one names through `crate::…` outside its tests.
    fn module_graph(
        src: &Path,
    ) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
        let mut files = Vec::new();
        rust_files(src, &mut files);
        let module_of = |f: &Path| -> Option<String> {
            let rel = f.strip_prefix(src).ok()?;
            let first = rel
                .components()
                .next()?
                .as_os_str()
                .to_string_lossy()
                .into_owned();
            let name = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
            (!matches!(name.as_str(), "lib" | "main")).then_some(name)
        };
        let mut graph =
            std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
        for f in &files {
            if let Some(m) = module_of(f) {
                graph.entry(m).or_default();
            }
        }
        for f in &files {
            let Some(from) = module_of(f) else { continue };
            let text = std::fs::read_to_string(f).unwrap();
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            for named in crate_paths(text) {
                if named != from && graph.contains_key(&named) {
                    graph.get_mut(&from).unwrap().insert(named);
                }
            }
        }
        graph
    }

    /// The first segment of every `crate::…` path in `text`, including each item of a
    /// `crate::{a, b::c}` group.
    fn crate_paths(text: &str) -> Vec<String> {
        let ident = |s: &str| -> String {
            s.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        };
        let mut out = Vec::new();
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let (mut depth, mut item_start) = (0usize, true);
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => item_start = true,
                        c if item_start && !c.is_whitespace() => {
                            item_start = false;
                            out.push(ident(&group[i..]));
                        }
                        _ => {}
                    }
                }
            } else {
                out.push(ident(rest));
            }
        }
        out
    }

    /// A cycle in `graph`, if there is one (as the list of modules around it).
    fn cycle(
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    ) -> Option<Vec<String>> {
        fn visit(
            node: &str,
            graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
            path: &mut Vec<String>,
            done: &mut std::collections::BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(i) = path.iter().position(|n| n == node) {
                let mut c = path[i..].to_vec();
                c.push(node.to_owned());
                return Some(c);
            }
            if done.contains(node) {
                return None;
            }
            path.push(node.to_owned());
            for next in graph.get(node).into_iter().flatten() {
                if let Some(c) = visit(next, graph, path, done) {
                    return Some(c);
                }
            }
            path.pop();
            done.insert(node.to_owned());
            None
        }
        let mut done = std::collections::BTreeSet::new();
        graph
            .keys()
            .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
    }

    /// The modules of `server` and `service` import each other in one direction only: a
    /// module never reaches, through others, back to itself.
    #[test]
    fn no_import_circle_inside_the_server_and_service_crates() {
        for krate in ["server", "service"] {
            let graph = module_graph(&root().join("crates").join(krate).join("src"));
            assert!(graph.len() >= 5, "{krate}: only {graph:?}");
            if let Some(c) = cycle(&graph) {
                panic!(
                    "crates/{krate}: modules import each other in a circle: {}",
                    c.join(" → ")
                );
            }
        }
    }

    #[test]
    fn the_circle_check_finds_a_circle() {
        let paths = crate_paths("use crate::{a::X, b, c::{d, e}};\nlet x = crate::f::g();");
        assert_eq!(paths, ["a", "b", "c", "f"]);
        let mut graph = std::collections::BTreeMap::new();
        for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")] {
            graph
                .entry(from.to_owned())
                .or_insert_with(std::collections::BTreeSet::new)
                .insert(to.to_owned());
        }
        graph.entry("a".to_owned()).or_default();
        assert_eq!(cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
        graph.get_mut("c").unwrap().clear();
        assert_eq!(cycle(&graph), None);
    }

    use serde::Deserialize as _;
}
