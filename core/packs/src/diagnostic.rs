//! Diagnostics: one problem in one pack file, with file, line, column, field path and an
//! optional fix, in a stable text form (cargo/rustc style), a source snippet for the CLI, and
//! JSON (serde) for `--output json`.
//!
//! Nothing here decides what is wrong; `yaml` and `document` do, and build diagnostics with the
//! constructors below.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use nerve_yaml::{PathDisplay, Span, YamlError, YamlWarning};

/// How bad a diagnostic is. A pack with any error is not registered; warnings are shown only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file cannot be used as written.
    Error,
    /// The file works, but probably not as intended.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

/// One problem found in a pack file.
///
/// Displays as `rules/a.yaml:3:5: error: unknown field `critera` in rule (at `critera`)`,
/// followed, when there is a hint, by a line `  = help: did you mean `criteria`?`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file, as the loader names it (usually relative to the pack directory).
    pub file: PathBuf,
    /// Line, 1-based.
    pub line: u32,
    /// Column in characters, 1-based.
    pub col: u32,
    /// Field path (`action.parameters.cmd`, `trigger_types[0].name`); empty for the whole file.
    pub field: String,
    /// What is wrong, lowercase, names in backticks, no trailing period.
    pub message: String,
    /// How to fix it, when we can tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic of any severity at `span`.
    pub fn new(
        severity: Severity,
        file: impl Into<PathBuf>,
        span: Span,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            file: file.into(),
            line: span.line,
            col: span.col,
            field: field.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// An error at `span`; `field` is the displayed field path (see [`PathDisplay`]).
    pub fn error(
        file: impl Into<PathBuf>,
        span: Span,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, file, span, field, message)
    }

    /// A warning at `span`; `field` is the displayed field path (see [`PathDisplay`]).
    pub fn warning(
        file: impl Into<PathBuf>,
        span: Span,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, file, span, field, message)
    }

    /// The same diagnostic with a hint (`= help: …`).
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same diagnostic with an optional hint.
    #[must_use]
    pub fn with_optional_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    /// Whether this is an error (the file must not be registered).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The position as a [`Span`].
    pub fn span(&self) -> Span {
        Span::new(self.line, self.col)
    }

    /// A YAML syntax or construction error in `file`.
    pub fn from_yaml_error(file: &Path, error: &YamlError) -> Self {
        Self::error(
            file,
            Span::new(error.line, error.col),
            PathDisplay(&error.path).to_string(),
            error.message.clone(),
        )
        .with_optional_hint(error.hint.clone())
    }

    /// A YAML warning (duplicate key, number JSON cannot hold) in `file`.
    pub fn from_yaml_warning(file: &Path, warning: &YamlWarning) -> Self {
        Self::warning(
            file,
            Span::new(warning.line, warning.col),
            PathDisplay(&warning.path).to_string(),
            warning.message.clone(),
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.severity,
            self.message
        )?;
        if !self.field.is_empty() {
            write!(f, " (at `{}`)", self.field)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = help: {hint}")?;
        }
        Ok(())
    }
}

/// Renders a diagnostic rustc-style with the offending source line and a caret under the
/// column, for terminals:
///
/// ```text
/// error: unknown field `critera` in rule
///  --> rules/a.yaml:3:1
///   |
/// 3 | critera:
///   | ^^^^^^^ at `critera`
///   = help: did you mean `criteria`?
/// ```
///
/// `source` is the file's text; when the line is not in it, the snippet is left out.
pub fn render_snippet(diagnostic: &Diagnostic, source: &str) -> String {
    let line_number = diagnostic.line.to_string();
    let gutter = " ".repeat(line_number.len());
    let mut out = format!(
        "{}: {}\n{gutter}--> {}:{}:{}\n",
        diagnostic.severity,
        diagnostic.message,
        diagnostic.file.display(),
        diagnostic.line,
        diagnostic.col
    );
    let line_index = usize::try_from(diagnostic.line).unwrap_or(usize::MAX);
    let source_line = line_index
        .checked_sub(1)
        .and_then(|index| source.lines().nth(index));
    if let Some(text) = source_line {
        let text = text.trim_end_matches('\r');
        let col = usize::try_from(diagnostic.col.max(1)).unwrap_or(usize::MAX) - 1;
        // Keep tabs so that the caret lines up in a terminal.
        let padding: String = text
            .chars()
            .take(col)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let width = token_width(text.chars().skip(col));
        let label = if diagnostic.field.is_empty() {
            String::new()
        } else {
            format!(" at `{}`", diagnostic.field)
        };
        out.push_str(&format!(
            "{gutter} |\n{line_number} | {text}\n{gutter} | {padding}{}{label}\n",
            "^".repeat(width)
        ));
    }
    if let Some(hint) = &diagnostic.hint {
        out.push_str(&format!("{gutter} = help: {hint}\n"));
    }
    out
}

/// How many characters to underline: a quoted string to its closing quote, else a word up to
/// whitespace, a `: ` separator or flow punctuation; at least one.
fn token_width(mut rest: impl Iterator<Item = char>) -> usize {
    let Some(first) = rest.next() else {
        return 1;
    };
    if first == '"' || first == '\'' {
        let mut width = 1;
        let mut escaped = false;
        for c in rest {
            width += 1;
            if first == '"' && c == '\\' && !escaped {
                escaped = true;
                continue;
            }
            if c == first && !escaped {
                return width;
            }
            escaped = false;
        }
        return width;
    }
    if first.is_whitespace() {
        return 1;
    }
    let mut width = 1;
    let mut chars = rest.peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() || matches!(c, ',' | '[' | ']' | '{' | '}') {
            break;
        }
        if c == ':' && chars.peek().is_none_or(|next| next.is_whitespace()) {
            break;
        }
        width += 1;
    }
    width
}

/// The known name closest to `candidate`, if it is close enough to be a likely typo:
/// the same ignoring case and `-`/`_`, or a normalized Damerau-Levenshtein similarity of at
/// least 0.7 (one edit in four characters, three in ten). Ties go to the first known name.
pub fn did_you_mean<'a>(
    candidate: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let normalize = |text: &str| text.to_lowercase().replace('-', "_");
    let wanted = normalize(candidate);
    let mut best: Option<(f64, &'a str)> = None;
    for name in known {
        if name == candidate {
            continue;
        }
        let other = normalize(name);
        let score = if other == wanted {
            2.0
        } else {
            strsim::normalized_damerau_levenshtein(&wanted, &other)
        };
        if score >= 0.7 && best.is_none_or(|(best_score, _)| score > best_score) {
            best = Some((score, name));
        }
    }
    best.map(|(_, name)| name)
}

#[cfg(test)]
mod tests;
