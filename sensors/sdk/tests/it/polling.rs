//! Polling sensors: the poll loop, trigger changes between polls, rejections, cleanup.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nerve_sensor_protocol::TriggerDict;
use nerve_sensor_sdk::testing::FakeHost;
use nerve_sensor_sdk::{
    BoxError, Exit, LogLevel, PollingSensor, Rejection, RequestError, Sensor, SensorContext,
};
use serde_json::json;

use super::{logs, trigger};

/// Dispatches a counter to `tests.counter` and to every trigger it was given; records the
/// rejections it hears about.
#[derive(Default)]
struct Counter {
    count: u64,
    triggers: Vec<TriggerDict>,
    rejections: Arc<Mutex<Vec<Rejection>>>,
}

impl Sensor for Counter {
    async fn add_trigger(
        &mut self,
        _ctx: &SensorContext,
        trigger: &TriggerDict,
    ) -> Result<(), BoxError> {
        self.triggers.push(trigger.clone());
        Ok(())
    }

    async fn remove_trigger(
        &mut self,
        _ctx: &SensorContext,
        trigger: &TriggerDict,
    ) -> Result<(), BoxError> {
        self.triggers.retain(|t| t.id != trigger.id);
        Ok(())
    }

    async fn rejected(&mut self, _ctx: &SensorContext, rejection: &Rejection) {
        self.rejections.lock().unwrap().push(rejection.clone());
    }

    async fn cleanup(&mut self, ctx: &SensorContext) {
        ctx.log(
            LogLevel::Info,
            format!("cleanup after {} polls", self.count),
        )
        .await;
    }
}

impl PollingSensor for Counter {
    async fn poll(&mut self, ctx: &SensorContext) -> Result<(), BoxError> {
        self.count += 1;
        ctx.dispatch("tests.counter", json!({ "count": self.count }))
            .await?;
        for trigger in &self.triggers {
            ctx.dispatch(&trigger.trigger_ref, json!({ "count": self.count }))
                .await?;
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn polls_every_interval_and_cleans_up_on_shutdown() {
    let mut host = FakeHost::builder()
        .poll_interval(Duration::from_secs(2))
        .start_polling(Counter::default())
        .await;
    let started = tokio::time::Instant::now();
    let dispatches = host.dispatches(3).await;
    let counts: Vec<_> = dispatches
        .iter()
        .map(|d| d.payload["count"].clone())
        .collect();
    assert_eq!(counts, [json!(1), json!(2), json!(3)]);
    assert!(dispatches.iter().all(|d| d.trigger == "tests.counter"));
    // Polls at 0, 2 and 4 seconds.
    assert_eq!(started.elapsed(), Duration::from_secs(4));

    let (exit, rest) = host.shutdown().await;
    assert_eq!(exit, Exit::Shutdown);
    assert_eq!(logs(&rest), ["cleanup after 3 polls"]);
}

#[tokio::test(start_paused = true)]
async fn poll_interval_can_be_overridden() {
    /// Polls every 100 ms whatever the host says.
    struct Fast(Counter);
    impl Sensor for Fast {}
    impl PollingSensor for Fast {
        async fn poll(&mut self, ctx: &SensorContext) -> Result<(), BoxError> {
            self.0.poll(ctx).await
        }
        fn poll_interval(&self, _from_host: Option<Duration>) -> Duration {
            Duration::from_millis(100)
        }
    }

    let mut host = FakeHost::builder()
        .poll_interval(Duration::from_secs(60))
        .start_polling(Fast(Counter::default()))
        .await;
    let started = tokio::time::Instant::now();
    host.dispatches(11).await;
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn trigger_changes_arrive_between_polls() {
    let mut host = FakeHost::builder()
        .poll_interval(Duration::from_secs(1))
        .start_polling(Counter::default())
        .await;
    assert_eq!(host.next_dispatch().await.payload["count"], 1);
    host.add_trigger(trigger("a", json!({})));
    // The next poll sees the trigger.
    let next = host.dispatches(2).await;
    assert_eq!(next[0].trigger, "tests.counter");
    assert_eq!(next[1].trigger, "tests.a");
    assert_eq!(next[1].payload["count"], 2);
    host.remove_trigger(trigger("a", json!({})));
    let next = host.next_dispatch().await;
    assert_eq!(next.payload["count"], 3);
    let after = host.next_dispatch().await;
    assert_eq!(
        (after.trigger.as_str(), after.payload["count"].clone()),
        ("tests.counter", json!(4))
    );
}

#[tokio::test(start_paused = true)]
async fn rejected_dispatches_reach_the_sensor() {
    let rejections = Arc::new(Mutex::new(Vec::new()));
    let sensor = Counter {
        rejections: rejections.clone(),
        ..Counter::default()
    };
    let mut host = FakeHost::builder()
        .poll_interval(Duration::from_secs(1))
        .reject_dispatches(|trigger, payload| {
            (trigger == "tests.counter" && payload["count"] == 1)
                .then(|| "payload does not match the schema".to_owned())
        })
        .start_polling(sensor)
        .await;
    host.dispatches(2).await;
    let (_, _) = host.shutdown().await;
    assert_eq!(
        *rejections.lock().unwrap(),
        [Rejection {
            trigger: "tests.counter".to_owned(),
            reason: "payload does not match the schema".to_owned(),
        }]
    );
}

#[tokio::test]
async fn checked_dispatch_returns_the_instance_or_the_rejection() {
    /// Dispatches once, checked, to an accepted and a refused trigger and reports the results.
    struct Checked {
        results: Arc<Mutex<Vec<Result<String, RequestError>>>>,
        count: Arc<Mutex<u64>>,
    }
    impl Sensor for Checked {}
    impl PollingSensor for Checked {
        async fn poll(&mut self, ctx: &SensorContext) -> Result<(), BoxError> {
            if !self.results.lock().unwrap().is_empty() {
                return Ok(());
            }
            let good = ctx.dispatch_checked("tests.good", json!({})).await;
            let bad = ctx.dispatch_checked("tests.bad", json!({})).await;
            let all = ctx
                .dispatch_checked_all("tests.good", [json!({"n": 1}), json!({"n": 2})])
                .await;
            *self.count.lock().unwrap() = ctx.rejected_count();
            let mut results = self.results.lock().unwrap();
            results.extend([good, bad]);
            results.extend(all);
            Ok(())
        }
    }

    let results = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(Mutex::new(0));
    let sensor = Checked {
        results: results.clone(),
        count: count.clone(),
    };
    let mut host = FakeHost::builder()
        .reject_dispatches(|trigger, _| {
            (trigger == "tests.bad").then(|| "unknown trigger".to_owned())
        })
        .start_polling(sensor)
        .await;
    let dispatches = host.dispatches(4).await;
    assert!(dispatches.iter().all(|d| d.id.is_some()));
    host.shutdown().await;
    assert_eq!(
        *results.lock().unwrap(),
        [
            Ok("ti-1".to_owned()),
            Err(RequestError::Rejected {
                trigger: "tests.bad".to_owned(),
                reason: "unknown trigger".to_owned()
            }),
            Ok("ti-2".to_owned()),
            Ok("ti-3".to_owned()),
        ]
    );
    assert_eq!(*count.lock().unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn heartbeats_go_on_while_a_poll_hangs() {
    /// Its first poll never ends.
    struct Stuck;
    impl Sensor for Stuck {}
    impl PollingSensor for Stuck {
        async fn poll(&mut self, _ctx: &SensorContext) -> Result<(), BoxError> {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
    }

    let host = FakeHost::builder().start_polling(Stuck).await;
    // Paused time: the clock jumps from timer to timer.
    tokio::time::sleep(Duration::from_millis(21_000)).await;
    assert_eq!(host.heartbeats(), 4);
}
