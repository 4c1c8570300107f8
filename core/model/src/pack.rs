//! Pack metadata: `pack.yaml`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `pack.yaml`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PackMeta {
    /// Pack ref (`^[a-z0-9_]+$`); when absent the name is used, if it is a valid ref.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub pack_ref: Option<String>,
    /// Display name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Search keywords.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Semantic version.
    #[serde(default)]
    pub version: String,
    /// StackStorm version range the pack declares (kept, not enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stackstorm_version: Option<String>,
    /// Python major versions the pack supports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub python_versions: Vec<String>,
    /// Author.
    #[serde(default)]
    pub author: String,
    /// Author's e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Other contributors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributors: Vec<String>,
    /// Packs this one needs: names or git URLs, optionally `=version`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// System requirements, kept as written.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub system: Map<String, Value>,
}

impl PackMeta {
    /// The pack's ref: `ref`, or `name` when that is a valid ref.
    pub fn pack_ref(&self) -> Option<&str> {
        match &self.pack_ref {
            Some(pack_ref) => Some(pack_ref),
            None if is_valid_pack_ref(&self.name) => Some(&self.name),
            None => None,
        }
    }
}

/// StackStorm's pack ref rule: `^[a-z0-9_]+$`.
pub fn is_valid_pack_ref(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_ref_rules() {
        assert!(is_valid_pack_ref("hello_st2"));
        assert!(!is_valid_pack_ref("Hello"));
        assert!(!is_valid_pack_ref("my-pack"));
        assert!(!is_valid_pack_ref(""));
    }
}
