//! `core.st2.CronTimer`: APScheduler 3.x `CronTrigger` fields and the next matching time.
//!
//! # Unspecified fields
//!
//! APScheduler's `CronTrigger.__init__` walks the fields from most to least significant
//! (`year, month, day, week, day_of_week, hour, minute, second`) and, once it has passed the
//! *least* significant field that was given, fills every remaining unspecified field with
//! its default (`DEFAULT_VALUES`: `month` 1, `day` 1, `hour`/`minute`/`second` 0, `week`,
//! `day_of_week` and `year` `*`); unspecified fields *before* that point are `*`.
//! So `hour: 5` fires daily at 05:00:00, `month: 6` fires on 1 June at 00:00:00, and
//! `{hour: 5, second: 10}` fires at 05:00:10, 05:01:10, … 05:59:10 (`minute` lies before the
//! least significant given field, `second`, so it is `*`).
//! With no field at all, every field is `*`: the timer fires every second, as in StackStorm.
//! [`CronSpec::from_params`] implements exactly this rule.
//!
//! # Search
//!
//! [`CronSpec::next_wall`] finds the next matching *wall-clock* time field by field, like
//! APScheduler's `get_next_fire_time`: when a field has no matching value left, it moves to
//! the start of the next value of the enclosing field and starts over, so a search costs a
//! few steps per month or year it crosses, never one per second.
//! Searches stop [`MAX_SEARCH_YEARS`](crate::MAX_SEARCH_YEARS) years after their start, so a
//! spec that can never match (`month: 2, day: 30`) yields `None` instead of looping.
//! Time zones and daylight saving are applied on top, in [`crate::Schedule`].

mod field;

use std::fmt;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use serde_json::Value;

use crate::ScheduleError;
use crate::params::{Params, describe};
use field::{Expr, FieldKind, parse_field};

/// A parsed cron spec: one value set per field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CronSpec {
    year: Vec<Expr>,
    /// Bit `m` set: month `m` (1–12) matches.
    month: u64,
    /// The `day` expressions; [`Self::day_static`] caches them when no month context is needed.
    day: Vec<Expr>,
    /// Bit `d` set: day `d` matches in every month that has it (no `last`/weekday position).
    day_static: Option<u64>,
    /// Bit `w` set: ISO week `w` (1–53) matches.
    week: u64,
    /// Bit `d` set: weekday `d` (0 = Monday) matches.
    day_of_week: u64,
    hour: u64,
    minute: u64,
    second: u64,
    /// The expressions as given (for display), indexed like [`FieldKind::ALL`].
    given: [Option<String>; 8],
}

impl CronSpec {
    /// Reads the eight cron fields (each an integer or an expression string), applying
    /// APScheduler's default rule for unspecified fields (see the module docs).
    pub(crate) fn from_params(params: &Params<'_>) -> Result<Self, ScheduleError> {
        let mut given: [Option<String>; 8] = Default::default();
        for (slot, kind) in given.iter_mut().zip(FieldKind::ALL) {
            *slot = match params.get(kind.name()) {
                None => None,
                Some(Value::String(text)) => Some(text.clone()),
                Some(Value::Number(number)) if number.is_i64() || number.is_u64() => {
                    Some(number.to_string())
                }
                Some(other) => {
                    return Err(ScheduleError::WrongType {
                        parameter: kind.name(),
                        expected: "an integer or a cron expression string",
                        found: describe(other),
                    });
                }
            };
        }
        let least_significant_given = given.iter().rposition(Option::is_some);

        let mut exprs: Vec<Vec<Expr>> = Vec::with_capacity(8);
        for (index, kind) in FieldKind::ALL.into_iter().enumerate() {
            let text = match &given[index] {
                Some(text) => text.as_str(),
                None if least_significant_given.is_some_and(|last| index > last) => {
                    kind.default_expression()
                }
                None => "*",
            };
            let parsed = parse_field(kind, text).map_err(|(expression, problem)| {
                ScheduleError::InvalidCronField {
                    field: kind.name(),
                    expression,
                    problem,
                }
            })?;
            exprs.push(parsed);
        }
        let mask = |kind: FieldKind| {
            let list = &exprs[kind as usize];
            (kind.min()..=kind.max())
                .filter(|value| list.iter().any(|expr| expr.matches(*value, kind.max(), 0)))
                .fold(0u64, |mask, value| mask | (1 << value))
        };
        let day = exprs[FieldKind::Day as usize].clone();
        let day_static = (!day.iter().any(Expr::needs_month)).then(|| mask(FieldKind::Day));
        Ok(Self {
            year: exprs[FieldKind::Year as usize].clone(),
            month: mask(FieldKind::Month),
            day,
            day_static,
            week: mask(FieldKind::Week),
            day_of_week: mask(FieldKind::DayOfWeek),
            hour: mask(FieldKind::Hour),
            minute: mask(FieldKind::Minute),
            second: mask(FieldKind::Second),
            given,
        })
    }

    /// The first wall-clock time `>= start` (whole seconds) that matches every field, or
    /// `None` if there is none up to the end of year `last_year`.
    pub(crate) fn next_wall(&self, start: NaiveDateTime, last_year: i32) -> Option<NaiveDateTime> {
        let mut at = Cursor::from(start);
        loop {
            if at.year > last_year {
                return None;
            }
            // Year.
            let year = self.next_year(at.year)?;
            if year > last_year {
                return None;
            }
            if year != at.year {
                at = Cursor::start_of_year(year);
            }
            // Month.
            match next_bit(self.month, at.month) {
                None => {
                    at = Cursor::start_of_year(at.year + 1);
                    continue;
                }
                Some(month) if month != at.month => at.set_month(month),
                Some(_) => {}
            }
            // Day (with `week` and `day_of_week`, which select days too).
            match next_bit(self.day_mask(at.year, at.month), at.day) {
                None => {
                    at.next_month();
                    continue;
                }
                Some(day) if day != at.day => at.set_day(day),
                Some(_) => {}
            }
            // Time of day.
            match next_bit(self.hour, at.hour) {
                None => {
                    at.next_day();
                    continue;
                }
                Some(hour) if hour != at.hour => at.set_hour(hour),
                Some(_) => {}
            }
            match next_bit(self.minute, at.minute) {
                None => {
                    at.next_hour();
                    continue;
                }
                Some(minute) if minute != at.minute => at.set_minute(minute),
                Some(_) => {}
            }
            match next_bit(self.second, at.second) {
                None => {
                    at.next_minute();
                    continue;
                }
                Some(second) => at.second = second,
            }
            return NaiveDate::from_ymd_opt(at.year, at.month, at.day)?
                .and_hms_opt(at.hour, at.minute, at.second);
        }
    }

    /// The first matching year `>= year`.
    fn next_year(&self, year: i32) -> Option<i32> {
        let from = u32::try_from(year).ok()?;
        self.year
            .iter()
            .filter_map(|expr| expr.next_value(from, FieldKind::Year.max()))
            .min()
            .and_then(|year| i32::try_from(year).ok())
    }

    /// The days of `year`-`month` that match `day`, `week` and `day_of_week` (bit `d` = day `d`).
    fn day_mask(&self, year: i32, month: u32) -> u64 {
        let length = days_in_month(year, month);
        let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
            return 0;
        };
        let first_weekday = first.weekday().num_days_from_monday();
        let in_month = (1u64 << (length + 1)) - 2;
        let mut mask = match self.day_static {
            Some(mask) => mask,
            None => (1..=length)
                .filter(|day| {
                    self.day
                        .iter()
                        .any(|expr| expr.matches(*day, length, first_weekday))
                })
                .fold(0, |mask, day| mask | (1 << day)),
        } & in_month;
        let all_weeks = self.week & ALL_WEEKS == ALL_WEEKS;
        let all_weekdays = self.day_of_week & ALL_WEEKDAYS == ALL_WEEKDAYS;
        if !(all_weeks && all_weekdays) {
            for day in 1..=length {
                let Some(date) = first.with_day(day) else {
                    continue;
                };
                let weekday = date.weekday().num_days_from_monday();
                let week = date.iso_week().week();
                if self.day_of_week & (1 << weekday) == 0 || self.week & (1 << week) == 0 {
                    mask &= !(1 << day);
                }
            }
        }
        mask
    }
}

const ALL_WEEKS: u64 = ((1 << 54) - 1) & !1;
const ALL_WEEKDAYS: u64 = (1 << 7) - 1;

impl fmt::Display for CronSpec {
    /// `cron[hour='5', minute='*/10']`: the given fields, as APScheduler prints its trigger.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cron[")?;
        let mut first = true;
        for (kind, given) in FieldKind::ALL.iter().zip(&self.given) {
            if let Some(text) = given {
                if !first {
                    f.write_str(", ")?;
                }
                first = false;
                write!(f, "{}='{}'", kind.name(), text.trim())?;
            }
        }
        f.write_str("]")
    }
}

/// The smallest set bit `>= from`.
fn next_bit(mask: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = mask >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

/// Days in `month` (1–12) of `year` (proleptic Gregorian).
pub(crate) fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// A wall-clock position during the search; setting a field resets the smaller ones to their
/// minimum, and the `next_*` moves carry into the larger ones.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl From<NaiveDateTime> for Cursor {
    fn from(at: NaiveDateTime) -> Self {
        Self {
            year: at.year(),
            month: at.month(),
            day: at.day(),
            hour: at.hour(),
            minute: at.minute(),
            second: at.second(),
        }
    }
}

impl Cursor {
    fn start_of_year(year: i32) -> Self {
        Self {
            year,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
        }
    }

    fn set_month(&mut self, month: u32) {
        self.month = month;
        self.set_day(1);
    }

    fn set_day(&mut self, day: u32) {
        self.day = day;
        self.set_hour(0);
    }

    fn set_hour(&mut self, hour: u32) {
        self.hour = hour;
        self.set_minute(0);
    }

    fn set_minute(&mut self, minute: u32) {
        self.minute = minute;
        self.second = 0;
    }

    fn next_month(&mut self) {
        if self.month == 12 {
            *self = Self::start_of_year(self.year + 1);
        } else {
            self.set_month(self.month + 1);
        }
    }

    fn next_day(&mut self) {
        if self.day >= days_in_month(self.year, self.month) {
            self.next_month();
        } else {
            self.set_day(self.day + 1);
        }
    }

    fn next_hour(&mut self) {
        if self.hour == 23 {
            self.next_day();
        } else {
            self.set_hour(self.hour + 1);
        }
    }

    fn next_minute(&mut self) {
        if self.minute == 59 {
            self.next_hour();
        } else {
            self.set_minute(self.minute + 1);
        }
    }
}
