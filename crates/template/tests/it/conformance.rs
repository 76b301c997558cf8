use serde::Deserialize;
use std::path::PathBuf;
use std::process::Command;
use template::{Data, Library, Template};

#[derive(Deserialize)]
struct Suite {
    default_data: serde_json::Value,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct File {
    name: String,
    content: String,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    template: String,
    #[serde(default)]
    files: Vec<File>,
    data: Option<serde_json::Value>,
    output: Option<String>,
    error: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    #[serde(default = "yes")]
    oracle: bool,
    reason: Option<String>,
}

fn yes() -> bool {
    true
}

fn suite() -> Suite {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance.json");
    let text = std::fs::read_to_string(&path).expect("read conformance.json");
    let suite: Suite = serde_json::from_str(&text).expect("parse conformance.json");
    let mut names = std::collections::BTreeSet::new();
    for c in &suite.cases {
        assert!(
            names.insert(c.name.clone()),
            "duplicate case name {}",
            c.name
        );
        assert!(
            c.output.is_some() != c.error.is_some(),
            "{}: exactly one of output/error",
            c.name
        );
        assert!(
            c.oracle || c.reason.is_some(),
            "{}: oracle: false needs a reason",
            c.name
        );
    }
    suite
}

fn data_json<'a>(suite: &'a Suite, c: &'a Case) -> &'a serde_json::Value {
    c.data.as_ref().unwrap_or(&suite.default_data)
}

fn ours(suite: &Suite, c: &Case) -> Result<String, template::Error> {
    let mut lib = Library::alertmanager_defaults();
    for f in &c.files {
        lib.add_file(&f.name, &f.content)?;
    }
    let data: Data =
        serde_json::from_value(data_json(suite, c).clone()).expect("case data deserializes");
    Template::parse(&lib, "case", &c.template)?.render(&data)
}

#[test]
fn engine_conformance() {
    let suite = suite();
    let mut failures = Vec::new();
    for c in &suite.cases {
        let got = ours(&suite, c);
        match (&c.output, &c.error, &got) {
            (Some(want), _, Ok(out)) if out == want => {}
            (Some(want), _, _) => {
                failures.push(format!("{}: want output {want:?}, got {got:?}", c.name))
            }
            (_, Some(want), Err(e)) => {
                let text = e.to_string();
                let pos_ok = c.line.is_none_or(|l| l == e.line)
                    && c.column.is_none_or(|col| col == e.column);
                if !text.contains(want.as_str()) || !pos_ok {
                    failures.push(format!(
                        "{}: want error containing {want:?} at {:?}:{:?}, got {text:?}",
                        c.name, c.line, c.column
                    ));
                }
            }
            (_, Some(want), Ok(out)) => failures.push(format!(
                "{}: want error {want:?}, got output {out:?}",
                c.name
            )),
            (None, None, _) => unreachable!(),
        }
    }
    let total = suite.cases.len();
    eprintln!("engine: {} of {total} cases pass", total - failures.len());
    assert!(total >= 150, "only {total} cases");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn amtool_oracle() {
    if std::env::var("TEMPLATE_ORACLE").as_deref() == Ok("off") {
        eprintln!("TEMPLATE_ORACLE=off: oracle skipped");
        return;
    }
    let amtool = std::env::var("AMTOOL").unwrap_or_else(|_| "amtool".into());
    if Command::new(&amtool).arg("--version").output().is_err() {
        panic!(
            "`amtool` is not on PATH: install the `prometheus-alertmanager` package (Alertmanager 0.25's amtool), or set TEMPLATE_ORACLE=off to skip the oracle"
        );
    }
    let suite = suite();
    let dir = std::env::temp_dir().join(format!("template-oracle-{}", std::process::id()));
    let mut failures = Vec::new();
    let mut checked = 0;
    let default_tmpl =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/default.tmpl"))
            .expect("default.tmpl");
    for (i, c) in suite.cases.iter().enumerate() {
        if !c.oracle {
            continue;
        }
        let cdir = dir.join(format!("{i:04}"));
        std::fs::create_dir_all(&cdir).expect("tmp dir");
        // Debian's amtool does not embed default.tmpl: load our copy first, then the
        // case's files (the glob's sorted order is the case's order).
        std::fs::write(cdir.join("00-default.tmpl"), &default_tmpl).expect("write");
        for (k, f) in c.files.iter().enumerate() {
            std::fs::write(cdir.join(format!("{:02}-{}", k + 1, f.name)), &f.content)
                .expect("write");
        }
        let data = dir.join(format!("{i:04}.json"));
        std::fs::write(
            &data,
            serde_json::to_vec(data_json(&suite, c)).expect("json"),
        )
        .expect("write");
        let out = Command::new(&amtool)
            .env("TZ", "UTC")
            .arg("template")
            .arg("render")
            .arg(format!("--template.glob={}/*", cdir.display()))
            .arg(format!("--template.text={}", c.template))
            .arg(format!("--template.data={}", data.display()))
            .output()
            .expect("run amtool");
        checked += 1;
        let stdout = String::from_utf8_lossy(&out.stdout);
        match (&c.output, out.status.success()) {
            (Some(want), true) if *want == stdout => {}
            (Some(want), _) => failures.push(format!(
                "{}: want {want:?}, amtool {stdout:?} {}",
                c.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            (None, false) => {}
            (None, true) => failures.push(format!(
                "{}: want an error, amtool printed {stdout:?}",
                c.name
            )),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "oracle: {} of {checked} cases agree with amtool",
        checked - failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
