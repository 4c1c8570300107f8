//! Nerve's HTTP boundary: the REST API under `/api/v1` (shaped after StackStorm's), webhooks,
//! the SSE event stream, authentication, the OpenAPI document, Prometheus metrics, and a typed
//! client for the CLI.
//!
//! **Crate invariant:** only `web` knows HTTP and JSON wire shapes. It converts model and store
//! types into DTOs ([`dto`]), authenticates every request (auth is on by default: see [`auth`]),
//! and never returns a secret in clear unless an authorised caller asked to decrypt (secret
//! execution parameters are masked in every response and event; secret key-value pairs are
//! masked unless an administrator, or the owner of a user-scoped key, passes `decrypt=true`).
//!
//! How the invariant is kept:
//!
//! * One route table (`routes`) builds the router; every route is `Public` (health, the OpenAPI
//!   document), `Authenticated` (behind the auth layer) or `Webhook` (token, API key or HMAC
//!   signature, checked by the handler). A test walks the table and asserts 401 for every
//!   non-public route without credentials, and compares the table with the OpenAPI document.
//! * Executions leave the crate only through `mask` (the action's merged parameters from the
//!   [`Platform`]; every parameter is masked when the action is unknown).
//! * Errors are one `AppError` → `{"faultstring": ...}`; 5xx bodies are generic and the cause is
//!   logged.
//!
//! Entry points: [`router`] and [`serve`] for the server binary (which implements [`Platform`]
//! over the engine), [`Client`] and [`discover`] for the CLI.

pub mod auth;
pub mod client;
pub mod dto;
mod error;
mod list;
mod mask;
pub mod openapi;
mod platform;
mod routes;
mod server;
mod state;
mod telemetry;

pub use auth::{Auth, AuthError, Principal};
pub use client::{Client, ClientError, discover, write_server_info};
pub use list::{DEFAULT_LIMIT, MAX_LIMIT};
pub use platform::{
    ActionView, BoxFuture, CriterionResult, Diagnostic, EmitRequest, MetricSample, PackDetails,
    PackRegistration, Platform, PlatformError, PlatformResult, ReloadError, RenderedAction,
    RuleSource, RuleTestReport, RuleValidation, RunRequest, SensorExitView, SensorLogLine,
    SensorRunState, SensorStatusView, SensorTriggerView, SensorView, TestEvent, WebhookTarget,
};
pub use routes::nodes::{DeadLetterDto, QueueDto, ReplayDto, ReplayedDto};
pub use routes::webhooks::{SIGNATURE_HEADER, TRACE_TAG_HEADER, hmac_key_name, sign};
pub use server::{router, serve};
pub use state::{AppState, ServerOptions};
