//! Runs actions.
//!
//! **Architecture Invariant:** action code is untrusted. It runs in another process, created
//! only through one spawning wrapper ([`run_process`]); a crash, hang, flood of output or refusal
//! to exit is an outcome we record ([`RunOutcome`]), never a crash or hang of Nerve.
//!
//! Sensor processes, which Nerve talks to over their pipes for as long as they live, start
//! through [`spawn_interactive`] with the same rules.
//!
//! The wrapper gives every child a cleared environment, its own process group, `kill_on_drop`,
//! line-by-line output capture with a cap, and SIGTERM → grace → SIGKILL to the whole group on
//! timeout or cancellation. The runners ([`run`]) build on it: `local-shell-cmd`,
//! `local-shell-script`, `python-script` (StackStorm's `Action` API, through an embedded
//! wrapper), plus `http-request` and `noop`, which need no process.
//!
//! Enforcement: the workspace `clippy.toml` should list
//! `std::process::Command::new` and `tokio::process::Command::new` under `disallowed-methods`;
//! this crate denies `clippy::disallowed_methods`, and the two call sites in `process` carry the
//! only `#[allow]`s.

#![deny(clippy::disallowed_methods)]

mod outcome;
mod process;
mod redact;
mod request;
mod runners;

pub use outcome::{RunOutcome, RunStatus};
pub use process::{
    Captured, Ending, Exit, Finished, Interactive, OutputLimits, OutputLine, Pipes, Spawn,
    SpawnError, Stream, run_process, spawn_interactive,
};
pub use request::{Interpreter, RunRequest};
pub use runners::{RunError, run};
