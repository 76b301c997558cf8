//! Random token soup through parse and render: errors are fine, panics are not.

use template::{Data, Library, Limits, Template};

const PIECES: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    " ",
    "\n",
    "(",
    ")",
    "|",
    ".",
    ".Alerts",
    ".Firing",
    ".Labels",
    ".SortedPairs",
    ".Names",
    ".Values",
    ".Remove",
    ".Receiver",
    ".StartsAt",
    ".Format",
    "$",
    "$x",
    ":=",
    "=",
    ",",
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    "\"a\"",
    "\"é\"",
    "`r`",
    "'c'",
    "1",
    "-2",
    "0x1f",
    "1.5e3",
    "true",
    "nil",
    "printf",
    "\"%v%d%s%-5.2f%*d%q\"",
    "index",
    "slice",
    "len",
    "eq",
    "lt",
    "and",
    "or",
    "not",
    "print",
    "html",
    "js",
    "urlquery",
    "toUpper",
    "title",
    "join",
    "match",
    "reReplaceAll",
    "stringSlice",
    "date",
    "tz",
    "\"Europe/Berlin\"",
    "toDate",
    "\"2006-01-02\"",
    "toJson",
    "list",
    "append",
    "dict",
    "humanizeDuration",
    "since",
    "now",
    "/*",
    "*/",
    "§",
    "é",
    "\"slack.default.title\"",
    "0",
    "99",
];

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

#[test]
fn random_templates_never_panic() {
    let lib = Library::alertmanager_defaults();
    let data: Data = template::sample_data();
    let limits = Limits {
        max_output_bytes: 1 << 16,
        max_steps: 10_000,
        max_depth: 20,
    };
    let iters: usize = std::env::var("TEMPLATE_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut rng = Lcg(std::env::var("TEMPLATE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed));
    let mut parsed = 0;
    for _ in 0..iters {
        let n = 1 + rng.next() % 14;
        let mut t = String::new();
        for _ in 0..n {
            t.push_str(PIECES[rng.next() % PIECES.len()]);
        }
        // Wrap half of them into one action so more get past the lexer.
        if rng.next() & 1 == 0 {
            t = format!("{{{{ {t} }}}}");
        }
        if let Ok(tpl) = Template::parse(&lib, "fuzz", &t) {
            parsed += 1;
            let _ = tpl.render_with(&data, &limits);
        }
    }
    eprintln!("robustness: {parsed} of {iters} random templates parsed and rendered without panic");
    assert!(
        parsed > iters / 200,
        "only {parsed} random templates parsed"
    );
}
