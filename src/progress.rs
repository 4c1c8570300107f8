//! One progress line per long step of a command (`nerve pack install`: clone, extract,
//! install): a spinner with the step's name while it runs on a terminal, then a line saying how
//! it ended; on anything else (a pipe, a log) just the `==> step` line, so scripts and tests read
//! plain text.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A step in progress; [`Step::done`] or [`Step::failed`] ends it (dropping it clears it).
pub(crate) struct Step {
    bar: Option<ProgressBar>,
    name: String,
}

impl Step {
    /// Starts a step named `name` (shown on stderr).
    pub(crate) fn start(name: impl Into<String>) -> Step {
        let name = name.into();
        if !std::io::stderr().is_terminal() {
            eprintln!("==> {name}");
            return Step { bar: None, name };
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(name.clone());
        bar.enable_steady_tick(Duration::from_millis(100));
        Step {
            bar: Some(bar),
            name,
        }
    }

    /// Ends the step as done.
    pub(crate) fn done(self) {
        if let Some(bar) = &self.bar {
            bar.finish_with_message(format!("{} done", self.name));
        }
    }

    /// Ends the step as failed (the error itself is reported by the caller).
    pub(crate) fn failed(self) {
        if let Some(bar) = &self.bar {
            bar.abandon_with_message(format!("{} failed", self.name));
        }
    }
}
