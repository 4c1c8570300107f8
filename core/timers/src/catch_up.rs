//! The catch-up policy: what happens to fire times that passed without firing.
//!
//! The rules are documented on [`CatchUp`], where users of the crate see them.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::schedule::DueTimes;

/// The default [`CatchUpPolicy::misfire_grace`]: 60 seconds.
///
/// Long enough that a restart or a busy engine does not turn an ordinary fire into a "missed"
/// one, short enough that a fire an hour late is reported as a catch-up.
pub const DEFAULT_MISFIRE_GRACE: Duration = Duration::from_secs(60);

/// The most missed cron fire times counted for one catch-up fire; beyond it the count is
/// reported as this value with [`Fire::missed_capped`](crate::Fire::missed_capped) set.
/// (Interval and date timers are counted exactly, by arithmetic.)
pub const MISSED_COUNT_CAP: u64 = 10_000;

/// What happens to fire times that passed without firing.
///
/// Fire times pass unfired while the process is down (the usual case, seen when the engine
/// re-registers its persisted timers after a restart) or while it is stalled (suspended VM,
/// clock jump).
/// Either way, when [`TimerTable::due`](crate::TimerTable::due) finds a timer due, it looks
/// at *all* of the timer's fire times up to `now` at once:
///
/// - **On time**: exactly one fire time is due and it is at most
///   [`misfire_grace`](CatchUpPolicy::misfire_grace) old.
///   It fires normally, with `missed = 0`, whatever the policy.
///   So a quick restart, or an engine a little late, never counts as a miss.
/// - **Misfire**: anything else, that is several fire times are due, or the only one is
///   older than the grace.
///   - [`CatchUp::FireOnce`] (the default): exactly **one** catch-up fire, now, for the
///     latest due fire time, whose `missed` is the number of fire times it stands for (all
///     the due ones, so a 1-minute timer down for 3 days fires once with `missed = 4320`).
///     Interval and date timers are counted exactly, by arithmetic; cron timers are counted
///     up to [`MISSED_COUNT_CAP`], beyond which [`Fire::missed_capped`](crate::Fire::missed_capped)
///     is set and `missed` is a lower bound.
///     It fires whatever the age of the missed fire times: the grace only decides whether a
///     lone late fire counts as missed.
///   - [`CatchUp::Skip`]: nothing fires; the missed fire times are dropped.
///
/// Either way the timer then continues on its schedule from its first fire time after `now`
/// (an interval timer keeps its phase), so a timer fires at most once per `due` call: never
/// a storm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Missed fire times are dropped; the timer waits for its next fire time after now.
    Skip,
    /// One catch-up fire stands for all the missed fire times (`missed = n`); then the timer
    /// continues on schedule.
    #[default]
    FireOnce,
}

/// The catch-up policy of a [`TimerTable`](crate::TimerTable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CatchUpPolicy {
    /// What a misfire does.
    pub catch_up: CatchUp,
    /// How late a lone fire may be and still count as on time.
    pub misfire_grace: Duration,
}

impl Default for CatchUpPolicy {
    /// [`CatchUp::FireOnce`] with [`DEFAULT_MISFIRE_GRACE`].
    fn default() -> Self {
        Self::new(CatchUp::FireOnce, DEFAULT_MISFIRE_GRACE)
    }
}

/// What the table does with one timer's due fire times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Emit one fire standing for `missed` missed fire times (0 when on time).
    Fire { missed: u64, capped: bool },
    /// Emit nothing.
    Drop,
}

impl CatchUpPolicy {
    /// A policy from its two settings.
    pub const fn new(catch_up: CatchUp, misfire_grace: Duration) -> Self {
        Self {
            catch_up,
            misfire_grace,
        }
    }

    /// Classifies the due fire times of one timer at `now`.
    pub(crate) fn decide(&self, due: &DueTimes, now: DateTime<Utc>) -> Decision {
        let grace = TimeDelta::from_std(self.misfire_grace).unwrap_or(TimeDelta::MAX);
        let on_time = due.count == 1 && now.signed_duration_since(due.latest) <= grace;
        if on_time {
            return Decision::Fire {
                missed: 0,
                capped: false,
            };
        }
        match self.catch_up {
            CatchUp::FireOnce => Decision::Fire {
                missed: due.count,
                capped: due.capped,
            },
            CatchUp::Skip => Decision::Drop,
        }
    }
}
