//! The handshake, heartbeats, and how the runtime ends.

use std::time::Duration;

use nerve_sensor_protocol::{HostMessage, SensorMessage, decode_sensor, encode};
use nerve_sensor_sdk::testing::FakeHost;
use nerve_sensor_sdk::{BoxError, Exit, PassiveSensor, RunOptions, Sensor, SensorContext};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Does nothing; only the runtime talks.
struct Idle;

impl Sensor for Idle {}
impl PassiveSensor for Idle {}

#[tokio::test(start_paused = true)]
async fn ready_then_heartbeats_every_five_seconds() {
    let mut host = FakeHost::builder().spawn_passive(Idle);
    let ready = host.expect_ready().await;
    assert_eq!(ready.protocol, 1);
    assert_eq!(ready.heartbeat, Some(5.0));
    // Paused time: the clock jumps to each timer, so this is exact, not a hopeful sleep.
    tokio::time::sleep(Duration::from_millis(11_000)).await;
    assert_eq!(host.heartbeats(), 2);
    let (exit, _) = host.shutdown().await;
    assert_eq!(exit, Exit::Shutdown);
    assert_eq!(exit.code(), 0);
}

#[tokio::test]
async fn version_mismatch_sends_error_and_exits_2() {
    let mut host = FakeHost::builder().protocol(2).spawn_passive(Idle);
    match host.next_message().await {
        SensorMessage::Error { message } => assert_eq!(
            message,
            "protocol version mismatch: host speaks 2, this sensor SDK speaks 1"
        ),
        other => panic!("expected an error, got {other:?}"),
    }
    let (exit, rest) = host.wait_exit().await;
    assert_eq!(exit, Exit::VersionMismatch { host: 2 });
    assert_eq!(exit.code(), 2);
    assert!(rest.is_empty(), "{rest:?}");
}

#[tokio::test]
async fn a_first_line_other_than_hello_is_refused() {
    let (mut host_writer, sensor_reader) = tokio::io::duplex(4096);
    let (sensor_writer, host_reader) = tokio::io::duplex(4096);
    let sensor = tokio::spawn(nerve_sensor_sdk::run_passive_with_io(
        Idle,
        sensor_reader,
        sensor_writer,
        RunOptions::default(),
    ));
    let line = encode(&HostMessage::Shutdown {});
    host_writer
        .write_all(format!("{line}\n").as_bytes())
        .await
        .unwrap();
    let mut lines = BufReader::new(host_reader).lines();
    let deadline = Duration::from_secs(10);
    let first = tokio::time::timeout(deadline, lines.next_line())
        .await
        .expect("an answer within the deadline")
        .unwrap()
        .expect("a line");
    match decode_sensor(&first).unwrap() {
        SensorMessage::Error { message } => {
            assert!(message.contains("expected `hello`"), "{message}");
            assert!(message.contains("shutdown"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    let exit = tokio::time::timeout(deadline, sensor)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(exit, Exit::BadHandshake { .. }), "{exit:?}");
    assert_eq!(exit.code(), 2);
}

#[tokio::test]
async fn end_of_input_exits_0_after_cleanup() {
    /// Logs from `cleanup`.
    struct Tidy;
    impl Sensor for Tidy {
        async fn cleanup(&mut self, ctx: &SensorContext) {
            ctx.log(nerve_sensor_sdk::LogLevel::Info, "cleaned up")
                .await;
        }
    }
    impl PassiveSensor for Tidy {}

    let mut host = FakeHost::builder().start_passive(Tidy).await;
    host.close_input();
    let (exit, rest) = host.wait_exit().await;
    assert_eq!(exit, Exit::HostClosed);
    assert_eq!(exit.code(), 0);
    // The host is gone, but the write side still works here, so the log arrives.
    assert_eq!(super::logs(&rest), ["cleaned up"]);
}

#[tokio::test]
async fn failing_setup_sends_error_and_exits_1() {
    /// Refuses to start.
    struct Broken;
    impl Sensor for Broken {
        async fn setup(&mut self, _ctx: &SensorContext) -> Result<(), BoxError> {
            Err("no credentials in the pack config".into())
        }
    }
    impl PassiveSensor for Broken {}

    let mut host = FakeHost::builder().start_passive(Broken).await;
    let (exit, rest) = host.wait_exit().await;
    assert_eq!(exit.code(), 1);
    assert!(
        rest.contains(&SensorMessage::Error {
            message: "setup failed: no credentials in the pack config".to_owned()
        }),
        "{rest:?}"
    );
}

#[tokio::test]
async fn a_broken_output_ends_the_sensor_even_with_input_open() {
    let (mut host_writer, sensor_reader) = tokio::io::duplex(4096);
    let (sensor_writer, host_reader) = tokio::io::duplex(4096);
    // Nobody reads what the sensor writes.
    drop(host_reader);
    let sensor = tokio::spawn(nerve_sensor_sdk::run_passive_with_io(
        Idle,
        sensor_reader,
        sensor_writer,
        RunOptions::default(),
    ));
    let hello = r#"{"type":"hello","protocol":1,"sensor":"t.Idle","pack":"t","class_name":"Idle"}"#;
    host_writer
        .write_all(format!("{hello}\n").as_bytes())
        .await
        .unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(10), sensor)
        .await
        .expect("the sensor exits within the deadline")
        .unwrap();
    assert_eq!(exit, Exit::HostClosed);
    drop(host_writer);
}
