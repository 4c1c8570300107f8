//! Action chains (StackStorm's `action-chain` runner): the definition ([`Chain`]), its
//! validation, and the run's state machine ([`ChainState`]).
//!
//! Semantics follow `st2common/models/system/actionchain.py` and
//! `contrib/runners/action_chain_runner/action_chain_runner.py`.

use nerve_yaml::{PathSegment, YamlDocument, parse_yaml};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::expr::{check_syntax, has_markup};
use crate::problem::{Problem, Problems, did_you_mean, join, with_suggestion};

mod state;

#[cfg(test)]
mod tests;

pub use state::ChainState;

const CHAIN_FIELDS: &[&str] = &["chain", "vars", "default"];
const NODE_FIELDS: &[&str] = &[
    "name",
    "ref",
    "params",
    "parameters",
    "on-success",
    "on-failure",
    "publish",
    "notify",
    "description",
];

/// An action-chain definition: `chain` (the nodes), `vars`, `default` (the first node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chain {
    pub(crate) nodes: Vec<Node>,
    pub(crate) vars: Map<String, Value>,
    pub(crate) default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) action: String,
    pub(crate) params: Map<String, Value>,
    pub(crate) on_success: Option<String>,
    pub(crate) on_failure: Option<String>,
    pub(crate) publish: Map<String, Value>,
}

fn key(name: &str) -> PathSegment {
    PathSegment::Key(name.to_owned())
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

impl Chain {
    /// Reads and validates an action-chain definition (YAML text).
    ///
    /// # Errors
    ///
    /// Every problem of the file, in file order: YAML syntax, unknown or malformed fields,
    /// missing `name` or `ref`, duplicate node names, unknown nodes in `on-success`,
    /// `on-failure` or `default`, and Jinja syntax errors. Names that are templates are
    /// resolved at run time, so they are not checked (as in StackStorm).
    pub fn parse(text: &str) -> Result<Chain, Vec<Problem>> {
        let (doc, _warnings) = parse_yaml(text).map_err(|error| vec![Problem::from(error)])?;
        let mut problems = Problems::new(&doc);
        let chain = read(&doc, &mut problems);
        if problems.is_empty() {
            Ok(chain)
        } else {
            Err(problems.into_sorted())
        }
    }

    /// The node names, in order.
    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|n| n.name.as_str())
    }

    /// The node the chain starts with: `default`, else the first node that no `on-success` or
    /// `on-failure` names, else the first node (StackStorm's `ChainHolder._get_default`).
    pub fn start_node(&self) -> Option<&str> {
        if let Some(default) = &self.default {
            return Some(default);
        }
        let referenced = |name: &str| {
            self.nodes.iter().any(|n| {
                n.on_success.as_deref() == Some(name) || n.on_failure.as_deref() == Some(name)
            })
        };
        self.nodes
            .iter()
            .find(|n| !referenced(&n.name))
            .or_else(|| self.nodes.first())
            .map(|n| n.name.as_str())
    }

    pub(crate) fn node(&self, name: &str) -> Option<(usize, &Node)> {
        self.nodes.iter().enumerate().find(|(_, n)| n.name == name)
    }
}

fn read(doc: &YamlDocument, problems: &mut Problems<'_>) -> Chain {
    let mut chain = Chain {
        nodes: Vec::new(),
        vars: Map::new(),
        default: None,
    };
    let Value::Object(root) = &doc.value else {
        problems.at(
            &[],
            format!(
                "an action chain is a mapping with `chain`, not {}",
                describe(&doc.value)
            ),
            None,
        );
        return chain;
    };
    unknown_fields(root, &[], CHAIN_FIELDS, problems);
    match root.get("vars") {
        None | Some(Value::Null) => {}
        Some(Value::Object(vars)) => {
            chain.vars = vars.clone();
            check_templates(&[key("vars")], &doc.value["vars"], problems);
        }
        Some(other) => problems.at(
            &[key("vars")],
            format!("`vars` is a mapping, not {}", describe(other)),
            None,
        ),
    }
    match root.get("chain") {
        None => problems.at(
            &[],
            "missing `chain`".to_owned(),
            Some("an action chain lists its nodes under `chain`".to_owned()),
        ),
        Some(Value::Array(nodes)) if nodes.is_empty() => {
            problems.at(&[key("chain")], "`chain` is empty".to_owned(), None);
        }
        Some(Value::Array(nodes)) => {
            for (i, node) in nodes.iter().enumerate() {
                let path = vec![key("chain"), PathSegment::Index(i)];
                if let Some(node) = read_node(&path, node, problems) {
                    if chain.nodes.iter().any(|n| n.name == node.name) {
                        problems.at(
                            &join(&path, &[key("name")]),
                            format!("node `{}` is defined twice", node.name),
                            None,
                        );
                    } else {
                        chain.nodes.push(node);
                    }
                }
            }
        }
        Some(other) => problems.at(
            &[key("chain")],
            format!("`chain` is a list of nodes, not {}", describe(other)),
            None,
        ),
    }
    match root.get("default") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => chain.default = Some(name.clone()),
        Some(other) => problems.at(
            &[key("default")],
            format!("`default` is a node name, not {}", describe(other)),
            None,
        ),
    }
    check_names(&chain, root, problems);
    chain
}

fn unknown_fields(
    map: &Map<String, Value>,
    path: &[PathSegment],
    known: &[&str],
    problems: &mut Problems<'_>,
) {
    for name in map.keys() {
        if !known.contains(&name.as_str()) {
            let suggestion = did_you_mean(name, known.iter().copied());
            problems.at_key(
                &join(path, &[key(name)]),
                with_suggestion(format!("unknown field `{name}`"), suggestion.as_deref()),
                Some(format!("known fields: {}", known.join(", "))),
            );
        }
    }
}

fn check_templates(path: &[PathSegment], value: &Value, problems: &mut Problems<'_>) {
    match value {
        Value::String(text) => {
            if let Err(error) = check_syntax(text) {
                problems.at(
                    path,
                    format!("invalid Jinja template `{text}`: {error}"),
                    None,
                );
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_templates(&join(path, &[PathSegment::Index(i)]), item, problems);
            }
        }
        Value::Object(map) => {
            for (name, item) in map {
                check_templates(&join(path, &[key(name)]), item, problems);
            }
        }
        _ => {}
    }
}

fn read_node(path: &[PathSegment], value: &Value, problems: &mut Problems<'_>) -> Option<Node> {
    let Value::Object(map) = value else {
        problems.at(
            path,
            format!(
                "a chain node is a mapping with `name` and `ref`, not {}",
                describe(value)
            ),
            None,
        );
        return None;
    };
    unknown_fields(map, path, NODE_FIELDS, problems);
    let mut text = |field: &str, required: bool| -> Option<String> {
        match map.get(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            None | Some(Value::Null) if !required => None,
            None => {
                problems.at(path, format!("a chain node needs `{field}`"), None);
                None
            }
            Some(other) => {
                problems.at(
                    &join(path, &[key(field)]),
                    format!("`{field}` is a name, not {}", describe(other)),
                    None,
                );
                None
            }
        }
    };
    let name = text("name", true);
    let action = text("ref", true);
    let on_success = text("on-success", false);
    let on_failure = text("on-failure", false);
    let mut mapping = |field: &str| -> Map<String, Value> {
        match map.get(field) {
            None | Some(Value::Null) => Map::new(),
            Some(value @ Value::Object(params)) => {
                check_templates(&join(path, &[key(field)]), value, problems);
                params.clone()
            }
            Some(other) => {
                problems.at(
                    &join(path, &[key(field)]),
                    format!("`{field}` is a mapping, not {}", describe(other)),
                    None,
                );
                Map::new()
            }
        }
    };
    let mut params = mapping("parameters");
    params.extend(mapping("params"));
    let publish = mapping("publish");
    Some(Node {
        name: name?,
        action: action?,
        params,
        on_success,
        on_failure,
        publish,
    })
}

/// `on-success`, `on-failure` and `default` must name nodes (templates are not checked).
fn check_names(chain: &Chain, root: &Map<String, Value>, problems: &mut Problems<'_>) {
    let names: Vec<&str> = chain.node_names().collect();
    let mut check = |path: Vec<PathSegment>, name: &str, field: &str| {
        if has_markup(name) || names.contains(&name) {
            return;
        }
        let suggestion = did_you_mean(name, names.iter().copied());
        problems.at(
            &path,
            with_suggestion(
                format!("unknown node `{name}` in `{field}`"),
                suggestion.as_deref(),
            ),
            None,
        );
    };
    if let Some(Value::Array(nodes)) = root.get("chain") {
        for (i, node) in nodes.iter().enumerate() {
            for field in ["on-success", "on-failure"] {
                if let Some(Value::String(name)) = node.get(field) {
                    check(
                        vec![key("chain"), PathSegment::Index(i), key(field)],
                        name.trim(),
                        field,
                    );
                }
            }
        }
    }
    if let Some(default) = &chain.default {
        check(vec![key("default")], default, "default");
    }
}
