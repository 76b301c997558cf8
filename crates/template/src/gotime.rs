//! Go's time: layouts (Format/Parse), Time.String, Duration.String, time zones from the
//! system zoneinfo (like Go's time.LoadLocation), and Prometheus' humanizeDuration.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike};
use std::rc::Rc;

/// A Go `time.Time`: an instant with an offset and, when known, a zone abbreviation.
#[derive(Clone, Debug)]
pub(crate) struct GoTime {
    pub(crate) t: DateTime<FixedOffset>,
    /// Zone name; `None`: `UTC` for offset 0, otherwise unnamed (printed as `+0200`).
    pub(crate) zone: Option<Rc<str>>,
}

impl From<DateTime<FixedOffset>> for GoTime {
    fn from(t: DateTime<FixedOffset>) -> Self {
        GoTime { t, zone: None }
    }
}

impl GoTime {
    pub(crate) fn zone_name(&self) -> String {
        match &self.zone {
            Some(z) => z.to_string(),
            None if self.t.offset().local_minus_utc() == 0 => "UTC".into(),
            None => String::new(),
        }
    }
    pub(crate) fn go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }
    pub(crate) fn is_zero(&self) -> bool {
        self.t.timestamp() == -62135596800 && self.t.timestamp_subsec_nanos() == 0
    }
    pub(crate) fn utc(&self) -> GoTime {
        GoTime {
            t: self
                .t
                .with_timezone(&FixedOffset::east_opt(0).unwrap_or_else(|| *self.t.offset())),
            zone: None,
        }
    }

    /// Go's Time.Format.
    pub(crate) fn format(&self, layout: &str) -> String {
        let t = &self.t;
        let mut out = String::new();
        let mut rest = layout;
        while !rest.is_empty() {
            let (prefix, chunk, suffix) = next_chunk(rest);
            out.push_str(prefix);
            rest = suffix;
            let Some(chunk) = chunk else { break };
            let off = t.offset().local_minus_utc();
            match chunk {
                Std::LongMonth => out.push_str(MONTHS[t.month0() as usize]),
                Std::Month => out.push_str(&MONTHS[t.month0() as usize][..3]),
                Std::NumMonth => out.push_str(&t.month().to_string()),
                Std::ZeroMonth => out.push_str(&format!("{:02}", t.month())),
                Std::LongWeekDay => out.push_str(DAYS[t.weekday().num_days_from_sunday() as usize]),
                Std::WeekDay => {
                    out.push_str(&DAYS[t.weekday().num_days_from_sunday() as usize][..3])
                }
                Std::Day => out.push_str(&t.day().to_string()),
                Std::UnderDay => out.push_str(&format!("{:>2}", t.day())),
                Std::ZeroDay => out.push_str(&format!("{:02}", t.day())),
                Std::UnderYearDay => out.push_str(&format!("{:>3}", t.ordinal())),
                Std::ZeroYearDay => out.push_str(&format!("{:03}", t.ordinal())),
                Std::Hour => out.push_str(&format!("{:02}", t.hour())),
                Std::Hour12 => out.push_str(&((t.hour() + 11) % 12 + 1).to_string()),
                Std::ZeroHour12 => out.push_str(&format!("{:02}", (t.hour() + 11) % 12 + 1)),
                Std::Minute => out.push_str(&t.minute().to_string()),
                Std::ZeroMinute => out.push_str(&format!("{:02}", t.minute())),
                Std::Second => out.push_str(&t.second().to_string()),
                Std::ZeroSecond => out.push_str(&format!("{:02}", t.second())),
                Std::LongYear => out.push_str(&format!("{:04}", t.year())),
                Std::Year => out.push_str(&format!("{:02}", t.year().rem_euclid(100))),
                Std::PM => out.push_str(if t.hour() >= 12 { "PM" } else { "AM" }),
                Std::Pm => out.push_str(if t.hour() >= 12 { "pm" } else { "am" }),
                Std::Tz => {
                    let name = self.zone_name();
                    if name.is_empty() {
                        out.push_str(&offset_str(off, false, false, false));
                    } else {
                        out.push_str(&name);
                    }
                }
                Std::Iso(colon, secs, hours_only) => {
                    if off == 0 {
                        out.push('Z');
                    } else {
                        out.push_str(&offset_fmt(off, colon, secs, hours_only));
                    }
                }
                Std::Num(colon, secs, hours_only) => {
                    out.push_str(&offset_fmt(off, colon, secs, hours_only))
                }
                Std::Frac(sep, n, nines) => {
                    let ns = t.timestamp_subsec_nanos();
                    let digits = format!("{ns:09}");
                    let mut d = &digits[..n.min(9)];
                    if nines {
                        d = d.trim_end_matches('0');
                        if d.is_empty() {
                            continue;
                        }
                    }
                    out.push(sep);
                    out.push_str(d);
                }
            }
        }
        out
    }
}

fn offset_str(off: i32, colon: bool, secs: bool, hours_only: bool) -> String {
    offset_fmt(off, colon, secs, hours_only)
}

fn offset_fmt(off: i32, colon: bool, secs: bool, hours_only: bool) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    let mut o = format!("{sign}{h:02}");
    if hours_only {
        return o;
    }
    if colon {
        o.push(':');
    }
    o.push_str(&format!("{m:02}"));
    if secs {
        if colon {
            o.push(':');
        }
        o.push_str(&format!("{s:02}"));
    }
    o
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz,
    /// Z07:00 style: (colon, seconds, hours only)
    Iso(bool, bool, bool),
    /// -07:00 style
    Num(bool, bool, bool),
    /// fractional seconds: separator, digits, trailing-zero trimming (9s)
    Frac(char, usize, bool),
}

/// Go's nextStdChunk: (literal prefix, chunk, rest after chunk).
fn next_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let r = &layout[i..];
        let hit: Option<(Std, usize)> = match b[i] {
            b'J' if r.starts_with("January") => Some((Std::LongMonth, 7)),
            b'J' if r.starts_with("Jan") => Some((Std::Month, 3)),
            b'M' if r.starts_with("Monday") => Some((Std::LongWeekDay, 6)),
            b'M' if r.starts_with("Mon") => Some((Std::WeekDay, 3)),
            b'M' if r.starts_with("MST") => Some((Std::Tz, 3)),
            b'0' if b.get(i + 1).is_some_and(|c| (b'1'..=b'6').contains(c)) => Some((
                [
                    Std::ZeroMonth,
                    Std::ZeroDay,
                    Std::ZeroHour12,
                    Std::ZeroMinute,
                    Std::ZeroSecond,
                    Std::Year,
                ][(b[i + 1] - b'1') as usize],
                2,
            )),
            b'0' if r.starts_with("002") => Some((Std::ZeroYearDay, 3)),
            b'1' if r.starts_with("15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if r.starts_with("2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            b'_' if r.starts_with("_2") => {
                if r.starts_with("_2006") {
                    // literal "_" then the year
                    return (&layout[..i + 1], Some(Std::LongYear), &layout[i + 5..]);
                }
                Some((Std::UnderDay, 2))
            }
            b'_' if r.starts_with("__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if r.starts_with("PM") => Some((Std::PM, 2)),
            b'p' if r.starts_with("pm") => Some((Std::Pm, 2)),
            b'-' if r.starts_with("-070000") => Some((Std::Num(false, true, false), 7)),
            b'-' if r.starts_with("-07:00:00") => Some((Std::Num(true, true, false), 9)),
            b'-' if r.starts_with("-0700") => Some((Std::Num(false, false, false), 5)),
            b'-' if r.starts_with("-07:00") => Some((Std::Num(true, false, false), 6)),
            b'-' if r.starts_with("-07") => Some((Std::Num(false, false, true), 3)),
            b'Z' if r.starts_with("Z070000") => Some((Std::Iso(false, true, false), 7)),
            b'Z' if r.starts_with("Z07:00:00") => Some((Std::Iso(true, true, false), 9)),
            b'Z' if r.starts_with("Z0700") => Some((Std::Iso(false, false, false), 5)),
            b'Z' if r.starts_with("Z07:00") => Some((Std::Iso(true, false, false), 6)),
            b'Z' if r.starts_with("Z07") => Some((Std::Iso(false, false, true), 3)),
            b'.' | b',' if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if b.get(j).is_some_and(u8::is_ascii_digit) {
                    None
                } else {
                    Some((Std::Frac(b[i] as char, j - i - 1, ch == b'9'), j - i))
                }
            }
            _ => None,
        };
        if let Some((s, n)) = hit {
            return (&layout[..i], Some(s), &layout[i + n..]);
        }
        i += layout[i..].chars().next().map_or(1, char::len_utf8);
    }
    (layout, None, "")
}

/// Go's time.ParseInLocation(layout, value, UTC), for the common layout elements.
pub(crate) fn parse(layout: &str, value: &str) -> Result<GoTime, String> {
    let err = |elem: &str, v: &str, extra: &str| {
        format!(
            "parsing time {:?} as {:?}: cannot parse {:?} as {:?}{}",
            value, layout, v, elem, extra
        )
    };
    let (mut year, mut month, mut day, mut hour, mut min, mut sec, mut nanos) =
        (1i32, 1u32, 1u32, 0u32, 0u32, 0u32, 0u32);
    let mut pm: Option<bool> = None;
    let mut offset: Option<i32> = None;
    let mut zone: Option<String> = None;
    let mut lay = layout;
    let mut v = value;
    loop {
        let (prefix, chunk, rest) = next_chunk(lay);
        let stdstr = &lay[prefix.len()..lay.len() - rest.len()];
        let Some(vv) = v.strip_prefix(prefix) else {
            return Err(err(prefix, v, ""));
        };
        v = vv;
        let Some(chunk) = chunk else {
            if !v.is_empty() {
                return Err(format!("parsing time {value:?}: extra text: {v:?}"));
            }
            break;
        };
        lay = rest;
        let num = |v: &str, min_d: usize, max_d: usize| -> Option<(u32, usize)> {
            let n = v.bytes().take(max_d).take_while(u8::is_ascii_digit).count();
            if n < min_d {
                return None;
            }
            Some((v[..n].parse().ok()?, n))
        };
        let bad = || err(stdstr, v, "");
        match chunk {
            Std::LongYear => {
                let (y, n) = num(v, 4, 4).ok_or_else(bad)?;
                year = y as i32;
                v = &v[n..];
            }
            Std::Year => {
                let (y, n) = num(v, 2, 2).ok_or_else(bad)?;
                year = if y >= 69 {
                    1900 + y as i32
                } else {
                    2000 + y as i32
                };
                v = &v[n..];
            }
            Std::LongMonth | Std::Month => {
                let full = chunk == Std::LongMonth;
                let idx = MONTHS.iter().position(|m| {
                    let m = if full { *m } else { &m[..3] };
                    v.get(..m.len()).is_some_and(|p| p.eq_ignore_ascii_case(m))
                });
                let i = idx.ok_or_else(bad)?;
                month = i as u32 + 1;
                v = &v[if full { MONTHS[i].len() } else { 3 }..];
            }
            Std::LongWeekDay | Std::WeekDay => {
                let full = chunk == Std::LongWeekDay;
                let idx = DAYS.iter().position(|m| {
                    let m = if full { *m } else { &m[..3] };
                    v.get(..m.len()).is_some_and(|p| p.eq_ignore_ascii_case(m))
                });
                let i = idx.ok_or_else(bad)?;
                v = &v[if full { DAYS[i].len() } else { 3 }..];
            }
            Std::NumMonth | Std::ZeroMonth => {
                let (m, n) =
                    num(v, if chunk == Std::ZeroMonth { 2 } else { 1 }, 2).ok_or_else(bad)?;
                if !(1..=12).contains(&m) {
                    return Err(format!("parsing time {value:?}: month out of range"));
                }
                month = m;
                v = &v[n..];
            }
            Std::Day | Std::ZeroDay | Std::UnderDay => {
                if chunk == Std::UnderDay && v.starts_with(' ') {
                    v = &v[1..];
                }
                let (d, n) =
                    num(v, if chunk == Std::ZeroDay { 2 } else { 1 }, 2).ok_or_else(bad)?;
                day = d;
                v = &v[n..];
            }
            Std::ZeroYearDay | Std::UnderYearDay => {
                let (_, n) = num(v.trim_start(), 1, 3).ok_or_else(bad)?;
                v = &v.trim_start()[n..];
            }
            Std::Hour => {
                let (h, n) = num(v, 2, 2).ok_or_else(bad)?;
                if h > 23 {
                    return Err(format!("parsing time {value:?}: hour out of range"));
                }
                hour = h;
                v = &v[n..];
            }
            Std::Hour12 | Std::ZeroHour12 => {
                let (h, n) =
                    num(v, if chunk == Std::ZeroHour12 { 2 } else { 1 }, 2).ok_or_else(bad)?;
                if h > 12 {
                    return Err(format!("parsing time {value:?}: hour out of range"));
                }
                hour = h;
                v = &v[n..];
            }
            Std::Minute | Std::ZeroMinute => {
                let (m, n) =
                    num(v, if chunk == Std::ZeroMinute { 2 } else { 1 }, 2).ok_or_else(bad)?;
                if m > 59 {
                    return Err(format!("parsing time {value:?}: minute out of range"));
                }
                min = m;
                v = &v[n..];
            }
            Std::Second | Std::ZeroSecond => {
                let (s, n) =
                    num(v, if chunk == Std::ZeroSecond { 2 } else { 1 }, 2).ok_or_else(bad)?;
                if s > 59 {
                    return Err(format!("parsing time {value:?}: second out of range"));
                }
                sec = s;
                v = &v[n..];
                // Go accepts a fractional second after seconds even if the layout has none.
                if v.len() > 1
                    && (v.starts_with('.') || v.starts_with(','))
                    && v.as_bytes()[1].is_ascii_digit()
                    && !matches!(next_chunk(lay).1, Some(Std::Frac(..)))
                {
                    let n = v[1..].bytes().take_while(u8::is_ascii_digit).count();
                    nanos = frac_nanos(&v[1..1 + n]);
                    v = &v[1 + n..];
                }
            }
            Std::Frac(_, n, nines) => {
                if !(v.starts_with('.') || v.starts_with(',')) {
                    if nines {
                        continue;
                    }
                    return Err(bad());
                }
                let digs = v[1..].bytes().take_while(u8::is_ascii_digit).count();
                if !nines && digs != n {
                    return Err(bad());
                }
                nanos = frac_nanos(&v[1..1 + digs]);
                v = &v[1 + digs..];
            }
            Std::PM | Std::Pm => {
                match v.get(..2).unwrap_or("") {
                    "PM" | "pm" => pm = Some(true),
                    "AM" | "am" => pm = Some(false),
                    _ => return Err(bad()),
                }
                v = &v[2..];
            }
            Std::Iso(colon, secs, hours_only) | Std::Num(colon, secs, hours_only) => {
                if matches!(chunk, Std::Iso(..)) && v.starts_with('Z') {
                    v = &v[1..];
                    offset = Some(0);
                    zone = Some("UTC".into());
                    continue;
                }
                let sign = match v.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return Err(bad()),
                };
                let mut w = &v[1..];
                let (h, n) = num(w, 2, 2).ok_or_else(bad)?;
                w = &w[n..];
                let mut m = 0;
                let mut s = 0;
                if !hours_only {
                    if colon {
                        w = w.strip_prefix(':').ok_or_else(bad)?;
                    }
                    let (mm, n) = num(w, 2, 2).ok_or_else(bad)?;
                    m = mm;
                    w = &w[n..];
                    if secs {
                        if colon {
                            w = w.strip_prefix(':').ok_or_else(bad)?;
                        }
                        let (ss, n) = num(w, 2, 2).ok_or_else(bad)?;
                        s = ss;
                        w = &w[n..];
                    }
                }
                offset = Some(sign * (h * 3600 + m * 60 + s) as i32);
                v = w;
            }
            Std::Tz => {
                if v.starts_with("UTC") {
                    offset = Some(0);
                    zone = Some("UTC".into());
                    v = &v[3..];
                } else {
                    let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
                    if n < 3 {
                        return Err(bad());
                    }
                    zone = Some(v[..n].to_string());
                    v = &v[n..];
                }
            }
        }
    }
    if let Some(p) = pm {
        if p && hour < 12 {
            hour += 12;
        } else if !p && hour == 12 {
            hour = 0;
        }
    }
    let date = NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| format!("parsing time {value:?}: day out of range"))?;
    let naive: NaiveDateTime = date
        .and_hms_nano_opt(hour, min, sec, nanos)
        .ok_or_else(|| format!("parsing time {value:?}: out of range"))?;
    let off = offset.unwrap_or(0);
    let fo = FixedOffset::east_opt(off)
        .ok_or_else(|| format!("parsing time {value:?}: offset out of range"))?;
    let t = fo
        .from_local_datetime(&naive)
        .single()
        .ok_or_else(|| format!("parsing time {value:?}: out of range"))?;
    let zone = match (offset, zone) {
        (Some(0), _) | (None, None) => None,
        (None, Some(z)) => Some(Rc::from(z.as_str())),
        (Some(_), _) => Some(Rc::from("")),
    };
    Ok(GoTime { t, zone })
}

fn frac_nanos(d: &str) -> u32 {
    let mut s: String = d.chars().take(9).collect();
    while s.len() < 9 {
        s.push('0');
    }
    s.parse().unwrap_or(0)
}

/// Go's Month.String.
pub(crate) fn month_name(m: i64) -> String {
    match usize::try_from(m - 1).ok().and_then(|i| MONTHS.get(i)) {
        Some(n) => (*n).to_string(),
        None => format!("%!Month({m})"),
    }
}

/// Go's Weekday.String.
pub(crate) fn weekday_name(d: i64) -> String {
    match usize::try_from(d).ok().and_then(|i| DAYS.get(i)) {
        Some(n) => (*n).to_string(),
        None => format!("%!Weekday({d})"),
    }
}

/// Go's Duration.String.
pub(crate) fn duration_string(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut s = String::new();
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        s.push_str(&frac(u, div));
        s.push_str(unit);
    } else {
        let h = u / 3_600_000_000_000;
        let m = u / 60_000_000_000 % 60;
        let secs = u % 60_000_000_000;
        if h > 0 {
            s.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            s.push_str(&format!("{m}m"));
        }
        s.push_str(&frac(secs, 1_000_000_000));
        s.push('s');
    }
    if neg { format!("-{s}") } else { s }
}

fn frac(v: u64, div: u64) -> String {
    let int = v / div;
    let rem = v % div;
    if rem == 0 {
        return int.to_string();
    }
    let width = div.ilog10() as usize;
    let f = format!("{rem:0width$}");
    format!("{int}.{}", f.trim_end_matches('0'))
}

/// Prometheus' templates.HumanizeDuration on seconds.
pub(crate) fn humanize_duration(v: f64) -> String {
    use crate::fmt::format_float;
    if v.is_nan() || v.is_infinite() {
        return format_float(v, 'g', Some(4));
    }
    if v == 0.0 {
        return format!("{}s", format_float(v, 'g', Some(4)));
    }
    if v.abs() >= 1.0 {
        let (sign, v) = if v < 0.0 { ("-", -v) } else { ("", v) };
        let d = v as i64;
        let (s, m, h, days) = (d % 60, d / 60 % 60, d / 3600 % 24, d / 86400);
        if days != 0 {
            return format!("{sign}{days}d {h}h {m}m {s}s");
        }
        if h != 0 {
            return format!("{sign}{h}h {m}m {s}s");
        }
        if m != 0 {
            return format!("{sign}{m}m {s}s");
        }
        return format!("{sign}{}s", format_float(v, 'g', Some(4)));
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", format_float(v, 'g', Some(4)))
}

/// Go's time.LoadLocation from the system zoneinfo database. Returns a function from
/// instant (Unix seconds) to (offset seconds, abbreviation).
pub(crate) fn load_location(name: &str) -> Result<std::sync::Arc<Zone>, String> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Zone>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(z) = cache.lock().ok().and_then(|c| c.get(name).cloned()) {
        return Ok(z);
    }
    let zone = Arc::new(read_location(name)?);
    if let Ok(mut c) = cache.lock()
        && c.len() < 1024
    {
        c.insert(name.to_string(), zone.clone());
    }
    Ok(zone)
}

fn read_location(name: &str) -> Result<Zone, String> {
    if name.is_empty() || name == "UTC" || name == "Local" {
        return Ok(Zone::Utc);
    }
    if name.contains("..") || name.starts_with('/') || name.starts_with('\\') {
        return Err("time: invalid location name".into());
    }
    let dirs = [
        std::env::var("ZONEINFO").unwrap_or_default(),
        "/usr/share/zoneinfo/".into(),
        "/usr/share/lib/zoneinfo/".into(),
        "/usr/lib/locale/TZ/".into(),
        "/etc/zoneinfo/".into(),
    ];
    for d in dirs.iter().filter(|d| !d.is_empty()) {
        let path = std::path::Path::new(d).join(name);
        if let Ok(bytes) = std::fs::read(&path) {
            return parse_tzif(&bytes).ok_or_else(|| "time: invalid location name".to_string());
        }
    }
    Err(format!("unknown time zone {name}"))
}

#[derive(Clone, Debug)]
pub(crate) enum Zone {
    Utc,
    Tzif {
        trans: Vec<(i64, usize)>,
        types: Vec<(i32, bool, String)>,
    },
}

impl Zone {
    pub(crate) fn convert(&self, t: &GoTime) -> GoTime {
        match self {
            Zone::Utc => t.utc(),
            Zone::Tzif { trans, types } => {
                let secs = t.t.timestamp();
                let idx = match trans.binary_search_by(|(at, _)| at.cmp(&secs)) {
                    Ok(i) => Some(trans[i].1),
                    Err(0) => None,
                    Err(i) => Some(trans[i - 1].1),
                };
                let ty = idx.unwrap_or_else(|| types.iter().position(|t| !t.1).unwrap_or(0));
                let (off, _, abbr) = types.get(ty).cloned().unwrap_or((0, false, "UTC".into()));
                let fo = FixedOffset::east_opt(off).unwrap_or_else(|| *t.t.offset());
                GoTime {
                    t: t.t.with_timezone(&fo),
                    zone: Some(Rc::from(abbr.as_str())),
                }
            }
        }
    }
}

fn parse_tzif(b: &[u8]) -> Option<Zone> {
    fn be32(b: &[u8], at: usize) -> Option<i64> {
        Some(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?) as i64)
    }
    fn be64(b: &[u8], at: usize) -> Option<i64> {
        Some(i64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
    }
    if b.get(..4)? != b"TZif" {
        return None;
    }
    let version = *b.get(4)?;
    let counts = |at: usize| -> Option<[usize; 6]> {
        let mut c = [0usize; 6];
        for (i, x) in c.iter_mut().enumerate() {
            *x = be32(b, at + 20 + 4 * i)? as usize;
        }
        Some(c)
    };
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(0)?;
    let v1len = timecnt * 4 + timecnt + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
    let (base, tsize, [_, _, _, timecnt, typecnt, charcnt]) = if version >= b'2' {
        let at = 44 + v1len;
        (at + 44, 8, counts(at)?)
    } else {
        (44, 4, [isut, isstd, leap, timecnt, typecnt, charcnt])
    };
    let mut trans = Vec::with_capacity(timecnt);
    let idx_at = base + timecnt * tsize;
    for i in 0..timecnt {
        let at = if tsize == 8 {
            be64(b, base + i * 8)?
        } else {
            be32(b, base + i * 4)?
        };
        trans.push((at, *b.get(idx_at + i)? as usize));
    }
    let types_at = idx_at + timecnt;
    let chars_at = types_at + typecnt * 6;
    let chars = b.get(chars_at..chars_at + charcnt)?;
    let mut types = Vec::with_capacity(typecnt);
    for i in 0..typecnt {
        let at = types_at + i * 6;
        let off = be32(b, at)? as i32;
        let dst = *b.get(at + 4)? != 0;
        let ai = *b.get(at + 5)? as usize;
        let end = chars
            .get(ai..)?
            .iter()
            .position(|&c| c == 0)
            .map_or(chars.len(), |p| ai + p);
        types.push((
            off,
            dst,
            String::from_utf8_lossy(chars.get(ai..end)?).into_owned(),
        ));
    }
    Some(Zone::Tzif { trans, types })
}
