//! References from rules and policies to actions and trigger types, within a pack and across packs.

use super::*;
/// Which references [`Catalog::check_references`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RefScope {
    /// Only references into the pack itself (checked while loading it).
    SamePack,
    /// Only references into other packs (checked when a set of packs is known).
    OtherPacks,
}

/// What a set of packs contains, for reference checks.
pub struct Catalog<'a> {
    packs: HashMap<&'a str, (&'a [LoadedAction], &'a [LoadedTriggerType])>,
}

impl<'a> Catalog<'a> {
    /// Indexes packs by ref; a later pack with the same ref replaces an earlier one.
    pub fn new(packs: impl IntoIterator<Item = &'a LoadedPack>) -> Self {
        Self {
            packs: packs
                .into_iter()
                .map(|p| {
                    (
                        p.pack_ref.as_str(),
                        (p.actions.as_slice(), p.trigger_types.as_slice()),
                    )
                })
                .collect(),
        }
    }

    pub(super) fn single(
        pack_ref: &'a str,
        actions: &'a [LoadedAction],
        trigger_types: &'a [LoadedTriggerType],
    ) -> Self {
        Self {
            packs: HashMap::from([(pack_ref, (actions, trigger_types))]),
        }
    }

    /// The action with this ref, if its pack is in the catalog and has it.
    pub fn action(&self, action_ref: &str) -> Option<&'a LoadedAction> {
        let (pack, name) = action_ref.split_once('.')?;
        let (actions, _) = self.packs.get(pack)?;
        actions.iter().find(|a| a.action.name == name)
    }

    /// The trigger type with this ref.
    pub fn trigger_type(&self, type_ref: &str) -> Option<&'a LoadedTriggerType> {
        let (pack, _) = type_ref.split_once('.')?;
        let (_, trigger_types) = self.packs.get(pack)?;
        trigger_types
            .iter()
            .find(|t| t.trigger_type.type_ref() == type_ref)
    }

    pub(super) fn check_references(
        &self,
        pack_ref: &str,
        rules: &[LoadedRule],
        policies: &[LoadedPolicy],
        scope: RefScope,
    ) -> Vec<Diagnostic> {
        let in_scope = |target: &str| {
            let target_pack = pack_of(target);
            let same = target_pack == pack_ref;
            let wanted = match scope {
                RefScope::SamePack => same,
                RefScope::OtherPacks => !same,
            };
            wanted && self.packs.contains_key(target_pack)
        };
        let mut out = Vec::new();
        for loaded in rules {
            let at = |path: &[PathSegment]| loaded.source.value_span(path);
            let rule = &loaded.rule;
            let file = loaded.file.as_path();
            let type_ref = &rule.trigger.trigger_type;
            if in_scope(type_ref) {
                let type_pack = pack_of(type_ref);
                match self.trigger_type(type_ref) {
                    Some(trigger_type) => {
                        check_trigger_parameters(rule, trigger_type, file, &at, &mut out)
                    }
                    None => {
                        let known: Vec<String> = self.packs[type_pack]
                            .1
                            .iter()
                            .map(|t| t.trigger_type.type_ref())
                            .collect();
                        out.push(with_hint(
                            Diagnostic::error(
                                file,
                                at(&[key("trigger"), key("type")]),
                                "trigger.type",
                                format!(
                                    "rule `{}` uses unknown trigger type `{type_ref}`",
                                    rule.rule_ref()
                                ),
                            ),
                            did_you_mean(type_ref, known.iter().map(String::as_str))
                                .map(|s| format!("did you mean `{s}`?")),
                        ));
                    }
                }
            }
            let action_ref = &rule.action.action_ref;
            if in_scope(action_ref) {
                match self.action(action_ref) {
                    Some(action) => check_rule_parameters(rule, action, file, &at, &mut out),
                    None => out.push(with_hint(
                        Diagnostic::error(
                            file,
                            at(&[key("action"), key("ref")]),
                            "action.ref",
                            format!(
                                "rule `{}` runs unknown action `{action_ref}`",
                                rule.rule_ref()
                            ),
                        ),
                        self.suggest_action(action_ref),
                    )),
                }
            }
        }
        for loaded in policies {
            let policy = &loaded.policy;
            if in_scope(&policy.resource_ref) && self.action(&policy.resource_ref).is_none() {
                out.push(with_hint(
                    Diagnostic::error(
                        &loaded.file,
                        loaded.source.value_span(&[key("resource_ref")]),
                        "resource_ref",
                        format!(
                            "policy `{}` applies to unknown action `{}`",
                            policy.policy_ref(),
                            policy.resource_ref
                        ),
                    ),
                    self.suggest_action(&policy.resource_ref),
                ));
            }
        }
        out
    }

    fn suggest_action(&self, action_ref: &str) -> Option<String> {
        let refs: Vec<String> = self
            .packs
            .values()
            .flat_map(|(actions, _)| actions.iter().map(|a| a.action.action_ref()))
            .collect();
        did_you_mean(action_ref, refs.iter().map(String::as_str))
            .map(|s| format!("did you mean `{s}`?"))
    }
}

fn check_trigger_parameters(
    rule: &Rule,
    trigger_type: &LoadedTriggerType,
    file: &Path,
    at: &dyn Fn(&[PathSegment]) -> Span,
    out: &mut Vec<Diagnostic>,
) {
    let parameters = Value::Object(rule.trigger.parameters.clone());
    match &trigger_type.parameters_schema {
        Some(schema) => {
            if let Err(violations) = schema.validate(&parameters) {
                for violation in violations {
                    let mut path = vec![key("trigger"), key("parameters")];
                    path.extend(pointer_segments(&violation.path));
                    out.push(Diagnostic::error(
                        file,
                        at(&path),
                        display_path(&path),
                        format!(
                            "trigger parameters don't match `{}`'s parameters_schema: {}",
                            trigger_type.trigger_type.type_ref(),
                            violation.message
                        ),
                    ));
                }
            }
        }
        None if !rule.trigger.parameters.is_empty() => {
            out.push(Diagnostic::warning(
                file,
                at(&[key("trigger"), key("parameters")]),
                "trigger.parameters",
                format!(
                    "trigger type `{}` takes no parameters; these are ignored",
                    trigger_type.trigger_type.type_ref()
                ),
            ));
        }
        None => {}
    }
}

/// Parameters a rule passes that the action does not declare, and required ones it leaves out,
/// fail every time the rule fires: say so now, as warnings (StackStorm would load the rule).
fn check_rule_parameters(
    rule: &Rule,
    action: &LoadedAction,
    file: &Path,
    at: &dyn Fn(&[PathSegment]) -> Span,
    out: &mut Vec<Diagnostic>,
) {
    let action_ref = action.action.action_ref();
    for name in rule.action.parameters.keys() {
        if !action.parameters.contains_key(name) {
            let path = [key("action"), key("parameters"), key(name)];
            let hint = did_you_mean(name, action.parameters.keys().map(String::as_str))
                .map(|s| format!("did you mean `{s}`?"));
            out.push(with_hint(
                Diagnostic::warning(
                    file,
                    at(&path),
                    display_path(&path),
                    format!("action `{action_ref}` has no parameter `{name}`; the execution will be rejected"),
                ),
                hint,
            ));
        }
    }
    for (name, spec) in &action.parameters {
        if spec.is_required()
            && spec.default.is_none()
            && !rule.action.parameters.contains_key(name)
        {
            out.push(Diagnostic::warning(
                file,
                at(&[key("action"), key("parameters")]),
                "action.parameters",
                format!("required parameter `{name}` of action `{action_ref}` is not set; the execution will be rejected"),
            ));
        }
        if spec.is_immutable() && rule.action.parameters.contains_key(name) {
            let path = [key("action"), key("parameters"), key(name)];
            out.push(Diagnostic::warning(
                file,
                at(&path),
                display_path(&path),
                format!("parameter `{name}` of action `{action_ref}` is immutable; the value given here is rejected"),
            ));
        }
    }
}
