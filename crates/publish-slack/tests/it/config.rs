//! Target definitions: what is accepted, and errors that say what to do without repeating a
//! secret.

use publish::Publisher;
use publish_slack::{DEFAULT_URL, Mode, OnRepeat, SlackConfig};
use serde_json::{Value, json};

use crate::target;

const TOKEN: &str = "xoxb-1234-abcdefSECRET";
const HOOK: &str = "https://hooks.slack.com/services/T000/B000/HOOKSECRET";

fn err(url: &str, options: Value) -> String {
    let e = SlackConfig::from_target(&target(url, options))
        .unwrap_err()
        .to_string();
    assert!(!e.contains("SECRET"), "a secret leaked into {e}");
    e
}

#[test]
fn modes() {
    let c = SlackConfig::from_target(&target(HOOK, json!({}))).unwrap();
    assert!(matches!(&c.mode, Mode::Webhook { url } if url.expose() == HOOK));
    let c = SlackConfig::from_target(&target(
        "https://slack.com/api/",
        json!({"token": TOKEN, "channel": "#alerts", "on_repeat": "new"}),
    ))
    .unwrap();
    match &c.mode {
        Mode::Api {
            base,
            token,
            channel,
        } => {
            assert_eq!(
                (base.as_str(), token.expose(), channel.as_str()),
                ("https://slack.com/api", TOKEN, "#alerts")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.on_repeat, OnRepeat::New);
    assert!(
        c.on_resolve.update_message && c.on_resolve.thread_reply && !c.on_resolve.reply_broadcast
    );
    assert_eq!((c.rate_limit.per_minute, c.rate_limit.burst), (60, 1));
    assert_eq!(
        (c.update_rate_limit.per_minute, c.update_rate_limit.burst),
        (50, 3),
        "chat.update: Tier 3"
    );
}

#[test]
fn errors_name_the_field_and_what_to_do() {
    let checks = [
        (
            HOOK,
            json!({"channel": "#x"}),
            "field `options.channel`: needs token mode",
        ),
        (
            HOOK,
            json!({"on_resolve": {"thread_reply": false}}),
            "field `options.on_resolve`: needs token mode",
        ),
        (
            HOOK,
            json!({"on_repeat": "new"}),
            "field `options.on_repeat`: needs token mode",
        ),
        (
            "https://slack.com/api",
            json!({"token": TOKEN}),
            "field `options.channel`: is required in token mode",
        ),
        (
            "https://slack.com/api",
            json!({"token": "hunter2-SECRET", "channel": "#a"}),
            "field `options.token`: must be a Slack token",
        ),
        (
            "https://slack.com/api",
            json!({"token": "xoxb-has space SECRET", "channel": "#a"}),
            "field `options.token`",
        ),
        (
            HOOK,
            json!({"timeout": "0s"}),
            "field `options.timeout`: must be greater than zero",
        ),
        (HOOK, json!({"timeout": "soon"}), "field `options.timeout`"),
        (
            HOOK,
            json!({"rate_limit": {"per_minute": 0}}),
            "field `options.rate_limit.per_minute`: must be at least 1",
        ),
        (
            HOOK,
            json!({"rate_limit": {"burst": 0}}),
            "field `options.rate_limit.burst`",
        ),
        (
            "https://slack.com/api",
            json!({"token": TOKEN, "channel": "#a", "update_rate_limit": {"per_minute": 0}}),
            "field `options.update_rate_limit.per_minute`: must be at least 1 (chat.update is a Tier 3 method",
        ),
        (
            HOOK,
            json!({"update_rate_limit": {"per_minute": 20}}),
            "field `options.update_rate_limit`: needs token mode",
        ),
        (HOOK, json!({"chanel": "#x"}), "unknown field `chanel`"),
        (
            HOOK,
            json!({"on_repeat": "sometimes"}),
            "field `options.on_repeat`",
        ),
        (
            HOOK,
            json!({"proxy": "ftp://SECRET@proxy"}),
            "field `options.proxy`: must be an http or https URL",
        ),
        (
            HOOK,
            json!({"proxy": "http://user:SECRET@proxy:3128"}),
            "field `options.proxy`: must not hold credentials",
        ),
        (
            HOOK,
            json!({"alertmanager_url": "not a url"}),
            "field `options.alertmanager_url`: invalid URL",
        ),
        (
            "ftp://hooks.slack.com/services/SECRET",
            json!({}),
            "field `url`: must be an http or https URL",
        ),
    ];
    for (url, options, expected) in checks {
        let e = err(url, options.clone());
        assert!(
            e.contains(expected),
            "{options}: expected {expected:?} in {e:?}"
        );
    }
    let mut t = target(HOOK, json!({}));
    t.headers
        .insert("X-Token".into(), publish::Secret::new("SECRET"));
    assert!(
        SlackConfig::from_target(&t)
            .unwrap_err()
            .to_string()
            .contains("field `headers`")
    );
}

#[tokio::test]
async fn debug_output_hides_token_and_webhook_url() {
    for (url, options) in [
        (HOOK, json!({})),
        (
            "https://slack.com/api",
            json!({"token": TOKEN, "channel": "#a", "proxy": "http://proxy:3128"}),
        ),
    ] {
        let p =
            publish_slack::build(&target(url, options), &publish::BuildContext::default()).unwrap();
        let shown = format!("{p:?} {:?}", p.config());
        assert!(!shown.contains("SECRET"), "{shown}");
        let key = p
            .rate_limit(&crate::delivery(
                &crate::firing().0,
                &crate::firing().1,
                None,
            ))
            .unwrap()
            .key;
        assert!(!key.contains("SECRET"), "{key}");
    }
}

#[test]
fn an_empty_url_is_the_web_api_in_token_mode_and_an_error_in_webhook_mode() {
    let c = SlackConfig::from_target(&target(
        "",
        json!({"token": TOKEN, "channel": "#alerts", "rate_limit": {"per_minute": 30}}),
    ))
    .unwrap();
    assert!(matches!(&c.mode, Mode::Api { base, .. } if base == DEFAULT_URL));
    assert_eq!((c.rate_limit.per_minute, c.rate_limit.burst), (30, 1));
    let e = err("", json!({}));
    assert!(
        e.starts_with("field `url`: is required without options.token"),
        "{e}"
    );
}
