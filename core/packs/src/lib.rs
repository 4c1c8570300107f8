//! Loads StackStorm-format pack directories into Nerve's model.
//!
//! **Architecture invariant:** every problem of a pack is reported, with file, line, column and
//! field path, and a pack with any error yields nothing. Files are read through `nerve-yaml`
//! ([`parse_yaml`], PyYAML's YAML 1.1 scalar rules, with a source map), checked against the JSON
//! Schema of their kind ([`validate_document`]), and then
//! checks what needs the whole pack or set of packs ([`load_pack`], [`load_packs`]). Every problem
//! is a [`Diagnostic`] with file, line, column and field path; a pack with any error yields nothing.

mod diagnostic;
mod document;
mod hash;
mod loader;

pub use diagnostic::{Diagnostic, Severity, did_you_mean, render_snippet};
pub use document::{DocumentKind, load_document, validate_document};
pub use hash::{content_hash, pack_files};
pub use loader::{
    Catalog, ConfigSchema, LoadedAction, LoadedPack, LoadedPolicy, LoadedRule, LoadedSensor,
    LoadedTriggerType, PackErrors, check_rule_text, load_pack, load_packs, load_rule_file,
    load_rule_text,
};
pub use nerve_yaml::{
    MAX_ALIAS_EXPANSION, MAX_DEPTH, PathDisplay, PathSegment, Span, YamlDocument, YamlError,
    YamlWarning, display_path, parse_yaml,
};
