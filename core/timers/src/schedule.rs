//! [`Schedule`]: when one timer fires, parsed from its trigger type and parameters.

use std::fmt;

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::ScheduleError;
use crate::cron::CronSpec;
use crate::date::parse_date;
use crate::interval::IntervalSpec;
use crate::params::Params;

/// The trigger type reference of interval timers.
pub const INTERVAL_TIMER: &str = "core.st2.IntervalTimer";
/// The trigger type reference of one-shot date timers.
pub const DATE_TIMER: &str = "core.st2.DateTimer";
/// The trigger type reference of cron timers.
pub const CRON_TIMER: &str = "core.st2.CronTimer";

/// How far a cron search looks ahead, in years after the year it starts in; a spec with no
/// matching time in that window (such as `month: 2, day: 30`) never fires.
pub const MAX_SEARCH_YEARS: i32 = 200;

/// Which of the three timer types a [`Schedule`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// `core.st2.IntervalTimer`: every `delta` × `unit`.
    Interval,
    /// `core.st2.DateTimer`: once, at `date`.
    Date,
    /// `core.st2.CronTimer`: whenever the wall clock matches the cron fields.
    Cron,
}

impl TimerKind {
    /// The trigger type reference (`core.st2.IntervalTimer`, …).
    pub fn trigger_type(self) -> &'static str {
        match self {
            Self::Interval => INTERVAL_TIMER,
            Self::Date => DATE_TIMER,
            Self::Cron => CRON_TIMER,
        }
    }
}

/// When one timer fires.
///
/// Built by [`Schedule::parse`] from a trigger type reference and the trigger's
/// `parameters`, and queried with [`Schedule::next_fire`].
///
/// # Cron fields
///
/// `year`, `month`, `day`, `week` (ISO week), `day_of_week`, `hour`, `minute`, `second`,
/// each an integer or a string holding a comma-separated list (spaces around commas are
/// fine) of APScheduler 3.x expressions:
///
/// | item | meaning | fields |
/// | --- | --- | --- |
/// | `*` | every value | all |
/// | `*/n` | every `n`th value, counting from the field minimum | all |
/// | `a` | the value `a` | all |
/// | `a-b` | `a` to `b` inclusive (no wrap-around) | all |
/// | `a-b/n`, `a/n` | every `n`th value from `a` (to `b`, or to the field maximum) | all |
/// | `jan`…`dec`, `jan-mar` | month names, any case | `month` |
/// | `mon`…`sun`, `mon-fri` | weekday names, any case; as numbers, **0 is Monday** | `day_of_week` |
/// | `last` | the last day of the month | `day` |
/// | `1st mon` … `5th sun`, `last fri` | the *n*th or last such weekday of the month | `day` |
///
/// Ranges: `year` 1970–9999, `month` 1–12, `day` 1–31, `week` 1–53, `day_of_week` 0–6,
/// `hour` 0–23, `minute` and `second` 0–59; a step must be at least 1 and no larger than
/// the span it steps over (APScheduler rejects `*/60` for minutes too).
/// All given fields must match (`day` and `day_of_week` together mean both, unlike Vixie
/// cron).
///
/// **Unspecified fields** follow APScheduler's `CronTrigger.__init__`: walking the fields from
/// most to least significant (`year, month, day, week, day_of_week, hour, minute, second`),
/// every unspecified field *after* the least significant given field takes its default
/// (`month` and `day` 1, `hour`, `minute` and `second` 0, `week`, `day_of_week` `*`), and
/// every unspecified field *before* it is `*`.
/// So `hour: 5` fires daily at 05:00:00, `month: 6` on 1 June at 00:00:00, and
/// `{hour: 5, second: 10}` at 05:00:10, 05:01:10, …, 05:59:10 (`minute` comes before
/// `second`, so it is `*`).
/// With no field at all every field is `*`: the timer fires every second, as in StackStorm.
///
/// A cron search looks at most [`MAX_SEARCH_YEARS`] years ahead; a spec that never matches
/// (`month: 2, day: 30`) has no next fire.
///
/// # Time zones and daylight saving
///
/// `timezone` is an IANA name (UTC when absent).
/// Interval timers ignore it: they are absolute durations.
/// Date timers use it to read a `date` without a UTC offset (see below).
/// Cron timers match the fields against the wall clock of that zone, with this rule at
/// daylight-saving transitions:
///
/// - **A wall-clock time that does not exist** (skipped when clocks spring forward, such as
///   02:30 in Europe/Berlin on the last Sunday of March) **is skipped**: a cron at 02:30 does
///   not fire that day, and `*/30` minutes goes from 01:30 straight to 03:00.
/// - **A wall-clock time that occurs twice** (the hour repeated when clocks fall back)
///   **fires once, at its first occurrence**, never twice and never zero times.
///   This holds for every matching wall-clock time, so a `*/30`-minutes cron fires at 02:00
///   and 02:30 summer time and then at 03:00 winter time, leaving out the repeated hour;
///   use an interval timer for "every 30 minutes of elapsed time".
///
/// In other words a cron timer fires at the first instant at which the local clock shows each
/// matching time.
/// APScheduler 3.x documents that wall-clock schedules may be skipped or repeated around
/// transitions, and what it actually does depends on its version and on whether the zone
/// comes from pytz or zoneinfo; Nerve fixes the rule above (the one APScheduler 4 adopts for
/// missing times) and tests it.
///
/// # Dates
///
/// `date` is `YYYY-MM-DD`, optionally followed by `T` or spaces and `HH:MM`, `HH:MM:SS` or
/// `HH:MM:SS.fraction` (a date alone is midnight), optionally followed by a UTC offset `Z`,
/// `UTC`, `GMT`, `±HH`, `±HHMM` or `±HH:MM`.
/// With an offset it is that instant; without one it is a wall-clock time in `timezone`.
/// A wall-clock date that falls in a spring-forward gap is read with the offset in force
/// before the jump (02:30 on Berlin's spring-forward night is 01:30 UTC, shown as 03:30
/// CEST), so a one-shot timer is never lost; one that occurs twice means the first
/// occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    timezone: Tz,
    spec: Spec,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Spec {
    Interval {
        interval: IntervalSpec,
        /// Fires are `anchor + k × interval`; `None` until anchored.
        anchor: Option<DateTime<Utc>>,
    },
    Date(DateTime<Utc>),
    Cron(Box<CronSpec>),
}

impl Schedule {
    /// Parses a timer from its trigger type reference and its `parameters` object.
    ///
    /// `trigger_type` is [`INTERVAL_TIMER`], [`DATE_TIMER`] or [`CRON_TIMER`]; `parameters`
    /// follows that type's `parameters_schema` (`packs/core/triggers/*.yaml`):
    ///
    /// - interval: `unit` (`weeks`, `days`, `hours`, `minutes`, `seconds`), `delta`
    ///   (integer ≥ 1), `timezone`;
    /// - date: `date` (see [`Schedule`] and the forms listed in
    ///   [`ScheduleError::InvalidDate`]), `timezone`;
    /// - cron: `year`, `month`, `day`, `week`, `day_of_week`, `hour`, `minute`, `second`
    ///   (each an integer or an APScheduler expression such as `*/5`, `mon-fri`, `last`,
    ///   `2nd tue`; `day_of_week` 0 is Monday), `timezone`.
    ///   Unspecified fields follow APScheduler's rule: those less significant than the least
    ///   significant given field take their minimum (`hour: 5` means 05:00:00), the others
    ///   are `*`.
    ///
    /// A `null` value counts as absent.
    /// An interval schedule is not anchored yet (see [`Schedule::anchored_at`]).
    ///
    /// # Errors
    ///
    /// [`ScheduleError`] naming the parameter (or cron field) and the offending value when
    /// the trigger type is not a timer, a parameter is unknown, missing or of the wrong type,
    /// the time zone is unknown, `delta` is below 1, the date cannot be read, or a cron
    /// expression is invalid or out of range.
    pub fn parse(trigger_type: &str, parameters: &Value) -> Result<Self, ScheduleError> {
        match trigger_type {
            INTERVAL_TIMER => {
                let params =
                    Params::new(INTERVAL_TIMER, parameters, &["unit", "delta", "timezone"])?;
                Ok(Self {
                    timezone: params.timezone()?,
                    spec: Spec::Interval {
                        interval: IntervalSpec::from_params(&params)?,
                        anchor: None,
                    },
                })
            }
            DATE_TIMER => {
                let params = Params::new(DATE_TIMER, parameters, &["date", "timezone"])?;
                let timezone = params.timezone()?;
                let date = match params.required("date")? {
                    Value::String(text) => parse_date(text, timezone)?,
                    other => {
                        return Err(ScheduleError::WrongType {
                            parameter: "date",
                            expected: "a date-time string",
                            found: crate::params::describe(other),
                        });
                    }
                };
                Ok(Self {
                    timezone,
                    spec: Spec::Date(date),
                })
            }
            CRON_TIMER => {
                let params = Params::new(
                    CRON_TIMER,
                    parameters,
                    &[
                        "timezone",
                        "year",
                        "month",
                        "day",
                        "week",
                        "day_of_week",
                        "hour",
                        "minute",
                        "second",
                    ],
                )?;
                Ok(Self {
                    timezone: params.timezone()?,
                    spec: Spec::Cron(Box::new(CronSpec::from_params(&params)?)),
                })
            }
            other => Err(ScheduleError::UnknownTriggerType {
                trigger_type: other.to_owned(),
            }),
        }
    }

    /// Anchors an interval schedule: its fires become `registered_at + k × interval` for
    /// `k ≥ 1`, the phase APScheduler gives a timer started at `registered_at`.
    /// [`TimerTable::upsert`](crate::TimerTable::upsert) does this with the persisted
    /// registration time, so restarts keep the phase.
    /// Date and cron schedules are returned unchanged.
    #[must_use]
    pub fn anchored_at(mut self, registered_at: DateTime<Utc>) -> Self {
        if let Spec::Interval { anchor, .. } = &mut self.spec {
            *anchor = Some(registered_at);
        }
        self
    }

    /// Which timer type this is.
    pub fn kind(&self) -> TimerKind {
        match self.spec {
            Spec::Interval { .. } => TimerKind::Interval,
            Spec::Date(_) => TimerKind::Date,
            Spec::Cron(_) => TimerKind::Cron,
        }
    }

    /// The time zone (UTC unless `timezone` was given).
    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The run date of a date timer, `None` for the other kinds.
    pub fn date(&self) -> Option<DateTime<Utc>> {
        match self.spec {
            Spec::Date(date) => Some(date),
            Spec::Interval { .. } | Spec::Cron(_) => None,
        }
    }

    /// The interval of an interval timer, `None` for the other kinds.
    pub fn interval(&self) -> Option<TimeDelta> {
        match &self.spec {
            Spec::Interval { interval, .. } => Some(interval.every),
            Spec::Date(_) | Spec::Cron(_) => None,
        }
    }

    /// The first fire time strictly after `after`, or `None` if the timer never fires again.
    ///
    /// - Interval: the next `anchor + k × interval` (`k ≥ 1`) after `after`; without an
    ///   anchor, `after + interval`.
    /// - Date: the date if it is after `after`, else `None`.
    /// - Cron: the first instant after `after` at which the wall clock in the timer's zone
    ///   matches every field, with the daylight-saving rule described on [`Schedule`];
    ///   `None` if nothing matches within [`MAX_SEARCH_YEARS`] years.
    ///
    /// Cron and date times are whole seconds when they come from whole-second input;
    /// interval fires keep the anchor's sub-second part.
    pub fn next_fire(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.spec {
            Spec::Interval { interval, anchor } => interval.next_fire(*anchor, after),
            Spec::Date(date) => (*date > after).then_some(*date),
            Spec::Cron(cron) => self.next_cron_fire(cron, after),
        }
    }

    fn next_cron_fire(&self, cron: &CronSpec, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.timezone).naive_local();
        let last_year = local.year().saturating_add(MAX_SEARCH_YEARS);
        // Wall-clock candidates start at the next whole second after `after`'s wall time.
        let mut start = local
            .with_nanosecond(0)?
            .checked_add_signed(TimeDelta::seconds(1))?;
        loop {
            let wall = cron.next_wall(start, last_year)?;
            // `earliest` is the only occurrence, the first of two (fall back), or nothing
            // (spring-forward gap: skipped).
            if let Some(first) = self.timezone.from_local_datetime(&wall).earliest() {
                let instant = first.with_timezone(&Utc);
                // A wall time whose first occurrence is not after `after` happens when
                // `after` lies in the second pass of a repeated hour: it already fired.
                if instant > after {
                    return Some(instant);
                }
            }
            start = wall.checked_add_signed(TimeDelta::seconds(1))?;
        }
    }

    /// How many fire times lie in `[first_due, now]`, counting at most `cap`, where
    /// `first_due` is itself a fire time; and the latest of them (exact even when the count
    /// is capped).
    pub(crate) fn due_times(
        &self,
        first_due: DateTime<Utc>,
        now: DateTime<Utc>,
        cap: u64,
    ) -> DueTimes {
        if now < first_due {
            return DueTimes {
                count: 0,
                capped: false,
                latest: first_due,
            };
        }
        match &self.spec {
            Spec::Interval { interval, .. } => {
                let (count, latest) = interval.due_times(first_due, now);
                DueTimes {
                    count,
                    capped: false,
                    latest,
                }
            }
            Spec::Date(_) => DueTimes {
                count: 1,
                capped: false,
                latest: first_due,
            },
            Spec::Cron(_) => {
                let mut count = 1;
                let mut latest = first_due;
                while let Some(next) = self.next_fire(latest).filter(|next| *next <= now) {
                    if count == cap {
                        return DueTimes {
                            count,
                            capped: true,
                            latest: self.last_fire_at_or_before(latest, now),
                        };
                    }
                    count += 1;
                    latest = next;
                }
                DueTimes {
                    count,
                    capped: false,
                    latest,
                }
            }
        }
    }

    /// The latest fire time `<= now`, given a fire time `known <= now`.
    ///
    /// Bisects on whole seconds with [`Self::next_fire`] (monotone in its argument), so it
    /// costs about 40 searches whatever the distance; cron fire times are whole seconds.
    fn last_fire_at_or_before(&self, known: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
        // Invariant: next_fire(lo) <= now, next_fire(hi) > now (hi = now satisfies it).
        let mut lo = known.timestamp();
        let mut hi = now.timestamp();
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let fires_by_now = Utc
                .timestamp_opt(mid, 0)
                .single()
                .and_then(|mid| self.next_fire(mid))
                .is_some_and(|next| next <= now);
            if fires_by_now {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Utc.timestamp_opt(lo, 0)
            .single()
            .and_then(|lo| self.next_fire(lo))
            .filter(|next| *next <= now)
            .unwrap_or(known)
    }
}

/// The fire times due at once: see [`Schedule::due_times`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DueTimes {
    pub(crate) count: u64,
    pub(crate) capped: bool,
    pub(crate) latest: DateTime<Utc>,
}

impl fmt::Display for Schedule {
    /// `every 5 minutes`, `once at 2014-12-31 23:59:59 UTC`, or
    /// `cron[hour='5', minute='*/10'] in Europe/Berlin`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.spec {
            Spec::Interval { interval, .. } => write!(f, "{interval}"),
            Spec::Date(date) => write!(f, "once at {date}"),
            Spec::Cron(cron) => write!(f, "{cron} in {}", self.timezone.name()),
        }
    }
}
