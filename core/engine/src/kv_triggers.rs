//! StackStorm's datastore triggers: `core.st2.key_value_pair.create|update|delete` and
//! `.value_change` (with the old and the new pair), emitted when a key is written through the
//! API or by a sensor. Like `core.st2.generic.actiontrigger`, each is recorded only when an
//! enabled rule listens to it. Secret values are masked in the payloads.

use nerve_store::{KvPair, KvScope, KvSetOutcome};
use serde_json::{Value, json};

use crate::Engine;

const CREATE: &str = "core.st2.key_value_pair.create";
const UPDATE: &str = "core.st2.key_value_pair.update";
const VALUE_CHANGE: &str = "core.st2.key_value_pair.value_change";
const DELETE: &str = "core.st2.key_value_pair.delete";

impl Engine {
    /// Emits what a key write means: `create` for a new key; `update` for an existing one,
    /// and `value_change` too when its value changed.
    pub async fn key_set(&self, outcome: &KvSetOutcome) {
        if outcome.created {
            self.emit_key_trigger(CREATE, json!({"object": object(&outcome.new)}))
                .await;
            return;
        }
        self.emit_key_trigger(UPDATE, json!({"object": object(&outcome.new)}))
            .await;
        if outcome.value_changed {
            let old = outcome.old.as_ref().map_or(Value::Null, object);
            let payload = json!({"old_object": old, "new_object": object(&outcome.new)});
            self.emit_key_trigger(VALUE_CHANGE, payload).await;
        }
    }

    /// Emits `delete` for a removed key.
    pub async fn key_deleted(&self, pair: &KvPair) {
        self.emit_key_trigger(DELETE, json!({"object": object(pair)}))
            .await;
    }

    async fn emit_key_trigger(&self, trigger: &str, payload: Value) {
        let content = self.content();
        if content.trigger_type(trigger).is_none() || content.rules().candidates(trigger).is_empty()
        {
            return;
        }
        if let Err(error) = crate::ingest::emit(self, trigger, payload, None).await {
            tracing::error!(trigger, %error, "Emitting a datastore trigger failed.");
        }
    }
}

/// A pair as StackStorm's datastore triggers carry it (the value masked when secret).
fn object(pair: &KvPair) -> Value {
    let scope = match pair.scope {
        KvScope::System => "st2kv.system",
        KvScope::User => "st2kv.user",
    };
    let value = if pair.secret {
        nerve_model::MASKED_VALUE.to_owned()
    } else {
        pair.value.clone()
    };
    json!({
        "name": pair.name,
        "value": value,
        "secret": pair.secret,
        "encrypted": pair.secret,
        "scope": scope,
        "expire_timestamp": pair.expire_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_scopes_named_as_stackstorm() {
        let pair = KvPair {
            scope: KvScope::User,
            name: "alice:token".to_owned(),
            value: "s3cret".to_owned(),
            secret: true,
            expire_at: None,
            created_at: "2026-01-01T00:00:00Z".to_owned(),
            updated_at: "2026-01-01T00:00:00Z".to_owned(),
        };
        let object = object(&pair);
        assert_eq!(object["value"], nerve_model::MASKED_VALUE);
        assert_eq!(object["scope"], "st2kv.user");
        assert_eq!(object["encrypted"], true);
    }
}
