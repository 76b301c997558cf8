//! Go's builtin template functions and Alertmanager's `DefaultFuncs`.

use crate::fmt::{print_v, sprint, sprintf, sprintln};
use crate::gotime::{self, GoTime, duration_string, humanize_duration};
use crate::value::Value;
use chrono::{DateTime, FixedOffset, Utc};
use std::collections::BTreeMap;
use std::rc::Rc;

pub(crate) enum FuncError {
    /// Reported as `error calling NAME: ...`.
    Call(String),
    /// Reported as is (argument count and type errors).
    Plain(String),
}

/// Every function name known at parse time.
pub(crate) const FUNCS: &[&str] = &[
    // text/template builtins
    "and",
    "call",
    "html",
    "index",
    "slice",
    "js",
    "len",
    "not",
    "or",
    "print",
    "printf",
    "println",
    "urlquery",
    "eq",
    "ge",
    "gt",
    "le",
    "lt",
    "ne",
    // Alertmanager
    "toUpper",
    "toLower",
    "title",
    "trimSpace",
    "join",
    "match",
    "safeHtml",
    "safeUrl",
    "urlUnescape",
    "reReplaceAll",
    "stringSlice",
    "date",
    "tz",
    "now",
    "since",
    "humanizeDuration",
    "toDate",
    "mustToDate",
    "toJson",
    "list",
    "append",
    "dict",
];

pub(crate) fn is_func(name: &str) -> bool {
    FUNCS.contains(&name)
}

type R<'d> = Result<Value<'d>, FuncError>;

fn nargs(name: &str, args: &[Value<'_>], want: usize) -> Result<(), FuncError> {
    if args.len() != want {
        return Err(FuncError::Plain(format!(
            "wrong number of args for {name}: want {want} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn min_args(name: &str, args: &[Value<'_>], want: usize) -> Result<(), FuncError> {
    if args.len() < want {
        return Err(FuncError::Plain(format!(
            "wrong number of args for {name}: want at least {want} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn wrong_type(want: &str, v: &Value<'_>) -> FuncError {
    match v {
        Value::Missing => FuncError::Plain(format!("invalid value; expected {want}")),
        Value::Nil => FuncError::Plain(format!("cannot assign nil to {want}")),
        _ => FuncError::Plain(format!(
            "wrong type for value; expected {want}; got {}",
            v.type_name()
        )),
    }
}

fn string<'v>(v: &'v Value<'_>) -> Result<&'v str, FuncError> {
    match v {
        Value::Str(s) => Ok(s),
        _ => Err(wrong_type("string", v)),
    }
}

fn time(v: &Value<'_>) -> Result<GoTime, FuncError> {
    match v {
        Value::Time(t) => Ok(t.clone()),
        _ => Err(wrong_type("time.Time", v)),
    }
}

fn s<'d>(s: impl AsRef<str>) -> Value<'d> {
    Value::Str(Rc::from(s.as_ref()))
}

/// Go's evalArgs for html/js/urlquery: a single string as is, else fmt.Sprint.
fn eval_args(args: &[Value<'_>]) -> String {
    if let [Value::Str(s)] = args {
        return s.to_string();
    }
    sprint(args)
}

pub(crate) fn call<'d>(name: &str, args: Vec<Value<'d>>) -> R<'d> {
    let v = call_inner(name, args)?;
    let cap = crate::fmt::cap();
    if let Value::Str(s) = &v
        && s.len() > cap
    {
        return Err(FuncError::Plain(format!(
            "value exceeds {cap} bytes (the output limit)"
        )));
    }
    Ok(v)
}

fn call_inner<'d>(name: &str, args: Vec<Value<'d>>) -> R<'d> {
    match name {
        "not" => {
            nargs(name, &args, 1)?;
            Ok(Value::Bool(!args[0].truth()))
        }
        "len" => {
            nargs(name, &args, 1)?;
            match args[0].len() {
                Some(n) => Ok(Value::Int(n as i64)),
                None if matches!(args[0], Value::Missing | Value::Nil) => {
                    Err(FuncError::Call("len of nil pointer".into()))
                }
                None => Err(FuncError::Call(format!(
                    "len of type {}",
                    args[0].type_name()
                ))),
            }
        }
        "index" => {
            min_args(name, &args, 1)?;
            index(&args[0], &args[1..])
        }
        "slice" => {
            min_args(name, &args, 1)?;
            slice(&args[0], &args[1..])
        }
        "print" => Ok(s(sprint(&args))),
        "println" => Ok(s(sprintln(&args))),
        "printf" => {
            min_args(name, &args, 1)?;
            Ok(s(sprintf(string(&args[0])?, &args[1..])))
        }
        "html" => Ok(s(html_escape(&eval_args(&args)))),
        "js" => Ok(s(js_escape(&eval_args(&args)))),
        "urlquery" => Ok(s(query_escape(&eval_args(&args)))),
        "call" => {
            min_args(name, &args, 1)?;
            match &args[0] {
                Value::Missing | Value::Nil => Err(FuncError::Call("call of nil".into())),
                v => Err(FuncError::Call(format!(
                    "non-function of type {}",
                    v.type_name()
                ))),
            }
        }
        "eq" => {
            min_args(name, &args, 1)?;
            if args.len() < 2 {
                return Err(FuncError::Call("missing argument for comparison".into()));
            }
            for b in &args[1..] {
                if eq(&args[0], b)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" => {
            nargs(name, &args, 2)?;
            Ok(Value::Bool(!eq(&args[0], &args[1])?))
        }
        "lt" | "le" | "gt" | "ge" => {
            nargs(name, &args, 2)?;
            let lt = less(&args[0], &args[1])?;
            let r = match name {
                "lt" => lt,
                "le" => lt || eq(&args[0], &args[1])?,
                "gt" => !(lt || eq(&args[0], &args[1])?),
                _ => !lt,
            };
            Ok(Value::Bool(r))
        }
        "toUpper" => {
            nargs(name, &args, 1)?;
            Ok(s(string(&args[0])?.to_uppercase()))
        }
        "toLower" => {
            nargs(name, &args, 1)?;
            Ok(s(string(&args[0])?.to_lowercase()))
        }
        "title" => {
            nargs(name, &args, 1)?;
            Ok(s(title(string(&args[0])?)))
        }
        "trimSpace" => {
            nargs(name, &args, 1)?;
            Ok(s(
                string(&args[0])?.trim_matches(|c: char| c.is_whitespace())
            ))
        }
        "join" => {
            nargs(name, &args, 2)?;
            let sep = string(&args[0])?;
            let Some(list) = args[1].string_list() else {
                return Err(wrong_type("[]string", &args[1]));
            };
            Ok(s(list.join(sep)))
        }
        "match" => {
            nargs(name, &args, 2)?;
            let re =
                regex::Regex::new(string(&args[0])?).map_err(|e| FuncError::Call(regex_err(&e)))?;
            Ok(Value::Bool(re.is_match(string(&args[1])?)))
        }
        "reReplaceAll" => {
            nargs(name, &args, 3)?;
            let pat = string(&args[0])?;
            let re = regex::Regex::new(pat).map_err(|e| {
                FuncError::Call(format!(
                    "regexp: Compile({}): {}",
                    crate::fmt::go_quote(pat, false),
                    regex_err(&e)
                ))
            })?;
            Ok(s(re.replace_all(string(&args[2])?, string(&args[1])?)))
        }
        "safeHtml" => {
            nargs(name, &args, 1)?;
            Ok(Value::Typed("template.HTML", Rc::from(string(&args[0])?)))
        }
        "safeUrl" => {
            nargs(name, &args, 1)?;
            Ok(Value::Typed("template.URL", Rc::from(string(&args[0])?)))
        }
        "urlUnescape" => {
            nargs(name, &args, 1)?;
            query_unescape(string(&args[0])?)
                .map(s)
                .map_err(FuncError::Call)
        }
        "stringSlice" => {
            let mut v = Vec::with_capacity(args.len());
            for a in &args {
                v.push(string(a)?.to_string());
            }
            Ok(Value::Strings(Rc::new(v)))
        }
        "date" => {
            nargs(name, &args, 2)?;
            Ok(s(time(&args[1])?.format(string(&args[0])?)))
        }
        "tz" => {
            nargs(name, &args, 2)?;
            let zone = gotime::load_location(string(&args[0])?).map_err(FuncError::Call)?;
            Ok(Value::Time(zone.convert(&time(&args[1])?)))
        }
        "now" => {
            nargs(name, &args, 0)?;
            Ok(Value::Time(GoTime::from(now())))
        }
        "since" => {
            nargs(name, &args, 1)?;
            let t = time(&args[0])?;
            let d = now()
                .signed_duration_since(t.t)
                .num_nanoseconds()
                .unwrap_or(i64::MAX);
            Ok(Value::Duration(d))
        }
        "humanizeDuration" => {
            nargs(name, &args, 1)?;
            let v = match &args[0] {
                Value::Float(f) => *f,
                Value::Int(i) => *i as f64,
                Value::Duration(d) => *d as f64 / 1e9,
                Value::Str(st) => parse_go_float(st).ok_or_else(|| {
                    FuncError::Call(format!(
                        "strconv.ParseFloat: parsing {}: invalid syntax",
                        crate::fmt::go_quote(st, false)
                    ))
                })?,
                Value::Missing | Value::Nil => {
                    return Err(FuncError::Call("can't convert <nil> to float".into()));
                }
                other => {
                    return Err(FuncError::Call(format!(
                        "can't convert {} to float",
                        other.type_name()
                    )));
                }
            };
            Ok(s(humanize_duration(v)))
        }
        "toDate" => {
            nargs(name, &args, 2)?;
            let t = gotime::parse(string(&args[0])?, string(&args[1])?)
                .unwrap_or_else(|_| GoTime::from(crate::data::go_zero_time()));
            Ok(Value::Time(t))
        }
        "mustToDate" => {
            nargs(name, &args, 2)?;
            gotime::parse(string(&args[0])?, string(&args[1])?)
                .map(Value::Time)
                .map_err(FuncError::Call)
        }
        "toJson" => {
            nargs(name, &args, 1)?;
            let mut out = String::new();
            to_json(&args[0], &mut out);
            Ok(s(out))
        }
        "list" => Ok(Value::List(Rc::new(args))),
        "append" => {
            min_args(name, &args, 1)?;
            let Value::List(l) = &args[0] else {
                return Err(wrong_type("[]interface {}", &args[0]));
            };
            let mut v = l.as_ref().clone();
            v.extend(args[1..].iter().cloned());
            Ok(Value::List(Rc::new(v)))
        }
        "dict" => {
            if !args.len().is_multiple_of(2) {
                return Err(FuncError::Call(
                    "dict requires an even number of arguments".into(),
                ));
            }
            let mut m = BTreeMap::new();
            for kv in args.chunks(2) {
                let Value::Str(k) = &kv[0] else {
                    return Err(FuncError::Call("dict keys must be strings".into()));
                };
                m.insert(k.to_string(), kv[1].clone());
            }
            Ok(Value::Map(Rc::new(m)))
        }
        _ => Err(FuncError::Plain(format!(
            "{name:?} is not a defined function"
        ))),
    }
}

fn now() -> DateTime<FixedOffset> {
    Utc::now().fixed_offset()
}

fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.replace('_', "");
    match t.as_str() {
        "Inf" | "+Inf" | "inf" | "+inf" | "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-Inf" | "-inf" | "-Infinity" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ if t.contains(|c: char| c.is_ascii_alphabetic() && !matches!(c, 'e' | 'E')) => None,
        _ => t.parse().ok(),
    }
}

fn regex_err(e: &regex::Error) -> String {
    let s = e.to_string();
    format!(
        "error parsing regexp: {}",
        s.lines()
            .last()
            .unwrap_or(&s)
            .trim()
            .trim_start_matches("error: ")
    )
}

/// Methods of time.Time used in templates.
pub(crate) fn time_method<'d>(
    t: &GoTime,
    name: &str,
    args: &[Value<'d>],
) -> Option<Result<Value<'d>, String>> {
    use chrono::{Datelike, Timelike};
    let want = |n: usize| -> Result<(), String> {
        if args.len() != n {
            Err(format!(
                "wrong number of args for {name}: want {n} got {}",
                args.len()
            ))
        } else {
            Ok(())
        }
    };
    let r = (|| -> Result<Value<'d>, String> {
        Ok(match name {
            "Format" => {
                want(1)?;
                let Value::Str(l) = &args[0] else {
                    return Err(format!(
                        "wrong type for value; expected string; got {}",
                        args[0].type_name()
                    ));
                };
                s(t.format(l))
            }
            "String" => {
                want(0)?;
                s(t.go_string())
            }
            "Unix" => {
                want(0)?;
                Value::Int(t.t.timestamp())
            }
            "UnixMilli" => {
                want(0)?;
                Value::Int(t.t.timestamp_millis())
            }
            "UnixNano" => {
                want(0)?;
                Value::Int(t.t.timestamp_nanos_opt().unwrap_or(0))
            }
            "UTC" | "Local" => {
                want(0)?;
                Value::Time(t.utc())
            }
            "IsZero" => {
                want(0)?;
                Value::Bool(t.is_zero())
            }
            "Month" => {
                want(0)?;
                Value::Month(t.t.month() as i64)
            }
            "Weekday" => {
                want(0)?;
                Value::Weekday(t.t.weekday().num_days_from_sunday() as i64)
            }
            "Year" => {
                want(0)?;
                Value::Int(t.t.year() as i64)
            }
            "YearDay" => {
                want(0)?;
                Value::Int(t.t.ordinal() as i64)
            }
            "Day" => {
                want(0)?;
                Value::Int(t.t.day() as i64)
            }
            "Hour" => {
                want(0)?;
                Value::Int(t.t.hour() as i64)
            }
            "Minute" => {
                want(0)?;
                Value::Int(t.t.minute() as i64)
            }
            "Second" => {
                want(0)?;
                Value::Int(t.t.second() as i64)
            }
            "Nanosecond" => {
                want(0)?;
                Value::Int(t.t.nanosecond() as i64)
            }
            "Add" => {
                want(1)?;
                let d = match &args[0] {
                    Value::Duration(d) | Value::Int(d) => *d,
                    Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => *f as i64,
                    v => {
                        return Err(format!(
                            "wrong type for value; expected time.Duration; got {}",
                            v.type_name()
                        ));
                    }
                };
                let t2 =
                    t.t.checked_add_signed(chrono::Duration::nanoseconds(d))
                        .ok_or("time out of range")?;
                Value::Time(GoTime {
                    t: t2,
                    zone: t.zone.clone(),
                })
            }
            "Sub" => {
                want(1)?;
                let Value::Time(u) = &args[0] else {
                    return Err(format!(
                        "wrong type for value; expected time.Time; got {}",
                        args[0].type_name()
                    ));
                };
                Value::Duration(
                    t.t.signed_duration_since(u.t)
                        .num_nanoseconds()
                        .unwrap_or(i64::MAX),
                )
            }
            "Before" | "After" | "Equal" => {
                want(1)?;
                let Value::Time(u) = &args[0] else {
                    return Err(format!(
                        "wrong type for value; expected time.Time; got {}",
                        args[0].type_name()
                    ));
                };
                Value::Bool(match name {
                    "Before" => t.t < u.t,
                    "After" => t.t > u.t,
                    _ => t.t == u.t,
                })
            }
            _ => return Err(String::new()),
        })
    })();
    match r {
        Err(e) if e.is_empty() => None,
        r => Some(r),
    }
}

/// Methods of time.Duration used in templates.
pub(crate) fn duration_method<'d>(
    d: i64,
    name: &str,
    args: &[Value<'d>],
) -> Option<Result<Value<'d>, String>> {
    if !args.is_empty()
        && matches!(
            name,
            "Hours" | "Minutes" | "Seconds" | "Milliseconds" | "String"
        )
    {
        return Some(Err(format!(
            "wrong number of args for {name}: want 0 got {}",
            args.len()
        )));
    }
    Some(Ok(match name {
        "Hours" => Value::Float(d as f64 / 3.6e12),
        "Minutes" => Value::Float(d as f64 / 6e10),
        "Seconds" => Value::Float(d as f64 / 1e9),
        "Milliseconds" => Value::Int(d / 1_000_000),
        "String" => s(duration_string(d)),
        _ => return None,
    }))
}

#[derive(PartialEq, Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
    Other,
}

fn kind(v: &Value<'_>) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Duration(_) | Value::Month(_) | Value::Weekday(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) | Value::Typed(..) => Kind::Str,
        _ => Kind::Other,
    }
}

fn int_of(v: &Value<'_>) -> i64 {
    match v {
        Value::Int(i) | Value::Duration(i) | Value::Month(i) | Value::Weekday(i) => *i,
        _ => 0,
    }
}

fn eq(a: &Value<'_>, b: &Value<'_>) -> Result<bool, FuncError> {
    let (ka, kb) = (kind(a), kind(b));
    let invalid = |v: &Value<'_>| matches!(v, Value::Missing);
    if ka != kb {
        if !(invalid(a) || invalid(b) || matches!(a, Value::Nil) || matches!(b, Value::Nil)) {
            return Err(FuncError::Call("incompatible types for comparison".into()));
        }
        if matches!(a, Value::Nil) || matches!(b, Value::Nil) {
            let nil_like = |v: &Value<'_>| matches!(v, Value::Nil | Value::Missing);
            if !nil_like(a) && !nil_like(b) && ka != Kind::Other && kb != Kind::Other {
                return Err(FuncError::Call("incompatible types for comparison".into()));
            }
            return Ok(nil_like(a) && nil_like(b));
        }
        return Ok(false);
    }
    Ok(match ka {
        Kind::Bool => matches!((a, b), (Value::Bool(x), Value::Bool(y)) if x == y),
        Kind::Int => int_of(a) == int_of(b),
        Kind::Float => matches!((a, b), (Value::Float(x), Value::Float(y)) if x == y),
        Kind::Str => a.as_str() == b.as_str(),
        Kind::Other => match (a, b) {
            (Value::Missing | Value::Nil, Value::Missing | Value::Nil) => true,
            (Value::Time(x), Value::Time(y)) => x.t == y.t && x.t.offset() == y.t.offset(),
            (Value::Pair(x), Value::Pair(y)) => x == y,
            (Value::Alert(x), Value::Alert(y)) => x == y,
            (Value::Data(x), Value::Data(y)) => std::ptr::eq(*x, *y),
            _ => {
                if matches!(a, Value::Missing | Value::Nil)
                    || matches!(b, Value::Missing | Value::Nil)
                {
                    return Ok(false);
                }
                return Err(FuncError::Call(format!(
                    "non-comparable type {}: {}",
                    print_v(a),
                    a.type_name()
                )));
            }
        },
    })
}

fn less(a: &Value<'_>, b: &Value<'_>) -> Result<bool, FuncError> {
    let (ka, kb) = (kind(a), kind(b));
    if matches!(ka, Kind::Other | Kind::Bool) || matches!(kb, Kind::Other | Kind::Bool) {
        return Err(FuncError::Call("invalid type for comparison".into()));
    }
    if ka != kb {
        return Err(FuncError::Call("incompatible types for comparison".into()));
    }
    Ok(match ka {
        Kind::Int => int_of(a) < int_of(b),
        Kind::Float => matches!((a, b), (Value::Float(x), Value::Float(y)) if x < y),
        _ => a.as_str() < b.as_str(),
    })
}

fn index_arg(v: &Value<'_>, cap: usize) -> Result<usize, FuncError> {
    let x = match v {
        Value::Int(i) => *i,
        Value::Missing | Value::Nil => {
            return Err(FuncError::Call("cannot index slice/array with nil".into()));
        }
        other => {
            return Err(FuncError::Call(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            )));
        }
    };
    if x < 0 || x as usize > cap {
        return Err(FuncError::Call(format!("index out of range: {x}")));
    }
    Ok(x as usize)
}

fn index<'d>(item: &Value<'d>, idx: &[Value<'d>]) -> R<'d> {
    let mut item = item.clone();
    if matches!(item, Value::Missing | Value::Nil) {
        return Err(FuncError::Call("index of untyped nil".into()));
    }
    for i in idx {
        item = match &item {
            Value::Str(st) | Value::Typed(_, st) => {
                let x = index_arg(i, st.len())?;
                match st.as_bytes().get(x) {
                    Some(b) => Value::Int(*b as i64),
                    None => {
                        return Err(FuncError::Call("reflect: string index out of range".into()));
                    }
                }
            }
            Value::Kv(m) => {
                let Value::Str(k) = i else {
                    return Err(FuncError::Call(format!(
                        "value has type {}; should be string",
                        i.type_name()
                    )));
                };
                Value::str(m.get(&**k).map_or("", String::as_str))
            }
            Value::Map(m) => {
                let Value::Str(k) = i else {
                    return Err(FuncError::Call(format!(
                        "value has type {}; should be string",
                        i.type_name()
                    )));
                };
                m.get(&**k).cloned().unwrap_or(Value::Missing)
            }
            other => match other.elems() {
                Some(es) => {
                    let x = index_arg(i, es.len())?;
                    match es.get(x) {
                        Some(Value::Nil) => Value::Missing,
                        Some(e) => e.clone(),
                        None => {
                            return Err(FuncError::Call(
                                "reflect: slice index out of range".into(),
                            ));
                        }
                    }
                }
                None => {
                    return Err(FuncError::Call(format!(
                        "can't index item of type {}",
                        other.type_name()
                    )));
                }
            },
        };
    }
    Ok(item)
}

fn slice<'d>(item: &Value<'d>, idx: &[Value<'d>]) -> R<'d> {
    if matches!(item, Value::Missing | Value::Nil) {
        return Err(FuncError::Call("slice of untyped nil".into()));
    }
    if idx.len() > 3 {
        return Err(FuncError::Call(format!(
            "too many slice indexes: {}",
            idx.len()
        )));
    }
    let (len, is_str) = match item {
        Value::Str(st) => (st.len(), true),
        other => match other.elems() {
            Some(es) => (es.len(), false),
            None => {
                return Err(FuncError::Call(format!(
                    "can't slice item of type {}",
                    other.type_name()
                )));
            }
        },
    };
    if is_str && idx.len() == 3 {
        return Err(FuncError::Call("cannot 3-index slice a string".into()));
    }
    let mut b = [0usize, len, len];
    for (k, i) in idx.iter().enumerate() {
        b[k] = index_arg(i, len)?;
    }
    if b[0] > b[1] {
        return Err(FuncError::Call(format!(
            "invalid slice index: {} > {}",
            b[0], b[1]
        )));
    }
    if idx.len() == 3 && b[1] > b[2] {
        return Err(FuncError::Call(format!(
            "invalid slice index: {} > {}",
            b[1], b[2]
        )));
    }
    Ok(match item {
        Value::Str(st) => s(String::from_utf8_lossy(&st.as_bytes()[b[0]..b[1]])),
        Value::Strings(l) => Value::Strings(Rc::new(l[b[0]..b[1]].to_vec())),
        Value::Pairs(l) => Value::Pairs(Rc::new(l[b[0]..b[1]].to_vec())),
        Value::Alerts(a) => Value::Alerts(&a[b[0]..b[1]]),
        Value::AlertList(a) => Value::AlertList(Rc::new(a[b[0]..b[1]].to_vec())),
        other => Value::List(Rc::new(
            other.elems().unwrap_or_default()[b[0]..b[1]].to_vec(),
        )),
    })
}

/// Go's template.HTMLEscapeString.
pub(crate) fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => o.push_str("&#34;"),
            '\'' => o.push_str("&#39;"),
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\0' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// Go's template.JSEscapeString (Go 1.19).
pub(crate) fn js_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\'' => o.push_str("\\'"),
            '"' => o.push_str("\\\""),
            '<' => o.push_str("\\u003C"),
            '>' => o.push_str("\\u003E"),
            '&' => o.push_str("\\u0026"),
            '=' => o.push_str("\\u003D"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_ascii() => o.push(c),
            c if c.is_control() => o.push_str(&format!("\\u{:04X}", c as u32)),
            c => o.push(c),
        }
    }
    o
}

/// Go's url.QueryEscape.
pub(crate) fn query_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b' ' => o.push('+'),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

/// Go's url.QueryUnescape.
fn query_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = b
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                let Some(h) = h else {
                    let end = (i + 3).min(b.len());
                    return Err(format!(
                        "invalid URL escape {}",
                        crate::fmt::go_quote(&String::from_utf8_lossy(&b[i..end]), false)
                    ));
                };
                out.push(
                    u8::from_str_radix(std::str::from_utf8(h).unwrap_or("00"), 16).unwrap_or(0),
                );
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// golang.org/x/text/cases.Title(language.AmericanEnglish): the first letter of each
/// word upper-cased, the rest lower-cased.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    let mut cased = false;
    let cs: Vec<char> = s.chars().collect();
    for (i, &c) in cs.iter().enumerate() {
        let word_char = c.is_alphanumeric() || c == '_';
        let mid = matches!(c, '\'' | '.' | ':' | '\u{2019}')
            && in_word
            && cs.get(i + 1).is_some_and(|n| n.is_alphabetic());
        if !(word_char || mid) {
            in_word = false;
            cased = false;
            out.push(c);
            continue;
        }
        in_word = true;
        if c.is_alphabetic() {
            if cased {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
                cased = true;
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_float(f: f64) -> String {
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let sh = format!("{f:e}");
        let (m, e) = sh.split_once('e').unwrap_or((&sh, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        return if e < 0 {
            format!("{m}e-{}", -e)
        } else {
            format!("{m}e+{e:02}")
        };
    }
    format!("{f}")
}

fn kv_json(m: &crate::data::Kv, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(k, out);
        out.push(':');
        json_str(v, out);
    }
    out.push('}');
}

fn time_json(t: &DateTime<FixedOffset>) -> String {
    let g = GoTime::from(*t);
    format!("\"{}\"", g.format("2006-01-02T15:04:05.999999999Z07:00"))
}

/// Go's encoding/json.Marshal of a value.
pub(crate) fn to_json(v: &Value<'_>, out: &mut String) {
    if out.len() > crate::fmt::cap() {
        return;
    }
    match v {
        Value::Missing | Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Duration(i) | Value::Month(i) | Value::Weekday(i) => {
            out.push_str(&i.to_string())
        }
        Value::Float(f) => out.push_str(&json_float(*f)),
        Value::Str(st) | Value::Typed(_, st) => json_str(st, out),
        Value::Time(t) => out.push_str(&format!(
            "\"{}\"",
            t.format("2006-01-02T15:04:05.999999999Z07:00")
        )),
        Value::Kv(m) => kv_json(m, out),
        Value::Map(m) => {
            out.push('{');
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(k, out);
                out.push(':');
                to_json(e, out);
            }
            out.push('}');
        }
        Value::Pair(p) => {
            out.push_str("{\"Name\":");
            json_str(&p.0, out);
            out.push_str(",\"Value\":");
            json_str(&p.1, out);
            out.push('}');
        }
        Value::Alert(a) => {
            out.push_str("{\"status\":");
            json_str(&a.status, out);
            out.push_str(",\"labels\":");
            kv_json(&a.labels, out);
            out.push_str(",\"annotations\":");
            kv_json(&a.annotations, out);
            out.push_str(&format!(
                ",\"startsAt\":{},\"endsAt\":{}",
                time_json(&a.starts_at),
                time_json(&a.ends_at)
            ));
            out.push_str(",\"generatorURL\":");
            json_str(&a.generator_url, out);
            out.push_str(",\"fingerprint\":");
            json_str(&a.fingerprint, out);
            out.push('}');
        }
        Value::Data(d) => {
            out.push_str("{\"receiver\":");
            json_str(&d.receiver, out);
            out.push_str(",\"status\":");
            json_str(&d.status, out);
            out.push_str(",\"alerts\":");
            to_json(&Value::Alerts(&d.alerts), out);
            out.push_str(",\"groupLabels\":");
            kv_json(&d.group_labels, out);
            out.push_str(",\"commonLabels\":");
            kv_json(&d.common_labels, out);
            out.push_str(",\"commonAnnotations\":");
            kv_json(&d.common_annotations, out);
            out.push_str(",\"externalURL\":");
            json_str(&d.external_url, out);
            out.push('}');
        }
        other => {
            out.push('[');
            for (i, e) in other.elems().unwrap_or_default().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                to_json(e, out);
            }
            out.push(']');
        }
    }
}
