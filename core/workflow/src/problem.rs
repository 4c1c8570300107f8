//! [`Problem`]: one thing wrong with a workflow definition, with its place in the file.
//!
//! Parsing and validation collect every problem of a file before returning, so a user fixes
//! them all in one go. This module does not decide what is a problem; the `orquesta` and
//! `chain` modules do.

use std::fmt;

use nerve_yaml::{PathSegment, YamlDocument, YamlError, display_path};
use serde::Serialize;

/// Something wrong with a workflow definition, where it is and how to fix it.
///
/// Displays as `line:col path: message`, e.g.
/// ``12:9 tasks.create.next[0].do: unknown task `craete` (did you mean `create`?)``.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Line in the file, 1-based.
    pub line: u32,
    /// Column in the file (in characters), 1-based.
    pub col: u32,
    /// The field concerned, e.g. `tasks.create.next[0].do`; empty for the whole document.
    pub path: String,
    /// What is wrong, in plain words.
    pub message: String,
    /// How to fix it, when there is a likely fix.
    pub hint: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)?;
        if !self.path.is_empty() {
            write!(f, " {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl From<YamlError> for Problem {
    fn from(error: YamlError) -> Self {
        Problem {
            line: error.line,
            col: error.col,
            path: display_path(&error.path),
            message: error.message,
            hint: error.hint,
        }
    }
}

/// Collects problems against a parsed document, locating each by its field path.
pub(crate) struct Problems<'a> {
    doc: &'a YamlDocument,
    list: Vec<Problem>,
}

impl<'a> Problems<'a> {
    pub(crate) fn new(doc: &'a YamlDocument) -> Self {
        Problems {
            doc,
            list: Vec::new(),
        }
    }

    /// A problem with the value at `path`.
    pub(crate) fn at(&mut self, path: &[PathSegment], message: String, hint: Option<String>) {
        let span = self.doc.value_span(path);
        self.list.push(Problem {
            line: span.line,
            col: span.col,
            path: display_path(path),
            message,
            hint,
        });
    }

    /// A problem with the key of the value at `path` (an unknown or misplaced field).
    pub(crate) fn at_key(&mut self, path: &[PathSegment], message: String, hint: Option<String>) {
        let span = self.doc.key_span(path);
        self.list.push(Problem {
            line: span.line,
            col: span.col,
            path: display_path(path),
            message,
            hint,
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every problem, in file order (stable for problems at the same place).
    pub(crate) fn into_sorted(mut self) -> Vec<Problem> {
        self.list.sort_by_key(|p| (p.line, p.col));
        self.list
    }
}

/// A path built from a base and more segments.
pub(crate) fn join(base: &[PathSegment], more: &[PathSegment]) -> Vec<PathSegment> {
    let mut path = base.to_vec();
    path.extend_from_slice(more);
    path
}

/// The candidate closest to `name`, if one is close enough to be a likely typo: a small edit
/// distance (transpositions count once) or a high Jaro-Winkler similarity.
pub(crate) fn did_you_mean<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<String> {
    let len = name.chars().count();
    let allowed = if len < 3 { 0 } else { (len / 4).max(1) };
    candidates
        .into_iter()
        .filter(|candidate| *candidate != name)
        .map(|candidate| {
            (
                strsim::osa_distance(name, candidate),
                strsim::jaro_winkler(name, candidate),
                candidate,
            )
        })
        .filter(|(distance, score, _)| *distance <= allowed || *score >= 0.85)
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, candidate)| candidate.to_owned())
}

/// `message` followed by ``(did you mean `x`?)`` when there is a suggestion.
pub(crate) fn with_suggestion(message: String, suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!("{message} (did you mean `{s}`?)"),
        None => message,
    }
}
