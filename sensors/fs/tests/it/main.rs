//! Integration tests of the file watch sensor: real temporary directories, the SDK's fake
//! host, deadlines on every wait.

mod files;
mod lines;

use std::fs;
use std::path::Path;
use std::time::Duration;

use nerve_fs_sensor::FileWatchSensor;
use nerve_sensor_protocol::SensorMessage;
use nerve_sensor_sdk::TriggerDict;
use nerve_sensor_sdk::testing::{Dispatch, FakeHost, KvStore};
use serde_json::Value;

/// A trigger dict of `trigger_type` with id `id` (and ref `fs.<id>`).
fn trigger(trigger_type: &str, id: &str, parameters: Value) -> TriggerDict {
    TriggerDict {
        id: id.to_owned(),
        trigger_ref: format!("fs.{id}"),
        name: id.to_owned(),
        pack: "fs".to_owned(),
        trigger_type: trigger_type.to_owned(),
        parameters: parameters.as_object().cloned().unwrap_or_default(),
    }
}

/// Starts the sensor on a fake host answering from `kv`.
async fn start(kv: &KvStore) -> FakeHost {
    FakeHost::builder()
        .sensor("fs.FileWatchSensor")
        .kv(kv.clone())
        .deadline(Duration::from_secs(30))
        .start_passive(FileWatchSensor::new())
        .await
}

/// Waits for a log message containing `needle`; returns the dispatches that came first.
async fn until_log(host: &mut FakeHost, needle: &str) -> Vec<Dispatch> {
    let mut dispatches = Vec::new();
    loop {
        match host.next_message().await {
            SensorMessage::Log { message, .. } if message.contains(needle) => return dispatches,
            SensorMessage::Dispatch {
                trigger,
                payload,
                trace_tag,
                id,
            } => dispatches.push(Dispatch {
                trigger,
                payload,
                trace_tag,
                id,
            }),
            SensorMessage::Error { message } => panic!("the sensor gave up: {message}"),
            _ => {}
        }
    }
}

/// The dispatches among `messages`.
fn dispatches(messages: &[SensorMessage]) -> Vec<(String, Value)> {
    messages
        .iter()
        .filter_map(|message| match message {
            SensorMessage::Dispatch {
                trigger, payload, ..
            } => Some((trigger.clone(), payload.clone())),
            _ => None,
        })
        .collect()
}

/// Writes a file in one step: written next to `dir` (outside any watch of it), then renamed
/// in, so a watcher sees it whole.
fn put(dir: &Path, name: &str, content: &str) {
    let staging = dir
        .parent()
        .unwrap()
        .join(format!(".staging-{}", name.replace('/', "_")));
    fs::write(&staging, content).unwrap();
    fs::rename(&staging, dir.join(name)).unwrap();
}
