//! Execution: walks a parsed tree over a value, Go text/template semantics
//! (with Alertmanager's `missingkey=zero`), bounded by [`Limits`].

use crate::data::Data;
use crate::funcs::{self, FuncError};
use crate::gotime::GoTime;
use crate::parse::{Arg, Cmd, Lit, Node, Pipe, Tree};
use crate::value::{Sh, Value, sorted_pairs};
use crate::{Error, Limits};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

pub(crate) type Defs = BTreeMap<String, Arc<Tree>>;

pub(crate) struct Exec<'a> {
    pub(crate) local: &'a Defs,
    pub(crate) lib: &'a Defs,
    pub(crate) limits: &'a Limits,
    pub(crate) out: String,
    steps: u64,
    depth: usize,
    tree: &'a Tree,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

type Vars<'d> = Vec<(String, Value<'d>)>;

/// Position of the failing node in the current tree.
pub(crate) fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(src.len());
    let before = &src[..pos];
    let line = before.matches('\n').count() + 1;
    let col = match before.rfind('\n') {
        Some(i) => before[i + 1..].chars().count() + 1,
        None => before.chars().count() + 1,
    };
    (line, col)
}

pub(crate) fn error_at(tree: &Tree, pos: usize, message: String) -> Error {
    let (line, column) = line_col(&tree.src, pos);
    Error {
        name: tree.file.to_string(),
        line,
        column,
        message,
    }
}

impl<'a> Exec<'a> {
    pub(crate) fn new(local: &'a Defs, lib: &'a Defs, limits: &'a Limits, tree: &'a Tree) -> Self {
        Exec {
            local,
            lib,
            limits,
            out: String::new(),
            steps: 0,
            depth: 0,
            tree,
        }
    }

    fn err(&self, pos: usize, at: &str, msg: impl std::fmt::Display) -> Error {
        error_at(
            self.tree,
            pos,
            format!("executing {:?} at <{}>: {}", self.tree.name, at, msg),
        )
    }

    fn step(&mut self, pos: usize, at: &str) -> Result<(), Error> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return Err(self.err(
                pos,
                at,
                format!("exceeded {} evaluation steps", self.limits.max_steps),
            ));
        }
        Ok(())
    }

    fn write(&mut self, s: &str, pos: usize, at: &str) -> Result<(), Error> {
        if self.out.len() + s.len() > self.limits.max_output_bytes {
            return Err(self.err(
                pos,
                at,
                format!("output exceeds {} bytes", self.limits.max_output_bytes),
            ));
        }
        self.out.push_str(s);
        Ok(())
    }

    pub(crate) fn run<'d>(&mut self, data: &'d Data) -> Result<(), Error> {
        let dot = Value::Data(data);
        let mut vars: Vars<'d> = vec![("$".into(), dot.clone())];
        let tree = self.tree;
        let saved = crate::fmt::set_cap(self.limits.max_output_bytes);
        let r = self.walk_list(&dot, &tree.list, &mut vars);
        crate::fmt::set_cap(saved);
        r.map(|_| ())
    }

    fn walk_list<'d>(
        &mut self,
        dot: &Value<'d>,
        list: &'a [Node],
        vars: &mut Vars<'d>,
    ) -> Result<Flow, Error> {
        for n in list {
            match self.walk(dot, n, vars)? {
                Flow::Normal => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk<'d>(
        &mut self,
        dot: &Value<'d>,
        node: &'a Node,
        vars: &mut Vars<'d>,
    ) -> Result<Flow, Error> {
        match node {
            Node::Text(t) => {
                self.step(0, "text")?;
                if self.out.len() + t.len() > self.limits.max_output_bytes {
                    return Err(error_at(
                        self.tree,
                        0,
                        format!(
                            "executing {:?}: output exceeds {} bytes",
                            self.tree.name, self.limits.max_output_bytes
                        ),
                    ));
                }
                self.out.push_str(t);
            }
            Node::Action { pos, pipe } => {
                self.step(*pos, "action")?;
                let v = self.eval_pipeline(dot, pipe, vars)?;
                if pipe.decl.is_empty() {
                    let s = crate::fmt::print_v(&v);
                    self.write(&s, *pos, &pipe.show())?;
                }
            }
            Node::If {
                pos,
                pipe,
                list,
                else_list,
            }
            | Node::With {
                pos,
                pipe,
                list,
                else_list,
            } => {
                self.step(*pos, "if")?;
                let mark = vars.len();
                let v = self.eval_pipeline(dot, pipe, vars)?;
                let is_with = matches!(node, Node::With { .. });
                let r = if v.truth() {
                    if is_with {
                        self.walk_list(&v, list, vars)?
                    } else {
                        self.walk_list(dot, list, vars)?
                    }
                } else if let Some(el) = else_list {
                    self.walk_list(dot, el, vars)?
                } else {
                    Flow::Normal
                };
                vars.truncate(mark);
                return Ok(r);
            }
            Node::Range {
                pos,
                pipe,
                list,
                else_list,
            } => {
                self.step(*pos, "range")?;
                return self.walk_range(dot, *pos, pipe, list, else_list.as_deref(), vars);
            }
            Node::Template { pos, name, pipe } => {
                self.step(*pos, "template")?;
                let at = format!(
                    "{{{{template {:?}{}}}}}",
                    name,
                    pipe.as_ref()
                        .map(|p| format!(" {}", p.show()))
                        .unwrap_or_default()
                );
                let Some(t) = self.local.get(name).or_else(|| self.lib.get(name)) else {
                    return Err(self.err(*pos, &at, format!("template {name:?} not defined")));
                };
                if self.depth >= self.limits.max_depth {
                    return Err(self.err(
                        *pos,
                        &at,
                        format!(
                            "exceeded maximum template depth ({})",
                            self.limits.max_depth
                        ),
                    ));
                }
                let new_dot = match pipe {
                    Some(p) => self.eval_pipeline(dot, p, vars)?,
                    None => Value::Missing,
                };
                let mut new_vars: Vars<'d> = vec![("$".into(), new_dot.clone())];
                let saved = self.tree;
                self.tree = t;
                self.depth += 1;
                let r = self.walk_list(&new_dot, &t.list, &mut new_vars);
                self.depth -= 1;
                self.tree = saved;
                r?;
            }
            Node::Break(pos) => {
                self.step(*pos, "break")?;
                return Ok(Flow::Break);
            }
            Node::Continue(pos) => {
                self.step(*pos, "continue")?;
                return Ok(Flow::Continue);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk_range<'d>(
        &mut self,
        dot: &Value<'d>,
        pos: usize,
        pipe: &'a Pipe,
        list: &'a [Node],
        else_list: Option<&'a [Node]>,
        vars: &mut Vars<'d>,
    ) -> Result<Flow, Error> {
        let mark = vars.len();
        let v = self.eval_pipeline_nodecl(dot, pipe, vars)?;
        enum Items<'d> {
            Ints(i64),
            List(Vec<Value<'d>>),
            Map(Vec<(String, Value<'d>)>),
        }
        let items = match &v {
            Value::Missing | Value::Nil => Items::List(Vec::new()),
            Value::Int(n) => {
                if pipe.decl.len() > 1 {
                    return Err(self.err(
                        pos,
                        &pipe.show(),
                        format!("can't use {n} to iterate over more than one variable"),
                    ));
                }
                Items::Ints((*n).max(0))
            }
            other => {
                if let Some(es) = other.elems() {
                    Items::List(es)
                } else if let Some(es) = other.entries() {
                    Items::Map(es)
                } else {
                    return Err(self.err(
                        pipe.pos,
                        &pipe.show(),
                        format!("range can't iterate over {}", crate::fmt::print_v(other)),
                    ));
                }
            }
        };
        let len = match &items {
            Items::Ints(n) => *n as usize,
            Items::List(l) => l.len(),
            Items::Map(m) => m.len(),
        };
        if len == 0 {
            let r = match else_list {
                Some(el) => self.walk_list(dot, el, vars)?,
                None => Flow::Normal,
            };
            vars.truncate(mark);
            return Ok(match r {
                Flow::Normal => Flow::Normal,
                f => f,
            });
        }
        for i in 0..len {
            let (k, e) = match &items {
                Items::Ints(_) => (Value::Int(i as i64), Value::Int(i as i64)),
                Items::List(l) => (Value::Int(i as i64), l[i].clone()),
                Items::Map(m) => (Value::Str(Rc::from(m[i].0.as_str())), m[i].1.clone()),
            };
            self.step(pos, "range")?;
            let inner = vars.len();
            match pipe.decl.len() {
                0 => {}
                1 => vars.push((pipe.decl[0].clone(), e.clone())),
                _ => {
                    vars.push((pipe.decl[0].clone(), k));
                    vars.push((pipe.decl[1].clone(), e.clone()));
                }
            }
            let f = self.walk_list(&e, list, vars)?;
            vars.truncate(inner);
            if let Flow::Break = f {
                break;
            }
        }
        vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn eval_pipeline_nodecl<'d>(
        &mut self,
        dot: &Value<'d>,
        pipe: &'a Pipe,
        vars: &mut Vars<'d>,
    ) -> Result<Value<'d>, Error> {
        let mut v: Option<Value<'d>> = None;
        for c in &pipe.cmds {
            v = Some(self.eval_command(dot, c, v, vars)?);
        }
        Ok(v.unwrap_or(Value::Missing))
    }

    fn eval_pipeline<'d>(
        &mut self,
        dot: &Value<'d>,
        pipe: &'a Pipe,
        vars: &mut Vars<'d>,
    ) -> Result<Value<'d>, Error> {
        let v = self.eval_pipeline_nodecl(dot, pipe, vars)?;
        for d in &pipe.decl {
            if pipe.is_assign {
                if let Some(slot) = vars.iter_mut().rev().find(|(n, _)| n == d) {
                    slot.1 = v.clone();
                }
            } else {
                vars.push((d.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn eval_command<'d>(
        &mut self,
        dot: &Value<'d>,
        cmd: &'a Cmd,
        fin: Option<Value<'d>>,
        vars: &mut Vars<'d>,
    ) -> Result<Value<'d>, Error> {
        let first = &cmd.args[0];
        self.step(first.pos(), &first.show())?;
        let rest = &cmd.args[1..];
        match first {
            Arg::Field { pos, names } => {
                self.eval_chain(dot, dot.clone(), *pos, first, names, rest, fin, vars)
            }
            Arg::Chain { pos, node, names } => {
                let recv = self.eval_arg(dot, node, vars)?;
                self.eval_chain(dot, recv, *pos, first, names, rest, fin, vars)
            }
            Arg::Ident(pos, name) => {
                let at = cmd.args.iter().map(Arg::show).collect::<Vec<_>>().join(" ");
                self.eval_function(dot, *pos, name, &at, rest, fin, vars)
            }
            Arg::Var { pos, name, names } => {
                let v = self.lookup(vars, name, *pos)?;
                if names.is_empty() {
                    self.not_a_function(cmd, &fin)?;
                    return Ok(v);
                }
                self.eval_chain(dot, v, *pos, first, names, rest, fin, vars)
            }
            Arg::Lit(pos, Lit::Nil, _) => Err(self.err(*pos, "nil", "nil is not a command")),
            _ => {
                self.not_a_function(cmd, &fin)?;
                self.eval_arg(dot, first, vars)
            }
        }
    }

    fn not_a_function(&self, cmd: &Cmd, fin: &Option<Value<'_>>) -> Result<(), Error> {
        if cmd.args.len() > 1 || fin.is_some() {
            let a = &cmd.args[0];
            return Err(self.err(
                a.pos(),
                &a.show(),
                format!("can't give argument to non-function {}", a.show()),
            ));
        }
        Ok(())
    }

    fn lookup<'d>(&self, vars: &Vars<'d>, name: &str, pos: usize) -> Result<Value<'d>, Error> {
        vars.iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.err(pos, name, format!("undefined variable: {name}")))
    }

    fn eval_arg<'d>(
        &mut self,
        dot: &Value<'d>,
        arg: &'a Arg,
        vars: &mut Vars<'d>,
    ) -> Result<Value<'d>, Error> {
        match arg {
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Lit(_, lit, _) => Ok(match lit {
                Lit::Nil => Value::Nil,
                Lit::Bool(b) => Value::Bool(*b),
                Lit::Int(i) => Value::Int(*i),
                Lit::Float(f) => Value::Float(*f),
                Lit::Str(s) => Value::Str(Rc::from(s.as_str())),
            }),
            Arg::Field { pos, names } => {
                self.eval_chain(dot, dot.clone(), *pos, arg, names, &[], None, vars)
            }
            Arg::Var { pos, name, names } => {
                let v = self.lookup(vars, name, *pos)?;
                if names.is_empty() {
                    return Ok(v);
                }
                self.eval_chain(dot, v, *pos, arg, names, &[], None, vars)
            }
            Arg::Pipe(_, p) => {
                let mark = vars.len();
                let v = self.eval_pipeline(dot, p, vars);
                vars.truncate(mark);
                v
            }
            Arg::Chain { pos, node, names } => {
                let recv = self.eval_arg(dot, node, vars)?;
                self.eval_chain(dot, recv, *pos, arg, names, &[], None, vars)
            }
            Arg::Ident(pos, name) => self.eval_function(dot, *pos, name, name, &[], None, vars),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_chain<'d>(
        &mut self,
        dot: &Value<'d>,
        mut recv: Value<'d>,
        pos: usize,
        node: &Arg,
        names: &[String],
        args: &'a [Arg],
        fin: Option<Value<'d>>,
        vars: &mut Vars<'d>,
    ) -> Result<Value<'d>, Error> {
        let n = names.len();
        for name in &names[..n - 1] {
            recv = self
                .field(recv, name, Vec::new(), false)
                .map_err(|m| self.err(pos, &node.show(), m))?;
        }
        let mut argv = Vec::with_capacity(args.len() + 1);
        for a in args {
            argv.push(self.eval_arg(dot, a, vars)?);
        }
        let has_args = !argv.is_empty() || fin.is_some();
        if let Some(f) = fin {
            argv.push(f);
        }
        self.field(recv, &names[n - 1], argv, has_args)
            .map_err(|m| self.err(pos, &node.show(), m))
    }

    /// Go's evalField on Alertmanager's types.
    fn field<'d>(
        &mut self,
        recv: Value<'d>,
        name: &str,
        args: Vec<Value<'d>>,
        has_args: bool,
    ) -> Result<Value<'d>, String> {
        let no_args = |v: Value<'d>| -> Result<Value<'d>, String> {
            if has_args {
                Err(format!(
                    "{name} has arguments but cannot be invoked as function"
                ))
            } else {
                Ok(v)
            }
        };
        let method0 = |v: Value<'d>| -> Result<Value<'d>, String> {
            if has_args {
                Err(format!(
                    "wrong number of args for {name}: want 0 got {}",
                    args.len()
                ))
            } else {
                Ok(v)
            }
        };
        let cant = |recv: &Value<'_>| {
            Err(format!(
                "can't evaluate field {name} in type {}",
                recv.type_name()
            ))
        };
        match &recv {
            Value::Missing | Value::Nil => Ok(Value::Missing),
            Value::Data(d) => match name {
                "Receiver" => no_args(Value::str(&d.receiver)),
                "Status" => no_args(Value::str(&d.status)),
                "Alerts" => no_args(Value::Alerts(&d.alerts)),
                "GroupLabels" => no_args(Value::Kv(Sh::B(&d.group_labels))),
                "CommonLabels" => no_args(Value::Kv(Sh::B(&d.common_labels))),
                "CommonAnnotations" => no_args(Value::Kv(Sh::B(&d.common_annotations))),
                "ExternalURL" => no_args(Value::str(&d.external_url)),
                _ => cant(&recv),
            },
            Value::Alert(a) => match name {
                "Status" => no_args(Value::str(&a.status)),
                "Labels" => no_args(Value::Kv(Sh::B(&a.labels))),
                "Annotations" => no_args(Value::Kv(Sh::B(&a.annotations))),
                "StartsAt" => no_args(Value::Time(GoTime::from(a.starts_at))),
                "EndsAt" => no_args(Value::Time(GoTime::from(a.ends_at))),
                "GeneratorURL" => no_args(Value::str(&a.generator_url)),
                "Fingerprint" => no_args(Value::str(&a.fingerprint)),
                _ => cant(&recv),
            },
            Value::Alerts(al) => match name {
                "Firing" | "Resolved" => {
                    let want = if name == "Firing" {
                        "firing"
                    } else {
                        "resolved"
                    };
                    method0(Value::AlertList(Rc::new(
                        al.iter().filter(|a| a.status == want).collect(),
                    )))
                }
                _ => cant(&recv),
            },
            Value::Kv(kv) => match name {
                "SortedPairs" => method0(Value::Pairs(Rc::new(sorted_pairs(kv)))),
                "Names" => method0(Value::Strings(Rc::new(
                    sorted_pairs(kv).into_iter().map(|p| p.0).collect(),
                ))),
                "Values" => method0(Value::Strings(Rc::new(
                    sorted_pairs(kv).into_iter().map(|p| p.1).collect(),
                ))),
                "Remove" => {
                    if args.len() != 1 {
                        return Err(format!(
                            "wrong number of args for Remove: want 1 got {}",
                            args.len()
                        ));
                    }
                    let Some(keys) = args[0].string_list() else {
                        return Err(format!(
                            "wrong type for value; expected []string; got {}",
                            args[0].type_name()
                        ));
                    };
                    let mut m = (**kv).clone();
                    for k in keys {
                        m.remove(&k);
                    }
                    Ok(Value::Kv(Sh::O(Rc::new(m))))
                }
                _ => {
                    if has_args {
                        return Err(format!("{name} is not a method but has arguments"));
                    }
                    Ok(Value::str(kv.get(name).map_or("", String::as_str)))
                }
            },
            Value::Map(m) => {
                if has_args {
                    return Err(format!("{name} is not a method but has arguments"));
                }
                Ok(m.get(name).cloned().unwrap_or(Value::Missing))
            }
            Value::Pairs(p) => match name {
                "Names" => method0(Value::Strings(Rc::new(
                    p.iter().map(|p| p.0.clone()).collect(),
                ))),
                "Values" => method0(Value::Strings(Rc::new(
                    p.iter().map(|p| p.1.clone()).collect(),
                ))),
                _ => cant(&recv),
            },
            Value::Pair(p) => match name {
                "Name" => no_args(Value::str(&p.0)),
                "Value" => no_args(Value::str(&p.1)),
                _ => cant(&recv),
            },
            Value::Time(t) => funcs::time_method(t, name, &args).unwrap_or_else(|| cant(&recv)),
            Value::Duration(d) => {
                funcs::duration_method(*d, name, &args).unwrap_or_else(|| cant(&recv))
            }
            _ => cant(&recv),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_function<'d>(
        &mut self,
        dot: &Value<'d>,
        pos: usize,
        name: &str,
        at: &str,
        args: &'a [Arg],
        fin: Option<Value<'d>>,
        vars: &mut Vars<'d>,
    ) -> Result<Value<'d>, Error> {
        if name == "and" || name == "or" {
            let total = args.len() + usize::from(fin.is_some());
            if total == 0 {
                return Err(self.err(
                    pos,
                    at,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut last = Value::Missing;
            for a in args {
                last = self.eval_arg(dot, a, vars)?;
                let t = last.truth();
                if (name == "and" && !t) || (name == "or" && t) {
                    return Ok(last);
                }
            }
            if let Some(f) = fin {
                last = f;
            }
            return Ok(last);
        }
        let mut argv = Vec::with_capacity(args.len() + 1);
        for a in args {
            argv.push(self.eval_arg(dot, a, vars)?);
        }
        if let Some(f) = fin {
            argv.push(f);
        }
        funcs::call(name, argv).map_err(|e| match e {
            FuncError::Call(m) => self.err(pos, at, format!("error calling {name}: {m}")),
            FuncError::Plain(m) => self.err(pos, at, m),
        })
    }
}
