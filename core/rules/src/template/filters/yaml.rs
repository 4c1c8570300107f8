//! The YAML behind `from_yaml_string` and `to_yaml_string`: PyYAML's `safe_load` (YAML 1.1
//! resolution of plain scalars: `yes`/`on` booleans, `0755` octal, `1:30` sexagesimal, `~`,
//! merge keys) on top of `saphyr-parser` events, and a `safe_dump(default_flow_style=False)`
//! emitter (sorted keys, indentless sequences under keys, `...` after a bare root scalar).
//!
//! Deliberate differences from PyYAML's emitter: strings with line breaks are written
//! double-quoted with `\n` escapes (PyYAML folds them into single-quoted lines), long scalars
//! are not wrapped at 80 columns, and dates stay strings when loading.

use std::collections::HashMap;
use std::fmt::Write as _;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::{Map, Number, Value};

use crate::py;

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
    },
    Map {
        map: Map<String, Value>,
        key: Option<String>,
        merges: Vec<Value>,
        anchor: usize,
    },
}

/// PyYAML's `yaml.safe_load`.
pub(super) fn safe_load(text: &str) -> Result<Value, String> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut documents: Vec<Value> = Vec::new();
    while let Some(next) = parser.next_event() {
        let (event, _span) = next.map_err(|e| e.to_string())?;
        let complete = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar(&text, style, tag.as_deref())?;
                if anchor != 0 {
                    anchors.insert(anchor, value.clone());
                }
                Some(value)
            }
            Event::Alias(id) => Some(
                anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| format!("found undefined alias {id}"))?,
            ),
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                });
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map {
                    map: Map::new(),
                    key: None,
                    merges: Vec::new(),
                    anchor,
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { items, anchor }) => {
                    let value = Value::Array(items);
                    if anchor != 0 {
                        anchors.insert(anchor, value.clone());
                    }
                    Some(value)
                }
                _ => return Err("unbalanced sequence".to_owned()),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    map,
                    merges,
                    anchor,
                    ..
                }) => {
                    let value = Value::Object(apply_merges(map, merges)?);
                    if anchor != 0 {
                        anchors.insert(anchor, value.clone());
                    }
                    Some(value)
                }
                _ => return Err("unbalanced mapping".to_owned()),
            },
            _ => None,
        };
        let Some(value) = complete else {
            continue;
        };
        match stack.last_mut() {
            None => documents.push(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map {
                map, key, merges, ..
            }) => match key.take() {
                None => *key = Some(json_key(&value)?),
                Some(k) if k == "<<" && is_merge_source(&value) => merges.push(value),
                Some(k) => {
                    map.insert(k, value);
                }
            },
        }
    }
    match documents.len() {
        0 => Ok(Value::Null),
        1 => Ok(documents.pop().unwrap_or(Value::Null)),
        _ => Err("expected a single document in the stream, but found another document".to_owned()),
    }
}

fn is_merge_source(value: &Value) -> bool {
    match value {
        Value::Object(_) => true,
        Value::Array(items) => items.iter().all(Value::is_object),
        _ => false,
    }
}

/// `<<` merge keys: the mapping's own keys win, then earlier merge sources over later ones.
fn apply_merges(own: Map<String, Value>, merges: Vec<Value>) -> Result<Map<String, Value>, String> {
    if merges.is_empty() {
        return Ok(own);
    }
    let mut sources: Vec<Map<String, Value>> = Vec::new();
    for merge in merges {
        match merge {
            Value::Object(map) => sources.push(map),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(map) = item {
                        sources.push(map);
                    }
                }
            }
            _ => return Err("expected a mapping or list of mappings for merging".to_owned()),
        }
    }
    let mut result = Map::new();
    for source in sources.into_iter().rev() {
        for (k, v) in source {
            result.insert(k, v);
        }
    }
    for (k, v) in own {
        result.insert(k, v);
    }
    Ok(result)
}

/// A mapping key as a JSON object key (Python's later `json.dumps` conversion).
fn json_key(key: &Value) -> Result<String, String> {
    match key {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok("null".to_owned()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(_) => Ok(py::to_str(key)),
        _ => Err("found unhashable key".to_owned()),
    }
}

fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        if tag.handle == "!" && tag.suffix.is_empty() {
            return Ok(Value::String(text.to_owned()));
        }
        if !tag.is_yaml_core_schema() {
            return Err(format!(
                "could not determine a constructor for the tag '{tag}'"
            ));
        }
        return match tag.suffix.as_str() {
            "str" | "binary" | "timestamp" => Ok(Value::String(text.to_owned())),
            "null" => Ok(Value::Null),
            "bool" => resolve_bool(text)
                .map(Value::Bool)
                .ok_or_else(|| format!("invalid bool {text:?}")),
            "int" => resolve_int(text).ok_or_else(|| format!("invalid int {text:?}")),
            "float" => resolve_float(text)
                .or_else(|| {
                    resolve_int(text)
                        .and_then(|v| v.as_f64().and_then(Number::from_f64).map(Value::Number))
                })
                .ok_or_else(|| format!("invalid float {text:?}")),
            other => Err(format!(
                "could not determine a constructor for the tag '!!{other}'"
            )),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_owned()));
    }
    Ok(resolve_plain(text))
}

/// YAML 1.1 implicit resolution of a plain scalar, as PyYAML's `Resolver` does it.
fn resolve_plain(text: &str) -> Value {
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    if let Some(b) = resolve_bool(text) {
        return Value::Bool(b);
    }
    if let Some(v) = resolve_int(text) {
        return v;
    }
    if let Some(v) = resolve_float(text) {
        return v;
    }
    Value::String(text.to_owned())
}

fn resolve_bool(text: &str) -> Option<bool> {
    match text {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn split_sign(text: &str) -> (i128, &str) {
    if let Some(rest) = text.strip_prefix('-') {
        (-1, rest)
    } else {
        (1, text.strip_prefix('+').unwrap_or(text))
    }
}

fn int_value(n: i128) -> Value {
    if let Ok(i) = i64::try_from(n) {
        Value::from(i)
    } else if let Ok(u) = u64::try_from(n) {
        Value::from(u)
    } else {
        #[allow(clippy::cast_precision_loss)]
        let f = n as f64;
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

fn digits_in(text: &str, radix: u32) -> bool {
    !text.is_empty() && text.chars().all(|c| c == '_' || c.is_digit(radix))
}

fn resolve_int(text: &str) -> Option<Value> {
    let (sign, body) = split_sign(text);
    let parse =
        |digits: &str, radix: u32| i128::from_str_radix(&digits.replace('_', ""), radix).ok();
    let n = if let Some(bin) = body.strip_prefix("0b") {
        digits_in(bin, 2).then(|| parse(bin, 2)).flatten()?
    } else if let Some(hex) = body.strip_prefix("0x") {
        digits_in(hex, 16).then(|| parse(hex, 16)).flatten()?
    } else if body.contains(':') {
        let mut parts = body.split(':');
        let head = parts.next()?;
        if !head.starts_with(|c: char| ('1'..='9').contains(&c)) || !digits_in(head, 10) {
            return None;
        }
        let mut total = parse(head, 10)?;
        for part in parts {
            if part.is_empty() || part.len() > 2 || !part.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let sexagesimal = parse(part, 10)?;
            if sexagesimal > 59 {
                return None;
            }
            total = total.checked_mul(60)?.checked_add(sexagesimal)?;
        }
        total
    } else if body.len() > 1 && body.starts_with('0') {
        let octal = &body[1..];
        digits_in(octal, 8).then(|| parse(octal, 8)).flatten()?
    } else if body == "0" {
        0
    } else if body.starts_with(|c: char| ('1'..='9').contains(&c)) && digits_in(body, 10) {
        parse(body, 10)?
    } else {
        return None;
    };
    Some(int_value(sign * n))
}

fn resolve_float(text: &str) -> Option<Value> {
    let (sign, body) = split_sign(text);
    let sign = if sign < 0 { -1.0 } else { 1.0 };
    if matches!(body, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN") {
        // JSON has no infinities or NaN; PyYAML's value cannot be carried further.
        return None;
    }
    let cleaned = body.replace('_', "");
    let value = if cleaned.contains(':') {
        let (whole, fraction) = cleaned.rsplit_once(':')?;
        let mut total = 0.0;
        for part in whole.split(':') {
            if part.is_empty() || !part.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            total = total * 60.0 + part.parse::<f64>().ok()?;
        }
        if !fraction.contains('.') {
            return None;
        }
        total * 60.0 + fraction.parse::<f64>().ok()?
    } else {
        if !float_shape(&cleaned) {
            return None;
        }
        cleaned.parse::<f64>().ok()?
    };
    Number::from_f64(sign * value).map(Value::Number)
}

/// `[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?` or `\.[0-9_]+([eE][-+][0-9]+)?` (underscores
/// already removed): YAML 1.1 floats need a dot, and an exponent needs a sign.
fn float_shape(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let Some((int, frac)) = mantissa.split_once('.') else {
        return false;
    };
    let int_ok = int.chars().all(|c| c.is_ascii_digit());
    let frac_ok = frac.chars().all(|c| c.is_ascii_digit());
    let shape_ok = if int.is_empty() {
        !frac.is_empty()
    } else {
        true
    };
    let exponent_ok = exponent.is_none_or(|e| {
        (e.starts_with('+') || e.starts_with('-'))
            && e.len() > 1
            && e[1..].chars().all(|c| c.is_ascii_digit())
    });
    int_ok && frac_ok && shape_ok && exponent_ok
}

/// PyYAML's `yaml.safe_dump(value, default_flow_style=False, indent=…, allow_unicode=…)`.
pub(super) fn safe_dump(value: &Value, indent: usize, allow_unicode: bool) -> String {
    let emitter = Emitter {
        indent,
        allow_unicode,
    };
    let mut out = String::new();
    match value {
        Value::Array(items) if !items.is_empty() => {
            for line in emitter.block(value) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        Value::Object(map) if !map.is_empty() => {
            for line in emitter.block(value) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        other => {
            let (text, plain) = emitter.scalar(other);
            out.push_str(&text);
            out.push('\n');
            if plain {
                out.push_str("...\n");
            }
        }
    }
    out
}

struct Emitter {
    indent: usize,
    allow_unicode: bool,
}

impl Emitter {
    fn is_block(value: &Value) -> bool {
        match value {
            Value::Array(items) => !items.is_empty(),
            Value::Object(map) => !map.is_empty(),
            _ => false,
        }
    }

    /// Lines of a non-empty collection, starting at column 0.
    fn block(&self, value: &Value) -> Vec<String> {
        let mut lines = Vec::new();
        match value {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                for (key, item) in entries {
                    let (key_text, _) = self.string(key);
                    if Self::is_block(item) {
                        lines.push(format!("{key_text}:"));
                        let pad = if item.is_array() {
                            String::new()
                        } else {
                            " ".repeat(self.indent)
                        };
                        lines.extend(self.block(item).into_iter().map(|l| format!("{pad}{l}")));
                    } else {
                        lines.push(format!("{key_text}: {}", self.scalar(item).0));
                    }
                }
            }
            Value::Array(items) => {
                let dash = format!("-{}", " ".repeat(self.indent.saturating_sub(1).max(1)));
                let pad = " ".repeat(dash.len());
                for item in items {
                    if Self::is_block(item) {
                        for (i, line) in self.block(item).into_iter().enumerate() {
                            lines.push(format!("{}{line}", if i == 0 { &dash } else { &pad }));
                        }
                    } else {
                        lines.push(format!("{dash}{}", self.scalar(item).0));
                    }
                }
            }
            other => lines.push(self.scalar(other).0),
        }
        lines
    }

    /// A scalar (or empty collection) on one line, and whether it is a plain scalar.
    fn scalar(&self, value: &Value) -> (String, bool) {
        match value {
            Value::Null => ("null".to_owned(), true),
            Value::Bool(b) => (b.to_string(), true),
            Value::Number(n) => {
                if n.is_f64() {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    let mut text = py::float_repr(f).to_lowercase();
                    if !text.contains('.') && text.contains('e') {
                        text = text.replacen('e', ".0e", 1);
                    }
                    (text, true)
                } else {
                    (py::to_str(value), true)
                }
            }
            Value::String(s) => self.string(s),
            Value::Array(_) => ("[]".to_owned(), false),
            Value::Object(_) => ("{}".to_owned(), false),
        }
    }

    fn printable(&self, c: char) -> bool {
        matches!(c, '\n' | '\u{85}')
            || (' '..='~').contains(&c)
            || (self.allow_unicode
                && (('\u{a0}'..='\u{d7ff}').contains(&c)
                    || (('\u{e000}'..='\u{fffd}').contains(&c) && c != '\u{feff}')
                    || c >= '\u{10000}'))
    }

    fn string(&self, s: &str) -> (String, bool) {
        if s.is_empty() {
            return ("''".to_owned(), false);
        }
        let special = s.chars().any(|c| !self.printable(c)) || s.contains(['\u{2028}', '\u{2029}']);
        let multiline = s.contains(['\n', '\u{85}']);
        if special || multiline {
            return (double_quoted(s, self.allow_unicode), false);
        }
        let resolves_otherwise = !matches!(resolve_plain(s), Value::String(_))
            || s == "<<"
            || s == "="
            || looks_like_timestamp(s);
        if resolves_otherwise || !plain_allowed(s) {
            return (format!("'{}'", s.replace('\'', "''")), false);
        }
        (s.to_owned(), true)
    }
}

fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && crate::operators::parse_datetime(s).is_ok()
}

/// PyYAML's `analyze_scalar` verdict for a plain scalar in block context.
fn plain_allowed(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let first = chars[0];
    let followed_by_space = |i: usize| chars.get(i + 1).is_none_or(|c| *c == ' ');
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if first == ' ' || chars.last() == Some(&' ') {
        return false;
    }
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if "?:-".contains(first) && followed_by_space(0) {
        return false;
    }
    for (i, c) in chars.iter().enumerate() {
        match c {
            ':' if followed_by_space(i) => return false,
            '#' if i > 0 && chars[i - 1] == ' ' => return false,
            _ => {}
        }
    }
    true
}

fn double_quoted(s: &str, allow_unicode: bool) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if (' '..='~').contains(&c) => out.push(c),
            c if allow_unicode && c > '\u{a0}' && c != '\u{feff}' => out.push(c),
            c => {
                let code = u32::from(c);
                let _ = if code <= 0xff {
                    write!(out, "\\x{code:02X}")
                } else if code <= 0xffff {
                    write!(out, "\\u{code:04X}")
                } else {
                    write!(out, "\\U{code:08X}")
                };
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{safe_dump, safe_load};

    #[test]
    fn loads_yaml_1_1_scalars() {
        let loaded = safe_load(
            "a: yes\nb: off\nc: 0755\nd: 0x1F\ne: 1:30\nf: 1.5\ng: 1e3\nh: ~\ni: '1'\nj: 1_000\nk: .5\nl: !!str 12\nm: 2024-01-02\n",
        )
        .unwrap();
        assert_eq!(
            loaded,
            json!({"a": true, "b": false, "c": 493, "d": 31, "e": 90, "f": 1.5, "g": "1e3",
                   "h": null, "i": "1", "j": 1000, "k": 0.5, "l": "12", "m": "2024-01-02"})
        );
    }

    #[test]
    fn loads_anchors_merges_and_collections() {
        let loaded = safe_load(
            "base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\nlist:\n- [1, 2]\n- {k: v}\n1: int key\n",
        )
        .unwrap();
        assert_eq!(
            loaded,
            json!({"base": {"x": 1, "y": 2}, "derived": {"x": 1, "y": 3},
                   "list": [[1, 2], {"k": "v"}], "1": "int key"})
        );
        assert_eq!(safe_load("").unwrap(), json!(null));
        assert!(safe_load("a: [").is_err());
        assert!(safe_load("--- 1\n--- 2\n").is_err());
    }

    #[test]
    fn dumps_like_pyyaml() {
        let value = json!({"c": {"g": true, "d": "e", "f": 1}, "a": "b", "l": [1, {"x": [2, 3]}, []],
                           "q": ["yes", "1", "", "a: b", "- x", "#c", "x #y", "1.5", "ok", 2.0, 1e16, null]});
        assert_eq!(
            safe_dump(&value, 2, true),
            "a: b\nc:\n  d: e\n  f: 1\n  g: true\nl:\n- 1\n- x:\n  - 2\n  - 3\n- []\nq:\n- 'yes'\n- '1'\n- ''\n- 'a: b'\n- '- x'\n- '#c'\n- 'x #y'\n- '1.5'\n- ok\n- 2.0\n- 1.0e+16\n- null\n"
        );
        assert_eq!(safe_dump(&json!("abc"), 2, true), "abc\n...\n");
        assert_eq!(safe_dump(&json!("1"), 2, true), "'1'\n");
        assert_eq!(safe_dump(&json!({}), 2, true), "{}\n");
        assert_eq!(safe_dump(&json!("a\tb\nc"), 2, true), "\"a\\tb\\nc\"\n");
        assert_eq!(safe_dump(&json!({"k": "é"}), 2, true), "k: é\n");
        assert_eq!(safe_dump(&json!({"k": "é"}), 2, false), "k: \"\\xE9\"\n");
        assert_eq!(
            safe_dump(&json!([{"a": 1, "b": 2}]), 4, true),
            "-   a: 1\n    b: 2\n"
        );
    }
}
