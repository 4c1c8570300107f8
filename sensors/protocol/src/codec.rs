//! One message per line, in both directions.

use serde::Serialize;

use crate::{HostMessage, SensorMessage};

/// A line that is not a valid message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Not JSON, not an object, or an unknown/malformed message.
    #[error("invalid protocol message: {reason}: `{line}`")]
    Invalid {
        /// The line, shortened to 200 characters.
        line: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Encodes a message as one line, without the trailing newline.
pub fn encode<T: Serialize>(message: &T) -> String {
    // Serializing these types cannot fail: every map key is a string.
    serde_json::to_string(message).unwrap_or_else(|e| {
        serde_json::json!({"type": "error", "message": format!("unserializable message: {e}")})
            .to_string()
    })
}

/// Decodes a line the host sent.
///
/// # Errors
/// The line is not a host message.
pub fn decode_host(line: &str) -> Result<HostMessage, ProtocolError> {
    decode(line)
}

/// Decodes a line a sensor sent.
///
/// # Errors
/// The line is not a sensor message.
pub fn decode_sensor(line: &str) -> Result<SensorMessage, ProtocolError> {
    decode(line)
}

fn decode<T: serde::de::DeserializeOwned>(line: &str) -> Result<T, ProtocolError> {
    let line = line.trim_end_matches(['\r', '\n']);
    let invalid = |reason: String| ProtocolError::Invalid {
        line: line.chars().take(200).collect(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| invalid(format!("not JSON ({e})")))?;
    let Some(kind) = value
        .get("type")
        .and_then(|t| t.as_str())
        .map(str::to_owned)
    else {
        return Err(invalid("no `type` field".to_owned()));
    };
    serde_json::from_value(value).map_err(|e| invalid(format!("bad `{kind}` message ({e})")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{KvRequest, LogLevel, Ready, Reply, TriggerDict};

    #[test]
    fn sensor_messages_round_trip() {
        let messages = vec![
            SensorMessage::Ready(Ready {
                protocol: 1,
                heartbeat: Some(5.0),
            }),
            SensorMessage::Dispatch {
                trigger: "examples.event".into(),
                payload: json!({"n": 1}),
                trace_tag: Some("t".into()),
                id: None,
            },
            SensorMessage::Kv(KvRequest::KvSet {
                id: "1".into(),
                key: "cursor".into(),
                value: "42".into(),
                ttl: Some(10),
                local: true,
                encrypt: false,
            }),
            SensorMessage::Kv(KvRequest::KvList {
                id: "2".into(),
                prefix: None,
                local: false,
                limit: Some(5),
                offset: None,
            }),
            SensorMessage::Log {
                level: LogLevel::Warning,
                message: "careful".into(),
                logger: None,
            },
            SensorMessage::Heartbeat {},
            SensorMessage::Error {
                message: "bye".into(),
            },
        ];
        for message in messages {
            let line = encode(&message);
            assert!(!line.contains('\n'));
            assert_eq!(decode_sensor(&line).unwrap(), message, "{line}");
        }
    }

    #[test]
    fn host_messages_round_trip() {
        let trigger = TriggerDict {
            id: "abc".into(),
            trigger_ref: "fs.abc".into(),
            name: "abc".into(),
            pack: "fs".into(),
            trigger_type: "fs.file_watch".into(),
            parameters: json!({"path": "/tmp"}).as_object().unwrap().clone(),
        };
        let messages = vec![
            HostMessage::AddTrigger {
                trigger: trigger.clone(),
            },
            HostMessage::RemoveTrigger { trigger },
            HostMessage::Reply(Reply::ok("1", json!(null))),
            HostMessage::Reply(Reply::error("2", "no")),
            HostMessage::Rejected {
                trigger: "x.y".into(),
                reason: "bad".into(),
                id: None,
            },
            HostMessage::Shutdown {},
        ];
        for message in messages {
            let line = encode(&message);
            assert_eq!(decode_host(&line).unwrap(), message, "{line}");
        }
    }

    #[test]
    fn wire_shape_is_the_documented_one() {
        let line = r#"{"type":"kv_get","id":"7","key":"cursor"}"#;
        assert_eq!(
            decode_sensor(line).unwrap(),
            SensorMessage::Kv(KvRequest::KvGet {
                id: "7".into(),
                key: "cursor".into(),
                local: true,
                decrypt: false
            })
        );
        let line = r#"{"type":"dispatch","trigger":"a.b"}"#;
        assert!(matches!(
            decode_sensor(line).unwrap(),
            SensorMessage::Dispatch { payload, .. } if payload == json!({})
        ));
        let hello = r#"{"type":"hello","protocol":1,"sensor":"p.S","pack":"p","class_name":"S"}"#;
        assert!(matches!(decode_host(hello).unwrap(), HostMessage::Hello(h) if h.protocol == 1));
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let cases = [
            ("hello", "not JSON"),
            (r#"{"x":1}"#, "no `type` field"),
            (r#"{"type":"dispatch"}"#, "bad `dispatch` message"),
            (r#"{"type":"explode"}"#, "bad `explode` message"),
        ];
        for (line, expected) in cases {
            let error = decode_sensor(line).unwrap_err().to_string();
            assert!(error.contains(expected), "{line}: {error}");
        }
    }
}
