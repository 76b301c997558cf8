//! `docs/configuration.md` says what the code does: every option its tables name is a key the
//! config file accepts, every environment variable and flag it names is one the binary reads,
//! every one the binary reads is documented, and its config examples load.

use std::process::Command;

use server::config::Config;

use crate::support::binary;

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
    std::fs::read_to_string(path).expect("read docs/configuration.md")
}

/// The cells of a table row (`| a | b |` → `["a", "b"]`).
fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_owned())
        .collect()
}

/// The `backticked` words of a cell.
fn ticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// A documented option: its full config key, the default as written, and where it is.
struct Documented {
    key: String,
    default: String,
    line: usize,
}

/// Every config key in the main table (column `config key`) and in the `## \`section:\``
/// tables (column `Key`, relative to the section).
fn documented_keys(doc: &str) -> Vec<Documented> {
    let mut keys = Vec::new();
    let mut section: Option<String> = None;
    let mut key_column: Option<usize> = None;
    for (i, line) in doc.lines().enumerate() {
        if let Some(heading) = line.strip_prefix("## ") {
            // "## `stats:` — ..." opens a section whose table keys are relative to `stats`.
            section = ticked(heading)
                .first()
                .and_then(|t| t.strip_suffix(':'))
                .map(str::to_owned);
            key_column = None;
            continue;
        }
        if !line.starts_with('|') {
            key_column = None;
            continue;
        }
        let row = cells(line);
        if key_column.is_none() {
            key_column = row.iter().position(|c| c == "config key" || c == "Key");
            continue;
        }
        let Some(column) = key_column else { continue };
        if row.iter().all(|c| c.chars().all(|ch| ch == '-')) {
            continue;
        }
        let default = row.get(column + 1).cloned().unwrap_or_default();
        for key in ticked(&row[column]) {
            if key.contains('*') {
                continue;
            }
            let key = match &section {
                Some(prefix) => format!("{prefix}.{key}"),
                None => key,
            };
            keys.push(Documented {
                key,
                default: default.clone(),
                line: i + 1,
            });
        }
    }
    keys
}

/// A config file setting `key` (dotted) to `value`.
fn yaml_setting(key: &str, value: &str) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    let mut yaml = String::new();
    for (depth, part) in parts.iter().enumerate() {
        yaml.push_str(&"  ".repeat(depth));
        yaml.push_str(part);
        yaml.push(':');
        if depth + 1 == parts.len() {
            yaml.push(' ');
            yaml.push_str(value);
        }
        yaml.push('\n');
    }
    yaml
}

#[test]
fn every_documented_option_is_a_config_key() {
    let doc = doc();
    let keys = documented_keys(&doc);
    assert!(keys.len() > 60, "the tables were found: {}", keys.len());
    for section in [
        "stats.",
        "auth.",
        "rate_limit.",
        "http.",
        "delivery.",
        "ingest.",
    ] {
        assert!(
            keys.iter().any(|k| k.key.starts_with(section)),
            "no {section} key found"
        );
    }
    let mut unknown = Vec::new();
    for documented in &keys {
        // The documented default when it is one value, else a value of no type at all: the
        // key is known when the error is anything but "unknown field".
        let default = ticked(&documented.default);
        let value = match default.as_slice() {
            [one] if !documented.default.contains(' ') => one.clone(),
            _ => "null".to_owned(),
        };
        let yaml = yaml_setting(&documented.key, &value);
        if let Err(e) = Config::from_yaml(&yaml, "doc.yaml") {
            let e = e.to_string();
            if e.contains("unknown field") {
                unknown.push(format!(
                    "docs/configuration.md:{}: `{}`: {e}",
                    documented.line, documented.key
                ));
            }
        }
    }
    assert!(unknown.is_empty(), "{}", unknown.join("\n"));
    // Defaults written as one value are the defaults (durations and numbers as written).
    let defaults = serde_json::to_value(Config::default()).unwrap();
    let mut wrong = Vec::new();
    for documented in &keys {
        let Ok([written]) = <[String; 1]>::try_from(ticked(&documented.default)) else {
            continue;
        };
        if documented.default != format!("`{written}`") {
            continue;
        }
        let actual = documented
            .key
            .split('.')
            .try_fold(&defaults, |v, part| v.get(part));
        let Some(actual) = actual else { continue };
        let from_doc = Config::from_yaml(&yaml_setting(&documented.key, &written), "doc.yaml");
        let Ok(from_doc) = from_doc else {
            wrong.push(format!(
                "docs/configuration.md:{}: `{}` default `{written}` does not load",
                documented.line, documented.key
            ));
            continue;
        };
        let loaded = serde_json::to_value(from_doc).unwrap();
        let loaded = documented
            .key
            .split('.')
            .try_fold(&loaded, |v, part| v.get(part));
        if loaded != Some(actual) {
            wrong.push(format!(
                "docs/configuration.md:{}: `{}` documented default `{written}` is {actual} in the code",
                documented.line, documented.key
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn documented_flags_and_environment_variables_are_the_binarys() {
    let doc = doc();
    let out = Command::new(binary())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{help}");
    let header = doc
        .lines()
        .find(|l| l.starts_with("| flag |"))
        .expect("the flags table");
    assert_eq!(cells(header)[..3], ["flag", "environment", "config key"]);
    let mut documented_env = Vec::new();
    for line in doc
        .lines()
        .skip_while(|l| !l.starts_with("| flag |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
    {
        let row = cells(line);
        for flag in ticked(&row[0]) {
            let long = flag.split(',').next().unwrap_or_default().trim();
            assert!(
                help.contains(long),
                "flag {long} is not in `serve --help`:\n{help}"
            );
        }
        for env in ticked(&row[1]) {
            assert!(
                help.contains(&format!("env: {env}")),
                "environment variable {env} is not read (not in `serve --help`):\n{help}"
            );
            documented_env.push(env);
        }
    }
    assert!(documented_env.len() >= 5, "{documented_env:?}");
    // And the other way round: every variable the service reads is documented.
    for read in help
        .split("env: ")
        .skip(1)
        .filter_map(|r| r.split(['=', ']']).next())
    {
        assert!(
            doc.contains(&format!("`{read}`")),
            "{read} is read but not documented in docs/configuration.md"
        );
    }
}

#[test]
fn config_examples_load() {
    let doc = doc();
    let mut examples = 0;
    let mut blocks = doc.split("```yaml\n").skip(1);
    for block in blocks.by_ref() {
        let yaml = block.split("```").next().unwrap_or_default();
        // Target definitions and key files are lists; config files are mappings.
        if yaml.trim_start().starts_with('-') {
            continue;
        }
        let config = Config::from_yaml(yaml, "example");
        assert!(config.is_ok(), "{yaml}\n{}", config.unwrap_err());
        examples += 1;
    }
    assert!(examples >= 4, "{examples} config examples found");
}

/// `docs/templates.md`: every target example builds (its templates parse and render the
/// sample notification, with `team.text` standing for the reader's own shared file), and its
/// config examples load.
#[test]
fn template_guide_examples_build() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/templates.md");
    let doc = std::fs::read_to_string(path).expect("read docs/templates.md");
    let mut context = publish::BuildContext::default();
    context
        .templates
        .add_file(
            "team.tmpl",
            r#"{{ define "team.text" }}{{ .Status }}{{ end }}"#,
        )
        .expect("parses");
    let (mut targets, mut configs) = (0, 0);
    for block in doc.split("```yaml\n").skip(1) {
        let yaml = block.split("```").next().unwrap_or_default();
        if yaml.contains("receivers:") {
            continue; // Alertmanager's configuration, the example's starting point
        }
        if yaml.trim_start().starts_with('-') {
            let specs = targets::parse_document(yaml, false, "templates.md")
                .unwrap_or_else(|e| panic!("{yaml}\n{e}"));
            for spec in &specs {
                if let Err(e) = service::registry::build_publisher(spec, &context) {
                    panic!("{yaml}\n{e}");
                }
                targets += 1;
            }
        } else {
            let config = Config::from_yaml(yaml, "example");
            assert!(config.is_ok(), "{yaml}\n{}", config.unwrap_err());
            configs += 1;
        }
    }
    assert!(
        targets >= 5 && configs >= 1,
        "{targets} targets, {configs} configs"
    );
}
