//! The date formats `dateutil.parser.parse` is used for in StackStorm payloads: ISO 8601
//! (`T` or space separator, optional seconds and fraction, `Z`/`UTC`/`±hh[:mm]` offsets,
//! compact `YYYYMMDD[Thhmm[ss]]`), `YYYY/MM/DD`, and RFC 2822. A date without an offset is
//! UTC, as in `st2common.util.date.parse`. Fractions beyond microseconds are truncated.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Parses a date string to UTC.
pub(crate) fn parse_datetime(text: &str) -> Result<DateTime<Utc>, String> {
    let trimmed = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc2822(trimmed) {
        return Ok(dt.with_timezone(&Utc));
    }
    parse_iso(trimmed).ok_or_else(|| format!("Unknown string format: {trimmed}"))
}

struct Cursor<'t> {
    bytes: &'t [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn digits(&mut self, n: usize) -> Option<u32> {
        let slice = self.bytes.get(self.pos..self.pos + n)?;
        if !slice.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pos += n;
        slice.iter().try_fold(0u32, |acc, d| {
            acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
    }

    fn run_of_digits(&self) -> usize {
        self.bytes[self.pos..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn rest(&self) -> &[u8] {
        &self.bytes[self.pos..]
    }
}

fn parse_iso(text: &str) -> Option<DateTime<Utc>> {
    let mut c = Cursor {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let compact = c.run_of_digits();
    let (year, month, day) = if compact == 8 || compact == 12 || compact == 14 {
        (c.digits(4)?, c.digits(2)?, c.digits(2)?)
    } else {
        let year = c.digits(4)?;
        let separator = c.peek()?;
        if separator != b'-' && separator != b'/' {
            return None;
        }
        c.pos += 1;
        let month = c.digits(2)?;
        if !c.eat(separator) {
            return None;
        }
        (year, month, c.digits(2)?)
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let mut time = NaiveTime::MIN;
    let compact_time = compact == 12 || compact == 14;
    if compact_time
        || c.eat(b'T')
        || c.eat(b't')
        || (c.peek() == Some(b' ') && c.bytes.get(c.pos + 1).is_some_and(u8::is_ascii_digit))
    {
        if !compact_time && c.peek() == Some(b' ') {
            c.pos += 1;
        }
        let hour = c.digits(2)?;
        let with_colons = c.eat(b':');
        let minute = c.digits(2)?;
        let mut second = 0;
        let mut micros = 0;
        if (with_colons && c.eat(b':')) || (!with_colons && c.run_of_digits() >= 2) {
            second = c.digits(2)?;
            if c.eat(b'.') || c.eat(b',') {
                let n = c.run_of_digits();
                if n == 0 {
                    return None;
                }
                let mut fraction = 0;
                for i in 0..6 {
                    let digit = if i < n {
                        u32::from(c.rest()[i] - b'0')
                    } else {
                        0
                    };
                    fraction = fraction * 10 + digit;
                }
                micros = fraction;
                c.pos += n;
            }
        }
        time = NaiveTime::from_hms_micro_opt(hour, minute, second, micros)?;
    }
    let naive = NaiveDateTime::new(date, time);
    c.skip_spaces();
    let offset_seconds = parse_offset(&mut c)?;
    c.skip_spaces();
    if c.pos != c.bytes.len() {
        return None;
    }
    let offset = FixedOffset::east_opt(offset_seconds)?;
    let local = offset.from_local_datetime(&naive).single()?;
    Some(local.with_timezone(&Utc))
}

/// `Z`, `UTC`, `GMT`, `±hh`, `±hhmm`, `±hh:mm`, or nothing (UTC).
fn parse_offset(c: &mut Cursor<'_>) -> Option<i32> {
    let rest = c.rest();
    if rest.is_empty() {
        return Some(0);
    }
    for name in [&b"UTC"[..], b"GMT", b"Z", b"z"] {
        if rest.starts_with(name) {
            c.pos += name.len();
            return Some(0);
        }
    }
    let sign = match c.peek()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    c.pos += 1;
    let hours = c.digits(2)?;
    let with_colon = c.eat(b':');
    let minutes = if with_colon || c.run_of_digits() >= 2 {
        c.digits(2)?
    } else {
        0
    };
    let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    Some(sign * seconds)
}
