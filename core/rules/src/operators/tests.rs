//! Operator names, suggestions and date parsing; operator semantics are in the criteria table.

use chrono::{TimeZone, Utc};

use super::{Operator, parse_datetime};

#[test]
fn names_and_aliases() {
    assert_eq!(Operator::from_name("EQ"), Some(Operator::Equals));
    assert_eq!(Operator::from_name("td_gt"), Some(Operator::TimeDiffGt));
    assert_eq!(Operator::from_name("in"), Some(Operator::Inside));
    assert_eq!(Operator::from_name("equal"), None);
    assert_eq!(Operator::suggest("equal"), Some("equals"));
    assert_eq!(Operator::suggest("greatherthan"), Some("greaterthan"));
    assert_eq!(Operator::suggest("timediff_lte"), Some("timediff_lt"));
    assert_eq!(Operator::suggest("zzzzzzzz"), None);
}

#[test]
fn dates_parse_like_dateutil() {
    let utc = |y, mo, d, h, mi, s| Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap();
    let cases = [
        ("2024-01-02T03:04:05Z", utc(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02T03:04:05", utc(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02 03:04:05", utc(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02T03:04:05+02:00", utc(2024, 1, 2, 1, 4, 5)),
        ("2024-01-02T03:04:05-0130", utc(2024, 1, 2, 4, 34, 5)),
        ("2024-01-02T03:04", utc(2024, 1, 2, 3, 4, 0)),
        ("2024-01-02", utc(2024, 1, 2, 0, 0, 0)),
        ("20240102T030405", utc(2024, 1, 2, 3, 4, 5)),
        ("2024/01/02 03:04:05 UTC", utc(2024, 1, 2, 3, 4, 5)),
        ("Tue, 02 Jan 2024 03:04:05 +0000", utc(2024, 1, 2, 3, 4, 5)),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_datetime(text), Ok(expected), "{text}");
    }
    let fractional = parse_datetime("2024-01-02T03:04:05.1234567Z").unwrap();
    assert_eq!(fractional.timestamp_subsec_micros(), 123_456);
    assert!(parse_datetime("yesterday").is_err());
    assert!(parse_datetime("2024-13-01").is_err());
    assert!(parse_datetime("None").is_err());
}
