//! The YAML behind `from_yaml_string` and `to_yaml_string`: loading goes through `nerve-yaml`
//! (PyYAML's `safe_load` rules), and a `safe_dump(default_flow_style=False)` emitter lives here
//! (sorted keys, indentless sequences under keys, `...` after a bare root scalar).
//!
//! Deliberate differences from PyYAML's emitter: strings with line breaks are written
//! double-quoted with `\n` escapes (PyYAML folds them into single-quoted lines), long scalars
//! are not wrapped at 80 columns, and dates stay strings when loading.

use std::fmt::Write as _;

use serde_json::Value;

use crate::py;

/// PyYAML's `yaml.safe_load`, through Nerve's one YAML reader.
pub(super) fn safe_load(text: &str) -> Result<Value, String> {
    nerve_yaml::parse_yaml(text)
        .map(|(doc, _)| doc.value)
        .map_err(|error| {
            format!(
                "line {}, column {}: {}",
                error.line, error.col, error.message
            )
        })
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
        let resolves_otherwise = !nerve_yaml::plain_scalar_is_string(s)
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
