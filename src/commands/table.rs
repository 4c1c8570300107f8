//! Human output of client commands: aligned tables, `label: value` records, timestamps and
//! durations. Values arrive from the server already masked; nothing here unmasks or filters.

use serde_json::Value;

use crate::output::print_line;

/// Widest a free-text cell (descriptions) gets in a table before it is cut with `…`.
const TEXT_WIDTH: usize = 60;

/// A table printed with columns aligned on the widest cell, headers in capitals.
#[derive(Debug)]
pub(crate) struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column headers.
    pub(crate) fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; line breaks in cells become spaces.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(
            cells
                .into_iter()
                .map(|cell| cell.replace(['\n', '\r'], " "))
                .collect(),
        );
    }

    /// Prints the table to stdout, or `empty` when it has no rows.
    pub(crate) fn print(&self, empty: &str) {
        if self.rows.is_empty() {
            print_line(empty);
            return;
        }
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let render = |cells: &mut dyn Iterator<Item = &str>| {
            let mut line = String::new();
            for (index, (cell, width)) in cells.zip(&widths).enumerate() {
                if index > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                let pad = width.saturating_sub(cell.chars().count());
                line.extend(std::iter::repeat_n(' ', pad));
            }
            line.trim_end().to_owned()
        };
        print_line(&render(&mut self.headers.iter().copied()));
        for row in &self.rows {
            print_line(&render(&mut row.iter().map(String::as_str)));
        }
    }
}

/// Prints `label: value` lines with the values aligned; multi-line values are indented under
/// their label.
pub(crate) fn print_record(fields: &[(&str, String)]) {
    let width = fields
        .iter()
        .map(|(label, _)| label.chars().count())
        .max()
        .unwrap_or(0);
    for (label, value) in fields {
        let mut lines = value.lines();
        let first = lines.next().unwrap_or_default();
        let pad = " ".repeat(width - label.chars().count());
        print_line(format!("{label}:{pad} {first}").trim_end());
        for line in lines {
            print_line(&format!("{}  {line}", " ".repeat(width)));
        }
    }
}

/// A free-text cell cut to [`TEXT_WIDTH`] characters.
pub(crate) fn short_text(text: Option<&str>) -> String {
    let text = text.unwrap_or_default().trim();
    let first_line = text.lines().next().unwrap_or_default();
    if first_line.chars().count() <= TEXT_WIDTH && first_line.len() == text.len() {
        return first_line.to_owned();
    }
    let cut: String = first_line.chars().take(TEXT_WIDTH - 1).collect();
    format!("{}…", cut.trim_end())
}

/// An RFC 3339 timestamp as `YYYY-MM-DD HH:MM:SS` (UTC); unparsable text is shown as is.
pub(crate) fn timestamp(text: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(text).map_or_else(
        |_| text.to_owned(),
        |time| {
            time.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        },
    )
}

/// Seconds as `0.042s`, `12.3s` or `4m05s`.
pub(crate) fn duration(seconds: f64) -> String {
    if seconds < 10.0 {
        format!("{seconds:.3}s")
    } else if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else {
        // Whole seconds are enough once minutes show.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let whole = seconds.round() as u64;
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

/// Milliseconds from `start` to `time` (both RFC 3339), when both parse.
pub(crate) fn offset_ms(start: &str, time: &str) -> Option<i64> {
    let start = chrono::DateTime::parse_from_rfc3339(start).ok()?;
    let time = chrono::DateTime::parse_from_rfc3339(time).ok()?;
    Some((time - start).num_milliseconds())
}

/// A JSON value for a cell or record: strings bare, everything else as compact JSON.
pub(crate) fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A JSON value as pretty JSON (for records: parameters, payloads, results).
pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// `yes`/`no`.
pub(crate) fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

/// Prints a note about a partial list (`showing 50 of 120; use -n/--offset`) to stderr.
pub(crate) fn note_partial(shown: usize, offset: usize, total: usize) {
    if offset + shown < total {
        eprintln!(
            "note: showing {} to {} of {total}; page with -n and --offset",
            offset + 1,
            offset + shown
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{duration, short_text, timestamp};

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0.0421), "0.042s");
        assert_eq!(duration(12.34), "12.3s");
        assert_eq!(duration(245.2), "4m05s");
    }

    #[test]
    fn timestamps_are_utc_seconds() {
        assert_eq!(
            timestamp("2024-05-01T10:00:00.123456Z"),
            "2024-05-01 10:00:00"
        );
        assert_eq!(timestamp("not a time"), "not a time");
    }

    #[test]
    fn long_text_is_cut() {
        assert_eq!(short_text(Some("short")), "short");
        assert_eq!(short_text(Some("two\nlines")), "two…");
        assert_eq!(short_text(Some(&"x".repeat(100))).chars().count(), 60);
    }
}
