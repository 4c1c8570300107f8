//! Packs as the API shows them.

use nerve_store::PackRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::{Diagnostic, PackRegistration, ReloadError};

/// An installed pack (StackStorm's `PackAPI` shape plus where it came from).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PackDto {
    /// Pack ref.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Display name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Version.
    #[serde(default)]
    pub version: String,
    /// Author.
    #[serde(default)]
    pub author: String,
    /// Author's e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Search keywords.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Packs it depends on.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// The pack directory on the server.
    pub path: String,
    /// Where it came from: a local path, a git URL, `builtin`.
    pub source: String,
    /// When it was installed or last reloaded.
    pub installed_at: String,
    /// Hash of its files.
    pub content_hash: String,
    /// Its files, relative to the pack directory (`GET /packs/{ref}` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// The last install or reload that failed since the last good one: the version shown is
    /// still the one in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload_error: Option<ReloadError>,
}

impl From<PackRecord> for PackDto {
    fn from(record: PackRecord) -> Self {
        let meta = record.meta;
        Self {
            reference: meta.pack_ref().unwrap_or(&meta.name).to_owned(),
            name: meta.name,
            description: meta.description,
            version: meta.version,
            author: meta.author,
            email: meta.email,
            keywords: meta.keywords,
            dependencies: meta.dependencies,
            path: record.dir.display().to_string(),
            source: record.source,
            installed_at: record.installed_at,
            content_hash: record.content_hash,
            files: Vec::new(),
            reload_error: None,
        }
    }
}

/// `POST /api/v1/packs/register`: what was loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PackRegistrationDto {
    /// The pack.
    pub pack: PackDto,
    /// Actions registered.
    pub actions: usize,
    /// Rules registered.
    pub rules: usize,
    /// Sensors registered.
    pub sensors: usize,
    /// Trigger types registered.
    pub trigger_types: usize,
    /// Policies registered.
    pub policies: usize,
    /// Warnings (the pack loaded anyway).
    #[serde(default)]
    pub warnings: Vec<Diagnostic>,
}

impl From<PackRegistration> for PackRegistrationDto {
    fn from(registration: PackRegistration) -> Self {
        Self {
            pack: registration.pack.into(),
            actions: registration.actions,
            rules: registration.rules,
            sensors: registration.sensors,
            trigger_types: registration.trigger_types,
            policies: registration.policies,
            warnings: registration.warnings,
        }
    }
}
