//! Lexer and parser for jsonpath_rw's grammar (version 1.4, the one StackStorm pins).
//!
//! Tokens: bare ids `[a-zA-Z_@][a-zA-Z0-9_@]*`, quoted ids `'…'`/`"…"` (no escapes), back-quoted
//! named operators (`` `this` ``, `` `parent` ``), non-negative numbers, `..`, `where` and the
//! literals `* . [ ] ( ) $ , : | &`. Binary operators from loosest to tightest: `..`, `.`,
//! `|`, `&`, `where`; all left-associative. A `[…]` suffix binds tighter than any of them.

use super::Expr;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Id(String),
    Number(usize),
    Named(String),
    DoubleDot,
    Where,
    Punct(char),
}

fn lex(source: &str) -> Result<Vec<(usize, Token)>, String> {
    let chars: Vec<(usize, char)> = source.char_indices().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '.' if chars.get(i + 1).is_some_and(|(_, n)| *n == '.') => {
                tokens.push((pos, Token::DoubleDot));
                i += 2;
            }
            '*' | '.' | '[' | ']' | '(' | ')' | '$' | ',' | ':' | '|' | '&' => {
                tokens.push((pos, Token::Punct(c)));
                i += 1;
            }
            '\'' | '"' | '`' => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && chars[end].1 != c {
                    end += 1;
                }
                if end >= chars.len() {
                    return Err(format!(
                        "unterminated {c}-quoted field starting at column {pos}"
                    ));
                }
                let text: String = chars[start..end].iter().map(|(_, ch)| ch).collect();
                tokens.push((
                    pos,
                    if c == '`' {
                        Token::Named(text)
                    } else {
                        Token::Id(text)
                    },
                ));
                i = end + 1;
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == '@' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].1.is_ascii_alphanumeric()
                        || chars[i].1 == '_'
                        || chars[i].1 == '@')
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().map(|(_, ch)| ch).collect();
                tokens.push((
                    pos,
                    if text == "where" {
                        Token::Where
                    } else {
                        Token::Id(text)
                    },
                ));
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while i < chars.len() && chars[i].1.is_ascii_digit() {
                    i += 1;
                }
                let text: String = chars[start..i].iter().map(|(_, ch)| ch).collect();
                let number = text
                    .parse()
                    .map_err(|_| format!("number `{text}` at column {pos} is too large"))?;
                tokens.push((pos, Token::Number(number)));
            }
            other => {
                return Err(format!("unexpected character `{other}` at column {pos}"));
            }
        }
    }
    Ok(tokens)
}

/// Parses a jsonpath expression.
pub(super) fn parse(source: &str) -> Result<Expr, String> {
    let tokens = lex(source)?;
    let mut parser = Parser { tokens, pos: 0 };
    let expr = parser.expr(0)?;
    match parser.tokens.get(parser.pos) {
        None => Ok(expr),
        Some((pos, token)) => Err(format!("unexpected {} at column {pos}", describe(token))),
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Id(id) => format!("field `{id}`"),
        Token::Number(n) => format!("number `{n}`"),
        Token::Named(name) => format!("`{name}`"),
        Token::DoubleDot => "`..`".to_owned(),
        Token::Where => "`where`".to_owned(),
        Token::Punct(c) => format!("`{c}`"),
    }
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(_, t)| t)
    }

    fn error_here(&self, expected: &str) -> String {
        match self.tokens.get(self.pos) {
            Some((pos, token)) => format!(
                "expected {expected}, found {} at column {pos}",
                describe(token)
            ),
            None => format!("expected {expected}, found the end of the key"),
        }
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.peek() == Some(&Token::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn binary_precedence(token: &Token) -> Option<u8> {
        match token {
            Token::DoubleDot => Some(1),
            Token::Punct('.') => Some(2),
            Token::Punct('|') => Some(3),
            Token::Punct('&') => Some(4),
            Token::Where => Some(5),
            _ => None,
        }
    }

    fn expr(&mut self, min_precedence: u8) -> Result<Expr, String> {
        let mut lhs = self.postfix()?;
        while let Some(token) = self.peek().cloned() {
            let Some(precedence) = Self::binary_precedence(&token) else {
                break;
            };
            if precedence < min_precedence {
                break;
            }
            self.pos += 1;
            let rhs = self.expr(precedence + 1)?;
            let (l, r) = (Box::new(lhs), Box::new(rhs));
            lhs = match token {
                Token::DoubleDot => Expr::Descendants(l, r),
                Token::Punct('.') => Expr::Child(l, r),
                Token::Punct('|') => Expr::Union(l, r),
                Token::Punct('&') => Expr::Intersect(l, r),
                _ => Expr::Where(l, r),
            };
        }
        Ok(lhs)
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut expr = self.atom()?;
        while self.eat_punct('[') {
            let inner = self.bracket()?;
            expr = Expr::Child(Box::new(expr), Box::new(inner));
        }
        Ok(expr)
    }

    fn fields(&mut self, first: String) -> Result<Vec<String>, String> {
        let mut names = vec![first];
        while self.eat_punct(',') {
            match self.peek().cloned() {
                Some(Token::Id(name)) => {
                    self.pos += 1;
                    names.push(name);
                }
                _ => return Err(self.error_here("a field name after `,`")),
            }
        }
        Ok(names)
    }

    fn atom(&mut self) -> Result<Expr, String> {
        match self.peek().cloned() {
            Some(Token::Id(name)) => {
                self.pos += 1;
                Ok(Expr::Fields(self.fields(name)?))
            }
            Some(Token::Punct('*')) => {
                self.pos += 1;
                Ok(Expr::Fields(vec!["*".to_owned()]))
            }
            Some(Token::Punct('$')) => {
                self.pos += 1;
                Ok(Expr::Root)
            }
            Some(Token::Named(name)) => {
                self.pos += 1;
                match name.as_str() {
                    "this" => Ok(Expr::This),
                    "parent" => Ok(Expr::Parent),
                    other => Err(format!("unknown named operator `{other}`")),
                }
            }
            Some(Token::Punct('[')) => {
                self.pos += 1;
                self.bracket()
            }
            Some(Token::Punct('(')) => {
                self.pos += 1;
                let inner = self.expr(0)?;
                if !self.eat_punct(')') {
                    return Err(self.error_here("`)`"));
                }
                Ok(inner)
            }
            _ => Err(self.error_here("a field, `*`, `$`, `[` or `(`")),
        }
    }

    /// The inside of `[…]` after the opening bracket: an index, a slice, `*` or field names.
    fn bracket(&mut self) -> Result<Expr, String> {
        let expr = match self.peek().cloned() {
            Some(Token::Punct('*')) => {
                self.pos += 1;
                Expr::Slice {
                    start: None,
                    end: None,
                }
            }
            Some(Token::Id(name)) => {
                self.pos += 1;
                Expr::Fields(self.fields(name)?)
            }
            Some(Token::Number(n)) => {
                self.pos += 1;
                if self.eat_punct(':') {
                    let end = self.maybe_number();
                    Expr::Slice {
                        start: Some(n),
                        end,
                    }
                } else {
                    Expr::Index(n)
                }
            }
            Some(Token::Punct(':')) => {
                self.pos += 1;
                let end = self.maybe_number();
                Expr::Slice { start: None, end }
            }
            _ => return Err(self.error_here("an index, a slice, `*` or a quoted field")),
        };
        if !self.eat_punct(']') {
            return Err(self.error_here("`]`"));
        }
        Ok(expr)
    }

    fn maybe_number(&mut self) -> Option<usize> {
        match self.peek() {
            Some(Token::Number(n)) => {
                let n = *n;
                self.pos += 1;
                Some(n)
            }
            _ => None,
        }
    }
}
