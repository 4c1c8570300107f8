//! Messages as AMQP content: [`Message`] to `basic.publish` properties and back, and the
//! headers the broker and this implementation add (`x-delivery-count`, `x-death`, ours).
//!
//! A message's id is the AMQP `message-id`, its headers are the `headers` table (string values),
//! its `content-type` header is also the `content-type` property, and it is persistent
//! (`delivery-mode` 2). This module does not decide where a message goes.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldArray, FieldTable, ShortString};

use crate::{BusError, CONTENT_TYPE_HEADER, DeadLetterReason, Message};

/// Header carrying the publish sequence number a returned message is matched by
/// (see `publisher`); stripped on delivery.
pub(super) const PUBLISH_SEQ_HEADER: &str = "x-nerve-publish-seq";
/// Header carrying the original routing key of a replayed dead letter, which is republished
/// straight to its queue (default exchange, routing key = queue name); stripped on delivery.
pub(super) const ROUTING_KEY_HEADER: &str = "x-nerve-routing-key";
/// Quorum queues count returns of a message in this header.
const DELIVERY_COUNT_HEADER: &str = "x-delivery-count";
/// Dead-lettering records why and from where in this header.
const DEATH_HEADER: &str = "x-death";

/// Headers the broker or this implementation add, never shown as message headers.
const RESERVED_HEADERS: [&str; 11] = [
    PUBLISH_SEQ_HEADER,
    ROUTING_KEY_HEADER,
    DELIVERY_COUNT_HEADER,
    DEATH_HEADER,
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-limit",
];

/// Longest AMQP short string (message id, header name, content type), in bytes.
const MAX_SHORT_STRING: usize = 255;

/// Checks what AMQP cannot carry beyond [`Message::validate`]: short strings.
///
/// # Errors
///
/// [`BusError::Unrepresentable`] for a message id or header name over 255 bytes.
pub(super) fn check(message: &Message) -> Result<(), BusError> {
    let reason = if message.id.len() > MAX_SHORT_STRING {
        Some("its id is longer than 255 bytes (an AMQP message-id)")
    } else if message
        .headers
        .keys()
        .any(|name| name.len() > MAX_SHORT_STRING)
    {
        Some("a header name is longer than 255 bytes")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(BusError::Unrepresentable {
            id: message.id.clone(),
            reason,
        }),
        None => Ok(()),
    }
}

/// The properties `message` is published with; `seq` identifies the publish on its channel
/// and `original_routing_key` is set when replaying a dead letter.
pub(super) fn to_properties(
    message: &Message,
    seq: Option<u64>,
    original_routing_key: Option<&str>,
) -> BasicProperties {
    let mut headers = FieldTable::default();
    for (name, value) in &message.headers {
        headers.insert(
            ShortString::from(name.as_str()),
            AMQPValue::LongString(value.as_str().into()),
        );
    }
    if let Some(seq) = seq {
        headers.insert(
            PUBLISH_SEQ_HEADER.into(),
            AMQPValue::LongLongInt(i64::try_from(seq).unwrap_or(i64::MAX)),
        );
    }
    if let Some(routing_key) = original_routing_key {
        headers.insert(
            ROUTING_KEY_HEADER.into(),
            AMQPValue::LongString(routing_key.into()),
        );
    }
    let mut properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_message_id(message.id.as_str().into())
        .with_headers(headers);
    if let Some(content_type) = message
        .headers
        .get(CONTENT_TYPE_HEADER)
        .filter(|content_type| content_type.len() <= MAX_SHORT_STRING)
    {
        properties = properties.with_content_type(content_type.as_str().into());
    }
    properties
}

/// The message a delivery (or `basic.get`) carries.
pub(super) fn to_message(
    routing_key: &str,
    properties: &BasicProperties,
    body: Vec<u8>,
) -> Message {
    let mut headers = BTreeMap::new();
    let mut original_routing_key = None;
    if let Some(table) = properties.headers() {
        for (name, value) in table {
            let name = name.as_str();
            if name == ROUTING_KEY_HEADER {
                original_routing_key = string(value);
            } else if !RESERVED_HEADERS.contains(&name) {
                if let Some(value) = string(value) {
                    headers.insert(name.to_owned(), value);
                }
            }
        }
    }
    if let Some(content_type) = properties.content_type() {
        headers
            .entry(CONTENT_TYPE_HEADER.to_owned())
            .or_insert_with(|| content_type.to_string());
    }
    Message {
        id: properties
            .message_id()
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        routing_key: original_routing_key.unwrap_or_else(|| routing_key.to_owned()),
        headers,
        body: Bytes::from(body),
    }
}

/// Which delivery of the message this is, counting from 1: quorum queues count returns in
/// `x-delivery-count`; a redelivered message without it (a classic queue) is at least the
/// second.
pub(super) fn attempt(properties: &BasicProperties, redelivered: bool) -> u32 {
    let returns = header(properties, DELIVERY_COUNT_HEADER)
        .and_then(integer)
        .unwrap_or(0);
    let attempt = u32::try_from(returns).unwrap_or(u32::MAX).saturating_add(1);
    if redelivered { attempt.max(2) } else { attempt }
}

/// Whether the message is a replayed dead letter carrying its original routing key.
pub(super) fn carries_routing_key(properties: &BasicProperties) -> bool {
    header(properties, ROUTING_KEY_HEADER).is_some()
}

/// The publish sequence number of a returned message.
pub(super) fn publish_seq(properties: &BasicProperties) -> Option<u64> {
    header(properties, PUBLISH_SEQ_HEADER)
        .and_then(integer)
        .and_then(|seq| u64::try_from(seq).ok())
}

/// What `x-death` says about the latest dead-lettering of a message from `queue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Death {
    pub(super) reason: DeadLetterReason,
    /// The routing key the message was published with.
    pub(super) routing_key: Option<String>,
    pub(super) at: SystemTime,
    /// Returns counted by the queue before it gave up, when the broker recorded them.
    pub(super) returns: Option<u32>,
}

/// Reads the `x-death` entry for `queue` (the first entry is the latest death).
pub(super) fn death(properties: &BasicProperties, queue: &str) -> Option<Death> {
    let Some(AMQPValue::FieldArray(entries)) = header(properties, DEATH_HEADER) else {
        return None;
    };
    let tables: Vec<&FieldTable> = entries
        .as_slice()
        .iter()
        .filter_map(|entry| match entry {
            AMQPValue::FieldTable(table) => Some(table),
            _ => None,
        })
        .collect();
    let table = tables
        .iter()
        .find(|table| field(table, "queue").and_then(string).as_deref() == Some(queue))
        .or_else(|| tables.first())?;
    let reason = match field(table, "reason").and_then(string).as_deref() {
        Some("delivery_limit") => DeadLetterReason::DeliveryLimit,
        // `rejected`, and `expired` / `maxlen`, which Nerve's queues never cause.
        _ => DeadLetterReason::Rejected,
    };
    let routing_key = match field(table, "routing-keys") {
        Some(AMQPValue::FieldArray(keys)) => first_string(keys),
        _ => None,
    };
    let at = match field(table, "time") {
        Some(AMQPValue::Timestamp(seconds)) => {
            SystemTime::UNIX_EPOCH + Duration::from_secs(*seconds)
        }
        _ => SystemTime::UNIX_EPOCH,
    };
    let returns = header(properties, DELIVERY_COUNT_HEADER)
        .and_then(integer)
        .and_then(|count| u32::try_from(count).ok());
    Some(Death {
        reason,
        routing_key,
        at,
        returns,
    })
}

fn header<'a>(properties: &'a BasicProperties, name: &str) -> Option<&'a AMQPValue> {
    properties
        .headers()
        .as_ref()
        .and_then(|table| field(table, name))
}

fn field<'a>(table: &'a FieldTable, name: &str) -> Option<&'a AMQPValue> {
    table.inner().get(name)
}

fn first_string(array: &FieldArray) -> Option<String> {
    array.as_slice().first().and_then(string)
}

fn string(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(value) => {
            Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
        }
        AMQPValue::ShortString(value) => Some(value.to_string()),
        _ => None,
    }
}

fn integer(value: &AMQPValue) -> Option<i64> {
    match *value {
        AMQPValue::ShortShortInt(n) => Some(i64::from(n)),
        AMQPValue::ShortShortUInt(n) => Some(i64::from(n)),
        AMQPValue::ShortInt(n) => Some(i64::from(n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(n)),
        AMQPValue::LongInt(n) => Some(i64::from(n)),
        AMQPValue::LongUInt(n) => Some(i64::from(n)),
        AMQPValue::LongLongInt(n) => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_properties() {
        let message = Message::json("m-1", "a.b", &serde_json::json!({"n": 1}))
            .expect("JSON encodes")
            .with_header("trace-tag", "t-1");
        let properties = to_properties(&message, Some(7), None);
        assert_eq!(publish_seq(&properties), Some(7));
        assert_eq!(properties.delivery_mode(), &Some(2));
        assert_eq!(
            properties.content_type().as_ref().map(ShortString::as_str),
            Some("application/json")
        );
        let back = to_message("a.b", &properties, message.body.to_vec());
        assert_eq!(back, message);
    }

    #[test]
    fn replayed_messages_keep_their_routing_key() {
        let message = Message::new("m-1", "jobs.poison", "body");
        let properties = to_properties(&message, None, Some("jobs.poison"));
        let back = to_message("the-queue", &properties, b"body".to_vec());
        assert_eq!(back.routing_key, "jobs.poison");
        assert!(back.headers.is_empty(), "{:?}", back.headers);
    }

    #[test]
    fn attempts_count_returns_and_redelivery() {
        let mut headers = FieldTable::default();
        headers.insert(DELIVERY_COUNT_HEADER.into(), AMQPValue::LongLongInt(2));
        let counted = BasicProperties::default().with_headers(headers);
        assert_eq!(attempt(&counted, true), 3);
        assert_eq!(attempt(&BasicProperties::default(), false), 1);
        assert_eq!(attempt(&BasicProperties::default(), true), 2);
    }

    #[test]
    fn long_ids_and_header_names_are_unrepresentable() {
        assert!(check(&Message::new("x".repeat(255), "k", "")).is_ok());
        assert!(matches!(
            check(&Message::new("x".repeat(256), "k", "")),
            Err(BusError::Unrepresentable { .. })
        ));
        assert!(matches!(
            check(&Message::new("m", "k", "").with_header("h".repeat(256), "v")),
            Err(BusError::Unrepresentable { .. })
        ));
    }

    #[test]
    fn death_reads_the_entry_of_the_queue() {
        let mut entry = FieldTable::default();
        entry.insert("queue".into(), AMQPValue::LongString("q".into()));
        entry.insert(
            "reason".into(),
            AMQPValue::LongString("delivery_limit".into()),
        );
        entry.insert(
            "routing-keys".into(),
            AMQPValue::FieldArray(vec![AMQPValue::LongString("jobs.poison".into())].into()),
        );
        entry.insert("time".into(), AMQPValue::Timestamp(1_700_000_000));
        let mut headers = FieldTable::default();
        headers.insert(
            DEATH_HEADER.into(),
            AMQPValue::FieldArray(vec![AMQPValue::FieldTable(entry)].into()),
        );
        let properties = BasicProperties::default().with_headers(headers);
        let death = death(&properties, "q").expect("an x-death entry");
        assert_eq!(death.reason, DeadLetterReason::DeliveryLimit);
        assert_eq!(death.routing_key.as_deref(), Some("jobs.poison"));
        assert_eq!(
            death.at,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        );
        assert_eq!(death.returns, None);
    }
}
