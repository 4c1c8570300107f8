//! End-to-end tests of the real `nerve` binary.

#![allow(missing_docs)]

mod api;
mod cli;
mod observatory;
mod pack_init;
mod pack_validate;
mod packs_live;
mod rule_test;
mod scaleout;
mod sensors;
mod sensors_cli;
mod traces;
mod ui;
mod up;
mod workflows;

use nerve_test_harness::Nerve;

/// The binary built for this test run.
fn nerve() -> Nerve {
    Nerve::new(env!("CARGO_BIN_EXE_nerve"))
}
