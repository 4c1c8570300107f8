//! Orquesta workflows: the definition ([`Workflow`]), its validation, and the run's state
//! machine ([`State`]).
//!
//! Semantics follow orquesta (`orquesta/conducting.py`, `machines.py`, the `orquesta.rst`
//! language reference); where this crate deliberately differs, the item's documentation says
//! so.

use nerve_yaml::parse_yaml;

use crate::problem::{Problem, Problems};

mod spec;
mod state;
mod validate;

#[cfg(test)]
mod tests;

pub use spec::Workflow;
pub use state::State;

impl Workflow {
    /// Reads and validates an orquesta definition (YAML text).
    ///
    /// # Errors
    ///
    /// Every problem of the file, in file order: YAML syntax (alone, as nothing else can be
    /// read then), unknown or malformed fields, unknown tasks in `do`, tasks unreachable from
    /// the start tasks, `join` counts larger than the inbound tasks, context variables that
    /// nothing defines, YAQL expressions, and Jinja syntax errors.
    pub fn parse(text: &str) -> Result<Workflow, Vec<Problem>> {
        let (doc, _warnings) = parse_yaml(text).map_err(|error| vec![Problem::from(error)])?;
        let mut problems = Problems::new(&doc);
        let (workflow, collected) = spec::read(&doc, &mut problems);
        validate::check(&workflow, &collected, &mut problems);
        if problems.is_empty() {
            Ok(workflow)
        } else {
            Err(problems.into_sorted())
        }
    }

    /// The workflow's `description`.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The names of the workflow's inputs, in order.
    pub fn input_names(&self) -> impl Iterator<Item = &str> {
        self.input.iter().map(|i| i.name.as_str())
    }

    /// The names of the tasks, in definition order.
    pub fn task_names(&self) -> impl Iterator<Item = &str> {
        self.tasks.keys().map(String::as_str)
    }

    /// The start tasks: those no `do` names, in definition order.
    pub fn start_tasks(&self) -> Vec<&str> {
        self.tasks
            .keys()
            .filter(|name| {
                !self
                    .tasks
                    .values()
                    .any(|t| t.next.iter().any(|n| n.targets.contains(name)))
            })
            .map(String::as_str)
            .collect()
    }
}
