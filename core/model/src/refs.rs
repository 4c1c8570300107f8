//! Resource references: `pack.name`, split at the first dot as StackStorm does
//! (`core.st2.webhook` is pack `core`, name `st2.webhook`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A reference to a pack resource (action, rule, trigger type, sensor, policy): `pack.name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceRef {
    /// The pack's ref (`^[a-z0-9_]+$` for packs Nerve creates; loaded as written otherwise).
    pub pack: String,
    /// The resource name inside the pack; may itself contain dots.
    pub name: String,
}

/// Why a string is not a resource reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a reference of the form `pack.name`")]
pub struct RefError {
    /// The rejected text.
    pub text: String,
}

impl ResourceRef {
    /// Builds a reference from its parts.
    pub fn new(pack: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            pack: pack.into(),
            name: name.into(),
        }
    }
}

impl FromStr for ResourceRef {
    type Err = RefError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('.') {
            Some((pack, name)) if !pack.is_empty() && !name.is_empty() => Ok(Self::new(pack, name)),
            _ => Err(RefError {
                text: text.to_owned(),
            }),
        }
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.pack, self.name)
    }
}

impl Serialize for ResourceRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ResourceRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_first_dot() {
        let r: ResourceRef = "core.st2.webhook".parse().unwrap();
        assert_eq!(r.pack, "core");
        assert_eq!(r.name, "st2.webhook");
        assert_eq!(r.to_string(), "core.st2.webhook");
    }

    #[test]
    fn rejects_refs_without_pack_or_name() {
        for bad in ["", "core", ".x", "x.", "."] {
            assert!(
                bad.parse::<ResourceRef>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}
