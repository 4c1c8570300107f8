//! Semantic checks of an orquesta definition, all reported at once: `do` targets, start tasks
//! and reachability, `join` counts, context variables, YAQL and Jinja syntax.

use std::collections::{BTreeSet, HashSet, VecDeque};

use nerve_yaml::PathSegment;

use super::spec::{Collected, ENGINE_COMMANDS, Join, Workflow};
use crate::expr::{check_syntax, ctx_references, has_yaql};
use crate::problem::{Problems, did_you_mean, with_suggestion};

/// Context keys StackStorm provides to every workflow (`ctx().st2`, `ctx().parent`).
const RUNTIME_VARIABLES: &[&str] = &["st2", "parent"];

pub(crate) fn check(workflow: &Workflow, collected: &Collected, problems: &mut Problems<'_>) {
    targets(workflow, collected, problems);
    if collected.graph_complete {
        reachability(workflow, collected, problems);
    }
    joins(workflow, collected, problems);
    expressions(workflow, collected, problems);
}

fn task_names(workflow: &Workflow) -> impl Iterator<Item = &str> {
    workflow.tasks.keys().map(String::as_str)
}

fn targets(workflow: &Workflow, collected: &Collected, problems: &mut Problems<'_>) {
    for target in &collected.targets {
        let name = target.target.as_str();
        if ENGINE_COMMANDS.contains(&name) || workflow.tasks.contains_key(name) {
            continue;
        }
        let suggestion = did_you_mean(
            name,
            task_names(workflow).chain(ENGINE_COMMANDS.iter().copied()),
        );
        problems.at(
            &target.path,
            with_suggestion(format!("unknown task `{name}`"), suggestion.as_deref()),
            None,
        );
    }
}

fn reachability(workflow: &Workflow, collected: &Collected, problems: &mut Problems<'_>) {
    let referenced: HashSet<&str> = collected
        .targets
        .iter()
        .map(|t| t.target.as_str())
        .collect();
    let starts: Vec<&str> = task_names(workflow)
        .filter(|name| !referenced.contains(name))
        .collect();
    if starts.is_empty() {
        if !workflow.tasks.is_empty() {
            problems.at(
                &[PathSegment::Key("tasks".to_owned())],
                "no start task: every task is named in some `do`, so nothing would run".to_owned(),
                Some("a workflow starts with the tasks that no `do` names".to_owned()),
            );
        }
        return;
    }
    let mut reached: BTreeSet<&str> = starts.iter().copied().collect();
    let mut queue: VecDeque<&str> = starts.iter().copied().collect();
    while let Some(name) = queue.pop_front() {
        for target in collected.targets.iter().filter(|t| t.from == name) {
            let next = target.target.as_str();
            if workflow.tasks.contains_key(next) && reached.insert(next) {
                queue.push_back(next);
            }
        }
    }
    let start_list = starts
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ");
    for name in task_names(workflow) {
        if !reached.contains(name) {
            problems.at_key(
                &[
                    PathSegment::Key("tasks".to_owned()),
                    PathSegment::Key(name.to_owned()),
                ],
                format!("task `{name}` is unreachable from the start tasks ({start_list})"),
                Some("only tasks named in a `do` of a reachable task ever run".to_owned()),
            );
        }
    }
}

fn joins(workflow: &Workflow, collected: &Collected, problems: &mut Problems<'_>) {
    for (name, task) in &workflow.tasks {
        let Some(Join::Count(count)) = task.join else {
            continue;
        };
        let inbound: BTreeSet<&str> = collected
            .targets
            .iter()
            .filter(|t| t.target == *name)
            .map(|t| t.from.as_str())
            .collect();
        if count > inbound.len() {
            problems.at(
                &[
                    PathSegment::Key("tasks".to_owned()),
                    PathSegment::Key(name.clone()),
                    PathSegment::Key("join".to_owned()),
                ],
                format!(
                    "`join: {count}` waits for {count} tasks but only {} transition into `{name}`",
                    inbound.len()
                ),
                Some(
                    "use `join: all`, or a count no larger than the number of inbound tasks"
                        .to_owned(),
                ),
            );
        }
    }
}

fn expressions(workflow: &Workflow, collected: &Collected, problems: &mut Problems<'_>) {
    let mut defined: HashSet<&str> = RUNTIME_VARIABLES.iter().copied().collect();
    defined.extend(workflow.input.iter().map(|i| i.name.as_str()));
    defined.extend(workflow.vars.iter().map(|v| v.name.as_str()));
    defined.extend(collected.published.iter().map(String::as_str));
    let mut candidates: Vec<&str> = defined.iter().copied().collect();
    candidates.sort_unstable();

    for site in &collected.sites {
        let place = match &site.task {
            Some(task) => format!(" in task `{task}`"),
            None => String::new(),
        };
        if has_yaql(&site.text) {
            problems.at(
                &site.path,
                format!(
                    "YAQL expressions are not supported; use Jinja `{{{{ }}}}`: `{}`{place}",
                    site.text
                ),
                Some(
                    "write `<% ctx(x) %>` as `{{ ctx('x') }}`; YAQL's `=` is Jinja's `==`"
                        .to_owned(),
                ),
            );
            continue;
        }
        if let Err(error) = check_syntax(&site.text) {
            problems.at(
                &site.path,
                format!("invalid Jinja expression `{}`{place}: {error}", site.text),
                None,
            );
            continue;
        }
        let mut seen = HashSet::new();
        for reference in ctx_references(&site.text) {
            let name = reference.name.as_str();
            if defined.contains(name) || !seen.insert(reference.name.clone()) {
                continue;
            }
            let suggestion = did_you_mean(name, candidates.iter().copied());
            problems.at(
                &site.path,
                with_suggestion(
                    format!(
                        "undefined variable `{name}`{place}: it is not an input, a var, or published by any task"
                    ),
                    suggestion.as_deref(),
                ),
                None,
            );
        }
    }
}
