//! Printing shared by commands: diagnostics with source snippets, JSON.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::PathBuf;

use nerve_packs::{Diagnostic, render_snippet};

/// Prints diagnostics to stderr, each with the offending source line when the file is readable.
pub(crate) fn print_diagnostics(diagnostics: &[Diagnostic]) {
    let mut sources: HashMap<PathBuf, Option<String>> = HashMap::new();
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    for diagnostic in diagnostics {
        let source = sources
            .entry(diagnostic.file.clone())
            .or_insert_with(|| fs::read_to_string(&diagnostic.file).ok());
        let text = match source {
            Some(source) => render_snippet(diagnostic, source),
            None => diagnostic.to_string(),
        };
        // A closed stderr is not worth failing over.
        let _ = writeln!(err, "{text}");
    }
}

/// Prints a JSON value to stdout, pretty.
pub(crate) fn print_json(value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    print_line(&text);
}

/// Prints one line to stdout, ignoring a closed pipe (`nerve ... | head`).
pub(crate) fn print_line(text: &str) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "{text}");
}
