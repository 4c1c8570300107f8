//! The installed-pack record: `pack.yaml` plus where it came from.

use std::path::PathBuf;

use nerve_model::PackMeta;
use serde::{Deserialize, Serialize};

/// An installed pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackRecord {
    /// `pack.yaml`.
    pub meta: PackMeta,
    /// The pack directory it was loaded from.
    pub dir: PathBuf,
    /// Hash of the pack's files, to tell whether a reload changed anything.
    pub content_hash: String,
    /// When it was installed or last reloaded (RFC 3339, UTC).
    pub installed_at: String,
    /// Where it came from: a local path, a git URL, `builtin`.
    pub source: String,
}
