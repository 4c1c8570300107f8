//! `/api/v1/sensortypes`: sensor types with their status (state, pid, restarts, last error,
//! counts), restarting one, and the kept tail of its log.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::dto::{Fault, SensorLogLineDto, SensorTypeDto};
use crate::error::{ApiQuery, AppError, AppResult};
use crate::list::{Paged, Paging};
use crate::state::AppState;

/// Filters of the sensor type list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SensorQuery {
    /// Only this pack.
    pack: Option<String>,
    /// Page size (default 100, max 1000, -1 for all: administrators only).
    limit: Option<i64>,
    /// Records to skip.
    offset: Option<usize>,
}

/// How much of a sensor's log to return.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogQuery {
    /// Only the last `tail` lines (default: every kept line).
    tail: Option<usize>,
}

/// Sensor types with their status, in ref order.
#[utoipa::path(
    get,
    path = "/api/v1/sensortypes",
    tag = "sensors",
    params(SensorQuery),
    responses((status = 200, description = "Sensor types", body = [SensorTypeDto]))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SensorQuery>,
) -> AppResult<Paged<SensorTypeDto>> {
    let paging = Paging::new(query.limit, query.offset, &caller)?;
    let mut sensors: Vec<SensorTypeDto> = state
        .platform
        .sensors()
        .await?
        .into_iter()
        .filter(|view| {
            query
                .pack
                .as_ref()
                .is_none_or(|pack| &view.sensor.pack == pack)
        })
        .map(SensorTypeDto::from)
        .collect();
    sensors.sort_by(|a, b| a.reference.cmp(&b.reference));
    Ok(paging.slice(sensors))
}

/// One sensor type with its status.
#[utoipa::path(
    get,
    path = "/api/v1/sensortypes/{ref}",
    tag = "sensors",
    params(("ref" = String, Path, description = "Sensor ref, `pack.ClassName`")),
    responses(
        (status = 200, description = "The sensor type", body = SensorTypeDto),
        (status = 404, description = "No such sensor type", body = Fault)
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(sensor_ref): Path<String>,
) -> AppResult<Json<SensorTypeDto>> {
    state
        .platform
        .sensor(&sensor_ref)
        .await?
        .map(|view| Json(SensorTypeDto::from(view)))
        .ok_or_else(|| AppError::not_found("sensor", &sensor_ref))
}

/// Restarts a sensor now (also ending a wait in backoff). Answers with the status right after
/// asking; the new process shows up in the status shortly after (`restarts` + 1, a new `pid`).
#[utoipa::path(
    post,
    path = "/api/v1/sensortypes/{ref}/restart",
    tag = "sensors",
    params(("ref" = String, Path, description = "Sensor ref, `pack.ClassName`")),
    responses(
        (status = 200, description = "Restart asked; the sensor type", body = SensorTypeDto),
        (status = 404, description = "No such sensor type", body = Fault),
        (status = 409, description = "The sensor does not run (the message says why)", body = Fault)
    )
)]
pub(crate) async fn restart(
    State(state): State<AppState>,
    Path(sensor_ref): Path<String>,
) -> AppResult<Json<SensorTypeDto>> {
    let view = state.platform.restart_sensor(&sensor_ref).await?;
    Ok(Json(SensorTypeDto::from(view)))
}

/// The kept tail of a sensor's log (its stderr, protocol `log` messages and what the host
/// noted about it), oldest first. Empty for a sensor that does not run.
#[utoipa::path(
    get,
    path = "/api/v1/sensortypes/{ref}/logs",
    tag = "sensors",
    params(("ref" = String, Path, description = "Sensor ref, `pack.ClassName`"), LogQuery),
    responses(
        (status = 200, description = "Log lines, oldest first", body = [SensorLogLineDto]),
        (status = 404, description = "No such sensor type", body = Fault)
    )
)]
pub(crate) async fn logs(
    State(state): State<AppState>,
    Path(sensor_ref): Path<String>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> AppResult<Json<Vec<SensorLogLineDto>>> {
    let mut lines = state.platform.sensor_logs(&sensor_ref).await?;
    if let Some(tail) = query.tail {
        lines.drain(..lines.len().saturating_sub(tail));
    }
    Ok(Json(
        lines.into_iter().map(SensorLogLineDto::from).collect(),
    ))
}
