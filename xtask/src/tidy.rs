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
}
