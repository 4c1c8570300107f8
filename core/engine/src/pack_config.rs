//! Pack configs (`nerve pack config`): the values of a pack's `config.schema.yaml`, kept in the
//! datastore as system keys `pack_config.<pack>.<field>` (JSON text). Fields the schema marks
//! `secret` are stored encrypted at rest and shown masked; sensors get the decrypted config in
//! `hello`, Python actions as `self.config`.
//!
//! A config change restarts the pack's sensors (their `hello` changed); nothing else restarts.

use nerve_model::MASKED_VALUE;
use nerve_store::{KvFilter, KvScope, KvWrite};
use serde_json::{Map, Value};

use crate::{Engine, EngineError};

/// The datastore prefix of pack config keys.
pub const PACK_CONFIG_PREFIX: &str = "pack_config.";

fn key_prefix(pack_ref: &str) -> String {
    format!("{PACK_CONFIG_PREFIX}{pack_ref}.")
}

impl Engine {
    /// A pack's config: the schema's defaults overlaid with the stored values (secrets
    /// decrypted when `decrypt`, else masked). Empty for a pack without a config.
    pub fn pack_config(&self, pack_ref: &str, decrypt: bool) -> Map<String, Value> {
        let mut config = Map::new();
        if let Some(pack) = self.content().pack(pack_ref)
            && let Some(schema) = &pack.config_schema
        {
            for (name, spec) in &schema.parameters {
                if let Some(default) = &spec.default {
                    config.insert(name.clone(), default.clone());
                }
            }
        }
        let prefix = key_prefix(pack_ref);
        let stored = self.store().kv().list(&KvFilter {
            scope: Some(KvScope::System),
            prefix: prefix.clone(),
            decrypt,
            limit: None,
            offset: 0,
        });
        match stored {
            Ok(page) => {
                for pair in page.items {
                    let Some(field) = pair.name.strip_prefix(&prefix) else {
                        continue;
                    };
                    let value = if pair.secret && !decrypt {
                        Value::String(MASKED_VALUE.to_owned())
                    } else {
                        serde_json::from_str(&pair.value).unwrap_or(Value::String(pair.value))
                    };
                    config.insert(field.to_owned(), value);
                }
            }
            Err(error) => {
                tracing::error!(%error, pack = pack_ref, "Pack config not readable; using defaults.");
            }
        }
        config
    }

    /// Sets fields of a pack's config: strings are cast to the schema's types, the whole
    /// config is validated against the schema, then stored (secrets encrypted) and the pack's
    /// sensors restarted with it. Returns the config, masked.
    ///
    /// # Errors
    /// [`EngineError::NotFound`] for an unknown pack, [`EngineError::Invalid`] for a pack
    /// without `config.schema.yaml`, an unknown field or a config the schema refuses (each
    /// problem named), or a store failure.
    pub async fn set_pack_config(
        &self,
        pack_ref: &str,
        values: Map<String, Value>,
    ) -> Result<Map<String, Value>, EngineError> {
        let content = self.content();
        let pack = content
            .pack(pack_ref)
            .ok_or_else(|| EngineError::NotFound {
                kind: "pack",
                id: pack_ref.to_owned(),
            })?;
        let Some(schema) = &pack.config_schema else {
            return Err(EngineError::Invalid {
                message: format!("pack `{pack_ref}` has no `config.schema.yaml`"),
                details: Vec::new(),
            });
        };
        let mut details = Vec::new();
        let mut cast = Map::new();
        for (name, value) in values {
            if !schema.parameters.contains_key(&name) {
                let known: Vec<&str> = schema.parameters.keys().map(String::as_str).collect();
                details.push(format!(
                    "unknown config field `{name}` (fields: {})",
                    known.join(", ")
                ));
                continue;
            }
            let value = nerve_model::cast_parameter(&schema.parameters, &name, value);
            cast.insert(name, value);
        }
        let mut merged = self.pack_config(pack_ref, true);
        merged.extend(cast.clone());
        if let Err(violations) = schema.schema.validate(&Value::Object(merged)) {
            details.extend(violations.iter().map(ToString::to_string));
        }
        if !details.is_empty() {
            return Err(EngineError::Invalid {
                message: format!("the config of pack `{pack_ref}` is invalid"),
                details,
            });
        }
        let kv = self.store().kv();
        let prefix = key_prefix(pack_ref);
        for (name, value) in cast {
            let secret = schema
                .parameters
                .get(&name)
                .is_some_and(|p| p.secret == Some(true));
            kv.set(&KvWrite {
                scope: KvScope::System,
                name: format!("{prefix}{name}"),
                value: value.to_string(),
                secret,
                ttl_seconds: None,
            })
            .await?;
        }
        // The pack's sensors get the new config in their `hello`: a new process each.
        self.reconcile_sensors();
        Ok(self.pack_config(pack_ref, false))
    }
}
