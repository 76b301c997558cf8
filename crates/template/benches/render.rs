//! Render and parse time of a typical Slack template with a one-alert notification.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use template::{Data, Library, Template};

const TITLE: &str = r#"{{ template "slack.default.title" . }}"#;
const TEXT: &str = r#"{{ range .Alerts }}*{{ .Annotations.summary }}*
{{ range .Labels.SortedPairs }} • {{ .Name }}: `{{ .Value }}`
{{ end }}Started: {{ .StartsAt }}
{{ end }}"#;

fn one_alert() -> Data {
    let mut d = template::sample_data();
    d.alerts.truncate(1);
    d
}

fn bench(c: &mut Criterion) {
    let lib = Library::alertmanager_defaults();
    let title = Template::parse(&lib, "title", TITLE).expect("title parses");
    let text = Template::parse(&lib, "text", TEXT).expect("text parses");
    let data = one_alert();
    c.bench_function("render slack title+text, 1 alert", |b| {
        b.iter(|| {
            let t = title.render(black_box(&data)).expect("renders");
            let x = text.render(black_box(&data)).expect("renders");
            (t, x)
        })
    });
    c.bench_function("parse slack title+text (incl. trial render)", |b| {
        b.iter(|| {
            let t = Template::parse(&lib, "title", black_box(TITLE)).expect("parses");
            let x = Template::parse(&lib, "text", black_box(TEXT)).expect("parses");
            (t, x)
        })
    });
    c.bench_function("Library::alertmanager_defaults", |b| {
        b.iter(Library::alertmanager_defaults)
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
