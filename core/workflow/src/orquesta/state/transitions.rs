//! A task instance completing: its items, retries, transitions (`when`, `publish`, `do`),
//! engine commands, fail-fast, and the staging of next tasks (with `join` barriers).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{
    Barrier, COMMAND_RETRIES, ItemStatus, Outcome, RecordStatus, Staged, State, TaskRecord,
    expression_error,
};
use crate::command::{ErrorEntry, WorkflowStatus};
use crate::expr::{Current, Evaluator, Scope, TaskState};
use crate::orquesta::spec::{ENGINE_COMMANDS, Join};

impl State {
    pub(super) fn complete_item(
        &mut self,
        instance: usize,
        item: usize,
        outcome: Outcome,
        result: Value,
        ev: &Evaluator<'_>,
    ) {
        let Some(items) = self.tasks[instance].items.as_mut() else {
            return;
        };
        items.running -= 1;
        items.results[item] = result;
        items.status[item] = match outcome {
            Outcome::Succeeded => ItemStatus::Succeeded,
            Outcome::Failed => ItemStatus::Failed,
            Outcome::Canceled => ItemStatus::Canceled,
        };
        if outcome != Outcome::Succeeded {
            items.stopped = true;
        }
        if items.running > 0 {
            return;
        }
        let all_done = items.next >= items.values.len();
        let outcome = if items.status.contains(&ItemStatus::Canceled) {
            Some(Outcome::Canceled)
        } else if items.status.contains(&ItemStatus::Failed) {
            Some(Outcome::Failed)
        } else if all_done {
            Some(Outcome::Succeeded)
        } else {
            None
        };
        if let Some(outcome) = outcome {
            let results = Value::Array(items.results.clone());
            self.complete_instance(instance, outcome, results, ev);
        }
    }

    /// A task instance completed (all its items, for a `with` items task): retry, or record
    /// the outcome and follow the transitions.
    pub(super) fn complete_instance(
        &mut self,
        instance: usize,
        outcome: Outcome,
        result: Value,
        ev: &Evaluator<'_>,
    ) {
        self.last_completed = Some(instance);
        let name = self.tasks[instance].name.clone();
        if outcome == Outcome::Canceled {
            self.tasks[instance].status = RecordStatus::Canceled;
            if self.active() {
                self.status = WorkflowStatus::Canceling;
            }
            return;
        }
        let state = if outcome == Outcome::Succeeded {
            TaskState::Succeeded
        } else {
            TaskState::Failed
        };
        let current = Current {
            state,
            result: result.clone(),
        };
        let ctx_in = self.tasks[instance].ctx_in.clone();
        let scope = self.scope(&ctx_in, Some(current.clone()));
        if self.active() {
            if let Some(retry) = self.tasks[instance].retry.clone() {
                if retry.tally < retry.count {
                    let wanted = match &retry.when {
                        None => Ok(outcome == Outcome::Failed),
                        Some(when) => ev.condition(when, &scope),
                    };
                    match wanted {
                        Ok(true) => {
                            self.stage_retry(instance, true);
                            return;
                        }
                        Ok(false) => {}
                        Err(error) => {
                            self.log(ErrorEntry::new(expression_error(&error)).task(&name));
                            self.fail();
                        }
                    }
                }
            }
        }
        self.tasks[instance].status = if outcome == Outcome::Succeeded {
            RecordStatus::Succeeded
        } else {
            RecordStatus::Failed
        };
        let scope = Scope {
            statuses: Arc::new(self.statuses()),
            ..scope
        };
        self.follow_transitions(instance, outcome, result, &scope, ev);
    }

    /// Stages a retry of an instance (from `retry`, or the `retry` command: no delay).
    fn stage_retry(&mut self, instance: usize, from_spec: bool) {
        let record = &mut self.tasks[instance];
        let mut delay = 0;
        if from_spec {
            if let Some(retry) = record.retry.as_mut() {
                retry.tally += 1;
                delay = retry.delay;
            }
        } else {
            record.command_retries += 1;
        }
        record.status = RecordStatus::Retrying;
        let entry = Staged {
            task: record.name.clone(),
            ctxs: record.ctx_in.clone(),
            ready: true,
            barrier: None,
            run_on_fail: false,
            retry_of: Some(instance),
            retry_delay: delay,
        };
        self.staged.push(entry);
    }

    fn follow_transitions(
        &mut self,
        instance: usize,
        outcome: Outcome,
        result: Value,
        scope: &Scope,
        ev: &Evaluator<'_>,
    ) {
        let name = self.tasks[instance].name.clone();
        let next = self.spec(&name).next;
        let mut matched = Vec::new();
        for (index, transition) in next.iter().enumerate() {
            let transition_id = format!(
                "{}__t{index}",
                transition
                    .targets
                    .first()
                    .map_or("continue", String::as_str)
            );
            match &transition.when {
                None => matched.push(index),
                Some(when) => match ev.condition(when, scope) {
                    Ok(true) => matched.push(index),
                    Ok(false) => {}
                    Err(error) => {
                        self.log(
                            ErrorEntry::new(expression_error(&error))
                                .task(&name)
                                .transition(transition_id),
                        );
                        self.fail();
                    }
                },
            }
        }
        let retry_command = matched
            .iter()
            .any(|&i| next[i].targets.iter().any(|t| t == "retry"));
        if retry_command && self.active() && self.tasks[instance].command_retries < COMMAND_RETRIES
        {
            self.stage_retry(instance, false);
            return;
        }
        if outcome == Outcome::Failed {
            self.log(
                ErrorEntry::new("Execution failed. See result for details.")
                    .task(&name)
                    .result(result),
            );
        }
        if next.is_empty() {
            self.tasks[instance].term = true;
        }
        let ctx_in = self.tasks[instance].ctx_in.clone();
        let mut remediated = false;
        let mut manual_fail = false;
        let mut touched = Vec::new();
        for index in matched {
            let transition = &next[index];
            let mut ctx = (*scope.ctx).clone();
            let mut published = Map::new();
            let mut ok = true;
            for entry in &transition.publish {
                let publish_scope = Scope {
                    ctx: Arc::new(ctx.clone()),
                    ..scope.clone()
                };
                match ev.evaluate(&entry.value, &publish_scope) {
                    Ok(value) => {
                        ctx.insert(entry.name.clone(), value.clone());
                        published.insert(entry.name.clone(), value);
                    }
                    Err(error) => {
                        let transition_id = format!(
                            "{}__t{index}",
                            transition
                                .targets
                                .first()
                                .map_or("continue", String::as_str)
                        );
                        self.log(
                            ErrorEntry::new(expression_error(&error))
                                .task(&name)
                                .transition(transition_id),
                        );
                        self.fail();
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                continue;
            }
            let mut out_ctxs = ctx_in.clone();
            if !published.is_empty() {
                self.contexts.push(published);
                out_ctxs.push(self.contexts.len() - 1);
            }
            for target in &transition.targets {
                if ENGINE_COMMANDS.contains(&target.as_str()) {
                    // An exhausted `retry` command continues.
                    let command = if target == "retry" {
                        "continue"
                    } else {
                        target.as_str()
                    };
                    remediated |= command != "continue";
                    manual_fail |= command == "fail";
                    self.tasks.push(TaskRecord {
                        name: command.to_owned(),
                        command: true,
                        ctx_in: out_ctxs.clone(),
                        status: if command == "fail" {
                            RecordStatus::Failed
                        } else {
                            RecordStatus::Succeeded
                        },
                        attempt: 1,
                        retry: None,
                        command_retries: 0,
                        items: None,
                        delay: None,
                        term: true,
                    });
                } else {
                    remediated = true;
                    touched.push(self.stage(target, out_ctxs.clone(), &name));
                }
            }
        }
        if manual_fail {
            for position in touched {
                self.staged[position].run_on_fail = true;
            }
            self.log(
                ErrorEntry::new(format!(
                    "The workflow failed on the `fail` command after task \"{name}\"."
                ))
                .task(&name),
            );
            self.fail();
        }
        if outcome == Outcome::Failed && !remediated {
            self.fail();
        }
    }

    /// Stages `task` for an inbound transition from `from`; returns its staging position.
    fn stage(&mut self, task: &str, ctxs: Vec<usize>, from: &str) -> usize {
        let join = self.workflow.tasks.get(task).and_then(|t| t.join);
        let Some(join) = join else {
            self.staged.push(Staged {
                task: task.to_owned(),
                ctxs,
                ready: true,
                barrier: None,
                run_on_fail: false,
                retry_of: None,
                retry_delay: 0,
            });
            return self.staged.len() - 1;
        };
        let requirement = match join {
            Join::All => self.inbound_count(task),
            Join::Count(n) => n,
        };
        let latest = self
            .staged
            .iter()
            .rposition(|s| s.task == task && s.barrier.is_some());
        let barrier_of = |s: &Staged| {
            s.barrier.clone().unwrap_or(Barrier {
                arrivals: Vec::new(),
                fired: false,
            })
        };
        let position = match latest.map(|p| (p, barrier_of(&self.staged[p]))) {
            Some((position, barrier)) if !barrier.arrivals.iter().any(|a| a == from) => {
                let entry = &mut self.staged[position];
                if let Some(barrier) = entry.barrier.as_mut() {
                    barrier.arrivals.push(from.to_owned());
                }
                if barrier.fired {
                    // Absorbed: the barrier already ran for this round.
                    return position;
                }
                entry.ctxs.extend(ctxs.into_iter().filter(|&c| c != 0));
                position
            }
            Some((position, barrier)) if !barrier.fired => {
                // The same branch arriving again while the barrier waits (a loop).
                self.staged[position]
                    .ctxs
                    .extend(ctxs.into_iter().filter(|&c| c != 0));
                return position;
            }
            latest => {
                // The first arrival of a round; a fired barrier's branch arriving again
                // starts the next round.
                if let Some((position, _)) = latest {
                    self.staged.remove(position);
                }
                self.staged.push(Staged {
                    task: task.to_owned(),
                    ctxs,
                    ready: false,
                    barrier: Some(Barrier {
                        arrivals: vec![from.to_owned()],
                        fired: false,
                    }),
                    run_on_fail: false,
                    retry_of: None,
                    retry_delay: 0,
                });
                self.staged.len() - 1
            }
        };
        let entry = &mut self.staged[position];
        let arrived = entry.barrier.as_ref().map_or(0, |b| b.arrivals.len());
        entry.ready = arrived >= requirement;
        position
    }

    /// The number of distinct tasks that transition into `task`.
    fn inbound_count(&self, task: &str) -> usize {
        self.workflow
            .tasks
            .values()
            .filter(|t| t.next.iter().any(|n| n.targets.iter().any(|x| x == task)))
            .count()
    }
}
