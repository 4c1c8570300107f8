//! Python `re` patterns on `fancy_regex`: lookaround, backreferences and `(?P<name>…)` work
//! natively; the few spellings that differ are rewritten before compiling.
//!
//! Rewrites: `$` (outside classes, without an inline `m` flag) becomes `(?=\n?\z)` because
//! Python's `$` also matches before a final newline; `\Z` becomes `\z`; inside classes `[`,
//! `&&`, `--` and `~~` are escaped because Rust reads them as nested classes and set
//! operations.

/// Flags of a compiled Python regex.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RegexFlags {
    /// `re.IGNORECASE`.
    pub(crate) ignore_case: bool,
    /// `re.DOTALL`.
    pub(crate) dot_all: bool,
    /// `re.match` (anchored at the start) rather than `re.search`.
    pub(crate) anchored: bool,
}

/// Compiles a Python regex.
pub(crate) fn compile_python_regex(
    pattern: &str,
    flags: RegexFlags,
) -> Result<fancy_regex::Regex, String> {
    let translated = translate(pattern);
    let mut source = String::with_capacity(translated.len() + 16);
    if flags.ignore_case {
        source.push_str("(?i)");
    }
    if flags.dot_all {
        source.push_str("(?s)");
    }
    if flags.anchored {
        source.push_str("\\A(?:");
        source.push_str(&translated);
        source.push(')');
    } else {
        source.push_str(&translated);
    }
    fancy_regex::Regex::new(&source).map_err(|e| e.to_string())
}

/// True if the pattern turns on multi-line mode with an inline flag group like `(?m)` or
/// `(?im:…)`.
fn has_inline_multiline(chars: &[char]) -> bool {
    chars.windows(2).enumerate().any(|(i, w)| {
        w == ['(', '?']
            && chars[i + 2..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic())
                .any(|c| *c == 'm')
    })
}

fn translate(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let multiline = has_inline_multiline(&chars);
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    let mut class_start = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            match chars.get(i + 1) {
                Some('Z') if !in_class => out.push_str("\\z"),
                Some(next) => {
                    out.push('\\');
                    out.push(*next);
                }
                None => out.push('\\'),
            }
            i += 2;
            continue;
        }
        if in_class {
            match c {
                // A `]` right after `[` or `[^` is a literal in Python.
                ']' if i == class_start => out.push_str("\\]"),
                ']' => {
                    in_class = false;
                    out.push(']');
                }
                '[' => out.push_str("\\["),
                '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                '-' if chars.get(i + 1) == Some(&'-') => out.push_str("\\-"),
                _ => out.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                class_start = i + 1;
            }
            '$' if !multiline => out.push_str("(?=\\n?\\z)"),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{RegexFlags, compile_python_regex};

    fn search(pattern: &str, text: &str) -> bool {
        compile_python_regex(pattern, RegexFlags::default())
            .unwrap()
            .is_match(text)
            .unwrap()
    }

    #[test]
    fn python_spellings() {
        assert!(search("a$", "a\n"));
        assert!(!search("a$", "a\nb"));
        assert!(search("(?m)a$", "a\nb"));
        assert!(search("a\\Z", "a"));
        assert!(!search("a\\Z", "a\n"));
        assert!(search("(?P<x>a)(?P=x)", "aa"));
        assert!(search("(?<=a)b", "ab"));
        assert!(search("[[]", "["));
        assert!(search("[]a]", "]"));
        assert!(search("[a&&b]", "&"));
        assert!(search("x{", "x{"));
        assert!(search("^v(\\d+\\.)?(\\d+\\.)?(\\*|\\d+)$", "v0.10.1"));
    }

    #[test]
    fn flags() {
        let ignore_case = RegexFlags {
            ignore_case: true,
            ..RegexFlags::default()
        };
        assert!(
            compile_python_regex("ABC", ignore_case)
                .unwrap()
                .is_match("xabc")
                .unwrap()
        );
        let anchored = RegexFlags {
            dot_all: true,
            anchored: true,
            ..RegexFlags::default()
        };
        let re = compile_python_regex("a.b", anchored).unwrap();
        assert!(re.is_match("a\nbc").unwrap());
        assert!(!re.is_match("xa\nb").unwrap());
        assert!(compile_python_regex("(", RegexFlags::default()).is_err());
    }
}
