//! `/api/v1/rules`: list and get (store reads with the effective enabled state), create from
//! JSON or YAML, replace, delete, enable and disable with a reason (through the platform), and
//! the editor's helpers: validate a rule without storing it, and test a rule against an event.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use nerve_model::Rule;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::dto::{DisableRuleBody, Fault, RuleDto};
use crate::error::{ApiQuery, AppError, AppResult};
use crate::list::{Paged, Paging};
use crate::platform::RuleSource;
use crate::platform::{RuleTestReport, RuleValidation, TestEvent};
use crate::state::AppState;

/// Filters of `GET /rules`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RuleQuery {
    /// Only rules of this pack.
    pack: Option<String>,
    /// Only rules on this trigger type.
    trigger: Option<String>,
    /// Only enabled (`true`) or disabled (`false`) rules.
    enabled: Option<bool>,
    /// Page size (default 100, max 1000, -1 for all: administrators only).
    limit: Option<i64>,
    /// Records to skip.
    offset: Option<usize>,
}

/// Rules in ref order, with their effective `enabled` and `disabled_reason`.
#[utoipa::path(
    get,
    path = "/api/v1/rules",
    tag = "rules",
    params(RuleQuery),
    responses((status = 200, description = "Rules", body = [RuleDto]))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<RuleQuery>,
) -> AppResult<Paged<RuleDto>> {
    let paging = Paging::new(query.limit, query.offset, &caller)?;
    let prefix = query
        .pack
        .as_ref()
        .map_or_else(String::new, |pack| format!("{pack}."));
    let rules: Vec<RuleDto> = state
        .store
        .rule_records(&prefix)?
        .into_iter()
        .filter(|record| {
            query
                .trigger
                .as_ref()
                .is_none_or(|trigger| &record.rule.trigger.trigger_type == trigger)
                && query
                    .enabled
                    .is_none_or(|enabled| record.enabled == enabled)
        })
        .map(RuleDto::from)
        .collect();
    Ok(paging.slice(rules))
}

/// One rule.
#[utoipa::path(
    get,
    path = "/api/v1/rules/{ref}",
    tag = "rules",
    params(("ref" = String, Path, description = "Rule ref, `pack.name`")),
    responses(
        (status = 200, description = "The rule", body = RuleDto),
        (status = 404, description = "No such rule", body = Fault)
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(rule_ref): Path<String>,
) -> AppResult<Json<RuleDto>> {
    let record = state
        .store
        .rule_record(&rule_ref)?
        .ok_or_else(|| AppError::not_found("rule", &rule_ref))?;
    Ok(Json(record.into()))
}

fn is_yaml(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.to_ascii_lowercase().contains("yaml"))
}

/// The rule in a request body: YAML text passed through, or a JSON object.
fn rule_source(headers: &HeaderMap, body: &[u8]) -> AppResult<RuleSource> {
    if is_yaml(headers) {
        let text = std::str::from_utf8(body)
            .map_err(|_| AppError::bad_request("the rule YAML is not valid UTF-8"))?;
        return Ok(RuleSource::Yaml(text.to_owned()));
    }
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        AppError::bad_request(format!(
            "the body is not valid JSON ({error}); send a rule object, or YAML with \
             `Content-Type: application/yaml`"
        ))
    })?;
    if !value.is_object() {
        return Err(AppError::bad_request("the rule must be a JSON object"));
    }
    Ok(RuleSource::Json(value))
}

/// Creates a rule (or replaces the rule with the same ref) from a JSON rule or, with
/// `Content-Type: application/yaml`, StackStorm rule YAML. Errors carry positions.
#[utoipa::path(
    post,
    path = "/api/v1/rules",
    tag = "rules",
    request_body(
        description = "A rule as JSON, or rule YAML with `Content-Type: application/yaml`",
        content(
            (RuleDto = "application/json"),
            (String = "application/yaml")
        )
    ),
    responses(
        (status = 201, description = "The rule as stored", body = RuleDto),
        (status = 400, description = "The rule is invalid", body = Fault)
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<(StatusCode, Json<RuleDto>)> {
    let source = rule_source(&headers, &body)?;
    let record = state.platform.create_rule(source).await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

/// Replaces a rule (StackStorm's `PUT /rules/{ref}`). A body that only changes `enabled` (and
/// `disabled_reason`) enables or disables the rule without reloading it.
#[utoipa::path(
    put,
    path = "/api/v1/rules/{ref}",
    tag = "rules",
    params(("ref" = String, Path, description = "Rule ref, `pack.name`")),
    request_body(
        description = "The whole rule as JSON (as `GET` returns it), or rule YAML",
        content(
            (RuleDto = "application/json"),
            (String = "application/yaml")
        )
    ),
    responses(
        (status = 200, description = "The rule as stored", body = RuleDto),
        (status = 400, description = "The rule is invalid", body = Fault),
        (status = 404, description = "No such rule", body = Fault)
    )
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(rule_ref): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Json<RuleDto>> {
    let source = rule_source(&headers, &body)?;
    let RuleSource::Json(value) = source else {
        let record = state.platform.create_rule(source).await?;
        return Ok(Json(record.into()));
    };
    let enabled = value.get("enabled").and_then(Value::as_bool);
    let reason = value
        .get("disabled_reason")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let sent: Option<Rule> = serde_json::from_value(value.clone()).ok();
    if let Some(sent) = &sent {
        if sent.rule_ref() != rule_ref {
            return Err(AppError::bad_request(format!(
                "the body describes rule `{}` but the path names `{rule_ref}`",
                sent.rule_ref()
            )));
        }
    }
    let current = state.store.rule_record(&rule_ref)?;
    let same_definition = match (&sent, &current) {
        (Some(sent), Some(current)) => {
            let mut sent = sent.clone();
            sent.enabled = current.rule.enabled;
            sent.metadata_file.clone_from(&current.rule.metadata_file);
            sent == current.rule
        }
        _ => false,
    };
    let record = if same_definition {
        match current {
            Some(current) => current,
            None => return Err(AppError::not_found("rule", &rule_ref)),
        }
    } else {
        state.platform.create_rule(RuleSource::Json(value)).await?
    };
    let record = match enabled {
        Some(enabled)
            if enabled != record.enabled
                || (!enabled && reason.is_some() && reason != record.disabled_reason) =>
        {
            state
                .platform
                .set_rule_enabled(&rule_ref, enabled, reason)
                .await?
        }
        _ => record,
    };
    Ok(Json(record.into()))
}

/// Deletes a rule.
#[utoipa::path(
    delete,
    path = "/api/v1/rules/{ref}",
    tag = "rules",
    params(("ref" = String, Path, description = "Rule ref, `pack.name`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such rule", body = Fault)
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(rule_ref): Path<String>,
) -> AppResult<StatusCode> {
    state.platform.delete_rule(&rule_ref).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables a rule (clearing its disabled reason).
#[utoipa::path(
    put,
    path = "/api/v1/rules/{ref}/enable",
    tag = "rules",
    params(("ref" = String, Path, description = "Rule ref, `pack.name`")),
    responses(
        (status = 200, description = "The rule", body = RuleDto),
        (status = 404, description = "No such rule", body = Fault)
    )
)]
pub(crate) async fn enable(
    State(state): State<AppState>,
    Path(rule_ref): Path<String>,
) -> AppResult<Json<RuleDto>> {
    let record = state
        .platform
        .set_rule_enabled(&rule_ref, true, None)
        .await?;
    Ok(Json(record.into()))
}

/// Disables a rule, keeping the reason (optional body `{"reason": "..."}`).
#[utoipa::path(
    put,
    path = "/api/v1/rules/{ref}/disable",
    tag = "rules",
    params(("ref" = String, Path, description = "Rule ref, `pack.name`")),
    request_body(content = DisableRuleBody, description = "Optional"),
    responses(
        (status = 200, description = "The rule", body = RuleDto),
        (status = 400, description = "Malformed body", body = Fault),
        (status = 404, description = "No such rule", body = Fault)
    )
)]
pub(crate) async fn disable(
    State(state): State<AppState>,
    Path(rule_ref): Path<String>,
    body: Bytes,
) -> AppResult<Json<RuleDto>> {
    let body: DisableRuleBody = if body.iter().all(u8::is_ascii_whitespace) {
        DisableRuleBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| {
            AppError::bad_request(format!(
                "invalid JSON body: {error}; send {{\"reason\": \"...\"}}"
            ))
        })?
    };
    let reason = body.reason.filter(|reason| !reason.trim().is_empty());
    let record = state
        .platform
        .set_rule_enabled(&rule_ref, false, reason)
        .await?;
    Ok(Json(record.into()))
}

/// Validates a rule (StackStorm YAML with `Content-Type: application/yaml`, or a JSON rule)
/// exactly as `POST /rules` would, against the packs in force, and stores nothing. A rule with
/// problems is a `200` whose `diagnostics` give each problem's line, column and field (the web
/// UI's editor calls this as you type).
#[utoipa::path(
    post,
    path = "/api/v1/rules/validate",
    tag = "rules",
    request_body(
        description = "Rule YAML with `Content-Type: application/yaml`, or a rule as JSON",
        content(
            (String = "application/yaml"),
            (RuleDto = "application/json")
        )
    ),
    responses(
        (status = 200, description = "The verdict, with every problem", body = RuleValidation),
        (status = 400, description = "The body is neither YAML text nor a JSON object", body = Fault)
    )
)]
pub(crate) async fn validate(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Json<RuleValidation>> {
    let source = rule_source(&headers, &body)?;
    Ok(Json(state.platform.validate_rule(source).await?))
}

/// Body of `POST /rules/test`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleTestBody {
    /// The rule: YAML text (a string) or a rule object.
    #[schema(value_type = Object)]
    rule: Value,
    /// The event to test against (`{"trigger", "payload"}`); or give `trigger_instance`.
    #[serde(default)]
    event: Option<TestEvent>,
    /// The id of a recorded event to test against instead of `event`.
    #[serde(default)]
    trigger_instance: Option<String>,
}

/// Tests a rule (stored or not) against an event, as `nerve rule test` does: each criterion
/// with the value found and why it passes or fails and, when the rule matches, the action with
/// its rendered parameters and warnings where they would fail the action's schema. An invalid
/// rule is a `200` with `valid: false` and its diagnostics.
#[utoipa::path(
    post,
    path = "/api/v1/rules/test",
    tag = "rules",
    request_body = RuleTestBody,
    responses(
        (status = 200, description = "The explanation", body = RuleTestReport),
        (status = 400, description = "Malformed body: no rule, or neither or both of `event` and `trigger_instance`", body = Fault),
        (status = 404, description = "No such trigger instance", body = Fault)
    )
)]
pub(crate) async fn test(
    State(state): State<AppState>,
    body: Bytes,
) -> AppResult<Json<RuleTestReport>> {
    let body: RuleTestBody = serde_json::from_slice(&body).map_err(|error| {
        AppError::bad_request(format!(
            "invalid JSON body: {error}; send {{\"rule\": \"<rule YAML>\", \"event\": {{\"trigger\": \"pack.type\", \"payload\": {{...}}}}}}"
        ))
    })?;
    let source = match body.rule {
        Value::String(text) => RuleSource::Yaml(text),
        rule @ Value::Object(_) => RuleSource::Json(rule),
        _ => {
            return Err(AppError::bad_request(
                "`rule` must be the rule's YAML text (a string) or a rule object",
            ));
        }
    };
    let event = match (body.event, body.trigger_instance) {
        (Some(event), None) => event,
        (None, Some(id)) => {
            let record = state
                .store
                .trigger_instance(&id)?
                .ok_or_else(|| AppError::not_found("trigger instance", &id))?;
            TestEvent {
                trigger: record.trigger,
                payload: record.payload,
            }
        }
        (None, None) => {
            return Err(AppError::bad_request(
                "give the event to test against: `event` ({\"trigger\", \"payload\"}) or `trigger_instance` (an event id)",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(AppError::bad_request(
                "give either `event` or `trigger_instance`, not both",
            ));
        }
    };
    Ok(Json(state.platform.test_rule(source, event).await?))
}
