//! Timer schedules (interval, date, cron with time zones) and the next-fire table; no IO.
//!
//! This crate owns the *when* of Nerve's three built-in timer trigger types,
//! `core.st2.IntervalTimer`, `core.st2.DateTimer` and `core.st2.CronTimer`:
//!
//! - [`Schedule`] parses a timer's `parameters` (the contract is the `parameters_schema` in
//!   `packs/core/triggers/*.yaml`) and answers [`Schedule::next_fire`]: the first fire time
//!   strictly after an instant.
//!   Cron follows APScheduler 3.x `CronTrigger` semantics (the scheduler StackStorm uses),
//!   with an explicit rule for daylight-saving transitions (see [`Schedule`]).
//! - [`TimerTable`] is the next-fire table for every timer of the process: one ordered
//!   structure, `O(log n)` per change, instead of one task per timer.
//!   [`TimerTable::due`] hands out [`Fire`]s and the new [`TimerState`] of each timer that
//!   fired, which the engine persists so that a restart resumes where it stopped.
//! - [`CatchUp`] and [`CatchUpPolicy`] say what happens to fires that were missed while the
//!   process was down (or stalled): one coalesced catch-up fire, or none — never a storm.
//! - [`payload`] builds StackStorm's timer trigger payload for a [`Fire`].
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use nerve_timers::{CRON_TIMER, Schedule, TimerState, TimerTable, payload};
//! use serde_json::json;
//!
//! let now = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single().ok_or("bad time")?;
//! // 05:00 Berlin time every day (minute and second default to 0, APScheduler's rule).
//! let parameters = json!({"hour": 5, "timezone": "Europe/Berlin"});
//! let schedule = Schedule::parse(CRON_TIMER, &parameters)?;
//!
//! let mut table = TimerTable::default();
//! table.upsert("examples.morning".to_owned(), schedule, TimerState::new(now), now);
//! let deadline = table.next_deadline().ok_or("no deadline")?;
//! assert_eq!(deadline.to_rfc3339(), "2024-01-01T04:00:00+00:00");
//!
//! let fires = table.due(deadline);
//! assert_eq!(fires.len(), 1);
//! assert_eq!(
//!     payload(&fires[0]),
//!     json!({"executed_at": "2024-01-01 04:00:00+00:00", "schedule": null})
//! );
//! // The engine persists `fires[0].state` and passes it back to `upsert` after a restart.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Architecture invariant:** the crate is pure.
//! It does no IO, spawns nothing and never reads a clock: every function that needs the
//! current time takes `now` as an argument, so the engine drives it and tests control it.

mod catch_up;
mod cron;
mod date;
mod error;
mod interval;
mod params;
mod payload;
mod schedule;
mod table;

pub use catch_up::{CatchUp, CatchUpPolicy, DEFAULT_MISFIRE_GRACE, MISSED_COUNT_CAP};
pub use chrono_tz::Tz;
pub use error::{CronProblem, ScheduleError};
pub use payload::{payload, python_utc_str};
pub use schedule::{CRON_TIMER, DATE_TIMER, INTERVAL_TIMER, MAX_SEARCH_YEARS, Schedule, TimerKind};
pub use table::{Fire, Registration, TimerState, TimerTable};
