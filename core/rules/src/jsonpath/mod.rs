//! jsonpath_rw, the path language of StackStorm criteria keys (`trigger.body.items[0].name`)
//! and of the `jsonpath_query` filter.
//!
//! Semantics follow jsonpath_rw 1.4's `find`: fields match only dicts, `[n]` indexes lists
//! (and strings), `[*]`/slices coerce a dict, int or string into a one-element list, `*`
//! enumerates a dict's values, `..` searches descendants, `where`, `|`, `` `this` `` and
//! `` `parent` `` work, `&` raises. Python exceptions surface as [`FindError`]; StackStorm
//! turns them into a failed criterion. A plain dotted key is resolved by a fast path that
//! neither allocates nor recurses.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

mod parser;

#[cfg(test)]
mod tests;

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonPath {
    expr: Expr,
    /// `a.b.c` with plain field names only: resolved without the general machinery.
    plain_fields: Option<Vec<String>>,
}

/// The jsonpath_rw syntax tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// `$`.
    Root,
    /// `` `this` ``.
    This,
    /// `` `parent` ``.
    Parent,
    /// `a`, `a,b`, `'quoted'`, `*` (all values of a dict).
    Fields(Vec<String>),
    /// `[n]`.
    Index(usize),
    /// `[*]`, `[a:b]`.
    Slice {
        start: Option<usize>,
        end: Option<usize>,
    },
    /// `l.r`, and `l[…]`.
    Child(Box<Expr>, Box<Expr>),
    /// `l..r`.
    Descendants(Box<Expr>, Box<Expr>),
    /// `l where r`.
    Where(Box<Expr>, Box<Expr>),
    /// `l | r`.
    Union(Box<Expr>, Box<Expr>),
    /// `l & r` (not implemented by jsonpath_rw either: always an error when evaluated).
    Intersect(Box<Expr>, Box<Expr>),
}

/// A Python exception raised while evaluating a path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FindError(pub(crate) String);

impl fmt::Display for FindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A value reached by a path: borrowed from the document, or synthesized (a character of a
/// string, the virtual lookup root, a one-element list made by slice coercion).
#[derive(Debug, Clone)]
enum Node<'a> {
    Json(&'a Value),
    Owned(Value),
    /// StackStorm's lookup context `{prefix: payload}`.
    Root {
        prefix: &'a str,
        payload: &'a Value,
    },
    /// `[value]`, made by slice coercion.
    ListOf(&'a Value),
}

impl<'a> Node<'a> {
    fn to_cow(&self) -> Cow<'a, Value> {
        match self {
            Node::Json(v) => Cow::Borrowed(*v),
            other => Cow::Owned(other.to_value()),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Node::Json(v) => (*v).clone(),
            Node::Owned(v) => v.clone(),
            Node::Root { prefix, payload } => {
                let mut map = serde_json::Map::new();
                map.insert((*prefix).to_owned(), (*payload).clone());
                Value::Object(map)
            }
            Node::ListOf(v) => Value::Array(vec![(*v).clone()]),
        }
    }

    /// Children of a borrowed or owned value, as nodes of the same kind.
    fn child(&self, pick: impl FnOnce(&Value) -> Option<&Value>) -> Option<Node<'a>> {
        match self {
            Node::Json(v) => pick(v).map(Node::Json),
            Node::Owned(v) => pick(v).cloned().map(Node::Owned),
            Node::Root { .. } | Node::ListOf(_) => {
                let value = self.to_value();
                pick(&value).cloned().map(Node::Owned)
            }
        }
    }
}

/// A node with a pointer to the node it was reached from (for `` `parent` `` and `$`).
struct Datum<'d, 'a> {
    node: Node<'a>,
    parent: Option<&'d Datum<'d, 'a>>,
}

type Sink<'s, 'a> = dyn FnMut(&Datum<'_, 'a>) -> Result<(), FindError> + 's;

impl JsonPath {
    /// Parses `source` with jsonpath_rw's grammar.
    pub(crate) fn parse(source: &str) -> Result<JsonPath, String> {
        let expr = parser::parse(source)?;
        let mut plain = Vec::new();
        let plain_fields = collect_plain_fields(&expr, &mut plain).then_some(plain);
        Ok(JsonPath { expr, plain_fields })
    }

    /// For a plain dotted path (`a.b.c`, no wildcards, indexes or operators): its field names.
    pub(crate) fn plain_fields(&self) -> Option<&[String]> {
        self.plain_fields.as_deref()
    }

    /// The first match of the path in StackStorm's lookup context `{prefix: payload}`,
    /// `Ok(None)` when nothing matches. Like jsonpath_rw, every match is computed, so an
    /// exception anywhere fails the lookup.
    pub(crate) fn first<'a>(
        &self,
        prefix: &'a str,
        payload: &'a Value,
    ) -> Result<Option<Cow<'a, Value>>, FindError> {
        if let Some(fields) = &self.plain_fields {
            let Some((head, rest)) = fields.split_first() else {
                return Ok(None);
            };
            if head != prefix {
                return Ok(None);
            }
            let mut current = payload;
            for field in rest {
                match current {
                    Value::Object(map) => match map.get(field.as_str()) {
                        Some(next) => current = next,
                        None => return Ok(None),
                    },
                    _ => return Ok(None),
                }
            }
            return Ok(Some(Cow::Borrowed(current)));
        }
        let root = Datum {
            node: Node::Root { prefix, payload },
            parent: None,
        };
        let mut first = None;
        find(&self.expr, &root, &mut |datum| {
            if first.is_none() {
                first = Some(datum.node.to_cow());
            }
            Ok(())
        })?;
        Ok(first)
    }

    /// Every match of the path with `document` as the root (the `jsonpath_query` filter).
    pub(crate) fn find_all(&self, document: &Value) -> Result<Vec<Value>, FindError> {
        let root = Datum {
            node: Node::Json(document),
            parent: None,
        };
        let mut matches = Vec::new();
        find(&self.expr, &root, &mut |datum| {
            matches.push(datum.node.to_value());
            Ok(())
        })?;
        Ok(matches)
    }
}

/// True if `expr` is `a.b.c` with single, non-`*` field names; pushes the names.
fn collect_plain_fields(expr: &Expr, out: &mut Vec<String>) -> bool {
    match expr {
        Expr::Fields(names) if names.len() == 1 && names[0] != "*" => {
            out.push(names[0].clone());
            true
        }
        Expr::Child(left, right) => {
            collect_plain_fields(left, out) && collect_plain_fields(right, out)
        }
        _ => false,
    }
}

fn find<'a>(expr: &Expr, datum: &Datum<'_, 'a>, out: &mut Sink<'_, 'a>) -> Result<(), FindError> {
    match expr {
        Expr::This => out(datum),
        Expr::Parent => match datum.parent {
            Some(parent) => out(parent),
            None => Err(FindError(
                "AttributeError: 'NoneType' object has no attribute 'value' (`parent` of the root)"
                    .to_owned(),
            )),
        },
        Expr::Root => {
            let mut top = datum;
            while let Some(parent) = top.parent {
                top = parent;
            }
            out(&Datum {
                node: top.node.clone(),
                parent: None,
            })
        }
        Expr::Fields(names) => find_fields(names, datum, out),
        Expr::Index(index) => find_index(*index, datum, out),
        Expr::Slice { start, end } => find_slice(*start, *end, datum, out),
        Expr::Child(left, right) => find(left, datum, &mut |m| find(right, m, out)),
        Expr::Where(left, right) => find(left, datum, &mut |m| {
            let mut found = false;
            find(right, m, &mut |_| {
                found = true;
                Ok(())
            })?;
            if found { out(m) } else { Ok(()) }
        }),
        Expr::Union(left, right) => {
            find(left, datum, out)?;
            find(right, datum, out)
        }
        Expr::Intersect(..) => Err(FindError(
            "NotImplementedError: jsonpath `&` (intersection) is not implemented".to_owned(),
        )),
        Expr::Descendants(left, right) => find(left, datum, &mut |m| descend(right, m, out)),
    }
}

/// `right` on `datum`, then on every list element and dict value below it, depth first.
fn descend<'a>(
    right: &Expr,
    datum: &Datum<'_, 'a>,
    out: &mut Sink<'_, 'a>,
) -> Result<(), FindError> {
    find(right, datum, out)?;
    let children: Vec<Node<'a>> = match &datum.node {
        Node::Json(Value::Array(items)) => items.iter().map(Node::Json).collect(),
        Node::Json(Value::Object(map)) => map.values().map(Node::Json).collect(),
        Node::Json(_) => Vec::new(),
        Node::Root { payload, .. } => vec![Node::Json(payload)],
        Node::ListOf(v) => vec![Node::Json(v)],
        Node::Owned(Value::Array(items)) => items.iter().cloned().map(Node::Owned).collect(),
        Node::Owned(Value::Object(map)) => map.values().cloned().map(Node::Owned).collect(),
        Node::Owned(_) => Vec::new(),
    };
    for node in children {
        descend(
            right,
            &Datum {
                node,
                parent: Some(datum),
            },
            out,
        )?;
    }
    Ok(())
}

fn find_fields<'a>(
    names: &[String],
    datum: &Datum<'_, 'a>,
    out: &mut Sink<'_, 'a>,
) -> Result<(), FindError> {
    if let Node::Root { prefix, payload } = datum.node {
        for name in names {
            if name == "*" || name == prefix {
                out(&Datum {
                    node: Node::Json(payload),
                    parent: Some(datum),
                })?;
            }
        }
        return Ok(());
    }
    let all = names.iter().any(|n| n == "*");
    let keys: Vec<String> = if all {
        match &datum.node {
            Node::Json(Value::Object(map)) => map.keys().cloned().collect(),
            Node::Owned(Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    } else {
        names.to_vec()
    };
    for key in &keys {
        let child = datum.node.child(|v| match v {
            Value::Object(map) => map.get(key.as_str()),
            _ => None,
        });
        if let Some(node) = child {
            out(&Datum {
                node,
                parent: Some(datum),
            })?;
        }
    }
    Ok(())
}

fn len_error(value: &Value) -> FindError {
    FindError(format!(
        "TypeError: object of type '{}' has no len()",
        crate::py::type_name(value)
    ))
}

fn find_index<'a>(
    index: usize,
    datum: &Datum<'_, 'a>,
    out: &mut Sink<'_, 'a>,
) -> Result<(), FindError> {
    let value = match &datum.node {
        Node::Root { .. } => {
            // A one-key dict: `d[0]` raises KeyError when 0 < len.
            return if index < 1 {
                Err(FindError(format!("KeyError: {index}")))
            } else {
                Ok(())
            };
        }
        Node::ListOf(v) => {
            return if index == 0 {
                out(&Datum {
                    node: Node::Json(v),
                    parent: Some(datum),
                })
            } else {
                Ok(())
            };
        }
        Node::Json(v) => Cow::Borrowed(*v),
        Node::Owned(v) => Cow::Borrowed(v),
    };
    // `if datum.value and len(datum.value) > self.index: datum.value[self.index]`
    if !crate::py::truthy(&value) {
        return Ok(());
    }
    match value.as_ref() {
        Value::Array(items) => match datum
            .node
            .child(|v| v.as_array().and_then(|a| a.get(index)))
        {
            Some(node) if index < items.len() => out(&Datum {
                node,
                parent: Some(datum),
            }),
            _ => Ok(()),
        },
        Value::String(s) => match s.chars().nth(index) {
            Some(c) => out(&Datum {
                node: Node::Owned(Value::String(c.to_string())),
                parent: Some(datum),
            }),
            None => Ok(()),
        },
        Value::Object(map) if index < map.len() => Err(FindError(format!("KeyError: {index}"))),
        Value::Object(_) => Ok(()),
        other => Err(len_error(other)),
    }
}

fn find_slice<'a>(
    start: Option<usize>,
    end: Option<usize>,
    datum: &Datum<'_, 'a>,
    out: &mut Sink<'_, 'a>,
) -> Result<(), FindError> {
    let in_range = |i: usize, len: usize| {
        let start = start.unwrap_or(0).min(len);
        let end = end.unwrap_or(len).min(len);
        i >= start && i < end
    };
    let coerce = match &datum.node {
        Node::Root { .. } => true,
        Node::ListOf(_) => false,
        Node::Json(v) => {
            matches!(v, Value::Object(_) | Value::String(_) | Value::Bool(_))
                || matches!(v, Value::Number(n) if !n.is_f64())
        }
        Node::Owned(v) => {
            matches!(v, Value::Object(_) | Value::String(_) | Value::Bool(_))
                || matches!(v, Value::Number(n) if !n.is_f64())
        }
    };
    if coerce {
        // jsonpath_rw wraps dicts, ints and strings into `[value]` before slicing.
        if !in_range(0, 1) {
            return Ok(());
        }
        let wrapper_node = match &datum.node {
            Node::Json(v) => Node::ListOf(v),
            other => Node::Owned(Value::Array(vec![other.to_value()])),
        };
        let wrapper = Datum {
            node: wrapper_node,
            parent: datum.parent,
        };
        return out(&Datum {
            node: datum.node.clone(),
            parent: Some(&wrapper),
        });
    }
    match &datum.node {
        Node::ListOf(v) => {
            if in_range(0, 1) {
                out(&Datum {
                    node: Node::Json(v),
                    parent: Some(datum),
                })?;
            }
            Ok(())
        }
        Node::Json(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if in_range(i, items.len()) {
                    out(&Datum {
                        node: Node::Json(item),
                        parent: Some(datum),
                    })?;
                }
            }
            Ok(())
        }
        Node::Owned(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if in_range(i, items.len()) {
                    out(&Datum {
                        node: Node::Owned(item.clone()),
                        parent: Some(datum),
                    })?;
                }
            }
            Ok(())
        }
        Node::Json(other) => Err(len_error(other)),
        Node::Owned(other) => Err(len_error(other)),
        Node::Root { .. } => Ok(()),
    }
}
