//! The route table: every endpoint with its method, path, access rule and handler, in one list
//! that builds the router ([`crate::router`]) and that the tests compare with the OpenAPI
//! document. Handlers live in one file per resource.
//!
//! Access rules:
//! * `Public`: no credentials (health, the OpenAPI document, the web UI's page and assets, which
//!   hold no data).
//! * `Authenticated`: the auth layer refuses requests without a valid token or API key (401).
//! * `Webhook`: the handler authenticates itself, because an HMAC-signed request needs no token.

pub(crate) mod actions;
pub(crate) mod apikeys;
pub(crate) mod enforcements;
pub(crate) mod executions;
pub(crate) mod inquiries;
pub(crate) mod keys;
pub(crate) mod metrics;
pub(crate) mod nodes;
pub(crate) mod output;
pub(crate) mod packs;
pub(crate) mod root;
pub(crate) mod rules;
pub(crate) mod sensors;
pub(crate) mod stream;
pub(crate) mod traces;
pub(crate) mod trigger_instances;
pub(crate) mod triggers;
pub(crate) mod ui;
pub(crate) mod webhooks;
pub(crate) mod workflows;

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone.
    Public,
    /// Callers with a valid token or API key.
    Authenticated,
    /// Token, API key, or a valid HMAC signature (checked by the handler).
    Webhook,
}

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Get,
    Post,
    Put,
    Delete,
}

impl Verb {
    fn filter(self) -> MethodFilter {
        match self {
            Self::Get => MethodFilter::GET,
            Self::Post => MethodFilter::POST,
            Self::Put => MethodFilter::PUT,
            Self::Delete => MethodFilter::DELETE,
        }
    }

    pub(crate) fn method(self) -> Method {
        match self {
            Self::Get => Method::GET,
            Self::Post => Method::POST,
            Self::Put => Method::PUT,
            Self::Delete => Method::DELETE,
        }
    }
}

/// One endpoint.
pub(crate) struct Route {
    pub(crate) verb: Verb,
    /// The axum path (`{id}` parameters, `{*url}` for the rest of the path).
    pub(crate) path: &'static str,
    pub(crate) access: Access,
    /// A stream: exempt from the request timeout.
    pub(crate) streaming: bool,
    /// The documented path this one is a second name for.
    pub(crate) alias_of: Option<&'static str>,
    pub(crate) handler: MethodRouter<AppState>,
}

impl Route {
    fn new<H, T>(verb: Verb, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Self {
            verb,
            path,
            access,
            streaming: false,
            alias_of: None,
            handler: on(verb.filter(), handler),
        }
    }

    fn streaming(mut self) -> Self {
        self.streaming = true;
        self
    }

    fn alias_of(mut self, documented: &'static str) -> Self {
        self.alias_of = Some(documented);
        self
    }

    /// The path as OpenAPI writes it (`{*url}` becomes `{url}`).
    pub(crate) fn openapi_path(&self) -> String {
        self.path.replace("{*", "{")
    }
}

/// Every route of the API.
pub(crate) fn table() -> Vec<Route> {
    use Access::{Authenticated, Public, Webhook};
    use Verb::{Delete, Get, Post, Put};
    vec![
        // The web UI.
        Route::new(Get, "/", Public, ui::index),
        Route::new(Get, "/ui/{*path}", Public, ui::file),
        // Service.
        Route::new(Get, "/health", Public, root::health).alias_of("/api/v1/health"),
        Route::new(Get, "/api/v1/health", Public, root::health),
        Route::new(Get, "/api/v1/openapi.json", Public, root::openapi),
        Route::new(Get, "/api/v1/", Authenticated, root::version),
        Route::new(Get, "/api/v1", Authenticated, root::version).alias_of("/api/v1/"),
        Route::new(Get, "/api/v1/metrics", Authenticated, metrics::metrics),
        Route::new(Get, "/metrics", Authenticated, metrics::metrics).alias_of("/api/v1/metrics"),
        // Packs.
        Route::new(Get, "/api/v1/packs", Authenticated, packs::list),
        Route::new(
            Post,
            "/api/v1/packs/register",
            Authenticated,
            packs::register,
        ),
        Route::new(Get, "/api/v1/packs/{ref}", Authenticated, packs::get),
        Route::new(Delete, "/api/v1/packs/{ref}", Authenticated, packs::remove),
        Route::new(
            Get,
            "/api/v1/packs/{ref}/config",
            Authenticated,
            packs::config,
        ),
        Route::new(
            Put,
            "/api/v1/packs/{ref}/config",
            Authenticated,
            packs::set_config,
        ),
        // Actions.
        Route::new(Get, "/api/v1/actions", Authenticated, actions::list),
        Route::new(Get, "/api/v1/actions/{ref}", Authenticated, actions::get),
        Route::new(
            Get,
            "/api/v1/actions/views/parameters/{ref}",
            Authenticated,
            actions::parameters,
        ),
        // Rules.
        Route::new(Get, "/api/v1/rules", Authenticated, rules::list),
        Route::new(Post, "/api/v1/rules", Authenticated, rules::create),
        Route::new(
            Post,
            "/api/v1/rules/validate",
            Authenticated,
            rules::validate,
        ),
        Route::new(Post, "/api/v1/rules/test", Authenticated, rules::test),
        Route::new(Get, "/api/v1/rules/{ref}", Authenticated, rules::get),
        Route::new(Put, "/api/v1/rules/{ref}", Authenticated, rules::update),
        Route::new(Delete, "/api/v1/rules/{ref}", Authenticated, rules::delete),
        Route::new(
            Put,
            "/api/v1/rules/{ref}/enable",
            Authenticated,
            rules::enable,
        ),
        Route::new(
            Put,
            "/api/v1/rules/{ref}/disable",
            Authenticated,
            rules::disable,
        ),
        // Triggers and events.
        Route::new(
            Get,
            "/api/v1/triggertypes",
            Authenticated,
            triggers::list_types,
        ),
        Route::new(
            Get,
            "/api/v1/triggertypes/{ref}",
            Authenticated,
            triggers::get_type,
        ),
        Route::new(
            Get,
            "/api/v1/triggers",
            Authenticated,
            triggers::list_triggers,
        ),
        Route::new(
            Get,
            "/api/v1/triggerinstances",
            Authenticated,
            trigger_instances::list,
        ),
        Route::new(
            Get,
            "/api/v1/triggerinstances/{id}",
            Authenticated,
            trigger_instances::get,
        ),
        Route::new(
            Post,
            "/api/v1/triggerinstances/{id}/re_emit",
            Authenticated,
            trigger_instances::re_emit,
        ),
        // Sensors.
        Route::new(Get, "/api/v1/sensortypes", Authenticated, sensors::list),
        Route::new(
            Get,
            "/api/v1/sensortypes/{ref}",
            Authenticated,
            sensors::get,
        ),
        Route::new(
            Post,
            "/api/v1/sensortypes/{ref}/restart",
            Authenticated,
            sensors::restart,
        ),
        Route::new(
            Get,
            "/api/v1/sensortypes/{ref}/logs",
            Authenticated,
            sensors::logs,
        ),
        // Executions.
        Route::new(Get, "/api/v1/executions", Authenticated, executions::list),
        Route::new(Post, "/api/v1/executions", Authenticated, executions::run),
        Route::new(
            Get,
            "/api/v1/executions/{id}",
            Authenticated,
            executions::get,
        ),
        Route::new(
            Delete,
            "/api/v1/executions/{id}",
            Authenticated,
            executions::cancel,
        ),
        Route::new(
            Get,
            "/api/v1/executions/{id}/result",
            Authenticated,
            executions::result,
        ),
        Route::new(
            Post,
            "/api/v1/executions/{id}/re_run",
            Authenticated,
            executions::rerun,
        ),
        Route::new(
            Post,
            "/api/v1/executions/{id}/pause",
            Authenticated,
            executions::pause,
        ),
        Route::new(
            Post,
            "/api/v1/executions/{id}/resume",
            Authenticated,
            executions::resume,
        ),
        Route::new(
            Get,
            "/api/v1/executions/{id}/output",
            Authenticated,
            output::get,
        ),
        Route::new(
            Get,
            "/api/v1/executions/{id}/output/stream",
            Authenticated,
            output::stream,
        )
        .streaming(),
        Route::new(
            Post,
            "/api/v1/executions/{id}/claim",
            Authenticated,
            nodes::claim,
        ),
        // Nodes and the bus.
        Route::new(Get, "/api/v1/nodes", Authenticated, nodes::list),
        Route::new(
            Post,
            "/api/v1/nodes/{name}/heartbeat",
            Authenticated,
            nodes::heartbeat,
        ),
        Route::new(Post, "/api/v1/nodes/{name}/kv", Authenticated, nodes::kv),
        Route::new(Get, "/api/v1/bus/queues", Authenticated, nodes::queues),
        Route::new(
            Get,
            "/api/v1/bus/queues/{name}/dead_letters",
            Authenticated,
            nodes::dead_letters,
        ),
        Route::new(
            Post,
            "/api/v1/bus/queues/{name}/replay",
            Authenticated,
            nodes::replay,
        ),
        // Inquiries.
        Route::new(Get, "/api/v1/inquiries", Authenticated, inquiries::list),
        Route::new(Get, "/api/v1/inquiries/{id}", Authenticated, inquiries::get),
        Route::new(
            Put,
            "/api/v1/inquiries/{id}",
            Authenticated,
            inquiries::respond,
        ),
        // Workflows.
        Route::new(
            Post,
            "/api/v1/workflows/inspect",
            Authenticated,
            workflows::inspect,
        ),
        // Enforcements and traces.
        Route::new(
            Get,
            "/api/v1/enforcements",
            Authenticated,
            enforcements::list,
        ),
        Route::new(
            Get,
            "/api/v1/ruleenforcements",
            Authenticated,
            enforcements::list,
        )
        .alias_of("/api/v1/enforcements"),
        Route::new(
            Get,
            "/api/v1/enforcements/{id}",
            Authenticated,
            enforcements::get,
        ),
        Route::new(Get, "/api/v1/traces", Authenticated, traces::list),
        Route::new(Get, "/api/v1/traces/{id}", Authenticated, traces::get),
        // Key-value.
        Route::new(Get, "/api/v1/keys", Authenticated, keys::list),
        Route::new(Get, "/api/v1/keys/{name}", Authenticated, keys::get),
        Route::new(Put, "/api/v1/keys/{name}", Authenticated, keys::set),
        Route::new(Delete, "/api/v1/keys/{name}", Authenticated, keys::delete),
        // API keys.
        Route::new(Get, "/api/v1/apikeys", Authenticated, apikeys::list),
        Route::new(Post, "/api/v1/apikeys", Authenticated, apikeys::create),
        Route::new(
            Delete,
            "/api/v1/apikeys/{id}",
            Authenticated,
            apikeys::delete,
        ),
        // Webhooks.
        Route::new(Post, "/api/v1/webhooks/st2", Webhook, webhooks::generic),
        Route::new(Post, "/api/v1/webhooks/{*url}", Webhook, webhooks::custom),
        // Stream.
        Route::new(Get, "/api/v1/stream", Authenticated, stream::stream).streaming(),
        Route::new(Get, "/stream/v1/stream", Authenticated, stream::stream)
            .streaming()
            .alias_of("/api/v1/stream"),
    ]
}
