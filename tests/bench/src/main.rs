//! Nerve's benchmark program: prints performance figures measured on this machine.
//!
//! Figures are medians over several rounds measured in one run; nothing here is a pass/fail test.
//! Run with `cargo run --release -p nerve-bench -- <suite>`.

mod rules;

use clap::{Parser, Subcommand};

/// Prints Nerve's performance figures.
#[derive(Debug, Parser)]
#[command(name = "nerve-bench", about)]
struct Cli {
    #[command(subcommand)]
    suite: Suite,
}

#[derive(Debug, Subcommand)]
enum Suite {
    /// Rule evaluation throughput: many rules over many trigger types, one core.
    Rules(rules::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().suite {
        Suite::Rules(args) => rules::run(&args),
    }
}

/// Prints one figure line.
fn report(name: &str, value: String) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout(), "{name:<52} {value}");
}

/// The median of a non-empty sample.
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
