//! Nerve's one YAML reader: YAML text to `serde_json::Value` with a source map, read the way
//! StackStorm reads it (PyYAML's `safe_load`, YAML 1.1 scalar rules).
//!
//! **Architecture invariant:** this is the only crate that depends on a YAML library. Packs
//! (`nerve-packs`) and the `from_yaml_string` template filter (`nerve-rules`) both read YAML
//! through it, so a file and a template mean the same thing everywhere.

mod load;

pub use load::{
    MAX_ALIAS_EXPANSION, MAX_DEPTH, PathDisplay, PathSegment, Span, YamlDocument, YamlError,
    YamlWarning, display_path, parse_yaml, plain_scalar_is_string,
};
