//! Reading lapin's errors: which AMQP reply code closed a channel, and turning the rest into
//! [`BusError::Broker`].
//!
//! RabbitMQ answers a bad request by closing the channel with a reply code and a text
//! (`404 NOT_FOUND - no exchange 'x' in vhost '/'`); the typed [`BusError`]s the trait promises
//! are recovered from those here. Everything else (IO errors, a closed connection) is a
//! [`BusError::Broker`] naming the operation.

use lapin::protocol::{AMQPErrorKind, AMQPSoftError};

use crate::BusError;

/// A [`BusError::Broker`] for `operation` caused by `error`.
pub(super) fn broker(operation: impl Into<String>, error: lapin::Error) -> BusError {
    BusError::Broker {
        operation: operation.into(),
        source: Box::new(error),
    }
}

/// A [`BusError::Broker`] for `operation` with a plain reason (no client error to chain).
pub(super) fn broker_reason(operation: impl Into<String>, reason: &str) -> BusError {
    BusError::Broker {
        operation: operation.into(),
        source: reason.to_owned().into(),
    }
}

/// Whether the broker closed the channel with `404 NOT_FOUND`.
pub(super) fn is_not_found(error: &lapin::Error) -> bool {
    soft_error(error).is_some_and(|(kind, _)| kind == AMQPSoftError::NOTFOUND)
}

/// The reply text when the broker closed the channel with `406 PRECONDITION_FAILED`.
pub(super) fn precondition_failed(error: &lapin::Error) -> Option<&str> {
    soft_error(error)
        .filter(|(kind, _)| *kind == AMQPSoftError::PRECONDITIONFAILED)
        .map(|(_, text)| text)
}

fn soft_error(error: &lapin::Error) -> Option<(AMQPSoftError, &str)> {
    match error.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => match amqp.kind() {
            AMQPErrorKind::Soft(kind) => Some((kind.clone(), amqp.get_message().as_str())),
            AMQPErrorKind::Hard(_) => None,
        },
        _ => None,
    }
}

/// What a `406 PRECONDITION_FAILED` from `queue.declare` says differs:
/// `inequivalent arg 'x-delivery-limit' for queue 'q' in vhost '/': received '3' but current is '1'`
/// gives `("x-delivery-limit", Some("1"))`.
pub(super) fn inequivalent_arg(text: &str) -> Option<(&str, Option<&str>)> {
    let rest = text.split_once("inequivalent arg '")?.1;
    let (argument, rest) = rest.split_once('\'')?;
    let current = rest
        .split_once("current is '")
        .or_else(|| rest.split_once("current is the value '"))
        .and_then(|(_, value)| value.split_once('\''))
        .map(|(value, _)| value);
    Some((argument, current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inequivalent_arguments_are_read_from_the_reply_text() {
        let text = "PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue 'q' in \
                    vhost '/': received '3' but current is '1'";
        assert_eq!(
            inequivalent_arg(text),
            Some(("x-delivery-limit", Some("1")))
        );
        let older = "PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue 'q' in \
                     vhost '/': received the value '3' of type 'long' but current is the value \
                     '2' of type 'long'";
        assert_eq!(
            inequivalent_arg(older),
            Some(("x-delivery-limit", Some("2")))
        );
        let none = "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in vhost \
                    '/': received 'quorum' but current is none";
        assert_eq!(inequivalent_arg(none), Some(("x-queue-type", None)));
        assert_eq!(inequivalent_arg("something else"), None);
    }
}
