//! `core.st2.DateTimer`: reading the `date` parameter and placing it in its time zone.
//!
//! StackStorm reads `date` with `dateutil.parser.parse`, which accepts almost anything.
//! Nerve accepts the forms StackStorm users write in practice, and says so when it cannot:
//!
//! - `YYYY-MM-DD`, then optionally `T`, `t` or spaces and `HH:MM`, `HH:MM:SS` or
//!   `HH:MM:SS.fraction` (`,` works as the decimal mark too; a date alone means midnight);
//! - then optionally, with or without a space before it, a UTC offset: `Z`, `UTC`, `GMT`,
//!   `+HH`, `+HHMM` or `+HH:MM` (or `-`).
//!
//! A date with an offset is that instant, whatever `timezone` says.
//! A date without one is a wall-clock time in `timezone` (UTC by default):
//! if that wall-clock time occurs twice (the hour repeated when clocks fall back), the first
//! occurrence is meant; if it does not occur at all (the hour skipped when clocks spring
//! forward), it is read with the offset in force just before the jump, which lands the
//! same distance after the jump (02:30 on the spring-forward night in Europe/Berlin is
//! 01:30 UTC, shown as 03:30 CEST) — what `zoneinfo` and pytz's `is_dst=False` do, so a
//! one-shot timer is never lost to a clock change.

use chrono::{
    DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;

use crate::ScheduleError;

/// Parses `text` and resolves it to an instant, reading naive times in `timezone`.
pub(crate) fn parse_date(text: &str, timezone: Tz) -> Result<DateTime<Utc>, ScheduleError> {
    let invalid = |reason| ScheduleError::InvalidDate {
        date: text.to_owned(),
        reason,
    };
    let (naive, offset) = Scanner::new(text.trim()).date_time().map_err(invalid)?;
    match offset {
        Some(offset) => offset
            .from_local_datetime(&naive)
            .single()
            .map(|instant| instant.with_timezone(&Utc))
            .ok_or(invalid("the date is out of range")),
        None => resolve_local(naive, timezone).ok_or(invalid("the date is out of range")),
    }
}

/// The instant of wall-clock time `naive` in `timezone`: the first occurrence when it is
/// ambiguous, the pre-transition offset when it falls in a gap.
fn resolve_local(naive: NaiveDateTime, timezone: Tz) -> Option<DateTime<Utc>> {
    if let Some(first) = timezone.from_local_datetime(&naive).earliest() {
        return Some(first.with_timezone(&Utc));
    }
    // In a gap: use the offset in force a day before (no zone changes offset twice a day).
    let before = naive.checked_sub_signed(TimeDelta::days(1))?;
    let offset = timezone.offset_from_utc_datetime(&before).fix();
    let utc = naive.checked_sub_signed(TimeDelta::seconds(offset.local_minus_utc().into()))?;
    Some(utc.and_utc())
}

/// A cursor over the date text; each method consumes one component.
struct Scanner<'a> {
    rest: &'a str,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Self { rest: text }
    }

    fn date_time(mut self) -> Result<(NaiveDateTime, Option<FixedOffset>), &'static str> {
        let date = self.date()?;
        let time = if self.rest.is_empty() {
            NaiveTime::MIN
        } else if let Some(rest) = self
            .rest
            .strip_prefix(['T', 't'])
            .or_else(|| self.rest.strip_prefix(' ').map(str::trim_start))
        {
            self.rest = rest;
            self.time()?
        } else {
            return Err("the date must be `YYYY-MM-DD`, followed by `T` or a space and the time");
        };
        self.rest = self.rest.trim_start();
        let offset = if self.rest.is_empty() {
            None
        } else {
            Some(self.offset()?)
        };
        if !self.rest.is_empty() {
            return Err("unexpected text after the date-time");
        }
        Ok((date.and_time(time), offset))
    }

    fn date(&mut self) -> Result<NaiveDate, &'static str> {
        const FORM: &str = "the date must be `YYYY-MM-DD`";
        let year = self.digits(4, 4).ok_or(FORM)?;
        self.expect('-').ok_or(FORM)?;
        let month = self.digits(1, 2).ok_or(FORM)?;
        self.expect('-').ok_or(FORM)?;
        let day = self.digits(1, 2).ok_or(FORM)?;
        let year = i32::try_from(year).map_err(|_| FORM)?;
        NaiveDate::from_ymd_opt(year, month, day).ok_or("no such calendar date")
    }

    fn time(&mut self) -> Result<NaiveTime, &'static str> {
        const FORM: &str = "the time must be `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fraction`";
        let hour = self.digits(1, 2).ok_or(FORM)?;
        self.expect(':').ok_or(FORM)?;
        let minute = self.digits(2, 2).ok_or(FORM)?;
        let mut second = 0;
        let mut nano = 0;
        if self.expect(':').is_some() {
            second = self.digits(2, 2).ok_or(FORM)?;
            if self.expect('.').or_else(|| self.expect(',')).is_some() {
                let digits: &str = self.take_while(|c| c.is_ascii_digit());
                if digits.is_empty() {
                    return Err(FORM);
                }
                // Nanosecond precision; further digits are dropped, as Python drops them
                // beyond microseconds.
                let kept = &digits[..digits.len().min(9)];
                let value: u32 = kept.parse().map_err(|_| FORM)?;
                nano = value * 10u32.pow(9 - u32::try_from(kept.len()).unwrap_or(9));
            }
        }
        NaiveTime::from_hms_nano_opt(hour, minute, second, nano).ok_or("no such time of day")
    }

    fn offset(&mut self) -> Result<FixedOffset, &'static str> {
        const FORM: &str = "the UTC offset must be `Z`, `UTC`, `+HH`, `+HHMM` or `+HH:MM`";
        for name in ["Z", "UTC", "GMT"] {
            if self.rest.len() >= name.len() && self.rest[..name.len()].eq_ignore_ascii_case(name) {
                self.rest = &self.rest[name.len()..];
                return FixedOffset::east_opt(0).ok_or(FORM);
            }
        }
        let sign = if self.expect('+').is_some() {
            1
        } else if self.expect('-').is_some() {
            -1
        } else {
            return Err(FORM);
        };
        let hours = self.digits(2, 2).ok_or(FORM)?;
        let minutes = if self.rest.is_empty() {
            0
        } else {
            self.expect(':');
            self.digits(2, 2).ok_or(FORM)?
        };
        if hours > 23 || minutes > 59 {
            return Err("the UTC offset is out of range");
        }
        let seconds = i32::try_from(hours * 3600 + minutes * 60).map_err(|_| FORM)?;
        FixedOffset::east_opt(sign * seconds).ok_or("the UTC offset is out of range")
    }

    /// Consumes `c` if it comes next.
    fn expect(&mut self, c: char) -> Option<()> {
        self.rest = self.rest.strip_prefix(c)?;
        Some(())
    }

    /// Consumes between `min` and `max` ASCII digits.
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let len = self
            .rest
            .bytes()
            .take(max)
            .take_while(u8::is_ascii_digit)
            .count();
        if len < min {
            return None;
        }
        let (digits, rest) = self.rest.split_at(len);
        self.rest = rest;
        digits.parse().ok()
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let end = self.rest.find(|c| !keep(c)).unwrap_or(self.rest.len());
        let (taken, rest) = self.rest.split_at(end);
        self.rest = rest;
        taken
    }
}
