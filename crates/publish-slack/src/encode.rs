//! Pure encoding: alert → Slack message (Block Kit) and request bodies.
//!
//! A message reads top to bottom: a header with a severity emoji, the summary and description,
//! the facts as fields (status, severity, started / ended / duration, namespace, service,
//! instance), the remaining labels, the remaining annotations, links (runbook and other
//! `*_url` annotations, the Prometheus source, a silence pre-filled in the Alertmanager that
//! sent the alert), and the fingerprint in a context block. The `text` fallback is what
//! notifications show.
//!
//! Every text is escaped for mrkdwn (`&`, `<`, `>`: a label value cannot ping `@channel`) and
//! cut to Slack's limits with a visible marker; lengths are counted in UTF-16 code units, which
//! is never less than what Slack counts.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use publish::{Alert, AlertStatus, Classification, GroupContext, templates::Templates};
use serde::Serialize;

/// Most blocks in one message.
pub const MAX_BLOCKS: usize = 50;
/// Longest header text.
pub const MAX_HEADER: usize = 150;
/// Longest section text (also each context element).
pub const MAX_SECTION_TEXT: usize = 3000;
/// Most fields in one section.
pub const MAX_FIELDS: usize = 10;
/// Longest field text.
pub const MAX_FIELD: usize = 2000;
/// Most elements in one context block.
pub const MAX_CONTEXT_ELEMENTS: usize = 10;
/// Longest `text` fallback we send (Slack truncates past 40 000 and asks for under 4000;
/// notifications show far less).
pub const MAX_TEXT: usize = 1000;
/// Longest URL we turn into a link.
pub const MAX_LINK_URL: usize = 2000;

/// The marker ending every cut text.
pub const MARKER: &str = publish::truncate::MARKER;

/// A Block Kit text object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Text {
    /// Shown as is (emoji shortcodes rendered).
    PlainText {
        /// The text.
        text: String,
        /// Render `:shortcodes:`.
        emoji: bool,
    },
    /// Slack's markdown.
    Mrkdwn {
        /// The text, already escaped.
        text: String,
    },
}

impl Text {
    /// The text.
    pub fn as_str(&self) -> &str {
        match self {
            Text::PlainText { text, .. } | Text::Mrkdwn { text } => text,
        }
    }
}

/// The Block Kit blocks we use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// Large bold plain text.
    Header {
        /// Plain text, at most [`MAX_HEADER`].
        text: Text,
    },
    /// Text and / or up to ten fields in two columns.
    Section {
        /// At most [`MAX_SECTION_TEXT`].
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<Text>,
        /// At most [`MAX_FIELDS`] of at most [`MAX_FIELD`].
        #[serde(skip_serializing_if = "Vec::is_empty")]
        fields: Vec<Text>,
    },
    /// Small grey text.
    Context {
        /// At most [`MAX_CONTEXT_ELEMENTS`] of at most [`MAX_SECTION_TEXT`].
        elements: Vec<Text>,
    },
}

/// A message: the notification fallback and the blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// What notifications (and clients without Block Kit) show; mrkdwn.
    pub text: String,
    /// The content; empty for a text-only message (a thread reply).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Block>,
    /// The colour of the bar beside the blocks (a `color` template): the blocks are then sent
    /// inside one attachment of that colour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// The template fields of a Slack target (`templates:`), as Alertmanager's `slack_configs`
/// name them.
pub const TEMPLATE_FIELDS: publish::templates::Fields = publish::templates::Fields {
    plain: &[
        "title",
        "title_link",
        "text",
        "pretext",
        "fallback",
        "color",
        "footer",
    ],
    maps: &[],
};

/// The templated fields of one message, rendered once (each `None` when not templated or
/// when its rendering failed: the default is used).
#[derive(Debug, Default)]
struct Custom {
    title: Option<String>,
    title_link: Option<String>,
    text: Option<String>,
    pretext: Option<String>,
    fallback: Option<String>,
    color: Option<String>,
    footer: Option<String>,
}

impl Custom {
    fn render(templates: &Templates, alert: &Alert, context: &GroupContext) -> Custom {
        let Some(r) = templates.for_delivery(context, alert) else {
            return Custom::default();
        };
        // Slack refuses empty texts: an empty rendering falls back to the default too.
        Custom {
            title: r.non_empty("title"),
            title_link: r.non_empty("title_link").map(|l| l.trim().to_owned()),
            // An empty text leaves the message without a lead: the user's choice.
            text: r.field("text"),
            pretext: r.non_empty("pretext"),
            fallback: r.non_empty("fallback"),
            color: r.non_empty("color").map(|c| c.trim().to_owned()),
            footer: r.non_empty("footer"),
        }
    }
}

/// Most sections one templated text is split into (at line ends) before it is cut.
const MAX_TEXT_SECTIONS: usize = 5;

/// A templated mrkdwn text, sent as written (the template owns its markup), in sections of
/// at most [`MAX_SECTION_TEXT`] split at line ends.
fn verbatim_sections(text: &str) -> Vec<Block> {
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.split_inclusive('\n') {
        if !current.is_empty() && slack_len(&current) + slack_len(line) > MAX_SECTION_TEXT {
            chunks.push(std::mem::take(&mut current));
        }
        current.push_str(line);
    }
    chunks.push(current);
    if chunks.len() > MAX_TEXT_SECTIONS {
        let rest = chunks.split_off(MAX_TEXT_SECTIONS - 1).concat();
        chunks.push(rest);
    }
    chunks
        .iter()
        .filter(|c| !c.trim().is_empty())
        .map(|c| section(Fitted::new(MAX_SECTION_TEXT).raw(c).finish()))
        .collect()
}

/// Settings of the encoding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Alertmanager UI base for the silence link, instead of the group's `externalURL`.
    pub alertmanager_url: Option<String>,
}

/// Labels shown as fields, in order, with their titles.
const FIELD_LABELS: [(&str, &str); 3] = [
    ("namespace", "Namespace"),
    ("service", "Service"),
    ("instance", "Instance"),
];
/// Labels shown elsewhere than in the label list.
const SHOWN_LABELS: [&str; 5] = ["alertname", "severity", "namespace", "service", "instance"];

/// The message for an alert, in the form of its status (firing or resolved).
pub fn message(alert: &Alert, context: &GroupContext, options: &EncodeOptions) -> Message {
    message_with(alert, context, options, &Templates::default())
}

/// [`message`] with a target's templates in their places: `pretext` above the title, `title`
/// as the header (a linked title when `title_link` is set), `text` instead of the summary and
/// description, `footer` instead of the fingerprint line, `fallback` as the notification text
/// and `color` as the bar beside the blocks. Templated texts are sent as written (mrkdwn);
/// each is cut to Slack's limit of its place.
pub fn message_with(
    alert: &Alert,
    context: &GroupContext,
    options: &EncodeOptions,
    templates: &Templates,
) -> Message {
    let custom = Custom::render(templates, alert, context);
    let resolved = alert.status == AlertStatus::Resolved;
    let name = display_name(alert);
    let emoji = status_emoji(alert);
    let status_word = if resolved { "RESOLVED" } else { "FIRING" };
    let (summary_key, summary) = summary_of(alert);
    let summary = summary.map(|s| s.trim());

    let mut blocks = Vec::with_capacity(8);
    if let Some(pretext) = &custom.pretext {
        blocks.extend(verbatim_sections(pretext).into_iter().take(1));
    }
    let header = match &custom.title {
        Some(title) => Fitted::new(MAX_HEADER).raw(title).finish(),
        None => Fitted::new(MAX_HEADER)
            .raw(emoji)
            .raw(" ")
            .raw(status_word)
            .raw(" · ")
            .plain(name)
            .finish(),
    };
    match custom
        .title_link
        .as_deref()
        .filter(|l| l.len() <= MAX_LINK_URL && !l.contains(['|', '>', '<']))
    {
        Some(link) => {
            let title = custom.title.as_deref().unwrap_or(&header);
            blocks.push(section(
                Fitted::new(MAX_SECTION_TEXT)
                    .raw("*<")
                    .raw(link)
                    .raw("|")
                    .escaped(title)
                    .raw(">*")
                    .finish(),
            ));
        }
        None => blocks.push(Block::Header {
            text: Text::PlainText {
                text: header,
                emoji: true,
            },
        }),
    }

    let description = alert
        .annotations
        .get("description")
        .map(|d| d.trim())
        .filter(|d| !d.is_empty());
    let lead = match (summary, description) {
        (Some(s), Some(d)) => Some(
            Fitted::new(MAX_SECTION_TEXT)
                .raw("*")
                .escaped(s)
                .raw("*\n")
                .escaped(d),
        ),
        (Some(s), None) => Some(Fitted::new(MAX_SECTION_TEXT).raw("*").escaped(s).raw("*")),
        (None, Some(d)) => Some(Fitted::new(MAX_SECTION_TEXT).escaped(d)),
        (None, None) => None,
    };
    match &custom.text {
        Some(text) => blocks.extend(verbatim_sections(text)),
        None => {
            if let Some(lead) = lead {
                blocks.push(section(lead.finish()));
            }
        }
    }

    let mut fields = Vec::with_capacity(MAX_FIELDS);
    fields.push(field(
        "Status",
        if resolved { "Resolved" } else { "Firing" },
    ));
    if let Some(sev) = alert.labels.get("severity").filter(|s| !s.is_empty()) {
        fields.push(field("Severity", sev));
    }
    fields.push(date_field("Started", &alert.starts_at));
    if let (true, Some(ended)) = (resolved, alert.ends_at.as_ref()) {
        fields.push(date_field("Ended", ended));
        fields.push(field("Duration", &human_duration(*ended - alert.starts_at)));
    }
    for (label, title) in FIELD_LABELS {
        if let Some(v) = alert.labels.get(label).filter(|v| !v.is_empty()) {
            fields.push(field(title, v));
        }
    }
    let classification = Classification::of(alert);
    if let Some(c) = &classification {
        fields.push(field(
            "AI Severity",
            &format!("{} ({})", c.severity.as_str(), c.percent()),
        ));
    }
    debug_assert!(fields.len() <= MAX_FIELDS);
    fields.truncate(MAX_FIELDS);
    blocks.push(Block::Section { text: None, fields });
    if let Some(c) = &classification {
        if !c.reasoning.trim().is_empty() {
            // The original cut the reasoning to 300 characters.
            let reasoning = publish::truncate::chars(c.reasoning.trim(), 300).0;
            blocks.push(section(
                Fitted::new(MAX_SECTION_TEXT)
                    .raw("*AI Reasoning*\n")
                    .escaped(&reasoning)
                    .finish(),
            ));
        }
        if !c.recommendations.is_empty() {
            let mut text = Fitted::new(MAX_SECTION_TEXT).raw("*Recommendations*");
            for r in c.recommendations.iter().take(3) {
                text = text.raw("\n• ").escaped(r.trim());
            }
            blocks.push(section(text.finish()));
        }
    }

    let mut other_labels = alert
        .labels
        .iter()
        .filter(|(k, _)| !SHOWN_LABELS.contains(&k.as_str()))
        .peekable();
    if other_labels.peek().is_some() {
        let mut text = Fitted::new(MAX_SECTION_TEXT).raw("*Labels*\n");
        for (i, (k, v)) in other_labels.enumerate() {
            text = text
                .raw(if i == 0 { "`" } else { "`  `" })
                .code(k)
                .raw("=")
                .code(v);
        }
        blocks.push(section(text.raw("`").finish()));
    }

    let links = links(alert, context, options);
    let linked: Vec<&str> = links.iter().filter_map(|l| l.annotation).collect();
    let extras: Vec<(&String, &String)> = alert
        .annotations
        .iter()
        .filter(|(k, v)| {
            let k = k.as_str();
            Some(k) != summary_key
                && k != "description"
                && !linked.contains(&k)
                && !v.trim().is_empty()
                && !(classification.is_some() && Classification::is_carrier(k))
        })
        .collect();
    // Blocks still to come after the annotations: the links and the fingerprint.
    let tail = usize::from(!links.is_empty()) + 1;
    let room = MAX_BLOCKS - blocks.len() - tail;
    let shown = if extras.len() <= room {
        extras.len()
    } else {
        room - 1
    };
    for (k, v) in &extras[..shown] {
        blocks.push(section(
            Fitted::new(MAX_SECTION_TEXT)
                .raw("*")
                .escaped(k)
                .raw("*\n")
                .escaped(v.trim())
                .finish(),
        ));
    }
    if shown < extras.len() {
        let hidden = extras.len() - shown;
        blocks.push(Block::Context {
            elements: vec![mrkdwn(format!(
                "…{hidden} more annotations not shown (Slack allows {MAX_BLOCKS} blocks)"
            ))],
        });
    }

    if !links.is_empty() {
        let mut elements: Vec<Text> = links.into_iter().map(|l| mrkdwn(l.mrkdwn)).collect();
        if elements.len() > MAX_CONTEXT_ELEMENTS {
            let hidden = elements.len() - (MAX_CONTEXT_ELEMENTS - 1);
            elements.truncate(MAX_CONTEXT_ELEMENTS - 1);
            elements.push(mrkdwn(format!("…{hidden} more links")));
        }
        blocks.push(Block::Context { elements });
    }

    let footer = match &custom.footer {
        Some(footer) => Fitted::new(MAX_SECTION_TEXT).raw(footer).finish(),
        None => {
            let mut footer = Fitted::new(MAX_SECTION_TEXT)
                .raw("Fingerprint `")
                .raw(alert.fingerprint.as_str())
                .raw("`");
            if !context.receiver.is_empty() {
                footer = footer.raw(" · receiver `").code(&context.receiver).raw("`");
            }
            footer.finish()
        }
    };
    blocks.push(Block::Context {
        elements: vec![mrkdwn(footer)],
    });
    debug_assert!(blocks.len() <= MAX_BLOCKS);

    let mut text = Fitted::new(MAX_TEXT).raw(emoji).raw(" [").raw(status_word);
    if let Some(sev) = alert
        .labels
        .get("severity")
        .filter(|s| !s.is_empty() && !resolved)
    {
        text = text.raw(":").escaped(sev);
    }
    text = text.raw("] ").escaped(name);
    if let Some(s) = summary {
        text = text.raw(" — ").escaped(s);
    }
    let text = match &custom.fallback {
        Some(fallback) => Fitted::new(MAX_TEXT).raw(fallback).finish(),
        None => text.finish(),
    };
    Message {
        text,
        blocks,
        color: custom.color,
    }
}

/// The thread reply saying an alert resolved.
pub fn resolved_reply(alert: &Alert) -> Message {
    let text = match alert.ends_at.as_ref() {
        Some(ended) => format!(
            ":white_check_mark: *Resolved* {} after {}",
            slack_date(ended),
            human_duration(*ended - alert.starts_at)
        ),
        None => ":white_check_mark: *Resolved*".to_owned(),
    };
    Message {
        text,
        blocks: Vec::new(),
        color: None,
    }
}

/// The thread reply saying an alert is still firing (sent again after the repeat interval).
pub fn still_firing_reply(alert: &Alert) -> Message {
    Message {
        text: format!(
            ":repeat: *Still firing* since {}",
            slack_date(&alert.starts_at)
        ),
        blocks: Vec::new(),
        color: None,
    }
}

/// Where a request body puts a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Placement<'a> {
    /// Channel id or name (Web API).
    pub channel: Option<&'a str>,
    /// The message to edit (`chat.update`).
    pub ts: Option<&'a str>,
    /// The parent of a thread reply.
    pub thread_ts: Option<&'a str>,
    /// Show a thread reply in the channel too.
    pub reply_broadcast: bool,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thread_ts: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    reply_broadcast: bool,
    text: &'a str,
    #[serde(skip_serializing_if = "<[Block]>::is_empty")]
    blocks: &'a [Block],
    #[serde(skip_serializing_if = "<[Attachment<'_>]>::is_empty")]
    attachments: &'a [Attachment<'a>],
    unfurl_links: bool,
    unfurl_media: bool,
}

/// A legacy attachment holding the blocks, for the colour bar.
#[derive(Serialize)]
struct Attachment<'a> {
    color: &'a str,
    blocks: &'a [Block],
}

/// The JSON body of a `chat.postMessage`, `chat.update` or webhook request. Link previews are
/// turned off: alerts link to runbooks and graphs, previews would only add noise.
pub fn body(message: &Message, at: Placement<'_>) -> Vec<u8> {
    let attachment = message.color.as_deref().map(|color| Attachment {
        color,
        blocks: &message.blocks,
    });
    let body = Body {
        channel: at.channel,
        ts: at.ts,
        thread_ts: at.thread_ts,
        reply_broadcast: at.reply_broadcast,
        text: &message.text,
        blocks: if attachment.is_some() {
            &[]
        } else {
            &message.blocks
        },
        attachments: attachment.as_slice(),
        unfurl_links: false,
        unfurl_media: false,
    };
    // Serializing these types cannot fail (string keys, no floats).
    serde_json::to_vec(&body).unwrap_or_default()
}

fn display_name(alert: &Alert) -> &str {
    match alert.name().trim() {
        "" => "(unnamed alert)",
        name => name,
    }
}

/// The annotation used as summary, and its value.
fn summary_of(alert: &Alert) -> (Option<&'static str>, Option<&String>) {
    for key in ["summary", "message"] {
        if let Some(v) = alert.annotations.get(key).filter(|v| !v.trim().is_empty()) {
            return (Some(key), Some(v));
        }
    }
    (None, None)
}

fn status_emoji(alert: &Alert) -> &'static str {
    if alert.status == AlertStatus::Resolved {
        return ":white_check_mark:";
    }
    match alert.severity().as_deref() {
        Some("critical" | "page" | "p1" | "emergency" | "fatal") => ":red_circle:",
        Some("error" | "high" | "major" | "p2") => ":large_orange_circle:",
        Some("warning" | "warn" | "medium" | "minor" | "p3") => ":large_yellow_circle:",
        _ => ":large_blue_circle:",
    }
}

/// A mrkdwn text object; `text` is already within its limit (built by [`Fitted`] or short).
fn mrkdwn(text: String) -> Text {
    debug_assert!(slack_len(&text) <= MAX_SECTION_TEXT);
    Text::Mrkdwn { text }
}

fn section(text: String) -> Block {
    Block::Section {
        text: Some(mrkdwn(text)),
        fields: Vec::new(),
    }
}

fn field(title: &str, value: &str) -> Text {
    Text::Mrkdwn {
        text: Fitted::new(MAX_FIELD)
            .raw("*")
            .raw(title)
            .raw("*\n")
            .escaped(value)
            .finish(),
    }
}

fn date_field(title: &str, t: &DateTime<Utc>) -> Text {
    Text::Mrkdwn {
        text: Fitted::new(MAX_FIELD)
            .raw("*")
            .raw(title)
            .raw("*\n")
            .raw(&slack_date(t))
            .finish(),
    }
}

/// Escapes text for mrkdwn: `&`, `<` and `>` become entities, so nothing in an alert can form
/// a link or a mention.
pub(crate) fn escape(s: &str) -> String {
    Fitted::new(usize::MAX).escaped(s).finish()
}

/// Slack's length of a text.
fn slack_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The marker's length.
fn marker_len() -> usize {
    slack_len(MARKER)
}

/// Builds a text of at most `max` UTF-16 units (never less than Slack counts) in one pass: our
/// own markup (`raw`), alert text escaped for mrkdwn (`escaped`, `code`) or shown as is
/// (`plain`). When something does not fit, the text is cut where [`MARKER`] still fits and
/// ends with it; an entity such as `&amp;` is never split, and the work stops at the limit
/// however long the input.
#[derive(Debug)]
pub(crate) struct Fitted {
    out: String,
    used: usize,
    max: usize,
    /// Units up to which the marker still fits after.
    room: usize,
    /// Length in bytes up to which the marker still fits after.
    safe: usize,
    full: bool,
}

impl Fitted {
    /// An empty text of at most `max` units (`max` is at least the marker's length).
    pub(crate) fn new(max: usize) -> Self {
        debug_assert!(max >= marker_len());
        Fitted {
            out: String::new(),
            used: 0,
            max,
            room: max.saturating_sub(marker_len()),
            safe: 0,
            full: false,
        }
    }

    fn push(&mut self, piece: &str, units: usize) -> bool {
        if self.full || self.used + units > self.max {
            self.full = true;
            return false;
        }
        self.out.push_str(piece);
        self.used += units;
        if self.used <= self.room {
            self.safe = self.out.len();
        }
        true
    }

    /// Appends a run of ASCII that needs no mapping (one unit per byte), as far as it fits.
    fn push_ascii(&mut self, run: &str) -> bool {
        if self.full {
            return false;
        }
        let (start_len, start_used) = (self.out.len(), self.used);
        let take = run.len().min(self.max - self.used);
        self.out.push_str(&run[..take]);
        self.used += take;
        if self.used <= self.room {
            self.safe = self.out.len();
        } else if start_used <= self.room {
            self.safe = start_len + (self.room - start_used);
        }
        if take < run.len() {
            self.full = true;
        }
        !self.full
    }

    fn chars(mut self, s: &str, map: impl Fn(char) -> Option<&'static str>) -> Self {
        let bytes = s.as_bytes();
        let (mut i, mut run) = (0, 0);
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii() && map(char::from(b)).is_none() {
                i += 1;
                continue;
            }
            if !self.push_ascii(&s[run..i]) {
                return self;
            }
            let Some(c) = s[i..].chars().next() else {
                break;
            };
            let mut buf = [0u8; 4];
            let pushed = match map(c) {
                Some(entity) => self.push(entity, entity.len()),
                None => self.push(c.encode_utf8(&mut buf), c.len_utf16()),
            };
            if !pushed {
                return self;
            }
            i += c.len_utf8();
            run = i;
        }
        self.push_ascii(&s[run..]);
        self
    }

    /// Appends our own markup as is.
    pub(crate) fn raw(self, s: &str) -> Self {
        self.chars(s, |_| None)
    }

    /// Appends text shown as is (a `plain_text` object): no escaping.
    pub(crate) fn plain(self, s: &str) -> Self {
        self.raw(s)
    }

    /// Appends alert text escaped for mrkdwn.
    pub(crate) fn escaped(self, s: &str) -> Self {
        self.chars(s, |c| match c {
            '&' => Some("&amp;"),
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            _ => None,
        })
    }

    /// Appends alert text for a `code span`: escaped, and a backtick cannot end the span.
    pub(crate) fn code(self, s: &str) -> Self {
        self.chars(s, |c| match c {
            '&' => Some("&amp;"),
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            '`' => Some("'"),
            _ => None,
        })
    }

    /// The text, with [`MARKER`] when something was cut.
    pub(crate) fn finish(mut self) -> String {
        if self.full {
            self.out.truncate(self.safe);
            self.out.push_str(MARKER);
        }
        self.out
    }
}

/// Slack's date token: shown in each reader's time zone, with a UTC fallback.
fn slack_date(t: &DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} at {{time_secs}}|{}>",
        t.timestamp(),
        t.format("%Y-%m-%d %H:%M:%S UTC")
    )
}

/// `45s`, `2m 5s`, `1h 2m`, `3d 4h` (to the nearest second).
pub(crate) fn human_duration(d: chrono::Duration) -> String {
    let secs = (d.num_milliseconds().max(0) + 500) / 1000;
    let (days, hours, mins, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let pair = |a: i64, ua: &str, b: i64, ub: &str| {
        if b == 0 {
            format!("{a}{ua}")
        } else {
            format!("{a}{ua} {b}{ub}")
        }
    };
    if days > 0 {
        pair(days, "d", hours, "h")
    } else if hours > 0 {
        pair(hours, "h", mins, "m")
    } else if mins > 0 {
        pair(mins, "m", s, "s")
    } else {
        format!("{s}s")
    }
}

struct Link<'a> {
    /// `<url|title>` with its emoji.
    mrkdwn: String,
    /// The annotation it came from, so it is not listed again.
    annotation: Option<&'a str>,
}

fn http_link(url: &str) -> Option<String> {
    let url = url.trim();
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= MAX_LINK_URL
        && !url.chars().any(char::is_whitespace);
    // Inside `<url|title>`: entities for & < >, and `|` would end the URL.
    let link = ok.then(|| escape(url).replace('|', "%7C"))?;
    (link.len() <= MAX_LINK_URL).then_some(link)
}

/// Links in order: the runbook, other `*_url` annotations, the source, a silence.
fn links<'a>(alert: &'a Alert, context: &GroupContext, options: &EncodeOptions) -> Vec<Link<'a>> {
    let mut out = Vec::new();
    for (key, value) in alert
        .annotations
        .iter()
        .filter(|(k, _)| *k == "runbook_url" || *k == "runbook")
    {
        if let Some(url) = http_link(value) {
            out.push(Link {
                mrkdwn: format!(":book: <{url}|Runbook>"),
                annotation: Some(key.as_str()),
            });
            break;
        }
    }
    for (key, value) in &alert.annotations {
        if key == "runbook_url" || !key.ends_with("_url") {
            continue;
        }
        if let Some(url) = http_link(value) {
            let title = key.trim_end_matches("_url").replace('_', " ");
            let mut chars = title.chars();
            let title: String = chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default();
            let title = escape(&title).replace('|', "/");
            out.push(Link {
                mrkdwn: format!(":link: <{url}|{title}>"),
                annotation: Some(key.as_str()),
            });
        }
    }
    if let Some(url) = http_link(&alert.generator_url) {
        out.push(Link {
            mrkdwn: format!(":chart_with_upwards_trend: <{url}|Source>"),
            annotation: None,
        });
    }
    let base = options
        .alertmanager_url
        .as_deref()
        .unwrap_or(&context.external_url)
        .trim_end_matches('/');
    if !base.is_empty()
        && let Some(url) = silence_link(base, alert)
    {
        out.push(Link {
            mrkdwn: format!(":no_bell: <{url}|Silence>"),
            annotation: None,
        });
    }
    out
}

/// A new silence in the Alertmanager UI, pre-filled with the alert's labels as matchers.
pub fn silence_url(base: &str, alert: &Alert) -> String {
    let mut matchers = String::from("{");
    for (i, (k, v)) in alert.labels.iter().enumerate() {
        if i > 0 {
            matchers.push(',');
        }
        let v = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(matchers, "{k}=\"{v}\"");
    }
    matchers.push('}');
    format!(
        "{}/#/silences/new?filter={}",
        base.trim_end_matches('/'),
        percent_encode(&matchers)
    )
}

/// The silence link, unless it would be too long to be a link (then it is not built at all).
fn silence_link(base: &str, alert: &Alert) -> Option<String> {
    // Each label costs at least its name, value and `="",` once encoded.
    let least: usize = base.len()
        + alert
            .labels
            .iter()
            .map(|(k, v)| k.len() + v.len() + 10)
            .sum::<usize>();
    if least > MAX_LINK_URL {
        return None;
    }
    http_link(&silence_url(base, alert))
}

fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(s: &str, max: usize) -> String {
        Fitted::new(max).escaped(s).finish()
    }

    #[test]
    fn cutting() {
        assert_eq!(fit("short", 12), "short");
        assert_eq!(
            fit(&"a".repeat(12), 12),
            "a".repeat(12),
            "exactly at the limit: no marker"
        );
        let out = fit(&"a".repeat(100), 20);
        assert_eq!(slack_len(&out), 20);
        assert!(out.ends_with(MARKER));
        // never inside an entity
        let out = fit(
            &format!("{}&{}", "a".repeat(6), "b".repeat(50)),
            6 + 3 + marker_len(),
        );
        assert_eq!(out, format!("aaaaaa{MARKER}"));
        // astral characters count twice and are never split
        let out = fit(&"😀".repeat(100), 30);
        assert!(
            slack_len(&out) <= 30 && out.starts_with('😀') && out.ends_with(MARKER),
            "{out}"
        );
        // markup and text share the budget
        let out = Fitted::new(20)
            .raw("*T*\n")
            .escaped(&"x".repeat(30))
            .finish();
        assert_eq!(out, format!("*T*\nxxxx{MARKER}"));
    }

    /// The one-pass builder against the plain definition, over mixed inputs and every limit.
    #[test]
    fn cutting_agrees_with_the_definition() {
        let pieces = ["ab", "&", "<x>", "é", "😀", "`", "plain text ", "&amp;"];
        for seed in 0..40usize {
            let input: String = (0..seed)
                .map(|i| pieces[(i * 7 + seed) % pieces.len()])
                .collect();
            let full = escape(&input);
            for max in marker_len()..marker_len() + 60 {
                let out = fit(&input, max);
                assert!(slack_len(&out) <= max, "{input:?} at {max}: {out:?}");
                if slack_len(&full) <= max {
                    assert_eq!(out, full, "{input:?} fits in {max}");
                } else {
                    // what is kept is the escape of a prefix of the input: no entity or
                    // character is split
                    let kept = out.strip_suffix(MARKER).expect("marker");
                    let n = input.chars().count();
                    let whole =
                        (0..=n).any(|k| escape(&input.chars().take(k).collect::<String>()) == kept);
                    assert!(whole, "{input:?} at {max}: {out:?} splits something");
                    assert!(
                        slack_len(kept) + marker_len() > max - 5,
                        "{input:?} at {max}: {out:?} cut too early"
                    );
                }
            }
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<!channel> & <@U1>"),
            "&lt;!channel&gt; &amp; &lt;@U1&gt;"
        );
        assert_eq!(Fitted::new(100).code("a`b<").finish(), "a'b&lt;");
        assert_eq!(Fitted::new(100).plain("a<b").finish(), "a<b");
    }

    #[test]
    fn durations() {
        for (secs, text) in [
            (0, "0s"),
            (45, "45s"),
            (60, "1m"),
            (125, "2m 5s"),
            (3600, "1h"),
            (3720, "1h 2m"),
            (90_000, "1d 1h"),
            (-5, "0s"),
        ] {
            assert_eq!(
                human_duration(chrono::Duration::seconds(secs)),
                text,
                "{secs}"
            );
        }
        assert_eq!(human_duration(chrono::Duration::milliseconds(5_700)), "6s");
        assert_eq!(human_duration(chrono::Duration::milliseconds(5_499)), "5s");
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode("{a=\"b c\"}"), "%7Ba%3D%22b%20c%22%7D");
    }
}
