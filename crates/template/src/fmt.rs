//! Go's fmt: `%v` printing of values, Sprint, Sprintln and Sprintf.

use crate::value::Value;
use std::cell::Cell;

thread_local! {
    /// Size cap for printed values during one render (the render's max_output_bytes):
    /// printers stop once past it, so self-referencing values cannot blow up memory.
    static CAP: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Sets the cap for this thread, returning the previous one.
pub(crate) fn set_cap(n: usize) -> usize {
    CAP.with(|c| c.replace(n))
}

pub(crate) fn cap() -> usize {
    CAP.with(Cell::get)
}

fn over(s: &str) -> bool {
    s.len() > cap()
}

/// Go's `strconv.FormatFloat` decimal digits (no trailing zeros) and decimal point position.
fn digits(f: f64, sig: Option<usize>) -> (Vec<u8>, i32) {
    let s = match sig {
        None => format!("{:e}", f.abs()),
        Some(p) => format!("{:.*e}", p.saturating_sub(1), f.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.len() > 1 && d.last() == Some(&b'0') {
        d.pop();
    }
    if d == b"0" {
        return (Vec::new(), 0);
    }
    (d, exp + 1)
}

fn fmt_e(neg: bool, d: &[u8], dp: i32, prec: usize, e: char) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push(*d.first().unwrap_or(&b'0') as char);
    if prec > 0 {
        s.push('.');
        for i in 1..=prec {
            s.push(*d.get(i).unwrap_or(&b'0') as char);
        }
    }
    let exp = if d.is_empty() { 0 } else { dp - 1 };
    s.push(e);
    s.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        s.push('0');
    }
    s.push_str(&a.to_string());
    s
}

fn fmt_f(neg: bool, d: &[u8], dp: i32, prec: usize) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    if dp > 0 {
        for i in 0..dp as usize {
            s.push(*d.get(i).unwrap_or(&b'0') as char);
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 0..prec as i32 {
            let j = dp + i;
            s.push(if j < 0 {
                '0'
            } else {
                *d.get(j as usize).unwrap_or(&b'0') as char
            });
        }
    }
    s
}

/// Go's float formatting for verbs e, E, f, F, g, G (prec None: shortest / default).
pub(crate) fn format_float(f: f64, verb: char, prec: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let neg = f.is_sign_negative();
    match verb {
        'e' | 'E' => {
            let p = prec.unwrap_or(6);
            let (d, dp) = digits(f, Some(p + 1));
            fmt_e(neg, &d, dp, p, verb)
        }
        'f' | 'F' => {
            let p = prec.unwrap_or(6);
            let s = format!("{:.*}", p, f.abs());
            if neg { format!("-{s}") } else { s }
        }
        _ => {
            let e = if verb == 'G' { 'E' } else { 'e' };
            let shortest = prec.is_none();
            let mut p = match prec {
                Some(0) => 1,
                Some(p) => p,
                None => 0,
            };
            let (d, dp) = digits(f, if shortest { None } else { Some(p) });
            if shortest {
                p = d.len().max(1);
            }
            let nd = d.len() as i32;
            let mut eprec = p as i32;
            if eprec > nd && nd >= dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            if exp < -4 || exp >= eprec {
                let pp = (p as i32).min(nd.max(1));
                return fmt_e(neg, &d, dp, (pp - 1).max(0) as usize, e);
            }
            let pp = if p as i32 > dp { nd } else { p as i32 };
            fmt_f(neg, &d, dp, (pp - dp).max(0) as usize)
        }
    }
}

/// Go's `%v` of a value.
pub(crate) fn print_v(v: &Value<'_>) -> String {
    let mut s = String::new();
    write_v(&mut s, v, false, true);
    s
}

fn write_v(out: &mut String, v: &Value<'_>, plus: bool, top: bool) {
    if over(out) {
        return;
    }
    match v {
        Value::Missing => out.push_str(if top { "<no value>" } else { "<nil>" }),
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&format_float(*f, 'g', None)),
        Value::Str(s) | Value::Typed(_, s) => out.push_str(s),
        Value::List(_)
        | Value::Strings(_)
        | Value::Pairs(_)
        | Value::Alerts(_)
        | Value::AlertList(_) => {
            out.push('[');
            for (i, e) in v.elems().unwrap_or_default().iter().enumerate() {
                if over(out) {
                    break;
                }
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, e, plus, false);
            }
            out.push(']');
        }
        Value::Map(_) | Value::Kv(_) => {
            out.push_str("map[");
            for (i, (k, e)) in v.entries().unwrap_or_default().iter().enumerate() {
                if over(out) {
                    break;
                }
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, e, plus, false);
            }
            out.push(']');
        }
        Value::Pair(_) | Value::Alert(_) | Value::Data(_) => {
            write_struct(out, &v.struct_fields().unwrap_or_default(), plus)
        }
        Value::Time(t) => out.push_str(&t.go_string()),
        Value::Duration(_) | Value::Month(_) | Value::Weekday(_) => {
            out.push_str(&v.stringer().unwrap_or_default())
        }
    }
}

fn write_struct(out: &mut String, fields: &[(&str, Value<'_>)], plus: bool) {
    out.push('{');
    for (i, (n, f)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if plus {
            out.push_str(n);
            out.push(':');
        }
        write_v(out, f, plus, false);
    }
    out.push('}');
}

fn is_stringish(v: &Value<'_>) -> bool {
    matches!(v, Value::Str(_) | Value::Typed(..))
}

/// Go's fmt.Sprint.
pub(crate) fn sprint(args: &[Value<'_>]) -> String {
    let mut s = String::new();
    for (i, a) in args.iter().enumerate() {
        if over(&s) {
            break;
        }
        if i > 0 && !is_stringish(a) && !is_stringish(&args[i - 1]) {
            s.push(' ');
        }
        write_v(&mut s, a, false, false);
    }
    s
}

/// Go's fmt.Sprintln.
pub(crate) fn sprintln(args: &[Value<'_>]) -> String {
    let mut s = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        write_v(&mut s, a, false, false);
    }
    s.push('\n');
    s
}

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's strconv.Quote.
pub(crate) fn go_quote(s: &str, ascii: bool) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\x07' => o.push_str("\\a"),
            '\x08' => o.push_str("\\b"),
            '\x0c' => o.push_str("\\f"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '\x0b' => o.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                o.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_ascii() => o.push(c),
            c if ascii || c.is_control() => push_u(&mut o, c),
            c if c.is_control()
                || matches!(c as u32, 0x80..=0x9f | 0xad | 0x200b..=0x200f | 0x2028..=0x202e | 0xfeff) =>
            {
                push_u(&mut o, c)
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn push_u(o: &mut String, c: char) {
    if (c as u32) < 0x10000 {
        o.push_str(&format!("\\u{:04x}", c as u32));
    } else {
        o.push_str(&format!("\\U{:08x}", c as u32));
    }
}

fn pad(s: String, sp: &Spec, numeric: bool) -> String {
    let Some(w) = sp.width else { return s };
    let n = s.chars().count();
    if n >= w {
        return s;
    }
    let fill = w - n;
    if sp.minus {
        return s + &" ".repeat(fill);
    }
    if sp.zero {
        if numeric && (s.starts_with('-') || s.starts_with('+') || s.starts_with(' ')) {
            let (sign, rest) = s.split_at(1);
            return format!("{sign}{}{rest}", "0".repeat(fill));
        }
        return "0".repeat(fill) + &s;
    }
    " ".repeat(fill) + &s
}

fn fmt_int(i: i64, verb: char, sp: &Spec) -> Option<String> {
    let neg = i < 0;
    let a = i.unsigned_abs();
    let mut body = match verb {
        'd' | 'v' => a.to_string(),
        'b' => format!("{a:b}"),
        'o' | 'O' => format!("{a:o}"),
        'x' => format!("{a:x}"),
        'X' => format!("{a:X}"),
        'c' => {
            return Some(pad(
                char::from_u32(i as u32).unwrap_or('\u{FFFD}').to_string(),
                sp,
                false,
            ));
        }
        'q' => {
            let c = char::from_u32(i as u32).unwrap_or('\u{FFFD}');
            let q = go_quote(&c.to_string(), sp.plus);
            let inner = &q[1..q.len() - 1];
            let inner = if c == '\'' {
                "\\'".to_string()
            } else {
                inner.replace("\\\"", "\"")
            };
            return Some(pad(format!("'{inner}'"), sp, false));
        }
        'U' => {
            let s = format!("U+{:04X}", a);
            return Some(pad(s, sp, false));
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => return None,
        _ => return None,
    };
    if let Some(p) = sp.prec {
        if p == 0 && a == 0 {
            body.clear();
        }
        while body.len() < p {
            body.insert(0, '0');
        }
    }
    if sp.sharp {
        match verb {
            'x' => body.insert_str(0, "0x"),
            'X' => body.insert_str(0, "0X"),
            'o' if !body.starts_with('0') => body.insert(0, '0'),
            'b' => body.insert_str(0, "0b"),
            _ => {}
        }
    }
    if verb == 'O' {
        body.insert_str(0, "0o");
    }
    let s = if neg {
        format!("-{body}")
    } else if sp.plus {
        format!("+{body}")
    } else if sp.space {
        format!(" {body}")
    } else {
        body
    };
    let sp2 = Spec {
        zero: sp.zero && sp.prec.is_none() && !sp.minus,
        ..*sp
    };
    Some(pad(s, &sp2, true))
}

fn fmt_str(s: &str, verb: char, sp: &Spec) -> Option<String> {
    let s: String = match sp.prec {
        Some(p) if matches!(verb, 's' | 'v' | 'q' | 'x' | 'X') => s.chars().take(p).collect(),
        _ => s.to_string(),
    };
    let out = match verb {
        's' | 'v' => s,
        'q' => {
            if sp.sharp && !s.contains('`') && !s.chars().any(|c| c.is_control() && c != '\t') {
                format!("`{s}`")
            } else {
                go_quote(&s, sp.plus)
            }
        }
        'x' | 'X' => {
            let mut o = String::new();
            for (i, b) in s.bytes().enumerate() {
                if sp.space && i > 0 {
                    o.push(' ');
                }
                if sp.sharp && (sp.space || i == 0) {
                    o.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    o.push_str(&format!("{b:02x}"));
                } else {
                    o.push_str(&format!("{b:02X}"));
                }
            }
            o
        }
        _ => return None,
    };
    Some(pad(out, sp, false))
}

fn fmt_one(v: &Value<'_>, verb: char, sp: &Spec) -> String {
    if verb == 'T' {
        return pad(v.type_name(), sp, false);
    }
    let r = match v {
        Value::Missing | Value::Nil => match verb {
            'v' => Some(pad("<nil>".into(), sp, false)),
            _ => None,
        },
        Value::Bool(b) => match verb {
            't' | 'v' => Some(pad(b.to_string(), sp, false)),
            _ => None,
        },
        Value::Int(i) => fmt_int(*i, verb, sp),
        Value::Duration(d) | Value::Month(d) | Value::Weekday(d) => match verb {
            'v' | 's' | 'q' | 'x' | 'X' => fmt_str(&v.stringer().unwrap_or_default(), verb, sp),
            _ => fmt_int(*d, verb, sp),
        },
        Value::Float(f) => match verb {
            'v' | 'g' | 'G' | 'e' | 'E' | 'f' | 'F' => {
                let vb = if verb == 'v' { 'g' } else { verb };
                let mut s = format_float(*f, vb, sp.prec);
                if sp.plus && !s.starts_with('-') {
                    s.insert(0, '+');
                } else if sp.space && !s.starts_with('-') {
                    s.insert(0, ' ');
                }
                if sp.sharp && !s.contains('.') && !s.contains('e') {
                    s.push('.');
                }
                let sp2 = Spec {
                    zero: sp.zero && !sp.minus && f.is_finite(),
                    ..*sp
                };
                Some(pad(s, &sp2, true))
            }
            _ => None,
        },
        Value::Str(s) | Value::Typed(_, s) => fmt_str(s, verb, sp),
        Value::Time(t) => match verb {
            'v' | 's' | 'q' | 'x' | 'X' => fmt_str(&t.go_string(), verb, sp),
            _ => None,
        },
        Value::List(_)
        | Value::Strings(_)
        | Value::Pairs(_)
        | Value::Alerts(_)
        | Value::AlertList(_) => {
            if matches!(v, Value::Strings(_)) && matches!(verb, 'x' | 'X') {
                // []string with %x: each element, joined without brackets? Go prints [hex hex]
            }
            let mut o = String::from("[");
            for (i, e) in v.elems().unwrap_or_default().iter().enumerate() {
                if over(&o) {
                    break;
                }
                if i > 0 {
                    o.push(' ');
                }
                o.push_str(&fmt_one(e, verb, sp));
            }
            o.push(']');
            return o;
        }
        Value::Map(_) | Value::Kv(_) => {
            let mut o = String::from("map[");
            for (i, (k, e)) in v.entries().unwrap_or_default().iter().enumerate() {
                if over(&o) {
                    break;
                }
                if i > 0 {
                    o.push(' ');
                }
                o.push_str(&fmt_one(&Value::str(k), verb, sp));
                o.push(':');
                o.push_str(&fmt_one(e, verb, sp));
            }
            o.push(']');
            return o;
        }
        Value::Pair(_) | Value::Alert(_) | Value::Data(_) => {
            let mut o = String::from("{");
            for (i, (name, f)) in v.struct_fields().unwrap_or_default().iter().enumerate() {
                if over(&o) {
                    break;
                }
                if i > 0 {
                    o.push(' ');
                }
                if sp.plus && verb == 'v' {
                    o.push_str(name);
                    o.push(':');
                }
                o.push_str(&fmt_one(f, verb, sp));
            }
            o.push('}');
            return o;
        }
    };
    r.unwrap_or_else(|| bad_verb(verb, v))
}

fn bad_verb(verb: char, v: &Value<'_>) -> String {
    match v {
        Value::Missing | Value::Nil => format!("%!{verb}(<nil>)"),
        _ => format!("%!{verb}({}={})", v.type_name(), print_arg(v)),
    }
}

fn print_arg(v: &Value<'_>) -> String {
    let mut s = String::new();
    write_v(&mut s, v, false, false);
    s
}

/// Go's fmt tooLarge: widths and precisions beyond 1e6.
fn too_large(n: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&n)
}

/// Go's fmt parsenum: `Some((number if any, next index))`, `None` when the number is
/// too large (Go then skips the rest of the format).
fn parsenum(cs: &[char], start: usize) -> Option<(Option<usize>, usize)> {
    let mut i = start;
    let mut n: i64 = 0;
    let mut any = false;
    while i < cs.len() && cs[i].is_ascii_digit() {
        if too_large(n) {
            return None;
        }
        n = n * 10 + (cs[i] as i64 - '0' as i64);
        any = true;
        i += 1;
    }
    Some((any.then_some(n as usize), i))
}

/// Go's fmt.Sprintf.
pub(crate) fn sprintf(format: &str, args: &[Value<'_>]) -> String {
    let mut out = String::new();
    let mut argn = 0usize;
    let cs: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        if over(&out) {
            break;
        }
        let c = cs[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let mut sp = Spec::default();
        while i < cs.len() {
            match cs[i] {
                '-' => {
                    sp.minus = true;
                    sp.zero = false;
                }
                '+' => sp.plus = true,
                '#' => sp.sharp = true,
                ' ' => sp.space = true,
                '0' => sp.zero = !sp.minus,
                _ => break,
            }
            i += 1;
        }
        // width
        if i < cs.len() && cs[i] == '*' {
            i += 1;
            match args.get(argn) {
                Some(Value::Int(w)) if !too_large(*w) => {
                    if *w < 0 {
                        sp.minus = true;
                        sp.zero = false;
                    }
                    sp.width = Some(w.unsigned_abs() as usize);
                }
                _ => out.push_str("%!(BADWIDTH)"),
            }
            argn += 1;
        } else {
            match parsenum(&cs, i) {
                Some((n, next)) => {
                    sp.width = n;
                    i = next;
                }
                None => i = cs.len(),
            }
        }
        if i < cs.len() && cs[i] == '.' {
            i += 1;
            if i < cs.len() && cs[i] == '*' {
                i += 1;
                match args.get(argn) {
                    Some(Value::Int(p)) if *p >= 0 && !too_large(*p) => sp.prec = Some(*p as usize),
                    Some(Value::Int(p)) if *p < 0 => {}
                    _ => out.push_str("%!(BADPREC)"),
                }
                argn += 1;
            } else {
                match parsenum(&cs, i) {
                    Some((n, next)) => {
                        sp.prec = Some(n.unwrap_or(0));
                        i = next;
                    }
                    None => i = cs.len(),
                }
            }
        }
        if i >= cs.len() {
            out.push_str("%!(NOVERB)");
            break;
        }
        let verb = cs[i];
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(argn) {
            None => out.push_str(&format!("%!{verb}(MISSING)")),
            Some(a) => out.push_str(&fmt_one(a, verb, &sp)),
        }
        argn += 1;
    }
    if argn < args.len() {
        out.push_str("%!(EXTRA ");
        for (k, a) in args[argn..].iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            match a {
                Value::Missing | Value::Nil => out.push_str("<nil>"),
                _ => out.push_str(&format!("{}={}", a.type_name(), print_arg(a))),
            }
        }
        out.push(')');
    }
    out
}
