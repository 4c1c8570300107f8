//! YAML text to `serde_json::Value`, with a source map from field paths to line and column.
//!
//! This is the only YAML reader in Nerve. It reads the way StackStorm does (PyYAML's
//! `safe_load`, YAML 1.1) so that a pack file means the same thing in both:
//!
//! - Plain (unquoted) scalars are resolved with PyYAML's resolver: `yes`/`no`/`on`/`off` are
//!   booleans, `010` is octal, `1:30` is sexagesimal (90), `1e3` is a *string* (PyYAML's float
//!   pattern needs a dot), `1.0e+3` is a float. Timestamps stay strings (JSON has no dates).
//! - Quoted and block scalars are always strings; the explicit tags `!!str`, `!!int`,
//!   `!!float`, `!!bool`, `!!null`, `!!map`, `!!seq` are honoured and any other tag is an error,
//!   as with `safe_load`.
//! - Anchors, aliases and `<<` merge keys work as in PyYAML (explicit keys win over merged
//!   ones; in a merged list the earlier mapping wins).
//! - Mapping keys that are not strings become their JSON text (`1` → `"1"`, `true` → `"true"`,
//!   `~` → `"null"`), because JSON object keys are strings. PyYAML would keep them as Python
//!   ints and bools; nothing in a pack file relies on that.
//! - A duplicate key is a warning (the last value wins, as in PyYAML, at the first key's place).
//! - Numbers JSON cannot hold (beyond 64 bits, `.inf`, `.nan`) are kept as their source text,
//!   with a warning.
//! - An empty file is `null`; more than one document is an error.
//!
//! It deliberately does not validate what the document means: that is `document`'s job.

use std::collections::HashMap;
use std::fmt;

use indexmap::IndexMap;
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};
use serde::Serialize;
use serde_json::{Map, Number, Value};

/// A position in the source text. Both numbers are 1-based; `col` counts characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Span {
    /// Line, starting at 1.
    pub line: u32,
    /// Column in characters, starting at 1.
    pub col: u32,
}

impl Span {
    /// The position `line:col` (both 1-based).
    pub const fn new(line: u32, col: u32) -> Self {
        Self { line, col }
    }

    fn from_marker(marker: saphyr_parser::Marker) -> Self {
        Self {
            line: u32::try_from(marker.line()).unwrap_or(u32::MAX).max(1),
            col: u32::try_from(marker.col() + 1).unwrap_or(u32::MAX),
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One step of a path into a document: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSegment {
    /// A key of a mapping.
    Key(String),
    /// A position in a sequence, starting at 0.
    Index(usize),
}

impl From<&str> for PathSegment {
    fn from(key: &str) -> Self {
        Self::Key(key.to_owned())
    }
}

impl From<String> for PathSegment {
    fn from(key: String) -> Self {
        Self::Key(key)
    }
}

impl From<usize> for PathSegment {
    fn from(index: usize) -> Self {
        Self::Index(index)
    }
}

impl fmt::Display for PathSegment {
    /// A key alone (quoted when it is not a plain word), or `[index]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(key) => write_key(f, key),
            Self::Index(index) => write!(f, "[{index}]"),
        }
    }
}

fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

fn write_key(f: &mut fmt::Formatter<'_>, key: &str) -> fmt::Result {
    if is_plain_key(key) {
        f.write_str(key)
    } else {
        // JSON string syntax: `"trigger.a"`, `"with \"quotes\""`.
        write!(f, "{}", Value::String(key.to_owned()))
    }
}

/// Displays a whole path the way diagnostics show it: `criteria."trigger.a".type`,
/// `tasks.t1.next[0].do`; the empty path displays as nothing.
#[derive(Debug, Clone, Copy)]
pub struct PathDisplay<'a>(pub &'a [PathSegment]);

impl fmt::Display for PathDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Key(key) => {
                    if position > 0 {
                        f.write_str(".")?;
                    }
                    write_key(f, key)?;
                }
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Renders a path for display (see [`PathDisplay`]).
pub fn display_path(path: &[PathSegment]) -> String {
    PathDisplay(path).to_string()
}

/// The YAML text could not be read as one document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct YamlError {
    /// Line of the problem, 1-based.
    pub line: u32,
    /// Column of the problem, 1-based.
    pub col: u32,
    /// What is wrong, in plain words.
    pub message: String,
    /// How to fix it, when there is a common fix.
    pub hint: Option<String>,
    /// Where in the document the problem is, when it is inside a value (empty for syntax errors).
    pub path: Vec<PathSegment>,
}

/// Something legal but probably unintended (a duplicate key, a number JSON cannot hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlWarning {
    /// Line, 1-based.
    pub line: u32,
    /// Column, 1-based.
    pub col: u32,
    /// Path of the value concerned.
    pub path: Vec<PathSegment>,
    /// What is odd, in plain words.
    pub message: String,
}

impl fmt::Display for YamlWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

/// A parsed document: its JSON value and where each part of it is in the source.
#[derive(Debug, Clone)]
pub struct YamlDocument {
    /// The document as JSON (`null` for an empty file).
    pub value: Value,
    source_map: SourceMap,
}

impl YamlDocument {
    /// Position of the value at `path`. When nothing is at `path`, the position of the nearest
    /// ancestor that exists (ultimately the document start, 1:1).
    pub fn value_span(&self, path: &[PathSegment]) -> Span {
        self.source_map.entry(path).value
    }

    /// Position of the mapping key of the value at `path` (where an unknown field should be
    /// reported). For a sequence item, the item's position; falls back like [`Self::value_span`].
    pub fn key_span(&self, path: &[PathSegment]) -> Span {
        self.source_map.entry(path).key
    }

    /// Whether a value exists at `path` in the source.
    pub fn contains(&self, path: &[PathSegment]) -> bool {
        self.source_map.find(path).is_some()
    }
}

/// Spans of every node, in an arena keyed by `(parent node, segment)`: building it is linear in
/// the document and a lookup never builds a path.
#[derive(Debug, Clone, Default)]
struct SourceMap {
    entries: Vec<SpanEntry>,
    children: HashMap<(u32, ChildKey), u32>,
}

#[derive(Debug, Clone, Copy)]
struct SpanEntry {
    key: Span,
    value: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ChildKey {
    Key(Box<str>),
    Index(usize),
}

impl SourceMap {
    fn root() -> SpanEntry {
        SpanEntry {
            key: Span::new(1, 1),
            value: Span::new(1, 1),
        }
    }

    fn child(&self, parent: u32, segment: &PathSegment) -> Option<u32> {
        let key = match segment {
            PathSegment::Key(key) => ChildKey::Key(key.as_str().into()),
            PathSegment::Index(index) => ChildKey::Index(*index),
        };
        self.children.get(&(parent, key)).copied()
    }

    fn find(&self, path: &[PathSegment]) -> Option<u32> {
        if self.entries.is_empty() {
            return None;
        }
        let mut node = 0;
        for segment in path {
            node = self.child(node, segment)?;
        }
        Some(node)
    }

    /// The entry at `path`, or at the deepest existing ancestor.
    fn entry(&self, path: &[PathSegment]) -> SpanEntry {
        let Some(root) = self.entries.first() else {
            return Self::root();
        };
        let mut entry = *root;
        let mut node = 0;
        for segment in path {
            match self.child(node, segment) {
                Some(child) => {
                    node = child;
                    entry = self.entries[child as usize];
                }
                None => break,
            }
        }
        entry
    }

    fn push(&mut self, entry: SpanEntry) -> u32 {
        let id = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        self.entries.push(entry);
        id
    }
}

/// Parses one YAML document the way PyYAML's `safe_load` does (see the module documentation).
///
/// # Errors
///
/// Returns the first syntax error, a second document, an unsupported or misapplied tag, a
/// collection used as a mapping key, an invalid merge, or nesting/alias expansion beyond the
/// limits ([`MAX_DEPTH`] levels, [`MAX_ALIAS_EXPANSION`] values).
pub fn parse_yaml(text: &str) -> Result<(YamlDocument, Vec<YamlWarning>), YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|error| scan_error(&error))?;
        let start = Span::from_marker(span.start);
        builder.on_event(event, start)?;
    }
    let root = builder.root.take();
    let mut warnings = builder.warnings;
    let mut source_map = SourceMap::default();
    let value = match root {
        Some(node) => {
            let id = source_map.push(SpanEntry {
                key: node.span,
                value: node.span,
            });
            convert(node, id, &mut source_map)
        }
        None => Value::Null,
    };
    warnings.sort_by_key(|warning| (warning.line, warning.col));
    Ok((YamlDocument { value, source_map }, warnings))
}

/// Deepest nesting of collections accepted (PyYAML stops near Python's recursion limit).
pub const MAX_DEPTH: usize = 512;

/// Most values that aliases may add to a document (guards against "billion laughs" files).
pub const MAX_ALIAS_EXPANSION: usize = 1_000_000;

fn scan_error(error: &ScanError) -> YamlError {
    let span = Span::from_marker(*error.marker());
    let (message, hint) = plain_words(error.info());
    YamlError {
        line: span.line,
        col: span.col,
        message,
        hint,
        path: Vec::new(),
    }
}

/// Rewords the parser's messages for people who write pack files.
fn plain_words(info: &str) -> (String, Option<String>) {
    let owned = |text: &str| text.to_owned();
    match info {
        "mapping values are not allowed in this context" => (
            owned("mapping values are not allowed here"),
            Some(owned(
                "a `: ` inside a value starts a new mapping; put the value in quotes",
            )),
        ),
        "block sequence entries are not allowed in this context" => (
            owned("a `- ` list item is not allowed here"),
            Some(owned("check the indentation of this line")),
        ),
        "while parsing a block mapping, did not find expected key" => (
            owned("expected a `key: value` line here"),
            Some(owned(
                "check the indentation: keys of one mapping must start in the same column",
            )),
        ),
        "while parsing a block collection, did not find expected '-' indicator" => (
            owned("expected a `- ` list item here"),
            Some(owned(
                "check the indentation: items of one list must start in the same column",
            )),
        ),
        "while parsing a node, did not find expected node content" => {
            (owned("expected a value here"), None)
        }
        "while parsing a flow mapping, did not find expected ',' or '}'" => {
            (owned("expected `,` or `}` in this `{...}` mapping"), None)
        }
        "while parsing a flow sequence, expected ',' or ']'" => {
            (owned("expected `,` or `]` in this `[...]` list"), None)
        }
        "while scanning a quoted scalar, found unexpected end of stream" => (
            owned("this quoted string is never closed"),
            Some(owned("add the closing quote")),
        ),
        "while parsing node, found unknown anchor" => (
            owned("this alias refers to an anchor that is not defined before it"),
            Some(owned("define `&name` on a value before using `*name`")),
        ),
        "tabs disallowed within this context (block indentation)"
        | "tab cannot be used as indentation"
        | "tabs disallowed in this context"
        | "while scanning a plain scalar, found a tab" => (
            owned("found a tab character where YAML expects spaces"),
            Some(owned(
                "indent with spaces; YAML does not allow tabs for indentation",
            )),
        ),
        "invalid indentation" | "wrongly indented line in block scalar" => {
            (owned("this line is not indented correctly"), None)
        }
        "illegal placement of ':' indicator" => (
            owned("unexpected `:` here"),
            Some(owned("look for an unclosed `[` or `{` before this point")),
        ),
        "found unprintable character" => (
            owned("found a control character that YAML does not allow"),
            None,
        ),
        other => {
            let text = other
                .strip_prefix("while parsing ")
                .or_else(|| other.strip_prefix("while scanning "))
                .and_then(|rest| rest.split_once(", "))
                .map_or(other, |(_, detail)| detail);
            (text.to_owned(), None)
        }
    }
}

/// A node of the document tree, with the position of its value.
#[derive(Debug, Clone)]
struct Node {
    span: Span,
    /// Height of the subtree (0 for a scalar), to bound nesting through aliases.
    depth: usize,
    kind: NodeKind,
}

#[derive(Debug, Clone)]
enum NodeKind {
    Scalar(ScalarValue),
    Sequence(Vec<Node>),
    Mapping(IndexMap<String, MapEntry>),
}

#[derive(Debug, Clone)]
struct MapEntry {
    key_span: Span,
    value: Node,
}

/// A resolved scalar. Numbers JSON cannot hold are kept as text with a reason.
#[derive(Debug, Clone)]
enum ScalarValue {
    Json(Value),
    /// `(source text, why it is not a number)`.
    Unrepresentable(String, &'static str),
    /// A plain `<<` (a merge key where a key is expected).
    Merge,
}

impl ScalarValue {
    fn key_text(&self) -> String {
        match self {
            Self::Json(Value::String(text)) | Self::Unrepresentable(text, _) => text.clone(),
            Self::Json(other) => other.to_string(),
            Self::Merge => "<<".to_owned(),
        }
    }
}

#[derive(Debug)]
enum Frame {
    Sequence {
        span: Span,
        anchor: usize,
        items: Vec<Node>,
    },
    Mapping {
        span: Span,
        anchor: usize,
        entries: Vec<(Key, Node)>,
        pending_key: Option<Key>,
    },
}

#[derive(Debug)]
struct Key {
    text: String,
    span: Span,
    merge: bool,
}

#[derive(Debug, Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    documents: usize,
    warnings: Vec<YamlWarning>,
    expanded: usize,
}

impl Builder {
    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(self.error(
                        span,
                        "found a second YAML document in this file",
                        Some("a pack file holds exactly one document; remove the extra `---`"),
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = self.scalar(&text, style, tag.as_deref(), span)?;
                self.complete(
                    Node {
                        span,
                        depth: 0,
                        kind: NodeKind::Scalar(value),
                    },
                    anchor,
                )?;
            }
            Event::Alias(id) => {
                let Some(node) = self.anchors.get(&id) else {
                    return Err(self.error(span, "this alias refers to an unknown anchor", None));
                };
                if self.stack.len() + node.depth > MAX_DEPTH {
                    return Err(self.error(span, &too_deep(), None));
                }
                let mut node = node.clone();
                self.expanded = self.expanded.saturating_add(count_nodes(&node));
                if self.expanded > MAX_ALIAS_EXPANSION {
                    return Err(self.error(
                        span,
                        &format!(
                            "aliases expand this document to more than {MAX_ALIAS_EXPANSION} values"
                        ),
                        None,
                    ));
                }
                node.span = span;
                self.complete(node, 0)?;
            }
            Event::SequenceStart(anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "seq", span)?;
                self.push(Frame::Sequence {
                    span,
                    anchor,
                    items: Vec::new(),
                })?;
            }
            Event::MappingStart(anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "map", span)?;
                self.push(Frame::Mapping {
                    span,
                    anchor,
                    entries: Vec::new(),
                    pending_key: None,
                })?;
            }
            Event::SequenceEnd => {
                if let Some(Frame::Sequence {
                    span,
                    anchor,
                    items,
                }) = self.stack.pop()
                {
                    let depth = 1 + items.iter().map(|item| item.depth).max().unwrap_or(0);
                    let node = Node {
                        span,
                        depth,
                        kind: NodeKind::Sequence(items),
                    };
                    self.complete(node, anchor)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Mapping {
                    span,
                    anchor,
                    entries,
                    ..
                }) = self.stack.pop()
                {
                    let mapping = self.flatten_mapping(entries)?;
                    let depth = 1 + mapping
                        .values()
                        .map(|entry| entry.value.depth)
                        .max()
                        .unwrap_or(0);
                    let node = Node {
                        span,
                        depth,
                        kind: NodeKind::Mapping(mapping),
                    };
                    self.complete(node, anchor)?;
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            let span = match &frame {
                Frame::Sequence { span, .. } | Frame::Mapping { span, .. } => *span,
            };
            return Err(self.error(span, &too_deep(), None));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// The path of the node being built at the top of the stack.
    fn current_path(&self) -> Vec<PathSegment> {
        self.stack
            .iter()
            .filter_map(|frame| match frame {
                Frame::Sequence { items, .. } => Some(PathSegment::Index(items.len())),
                Frame::Mapping { pending_key, .. } => pending_key
                    .as_ref()
                    .map(|key| PathSegment::Key(key.text.clone())),
            })
            .collect()
    }

    fn error(&self, span: Span, message: &str, hint: Option<&str>) -> YamlError {
        YamlError {
            line: span.line,
            col: span.col,
            message: message.to_owned(),
            hint: hint.map(str::to_owned),
            path: self.current_path(),
        }
    }

    fn warn(&mut self, span: Span, path: Vec<PathSegment>, message: String) {
        self.warnings.push(YamlWarning {
            line: span.line,
            col: span.col,
            path,
            message,
        });
    }

    /// A finished node goes to its anchor (if any) and into its parent (or becomes the root).
    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                Some(key) => entries.push((key, node)),
                None => {
                    let key = match node.kind {
                        NodeKind::Scalar(scalar) => Key {
                            text: scalar.key_text(),
                            span: node.span,
                            merge: matches!(scalar, ScalarValue::Merge),
                        },
                        NodeKind::Sequence(_) | NodeKind::Mapping(_) => {
                            return Err(self.error(
                                node.span,
                                "a list or mapping cannot be used as a mapping key",
                                Some("mapping keys must be plain values such as strings"),
                            ));
                        }
                    };
                    if let Some(Frame::Mapping { pending_key, .. }) = self.stack.last_mut() {
                        *pending_key = Some(key);
                    }
                }
            },
        }
        Ok(())
    }

    /// PyYAML's `flatten_mapping` + `construct_mapping`: merged pairs first (for a merged list,
    /// the later mappings first, so that earlier ones win), then the explicit pairs; a repeated
    /// key keeps its first position and takes the last value.
    fn flatten_mapping(
        &mut self,
        entries: Vec<(Key, Node)>,
    ) -> Result<IndexMap<String, MapEntry>, YamlError> {
        let mut merged: Vec<(String, MapEntry)> = Vec::new();
        let mut explicit: Vec<(Key, Node)> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            if !key.merge {
                explicit.push((key, value));
                continue;
            }
            let value_span = value.span;
            match value.kind {
                NodeKind::Mapping(mapping) => merged.extend(mapping),
                NodeKind::Sequence(items) => {
                    let mut sources = Vec::with_capacity(items.len());
                    for item in items {
                        match item.kind {
                            NodeKind::Mapping(mapping) => sources.push(mapping),
                            NodeKind::Scalar(_) | NodeKind::Sequence(_) => {
                                return Err(self.merge_error(item.span));
                            }
                        }
                    }
                    for mapping in sources.into_iter().rev() {
                        merged.extend(mapping);
                    }
                }
                NodeKind::Scalar(_) => return Err(self.merge_error(value_span)),
            }
        }
        let mut mapping: IndexMap<String, MapEntry> =
            IndexMap::with_capacity(merged.len() + explicit.len());
        for (key, entry) in merged {
            mapping.insert(key, entry);
        }
        let mut seen: HashMap<&str, Span> = HashMap::new();
        let mut duplicates = Vec::new();
        for (key, _) in &explicit {
            if let Some(first) = seen.insert(key.text.as_str(), key.span) {
                duplicates.push((key.text.clone(), key.span, first));
            }
        }
        drop(seen);
        for (text, span, first) in duplicates {
            let mut path = self.current_path();
            path.push(PathSegment::Key(text.clone()));
            self.warn(
                span,
                path,
                format!(
                    "duplicate key `{text}` (first at line {}); the last value is used",
                    first.line
                ),
            );
        }
        for (key, value) in explicit {
            mapping.insert(
                key.text,
                MapEntry {
                    key_span: key.span,
                    value,
                },
            );
        }
        Ok(mapping)
    }

    fn merge_error(&self, span: Span) -> YamlError {
        self.error(
            span,
            "a `<<` merge key needs a mapping or a list of mappings",
            Some("write `<<: *anchor` where `&anchor` names a mapping"),
        )
    }

    fn check_collection_tag(
        &self,
        tag: Option<&Tag>,
        expected: &str,
        span: Span,
    ) -> Result<(), YamlError> {
        let Some(tag) = tag.map(tag_name) else {
            return Ok(());
        };
        match tag.as_str() {
            "!" => Ok(()),
            _ if tag == format!("tag:yaml.org,2002:{expected}") => Ok(()),
            _ => Err(self.error(span, &unsupported_tag(&tag), None)),
        }
    }

    fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        span: Span,
    ) -> Result<ScalarValue, YamlError> {
        let tag = tag.map(tag_name);
        let value = match tag.as_deref() {
            None if style == ScalarStyle::Plain => {
                if text == "<<" {
                    return Ok(ScalarValue::Merge);
                }
                resolve_plain(text)
            }
            // PyYAML resolves a `!`-tagged scalar like a plain one, even when quoted.
            Some("!") => resolve_plain(text),
            None | Some("tag:yaml.org,2002:str" | "tag:yaml.org,2002:timestamp") => {
                ScalarValue::Json(Value::String(text.to_owned()))
            }
            Some("tag:yaml.org,2002:null") => ScalarValue::Json(Value::Null),
            Some("tag:yaml.org,2002:bool") => match text.to_ascii_lowercase().as_str() {
                "yes" | "true" | "on" => ScalarValue::Json(Value::Bool(true)),
                "no" | "false" | "off" => ScalarValue::Json(Value::Bool(false)),
                _ => return Err(self.bad_tagged(span, text, "boolean")),
            },
            Some("tag:yaml.org,2002:int") => {
                construct_int(text).ok_or_else(|| self.bad_tagged(span, text, "integer"))?
            }
            Some("tag:yaml.org,2002:float") => {
                construct_float(text).ok_or_else(|| self.bad_tagged(span, text, "number"))?
            }
            Some(other) => return Err(self.error(span, &unsupported_tag(other), None)),
        };
        if let ScalarValue::Unrepresentable(text, why) = &value {
            let message = format!("`{text}` {why}; it is kept as a string");
            let path = self.current_path();
            self.warn(span, path, message);
        }
        Ok(value)
    }

    fn bad_tagged(&self, span: Span, text: &str, what: &str) -> YamlError {
        self.error(
            span,
            &format!("`{text}` is not a valid {what} for its explicit tag"),
            None,
        )
    }
}

fn too_deep() -> String {
    format!("values are nested more than {MAX_DEPTH} levels deep")
}

fn tag_name(tag: &Tag) -> String {
    if tag.handle == "!" {
        format!("!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

fn unsupported_tag(tag: &str) -> String {
    let shown = tag
        .strip_prefix("tag:yaml.org,2002:")
        .map_or_else(|| tag.to_owned(), |suffix| format!("!!{suffix}"));
    format!("the tag `{shown}` is not supported here")
}

fn count_nodes(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Scalar(_) => 1,
        NodeKind::Sequence(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        NodeKind::Mapping(entries) => {
            1 + entries
                .values()
                .map(|entry| count_nodes(&entry.value))
                .sum::<usize>()
        }
    }
}

/// Turns the node tree into a JSON value, recording spans. `id` is the node's source-map entry.
fn convert(node: Node, id: u32, source_map: &mut SourceMap) -> Value {
    match node.kind {
        NodeKind::Scalar(ScalarValue::Json(value)) => value,
        NodeKind::Scalar(ScalarValue::Unrepresentable(text, _)) => Value::String(text),
        NodeKind::Scalar(ScalarValue::Merge) => Value::String("<<".to_owned()),
        NodeKind::Sequence(items) => {
            let mut values = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let child = source_map.push(SpanEntry {
                    key: item.span,
                    value: item.span,
                });
                source_map
                    .children
                    .insert((id, ChildKey::Index(index)), child);
                values.push(convert(item, child, source_map));
            }
            Value::Array(values)
        }
        NodeKind::Mapping(entries) => {
            let mut map = Map::with_capacity(entries.len());
            for (key, entry) in entries {
                let child = source_map.push(SpanEntry {
                    key: entry.key_span,
                    value: entry.value.span,
                });
                source_map
                    .children
                    .insert((id, ChildKey::Key(key.as_str().into())), child);
                let value = convert(entry.value, child, source_map);
                map.insert(key, value);
            }
            Value::Object(map)
        }
    }
}

/// Whether an unquoted scalar with this text reads as a string (and not as null, a boolean or
/// a number) under PyYAML's rules; a YAML writer must quote the text when this is false.
pub fn plain_scalar_is_string(text: &str) -> bool {
    matches!(resolve_plain(text), ScalarValue::Json(Value::String(_)))
}

/// PyYAML's implicit resolver for plain scalars (YAML 1.1 as PyYAML implements it).
fn resolve_plain(text: &str) -> ScalarValue {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarValue::Json(Value::Null),
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return ScalarValue::Json(Value::Bool(true));
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return ScalarValue::Json(Value::Bool(false));
        }
        _ => {}
    }
    if is_yaml11_float(text) {
        if let Some(value) = construct_float(text) {
            return value;
        }
    } else if is_yaml11_int(text) {
        if let Some(value) = construct_int(text) {
            return value;
        }
    }
    ScalarValue::Json(Value::String(text.to_owned()))
}

fn strip_sign(text: &str) -> &str {
    text.strip_prefix(['-', '+']).unwrap_or(text)
}

/// `[0-9][0-9_]*` (first digit in `first`), returning the rest.
fn digits_with_underscores(text: &str, first: impl Fn(u8) -> bool) -> Option<&str> {
    let bytes = text.as_bytes();
    if !bytes.first().is_some_and(|&b| first(b)) {
        return None;
    }
    let end = bytes[1..]
        .iter()
        .position(|&b| !(b.is_ascii_digit() || b == b'_'))
        .map_or(bytes.len(), |p| p + 1);
    Some(&text[end..])
}

/// `(?::[0-5]?[0-9])+` consuming everything.
fn is_sexagesimal_tail(mut rest: &str) -> bool {
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let Some(after) = rest.strip_prefix(':') else {
            return false;
        };
        let bytes = after.as_bytes();
        let len = match bytes {
            [a, b, ..] if (b'0'..=b'5').contains(a) && b.is_ascii_digit() => 2,
            [a, ..] if a.is_ascii_digit() => 1,
            _ => return false,
        };
        rest = &after[len..];
    }
    true
}

/// `(?:[eE][-+][0-9]+)?$`
fn is_optional_exponent(rest: &str) -> bool {
    if rest.is_empty() {
        return true;
    }
    let bytes = rest.as_bytes();
    bytes.len() >= 3
        && matches!(bytes[0], b'e' | b'E')
        && matches!(bytes[1], b'-' | b'+')
        && bytes[2..].iter().all(u8::is_ascii_digit)
}

fn is_digit_or_underscore(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// PyYAML's float pattern.
fn is_yaml11_float(text: &str) -> bool {
    let unsigned = strip_sign(text);
    // `[-+]?\.(?:inf|Inf|INF)` and `\.(?:nan|NaN|NAN)`
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    if matches!(text, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    // `\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?` (no sign allowed)
    if let Some(fraction) = text.strip_prefix('.') {
        return digits_with_underscores(fraction, |b| b.is_ascii_digit())
            .is_some_and(is_optional_exponent);
    }
    let Some(rest) = digits_with_underscores(unsigned, |b| b.is_ascii_digit()) else {
        return false;
    };
    // `[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?`
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .bytes()
            .position(|b| !(b.is_ascii_digit() || b == b'_'))
            .unwrap_or(fraction.len());
        return is_optional_exponent(&fraction[end..]);
    }
    // `[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*`
    if let Some((sexagesimal, fraction)) = rest.rsplit_once('.') {
        return is_sexagesimal_tail(sexagesimal) && is_digit_or_underscore(fraction);
    }
    false
}

/// PyYAML's int pattern.
fn is_yaml11_int(text: &str) -> bool {
    let unsigned = strip_sign(text);
    if let Some(binary) = unsigned.strip_prefix("0b") {
        return !binary.is_empty() && binary.bytes().all(|b| matches!(b, b'0' | b'1' | b'_'));
    }
    if let Some(hex) = unsigned.strip_prefix("0x") {
        return !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit() || b == b'_');
    }
    if unsigned == "0" {
        return true;
    }
    if let Some(octal) = unsigned.strip_prefix('0') {
        return octal.bytes().all(|b| matches!(b, b'0'..=b'7' | b'_'));
    }
    match digits_with_underscores(unsigned, |b| matches!(b, b'1'..=b'9')) {
        Some("") => true,
        Some(rest) => is_sexagesimal_tail(rest),
        None => false,
    }
}

const TOO_BIG: &str = "does not fit in a 64-bit number";

fn integer_value(value: i128, text: &str) -> ScalarValue {
    if let Ok(small) = i64::try_from(value) {
        ScalarValue::Json(Value::Number(small.into()))
    } else if let Ok(big) = u64::try_from(value) {
        ScalarValue::Json(Value::Number(big.into()))
    } else {
        ScalarValue::Unrepresentable(text.to_owned(), TOO_BIG)
    }
}

/// PyYAML's `construct_yaml_int` (also used for `!!int`). `None` when the text is no integer.
fn construct_int(text: &str) -> Option<ScalarValue> {
    let cleaned: String = text.chars().filter(|&c| c != '_').collect();
    let (negative, digits) = match cleaned.as_bytes().first() {
        Some(b'-') => (true, &cleaned[1..]),
        Some(b'+') => (false, &cleaned[1..]),
        _ => (false, cleaned.as_str()),
    };
    if digits.is_empty() {
        return None;
    }
    let magnitude: Result<u128, _> = if digits == "0" {
        Ok(0)
    } else if let Some(binary) = digits.strip_prefix("0b") {
        u128::from_str_radix(binary, 2)
    } else if let Some(hex) = digits.strip_prefix("0x") {
        u128::from_str_radix(hex, 16)
    } else if digits.starts_with('0') {
        u128::from_str_radix(digits, 8)
    } else if digits.contains(':') {
        let mut total: u128 = 0;
        for part in digits.split(':') {
            let part: u128 = part.parse().ok()?;
            total = total.checked_mul(60)?.checked_add(part)?;
        }
        Ok(total)
    } else {
        digits.parse()
    };
    match magnitude {
        Ok(magnitude) => {
            let Ok(magnitude) = i128::try_from(magnitude) else {
                return Some(ScalarValue::Unrepresentable(text.to_owned(), TOO_BIG));
            };
            Some(integer_value(
                if negative { -magnitude } else { magnitude },
                text,
            ))
        }
        // Only digits that overflow u128 remain valid here.
        Err(error) if *error.kind() == std::num::IntErrorKind::PosOverflow => {
            Some(ScalarValue::Unrepresentable(text.to_owned(), TOO_BIG))
        }
        Err(_) => None,
    }
}

/// PyYAML's `construct_yaml_float` (also used for `!!float`). `None` when the text is no number.
fn construct_float(text: &str) -> Option<ScalarValue> {
    let cleaned: String = text
        .chars()
        .filter(|&c| c != '_')
        .collect::<String>()
        .to_lowercase();
    let (negative, unsigned) = match cleaned.as_bytes().first() {
        Some(b'-') => (true, &cleaned[1..]),
        Some(b'+') => (false, &cleaned[1..]),
        _ => (false, cleaned.as_str()),
    };
    if unsigned == ".inf" {
        return Some(ScalarValue::Unrepresentable(
            text.to_owned(),
            "is infinite, which JSON cannot hold",
        ));
    }
    if unsigned == ".nan" {
        return Some(ScalarValue::Unrepresentable(
            text.to_owned(),
            "is not a number, which JSON cannot hold",
        ));
    }
    let magnitude: f64 = if unsigned.contains(':') {
        let mut total = 0.0;
        for part in unsigned.split(':') {
            total = total * 60.0 + part.parse::<f64>().ok()?;
        }
        total
    } else {
        // Rust's float syntax is Python's minus `inf`/`nan` spellings, which need no support.
        if unsigned.is_empty()
            || unsigned
                .bytes()
                .any(|b| b.is_ascii_alphabetic() && b != b'e')
        {
            return None;
        }
        unsigned.parse().ok()?
    };
    let value = if negative { -magnitude } else { magnitude };
    Some(match Number::from_f64(value) {
        Some(number) => ScalarValue::Json(Value::Number(number)),
        None => ScalarValue::Unrepresentable(
            text.to_owned(),
            "is too large for a 64-bit float, which JSON cannot hold",
        ),
    })
}

#[cfg(test)]
mod tests;
