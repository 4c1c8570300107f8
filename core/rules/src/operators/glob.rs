//! Python's `fnmatch.fnmatch` on POSIX: `fnmatch.translate` ported step by step (including
//! its handling of `[!…]`, `[]…]`, unterminated `[` and empty ranges), emitted as a
//! whole-string, dot-matches-newline, case-sensitive regex.

use std::fmt::Write as _;

/// Compiles a glob the way `fnmatch.translate` + `re.match` interpret it.
pub(super) fn translate(pattern: &str) -> Result<fancy_regex::Regex, String> {
    let pat: Vec<char> = pattern.chars().collect();
    let n = pat.len();
    let mut out = String::from("(?s)\\A(?:");
    let mut i = 0;
    let mut last_was_star = false;
    while i < n {
        let c = pat[i];
        i += 1;
        if c == '*' {
            if !last_was_star {
                out.push_str(".*");
            }
            last_was_star = true;
            continue;
        }
        last_was_star = false;
        match c {
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < n && pat[j] == '!' {
                    j += 1;
                }
                if j < n && pat[j] == ']' {
                    j += 1;
                }
                while j < n && pat[j] != ']' {
                    j += 1;
                }
                if j >= n {
                    out.push_str("\\[");
                    continue;
                }
                let stuff = class_body(&pat, i, j)?;
                i = j + 1;
                out.push_str(&class_regex(&stuff)?);
            }
            other => push_escaped(&mut out, other),
        }
    }
    out.push_str(")\\z");
    fancy_regex::Regex::new(&out).map_err(|e| e.to_string())
}

/// `fnmatch.translate`'s computation of the text between `[` and `]` (`pat[i..j]`), as a
/// Python character-class body with its escapes.
fn class_body(pat: &[char], mut i: usize, j: usize) -> Result<String, String> {
    let stuff: String = pat[i..j].iter().collect();
    if !stuff.contains('-') {
        return Ok(escape_set_ops(&stuff.replace('\\', "\\\\")));
    }
    let find_dash = |from: usize| (from..j).find(|&k| pat[k] == '-');
    let mut chunks: Vec<Vec<char>> = Vec::new();
    let mut k = if pat[i] == '!' { i + 2 } else { i + 1 };
    while let Some(dash) = find_dash(k) {
        chunks.push(pat[i..dash].to_vec());
        i = dash + 1;
        k = dash + 3;
    }
    let chunk = pat[i..j].to_vec();
    if chunk.is_empty() {
        match chunks.last_mut() {
            Some(last) => last.push('-'),
            None => chunks.push(vec!['-']),
        }
    } else {
        chunks.push(chunk);
    }
    // Remove empty ranges (`z-a`), which are invalid in a regex.
    let mut k = chunks.len().saturating_sub(1);
    while k > 0 {
        let (Some(&prev_last), Some(&next_first)) = (chunks[k - 1].last(), chunks[k].first())
        else {
            return Err("IndexError: string index out of range".to_owned());
        };
        if prev_last > next_first {
            let tail: Vec<char> = chunks[k][1..].to_vec();
            chunks[k - 1].pop();
            chunks[k - 1].extend(tail);
            chunks.remove(k);
        }
        k -= 1;
    }
    let joined: Vec<String> = chunks
        .iter()
        .map(|chunk| {
            chunk
                .iter()
                .collect::<String>()
                .replace('\\', "\\\\")
                .replace('-', "\\-")
        })
        .collect();
    Ok(escape_set_ops(&joined.join("-")))
}

fn escape_set_ops(stuff: &str) -> String {
    let mut out = String::with_capacity(stuff.len());
    for c in stuff.chars() {
        if matches!(c, '&' | '~' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The regex for one class body, as `fnmatch.translate` finishes it and `re` parses it.
fn class_regex(stuff: &str) -> Result<String, String> {
    if stuff.is_empty() {
        // An empty range never matches.
        return Ok("[^\\s\\S]".to_owned());
    }
    if stuff == "!" {
        return Ok(".".to_owned());
    }
    let chars: Vec<char> = stuff.chars().collect();
    let (negated, body) = match chars[0] {
        '!' => (true, &chars[1..]),
        // `^` and `[` are escaped by fnmatch; they are literal here either way.
        _ => (false, &chars[..]),
    };
    // Parse the body as Python's `re` parses a character class.
    let mut items: Vec<(char, char)> = Vec::new();
    let mut k = 0;
    let next_char = |k: &mut usize| -> Option<char> {
        let c = *body.get(*k)?;
        *k += 1;
        if c == '\\' {
            let escaped = *body.get(*k)?;
            *k += 1;
            Some(escaped)
        } else {
            Some(c)
        }
    };
    while k < body.len() {
        let Some(lo) = next_char(&mut k) else {
            return Err("bad escape (end of pattern)".to_owned());
        };
        if k + 1 < body.len() && body[k] == '-' {
            k += 1;
            let Some(hi) = next_char(&mut k) else {
                return Err("bad escape (end of pattern)".to_owned());
            };
            if lo > hi {
                return Err(format!("bad character range {lo}-{hi}"));
            }
            items.push((lo, hi));
        } else {
            items.push((lo, lo));
        }
    }
    let mut out = String::from(if negated { "[^" } else { "[" });
    for (lo, hi) in items {
        push_class_char(&mut out, lo);
        if hi != lo {
            out.push('-');
            push_class_char(&mut out, hi);
        }
    }
    out.push(']');
    Ok(out)
}

fn push_class_char(out: &mut String, c: char) {
    if c.is_alphanumeric() {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:x}}}", u32::from(c));
    }
}

fn push_escaped(out: &mut String, c: char) {
    if c.is_alphanumeric() || c == ' ' {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:x}}}", u32::from(c));
    }
}

#[cfg(test)]
mod tests {
    use super::translate;

    fn matches(pattern: &str, text: &str) -> bool {
        translate(pattern).unwrap().is_match(text).unwrap()
    }

    #[test]
    fn fnmatch_cases() {
        let cases = [
            ("*.txt", "notes.txt", true),
            ("*.txt", "notes.txt.bak", false),
            ("foo", "test foo test", false),
            ("*foo*", "test foo test", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("[abc]x", "bx", true),
            ("[!abc]x", "bx", false),
            ("[!abc]x", "dx", true),
            ("[a-c]", "b", true),
            ("[a-c]", "d", false),
            ("[]]", "]", true),
            ("[!]]", "a", true),
            ("[", "[", true),
            ("a[b", "a[b", true),
            ("[z-a]", "z", false),
            ("[!z-a]", "q", true),
            ("[a-]", "-", true),
            ("*", "multi\nline", true),
            ("A*", "a", false),
            ("a.b", "axb", false),
            ("(x)+", "(x)+", true),
            ("[\\]", "\\", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(matches(pattern, text), expected, "{pattern:?} vs {text:?}");
        }
    }
}
