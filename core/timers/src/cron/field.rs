//! One cron field: its name, range and APScheduler expression syntax.
//!
//! A field value is a comma-separated list (spaces around commas allowed) of items, each one
//! of (as in APScheduler 3.x `apscheduler.triggers.cron.expressions`):
//!
//! | item | meaning | fields |
//! | --- | --- | --- |
//! | `*` | every value | all |
//! | `*/n` | every `n`th value, counting from the field minimum | all |
//! | `a` | the value `a` | all |
//! | `a-b` | `a` to `b` inclusive | all |
//! | `a-b/n`, `a/n` | every `n`th value from `a` (to `b`, or to the field maximum) | all |
//! | `jan`…`dec`, `jan-mar` | month names (any case) | `month` |
//! | `mon`…`sun`, `mon-fri` | weekday names (any case); `0` is Monday | `day_of_week` |
//! | `last` | the last day of the month | `day` |
//! | `1st mon` … `5th sun`, `last fri` | the *n*th / last given weekday of the month | `day` |
//!
//! Validation mirrors APScheduler: values must lie in the field's range, a range may not run
//! backwards (no wrap-around), and a step must be at least 1 and no larger than the span it
//! steps over.

use crate::CronProblem;

/// The eight cron fields, most significant first (APScheduler's `FIELD_NAMES` order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldKind {
    Year,
    Month,
    Day,
    Week,
    DayOfWeek,
    Hour,
    Minute,
    Second,
}

impl FieldKind {
    /// All fields, most significant first.
    pub(crate) const ALL: [Self; 8] = [
        Self::Year,
        Self::Month,
        Self::Day,
        Self::Week,
        Self::DayOfWeek,
        Self::Hour,
        Self::Minute,
        Self::Second,
    ];

    /// The parameter name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Year => "year",
            Self::Month => "month",
            Self::Day => "day",
            Self::Week => "week",
            Self::DayOfWeek => "day_of_week",
            Self::Hour => "hour",
            Self::Minute => "minute",
            Self::Second => "second",
        }
    }

    /// The smallest value (APScheduler's `MIN_VALUES`).
    pub(crate) fn min(self) -> u32 {
        match self {
            Self::Year => 1970,
            Self::Month | Self::Day | Self::Week => 1,
            Self::DayOfWeek | Self::Hour | Self::Minute | Self::Second => 0,
        }
    }

    /// The largest value (APScheduler's `MAX_VALUES`; for `day`, months shorter than 31
    /// days cut it further when matching).
    pub(crate) fn max(self) -> u32 {
        match self {
            Self::Year => 9999,
            Self::Month => 12,
            Self::Day => 31,
            Self::Week => 53,
            Self::DayOfWeek => 6,
            Self::Hour => 23,
            Self::Minute | Self::Second => 59,
        }
    }

    /// The value an unspecified field takes when it is less significant than every given
    /// field (APScheduler's `DEFAULT_VALUES`).
    pub(crate) fn default_expression(self) -> &'static str {
        match self {
            Self::Year | Self::Week | Self::DayOfWeek => "*",
            Self::Month | Self::Day => "1",
            Self::Hour | Self::Minute | Self::Second => "0",
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Self::Month => "`*`, `*/n`, `a`, `a-b`, `a-b/n`, `a/n` or month names like `jan-mar`",
            Self::DayOfWeek => {
                "`*`, `*/n`, `a`, `a-b`, `a-b/n`, `a/n` (0 is Monday) or weekday names like `mon-fri`"
            }
            Self::Day => {
                "`*`, `*/n`, `a`, `a-b`, `a-b/n`, `a/n`, `last`, `last fri` or `1st`…`5th` \
                 followed by a weekday name"
            }
            _ => "`*`, `*/n`, `a`, `a-b`, `a-b/n` or `a/n`",
        }
    }
}

/// One item of a field's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expr {
    /// Values `first`, `first + step`, … up to `last` (the field maximum when `None`).
    /// `*` and `*/n` are ranges from the field minimum.
    Range {
        first: u32,
        last: Option<u32>,
        step: u32,
    },
    /// `last`: the month's last day.
    LastDayOfMonth,
    /// `1st mon` … `5th sun` (`nth` 1–5), or `last sun` (`nth` `None`); weekday 0 is Monday.
    WeekdayPosition { nth: Option<u32>, weekday: u32 },
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const POSITIONS: [&str; 5] = ["1st", "2nd", "3rd", "4th", "5th"];

impl Expr {
    /// Whether `value` matches, given the field's largest value here (`max`; for `day` the
    /// month's length) and, for the weekday positions, the weekday of the month's first day.
    pub(crate) fn matches(&self, value: u32, max: u32, first_weekday: u32) -> bool {
        match *self {
            Self::Range { first, last, step } => {
                let last = last.map_or(max, |last| last.min(max));
                value >= first && value <= last && (value - first) % step == 0
            }
            Self::LastDayOfMonth => value == max,
            Self::WeekdayPosition { nth, weekday } => {
                // Day of the month of the first such weekday, then the nth or last one.
                let first_hit = (weekday + 7 - first_weekday) % 7 + 1;
                let target = match nth {
                    Some(nth) => first_hit + (nth - 1) * 7,
                    None => first_hit + (max - first_hit) / 7 * 7,
                };
                value == target && target <= max
            }
        }
    }

    /// The smallest matching value `>= from` in a field without calendar context (`year`),
    /// or `None`.
    pub(crate) fn next_value(&self, from: u32, max: u32) -> Option<u32> {
        match *self {
            Self::Range { first, last, step } => {
                let last = last.map_or(max, |last| last.min(max));
                let start = from.max(first);
                let next = start + (step - (start - first) % step) % step;
                (next <= last).then_some(next)
            }
            Self::LastDayOfMonth | Self::WeekdayPosition { .. } => None,
        }
    }

    /// Whether matching depends on the month (only `day` expressions can).
    pub(crate) fn needs_month(&self) -> bool {
        !matches!(self, Self::Range { .. })
    }
}

/// Parses a field's whole value (a comma-separated list).
/// On error, returns the offending item with the problem.
pub(crate) fn parse_field(
    kind: FieldKind,
    value: &str,
) -> Result<Vec<Expr>, (String, CronProblem)> {
    value
        .trim()
        .split(',')
        .map(|item| {
            let item = item.trim();
            parse_item(kind, item).map_err(|problem| (item.to_owned(), problem))
        })
        .collect()
}

fn parse_item(kind: FieldKind, item: &str) -> Result<Expr, CronProblem> {
    if item.is_empty() {
        return Err(CronProblem::Empty);
    }
    let unrecognized = CronProblem::Unrecognized {
        expected: kind.expected(),
    };
    let lower = item.to_ascii_lowercase();
    let (min, max) = (kind.min(), kind.max());

    // `*` and `*/n`.
    if let Some(rest) = lower.strip_prefix('*') {
        let step = match rest.strip_prefix('/') {
            None if rest.is_empty() => None,
            None => return Err(unrecognized),
            Some(step) => Some(number(step).ok_or(unrecognized)?),
        };
        let step = check_step(step, max - min)?;
        return Ok(Expr::Range {
            first: min,
            last: None,
            step,
        });
    }

    // `last`, `last fri`, `2nd tue` (checked before numbers: `2nd` starts with a digit).
    if kind == FieldKind::Day {
        if let Some(expr) = parse_day_keyword(&lower) {
            return Ok(expr);
        }
    }

    // A negative number (from an integer parameter such as `minute: -1`).
    if lower
        .strip_prefix('-')
        .is_some_and(|digits| number(digits).is_some())
    {
        return Err(CronProblem::OutOfRange { min, max });
    }

    // `a`, `a-b`, `a/n`, `a-b/n`.
    if lower.starts_with(|c: char| c.is_ascii_digit()) {
        let (range, step) = match lower.split_once('/') {
            Some((range, step)) => (range, Some(number(step).ok_or(unrecognized.clone())?)),
            None => (lower.as_str(), None),
        };
        let (first, last) = match range.split_once('-') {
            Some((first, last)) => (
                number(first).ok_or(unrecognized.clone())?,
                Some(number(last).ok_or(unrecognized.clone())?),
            ),
            None => (number(range).ok_or(unrecognized)?, None),
        };
        return checked_range(kind, first, last, step);
    }

    // Names.
    let names: &[&str] = match kind {
        FieldKind::Month => &MONTHS,
        FieldKind::DayOfWeek => &WEEKDAYS,
        FieldKind::Day => return parse_day_keyword(&lower).ok_or(unrecognized),
        _ => return Err(unrecognized),
    };
    if !lower.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(unrecognized);
    }
    let unknown_name = CronProblem::UnknownName {
        expected: if kind == FieldKind::Month {
            "`jan` … `dec`"
        } else {
            "`mon` … `sun`"
        },
    };
    // Month names count from 1, weekday names from 0 (Monday).
    let offset = u32::from(kind == FieldKind::Month);
    let lookup = |name: &str| {
        names
            .iter()
            .position(|candidate| *candidate == name)
            .and_then(|index| u32::try_from(index).ok())
            .map(|index| index + offset)
            .ok_or(unknown_name.clone())
    };
    let (first, last) = match lower.split_once('-') {
        Some((first, last)) => (lookup(first)?, Some(lookup(last)?)),
        None => (lookup(&lower)?, None),
    };
    checked_range(kind, first, last, None)
}

/// `last`, `last <weekday>`, `<1st…5th> <weekday>` (day field only).
fn parse_day_keyword(lower: &str) -> Option<Expr> {
    if lower == "last" {
        return Some(Expr::LastDayOfMonth);
    }
    let mut words = lower.split_whitespace();
    let (position, weekday) = (words.next()?, words.next()?);
    if words.next().is_some() {
        return None;
    }
    let weekday = u32::try_from(WEEKDAYS.iter().position(|name| *name == weekday)?).ok()?;
    let nth = if position == "last" {
        None
    } else {
        Some(u32::try_from(POSITIONS.iter().position(|name| *name == position)?).ok()? + 1)
    };
    Some(Expr::WeekdayPosition { nth, weekday })
}

/// Validates `first[-last][/step]` the way APScheduler's `RangeExpression` does.
/// A single value without a step is the range `first-first`.
fn checked_range(
    kind: FieldKind,
    first: u32,
    last: Option<u32>,
    step: Option<u32>,
) -> Result<Expr, CronProblem> {
    let (min, max) = (kind.min(), kind.max());
    let out_of_range = CronProblem::OutOfRange { min, max };
    let last = match (last, step) {
        (None, None) => Some(first),
        (last, _) => last,
    };
    if first < min || first > max || last.is_some_and(|last| last > max) {
        return Err(out_of_range);
    }
    if last.is_some_and(|last| first > last) {
        return Err(CronProblem::ReversedRange);
    }
    let step = check_step(step, last.unwrap_or(max) - first)?;
    Ok(Expr::Range { first, last, step })
}

/// A step must be at least 1 and, when given, at most the span it steps over.
fn check_step(step: Option<u32>, span: u32) -> Result<u32, CronProblem> {
    match step {
        None | Some(1) => Ok(1),
        Some(0) => Err(CronProblem::ZeroStep),
        Some(step) if step > span => Err(CronProblem::StepTooLarge { step, span }),
        Some(step) => Ok(step),
    }
}

/// A non-empty run of ASCII digits; out-of-range numbers saturate so that they are
/// reported as out of range rather than unrecognized.
fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(u32::MAX))
}
