//! `Message`: what is published on the bus — an idempotency key, a routing key, headers and a body.
//!
//! This module knows JSON only as a convenience for bodies; the bus itself moves opaque bytes.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::BusError;

/// The largest message body any implementation accepts: 16 MiB, RabbitMQ 4's default
/// `max_message_size`. Larger results belong in a file, not on the bus.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Header naming the body's content type; [`Message::json`] sets it to `application/json`.
pub const CONTENT_TYPE_HEADER: &str = "content-type";

/// One message: published to an exchange, routed by `routing_key` into queues, delivered to a
/// consumer at least once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Idempotency key, e.g. a trigger-instance id or an execution id.
    ///
    /// At-least-once delivery means a receiver can see the same `id` more than once; receivers
    /// make that harmless by recording what they did per `id` before acking.
    pub id: String,
    /// Dot-separated words that exchanges match against binding patterns (`request.local-shell-cmd`).
    pub routing_key: String,
    /// Free-form string headers, carried unchanged.
    pub headers: BTreeMap<String, String>,
    /// The payload.
    pub body: Bytes,
}

impl Message {
    /// A message with the given body and no headers.
    pub fn new(
        id: impl Into<String>,
        routing_key: impl Into<String>,
        body: impl Into<Bytes>,
    ) -> Self {
        Self {
            id: id.into(),
            routing_key: routing_key.into(),
            headers: BTreeMap::new(),
            body: body.into(),
        }
    }

    /// A message whose body is `value` as JSON, with `content-type: application/json`.
    ///
    /// # Errors
    ///
    /// [`BusError::Encode`] when `value` cannot be serialized (e.g. a map with non-string keys).
    pub fn json<T: Serialize + ?Sized>(
        id: impl Into<String>,
        routing_key: impl Into<String>,
        value: &T,
    ) -> Result<Self, BusError> {
        let id = id.into();
        let body = match serde_json::to_vec(value) {
            Ok(body) => body,
            Err(source) => return Err(BusError::Encode { id, source }),
        };
        Ok(Self::new(id, routing_key, body).with_header(CONTENT_TYPE_HEADER, "application/json"))
    }

    /// This message with one more header (replacing any header of the same name).
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// The body parsed as JSON into `T`.
    ///
    /// # Errors
    ///
    /// [`BusError::Decode`] when the body is not valid JSON for `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, BusError> {
        serde_json::from_slice(&self.body).map_err(|source| BusError::Decode {
            id: self.id.clone(),
            routing_key: self.routing_key.clone(),
            source,
        })
    }

    /// Checks the limits every implementation enforces before publishing: a routing key of at
    /// most 255 bytes (AMQP's short string) and a body of at most [`MAX_BODY_BYTES`].
    ///
    /// # Errors
    ///
    /// [`BusError::InvalidRoutingKey`] or [`BusError::MessageTooLarge`].
    pub fn validate(&self) -> Result<(), BusError> {
        crate::topic::check_routing_key(&self.routing_key)?;
        if self.body.len() > MAX_BODY_BYTES {
            return Err(BusError::MessageTooLarge {
                id: self.id.clone(),
                size: self.body.len(),
                limit: MAX_BODY_BYTES,
            });
        }
        Ok(())
    }
}
