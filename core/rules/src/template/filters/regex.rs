//! Regex filters (`expressions/functions/regex.py`): Python `re.match`, `re.search`,
//! `re.sub` (with Python's `\1`/`\g<name>` replacement syntax) and `re.findall(…)[index]`.

use minijinja::Error;
use minijinja::value::{Kwargs, Value as MjValue};

use super::{arg, py_error, stringify};
use crate::operators::{RegexFlags, compile_python_regex};
use crate::template::convert::py_str;

fn compile(
    pattern: &MjValue,
    ignorecase: Option<MjValue>,
    anchored: bool,
) -> Result<fancy_regex::Regex, Error> {
    let pattern = pattern
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| py_error("TypeError: first argument must be string or compiled pattern"))?;
    let flags = RegexFlags {
        ignore_case: ignorecase.is_some_and(|v| v.is_true()),
        dot_all: false,
        anchored,
    };
    compile_python_regex(&pattern, flags).map_err(|e| py_error(format!("re.error: {e}")))
}

fn is_match(re: &fancy_regex::Regex, text: &str) -> Result<bool, Error> {
    re.is_match(text)
        .map_err(|e| py_error(format!("re.error: {e}")))
}

/// `regex_match(value, pattern, ignorecase=False)`: `bool(re.match(pattern, str(value)))`.
pub(super) fn regex_match(
    value: &MjValue,
    pattern: &MjValue,
    ignorecase: Option<MjValue>,
    kwargs: Kwargs,
) -> Result<bool, Error> {
    let ignorecase = arg(ignorecase, &kwargs, "ignorecase")?;
    kwargs.assert_all_used()?;
    is_match(&compile(pattern, ignorecase, true)?, &stringify(value))
}

/// `regex_search(value, pattern, ignorecase=False)`: `bool(re.search(pattern, str(value)))`.
pub(super) fn regex_search(
    value: &MjValue,
    pattern: &MjValue,
    ignorecase: Option<MjValue>,
    kwargs: Kwargs,
) -> Result<bool, Error> {
    let ignorecase = arg(ignorecase, &kwargs, "ignorecase")?;
    kwargs.assert_all_used()?;
    is_match(&compile(pattern, ignorecase, false)?, &stringify(value))
}

/// One piece of a Python replacement template.
enum Piece {
    Text(String),
    Group(usize),
    Named(String),
}

/// Parses `re.sub`'s replacement syntax: `\1`–`\99`, `\g<1>`, `\g<name>`, `\n`-style escapes;
/// unknown escapes of ASCII letters are errors, other unknown escapes stay as written.
fn parse_replacement(template: &str) -> Result<Vec<Piece>, String> {
    let chars: Vec<char> = template.chars().collect();
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' {
            text.push(c);
            i += 1;
            continue;
        }
        let Some(&next) = chars.get(i + 1) else {
            return Err("bad escape (end of pattern)".to_owned());
        };
        i += 2;
        let simple = match next {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'v' => Some('\u{b}'),
            '\\' => Some('\\'),
            _ => None,
        };
        if let Some(s) = simple {
            text.push(s);
            continue;
        }
        let group = if next == 'g' {
            if chars.get(i) != Some(&'<') {
                return Err("missing <".to_owned());
            }
            let end = chars[i..]
                .iter()
                .position(|c| *c == '>')
                .ok_or_else(|| "missing >, unterminated name".to_owned())?;
            let name: String = chars[i + 1..i + end].iter().collect();
            i += end + 1;
            match name.parse::<usize>() {
                Ok(n) => Piece::Group(n),
                Err(_) if !name.is_empty() => Piece::Named(name),
                Err(_) => return Err("missing group name".to_owned()),
            }
        } else if let Some(d) = next.to_digit(10) {
            let mut n = usize::try_from(d).unwrap_or(0);
            if let Some(d2) = chars.get(i).and_then(|c| c.to_digit(10)) {
                n = n * 10 + usize::try_from(d2).unwrap_or(0);
                i += 1;
            }
            Piece::Group(n)
        } else if next.is_ascii_alphabetic() {
            return Err(format!("bad escape \\{next}"));
        } else {
            text.push('\\');
            text.push(next);
            continue;
        };
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(group);
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// `regex_replace(value, pattern, replacement, ignorecase=False)`: `re.sub`.
pub(super) fn regex_replace(
    value: &MjValue,
    pattern: &MjValue,
    replacement: &MjValue,
    ignorecase: Option<MjValue>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let ignorecase = arg(ignorecase, &kwargs, "ignorecase")?;
    kwargs.assert_all_used()?;
    let re = compile(pattern, ignorecase, false)?;
    let pieces =
        parse_replacement(&py_str(replacement)).map_err(|e| py_error(format!("re.error: {e}")))?;
    let text = stringify(value);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for captures in re.captures_iter(&text) {
        let captures = captures.map_err(|e| py_error(format!("re.error: {e}")))?;
        let Some(whole) = captures.get(0) else {
            continue;
        };
        out.push_str(&text[last..whole.start()]);
        for piece in &pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Group(n) => {
                    if *n >= captures.len() {
                        return Err(py_error(format!("re.error: invalid group reference {n}")));
                    }
                    out.push_str(captures.get(*n).map_or("", |m| m.as_str()));
                }
                Piece::Named(name) => match captures.name(name) {
                    Some(m) => out.push_str(m.as_str()),
                    None if re.capture_names().any(|n| n == Some(name.as_str())) => {}
                    None => {
                        return Err(py_error(format!("IndexError: unknown group name '{name}'")));
                    }
                },
            }
        }
        last = whole.end();
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// `regex_substring(value, pattern, result_index=0, ignorecase=False)`:
/// `re.findall(pattern, str(value))[result_index]`.
pub(super) fn regex_substring(
    value: &MjValue,
    pattern: &MjValue,
    result_index: Option<MjValue>,
    ignorecase: Option<MjValue>,
    kwargs: Kwargs,
) -> Result<MjValue, Error> {
    let result_index = arg(result_index, &kwargs, "result_index")?;
    let ignorecase = arg(ignorecase, &kwargs, "ignorecase")?;
    kwargs.assert_all_used()?;
    let index = match result_index {
        None => 0,
        Some(v) => i64::try_from(v.clone())
            .map_err(|_| py_error("TypeError: list indices must be integers or slices"))?,
    };
    let re = compile(pattern, ignorecase, false)?;
    let text = stringify(value);
    let groups = re.captures_len() - 1;
    let mut found: Vec<MjValue> = Vec::new();
    for captures in re.captures_iter(&text) {
        let captures = captures.map_err(|e| py_error(format!("re.error: {e}")))?;
        let group = |n: usize| MjValue::from(captures.get(n).map_or("", |m| m.as_str()));
        found.push(match groups {
            0 => group(0),
            1 => group(1),
            n => MjValue::from_object(minijinja::value::Tuple::from(
                (1..=n).map(group).collect::<Vec<_>>(),
            )),
        });
    }
    let len = i64::try_from(found.len()).unwrap_or(i64::MAX);
    let position = if index < 0 { len + index } else { index };
    usize::try_from(position)
        .ok()
        .and_then(|p| found.get(p).cloned())
        .ok_or_else(|| py_error("IndexError: list index out of range"))
}

#[cfg(test)]
mod tests {
    use super::{Piece, parse_replacement};

    #[test]
    fn replacement_syntax() {
        let pieces = parse_replacement(r"a\1b\g<name>\g<2>\n\&").unwrap();
        let rendered: Vec<String> = pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => format!("text({t:?})"),
                Piece::Group(n) => format!("group({n})"),
                Piece::Named(n) => format!("named({n})"),
            })
            .collect();
        assert_eq!(
            rendered,
            [
                "text(\"a\")",
                "group(1)",
                "text(\"b\")",
                "named(name)",
                "group(2)",
                "text(\"\\n\\\\&\")"
            ]
        );
        assert!(parse_replacement(r"\q").is_err());
    }
}
