//! The rule tester, StackStorm's `st2-rule-tester`: a rule evaluated against one event with
//! every criterion explained and, when it matches, the action's parameters rendered and checked
//! against the action's schema. `nerve rule test` (offline, files) and `POST
//! /api/v1/rules/test` (the server's packs and datastore) share it.
//!
//! It evaluates; it does not read files, print or decide exit codes.

use nerve_model::{Rule, TriggerInstance};
use nerve_packs::{Catalog, LoadedAction, LoadedPack};
use nerve_rules::{Explanation, KvLookup, RenderContext, compile_rule};
use serde_json::{Map, Value, json};

/// The outcome of testing a rule against an event.
#[derive(Debug)]
pub(crate) struct Verdict {
    /// Each criterion explained.
    pub(crate) explanation: Explanation,
    /// Whether the event is of the rule's trigger type (`pack.type`, a trigger's parameters
    /// after `?` ignored).
    pub(crate) trigger_matches: bool,
    /// Trigger type and every criterion match.
    pub(crate) matched: bool,
    /// When matched: the rendered action parameters, or why they do not render.
    pub(crate) rendered: Option<Result<Map<String, Value>, String>>,
    /// What would go wrong at run time.
    pub(crate) warnings: Vec<String>,
}

/// What the rule's templates see besides the event.
pub(crate) struct Scene<'a> {
    /// `st2kv.*` lookups.
    pub(crate) kv: &'a dyn KvLookup,
    /// The action pack's config (`config_context`).
    pub(crate) config: &'a Value,
    /// The user the rule runs as (`action_context.user`).
    pub(crate) user: &'a str,
    /// Packs whose actions are checked.
    pub(crate) known: &'a [LoadedPack],
}

/// Tests `rule` against `event`.
///
/// # Errors
///
/// The rule's criteria or templates do not compile (a rule that loaded without errors
/// compiles, so this is a description for the caller, not a crash).
pub(crate) fn test_rule(
    rule: &Rule,
    event: &TriggerInstance,
    scene: &Scene<'_>,
) -> Result<Verdict, String> {
    // A disabled rule is explained as if enabled (the warning below says so).
    let mut enabled = rule.clone();
    enabled.enabled = true;
    let compiled = compile_rule(enabled)
        .map_err(|problems| format!("the rule does not compile: {problems:?}"))?;
    let action_context = json!({"user": scene.user, "pack": rule.pack});
    let ctx = RenderContext::new(&event.payload, scene.kv, chrono::Utc::now())
        .with_config(scene.config)
        .with_action_context(&action_context);
    let explanation = compiled.explain(&ctx);
    let event_type = event
        .trigger
        .split_once('?')
        .map_or(event.trigger.as_str(), |(type_ref, _)| type_ref);
    let trigger_matches = event_type == rule.trigger.trigger_type;
    let matched = explanation.matched && trigger_matches;

    let mut warnings = Vec::new();
    if !trigger_matches {
        warnings.push(format!(
            "the event's trigger `{}` is not the rule's trigger type `{}`; the rule would not see it",
            event.trigger, rule.trigger.trigger_type
        ));
    }
    if !rule.enabled {
        warnings.push(format!(
            "rule `{}` is disabled (`enabled: true` is needed; StackStorm's default is false); it is evaluated as if enabled",
            rule.rule_ref()
        ));
    }
    let rendered = matched.then(|| {
        compiled
            .render_action_parameters(&ctx)
            .map_err(|error| error.to_string())
    });
    if let Some(Ok(parameters)) = &rendered {
        let catalog = Catalog::new(scene.known.iter());
        let action_ref = &rule.action.action_ref;
        match catalog.action(action_ref) {
            Some(action) => warnings.extend(check_parameters(action, parameters)),
            None if scene.known.iter().any(|pack| {
                Some(pack.pack_ref.as_str()) == action_ref.split_once('.').map(|(pack, _)| pack)
            }) =>
            {
                warnings.push(format!("action `{action_ref}` does not exist"));
            }
            None => {}
        }
    }
    Ok(Verdict {
        explanation,
        trigger_matches,
        matched,
        rendered,
        warnings,
    })
}

/// What would fail the action at run time, checked the way the engine checks every execution
/// (values cast as StackStorm casts rendered parameters, defaults applied).
fn check_parameters(action: &LoadedAction, parameters: &Map<String, Value>) -> Vec<String> {
    use nerve_engine::ParameterProblem;
    let action_ref = action.action.action_ref();
    let Err(problems) = nerve_engine::check_action_parameters(action, parameters.clone()) else {
        return Vec::new();
    };
    problems
        .into_iter()
        .map(|problem| match problem {
            ParameterProblem::Immutable { parameter } => format!(
                "parameter `{parameter}` of action `{action_ref}` is immutable; the value given is rejected"
            ),
            ParameterProblem::Schema { path, message } => format!(
                "parameters of action `{action_ref}` are invalid{}: {message}",
                path.map(|p| format!(" at `{p}`")).unwrap_or_default()
            ),
            other => format!("parameters of action `{action_ref}`: {other}"),
        })
        .collect()
}

#[cfg(test)]
mod tests;
