//! `/api/v1/keys`: the key-value datastore with StackStorm's scopes.
//!
//! * `scope=system` (default) is shared by everyone; `scope=user` keys belong to the caller (an
//!   administrator may name another owner with `user`); `scope=all` lists system keys and the
//!   owner's user keys.
//! * Secret values are masked (`********`) unless `decrypt=true` and the caller may see them in
//!   clear: an administrator always, any caller for their own user-scoped keys (as in
//!   StackStorm). Asking to decrypt anything else is refused with 403, never silently masked.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use nerve_store::{KvFilter, KvPair, KvScope, KvWrite};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::dto::{Fault, KeyDto, KeySetBody};
use crate::error::{ApiJson, ApiQuery, AppError, AppResult};
use crate::list::{Paged, Paging};
use crate::state::AppState;

/// Which scopes a request reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scopes {
    One(KvScope),
    All,
}

fn parse_scope(text: Option<&str>, allow_all: bool) -> AppResult<Scopes> {
    match text {
        None | Some("") => Ok(Scopes::One(KvScope::System)),
        Some("all" | "st2kv.all") if allow_all => Ok(Scopes::All),
        Some(text) => KvScope::parse(text).map(Scopes::One).ok_or_else(|| {
            AppError::bad_request(format!(
                "unknown scope `{text}`; use `system` or `user`{}",
                if allow_all { " or `all`" } else { "" }
            ))
        }),
    }
}

/// The owner of user-scoped keys for this request: the caller, or `user` for administrators.
fn owner(caller: &Caller, user: Option<&str>) -> AppResult<String> {
    match user {
        Some(user) if user != caller.0.user => {
            caller.require_admin()?;
            Ok(user.to_owned())
        }
        _ => Ok(caller.0.user.clone()),
    }
}

/// Refuses `decrypt` unless the caller may see every secret the request reads.
fn check_decrypt(caller: &Caller, decrypt: bool, scopes: Scopes, owner: &str) -> AppResult<()> {
    let own_keys_only = scopes == Scopes::One(KvScope::User) && owner == caller.0.user;
    if decrypt && !caller.0.admin && !own_keys_only {
        return Err(AppError::Forbidden(
            "only administrators may decrypt system keys or other users' keys".to_owned(),
        ));
    }
    Ok(())
}

/// The stored name of `name` in `scope`.
fn stored_name(scope: KvScope, owner: &str, name: &str) -> String {
    match scope {
        KvScope::System => name.to_owned(),
        KvScope::User => KvScope::user_key(owner, name),
    }
}

/// Filters of `GET /keys`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct KeyListQuery {
    /// Only names starting with this.
    prefix: Option<String>,
    /// `system` (default), `user` or `all`.
    scope: Option<String>,
    /// Show secrets in clear (see the module rules).
    #[serde(default)]
    decrypt: bool,
    /// Owner of user-scoped keys (administrators only; default: the caller).
    user: Option<String>,
    /// Page size (default 100, max 1000, -1 for all: administrators only).
    limit: Option<i64>,
    /// Records to skip.
    offset: Option<usize>,
}

/// Query of the single-key endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct KeyQuery {
    /// `system` (default) or `user`.
    scope: Option<String>,
    /// Show a secret in clear (see the module rules).
    #[serde(default)]
    decrypt: bool,
    /// Owner of a user-scoped key (administrators only; default: the caller).
    user: Option<String>,
}

/// Key-value pairs in name order (system before user).
#[utoipa::path(
    get,
    path = "/api/v1/keys",
    tag = "keys",
    params(KeyListQuery),
    responses(
        (status = 200, description = "Pairs, secrets masked unless decrypted", body = [KeyDto]),
        (status = 400, description = "Bad scope", body = Fault),
        (status = 403, description = "Not allowed to decrypt", body = Fault)
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<KeyListQuery>,
) -> AppResult<Paged<KeyDto>> {
    let paging = Paging::new(query.limit, query.offset, &caller)?;
    let scopes = parse_scope(query.scope.as_deref(), true)?;
    let owner = owner(&caller, query.user.as_deref())?;
    check_decrypt(&caller, query.decrypt, scopes, &owner)?;
    let prefix = query.prefix.unwrap_or_default();
    let kv = state.store.kv();
    let mut pairs: Vec<KvPair> = Vec::new();
    let wanted = match scopes {
        Scopes::One(scope) => vec![scope],
        Scopes::All => vec![KvScope::System, KvScope::User],
    };
    for scope in wanted {
        let filter = KvFilter {
            scope: Some(scope),
            prefix: stored_name(scope, &owner, &prefix),
            decrypt: query.decrypt,
            limit: None,
            offset: 0,
        };
        pairs.extend(kv.list(&filter)?.items);
    }
    let keys: Vec<KeyDto> = pairs
        .into_iter()
        .map(|pair| KeyDto::from_pair(pair, query.decrypt))
        .collect();
    Ok(paging.slice(keys))
}

/// One pair.
#[utoipa::path(
    get,
    path = "/api/v1/keys/{name}",
    tag = "keys",
    params(("name" = String, Path, description = "Key name"), KeyQuery),
    responses(
        (status = 200, description = "The pair, masked unless decrypted", body = KeyDto),
        (status = 403, description = "Not allowed to decrypt", body = Fault),
        (status = 404, description = "No such key", body = Fault)
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<KeyQuery>,
) -> AppResult<Json<KeyDto>> {
    let scopes = parse_scope(query.scope.as_deref(), false)?;
    let Scopes::One(scope) = scopes else {
        return Err(AppError::bad_request("give `scope=system` or `scope=user`"));
    };
    let owner = owner(&caller, query.user.as_deref())?;
    check_decrypt(&caller, query.decrypt, scopes, &owner)?;
    let pair = state
        .store
        .kv()
        .get(scope, &stored_name(scope, &owner, &name), query.decrypt)?
        .ok_or_else(|| AppError::not_found("key", &name))?;
    Ok(Json(KeyDto::from_pair(pair, query.decrypt)))
}

/// Sets a pair (creating or replacing it).
#[utoipa::path(
    put,
    path = "/api/v1/keys/{name}",
    tag = "keys",
    params(("name" = String, Path, description = "Key name")),
    request_body = KeySetBody,
    responses(
        (status = 200, description = "The pair as stored (masked if secret)", body = KeyDto),
        (status = 400, description = "Bad name, scope or body", body = Fault)
    )
)]
pub(crate) async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<KeySetBody>,
) -> AppResult<Json<KeyDto>> {
    let Scopes::One(scope) = parse_scope(body.scope.as_deref(), false)? else {
        return Err(AppError::bad_request("give `scope` `system` or `user`"));
    };
    let owner = owner(&caller, body.user.as_deref())?;
    let write = KvWrite {
        scope,
        name: stored_name(scope, &owner, &name),
        value: body.value,
        secret: body.secret,
        ttl_seconds: body.ttl,
    };
    let outcome = state.store.kv().set(&write).await?;
    state.platform.key_set(&outcome).await;
    Ok(Json(KeyDto::from_pair(outcome.new, false)))
}

/// Deletes a pair.
#[utoipa::path(
    delete,
    path = "/api/v1/keys/{name}",
    tag = "keys",
    params(("name" = String, Path, description = "Key name"), KeyQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such key", body = Fault)
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<KeyQuery>,
) -> AppResult<StatusCode> {
    let Scopes::One(scope) = parse_scope(query.scope.as_deref(), false)? else {
        return Err(AppError::bad_request("give `scope=system` or `scope=user`"));
    };
    let owner = owner(&caller, query.user.as_deref())?;
    match state
        .store
        .kv()
        .delete(scope, &stored_name(scope, &owner, &name))
        .await?
    {
        Some(old) => {
            state.platform.key_deleted(&old).await;
            Ok(StatusCode::NO_CONTENT)
        }
        None => Err(AppError::not_found("key", &name)),
    }
}
