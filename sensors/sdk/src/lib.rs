//! Rust SDK for writing Nerve sensors (polling and passive) over the sensor protocol.
//!
//! A sensor is a process that talks newline-delimited JSON with the sensor host on its
//! stdin/stdout (see `nerve_sensor_protocol`). This crate owns that conversation: the
//! handshake, heartbeats, request/reply correlation, and delivering the host's trigger changes
//! to your code. It does not know about any particular sensor, and it never prints anything to
//! stdout except protocol lines (through one writer task, one flushed line per message).
//!
//! You write a type that implements [`Sensor`] (the hooks StackStorm sensors have: `setup`,
//! `add_trigger`, `update_trigger`, `remove_trigger`, `cleanup`) and one of the two modes:
//!
//! - [`PollingSensor`]: [`PollingSensor::poll`] is called every poll interval (the `hello`'s
//!   `poll_interval`, overridable with [`PollingSensor::poll_interval`]). Trigger changes are
//!   delivered *between* polls, so hooks and `poll` never run at the same time.
//! - [`PassiveSensor`]: [`PassiveSensor::run`] is called once and owns the sensor until the
//!   host says `shutdown`. Trigger changes arrive as [`Notice`]s on the [`Notices`] handed to
//!   `run`; a `run` that waits on its own input selects on [`Notices::recv`] too and hands each
//!   notice to [`Sensor::handle`], which calls the matching hook. The default `run` does only
//!   that, which suits sensors that do their watching in tasks they spawn from `add_trigger`.
//!   When the notices end (`None`), `run` should return; if it has not returned
//!   [`RunOptions::shutdown_grace`] after the host asked to stop, it is dropped (cancelled).
//!
//! Either way the sensor is owned by one task and every hook gets `&mut self`: no locks.
//! Hooks get a [`SensorContext`], a cloneable handle to dispatch events, use the sensor's
//! key-value store and log through the host; clones can move into tasks the sensor spawns.
//!
//! The runtime entry points are [`run_polling`] and [`run_passive`] (stdin/stdout), and
//! [`run_polling_with_io`] / [`run_passive_with_io`] for any transport. [`testing::FakeHost`]
//! drives a sensor in-process over in-memory pipes.
//!
//! ```no_run
//! use nerve_sensor_sdk::{BoxError, PollingSensor, Sensor, SensorContext};
//! use serde_json::json;
//!
//! /// Dispatches an increasing counter to `examples.counter` on every poll.
//! #[derive(Default)]
//! struct Counter {
//!     count: u64,
//! }
//!
//! impl Sensor for Counter {}
//!
//! impl PollingSensor for Counter {
//!     async fn poll(&mut self, ctx: &SensorContext) -> Result<(), BoxError> {
//!         self.count += 1;
//!         ctx.dispatch("examples.counter", json!({ "count": self.count })).await?;
//!         Ok(())
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() {
//!     let exit = nerve_sensor_sdk::run_polling(Counter::default()).await;
//!     // Exit at once: tokio's stdin reader thread would otherwise hold the runtime open.
//!     std::process::exit(exit.code());
//! }
//! ```
//!
//! See also `examples/counter.rs`.

mod context;
mod runtime;
mod sensor;
pub mod testing;

pub use context::{KvGetOptions, KvListOptions, KvOptions, RequestError, SensorContext};
pub use nerve_sensor_protocol::{Hello, KvEntry, LogLevel, PROTOCOL_VERSION, TriggerDict};
pub use runtime::{
    Exit, RunOptions, run_passive, run_passive_with_io, run_polling, run_polling_with_io,
};
pub use sensor::{
    BoxError, DEFAULT_POLL_INTERVAL, Notice, Notices, PassiveSensor, PollingSensor, Rejection,
    Sensor,
};
