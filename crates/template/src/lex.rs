//! Lexer: Go text/template's items, with byte positions.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Text,
    LDelim,
    RDelim,
    Space,
    Ident,
    Field,
    Var,
    Dot,
    Str,
    RawStr,
    Char,
    Num,
    Bool,
    Nil,
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
    /// Any other printable ASCII character (Go's itemChar): the parser rejects it.
    Punct,
    If,
    Else,
    End,
    Range,
    With,
    Define,
    Template,
    Block,
    Break,
    Continue,
    Eof,
}

#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub(crate) tok: Tok,
    pub(crate) pos: usize,
    pub(crate) val: String,
}

impl Item {
    /// How Go's parser names an item in `unexpected X` errors.
    pub(crate) fn describe(&self) -> String {
        match self.tok {
            Tok::Eof => "EOF".into(),
            Tok::RDelim => "\"}}\"".into(),
            Tok::LDelim => "\"{{\"".into(),
            Tok::If
            | Tok::Else
            | Tok::End
            | Tok::Range
            | Tok::With
            | Tok::Define
            | Tok::Template
            | Tok::Block
            | Tok::Break
            | Tok::Continue => {
                format!("<{}>", self.val)
            }
            Tok::Text | Tok::Str | Tok::RawStr => format!("{:?}", self.val),
            _ => format!("{:?}", self.val),
        }
    }
}

pub(crate) type LexError = (usize, String);

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Is there a right trim marker (" -}}") at `s`?
fn right_trim_at(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 4 && is_space(b[0]) && b[1] == b'-' && s[2..].starts_with("}}")
}

pub(crate) fn lex(src: &str) -> Result<Vec<Item>, LexError> {
    let mut items = Vec::new();
    let b = src.as_bytes();
    let mut i = 0usize;
    let mut trim_next = false;
    loop {
        let Some(rel) = src[i..].find("{{") else {
            let mut text = &src[i..];
            let mut pos = i;
            if trim_next {
                let t = text.trim_start_matches([' ', '\t', '\r', '\n']);
                pos += text.len() - t.len();
                text = t;
            }
            if !text.is_empty() {
                items.push(Item {
                    tok: Tok::Text,
                    pos,
                    val: text.to_string(),
                });
            }
            items.push(Item {
                tok: Tok::Eof,
                pos: src.len(),
                val: String::new(),
            });
            return Ok(items);
        };
        let k = i + rel;
        let left_trim = b.len() > k + 3 && b[k + 2] == b'-' && is_space(b[k + 3]);
        let mut text = &src[i..k];
        let mut pos = i;
        if trim_next {
            let t = text.trim_start_matches([' ', '\t', '\r', '\n']);
            pos += text.len() - t.len();
            text = t;
        }
        if left_trim {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
        }
        if !text.is_empty() {
            items.push(Item {
                tok: Tok::Text,
                pos,
                val: text.to_string(),
            });
        }
        trim_next = false;
        let mut j = k + 2 + if left_trim { 2 } else { 0 };
        // comment?
        if src[j..].starts_with("/*") {
            let Some(end) = src[j + 2..].find("*/") else {
                return Err((k, "unclosed comment".into()));
            };
            let after = j + 2 + end + 2;
            if src[after..].starts_with("}}") {
                i = after + 2;
            } else if right_trim_at(&src[after..]) {
                i = after + 4;
                trim_next = true;
            } else {
                return Err((k, "comment ends before closing delimiter".into()));
            }
            continue;
        }
        items.push(Item {
            tok: Tok::LDelim,
            pos: k,
            val: "{{".into(),
        });
        let mut depth = 0usize;
        loop {
            if right_trim_at(&src[j..]) {
                items.push(Item {
                    tok: Tok::RDelim,
                    pos: j + 1,
                    val: "}}".into(),
                });
                i = j + 4;
                trim_next = true;
                break;
            }
            if src[j..].starts_with("}}") {
                items.push(Item {
                    tok: Tok::RDelim,
                    pos: j,
                    val: "}}".into(),
                });
                i = j + 2;
                break;
            }
            let Some(c) = src[j..].chars().next() else {
                return Err((j, "unclosed action".into()));
            };
            let start = j;
            let push = |items: &mut Vec<Item>, tok: Tok, end: usize| {
                items.push(Item {
                    tok,
                    pos: start,
                    val: src[start..end].to_string(),
                });
            };
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    let mut e = j;
                    while e < b.len() && is_space(b[e]) && !right_trim_at(&src[e..]) {
                        e += 1;
                    }
                    if e == j {
                        e += 1;
                    }
                    push(&mut items, Tok::Space, e);
                    j = e;
                }
                '=' => {
                    push(&mut items, Tok::Assign, j + 1);
                    j += 1;
                }
                ':' => {
                    if !src[j..].starts_with(":=") {
                        return Err((j, "expected :=".into()));
                    }
                    push(&mut items, Tok::Declare, j + 2);
                    j += 2;
                }
                '|' => {
                    push(&mut items, Tok::Pipe, j + 1);
                    j += 1;
                }
                ',' => {
                    push(&mut items, Tok::Comma, j + 1);
                    j += 1;
                }
                '(' => {
                    depth += 1;
                    push(&mut items, Tok::LParen, j + 1);
                    j += 1;
                }
                ')' => {
                    depth = depth.saturating_sub(1);
                    push(&mut items, Tok::RParen, j + 1);
                    j += 1;
                }
                '"' => {
                    let mut e = j + 1;
                    loop {
                        match b.get(e) {
                            None | Some(b'\n') => {
                                return Err((j, "unterminated quoted string".into()));
                            }
                            Some(b'\\') => e += 2,
                            Some(b'"') => break,
                            _ => e += 1,
                        }
                    }
                    push(&mut items, Tok::Str, e + 1);
                    j = e + 1;
                }
                '`' => {
                    let Some(end) = src[j + 1..].find('`') else {
                        return Err((j, "unterminated raw quoted string".into()));
                    };
                    push(&mut items, Tok::RawStr, j + 1 + end + 1);
                    j = j + 1 + end + 1;
                }
                '\'' => {
                    let mut e = j + 1;
                    loop {
                        match b.get(e) {
                            None | Some(b'\n') => {
                                return Err((j, "unterminated character constant".into()));
                            }
                            Some(b'\\') => e += 2,
                            Some(b'\'') => break,
                            _ => e += 1,
                        }
                    }
                    push(&mut items, Tok::Char, e + 1);
                    j = e + 1;
                }
                '$' => {
                    let e = scan_alnum(src, j + 1);
                    push(&mut items, Tok::Var, e);
                    check_term(src, e)?;
                    j = e;
                }
                '.' => {
                    if b.get(j + 1).is_some_and(|c| c.is_ascii_digit()) {
                        j = lex_number(src, j, &mut items)?;
                    } else {
                        let e = scan_alnum(src, j + 1);
                        if e == j + 1 {
                            push(&mut items, Tok::Dot, e);
                        } else {
                            push(&mut items, Tok::Field, e);
                            check_term(src, e)?;
                        }
                        j = e;
                    }
                }
                '+' | '-' | '0'..='9' => {
                    j = lex_number(src, j, &mut items)?;
                }
                c if is_alnum(c) => {
                    let e = scan_alnum(src, j);
                    let word = &src[j..e];
                    let tok = match word {
                        "if" => Tok::If,
                        "else" => Tok::Else,
                        "end" => Tok::End,
                        "range" => Tok::Range,
                        "with" => Tok::With,
                        "define" => Tok::Define,
                        "template" => Tok::Template,
                        "block" => Tok::Block,
                        "break" => Tok::Break,
                        "continue" => Tok::Continue,
                        "true" | "false" => Tok::Bool,
                        "nil" => Tok::Nil,
                        _ => Tok::Ident,
                    };
                    check_term(src, e)?;
                    push(&mut items, tok, e);
                    j = e;
                }
                c if c.is_ascii_graphic() => {
                    push(&mut items, Tok::Punct, j + 1);
                    j += 1;
                }
                c => {
                    return Err((
                        j,
                        format!("unrecognized character in action: {}", go_rune(c)),
                    ));
                }
            }
        }
        if depth > 0 {
            return Err((i, "unclosed left paren".into()));
        }
    }
}

pub(crate) fn go_rune(c: char) -> String {
    format!("U+{:04X} '{}'", c as u32, c)
}

fn scan_alnum(src: &str, from: usize) -> usize {
    let mut e = from;
    for c in src[from..].chars() {
        if is_alnum(c) {
            e += c.len_utf8();
        } else {
            break;
        }
    }
    e
}

fn check_term(src: &str, e: usize) -> Result<(), LexError> {
    let rest = &src[e..];
    let Some(c) = rest.chars().next() else {
        return Ok(());
    };
    if matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | '.' | ',' | '|' | ':' | ')' | '('
    ) || rest.starts_with("}}")
    {
        return Ok(());
    }
    Err((e, format!("bad character {}", go_rune(c))))
}

fn lex_number(src: &str, start: usize, items: &mut Vec<Item>) -> Result<usize, LexError> {
    let b = src.as_bytes();
    let mut e = start;
    if matches!(b.get(e), Some(b'+' | b'-')) {
        e += 1;
    }
    let mut digits: &[u8] = b"0123456789_";
    let mut exp: &[u8] = b"eE";
    if b.get(e) == Some(&b'0') && matches!(b.get(e + 1), Some(b'x' | b'X')) {
        e += 2;
        digits = b"0123456789abcdefABCDEF_";
        exp = b"pP";
    } else if b.get(e) == Some(&b'0') && matches!(b.get(e + 1), Some(b'o' | b'O')) {
        e += 2;
        digits = b"01234567_";
        exp = b"";
    } else if b.get(e) == Some(&b'0') && matches!(b.get(e + 1), Some(b'b' | b'B')) {
        e += 2;
        digits = b"01_";
        exp = b"";
    }
    while b.get(e).is_some_and(|c| digits.contains(c)) {
        e += 1;
    }
    if b.get(e) == Some(&b'.') {
        e += 1;
        while b.get(e).is_some_and(|c| digits.contains(c)) {
            e += 1;
        }
    }
    if b.get(e).is_some_and(|c| exp.contains(c)) {
        e += 1;
        if matches!(b.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        while b.get(e).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            e += 1;
        }
    }
    if b.get(e).is_some_and(|c| c.is_ascii_alphanumeric()) {
        let end = scan_alnum(src, e);
        return Err((start, format!("bad number syntax: {:?}", &src[start..end])));
    }
    items.push(Item {
        tok: Tok::Num,
        pos: start,
        val: src[start..e].to_string(),
    });
    Ok(e)
}
