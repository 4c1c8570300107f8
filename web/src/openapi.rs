//! The OpenAPI 3 document of the API, generated from the handlers' `#[utoipa::path]`
//! annotations and the DTOs' schemas, completed from the route table: alias paths get a copy of
//! the documented path, authenticated operations get the 401 response and security schemes.

use std::sync::LazyLock;

use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::dto;
use crate::routes::{self, Access};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Nerve API",
        description = "Event automation in the StackStorm mould. Shapes follow StackStorm's API \
                       (`/api/v1`); errors are `{\"faultstring\": ...}`; lists take `limit` and \
                       `offset` and answer with `X-Total-Count` and `X-Limit`."
    ),
    paths(
        routes::ui::index,
        routes::ui::file,
        routes::root::version,
        routes::root::health,
        routes::root::openapi,
        routes::metrics::metrics,
        routes::packs::list,
        routes::packs::get,
        routes::packs::register,
        routes::packs::config,
        routes::packs::set_config,
        routes::packs::remove,
        routes::actions::list,
        routes::actions::get,
        routes::actions::parameters,
        routes::rules::list,
        routes::rules::create,
        routes::rules::get,
        routes::rules::update,
        routes::rules::delete,
        routes::rules::enable,
        routes::rules::disable,
        routes::rules::validate,
        routes::rules::test,
        routes::triggers::list_types,
        routes::triggers::get_type,
        routes::triggers::list_triggers,
        routes::trigger_instances::list,
        routes::trigger_instances::get,
        routes::trigger_instances::re_emit,
        routes::sensors::list,
        routes::sensors::get,
        routes::sensors::restart,
        routes::sensors::logs,
        routes::executions::list,
        routes::executions::run,
        routes::executions::get,
        routes::executions::cancel,
        routes::executions::pause,
        routes::executions::resume,
        routes::executions::rerun,
        routes::executions::result,
        routes::output::get,
        routes::output::stream,
        routes::enforcements::list,
        routes::enforcements::get,
        routes::traces::list,
        routes::traces::get,
        routes::inquiries::list,
        routes::inquiries::get,
        routes::inquiries::respond,
        routes::nodes::heartbeat,
        routes::nodes::list,
        routes::nodes::claim,
        routes::nodes::kv,
        routes::nodes::queues,
        routes::nodes::dead_letters,
        routes::nodes::replay,
        routes::keys::list,
        routes::keys::get,
        routes::keys::set,
        routes::keys::delete,
        routes::apikeys::list,
        routes::apikeys::create,
        routes::apikeys::delete,
        routes::webhooks::generic,
        routes::webhooks::custom,
        routes::stream::stream,
        routes::workflows::inspect,
    ),
    components(schemas(
        dto::Fault,
        dto::ExecutionDto,
        dto::ExecutionActionDto,
        dto::StatusChangeDto,
        dto::OutputLineDto,
        dto::RuleDto,
        dto::ActionDto,
        dto::ActionParametersDto,
        dto::PackDto,
        dto::PackRegistrationDto,
        dto::TriggerTypeDto,
        dto::TriggerDto,
        dto::TriggerInstanceDto,
        dto::SensorTypeDto,
        dto::SensorStatusDto,
        dto::SensorExitDto,
        dto::SensorLogLineDto,
        dto::EnforcementDto,
        dto::TraceDto,
        dto::TraceComponentDto,
        dto::KeyDto,
        dto::KeySetBody,
        dto::RunBody,
        dto::RerunBody,
        dto::DisableRuleBody,
        dto::RegisterPackBody,
        dto::ApiKeyCreateBody,
        dto::WebhookBody,
        dto::VersionDto,
        dto::HealthDto,
        dto::RefDto,
        dto::IdDto,
        crate::platform::Diagnostic,
        crate::platform::ReloadError,
        crate::auth::ApiKeyInfo,
        crate::auth::ApiKeyCreated,
        routes::nodes::QueueDto,
        routes::nodes::DeadLetterDto,
        routes::nodes::ReplayDto,
        routes::nodes::ReplayedDto,
        crate::dto::InquiryDto,
        crate::dto::InquiryResponseBody,
        routes::workflows::InspectBody,
        routes::workflows::WorkflowRunner,
        routes::workflows::WorkflowProblemDto,
        routes::workflows::InspectionDto,
        routes::rules::RuleTestBody,
        crate::platform::RuleValidation,
        crate::platform::RuleTestReport,
        crate::platform::CriterionResult,
        crate::platform::RenderedAction,
        crate::platform::TestEvent,
    )),
    tags(
        (name = "ui", description = "The web UI: one page and its embedded assets, no credentials needed (the page holds no data)"),
        (name = "service", description = "Version, health, metrics, this document"),
        (name = "packs"), (name = "actions"), (name = "rules"), (name = "triggers"),
        (name = "sensors"), (name = "executions"), (name = "traces"), (name = "keys"),
        (name = "auth"),
        (name = "nodes", description = "Multi-node deployments: the node registry, claims, the bus's queues and dead letters"),
        (name = "webhooks"), (name = "stream"),
        (name = "workflows", description = "Checking orquesta and action-chain definitions"),
        (name = "inquiries", description = "`core.ask` executions waiting for a human answer")
    )
)]
struct ApiDoc;

const METHODS: [&str; 4] = ["get", "post", "put", "delete"];

/// Adds alias paths, security schemes and the 401 response the annotations leave out.
fn complete(mut document: Value) -> Value {
    let table = routes::table();
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for route in &table {
            let Some(documented) = route.alias_of else {
                continue;
            };
            let method = route.verb.method().as_str().to_ascii_lowercase();
            let operation = paths
                .get(documented)
                .and_then(|item| item.get(&method))
                .cloned();
            if let Some(mut operation) = operation {
                if let Some(operation) = operation.as_object_mut() {
                    operation.insert(
                        "description".into(),
                        json!(format!(
                            "Same as `{} {documented}`.",
                            method.to_ascii_uppercase()
                        )),
                    );
                }
                let item = paths
                    .entry(route.openapi_path())
                    .or_insert_with(|| json!({}));
                if let Some(item) = item.as_object_mut() {
                    item.insert(method, operation);
                }
            }
        }
        for route in &table {
            let method = route.verb.method().as_str().to_ascii_lowercase();
            let Some(operation) = paths
                .get_mut(&route.openapi_path())
                .and_then(|item| item.get_mut(&method))
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            // utoipa names operations after handler functions (`list`, `get`), which repeat;
            // OpenAPI wants them unique.
            operation.insert(
                "operationId".into(),
                json!(operation_id(&method, &route.openapi_path())),
            );
            match route.access {
                Access::Public => {
                    operation.insert("security".into(), json!([]));
                }
                Access::Authenticated | Access::Webhook => {
                    let mut security = vec![
                        json!({"token": []}),
                        json!({"api_key": []}),
                        json!({"bearer": []}),
                    ];
                    if route.access == Access::Webhook {
                        security.push(json!({"hmac_signature": []}));
                    }
                    operation.insert("security".into(), Value::Array(security));
                    if let Some(responses) = operation
                        .get_mut("responses")
                        .and_then(Value::as_object_mut)
                    {
                        responses.entry("401").or_insert_with(|| {
                            json!({
                                "description": "Missing or invalid credentials",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Fault"}}}
                            })
                        });
                    }
                }
            }
        }
    }
    if let Some(components) = document
        .get_mut("components")
        .and_then(Value::as_object_mut)
    {
        components.insert(
            "securitySchemes".into(),
            json!({
                "token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token",
                          "description": "The admin token from `<data_dir>/admin.token` (also query `x-auth-token`)."},
                "api_key": {"type": "apiKey", "in": "header", "name": "St2-Api-Key",
                            "description": "An API key from `POST /api/v1/apikeys` (also query `st2-api-key`)."},
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "The admin token or an API key as `Authorization: Bearer`."},
                "hmac_signature": {"type": "apiKey", "in": "header", "name": "X-Hub-Signature-256",
                                   "description": "`sha256=<hex HMAC-SHA256 of the body>` with the secret in the system key `webhook.<url>.hmac`; replaces the token when that key exists."}
            }),
        );
    }
    document
}

/// `get_api_v1_executions_id` for `GET /api/v1/executions/{id}`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    for part in path.split(|c: char| !c.is_ascii_alphanumeric()) {
        if !part.is_empty() {
            id.push('_');
            id.push_str(part);
        }
    }
    if path.ends_with('/') {
        id.push_str("_index");
    }
    id
}

static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let generated = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|error| {
        tracing::error!(%error, "Cannot encode the OpenAPI document.");
        json!({"openapi": "3.1.0", "info": {"title": "Nerve API", "version": ""}, "paths": {}})
    });
    complete(generated)
});

/// The OpenAPI document (built once).
pub fn document() -> &'static Value {
    &DOCUMENT
}

/// `(METHOD, path)` of every operation in the document, for comparing with the router.
pub fn operations() -> Vec<(String, String)> {
    let mut operations = Vec::new();
    if let Some(paths) = document().get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in METHODS {
                if item.get(method).is_some() {
                    operations.push((method.to_ascii_uppercase(), path.clone()));
                }
            }
        }
    }
    operations.sort();
    operations
}

/// `(METHOD, path)` of every route the router serves, as OpenAPI writes paths.
pub fn router_operations() -> Vec<(String, String)> {
    let mut operations: Vec<(String, String)> = routes::table()
        .iter()
        .map(|route| {
            (
                route.verb.method().as_str().to_owned(),
                route.openapi_path(),
            )
        })
        .collect();
    operations.sort();
    operations
}
