//! Integration tests of the sensor SDK, driving sensors through the fake host.

mod handshake;
mod kv;
mod passive;
mod polling;

use nerve_sensor_sdk::TriggerDict;
use serde_json::{Value, json};

/// A trigger dict of type `tests.event` with the given id.
fn trigger(id: &str, parameters: Value) -> TriggerDict {
    TriggerDict {
        id: id.to_owned(),
        trigger_ref: format!("tests.{id}"),
        name: id.to_owned(),
        pack: "tests".to_owned(),
        trigger_type: "tests.event".to_owned(),
        parameters: parameters.as_object().cloned().unwrap_or_default(),
    }
}

/// The text of every `log` message among `messages`.
fn logs(messages: &[nerve_sensor_protocol::SensorMessage]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|message| match message {
            nerve_sensor_protocol::SensorMessage::Log { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn trigger_helper_builds_a_dict() {
    let trigger = trigger("a", json!({"x": 1}));
    assert_eq!(trigger.trigger_ref, "tests.a");
    assert_eq!(trigger.parameters["x"], 1);
}
