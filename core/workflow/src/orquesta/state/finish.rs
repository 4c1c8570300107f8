//! The end of a run: completion checks (unsatisfiable joins), output rendering, `Complete`.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{RecordStatus, State, TaskRecord, expression_error};
use crate::command::{Command, ErrorEntry, WorkflowStatus};
use crate::expr::{Evaluator, Scope};

impl State {
    pub(super) fn check_completion(&mut self, ev: &Evaluator<'_>, commands: &mut Vec<Command>) {
        if self.finished || !self.outstanding().is_empty() {
            return;
        }
        match self.status {
            WorkflowStatus::Running => {
                let waiting: Vec<String> = self
                    .staged
                    .iter()
                    .filter(|s| !s.ready && s.barrier.as_ref().is_some_and(|b| !b.fired))
                    .map(|s| s.task.clone())
                    .collect();
                if waiting.is_empty() {
                    self.status = WorkflowStatus::Succeeded;
                } else {
                    for task in waiting {
                        self.log(
                            ErrorEntry::new(format!(
                                "UnreachableJoinError: The join task \"{task}\" is partially satisfied but unsatisfiable."
                            ))
                            .task(&task),
                        );
                    }
                    self.status = WorkflowStatus::Failed;
                }
                self.finish(ev, commands);
            }
            WorkflowStatus::Pausing => self.status = WorkflowStatus::Paused,
            WorkflowStatus::Failed => self.finish(ev, commands),
            WorkflowStatus::Canceling => {
                self.status = WorkflowStatus::Canceled;
                self.finish(ev, commands);
            }
            WorkflowStatus::Paused | WorkflowStatus::Canceled | WorkflowStatus::Succeeded => {}
        }
    }

    /// Ends the run: closes dormant `with` items tasks, renders the output, emits `Complete`.
    pub(super) fn finish(&mut self, ev: &Evaluator<'_>, commands: &mut Vec<Command>) {
        for record in &mut self.tasks {
            if matches!(
                record.status,
                RecordStatus::Running | RecordStatus::Retrying
            ) {
                record.status = RecordStatus::Canceled;
            }
        }
        if let Some(last) = self.last_completed {
            self.tasks[last].term = true;
        }
        if !self.workflow.output.is_empty() && !self.contexts.is_empty() {
            let ctx = self.terminal_context();
            let scope = Scope {
                ctx: Arc::new(ctx),
                current: None,
                statuses: Arc::new(self.statuses()),
                item: None,
            };
            let mut output = Map::new();
            let mut failed = false;
            for entry in self.workflow.output.clone() {
                match ev.evaluate(&entry.value, &scope) {
                    Ok(value) => {
                        output.insert(entry.name.clone(), value);
                    }
                    Err(error) => {
                        self.log(ErrorEntry::new(expression_error(&error)));
                        failed = true;
                    }
                }
            }
            if failed && self.status == WorkflowStatus::Succeeded {
                self.status = WorkflowStatus::Failed;
            }
            if !output.is_empty() {
                self.output = Value::Object(output);
            }
        }
        self.finished = true;
        commands.push(Command::Complete {
            status: self.status,
            output: self.output.clone(),
            errors: if self.status == WorkflowStatus::Succeeded {
                Vec::new()
            } else {
                self.errors.clone()
            },
        });
    }

    /// Orquesta's final context: the first terminal task's context, then the others'
    /// (without the initial entry) merged over it in sequence order.
    fn terminal_context(&self) -> Map<String, Value> {
        let terminal: Vec<&TaskRecord> = self.tasks.iter().filter(|t| t.term).collect();
        let Some((first, others)) = terminal.split_first() else {
            return self.merged(&[0]);
        };
        let mut ctx = self.merged(&first.ctx_in);
        for record in others {
            let ctxs: Vec<usize> = record.ctx_in.iter().copied().filter(|&c| c != 0).collect();
            for (k, v) in self.merged(&ctxs) {
                ctx.insert(k, v);
            }
        }
        ctx
    }
}
