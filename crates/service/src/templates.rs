//! The service's shared templates (`templates:` in the config file, like Alertmanager's): files
//! of `{{ define }}` blocks, read at start-up over Alertmanager's `default.tmpl`, which target
//! templates and the render API may call by name.

use std::path::{Path, PathBuf};

use template::Library;

/// Reads every file the `patterns` name (paths, or globs with `*` and `?` in the file name),
/// in order; a later definition of a name replaces an earlier one. Every error is reported:
/// a file that cannot be read, a pattern that is not usable, and a template that does not
/// parse (with its file, line and column).
pub fn load_library(patterns: &[String]) -> Result<Library, Vec<String>> {
    let (library, errors) = load_partial(patterns);
    if errors.is_empty() {
        Ok(library)
    } else {
        Err(errors)
    }
}

/// Like [`load_library`], giving the definitions of the files that parsed beside an error for
/// each one that did not (so that the targets can still be checked).
pub fn load_partial(patterns: &[String]) -> (Library, Vec<String>) {
    let mut library = Library::alertmanager_defaults();
    let mut errors = Vec::new();
    for pattern in patterns {
        let files = match expand(pattern) {
            Ok(files) => files,
            Err(e) => {
                errors.push(format!("templates pattern {pattern:?}: {e}"));
                continue;
            }
        };
        for file in files {
            let shown = file.display().to_string();
            match std::fs::read_to_string(&file) {
                Ok(content) => {
                    if let Err(e) = library.add_file(&shown, &content) {
                        errors.push(format!(
                            "templates file {shown}: line {}, column {}: {}",
                            e.line, e.column, e.message
                        ));
                    }
                }
                Err(e) => errors.push(format!("templates file {shown}: cannot read: {e}")),
            }
        }
    }
    (library, errors)
}

/// A named file of `{{ define }}` blocks given with a render request.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateFile {
    /// File name (shown in errors).
    pub name: String,
    /// The file's text.
    pub content: String,
}

/// Renders `text` as Alertmanager renders a notification: over `library`, or over
/// Alertmanager's `default.tmpl` and `files` when files are given; for the notification `data`
/// (an Alertmanager webhook payload), or [`template::sample_data`] when there is none. The
/// error names the file or the template, the line and the column.
pub fn render(
    library: &Library,
    files: Option<&[TemplateFile]>,
    text: &str,
    data: Option<&template::Data>,
) -> Result<String, template::Error> {
    let own;
    let library = match files {
        Some(files) => {
            let mut l = Library::alertmanager_defaults();
            for f in files {
                l.add_file(&f.name, &f.content)?;
            }
            own = l;
            &own
        }
        None => library,
    };
    let sample;
    let data = match data {
        Some(d) => d,
        None => {
            sample = template::sample_data();
            &sample
        }
    };
    template::Template::parse(library, "template", text)?.render(data)
}

/// The files a pattern names, sorted. Wildcards may appear in the file name only; a pattern
/// without wildcards names one file, which must exist.
fn expand(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let path = Path::new(pattern);
    let wild = |s: &str| s.contains(['*', '?', '[']);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("names no file")?;
    let dir = match path.parent() {
        Some(d) if d.as_os_str().is_empty() => Path::new("."),
        Some(d) => d,
        None => Path::new("."),
    };
    if wild(&dir.to_string_lossy()) {
        return Err("only the file name may hold wildcards (`*`, `?`)".to_owned());
    }
    if name.contains('[') {
        return Err("character classes (`[...]`) are not supported; use `*` and `?`".to_owned());
    }
    if !wild(name) {
        return if path.is_file() {
            Ok(vec![path.to_path_buf()])
        } else {
            Err("no such file".to_owned())
        };
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter(|e| e.file_name().to_str().is_some_and(|n| matches(name, n)))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// Whether `name` matches `pattern` (`*` any run of characters, `?` one character).
fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        for (p, n, ok) in [
            ("*.tmpl", "slack.tmpl", true),
            ("*.tmpl", "slack.tmpl.bak", false),
            ("s?ack.*", "slack.tmpl", true),
            ("*", "x", true),
            ("a*b*c", "abbbc", true),
            ("a*b*c", "acb", false),
        ] {
            assert_eq!(matches(p, n), ok, "{p} {n}");
        }
    }

    #[test]
    fn files_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.tmpl"), "{{ define \"b\" }}B{{ end }}").unwrap();
        std::fs::write(dir.path().join("a.tmpl"), "{{ define \"a\" }}A{{ end }}").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let glob = format!("{}/*.tmpl", dir.path().display());
        assert_eq!(
            expand(&glob).unwrap(),
            [dir.path().join("a.tmpl"), dir.path().join("b.tmpl")]
        );
        let missing = format!("{}/none.tmpl", dir.path().display());
        let bad_dir = format!("{}/*/x.tmpl", dir.path().display());
        let errors = load_library(&[glob, missing, bad_dir]).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("none.tmpl") && errors[0].contains("no such file"));
        assert!(errors[1].contains("only the file name"));
    }
}
