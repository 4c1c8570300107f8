//! A tiny native polling sensor: dispatches an increasing counter to `examples.counter` on
//! every poll, and keeps the count in its key-value store so a restart continues from it.
//!
//! Run it by hand and play the host:
//!
//! ```text
//! $ cargo run -p nerve-sensor-sdk --example counter
//! {"type":"hello","protocol":1,"sensor":"examples.Counter","pack":"examples","class_name":"Counter","poll_interval":1}
//! ```

use nerve_sensor_sdk::{BoxError, KvOptions, PollingSensor, Sensor, SensorContext};
use serde_json::json;

/// The sensor's state: the last count dispatched.
#[derive(Default)]
struct Counter {
    count: u64,
}

impl Sensor for Counter {
    async fn setup(&mut self, ctx: &SensorContext) -> Result<(), BoxError> {
        // A missing key or an unreadable value starts from zero.
        if let Some(saved) = ctx.kv_get("count").await? {
            self.count = saved.parse().unwrap_or(0);
        }
        Ok(())
    }
}

impl PollingSensor for Counter {
    async fn poll(&mut self, ctx: &SensorContext) -> Result<(), BoxError> {
        self.count += 1;
        ctx.dispatch("examples.counter", json!({ "count": self.count }))
            .await?;
        ctx.kv_set("count", self.count.to_string(), &KvOptions::default())
            .await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let exit = nerve_sensor_sdk::run_polling(Counter::default()).await;
    // Exit right away: tokio's stdin reader thread would otherwise hold the runtime open.
    std::process::exit(exit.code());
}
