//! Run-time values: Go's kinds plus Alertmanager's types.

use crate::data::{AlertData, Data, Kv};
use crate::gotime::GoTime;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Borrowed from the caller's data or created during execution.
#[derive(Clone, Debug)]
pub(crate) enum Sh<'a, T: ?Sized> {
    B(&'a T),
    O(Rc<T>),
}

impl<T: ?Sized> std::ops::Deref for Sh<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            Sh::B(r) => r,
            Sh::O(r) => r,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Value<'a> {
    /// Go's invalid reflect.Value: prints `<no value>`.
    Missing,
    /// A nil interface: prints `<nil>`.
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    /// html/template.HTML (safeHtml) and URL (safeUrl): string kinds with a type name.
    Typed(&'static str, Rc<str>),
    /// `[]interface {}`
    List(Rc<Vec<Value<'a>>>),
    /// `[]string`
    Strings(Rc<Vec<String>>),
    /// `map[string]interface {}`
    Map(Rc<BTreeMap<String, Value<'a>>>),
    Kv(Sh<'a, Kv>),
    Pairs(Rc<Vec<(String, String)>>),
    Pair(Rc<(String, String)>),
    Data(&'a Data),
    /// template.Alerts (has Firing/Resolved)
    Alerts(&'a [AlertData]),
    /// []template.Alert
    AlertList(Rc<Vec<&'a AlertData>>),
    Alert(&'a AlertData),
    Time(GoTime),
    /// time.Duration in nanoseconds
    Duration(i64),
    /// time.Month (1-12) and time.Weekday (0-6): ints that print as names.
    Month(i64),
    Weekday(i64),
}

impl<'a> Value<'a> {
    pub(crate) fn str(s: &str) -> Value<'a> {
        Value::Str(Rc::from(s))
    }

    /// Go's type name, as `%T` and error messages print it.
    pub(crate) fn type_name(&self) -> String {
        match self {
            Value::Missing | Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::Typed(t, _) => (*t).into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Strings(_) => "[]string".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::Kv(_) => "template.KV".into(),
            Value::Pairs(_) => "template.Pairs".into(),
            Value::Pair(_) => "template.Pair".into(),
            Value::Data(_) => "*template.Data".into(),
            Value::Alerts(_) => "template.Alerts".into(),
            Value::AlertList(_) => "[]template.Alert".into(),
            Value::Alert(_) => "template.Alert".into(),
            Value::Time(_) => "time.Time".into(),
            Value::Duration(_) => "time.Duration".into(),
            Value::Month(_) => "time.Month".into(),
            Value::Weekday(_) => "time.Weekday".into(),
        }
    }

    /// Go's `reflect.Kind` as a word (for comparisons).
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Typed(_, s) => Some(s),
            _ => None,
        }
    }

    /// text/template's truth.
    pub(crate) fn truth(&self) -> bool {
        match self {
            Value::Missing | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) | Value::Typed(_, s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Strings(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Kv(m) => !m.is_empty(),
            Value::Pairs(p) => !p.is_empty(),
            Value::Alerts(a) => !a.is_empty(),
            Value::AlertList(a) => !a.is_empty(),
            Value::Duration(d) | Value::Month(d) | Value::Weekday(d) => *d != 0,
            Value::Pair(_) | Value::Data(_) | Value::Alert(_) | Value::Time(_) => true,
        }
    }

    pub(crate) fn len(&self) -> Option<usize> {
        Some(match self {
            Value::Str(s) | Value::Typed(_, s) => s.len(),
            Value::List(l) => l.len(),
            Value::Strings(l) => l.len(),
            Value::Map(m) => m.len(),
            Value::Kv(m) => m.len(),
            Value::Pairs(p) => p.len(),
            Value::Alerts(a) => a.len(),
            Value::AlertList(a) => a.len(),
            _ => return None,
        })
    }

    /// Elements of a list-like value.
    pub(crate) fn elems(&self) -> Option<Vec<Value<'a>>> {
        Some(match self {
            Value::List(l) => l.as_ref().clone(),
            Value::Strings(l) => l.iter().map(|s| Value::str(s)).collect(),
            Value::Pairs(p) => p.iter().map(|p| Value::Pair(Rc::new(p.clone()))).collect(),
            Value::Alerts(a) => a.iter().map(Value::Alert).collect(),
            Value::AlertList(a) => a.iter().map(|a| Value::Alert(a)).collect(),
            _ => return None,
        })
    }

    /// Sorted (key, value) entries of a map-like value.
    pub(crate) fn entries(&self) -> Option<Vec<(String, Value<'a>)>> {
        Some(match self {
            Value::Map(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Value::Kv(m) => m.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect(),
            _ => return None,
        })
    }

    /// The String() of a Stringer int (Duration, Month, Weekday).
    pub(crate) fn stringer(&self) -> Option<String> {
        Some(match self {
            Value::Duration(d) => crate::gotime::duration_string(*d),
            Value::Month(m) => crate::gotime::month_name(*m),
            Value::Weekday(d) => crate::gotime::weekday_name(*d),
            _ => return None,
        })
    }

    /// Go struct fields in order (for printing).
    pub(crate) fn struct_fields(&self) -> Option<Vec<(&'static str, Value<'a>)>> {
        Some(match self {
            Value::Pair(p) => vec![("Name", Value::str(&p.0)), ("Value", Value::str(&p.1))],
            Value::Alert(a) => vec![
                ("Status", Value::str(&a.status)),
                ("Labels", Value::Kv(Sh::B(&a.labels))),
                ("Annotations", Value::Kv(Sh::B(&a.annotations))),
                ("StartsAt", Value::Time(GoTime::from(a.starts_at))),
                ("EndsAt", Value::Time(GoTime::from(a.ends_at))),
                ("GeneratorURL", Value::str(&a.generator_url)),
                ("Fingerprint", Value::str(&a.fingerprint)),
            ],
            Value::Data(d) => vec![
                ("Receiver", Value::str(&d.receiver)),
                ("Status", Value::str(&d.status)),
                ("Alerts", Value::Alerts(&d.alerts)),
                ("GroupLabels", Value::Kv(Sh::B(&d.group_labels))),
                ("CommonLabels", Value::Kv(Sh::B(&d.common_labels))),
                ("CommonAnnotations", Value::Kv(Sh::B(&d.common_annotations))),
                ("ExternalURL", Value::str(&d.external_url)),
            ],
            _ => return None,
        })
    }

    /// Strings from a `[]string`-like value (KV.Remove's argument, join's list).
    pub(crate) fn string_list(&self) -> Option<Vec<String>> {
        match self {
            Value::Strings(l) => Some(l.as_ref().clone()),
            _ => None,
        }
    }
}

/// Alertmanager's `KV.SortedPairs`: `alertname` first, the rest sorted.
pub(crate) fn sorted_pairs(kv: &Kv) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(kv.len());
    if let Some(v) = kv.get("alertname") {
        out.push(("alertname".to_string(), v.clone()));
    }
    for (k, v) in kv {
        if k != "alertname" {
            out.push((k.clone(), v.clone()));
        }
    }
    out
}
