//! [`TimerTable`]: the next-fire table of every timer in the process.
//!
//! It owns no clock and no task: `now` is always an argument.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catch_up::{Decision, MISSED_COUNT_CAP};
use crate::{CatchUpPolicy, Schedule};

/// What the engine persists per timer so that a restart resumes where it stopped.
///
/// A new timer starts from [`TimerState::new`] with the registration time; after that the
/// engine stores the state carried by each [`Fire`] (or read with [`TimerTable::state`]) and
/// hands it back to [`TimerTable::upsert`] after a restart.
/// The next fire is always recomputed from `registered_at` and `handled_through`, so a state
/// stays valid when the timer's parameters change; `next_fire` is kept for display.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerState {
    /// When the timer was first registered.
    /// Interval timers fire at `registered_at + k × interval` (`k ≥ 1`); the first search of
    /// date and cron timers starts here (a date not after it is expired).
    pub registered_at: DateTime<Utc>,
    /// The latest scheduled fire time already dealt with: fired, coalesced into a catch-up
    /// fire, or skipped. `None` until the first.
    #[serde(default)]
    pub handled_through: Option<DateTime<Utc>>,
    /// When the timer last fired (the `now` of that [`TimerTable::due`] call).
    #[serde(default)]
    pub last_fired_at: Option<DateTime<Utc>>,
    /// The next scheduled fire time; `None` when the timer will not fire again.
    #[serde(default)]
    pub next_fire: Option<DateTime<Utc>>,
}

impl TimerState {
    /// The state of a timer registered at `registered_at` that has not fired yet.
    pub fn new(registered_at: DateTime<Utc>) -> Self {
        Self {
            registered_at,
            handled_through: None,
            last_fired_at: None,
            next_fire: None,
        }
    }
}

/// One timer firing, returned by [`TimerTable::due`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fire {
    /// The timer's key, as given to [`TimerTable::upsert`].
    pub key: String,
    /// The scheduled fire time this fire is for: for a catch-up fire, the latest missed one.
    pub scheduled_for: DateTime<Utc>,
    /// When it fired: the `now` given to [`TimerTable::due`].
    pub executed_at: DateTime<Utc>,
    /// How many scheduled fire times this catch-up fire stands for; 0 for an on-time fire.
    /// See [`CatchUp`](crate::CatchUp).
    pub missed: u64,
    /// `missed` reached [`MISSED_COUNT_CAP`] and is a lower bound (cron timers only).
    pub missed_capped: bool,
    /// The timer's state after this fire, for the engine to persist.
    pub state: TimerState,
}

/// What [`TimerTable::upsert`] made of a timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registration {
    /// The next fire is in the future.
    Scheduled {
        /// When.
        next_fire: DateTime<Utc>,
    },
    /// At least one fire time passed while the timer was not in a table (the process was
    /// down); the next [`TimerTable::due`] call handles it with the catch-up policy.
    Overdue {
        /// The first fire time that passed unfired.
        next_fire: DateTime<Utc>,
    },
    /// The timer has already fired its last time (a date timer that fired or whose fire was
    /// handled); it stays in the table, without a deadline.
    Finished,
    /// A date timer whose date is not after its registration: not scheduled, as StackStorm
    /// logs "Not scheduling expired timer".
    Expired {
        /// The date.
        date: DateTime<Utc>,
    },
    /// A cron timer that matches no time within [`MAX_SEARCH_YEARS`](crate::MAX_SEARCH_YEARS)
    /// years of its registration (e.g. `month: 2, day: 30`).
    NeverFires,
}

/// The next-fire table of every timer in the process.
///
/// One ordered set of `(next fire, key)` pairs plus a map from key to timer, instead of a
/// task or an OS timer per timer: registering, replacing and removing a timer cost
/// `O(log n)`, finding the next deadline is `O(log n)`, and [`TimerTable::due`] touches only
/// the timers that are due.
///
/// The engine's loop:
///
/// 1. at start, [`TimerTable::upsert`] every timer with its persisted [`TimerState`] (a new
///    timer with [`TimerState::new`]`(now)`), and again whenever a timer is created or
///    changed; [`TimerTable::remove`] when one is deleted;
/// 2. sleep until [`TimerTable::next_deadline`] (or until a change);
/// 3. call [`TimerTable::due`] with the current time, publish a trigger instance per
///    [`Fire`] (payload from [`payload`](crate::payload)), and persist each fire's
///    [`TimerState`].
///
/// Missed fire times are handled by the table's [`CatchUpPolicy`] (see
/// [`CatchUp`](crate::CatchUp)).
#[derive(Debug, Default)]
pub struct TimerTable {
    policy: CatchUpPolicy,
    timers: HashMap<Arc<str>, Entry>,
    /// `(next fire, key)` for every timer that has a next fire.
    queue: BTreeSet<(DateTime<Utc>, Arc<str>)>,
}

#[derive(Debug)]
struct Entry {
    schedule: Schedule,
    state: TimerState,
}

impl TimerTable {
    /// An empty table with the given catch-up policy.
    pub fn new(policy: CatchUpPolicy) -> Self {
        Self {
            policy,
            timers: HashMap::new(),
            queue: BTreeSet::new(),
        }
    }

    /// The catch-up policy.
    pub fn policy(&self) -> CatchUpPolicy {
        self.policy
    }

    /// Adds the timer `key`, or replaces it (schedule and state) if present.
    ///
    /// The schedule is anchored at `state.registered_at` (see [`Schedule::anchored_at`]) and
    /// the next fire is the first fire time after `state.handled_through` (or after
    /// `state.registered_at` for a timer that never fired); `state.next_fire` is overwritten
    /// with it.
    /// For a new timer pass [`TimerState::new`]`(now)`; after a restart pass the persisted
    /// state: fire times that passed meanwhile are reported as [`Registration::Overdue`] and
    /// handled by the next [`TimerTable::due`] call under the catch-up policy.
    /// `now` only classifies the result; it changes nothing in the table.
    pub fn upsert(
        &mut self,
        key: String,
        schedule: Schedule,
        state: TimerState,
        now: DateTime<Utc>,
    ) -> Registration {
        let key: Arc<str> = Arc::from(key);
        self.unqueue(&key);
        let schedule = schedule.anchored_at(state.registered_at);
        let mut state = state;
        state.next_fire = schedule.next_fire(state.handled_through.unwrap_or(state.registered_at));
        let registration = match (state.next_fire, state.handled_through) {
            (Some(next_fire), _) if next_fire > now => Registration::Scheduled { next_fire },
            (Some(next_fire), _) => Registration::Overdue { next_fire },
            (None, Some(_)) => Registration::Finished,
            (None, None) => match schedule.date() {
                Some(date) => Registration::Expired { date },
                None => Registration::NeverFires,
            },
        };
        if let Some(next_fire) = state.next_fire {
            self.queue.insert((next_fire, Arc::clone(&key)));
        }
        self.timers.insert(key, Entry { schedule, state });
        registration
    }

    /// Removes the timer `key`, returning its last state, or `None` if it is not present.
    pub fn remove(&mut self, key: &str) -> Option<TimerState> {
        self.unqueue(key);
        self.timers.remove(key).map(|entry| entry.state)
    }

    /// The earliest next fire time of all timers; `None` when no timer will fire again.
    /// It may be in the past (overdue timers after a restart): call [`TimerTable::due`] then.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.queue.first().map(|(deadline, _)| *deadline)
    }

    /// Fires every timer whose next fire time is `<= now`, in fire-time order.
    ///
    /// Each due timer considers all its fire times up to `now` at once and, following the
    /// [`CatchUp`](crate::CatchUp) policy, fires once (on time, or as a catch-up standing
    /// for the missed ones) or not at all; then it moves to its first fire time after `now`.
    /// So each timer appears at most once in the result.
    /// Every returned [`Fire`] carries the timer's new [`TimerState`] for the engine to
    /// persist.
    /// (A misfire dropped under [`CatchUp::Skip`](crate::CatchUp::Skip) produces no fire; its
    /// state need not be persisted, since after a restart the same fire times are dropped
    /// again.)
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<Fire> {
        let mut fires = Vec::new();
        while self
            .queue
            .first()
            .is_some_and(|(deadline, _)| *deadline <= now)
        {
            let Some((deadline, key)) = self.queue.pop_first() else {
                break;
            };
            let Some(entry) = self.timers.get_mut(&key) else {
                continue;
            };
            let due = entry.schedule.due_times(deadline, now, MISSED_COUNT_CAP);
            entry.state.handled_through = Some(due.latest);
            // No fire time lies in (latest, now], so this equals next_fire(latest), and it
            // is after `now` by construction.
            entry.state.next_fire = entry.schedule.next_fire(now);
            if let Decision::Fire { missed, capped } = self.policy.decide(&due, now) {
                entry.state.last_fired_at = Some(now);
                fires.push(Fire {
                    key: key.to_string(),
                    scheduled_for: due.latest,
                    executed_at: now,
                    missed,
                    missed_capped: capped,
                    state: entry.state.clone(),
                });
            }
            if let Some(next_fire) = entry.state.next_fire {
                self.queue.insert((next_fire, key));
            }
        }
        fires
    }

    /// The number of timers in the table, including those that will not fire again.
    pub fn len(&self) -> usize {
        self.timers.len()
    }

    /// Whether the table has no timers.
    pub fn is_empty(&self) -> bool {
        self.timers.is_empty()
    }

    /// The number of timers that have a next fire time.
    pub fn scheduled_len(&self) -> usize {
        self.queue.len()
    }

    /// Whether the timer `key` is in the table.
    pub fn contains(&self, key: &str) -> bool {
        self.timers.contains_key(key)
    }

    /// The current state of the timer `key`.
    pub fn state(&self, key: &str) -> Option<&TimerState> {
        self.timers.get(key).map(|entry| &entry.state)
    }

    /// The (anchored) schedule of the timer `key`.
    pub fn schedule(&self, key: &str) -> Option<&Schedule> {
        self.timers.get(key).map(|entry| &entry.schedule)
    }

    /// Takes `key`'s pending deadline, if any, out of the queue.
    fn unqueue(&mut self, key: &str) {
        let Some((stored_key, entry)) = self.timers.get_key_value(key) else {
            return;
        };
        if let Some(next_fire) = entry.state.next_fire {
            self.queue.remove(&(next_fire, Arc::clone(stored_key)));
        }
    }
}
