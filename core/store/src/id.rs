//! Record ids: ULID strings, sortable by creation time, so that key order in a tree is time order
//! and "newest first" is a reverse scan.
//!
//! Ids double as sled keys and as file names (result files), so the store refuses ids with
//! separators in them; see [`check_id`].

use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use ulid::{Generator, Ulid};

use crate::{Result, StoreError};

static GENERATOR: Mutex<Generator> = Mutex::new(Generator::new());

/// A new id: a ULID for the current time, strictly greater than every id this process generated
/// before.
pub fn new_id() -> String {
    let mut generator = GENERATOR.lock().unwrap_or_else(PoisonError::into_inner);
    let ulid = match generator.generate() {
        Ok(ulid) => ulid,
        Err(overflow) => overflow.commit_overflow_random(),
    };
    ulid.to_string()
}

/// A new id for a record that happened at `time` (imported or back-dated records, tests).
pub fn new_id_at(time: DateTime<Utc>) -> String {
    Ulid::from_datetime(SystemTime::from(time)).to_string()
}

/// The creation time encoded in an id, when the id is a ULID (or starts with one, as rule
/// enforcement keys `<trigger instance id>:<rule>` do).
pub(crate) fn id_time(id: &[u8]) -> Option<DateTime<Utc>> {
    let prefix = std::str::from_utf8(id.get(..ulid::ULID_LEN)?).ok()?;
    let ulid = Ulid::from_string(prefix).ok()?;
    DateTime::from_timestamp_millis(i64::try_from(ulid.timestamp_ms()).ok()?)
}

/// Whether `id` is a ULID as [`new_id`] writes it: 26 characters of Crockford base32 in capitals.
/// Among such ids key order is creation order; other ids (chosen by a client) carry no time.
pub(crate) fn is_ulid(id: &[u8]) -> bool {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    id.len() == ulid::ULID_LEN
        // The first character holds only the top 3 bits of the 48-bit time.
        && id[0] <= b'7'
        && id.iter().all(|byte| ALPHABET.contains(byte))
}

/// Refuses ids that cannot be a key segment or a file name: empty, longer than 512 bytes, with
/// `/`, `\`, NUL or control characters, or starting with `.`.
///
/// # Errors
///
/// [`StoreError::InvalidId`] naming `what` and the reason.
pub(crate) fn check_id(what: &'static str, id: &str) -> Result<()> {
    let reason = if id.is_empty() {
        Some("it is empty")
    } else if id.len() > 512 {
        Some("it is longer than 512 bytes")
    } else if id.starts_with('.') {
        Some("it starts with `.`")
    } else if id.chars().any(|c| c == '/' || c == '\\' || c.is_control()) {
        Some("it contains `/`, `\\` or a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StoreError::InvalidId {
            what,
            id: id.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_monotonic_and_carry_their_time() {
        let ids: Vec<String> = (0..1000).map(|_| new_id()).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        let at = DateTime::parse_from_rfc3339("2020-01-02T03:04:05.678Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = new_id_at(at);
        assert_eq!(id_time(id.as_bytes()), Some(at));
        assert_eq!(id_time(format!("{id}:pack.rule").as_bytes()), Some(at));
        assert_eq!(id_time(b"not-a-ulid"), None);
    }

    #[test]
    fn only_canonical_ulids_count_as_ulids() {
        assert!(is_ulid(new_id().as_bytes()));
        assert!(is_ulid(b"01ARZ3NDEKTSV4RRFFQ69G5FAV"));
        for other in [
            "t1",
            "01arz3ndektsv4rrffq69g5fav",
            "81ARZ3NDEKTSV4RRFFQ69G5FAV",
            "01ARZ3NDEKTSV4RRFFQ69G5FAI",
            "01ARZ3NDEKTSV4RRFFQ69G5FAVX",
        ] {
            assert!(!is_ulid(other.as_bytes()), "{other}");
        }
    }

    #[test]
    fn bad_ids_are_refused() {
        for bad in ["", "../x", "a/b", ".hidden", "a\0b", "tab\there"] {
            assert!(check_id("execution id", bad).is_err(), "{bad:?}");
        }
        check_id("execution id", &new_id()).unwrap();
        check_id("execution id", "exec-1_a.b").unwrap();
    }
}
