//! Orquesta's shorthands: `action: ref k=v ...`, `publish: k=v ...` and `with: x in <expr>`.

use serde_json::Value;

/// Splits `action: ref k=v ...` into the reference and the inline parameters. A reference
/// that is an expression (`{{ ... }}`) runs to its closing braces.
pub(crate) fn split_action(text: &str) -> (&str, &str) {
    let text = text.trim();
    if text.starts_with("{{") {
        if let Some(end) = text.find("}}") {
            return (&text[..end + 2], text[end + 2..].trim());
        }
    }
    match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim()),
        None => (text, ""),
    }
}

/// Splits `x, y in <expr>` into the names and the expression; without `in` before the
/// expression, no names.
pub(crate) fn split_items(text: &str) -> (Vec<String>, &str) {
    let markup = text
        .find("{{")
        .or_else(|| text.find("<%"))
        .unwrap_or(text.len());
    let head = &text[..markup];
    if let Some(at) = head.rfind(" in ") {
        let names: Vec<String> = head[..at].split(',').map(|n| n.trim().to_owned()).collect();
        if names
            .iter()
            .all(|n| !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_'))
        {
            return (names, text[at + 4..].trim());
        }
    }
    (Vec::new(), text.trim())
}

/// Reads inline `name=value` pairs separated by spaces, commas or semicolons (orquesta's
/// shorthand for action parameters and `publish`). A value is a quoted string, an expression
/// (`{{ }}`, `<% %>`), a bracketed JSON value, or a bare word (a JSON scalar if it reads as
/// one, else text).
pub(crate) fn parse_inline(text: &str) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let is_sep = |c: char| c.is_whitespace() || c == ',' || c == ';';
    while i < chars.len() {
        if is_sep(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        let name: String = chars[start..i].iter().collect();
        if name.is_empty() || chars.get(i) != Some(&'=') {
            return Err(format!(
                "expected `name=value` at `{}`",
                chars[start..].iter().collect::<String>()
            ));
        }
        i += 1;
        let value_start = i;
        let rest: String = chars[i..].iter().collect();
        let value = if let Some(quote @ ('"' | '\'')) = chars.get(i).copied() {
            let end = chars[i + 1..]
                .iter()
                .position(|&c| c == quote)
                .ok_or_else(|| format!("unclosed quote in `{rest}`"))?;
            i += end + 2;
            Value::String(chars[value_start + 1..i - 1].iter().collect())
        } else if rest.starts_with("{{") || rest.starts_with("<%") {
            let close = if rest.starts_with("{{") { "}}" } else { "%>" };
            let end = rest
                .find(close)
                .ok_or_else(|| format!("unclosed expression in `{rest}`"))?;
            let expression = &rest[..end + 2];
            i += expression.chars().count();
            Value::String(expression.to_owned())
        } else if rest.starts_with('[') || rest.starts_with('{') {
            let mut depth = 0usize;
            let mut end = None;
            for (k, c) in rest.char_indices() {
                match c {
                    '[' | '{' => depth += 1,
                    ']' | '}' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(k + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let end = end.ok_or_else(|| format!("unclosed bracket in `{rest}`"))?;
            let literal = &rest[..end];
            i += literal.chars().count();
            serde_json::from_str(literal).unwrap_or_else(|_| Value::String(literal.to_owned()))
        } else {
            while i < chars.len() && !is_sep(chars[i]) {
                i += 1;
            }
            let word: String = chars[value_start..i].iter().collect();
            match serde_json::from_str::<Value>(&word) {
                Ok(scalar @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => scalar,
                _ => Value::String(word),
            }
        };
        out.push((name, value));
    }
    Ok(out)
}
