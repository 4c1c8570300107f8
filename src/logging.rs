//! Logging for server commands: `tracing` to stderr, filtered by `RUST_LOG` (default `info`
//! for Nerve's crates, `warn` for the rest).

use tracing_subscriber::EnvFilter;

/// Installs the subscriber once; later calls do nothing.
pub(crate) fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("warn,nerve=info,nerve_engine=info,nerve_web=info,nerve_store=info,nerve_runner=info,nerve_bus=info")
    });
    // The AMQP publisher polls lapin's `wait_for_confirms` once as a barrier and drops it
    // (core/bus/src/amqp/publisher.rs); lapin then warns for every confirm batch that the
    // promise "has vanished". Expected, so only its errors are shown, whatever RUST_LOG says.
    let filter = match "lapin::promise=error".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
