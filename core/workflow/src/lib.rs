//! Orquesta and action-chain workflows for Nerve: parsing and validating definitions, and the
//! state machines that run them.
//!
//! **Architecture invariant:** pure: no IO, no async, no clock reads. The engine drives a run:
//! it starts the child executions a state machine asks for ([`Command::RunTask`]), feeds their
//! results back, and persists the serializable state between steps. Datastore reads in
//! expressions go through the caller's [`KvLookup`] snapshot.
//!
//! - [`Workflow`] is an orquesta definition (`version: 1.0`, `input`, `vars`, `tasks`, `output`);
//!   [`Workflow::parse`] returns it or every [`Problem`] of the file at once.
//!   [`Workflow::start`] gives a [`State`] and the first commands; [`State::on_task_result`]
//!   advances it.
//! - [`Chain`] is an action-chain definition (`chain`, `vars`, `default`); [`Chain::start`] and
//!   [`ChainState::on_result`] run it one task at a time.
//!
//! Expressions are Jinja (`{{ }}`, `{% %}`) through `nerve_rules`' environment with orquesta's
//! context functions; YAQL (`<% %>`) is rejected at validation.
//!
//! ```
//! use nerve_workflow::{Command, NoKv, ResultStatus, Workflow, WorkflowStatus};
//! use serde_json::{Map, json};
//!
//! let workflow = Workflow::parse(
//!     "version: 1.0\n\
//!      input: [name]\n\
//!      tasks:\n  \
//!        greet:\n    \
//!          action: core.echo\n    \
//!          input: {message: 'hello {{ ctx().name }}'}\n    \
//!          next: [{publish: [{said: '{{ result().stdout }}'}]}]\n\
//!      output: [{said: '{{ ctx().said }}'}]\n",
//! )
//! .map_err(|problems| format!("{problems:?}"))?;
//! let mut input = Map::new();
//! input.insert("name".into(), json!("world"));
//! let (mut state, commands) = workflow.start(input, &NoKv);
//! let Command::RunTask(run) = &commands[0] else { panic!("expected a task") };
//! assert_eq!(run.input["message"], "hello world");
//!
//! let commands = state.on_task_result(run.key(), ResultStatus::Succeeded, json!({"stdout": "hi"}), &NoKv)?;
//! assert_eq!(
//!     commands,
//!     [Command::Complete { status: WorkflowStatus::Succeeded, output: json!({"said": "hi"}), errors: vec![] }]
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod chain;
mod command;
mod expr;
mod orquesta;
mod problem;

pub use chain::{Chain, ChainState};
pub use command::{Command, ErrorEntry, ResultStatus, RunKey, RunTask, StateError, WorkflowStatus};
pub use nerve_rules::{KvLookup, KvValue, NoKv};
pub use orquesta::{State, Workflow};
pub use problem::Problem;
