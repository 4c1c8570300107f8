//! Key-value requests through the fake host, and their timeout.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nerve_sensor_protocol::{
    Hello, HostMessage, PROTOCOL_VERSION, SensorMessage, decode_sensor, encode,
};
use nerve_sensor_sdk::testing::{FakeHost, KvStore};
use nerve_sensor_sdk::{
    BoxError, KvOptions, PassiveSensor, RequestError, RunOptions, Sensor, SensorContext,
};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Runs a fixed sequence of key-value requests in `setup` and dispatches what it saw.
struct KvUser;

impl Sensor for KvUser {
    async fn setup(&mut self, ctx: &SensorContext) -> Result<(), BoxError> {
        let before = ctx.kv_get("greeting").await?;
        ctx.kv_set("greeting", "hello", &KvOptions::default())
            .await?;
        let secret = KvOptions {
            encrypt: true,
            ttl: Some(Duration::from_millis(1500)),
            ..KvOptions::default()
        };
        ctx.kv_set("token", "s3cret", &secret).await?;
        let global = KvOptions {
            local: false,
            ..KvOptions::default()
        };
        ctx.kv_set("shared", "for everyone", &global).await?;
        let after = ctx.kv_get("greeting").await?;
        let masked = ctx.kv_get("token").await?;
        let plain = ctx.kv_get_decrypted("token").await?;
        let listed: Vec<String> = ctx
            .kv_list(Some("g"))
            .await?
            .into_iter()
            .map(|entry| entry.name)
            .collect();
        let deleted = ctx.kv_delete("greeting").await?;
        let deleted_again = ctx.kv_delete("greeting").await?;
        ctx.dispatch(
            "tests.kv",
            json!({
                "before": before, "after": after, "masked": masked, "plain": plain,
                "listed": listed, "deleted": deleted, "deleted_again": deleted_again,
            }),
        )
        .await?;
        Ok(())
    }
}

impl PassiveSensor for KvUser {}

#[tokio::test]
async fn kv_round_trip_through_the_fake_host() {
    let kv = KvStore::new();
    let mut host = FakeHost::builder()
        .sensor("tests.KvUser")
        .kv(kv.clone())
        .start_passive(KvUser)
        .await;
    let dispatch = host.next_dispatch().await;
    assert_eq!(
        dispatch.payload,
        json!({
            "before": null, "after": "hello", "masked": "********", "plain": "s3cret",
            "listed": ["tests.KvUser:greeting"], "deleted": true, "deleted_again": false,
        })
    );
    assert_eq!(kv.keys(), ["shared", "tests.KvUser:token"]);
    assert_eq!(kv.get(&host.local_key("token")).as_deref(), Some("s3cret"));
    host.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_request_without_reply_times_out() {
    /// What `setup` got.
    type Seen = Arc<Mutex<Option<Result<Option<String>, RequestError>>>>;
    /// Reads a key in `setup` and reports the error.
    struct Waiting(Seen);
    impl Sensor for Waiting {
        async fn setup(&mut self, ctx: &SensorContext) -> Result<(), BoxError> {
            let result = ctx.kv_get("k").await;
            *self.0.lock().unwrap() = Some(result);
            Ok(())
        }
    }
    impl PassiveSensor for Waiting {}

    let seen = Arc::new(Mutex::new(None));
    let (mut host_writer, sensor_reader) = tokio::io::duplex(4096);
    let (sensor_writer, host_reader) = tokio::io::duplex(4096);
    let options = RunOptions {
        request_timeout: Duration::from_secs(7),
        ..RunOptions::default()
    };
    let sensor = tokio::spawn(nerve_sensor_sdk::run_passive_with_io(
        Waiting(seen.clone()),
        sensor_reader,
        sensor_writer,
        options,
    ));
    let hello = HostMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        sensor: "tests.Waiting".to_owned(),
        pack: "tests".to_owned(),
        class_name: "Waiting".to_owned(),
        config: serde_json::Map::new(),
        poll_interval: None,
        trigger_types: Vec::new(),
        ready_timeout: None,
    });
    host_writer
        .write_all(format!("{}\n", encode(&hello)).as_bytes())
        .await
        .unwrap();
    let mut lines = BufReader::new(host_reader).lines();
    let mut kv_get_seen_at = None;
    // Read until the request shows up; never answer it.
    while kv_get_seen_at.is_none() {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("a line within the deadline")
            .unwrap()
            .expect("the sensor is still writing");
        if let SensorMessage::Kv(_) = decode_sensor(&line).unwrap() {
            kv_get_seen_at = Some(tokio::time::Instant::now());
        }
    }
    host_writer
        .write_all(format!("{}\n", encode(&HostMessage::Shutdown {})).as_bytes())
        .await
        .unwrap();
    let drain = async { while let Ok(Some(_)) = lines.next_line().await {} };
    tokio::time::timeout(Duration::from_secs(60), drain)
        .await
        .unwrap();
    let exit = sensor.await.unwrap();
    assert_eq!(exit.code(), 0);
    let result = seen.lock().unwrap().take().expect("setup finished");
    assert!(
        matches!(&result, Err(RequestError::Timeout { after, .. }) if *after == Duration::from_secs(7)),
        "{result:?}"
    );
    // The sensor waited out the timeout in `setup` before it could stop.
    assert!(kv_get_seen_at.unwrap().elapsed() >= Duration::from_secs(7));
}
