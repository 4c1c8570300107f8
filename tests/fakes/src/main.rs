//! `nerve-fakes`: the fake ALMA archive and the fake Workspaces, for the observatory demo and
//! for trying the `alma`, `vlba` and `workspaces` packs without NRAO's services.
//!
//! ```sh
//! nerve-fakes alma --listen 127.0.0.1:8001          # seeded with the demo rows
//! nerve-fakes workspaces --listen 127.0.0.1:8002
//! ```
//!
//! Each prints `listening http://ADDR` once it accepts connections, then serves until
//! interrupted. Their control APIs are under `/_test/` (see the crate documentation).

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use nerve_fakes::workspaces::{CapabilityConfig, DEFAULT_CAPABILITIES};
use nerve_fakes::{alma, workspaces};

#[derive(Debug, Parser)]
#[command(
    name = "nerve-fakes",
    version,
    about = "Fake ALMA archive and Workspaces services (loopback only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The fake ALMA archive: execution blocks (ASDMs), calibrations, calibration status.
    Alma {
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:8001")]
        listen: String,
        /// Start empty instead of with the demo rows.
        #[arg(long)]
        empty: bool,
    },
    /// The fake Workspaces: capability and workflow requests.
    Workspaces {
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:8002")]
        listen: String,
        /// Capability queue limit of the built-in capabilities.
        #[arg(long, default_value_t = 2)]
        queue_limit: usize,
        /// How long each capability execution runs, in milliseconds.
        #[arg(long, default_value_t = 2000)]
        duration_ms: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (router, listen) = match cli.command {
        Command::Alma { listen, empty } => {
            let archive = alma::Archive::new();
            if !empty {
                archive.seed_demo();
            }
            (alma::router(archive), listen)
        }
        Command::Workspaces {
            listen,
            queue_limit,
            duration_ms,
        } => {
            let fake = workspaces::Workspaces::new();
            for name in DEFAULT_CAPABILITIES {
                fake.configure_capability(
                    name,
                    CapabilityConfig {
                        queue_limit,
                        duration_ms,
                        ..CapabilityConfig::default()
                    },
                );
            }
            (workspaces::router(fake), listen)
        }
    };
    let served = nerve_fakes::serve(router, &listen)
        .await
        .with_context(|| format!("failed to listen on `{listen}`"))?;
    #[allow(clippy::print_stdout)]
    {
        println!("listening {}", served.url());
    }
    tokio::signal::ctrl_c()
        .await
        .context("failed to wait for ctrl-c")?;
    served.stop();
    Ok(())
}
