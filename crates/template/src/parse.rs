//! Parser: Go text/template's grammar into a small tree.

use crate::lex::{Item, Tok, lex};
use std::collections::BTreeSet;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub(crate) enum Node {
    Text(String),
    Action {
        pos: usize,
        pipe: Pipe,
    },
    If {
        pos: usize,
        pipe: Pipe,
        list: Vec<Node>,
        else_list: Option<Vec<Node>>,
    },
    With {
        pos: usize,
        pipe: Pipe,
        list: Vec<Node>,
        else_list: Option<Vec<Node>>,
    },
    Range {
        pos: usize,
        pipe: Pipe,
        list: Vec<Node>,
        else_list: Option<Vec<Node>>,
    },
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break(usize),
    Continue(usize),
}

#[derive(Clone, Debug)]
pub(crate) struct Pipe {
    pub(crate) pos: usize,
    pub(crate) decl: Vec<String>,
    pub(crate) is_assign: bool,
    pub(crate) cmds: Vec<Cmd>,
}

#[derive(Clone, Debug)]
pub(crate) struct Cmd {
    pub(crate) pos: usize,
    pub(crate) args: Vec<Arg>,
}

#[derive(Clone, Debug)]
pub(crate) enum Lit {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Clone, Debug)]
pub(crate) enum Arg {
    /// `.A.B`
    Field {
        pos: usize,
        names: Vec<String>,
    },
    /// `$x.A.B`
    Var {
        pos: usize,
        name: String,
        names: Vec<String>,
    },
    Dot(usize),
    Lit(usize, Lit, String),
    /// function name
    Ident(usize, String),
    Pipe(usize, Box<Pipe>),
    /// `(pipe).A.B`
    Chain {
        pos: usize,
        node: Box<Arg>,
        names: Vec<String>,
    },
}

impl Arg {
    pub(crate) fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. } | Arg::Var { pos, .. } | Arg::Chain { pos, .. } => *pos,
            Arg::Dot(p) | Arg::Lit(p, ..) | Arg::Ident(p, _) | Arg::Pipe(p, _) => *p,
        }
    }
    /// Go's `String()` of the node, for `at <...>` in errors.
    pub(crate) fn show(&self) -> String {
        match self {
            Arg::Field { names, .. } => names.iter().map(|n| format!(".{n}")).collect(),
            Arg::Var { name, names, .. } => {
                let mut s = name.clone();
                for n in names {
                    s.push('.');
                    s.push_str(n);
                }
                s
            }
            Arg::Dot(_) => ".".into(),
            Arg::Lit(_, _, text) => text.clone(),
            Arg::Ident(_, n) => n.clone(),
            Arg::Pipe(_, p) => format!("({})", p.show()),
            Arg::Chain { node, names, .. } => {
                let mut s = node.show();
                for n in names {
                    s.push('.');
                    s.push_str(n);
                }
                s
            }
        }
    }
}

impl Pipe {
    pub(crate) fn show(&self) -> String {
        let mut s = String::new();
        if !self.decl.is_empty() {
            s.push_str(&self.decl.join(", "));
            s.push_str(if self.is_assign { " = " } else { " := " });
        }
        let cmds: Vec<String> = self
            .cmds
            .iter()
            .map(|c| c.args.iter().map(Arg::show).collect::<Vec<_>>().join(" "))
            .collect();
        s.push_str(&cmds.join(" | "));
        s
    }
}

/// One parsed template body with where it came from.
#[derive(Debug)]
pub(crate) struct Tree {
    /// The template's name (`define` name or the field template's name).
    pub(crate) name: String,
    /// The file (parse) name, used in error positions.
    pub(crate) file: Arc<str>,
    pub(crate) src: Arc<str>,
    pub(crate) list: Vec<Node>,
}

/// Result of parsing one source: the top-level tree and its definitions.
pub(crate) struct Parsed {
    pub(crate) main: Tree,
    pub(crate) defines: Vec<Tree>,
}

pub(crate) type ParseError = (usize, String);

/// Deepest nesting of parenthesised pipelines plus control blocks (Go allows 10000
/// parentheses; real templates nest a handful, and this keeps recursion off the stack's edge).
const MAX_NESTING: usize = 100;

struct Parser<'a> {
    items: Vec<Item>,
    i: usize,
    vars: Vec<String>,
    range_depth: usize,
    /// Nesting of parenthesised pipelines and control blocks (bounded: recursion).
    depth: usize,
    funcs: &'a dyn Fn(&str) -> bool,
    defines: Vec<(String, Vec<Node>)>,
}

/// Parses `src`. `funcs` says whether a function name exists.
pub(crate) fn parse(
    name: &str,
    file: &str,
    src: &str,
    funcs: &dyn Fn(&str) -> bool,
) -> Result<Parsed, ParseError> {
    let items = lex(src)?;
    let mut p = Parser {
        items,
        i: 0,
        vars: vec!["$".into()],
        range_depth: 0,
        depth: 0,
        funcs,
        defines: Vec::new(),
    };
    let mut main = Vec::new();
    loop {
        let it = p.peek().clone();
        match it.tok {
            Tok::Eof => break,
            Tok::LDelim => {
                let save = p.i;
                p.next();
                if p.peek_non_space().tok == Tok::Define {
                    p.next_non_space();
                    p.parse_define()?;
                    continue;
                }
                p.i = save;
                let (n, end) = p.text_or_action()?;
                if let Some(e) = end {
                    return Err((e.pos, format!("unexpected {}", e.describe_end())));
                }
                main.extend(n);
            }
            _ => {
                let (n, _) = p.text_or_action()?;
                main.extend(n);
            }
        }
    }
    let file: Arc<str> = Arc::from(file);
    let src: Arc<str> = Arc::from(src);
    let defines = std::mem::take(&mut p.defines)
        .into_iter()
        .map(|(name, list)| Tree {
            name,
            file: file.clone(),
            src: src.clone(),
            list,
        })
        .collect();
    Ok(Parsed {
        main: Tree {
            name: name.to_string(),
            file,
            src,
            list: main,
        },
        defines,
    })
}

/// The `{{end}}`/`{{else}}` that stopped an item list.
struct EndMark {
    pos: usize,
    is_else: bool,
}

impl EndMark {
    fn describe_end(&self) -> &'static str {
        if self.is_else { "{{else}}" } else { "{{end}}" }
    }
}

impl Parser<'_> {
    fn peek(&self) -> &Item {
        &self.items[self.i.min(self.items.len() - 1)]
    }
    fn next(&mut self) -> Item {
        let it = self.peek().clone();
        if self.i < self.items.len() - 1 {
            self.i += 1;
        }
        it
    }
    fn peek_non_space(&mut self) -> Item {
        while self.peek().tok == Tok::Space {
            self.i += 1;
        }
        self.peek().clone()
    }
    fn next_non_space(&mut self) -> Item {
        self.peek_non_space();
        self.next()
    }
    fn expect(&mut self, tok: Tok, context: &str) -> Result<Item, ParseError> {
        let it = self.next_non_space();
        if it.tok != tok {
            return Err(unexpected(&it, context));
        }
        Ok(it)
    }

    fn parse_define(&mut self) -> Result<(), ParseError> {
        let ctx = "define clause";
        let name_it = self.next_non_space();
        let name = match name_it.tok {
            Tok::Str | Tok::RawStr => unquote(&name_it)?,
            _ => return Err(unexpected(&name_it, ctx)),
        };
        self.expect(Tok::RDelim, ctx)?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = saved;
        if end.is_else {
            return Err((end.pos, "unexpected {{else}}".into()));
        }
        self.defines.push((name, list));
        Ok(())
    }

    /// Parses nodes until `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> Result<(Vec<Node>, EndMark), ParseError> {
        let mut list = Vec::new();
        loop {
            if self.peek().tok == Tok::Eof {
                return Err((self.peek().pos, "unexpected EOF".into()));
            }
            if self.peek().tok == Tok::LDelim {
                let save = self.i;
                self.next();
                if self.peek_non_space().tok == Tok::Define {
                    let it = self.peek().clone();
                    return Err(unexpected(&it, "command"));
                }
                self.i = save;
            }
            let (n, end) = self.text_or_action()?;
            list.extend(n);
            if let Some(e) = end {
                return Ok((list, e));
            }
        }
    }

    fn text_or_action(&mut self) -> Result<(Option<Node>, Option<EndMark>), ParseError> {
        let it = self.next();
        match it.tok {
            Tok::Text => Ok((Some(Node::Text(it.val)), None)),
            Tok::LDelim => self.action(),
            _ => Err(unexpected(&it, "input")),
        }
    }

    fn action(&mut self) -> Result<(Option<Node>, Option<EndMark>), ParseError> {
        let it = self.next_non_space();
        match it.tok {
            Tok::Block => return Ok((Some(self.block(it.pos)?), None)),
            Tok::Break | Tok::Continue => {
                let is_break = it.tok == Tok::Break;
                let t = self.next_non_space();
                if t.tok != Tok::RDelim {
                    return Err(unexpected(&t, &format!("{{{{{}}}}}", it.val)));
                }
                if self.range_depth == 0 {
                    return Err((it.pos, format!("{{{{{}}}}} outside {{{{range}}}}", it.val)));
                }
                return Ok((
                    Some(if is_break {
                        Node::Break(it.pos)
                    } else {
                        Node::Continue(it.pos)
                    }),
                    None,
                ));
            }
            Tok::Else => {
                // `{{else}}`, `{{else if ...}}`, `{{else with ...}}`: the caller decides.
                self.i -= 1;
                return Ok((
                    None,
                    Some(EndMark {
                        pos: it.pos,
                        is_else: true,
                    }),
                ));
            }
            Tok::End => {
                let t = self.next_non_space();
                if t.tok != Tok::RDelim {
                    return Err(unexpected(&t, "end"));
                }
                return Ok((
                    None,
                    Some(EndMark {
                        pos: it.pos,
                        is_else: false,
                    }),
                ));
            }
            Tok::If => return Ok((Some(self.control(it.pos, "if")?), None)),
            Tok::Range => return Ok((Some(self.control(it.pos, "range")?), None)),
            Tok::With => return Ok((Some(self.control(it.pos, "with")?), None)),
            Tok::Template => return Ok((Some(self.template_call(it.pos, "template")?), None)),
            _ => {}
        }
        self.i -= 1;
        let pipe = self.pipeline("command", Tok::RDelim)?;
        Ok((
            Some(Node::Action {
                pos: pipe.pos,
                pipe,
            }),
            None,
        ))
    }

    fn control(&mut self, pos: usize, ctx: &str) -> Result<Node, ParseError> {
        self.enter(pos)?;
        let r = self.control_inner(pos, ctx);
        self.depth -= 1;
        r
    }

    fn enter(&mut self, pos: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            self.depth -= 1;
            return Err((
                pos,
                format!("max expression depth exceeded ({MAX_NESTING} nested pipelines or blocks)"),
            ));
        }
        Ok(())
    }

    fn control_inner(&mut self, pos: usize, ctx: &str) -> Result<Node, ParseError> {
        let mark = self.vars.len();
        let pipe = self.pipeline(ctx, Tok::RDelim)?;
        if ctx == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.item_list()?;
        if ctx == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if end.is_else {
            // positioned at the `else` keyword
            self.next_non_space();
            let nxt = self.peek_non_space();
            if (ctx == "if" && nxt.tok == Tok::If) || (ctx == "with" && nxt.tok == Tok::With) {
                self.next_non_space();
                // `{{else if}}` is `{{else}}{{if ...}}...{{end}}` sharing the outer `{{end}}`.
                let inner = self.control(nxt.pos, ctx)?;
                else_list = Some(vec![inner]);
            } else {
                let t = self.next_non_space();
                if t.tok != Tok::RDelim {
                    return Err(unexpected(&t, "else"));
                }
                let (el, end2) = self.item_list()?;
                if end2.is_else {
                    return Err((end2.pos, "expected end; found {{else}}".into()));
                }
                else_list = Some(el);
            }
        }
        self.vars.truncate(mark);
        Ok(match ctx {
            "if" => Node::If {
                pos,
                pipe,
                list,
                else_list,
            },
            "with" => Node::With {
                pos,
                pipe,
                list,
                else_list,
            },
            _ => Node::Range {
                pos,
                pipe,
                list,
                else_list,
            },
        })
    }

    fn template_call(&mut self, pos: usize, ctx: &str) -> Result<Node, ParseError> {
        let ctx = format!("{ctx} clause");
        let name_it = self.next_non_space();
        let name = match name_it.tok {
            Tok::Str | Tok::RawStr => unquote(&name_it)?,
            _ => return Err(unexpected(&name_it, &ctx)),
        };
        let pipe = if self.peek_non_space().tok != Tok::RDelim {
            Some(self.pipeline(&ctx, Tok::RDelim)?)
        } else {
            self.next_non_space();
            None
        };
        Ok(Node::Template { pos, name, pipe })
    }

    fn block(&mut self, pos: usize) -> Result<Node, ParseError> {
        let ctx = "block clause";
        let name_it = self.next_non_space();
        let name = match name_it.tok {
            Tok::Str | Tok::RawStr => unquote(&name_it)?,
            _ => return Err(unexpected(&name_it, ctx)),
        };
        let pipe = if self.peek_non_space().tok != Tok::RDelim {
            Some(self.pipeline(ctx, Tok::RDelim)?)
        } else {
            self.next_non_space();
            None
        };
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = saved;
        if end.is_else {
            return Err((end.pos, "unexpected {{else}}".into()));
        }
        self.defines.push((name.clone(), list));
        Ok(Node::Template { pos, name, pipe })
    }

    fn pipeline(&mut self, ctx: &str, end: Tok) -> Result<Pipe, ParseError> {
        let first = self.peek_non_space();
        let mut pipe = Pipe {
            pos: first.pos,
            decl: Vec::new(),
            is_assign: false,
            cmds: Vec::new(),
        };
        // declarations
        let mut pending_decl = Vec::new();
        loop {
            let v = self.peek_non_space();
            if v.tok != Tok::Var {
                break;
            }
            let save = self.i;
            self.next();
            let nxt = self.peek_non_space();
            match nxt.tok {
                Tok::Declare | Tok::Assign => {
                    self.next_non_space();
                    pipe.is_assign = nxt.tok == Tok::Assign;
                    if pipe.is_assign && !self.vars.contains(&v.val) {
                        return Err((v.pos, format!("undefined variable {:?}", v.val)));
                    }
                    pending_decl.push(v.val);
                    break;
                }
                Tok::Comma => {
                    self.next_non_space();
                    pending_decl.push(v.val);
                    if ctx == "range" && pending_decl.len() < 2 {
                        match self.peek_non_space().tok {
                            Tok::Var => continue,
                            _ => {
                                return Err((
                                    nxt.pos,
                                    "range can only initialize variables".into(),
                                ));
                            }
                        }
                    }
                    return Err((nxt.pos, format!("too many declarations in {ctx}")));
                }
                _ => {
                    self.i = save;
                    break;
                }
            }
        }
        if !pending_decl.is_empty() {
            pipe.pos = self.peek_non_space().pos;
        }
        loop {
            let t = self.next_non_space();
            if t.tok == end {
                if pipe.cmds.is_empty() {
                    return Err((t.pos, format!("missing value for {ctx}")));
                }
                for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
                    if let Some(Arg::Lit(..) | Arg::Dot(_)) = c.args.first() {
                        return Err((
                            c.pos,
                            format!("non executable command in pipeline stage {}", i + 1),
                        ));
                    }
                }
                break;
            }
            match t.tok {
                Tok::Bool
                | Tok::Char
                | Tok::Dot
                | Tok::Field
                | Tok::Ident
                | Tok::Num
                | Tok::Nil
                | Tok::RawStr
                | Tok::Str
                | Tok::Var
                | Tok::LParen => {
                    self.i -= 1;
                    let c = self.command()?;
                    pipe.cmds.push(c);
                }
                _ => return Err(unexpected(&t, ctx)),
            }
        }
        if !pipe.is_assign {
            for d in &pending_decl {
                self.vars.push(d.clone());
            }
        }
        pipe.decl = pending_decl;
        Ok(pipe)
    }

    fn command(&mut self) -> Result<Cmd, ParseError> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Cmd {
            pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let t = self.next();
            match t.tok {
                Tok::Space => continue,
                Tok::RDelim | Tok::RParen => {
                    self.i -= 1;
                }
                Tok::Pipe => {}
                _ => return Err(unexpected(&t, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err((pos, "empty command".into()));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> Result<Option<Arg>, ParseError> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().tok == Tok::Field {
            let mut names = Vec::new();
            while self.peek().tok == Tok::Field {
                names.push(self.next().val[1..].to_string());
            }
            return Ok(Some(match node {
                Arg::Field { pos, names: mut n } => {
                    n.extend(names);
                    Arg::Field { pos, names: n }
                }
                Arg::Var {
                    pos,
                    name,
                    names: mut n,
                } => {
                    n.extend(names);
                    Arg::Var {
                        pos,
                        name,
                        names: n,
                    }
                }
                Arg::Lit(
                    pos,
                    Lit::Bool(_) | Lit::Str(_) | Lit::Int(_) | Lit::Float(_),
                    ref text,
                )
                | Arg::Lit(pos, Lit::Nil, ref text) => {
                    return Err((pos, format!("unexpected . after term {text:?}")));
                }
                Arg::Dot(pos) => return Err((pos, "unexpected . after term \".\"".into())),
                other => {
                    let pos = other.pos();
                    Arg::Chain {
                        pos,
                        node: Box::new(other),
                        names,
                    }
                }
            }));
        }
        Ok(Some(node))
    }

    fn term(&mut self) -> Result<Option<Arg>, ParseError> {
        let t = self.next_non_space();
        Ok(Some(match t.tok {
            Tok::Ident => {
                if !(self.funcs)(&t.val) {
                    return Err((t.pos, format!("function {:?} not defined", t.val)));
                }
                Arg::Ident(t.pos, t.val)
            }
            Tok::Dot => Arg::Dot(t.pos),
            Tok::Nil => Arg::Lit(t.pos, Lit::Nil, t.val),
            Tok::Var => {
                if !self.vars.contains(&t.val) {
                    return Err((t.pos, format!("undefined variable {:?}", t.val)));
                }
                Arg::Var {
                    pos: t.pos,
                    name: t.val,
                    names: Vec::new(),
                }
            }
            Tok::Field => Arg::Field {
                pos: t.pos,
                names: vec![t.val[1..].to_string()],
            },
            Tok::Bool => Arg::Lit(t.pos, Lit::Bool(t.val == "true"), t.val),
            Tok::Char | Tok::Num => Arg::Lit(t.pos, number(&t)?, t.val),
            Tok::LParen => {
                self.enter(t.pos)?;
                let p = self.pipeline("parenthesized pipeline", Tok::RParen);
                self.depth -= 1;
                Arg::Pipe(t.pos, Box::new(p?))
            }
            Tok::Str | Tok::RawStr => Arg::Lit(t.pos, Lit::Str(unquote(&t)?), t.val),
            _ => {
                self.i -= 1;
                return Ok(None);
            }
        }))
    }
}

fn unexpected(it: &Item, ctx: &str) -> ParseError {
    if it.tok == Tok::Eof {
        return (it.pos, "unexpected EOF".into());
    }
    (it.pos, format!("unexpected {} in {}", it.describe(), ctx))
}

fn number(t: &Item) -> Result<Lit, ParseError> {
    let bad = || (t.pos, format!("bad number syntax: {:?}", t.val));
    if t.tok == Tok::Char {
        let s = unquote_go(&t.val, '\'')
            .ok_or_else(|| (t.pos, format!("malformed character constant: {}", t.val)))?;
        let mut cs = s.chars();
        let (Some(c), None) = (cs.next(), cs.next()) else {
            return Err((t.pos, format!("malformed character constant: {}", t.val)));
        };
        return Ok(Lit::Int(c as i64));
    }
    let text = t.val.replace('_', "");
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text.strip_prefix('+').unwrap_or(&text)),
    };
    let lower = body.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        if h.contains('.') || h.contains('p') {
            None
        } else {
            Some(i128::from_str_radix(h, 16).map_err(|_| bad())?)
        }
    } else if let Some(o) = lower.strip_prefix("0o") {
        Some(i128::from_str_radix(o, 8).map_err(|_| bad())?)
    } else if let Some(b) = lower.strip_prefix("0b") {
        Some(i128::from_str_radix(b, 2).map_err(|_| bad())?)
    } else if lower.contains(['.', 'e']) {
        None
    } else if lower.len() > 1 && lower.starts_with('0') {
        Some(i128::from_str_radix(&lower[1..], 8).map_err(|_| bad())?)
    } else {
        Some(lower.parse::<i128>().map_err(|_| bad())?)
    };
    match int {
        Some(v) => {
            let v = if neg { -v } else { v };
            i64::try_from(v)
                .map(Lit::Int)
                .map_err(|_| (t.pos, format!("{} overflows int", t.val)))
        }
        None => {
            let f: f64 = lower.parse().map_err(|_| bad())?;
            Ok(Lit::Float(if neg { -f } else { f }))
        }
    }
}

fn unquote(t: &Item) -> Result<String, ParseError> {
    match t.tok {
        Tok::RawStr => Ok(t.val[1..t.val.len() - 1].to_string()),
        _ => unquote_go(&t.val, '"').ok_or_else(|| (t.pos, "invalid syntax".into())),
    }
}

/// Go's strconv.Unquote for "..." and '...'.
fn unquote_go(s: &str, q: char) -> Option<String> {
    let inner = s.strip_prefix(q)?.strip_suffix(q)?;
    let mut out = String::new();
    let mut it = inner.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            if c == q {
                return None;
            }
            out.push(c);
            continue;
        }
        let e = it.next()?;
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '"' if q == '"' => out.push('"'),
            '\'' if q == '\'' => out.push('\''),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let h: String = (0..n).filter_map(|_| it.next()).collect();
                if h.len() != n {
                    return None;
                }
                let v = u32::from_str_radix(&h, 16).ok()?;
                if e == 'x' {
                    // a byte; only ASCII can be represented in a Rust String
                    out.push(char::from_u32(v)?);
                } else {
                    out.push(char::from_u32(v)?);
                }
            }
            '0'..='7' => {
                let mut v = e.to_digit(8)?;
                for _ in 0..2 {
                    v = v * 8 + it.next()?.to_digit(8)?;
                }
                out.push(char::from_u32(v)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Names of templates invoked by `list` (recursively through control nodes).
pub(crate) fn template_calls(list: &[Node], out: &mut BTreeSet<(String, usize)>) {
    for n in list {
        match n {
            Node::Template { name, pos, .. } => {
                out.insert((name.clone(), *pos));
            }
            Node::If {
                list, else_list, ..
            }
            | Node::With {
                list, else_list, ..
            }
            | Node::Range {
                list, else_list, ..
            } => {
                template_calls(list, out);
                if let Some(e) = else_list {
                    template_calls(e, out);
                }
            }
            _ => {}
        }
    }
}
