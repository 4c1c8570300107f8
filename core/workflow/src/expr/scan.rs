//! Lexical checks on expression strings that need no evaluation: whether a string holds
//! Jinja or YAQL, whether it is one lone `{{ expr }}`, and which context variables it names.

/// True if the text contains Jinja markup (`{{`, `{%` or `{#`).
pub(crate) fn has_markup(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// True if the text contains a YAQL expression (`<% ... %>`).
pub(crate) fn has_yaql(text: &str) -> bool {
    text.find("<%")
        .is_some_and(|start| text[start + 2..].contains("%>"))
}

/// The expression inside a string that is one `{{ expr }}` (surrounding whitespace allowed).
/// The caller still checks that it compiles as one expression: `{{ a }} {{ b }}` yields
/// `a }} {{ b`, which does not.
pub(crate) fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if inner.trim().is_empty() {
        None
    } else {
        Some(inner)
    }
}

/// A context variable named by an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CtxRef {
    /// The variable's name.
    pub(crate) name: String,
    /// Named by a bare identifier, `ctx(name)` (only counted where the text declares no Jinja
    /// variables of its own, see [`quote_bare_names`]).
    pub(crate) bare: bool,
    /// Where the bare identifier is in the text.
    at: usize,
}

/// The context variables named in the markup of `text`: `ctx().name`, `ctx()['name']`,
/// `ctx('name')`, `ctx("name")` and `ctx(name)`. Dynamic lookups (`ctx(var)` inside a loop,
/// `ctx().get('x')`) are not references.
pub(crate) fn ctx_references(text: &str) -> Vec<CtxRef> {
    references(text, "ctx")
}

/// Like [`ctx_references`], for any one-argument lookup function (`ctx`, `item`).
fn references(text: &str, function: &str) -> Vec<CtxRef> {
    let mut out = Vec::new();
    let declares_locals = text.contains("{%");
    for region in markup_regions(text) {
        let offset = region.as_ptr() as usize - text.as_ptr() as usize;
        let first = out.len();
        scan_region(region, function, &mut out);
        for reference in &mut out[first..] {
            reference.at += offset;
        }
    }
    if declares_locals {
        out.retain(|r| !r.bare);
    }
    out
}

/// Rewrites `ctx(name)` and `item(name)` with a bare identifier to `ctx('name')` and
/// `item('name')`, so that they read the context variable or item value as in orquesta's
/// YAQL. Jinja would read the Jinja variable `name`, which can only exist where the text
/// declares variables (`{% for %}`, `{% set %}`); such texts are left alone.
pub(crate) fn quote_bare_names(text: &str) -> std::borrow::Cow<'_, str> {
    let mut bare: Vec<CtxRef> = references(text, "ctx")
        .into_iter()
        .chain(references(text, "item"))
        .filter(|r| r.bare)
        .collect();
    bare.sort_by_key(|r| r.at);
    if bare.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 2 * bare.len());
    let mut copied = 0;
    for reference in bare {
        out.push_str(&text[copied..reference.at]);
        out.push('\'');
        out.push_str(&reference.name);
        out.push('\'');
        copied = reference.at + reference.name.len();
    }
    out.push_str(&text[copied..]);
    std::borrow::Cow::Owned(out)
}

/// The insides of `{{ }}` and `{% %}` (an unclosed one runs to the end).
fn markup_regions(text: &str) -> Vec<&str> {
    let mut regions = Vec::new();
    let mut rest = text;
    loop {
        let open = match (rest.find("{{"), rest.find("{%")) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        let close = if rest[open..].starts_with("{{") {
            "}}"
        } else {
            "%}"
        };
        let body = &rest[open + 2..];
        match body.find(close) {
            Some(end) => {
                regions.push(&body[..end]);
                rest = &body[end + 2..];
            }
            None => {
                regions.push(body);
                break;
            }
        }
    }
    regions
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

fn ident(text: &str, start: usize) -> (&str, usize) {
    let bytes = text.as_bytes();
    if !bytes.get(start).copied().is_some_and(is_ident_start) {
        return ("", start);
    }
    let mut end = start;
    while bytes.get(end).copied().is_some_and(is_ident) {
        end += 1;
    }
    (&text[start..end], end)
}

/// A quoted string starting at `start` (without escapes): its content and the index after it.
fn quoted(text: &str, start: usize) -> Option<(&str, usize)> {
    let quote = *text.as_bytes().get(start)?;
    if quote != b'\'' && quote != b'"' {
        return None;
    }
    let body = &text[start + 1..];
    let end = body.find(quote as char)?;
    let content = &body[..end];
    if content.contains('\\') {
        return None;
    }
    Some((content, start + 1 + end + 1))
}

const JINJA_WORDS: &[&str] = &[
    "none", "None", "true", "True", "false", "False", "and", "or", "not", "in", "is",
];

fn scan_region(region: &str, function: &str, out: &mut Vec<CtxRef>) {
    let bytes = region.as_bytes();
    let mut from = 0;
    while let Some(found) = region[from..].find(function) {
        let start = from + found;
        from = start + function.len();
        if start > 0 && (is_ident(bytes[start - 1]) || bytes[start - 1] == b'.') {
            continue;
        }
        let mut i = skip_ws(bytes, start + function.len());
        if bytes.get(i) != Some(&b'(') {
            continue;
        }
        i = skip_ws(bytes, i + 1);
        match bytes.get(i) {
            Some(b')') => {
                i = skip_ws(bytes, i + 1);
                match bytes.get(i) {
                    Some(b'.') => {
                        let (name, end) = ident(region, skip_ws(bytes, i + 1));
                        // `ctx().keys()` is a method call, not a variable.
                        if !name.is_empty() && bytes.get(skip_ws(bytes, end)) != Some(&b'(') {
                            out.push(CtxRef {
                                name: name.to_owned(),
                                bare: false,
                                at: 0,
                            });
                        }
                    }
                    Some(b'[') => {
                        if let Some((name, end)) = quoted(region, skip_ws(bytes, i + 1)) {
                            if bytes.get(skip_ws(bytes, end)) == Some(&b']') {
                                out.push(CtxRef {
                                    name: name.to_owned(),
                                    bare: false,
                                    at: 0,
                                });
                            }
                        }
                    }
                    _ => {}
                }
            }
            Some(b'\'' | b'"') => {
                if let Some((name, end)) = quoted(region, i) {
                    if bytes.get(skip_ws(bytes, end)) == Some(&b')') {
                        out.push(CtxRef {
                            name: name.to_owned(),
                            bare: false,
                            at: 0,
                        });
                    }
                }
            }
            Some(&b) if is_ident_start(b) => {
                let (name, end) = ident(region, i);
                if bytes.get(skip_ws(bytes, end)) == Some(&b')') && !JINJA_WORDS.contains(&name) {
                    out.push(CtxRef {
                        name: name.to_owned(),
                        bare: true,
                        at: i,
                    });
                }
            }
            _ => {}
        }
    }
}
