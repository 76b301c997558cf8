//! Go `text/template` for Alertmanager notification templates.
//!
//! Alertmanager users paste their Go `text/template` templates into our targets and must
//! get byte-identical text. We evaluated the existing Rust engines:
//!
//! - `gotmpl` 0.6 has no method calls on data, so `.Alerts.Firing`,
//!   `.Labels.SortedPairs.Values` and `.CommonLabels.Remove .GroupLabels.Names` are
//!   impossible; its run-time errors carry no line/column; it only caps range
//!   iterations, not output or work.
//! - `gtmpl` 0.7 has no `html`/`js`, an unstable `printf`, and struct methods only
//!   through a derive.
//!
//! So this crate is a small engine of our own with Go's semantics (lexer, parser,
//! `missingkey=zero` execution, fmt's `%v` printing and `printf`), Alertmanager's data
//! model as native types with their methods (`Data`, `Alerts`, `Alert`, `KV`, `Pairs`,
//! `Pair`), Alertmanager's functions, bounded work ([`Limits`]: steps, output bytes,
//! template-call depth), and a position on every error ([`Error`]).
//!
//! ```
//! use template::{Data, Library, Template};
//!
//! let mut lib = Library::alertmanager_defaults();
//! lib.add_file("team.tmpl", r#"{{ define "team.title" }}{{ template "__subject" . }}{{ end }}"#)?;
//! let title = Template::parse(&lib, "slack.title", r#"{{ template "team.title" . }}"#)?;
//! let data: Data = serde_json::from_str(r#"{
//!     "receiver": "sre", "status": "firing",
//!     "alerts": [{"status": "firing", "labels": {"alertname": "Down"}, "startsAt": "2024-01-02T03:04:05Z"}],
//!     "groupLabels": {"alertname": "Down"}, "commonLabels": {"alertname": "Down"}
//! }"#).expect("webhook JSON");
//! assert_eq!(title.render(&data)?, "[FIRING:1] Down ");
//!
//! let err = Template::parse(&lib, "slack.text", "{{ .Foo }}").unwrap_err();
//! assert_eq!((err.line, err.column), (1, 4));
//! # Ok::<(), template::Error>(())
//! ```
//!
//! Known limits: `tz` reads the system zoneinfo database like Go's `time.LoadLocation`
//! but uses the last transition for instants past the file's table (no POSIX TZ footer
//! rules); `now` has no monotonic-clock suffix when printed; `Local` is UTC.

#![forbid(unsafe_code)]

mod data;
mod exec;
mod fmt;
mod funcs;
mod gotime;
mod lex;
mod parse;
mod value;

pub use data::{AlertData, Data, Kv, sample_data};

use exec::{Defs, Exec, error_at};
use parse::{Node, Tree};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A template error: `{name}:{line}:{column}: {message}` (1-based line and column, the
/// column counted in characters). For run-time errors the position is the failing action's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{name}:{line}:{column}: {message}")]
pub struct Error {
    /// File or template name.
    pub name: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What went wrong (Go's wording where there is one).
    pub message: String,
}

/// Bounds on one render.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Output size cap (default 1 MiB).
    pub max_output_bytes: usize,
    /// Node evaluations including range iterations (default 1 000 000).
    pub max_steps: u64,
    /// Nested `{{ template }}` calls (default 100).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_output_bytes: 1 << 20,
            max_steps: 1_000_000,
            max_depth: 100,
        }
    }
}

/// Shared definitions: Alertmanager's default.tmpl plus the service's own files.
#[derive(Clone, Debug, Default)]
pub struct Library {
    defs: Arc<Defs>,
}

/// Trial-render errors that only say the sample data is smaller than real data.
const DATA_DEPENDENT: &[&str] = &[
    "index out of range",
    "slice index out of range",
    "invalid slice index",
];

const DEFAULT_TMPL: &str = include_str!("default.tmpl");

fn parse_error(file: &str, src: &str, (pos, message): (usize, String)) -> Error {
    let (line, column) = exec::line_col(src, pos);
    Error {
        name: file.to_string(),
        line,
        column,
        message,
    }
}

/// Go's parse.IsEmptyTree: only whitespace text.
fn is_empty_tree(list: &[Node]) -> bool {
    list.iter()
        .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
}

/// Adds `tree` under its name unless it is empty and a non-empty one exists (Go's rule).
fn associate(defs: &mut Defs, tree: Tree) {
    if is_empty_tree(&tree.list) && defs.contains_key(&tree.name) {
        return;
    }
    defs.insert(tree.name.clone(), Arc::new(tree));
}

impl Library {
    /// Alertmanager's default.tmpl definitions only (`slack.default.title`,
    /// `pagerduty.default.description`, `__subject`, ...).
    pub fn alertmanager_defaults() -> Library {
        let mut lib = Library::default();
        // The embedded file is tested to parse.
        if let Err(e) = lib.add_file("default.tmpl", DEFAULT_TMPL) {
            debug_assert!(false, "default.tmpl: {e}");
        }
        lib
    }

    /// Parses one file of `{{ define }}` blocks (like Alertmanager's `templates:` files);
    /// later files override earlier names. The error names the file, line and column.
    pub fn add_file(&mut self, name: &str, content: &str) -> Result<(), Error> {
        let parsed = parse::parse(name, name, content, &funcs::is_func)
            .map_err(|e| parse_error(name, content, e))?;
        let defs = Arc::make_mut(&mut self.defs);
        for d in parsed.defines {
            associate(defs, d);
        }
        if !is_empty_tree(&parsed.main.list) {
            associate(defs, parsed.main);
        }
        Ok(())
    }

    /// Names defined, sorted.
    pub fn names(&self) -> Vec<String> {
        self.defs.keys().cloned().collect()
    }
}

/// One parsed field template (e.g. a Slack title), sharing a [`Library`]'s definitions.
#[derive(Clone, Debug)]
pub struct Template {
    name: String,
    main: Arc<Tree>,
    local: Arc<Defs>,
    lib: Arc<Defs>,
}

impl Template {
    /// Parses `text` (which may itself contain defines). Checks at parse time: syntax,
    /// undefined functions, `{{ template "x" }}` naming a definition that exists neither in
    /// `text` nor in `library`, and then a trial render against [`sample_data`] (a firing
    /// and a resolved alert) so that run-time errors such as a field the data model does
    /// not have are reported at load, with line and column.
    pub fn parse(library: &Library, name: &str, text: &str) -> Result<Template, Error> {
        let parsed = parse::parse(name, name, text, &funcs::is_func)
            .map_err(|e| parse_error(name, text, e))?;
        let mut local: Defs = BTreeMap::new();
        for d in parsed.defines {
            if is_empty_tree(&d.list)
                && (local.contains_key(&d.name) || library.defs.contains_key(&d.name))
            {
                continue;
            }
            local.insert(d.name.clone(), Arc::new(d));
        }
        let t = Template {
            name: name.to_string(),
            main: Arc::new(parsed.main),
            local: Arc::new(local),
            lib: library.defs.clone(),
        };
        t.check_calls()?;
        let limits = Limits::default();
        if let Err(e) = t.render_with(&sample_data(), &limits) {
            // Errors that depend on how many alerts or labels the data has are not the
            // template's fault: the sample data is small.
            if !DATA_DEPENDENT.iter().any(|m| e.message.contains(m)) {
                return Err(e);
            }
        }
        Ok(t)
    }

    fn lookup(&self, name: &str) -> Option<&Arc<Tree>> {
        self.local.get(name).or_else(|| self.lib.get(name))
    }

    /// Every `{{ template }}` reachable from the main tree names an existing definition.
    fn check_calls(&self) -> Result<(), Error> {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut todo: Vec<&Tree> = vec![&self.main];
        while let Some(tree) = todo.pop() {
            let mut calls = BTreeSet::new();
            parse::template_calls(&tree.list, &mut calls);
            let mut calls: Vec<_> = calls.into_iter().collect();
            calls.sort_by_key(|(_, pos)| *pos);
            for (name, pos) in calls {
                match self.lookup(&name) {
                    None => {
                        return Err(error_at(
                            tree,
                            pos,
                            format!("template {name:?} not defined"),
                        ));
                    }
                    Some(t) => {
                        if seen.insert(name) {
                            todo.push(t);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Renders with default [`Limits`].
    pub fn render(&self, data: &Data) -> Result<String, Error> {
        self.render_with(data, &Limits::default())
    }

    /// Renders within `limits`.
    pub fn render_with(&self, data: &Data, limits: &Limits) -> Result<String, Error> {
        let mut ex = Exec::new(&self.local, &self.lib, limits, &self.main);
        ex.run(data)?;
        Ok(ex.out)
    }

    /// The name given to [`Template::parse`].
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        let mut lib = Library::default();
        lib.add_file("default.tmpl", DEFAULT_TMPL)
            .expect("default.tmpl parses");
        assert!(lib.names().contains(&"slack.default.title".to_string()));
    }
}

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn shareable_across_tasks() {
        assert_send_sync::<super::Template>();
        assert_send_sync::<super::Library>();
        assert_send_sync::<super::Data>();
        assert_send_sync::<super::Error>();
    }
}
