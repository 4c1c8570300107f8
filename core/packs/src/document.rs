//! Schema validation of each kind of pack file, reported in the user's terms.
//!
//! Each [`DocumentKind`] has one JSON Schema in `src/schemas/`, embedded in the binary and
//! compiled once. The schemas follow StackStorm's (`contrib/schemas/*.json` and the API models in
//! `st2common/models/api/`): unknown fields are errors exactly where StackStorm rejects them
//! (actions, parameter specs, rules except `trigger`, policies, config schemas, trigger types),
//! allowed in `pack.yaml`, and warnings at the top of sensor metadata, which StackStorm never
//! validates. Nerve's own files (runtimes, trigger types) reject unknown fields.
//!
//! Every violation is collected, mapped back to a line and column through the
//! [`YamlDocument`]'s source map and worded for people ("unknown field `critera` in rule",
//! "missing required field `trigger` in rule", "expected a boolean, found a string").
//! JSON schemas written inside pack files (`parameters_schema`, `payload_schema`,
//! `output_schema`, nested parameter schemas) are themselves checked as draft-4/7 schemas.
//!
//! What the schemas cannot see (a rule's action exists, a parameter override is legal for its
//! runner) is checked by the loader, not here.

use std::path::Path;
use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, ValidationError, Validator};
use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostic, Severity, did_you_mean};
use nerve_yaml::{PathDisplay, PathSegment, YamlDocument, parse_yaml};

/// The kinds of files a pack is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// `pack.yaml`.
    Pack,
    /// `actions/*.yaml`.
    Action,
    /// `sensors/*.yaml`.
    Sensor,
    /// `rules/*.yaml`.
    Rule,
    /// `policies/*.yaml`.
    Policy,
    /// `config.schema.yaml`.
    ConfigSchema,
    /// `runtimes/*.yaml` (Nerve extension, in the `core` pack).
    Runtime,
    /// `triggers/*.yaml` (Nerve extension: trigger types outside sensors, such as timers).
    TriggerType,
}

impl DocumentKind {
    /// Every kind.
    pub const ALL: [Self; 8] = [
        Self::Pack,
        Self::Action,
        Self::Sensor,
        Self::Rule,
        Self::Policy,
        Self::ConfigSchema,
        Self::Runtime,
        Self::TriggerType,
    ];

    /// What the file is called in messages (`rule`, `pack metadata`).
    pub fn noun(self) -> &'static str {
        match self {
            Self::Pack => "pack metadata",
            Self::Action => "action",
            Self::Sensor => "sensor",
            Self::Rule => "rule",
            Self::Policy => "policy",
            Self::ConfigSchema => "config schema",
            Self::Runtime => "runtime",
            Self::TriggerType => "trigger type",
        }
    }

    /// The JSON Schema this kind is validated against (as embedded in the binary).
    pub fn schema(self) -> &'static Value {
        &self.compiled().schema
    }

    fn compiled(self) -> &'static CompiledSchema {
        match self {
            Self::Pack => &PACK,
            Self::Action => &ACTION,
            Self::Sensor => &SENSOR,
            Self::Rule => &RULE,
            Self::Policy => &POLICY,
            Self::ConfigSchema => &CONFIG_SCHEMA,
            Self::Runtime => &RUNTIME,
            Self::TriggerType => &TRIGGER_TYPE,
        }
    }
}

struct CompiledSchema {
    schema: Value,
    validator: Validator,
}

impl CompiledSchema {
    /// Compiles one of the schemas in `src/schemas/`; they are constants, checked by tests.
    fn new(source: &str) -> Self {
        let schema: Value = serde_json::from_str(source).expect("embedded schema is valid JSON");
        let validator = jsonschema::options()
            .should_validate_formats(false)
            .build(&schema)
            .expect("embedded schema compiles");
        Self { schema, validator }
    }
}

static PACK: LazyLock<CompiledSchema> =
    LazyLock::new(|| CompiledSchema::new(include_str!("schemas/pack.json")));
static ACTION: LazyLock<CompiledSchema> =
    LazyLock::new(|| CompiledSchema::new(include_str!("schemas/action.json")));
static SENSOR: LazyLock<CompiledSchema> =
    LazyLock::new(|| CompiledSchema::new(include_str!("schemas/sensor.json")));
static RULE: LazyLock<CompiledSchema> =
    LazyLock::new(|| CompiledSchema::new(include_str!("schemas/rule.json")));
static POLICY: LazyLock<CompiledSchema> =
    LazyLock::new(|| CompiledSchema::new(include_str!("schemas/policy.json")));
static CONFIG_SCHEMA: LazyLock<CompiledSchema> =
    LazyLock::new(|| CompiledSchema::new(include_str!("schemas/config_schema.json")));
static RUNTIME: LazyLock<CompiledSchema> =
    LazyLock::new(|| CompiledSchema::new(include_str!("schemas/runtime.json")));
static TRIGGER_TYPE: LazyLock<CompiledSchema> =
    LazyLock::new(|| CompiledSchema::new(include_str!("schemas/trigger_type.json")));

/// Validates a parsed document of `kind`. Returns every problem found (errors and warnings),
/// sorted by position; an empty list means the document is valid.
pub fn validate_document(kind: DocumentKind, doc: &YamlDocument, file: &Path) -> Vec<Diagnostic> {
    let compiled = kind.compiled();
    let mut out = Vec::new();
    let reporter = Reporter {
        doc,
        file,
        schema: Some(&compiled.schema),
        prefix: &[],
        embedded: false,
    };
    reporter.report_all(compiled.validator.iter_errors(&doc.value), &mut out);
    check_embedded_schemas(kind, doc, file, &mut out);
    sort_diagnostics(&mut out);
    out
}

/// Parses `text` as YAML and validates it as `kind`: the one call a loader needs per file.
///
/// Returns the document when the YAML could be read (even if it has schema errors), and every
/// diagnostic: YAML warnings and schema problems, or the YAML error alone.
pub fn load_document(
    kind: DocumentKind,
    text: &str,
    file: &Path,
) -> (Option<YamlDocument>, Vec<Diagnostic>) {
    match parse_yaml(text) {
        Err(error) => (None, vec![Diagnostic::from_yaml_error(file, &error)]),
        Ok((doc, warnings)) => {
            let mut out: Vec<Diagnostic> = warnings
                .iter()
                .map(|warning| Diagnostic::from_yaml_warning(file, warning))
                .collect();
            out.extend(validate_document(kind, &doc, file));
            sort_diagnostics(&mut out);
            (Some(doc), out)
        }
    }
}

fn sort_diagnostics(out: &mut Vec<Diagnostic>) {
    out.sort_by(|a, b| {
        (a.line, a.col, &a.field, &a.message).cmp(&(b.line, b.col, &b.field, &b.message))
    });
    out.dedup();
}

/// Turns jsonschema errors into diagnostics for one document (or one schema embedded in it).
struct Reporter<'a> {
    doc: &'a YamlDocument,
    file: &'a Path,
    /// The schema the errors come from, for annotations; `None` for meta-schemas.
    schema: Option<&'a Value>,
    /// Path of the validated instance inside the document.
    prefix: &'a [PathSegment],
    /// Whether the instance is a JSON schema written in the pack file.
    embedded: bool,
}

impl Reporter<'_> {
    /// Reports every error, except that a value of the wrong type gets only the type error
    /// (not also "must be one of" or "must match" for the same value).
    fn report_all<'e>(
        &self,
        errors: impl Iterator<Item = ValidationError<'e>>,
        out: &mut Vec<Diagnostic>,
    ) {
        let errors: Vec<ValidationError<'e>> = errors.collect();
        let mistyped: Vec<&str> = errors
            .iter()
            .filter(|error| matches!(error.kind(), ValidationErrorKind::Type { .. }))
            .map(|error| error.instance_path().as_str())
            .collect();
        for error in &errors {
            let shadowed = !matches!(error.kind(), ValidationErrorKind::Type { .. })
                && mistyped.contains(&error.instance_path().as_str());
            if !shadowed {
                self.report(error, out);
            }
        }
    }

    fn report(&self, error: &ValidationError<'_>, out: &mut Vec<Diagnostic>) {
        let path = self.instance_path(error.instance_path().as_str());
        let keyword_parent = self.schema_parent(error.schema_path().as_str());
        let instance = error.instance();
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for key in unexpected {
                    out.push(self.unexpected_field(&path, key, keyword_parent));
                }
            }
            ValidationErrorKind::Required { property } => {
                let name = property
                    .as_str()
                    .map_or_else(|| property.to_string(), str::to_owned);
                out.push(self.required(error, &path, &name, keyword_parent));
            }
            ValidationErrorKind::AnyOf { .. } | ValidationErrorKind::OneOfNotValid { .. }
                if self.embedded && is_type_keyword(&path) && instance.is_array() =>
            {
                // A list of types: point at the entry that is not a type.
                let entries = instance.as_array().map(Vec::as_slice).unwrap_or_default();
                let bad = entries.iter().enumerate().find(|(_, entry)| {
                    !entry
                        .as_str()
                        .is_some_and(|name| SIMPLE_TYPES.contains(&name))
                });
                let mut entry_path = path.clone();
                let (message, hint) = match bad {
                    Some((index, entry)) => {
                        entry_path.push(PathSegment::Index(index));
                        not_a_type(entry)
                    }
                    None => ("the types listed must not repeat".to_owned(), None),
                };
                out.push(self.at_value(&entry_path, instance, message, hint));
            }
            ValidationErrorKind::Referencing(reference_error) if self.embedded => {
                // Point at the `$ref` that cannot be resolved.
                let mut ref_path = path.clone();
                let schema = value_at(&self.doc.value, &path);
                if let Some(rest) =
                    schema.and_then(|schema| find_ref(schema, &reference_error.to_string()))
                {
                    ref_path.extend(rest);
                }
                let target = value_at(&self.doc.value, &ref_path).and_then(Value::as_str);
                let (message, hint) = match target {
                    Some(target) if !target.starts_with('#') => (
                        format!("`$ref` to `{target}` is not supported: schemas are never fetched from other documents"),
                        Some("copy the referenced schema under `definitions` and refer to it as `#/definitions/...`".to_owned()),
                    ),
                    _ => self.describe(error.kind(), instance, &path, keyword_parent),
                };
                out.push(self.at_value(&ref_path, instance, message, hint));
            }
            kind => {
                let (message, hint) = self.describe(kind, instance, &path, keyword_parent);
                out.push(self.at_value(&path, instance, message, hint));
            }
        }
    }

    /// Converts a JSON pointer into the instance into a document path, telling indices from
    /// keys by looking at the document.
    fn instance_path(&self, pointer: &str) -> Vec<PathSegment> {
        let mut path = self.prefix.to_vec();
        let mut current = value_at(&self.doc.value, self.prefix);
        for raw in pointer.split('/').skip(1) {
            let segment = raw.replace("~1", "/").replace("~0", "~");
            let next = match current {
                Some(Value::Array(items)) => match segment.parse::<usize>() {
                    Ok(index) => {
                        path.push(PathSegment::Index(index));
                        items.get(index)
                    }
                    Err(_) => {
                        path.push(PathSegment::Key(segment));
                        None
                    }
                },
                Some(Value::Object(map)) => {
                    let next = map.get(&segment);
                    path.push(PathSegment::Key(segment));
                    next
                }
                _ => {
                    path.push(PathSegment::Key(segment));
                    None
                }
            };
            current = next;
        }
        path
    }

    /// The schema object that holds the failing keyword (the keyword location minus its last
    /// segment), following `$ref`s.
    fn schema_parent(&self, pointer: &str) -> Option<&Map<String, Value>> {
        let root = self.schema?;
        let segments: Vec<String> = pointer
            .split('/')
            .skip(1)
            .map(|raw| raw.replace("~1", "/").replace("~0", "~"))
            .collect();
        let parent = segments.split_last().map_or(&[][..], |(_, parent)| parent);
        let mut current = root;
        for segment in parent {
            if segment == "$ref" {
                current = resolve_ref(root, current.get("$ref")?.as_str()?)?;
                continue;
            }
            current = match current {
                Value::Object(map) => map.get(segment)?,
                Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        current.as_object()
    }

    fn field(path: &[PathSegment]) -> String {
        PathDisplay(path).to_string()
    }

    fn at_value(
        &self,
        path: &[PathSegment],
        instance: &Value,
        message: String,
        hint: Option<String>,
    ) -> Diagnostic {
        let message = if self.embedded {
            format!("invalid JSON schema: {message}")
        } else {
            message
        };
        // A bad regular expression used as a `patternProperties` key is reported at the key.
        let at_key = matches!(
            (path, instance),
            ([.., PathSegment::Key(parent), PathSegment::Key(key)], Value::String(text))
                if parent == "patternProperties" && key == text
        );
        let span = if at_key {
            self.doc.key_span(path)
        } else {
            self.doc.value_span(path)
        };
        Diagnostic::error(self.file, span, Self::field(path), message).with_optional_hint(hint)
    }

    fn unexpected_field(
        &self,
        path: &[PathSegment],
        key: &str,
        schema: Option<&Map<String, Value>>,
    ) -> Diagnostic {
        let mut field_path = path.to_vec();
        field_path.push(PathSegment::Key(key.to_owned()));
        let span = self.doc.key_span(&field_path);
        let field = Self::field(&field_path);
        let annotation = |name: &str| {
            schema
                .and_then(|schema| schema.get(name))
                .and_then(Value::as_str)
        };
        let has_patterns = schema.is_some_and(|schema| schema.contains_key("patternProperties"));
        let has_properties = schema
            .and_then(|schema| schema.get("properties"))
            .and_then(Value::as_object)
            .is_some_and(|properties| !properties.is_empty());
        if has_patterns && !has_properties {
            let noun = annotation("x-key-noun").unwrap_or("field");
            return Diagnostic::error(
                self.file,
                span,
                field,
                format!("invalid {noun} name `{key}`"),
            )
            .with_hint("names may contain only letters, digits and underscores");
        }
        let place = self.place(schema, path);
        let message = match place {
            Some(place) => format!("unknown field `{key}` in {place}"),
            None => format!("unknown field `{key}`"),
        };
        let known = schema
            .and_then(|schema| schema.get("properties"))
            .and_then(Value::as_object);
        let suggestion = known
            .and_then(|known| did_you_mean(key, known.keys().map(String::as_str)))
            .map(|name| format!("did you mean `{name}`?"));
        let severity = match annotation("x-unknown-severity") {
            Some("warning") => Severity::Warning,
            _ => Severity::Error,
        };
        let hint = suggestion.or_else(|| annotation("x-unknown-hint").map(str::to_owned));
        Diagnostic::new(severity, self.file, span, field, message).with_optional_hint(hint)
    }

    fn required(
        &self,
        error: &ValidationError<'_>,
        path: &[PathSegment],
        name: &str,
        schema: Option<&Map<String, Value>>,
    ) -> Diagnostic {
        let mut field_path = path.to_vec();
        field_path.push(PathSegment::Key(name.to_owned()));
        let span = self.doc.value_span(path);
        let field = Self::field(&field_path);
        // `dependencies: {exclusiveMaximum: [maximum]}` fails as `required` too.
        if error.schema_path().as_str().ends_with("/dependencies") {
            let instance = error.instance();
            // The draft-4 meta-schema (not at hand as a value) has exactly these two.
            let meta_dependencies = serde_json::json!({
                "exclusiveMaximum": ["maximum"],
                "exclusiveMinimum": ["minimum"]
            });
            let dependencies = schema
                .and_then(|schema| schema.get("dependencies"))
                .unwrap_or(&meta_dependencies);
            let dependent = dependencies
                .as_object()
                .and_then(|dependencies| {
                    dependencies.iter().find(|(key, needs)| {
                        instance.get(key.as_str()).is_some()
                            && needs
                                .as_array()
                                .is_some_and(|needs| needs.iter().any(|need| need == name))
                    })
                })
                .map(|(key, _)| key.clone());
            if let Some(dependent) = dependent {
                let mut dependent_path = path.to_vec();
                dependent_path.push(PathSegment::Key(dependent.clone()));
                let message = format!("`{dependent}` needs `{name}` to be set too");
                let message = if self.embedded {
                    format!("invalid JSON schema: {message}")
                } else {
                    message
                };
                return Diagnostic::error(
                    self.file,
                    self.doc.key_span(&dependent_path),
                    Self::field(&dependent_path),
                    message,
                );
            }
        }
        let message = match self.place(schema, path) {
            Some(place) => format!("missing required field `{name}` in {place}"),
            None => format!("missing required field `{name}`"),
        };
        let message = if self.embedded {
            format!("invalid JSON schema: {message}")
        } else {
            message
        };
        Diagnostic::error(self.file, span, field, message)
    }

    /// The schema's `title`, with `{name}` replaced by the last key of `path` in backticks.
    fn place(&self, schema: Option<&Map<String, Value>>, path: &[PathSegment]) -> Option<String> {
        let title = schema?.get("title")?.as_str()?;
        let name = match path.last() {
            Some(PathSegment::Key(key)) => format!("`{key}`"),
            Some(PathSegment::Index(index)) => format!("#{index}"),
            None => String::new(),
        };
        Some(title.replace("{name}", &name).trim().to_owned())
    }

    fn describe(
        &self,
        kind: &ValidationErrorKind,
        instance: &Value,
        path: &[PathSegment],
        schema: Option<&Map<String, Value>>,
    ) -> (String, Option<String>) {
        let annotation = |name: &str| {
            schema
                .and_then(|schema| schema.get(name))
                .and_then(Value::as_str)
        };
        let found = describe_value(instance);
        match kind {
            ValidationErrorKind::Type { kind } => {
                let expected: Vec<&str> = match kind {
                    TypeKind::Single(single) => vec![single.as_str()],
                    TypeKind::Multiple(set) => set.iter().map(|t| t.as_str()).collect(),
                };
                if path.is_empty() && !self.embedded {
                    let title = annotation("title").unwrap_or("document");
                    let found = if instance.is_null() {
                        "an empty file".to_owned()
                    } else {
                        found
                    };
                    return (
                        format!("expected a mapping of {title} fields, found {found}"),
                        None,
                    );
                }
                type_mismatch(&expected, instance)
            }
            ValidationErrorKind::Enum { options } => {
                let options: Vec<&Value> = options
                    .as_array()
                    .map(|o| o.iter().collect())
                    .unwrap_or_default();
                let listed = options
                    .iter()
                    .map(|option| format!("`{}`", plain(option)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let hint = instance.as_str().and_then(|text| {
                    did_you_mean(text, options.iter().filter_map(|option| option.as_str()))
                        .map(|name| format!("did you mean `{name}`?"))
                });
                if self.embedded && is_type_keyword(path) {
                    return not_a_type(instance);
                }
                let hint = hint.or_else(|| {
                    (instance.is_array() && is_type_keyword(path))
                        .then(|| "a StackStorm parameter has a single type".to_owned())
                });
                (format!("must be one of {listed}, found {found}"), hint)
            }
            ValidationErrorKind::Constant { expected_value } => (
                format!("must be `{}`, found {found}", plain(expected_value)),
                None,
            ),
            ValidationErrorKind::Pattern { pattern } => match annotation("x-pattern") {
                Some(meaning) => (format!("expected {meaning}, found {found}"), None),
                None => (format!("must match `{pattern}`, found {found}"), None),
            },
            ValidationErrorKind::Minimum { limit } => {
                (format!("must be at least {limit}, found {found}"), None)
            }
            ValidationErrorKind::Maximum { limit } => {
                (format!("must be at most {limit}, found {found}"), None)
            }
            ValidationErrorKind::ExclusiveMinimum { limit } => {
                (format!("must be greater than {limit}, found {found}"), None)
            }
            ValidationErrorKind::ExclusiveMaximum { limit } => {
                (format!("must be less than {limit}, found {found}"), None)
            }
            ValidationErrorKind::MultipleOf { multiple_of } => (
                format!("must be a multiple of {multiple_of}, found {found}"),
                None,
            ),
            ValidationErrorKind::MinLength { limit: 1 } => ("must not be empty".to_owned(), None),
            ValidationErrorKind::MinLength { limit } => {
                (format!("must be at least {limit} characters long"), None)
            }
            ValidationErrorKind::MaxLength { limit } => {
                (format!("must be at most {limit} characters long"), None)
            }
            ValidationErrorKind::MinItems { limit: 1 } => {
                ("must not be an empty list".to_owned(), None)
            }
            ValidationErrorKind::MinItems { limit } => {
                (format!("must have at least {limit} items"), None)
            }
            ValidationErrorKind::MaxItems { limit } => {
                (format!("must have at most {limit} items"), None)
            }
            ValidationErrorKind::MinProperties { limit } => {
                (format!("must have at least {limit} fields"), None)
            }
            ValidationErrorKind::MaxProperties { limit } => {
                (format!("must have at most {limit} fields"), None)
            }
            ValidationErrorKind::UniqueItems => {
                ("must not contain the same item twice".to_owned(), None)
            }
            ValidationErrorKind::Contains => (
                annotation("x-contains")
                    .unwrap_or("must contain a matching item")
                    .to_owned(),
                None,
            ),
            ValidationErrorKind::AnyOf { context }
            | ValidationErrorKind::OneOfNotValid { context } => {
                if self.embedded && is_type_keyword(path) {
                    return not_a_type(instance);
                }
                match expected_types(context) {
                    Some(expected) => type_mismatch(&expected, instance),
                    None => (
                        format!("does not match any of the allowed forms, found {found}"),
                        None,
                    ),
                }
            }
            ValidationErrorKind::OneOfMultipleValid { .. } => (
                "matches more than one of the allowed forms".to_owned(),
                None,
            ),
            ValidationErrorKind::Not { .. } | ValidationErrorKind::FalseSchema => {
                ("is not allowed here".to_owned(), None)
            }
            ValidationErrorKind::Format { format } if format == "regex" => (
                format!("`{}` is not a valid regular expression", plain(instance)),
                None,
            ),
            ValidationErrorKind::Format { format } => {
                (format!("is not a valid {format}, found {found}"), None)
            }
            ValidationErrorKind::Referencing(error) => (
                format!(
                    "cannot resolve a `$ref`: {}",
                    lowercase_first(&error.to_string())
                ),
                None,
            ),
            other => (format!("is not valid: {}", other.keyword()), None),
        }
    }
}

/// JSON Schema's simple type names.
const SIMPLE_TYPES: [&str; 7] = [
    "array", "boolean", "integer", "null", "number", "object", "string",
];

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

/// The path (below `value`) of the first `$ref` whose target `message` mentions.
fn find_ref(value: &Value, message: &str) -> Option<Vec<PathSegment>> {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let target = target.trim_start_matches('#');
                if !target.is_empty() && message.contains(target) {
                    return Some(vec![PathSegment::Key("$ref".to_owned())]);
                }
            }
            map.iter().find_map(|(key, child)| {
                find_ref(child, message).map(|mut rest| {
                    rest.insert(0, PathSegment::Key(key.clone()));
                    rest
                })
            })
        }
        Value::Array(items) => items.iter().enumerate().find_map(|(index, child)| {
            find_ref(child, message).map(|mut rest| {
                rest.insert(0, PathSegment::Index(index));
                rest
            })
        }),
        _ => None,
    }
}

fn is_type_keyword(path: &[PathSegment]) -> bool {
    matches!(path.last(), Some(PathSegment::Key(key)) if key == "type")
}

fn not_a_type(value: &Value) -> (String, Option<String>) {
    let listed = SIMPLE_TYPES
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let hint = value
        .as_str()
        .and_then(|text| did_you_mean(text, SIMPLE_TYPES))
        .map(|name| format!("did you mean `{name}`?"));
    (
        format!(
            "`{}` is not a JSON schema type; use one of {listed}",
            plain(value)
        ),
        hint,
    )
}

/// "expected a boolean, found a string ("yes please")", with a hint for the usual YAML slips.
fn type_mismatch(expected: &[&str], instance: &Value) -> (String, Option<String>) {
    let names: Vec<&str> = expected.iter().map(|name| type_name(name)).collect();
    let wanted = match names.as_slice() {
        [] => "another type".to_owned(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    };
    let message = format!("expected {wanted}, found {}", describe_value(instance));
    let wants = |name: &str| expected.contains(&name);
    let hint = match instance {
        Value::String(text)
            if wants("boolean")
                && matches!(
                    text.to_ascii_lowercase().as_str(),
                    "true" | "false" | "yes" | "no" | "on" | "off"
                ) =>
        {
            Some(format!("remove the quotes: unquoted `{text}` is a boolean"))
        }
        Value::String(text)
            if (wants("integer") || wants("number")) && text.trim().parse::<f64>().is_ok() =>
        {
            Some("remove the quotes to make it a number".to_owned())
        }
        Value::Bool(_) if wants("string") => Some(
            "YAML reads unquoted yes/no/on/off/true/false as booleans; put the value in quotes"
                .to_owned(),
        ),
        Value::Number(_) if wants("string") => {
            Some("put the value in quotes to make it a string".to_owned())
        }
        Value::Null if wants("object") || wants("array") => {
            Some("the value is empty; add entries under it or remove the key".to_owned())
        }
        _ => None,
    };
    (message, hint)
}

fn type_name(json_type: &str) -> &'static str {
    match json_type {
        "string" => "a string",
        "object" => "a mapping",
        "array" => "a list",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean",
        "null" => "null",
        _ => "a value",
    }
}

/// If every branch of an `anyOf`/`oneOf` failed on the type alone, the union of their types.
fn expected_types(context: &[Vec<ValidationError<'static>>]) -> Option<Vec<&'static str>> {
    let mut types = Vec::new();
    for branch in context {
        let mut branch_types = Vec::new();
        for error in branch {
            if !error.instance_path().as_str().is_empty() {
                continue;
            }
            match error.kind() {
                ValidationErrorKind::Type {
                    kind: TypeKind::Single(single),
                } => {
                    branch_types.push(single.as_str());
                }
                ValidationErrorKind::Type {
                    kind: TypeKind::Multiple(set),
                } => {
                    branch_types.extend(set.iter().map(|t| t.as_str()));
                }
                _ => return None,
            }
        }
        if branch_types.is_empty() {
            return None;
        }
        types.extend(branch_types);
    }
    let mut unique = Vec::new();
    for name in types {
        if !unique.contains(&name) {
            unique.push(name);
        }
    }
    (!unique.is_empty()).then_some(unique)
}

/// How a value is shown after "found": `a string ("yes please")`, `a number (3)`, `null`.
fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => format!("a boolean ({flag})"),
        Value::Number(number) => format!("a number ({number})"),
        Value::String(text) => {
            let shown: String = if text.chars().count() > 40 {
                format!("{}…", text.chars().take(40).collect::<String>())
            } else {
                text.clone()
            };
            format!("a string ({})", Value::String(shown))
        }
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

/// A value as shown inside backticks: strings bare, everything else as JSON.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn value_at<'v>(value: &'v Value, path: &[PathSegment]) -> Option<&'v Value> {
    let mut current = value;
    for segment in path {
        current = match (segment, current) {
            (PathSegment::Key(key), Value::Object(map)) => map.get(key)?,
            (PathSegment::Index(index), Value::Array(items)) => items.get(*index)?,
            _ => return None,
        };
    }
    Some(current)
}

fn resolve_ref<'v>(root: &'v Value, reference: &str) -> Option<&'v Value> {
    let pointer = reference.strip_prefix('#')?;
    root.pointer(pointer)
}

/// Checks the JSON schemas written inside pack files.
fn check_embedded_schemas(
    kind: DocumentKind,
    doc: &YamlDocument,
    file: &Path,
    out: &mut Vec<Diagnostic>,
) {
    let key = |name: &str| PathSegment::Key(name.to_owned());
    match kind {
        DocumentKind::Action => {
            if let Some(Value::Object(parameters)) = doc.value.get("parameters") {
                for (name, spec) in parameters {
                    check_parameter_spec(doc, file, &[key("parameters"), key(name)], spec, out);
                }
            }
            if let Some(schema @ Value::Object(_)) = doc.value.get("output_schema") {
                check_schema(doc, file, &[key("output_schema")], schema, out);
            }
        }
        DocumentKind::ConfigSchema => {
            if let Value::Object(options) = &doc.value {
                for (name, spec) in options {
                    check_parameter_spec(doc, file, &[key(name)], spec, out);
                }
            }
        }
        DocumentKind::Sensor => {
            if let Some(Value::Array(trigger_types)) = doc.value.get("trigger_types") {
                for (index, trigger_type) in trigger_types.iter().enumerate() {
                    let base = [key("trigger_types"), PathSegment::Index(index)];
                    check_trigger_type_schemas(doc, file, &base, trigger_type, out);
                }
            }
        }
        DocumentKind::TriggerType => check_trigger_type_schemas(doc, file, &[], &doc.value, out),
        DocumentKind::Pack | DocumentKind::Rule | DocumentKind::Policy | DocumentKind::Runtime => {}
    }
}

fn check_trigger_type_schemas(
    doc: &YamlDocument,
    file: &Path,
    base: &[PathSegment],
    trigger_type: &Value,
    out: &mut Vec<Diagnostic>,
) {
    for field in ["parameters_schema", "payload_schema"] {
        if let Some(schema @ Value::Object(_)) = trigger_type.get(field) {
            let mut path = base.to_vec();
            path.push(PathSegment::Key(field.to_owned()));
            check_schema(doc, file, &path, schema, out);
        }
    }
}

/// A parameter spec's own keywords are checked by the kind's schema; the schemas nested in it
/// (`properties`, `items`, ...) are checked here, then the whole spec is compiled once.
fn check_parameter_spec(
    doc: &YamlDocument,
    file: &Path,
    path: &[PathSegment],
    spec: &Value,
    out: &mut Vec<Diagnostic>,
) {
    let Value::Object(spec_map) = spec else {
        return;
    };
    let child = |segments: &[&PathSegment]| {
        let mut full = path.to_vec();
        full.extend(segments.iter().map(|segment| (*segment).clone()));
        full
    };
    for (keyword, value) in spec_map {
        let keyword_segment = PathSegment::Key(keyword.clone());
        match (keyword.as_str(), value) {
            ("items", Value::Array(items)) | ("allOf" | "anyOf" | "oneOf", Value::Array(items)) => {
                for (index, item) in items.iter().enumerate() {
                    if item.is_object() {
                        let index = PathSegment::Index(index);
                        check_schema(doc, file, &child(&[&keyword_segment, &index]), item, out);
                    }
                }
            }
            ("items" | "additionalItems" | "additionalProperties" | "not", Value::Object(_)) => {
                check_schema(doc, file, &child(&[&keyword_segment]), value, out);
            }
            (
                "properties" | "patternProperties" | "definitions" | "dependencies",
                Value::Object(entries),
            ) => {
                for (name, subschema) in entries {
                    if subschema.is_object() {
                        let name = PathSegment::Key(name.clone());
                        check_schema(
                            doc,
                            file,
                            &child(&[&keyword_segment, &name]),
                            subschema,
                            out,
                        );
                    }
                }
            }
            _ => {}
        }
    }
    let prefix = PathDisplay(path).to_string();
    let already_reported = out.iter().any(|diagnostic| {
        diagnostic.field == prefix || diagnostic.field.starts_with(&format!("{prefix}."))
    });
    if already_reported {
        return;
    }
    // Regular expressions and `$ref`s are only checked by compiling.
    let mut normalized = spec.clone();
    if let Value::Object(map) = &mut normalized {
        for st2_keyword in ["position", "immutable", "secret"] {
            map.remove(st2_keyword);
        }
    }
    strip_boolean_required(&mut normalized);
    if let Err(error) = compile(&normalized, Draft::Draft4) {
        let reporter = Reporter {
            doc,
            file,
            schema: None,
            prefix: path,
            embedded: true,
        };
        reporter.report(&error, out);
    }
}

/// Checks one JSON schema written in a pack file: against the draft-4 meta-schema (StackStorm's
/// dialect), or draft 7 when that is the one it satisfies, or the draft its `$schema` names;
/// then compiles it to catch bad regular expressions and `$ref`s.
fn check_schema(
    doc: &YamlDocument,
    file: &Path,
    path: &[PathSegment],
    schema: &Value,
    out: &mut Vec<Diagnostic>,
) {
    let mut normalized = schema.clone();
    strip_boolean_required(&mut normalized);
    let declared = normalized
        .get("$schema")
        .and_then(Value::as_str)
        .map(declared_draft);
    let drafts: Vec<Draft> = match declared {
        Some(Some(draft)) => vec![draft],
        Some(None) => {
            out.push(Diagnostic::error(
                file,
                doc.value_span(&[path, &[PathSegment::Key("$schema".to_owned())]].concat()),
                PathDisplay(&[path, &[PathSegment::Key("$schema".to_owned())]].concat())
                    .to_string(),
                "invalid JSON schema: unknown `$schema`; use draft 4 or draft 7",
            ));
            return;
        }
        None => vec![Draft::Draft4, Draft::Draft7],
    };
    let reporter = Reporter {
        doc,
        file,
        schema: None,
        prefix: path,
        embedded: true,
    };
    let mut first_errors: Option<Vec<Diagnostic>> = None;
    let mut valid_draft = None;
    for draft in drafts {
        let meta = meta_validator(draft);
        let mut errors = Vec::new();
        reporter.report_all(meta.iter_errors(&normalized), &mut errors);
        if errors.is_empty() {
            valid_draft = Some(draft);
            break;
        }
        first_errors.get_or_insert(errors);
    }
    let Some(draft) = valid_draft else {
        out.extend(first_errors.unwrap_or_default());
        return;
    };
    if let Err(error) = compile(&normalized, draft) {
        reporter.report(&error, out);
    }
}

fn meta_validator(draft: Draft) -> jsonschema::meta::MetaValidator<'static> {
    match draft {
        Draft::Draft4 => jsonschema::draft4::meta::validator(),
        Draft::Draft6 => jsonschema::draft6::meta::validator(),
        Draft::Draft201909 => jsonschema::draft201909::meta::validator(),
        Draft::Draft202012 => jsonschema::draft202012::meta::validator(),
        _ => jsonschema::draft7::meta::validator(),
    }
}

fn declared_draft(uri: &str) -> Option<Draft> {
    let uri = uri.trim_end_matches('#');
    let uri = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))?;
    match uri {
        "json-schema.org/draft-04/schema" => Some(Draft::Draft4),
        "json-schema.org/draft-06/schema" => Some(Draft::Draft6),
        "json-schema.org/draft-07/schema" => Some(Draft::Draft7),
        "json-schema.org/draft/2019-09/schema" => Some(Draft::Draft201909),
        "json-schema.org/draft/2020-12/schema" => Some(Draft::Draft202012),
        _ => None,
    }
}

fn compile(schema: &Value, draft: Draft) -> Result<Validator, ValidationError<'static>> {
    jsonschema::options()
        .with_draft(draft)
        .should_validate_formats(false)
        .build(schema)
}

/// StackStorm writes draft-3 style `required: true` inside properties; JSON Schema 4+ wants
/// arrays. Such booleans are accepted and dropped before checking the schema.
fn strip_boolean_required(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("required").is_some_and(Value::is_boolean) {
                map.remove("required");
            }
            for child in map.values_mut() {
                strip_boolean_required(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_boolean_required),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
