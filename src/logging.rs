//! Logging for server commands: `tracing` to stderr, filtered by `RUST_LOG` (default `info`
//! for Nerve's crates, `warn` for the rest).

use tracing_subscriber::EnvFilter;

/// Installs the subscriber once; later calls do nothing.
pub(crate) fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("warn,nerve=info,nerve_engine=info,nerve_web=info,nerve_store=info,nerve_runner=info,nerve_bus=info")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
