//! Shared fixtures for unit tests: a datastore snapshot, a fixed `now`, rule builders.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use crate::rule::{CompiledRule, RuleProblem};
use crate::template::{KvLookup, KvValue};

/// The `now` every test evaluates at: 2024-01-01T00:00:00Z.
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A datastore with a few plain and secret items in both scopes.
pub(crate) struct TestKv(HashMap<(String, String), (KvValue, Option<String>)>);

impl TestKv {
    pub(crate) fn new() -> Self {
        let mut items = HashMap::new();
        let mut add = |scope: &str, key: &str, value: &str, plain: Option<&str>| {
            items.insert(
                (scope.to_owned(), key.to_owned()),
                (
                    KvValue {
                        value: value.to_owned(),
                        secret: plain.is_some(),
                    },
                    plain.map(str::to_owned),
                ),
            );
        };
        add("system", "greeting", "Hello World", None);
        add("system", "name.first", "World", None);
        add("system", "count", "5", None);
        add("system", "list_json", "[1, 2]", None);
        add("system", "empty", "", None);
        add(
            "system",
            "secret_greeting",
            "AES256:0badc0ffee",
            Some("Hello World"),
        );
        add("system", "undecryptable", "AES256:dead", None);
        add("user", "greeting", "Hello World", None);
        add("user", "token", "AES256:cafe", Some("t0k3n"));
        TestKv(items)
    }
}

impl KvLookup for TestKv {
    fn get(&self, scope: &str, key: &str) -> Option<KvValue> {
        self.0
            .get(&(scope.to_owned(), key.to_owned()))
            .map(|(v, _)| v.clone())
    }

    fn decrypt(&self, scope: &str, key: &str) -> Option<String> {
        self.0
            .get(&(scope.to_owned(), key.to_owned()))
            .and_then(|(_, plain)| plain.clone())
    }
}

/// An enabled rule on `test.trigger` with the given criteria and action parameters.
pub(crate) fn rule(name: &str, criteria: Value, parameters: Value) -> nerve_model::Rule {
    let rule = json!({
        "name": name, "pack": "test", "enabled": true,
        "trigger": {"type": "test.trigger"},
        "criteria": criteria,
        "action": {"ref": "core.noop", "parameters": parameters}
    });
    match serde_json::from_value(rule) {
        Ok(rule) => rule,
        Err(e) => panic!("bad test rule: {e}"),
    }
}

/// Compiles a test rule, keeping it even if it has problems.
pub(crate) fn compile(criteria: Value, parameters: Value) -> (CompiledRule, Vec<RuleProblem>) {
    CompiledRule::compile_with_problems(rule("r", criteria, parameters))
}

/// Parses JSON test input.
pub(crate) fn parse(text: &str) -> Value {
    match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => panic!("bad test JSON {text:?}: {e}"),
    }
}
