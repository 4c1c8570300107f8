//! Timestamps: RFC 3339 in UTC with microseconds, written by [`timestamp`] and read leniently
//! (any RFC 3339 offset) by [`parse_time`].

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

/// The store's timestamp text for `time`: RFC 3339, UTC, microseconds, `Z` suffix.
pub fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses an RFC 3339 timestamp with any offset; `None` when it is not one.
pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// `now - retention`, saturating instead of overflowing.
pub(crate) fn cutoff(now: DateTime<Utc>, retention: std::time::Duration) -> DateTime<Utc> {
    let delta = TimeDelta::from_std(retention).unwrap_or(TimeDelta::MAX);
    now.checked_sub_signed(delta)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Whether `time` (text) is within `[since, until]`; unparseable text never matches a bound.
pub(crate) fn within(
    time: &str,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> bool {
    if since.is_none() && until.is_none() {
        return true;
    }
    let Some(time) = parse_time(time) else {
        return false;
    };
    since.is_none_or(|since| time >= since) && until.is_none_or(|until| time <= until)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_bounds_apply() {
        let now = parse_time("2024-05-06T07:08:09.123456+02:00").unwrap();
        assert_eq!(timestamp(now), "2024-05-06T05:08:09.123456Z");
        assert_eq!(parse_time(&timestamp(now)), Some(now));
        assert!(within(
            "2024-05-06T05:08:09Z",
            Some(now - TimeDelta::hours(1)),
            None
        ));
        assert!(!within(
            "2024-05-06T05:08:09Z",
            None,
            Some(now - TimeDelta::hours(1))
        ));
        assert!(!within("yesterday", Some(now), None));
        assert!(within("yesterday", None, None));
        let far = cutoff(now, std::time::Duration::MAX);
        assert_eq!(far, DateTime::<Utc>::MIN_UTC);
    }
}
