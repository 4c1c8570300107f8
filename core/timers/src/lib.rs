//! Timer schedules (interval, date, cron with time zones) and the next-fire table; no IO.
