//! Passive sensors: notices while `run` owns the sensor, and stopping.

use std::time::Duration;

use nerve_sensor_protocol::TriggerDict;
use nerve_sensor_sdk::testing::FakeHost;
use nerve_sensor_sdk::{
    BoxError, Exit, LogLevel, Notice, Notices, PassiveSensor, RunOptions, Sensor, SensorContext,
};
use serde_json::json;

use super::{logs, trigger};

/// Reports each hook call as a dispatch to `tests.hooks`.
struct Recorder;

impl Sensor for Recorder {
    async fn add_trigger(
        &mut self,
        ctx: &SensorContext,
        trigger: &TriggerDict,
    ) -> Result<(), BoxError> {
        ctx.dispatch(
            "tests.hooks",
            json!({"hook": "add", "id": trigger.id, "parameters": trigger.parameters}),
        )
        .await?;
        Ok(())
    }

    async fn remove_trigger(
        &mut self,
        ctx: &SensorContext,
        trigger: &TriggerDict,
    ) -> Result<(), BoxError> {
        ctx.dispatch("tests.hooks", json!({"hook": "remove", "id": trigger.id}))
            .await?;
        Ok(())
    }
}

impl PassiveSensor for Recorder {}

#[tokio::test]
async fn default_run_hands_notices_to_the_hooks() {
    let mut host = FakeHost::builder().start_passive(Recorder).await;
    host.add_trigger(trigger("a", json!({"v": 1})));
    host.update_trigger(trigger("a", json!({"v": 2})));
    host.remove_trigger(trigger("a", json!({"v": 2})));
    let hooks: Vec<_> = host
        .dispatches(4)
        .await
        .into_iter()
        .map(|d| (d.payload["hook"].clone(), d.payload["parameters"].clone()))
        .collect();
    assert_eq!(
        hooks,
        [
            (json!("add"), json!({"v": 1})),
            (json!("remove"), json!(null)),
            (json!("add"), json!({"v": 2})),
            (json!("remove"), json!(null)),
        ]
    );
    let (exit, rest) = host.shutdown().await;
    assert_eq!(exit, Exit::Shutdown);
    assert!(rest.is_empty(), "{rest:?}");
}

/// A `run` loop with its own input (a timer) that selects on the notices too.
struct Ticking {
    triggers: Vec<String>,
}

impl Sensor for Ticking {
    async fn add_trigger(
        &mut self,
        _ctx: &SensorContext,
        trigger: &TriggerDict,
    ) -> Result<(), BoxError> {
        self.triggers.push(trigger.trigger_ref.clone());
        Ok(())
    }
}

impl PassiveSensor for Ticking {
    async fn run(&mut self, ctx: &SensorContext, notices: &mut Notices) -> Result<(), BoxError> {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                notice = notices.recv() => match notice {
                    Some(notice) => self.handle(ctx, notice).await,
                    None => return Ok(()),
                },
                _ = ticker.tick() => {
                    for trigger in &self.triggers {
                        ctx.dispatch(trigger, json!({})).await?;
                    }
                }
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_run_loop_receives_trigger_changes() {
    let mut host = FakeHost::builder()
        .start_passive(Ticking {
            triggers: Vec::new(),
        })
        .await;
    host.add_trigger(trigger("b", json!({})));
    assert_eq!(host.next_dispatch().await.trigger, "tests.b");
    let (exit, _) = host.shutdown().await;
    assert_eq!(exit, Exit::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn a_run_that_ignores_shutdown_is_cancelled_after_the_grace() {
    /// Never looks at its notices.
    struct Stubborn;
    impl Sensor for Stubborn {
        async fn cleanup(&mut self, ctx: &SensorContext) {
            ctx.log(LogLevel::Info, "cleaned up").await;
        }
    }
    impl PassiveSensor for Stubborn {
        async fn run(
            &mut self,
            _ctx: &SensorContext,
            _notices: &mut Notices,
        ) -> Result<(), BoxError> {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
    }

    let options = RunOptions {
        shutdown_grace: Duration::from_secs(2),
        ..RunOptions::default()
    };
    let mut host = FakeHost::builder()
        .run_options(options)
        .start_passive(Stubborn)
        .await;
    let asked = tokio::time::Instant::now();
    let (exit, rest) = host.shutdown().await;
    assert_eq!(exit, Exit::Shutdown);
    assert_eq!(asked.elapsed(), Duration::from_secs(2));
    let logs = logs(&rest);
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(
        logs[0].starts_with("run did not return within 2s"),
        "{logs:?}"
    );
    assert_eq!(logs[1], "cleaned up");
}

#[tokio::test]
async fn run_errors_end_the_sensor_with_code_1() {
    /// Fails at once.
    struct Failing;
    impl Sensor for Failing {}
    impl PassiveSensor for Failing {
        async fn run(
            &mut self,
            _ctx: &SensorContext,
            _notices: &mut Notices,
        ) -> Result<(), BoxError> {
            Err("lost the connection to the device".into())
        }
    }

    let mut host = FakeHost::builder().start_passive(Failing).await;
    let (exit, rest) = host.wait_exit().await;
    assert_eq!(exit.code(), 1);
    assert!(
        rest.iter().any(|m| matches!(m, nerve_sensor_protocol::SensorMessage::Error { message } if message == "run failed: lost the connection to the device")),
        "{rest:?}"
    );
}

#[test]
fn notices_are_plain_data() {
    let notice = Notice::AddTrigger(trigger("c", json!({})));
    assert!(matches!(notice, Notice::AddTrigger(t) if t.id == "c"));
}
