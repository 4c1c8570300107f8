//! The fake ALMA archive: execution blocks (ASDMs) with their QA0 status and calibration
//! status, and MOUS calibrations, served as the `alma` pack's sensors and action expect
//! (`reference/nrao.md` B6).
//!
//! | Method and path | What |
//! |---|---|
//! | `GET /api/v1/execblocks?qa0_status=&updated_since=&limit=&page_token=` | a page ordered by `(status_time, asdm_uid)`, `{items, next_page_token}` |
//! | `GET /api/v1/execblocks/{uid}` | one execution block |
//! | `PUT /api/v1/execblocks/{uid}/calibration-status` | `{calibration_status, reason, comment?}`: 200 `{changed}`, 404, 409 when `Calibrated` |
//! | `GET /api/v1/calibrations?delivered_since=&limit=&page_token=` | a page ordered by `(delivered_at, mous_uid)` |
//! | `POST /_test/seed` | `{execblocks: [...], calibrations: [...]}`: add or replace rows |
//! | `POST /_test/demo` | the demo rows (real identifiers from `nrao.md` A6), dated just before now |
//! | `POST /_test/faults` | `{outage?, faults?}` (see [`crate::FaultSettings`]) |
//! | `POST /_test/clock` | `{now: RFC 3339 \| null}` or `{advance_s}`: the archive's "now" |
//! | `GET /_test/stats` | counts of rows and requests |
//!
//! It keeps no history of QA0 changes: re-seeding a row replaces it (a restated QA0 status has a
//! new `status_time`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::{self, Faults};
use crate::{Problem, error, lock, parse_time, rfc3339};

#[cfg(test)]
mod tests;

/// Calibration statuses an execution block can have (`execution_blocks.calibration_status`;
/// `DoNotCalibrate` is ours, `nrao.md` A3).
pub const CALIBRATION_STATUSES: [&str; 4] = ["Unknown", "Ready", "Calibrated", "DoNotCalibrate"];

/// One execution block as the archive keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecBlock {
    /// `uid://A002/X.../X...`.
    pub asdm_uid: String,
    /// The member OUS.
    pub mous_uid: Option<String>,
    /// `YYYY.C.NNNNN.Z`.
    pub project_code: String,
    /// `Pass`, `SemiPass`, `Fail`, `Unset`, ...
    pub qa0_status: String,
    /// When the QA0 status was set.
    pub status_time: DateTime<Utc>,
    /// End of the observation.
    pub end_time: DateTime<Utc>,
    /// Receiver band.
    pub band: Option<u8>,
    /// `12m`, `7m`, `TP`.
    pub array: Option<String>,
    /// Size of the ASDM.
    pub size_bytes: Option<u64>,
    /// `Unknown`, `Ready`, `Calibrated`, `DoNotCalibrate`.
    pub calibration_status: String,
    /// Why it was last set through the API, and the comment given.
    pub calibration_note: Option<(String, Option<String>)>,
}

/// One MOUS calibration delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// The member OUS.
    pub mous_uid: String,
    /// Project code.
    pub project_code: String,
    /// The execution blocks it calibrates.
    pub asdm_uids: Vec<String>,
    /// When its products were delivered.
    pub delivered_at: DateTime<Utc>,
    /// CASA version used.
    pub casa_version: Option<String>,
    /// Product files.
    pub product_file_count: u64,
    /// Science images were archived (`FILE_CLASS='science'`).
    pub has_science_products: bool,
    /// A `scriptFor%Cal%` file: calibrated by hand.
    pub manual_calibration_script: bool,
}

/// An execution block as seeded: times default to the archive's now.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecBlockSeed {
    asdm_uid: String,
    #[serde(default)]
    mous_uid: Option<String>,
    project_code: String,
    #[serde(default = "pass")]
    qa0_status: String,
    #[serde(default)]
    status_time: Option<String>,
    #[serde(default)]
    end_time: Option<String>,
    #[serde(default)]
    band: Option<u8>,
    #[serde(default)]
    array: Option<String>,
    #[serde(default)]
    size_bytes: Option<u64>,
    #[serde(default = "ready")]
    calibration_status: String,
}

fn pass() -> String {
    "Pass".to_owned()
}

fn ready() -> String {
    "Ready".to_owned()
}

/// A calibration as seeded: `delivered_at` defaults to the archive's now.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationSeed {
    mous_uid: String,
    project_code: String,
    asdm_uids: Vec<String>,
    #[serde(default)]
    delivered_at: Option<String>,
    #[serde(default)]
    casa_version: Option<String>,
    #[serde(default)]
    product_file_count: u64,
    #[serde(default = "yes")]
    has_science_products: bool,
    #[serde(default)]
    manual_calibration_script: bool,
}

fn yes() -> bool {
    true
}

/// Body of `POST /_test/seed`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Execution blocks to add or replace.
    #[serde(default)]
    pub execblocks: Vec<ExecBlockSeed>,
    /// Calibrations to add or replace.
    #[serde(default)]
    pub calibrations: Vec<CalibrationSeed>,
}

/// The archive's state.
#[derive(Debug, Default)]
pub struct Archive {
    state: Mutex<ArchiveState>,
    /// Injected faults.
    pub faults: Arc<Faults>,
}

#[derive(Debug, Default)]
struct ArchiveState {
    execblocks: BTreeMap<String, ExecBlock>,
    calibrations: BTreeMap<String, Calibration>,
    /// A fixed "now" (`None`: the wall clock).
    clock: Option<DateTime<Utc>>,
    stats: Stats,
}

#[derive(Debug, Default)]
struct Stats {
    execblock_pages: u64,
    calibration_pages: u64,
    execblock_gets: u64,
    status_updates: u64,
    status_changes: u64,
    status_conflicts: u64,
}

impl Archive {
    /// An empty archive.
    pub fn new() -> Arc<Archive> {
        Arc::new(Archive::default())
    }

    /// The archive's now.
    pub fn now(&self) -> DateTime<Utc> {
        lock(&self.state).clock.unwrap_or_else(Utc::now)
    }

    /// Adds or replaces rows.
    ///
    /// # Errors
    /// A row is invalid (bad time, unknown calibration status); nothing is added then.
    pub fn seed(&self, seed: Seed) -> Result<(usize, usize), String> {
        let mut state = lock(&self.state);
        let now = state.clock.unwrap_or_else(Utc::now);
        let mut execblocks = Vec::new();
        for row in seed.execblocks {
            let status_time = time_or(row.status_time.as_deref(), now, "status_time")?;
            let end_time = time_or(
                row.end_time.as_deref(),
                status_time - Duration::minutes(15),
                "end_time",
            )?;
            if !CALIBRATION_STATUSES.contains(&row.calibration_status.as_str()) {
                return Err(format!(
                    "`calibration_status` of `{}` must be one of {CALIBRATION_STATUSES:?}, not `{}`",
                    row.asdm_uid, row.calibration_status
                ));
            }
            execblocks.push(ExecBlock {
                asdm_uid: row.asdm_uid,
                mous_uid: row.mous_uid,
                project_code: row.project_code,
                qa0_status: row.qa0_status,
                status_time,
                end_time,
                band: row.band,
                array: row.array,
                size_bytes: row.size_bytes,
                calibration_status: row.calibration_status,
                calibration_note: None,
            });
        }
        let mut calibrations = Vec::new();
        for row in seed.calibrations {
            let delivered_at = time_or(row.delivered_at.as_deref(), now, "delivered_at")?;
            calibrations.push(Calibration {
                mous_uid: row.mous_uid,
                project_code: row.project_code,
                asdm_uids: row.asdm_uids,
                delivered_at,
                casa_version: row.casa_version,
                product_file_count: row.product_file_count,
                has_science_products: row.has_science_products,
                manual_calibration_script: row.manual_calibration_script,
            });
        }
        for eb in execblocks {
            state.execblocks.insert(eb.asdm_uid.clone(), eb);
        }
        for calibration in calibrations {
            state
                .calibrations
                .insert(calibration.mous_uid.clone(), calibration);
        }
        Ok((state.execblocks.len(), state.calibrations.len()))
    }

    /// One execution block.
    pub fn execblock(&self, uid: &str) -> Option<ExecBlock> {
        lock(&self.state).execblocks.get(uid).cloned()
    }

    /// The demo rows, dated relative to now.
    pub fn seed_demo(&self) {
        let now = self.now();
        if let Err(problem) = self.seed(demo_seed(now)) {
            unreachable!("the demo seed is valid: {problem}");
        }
    }
}

fn time_or(
    text: Option<&str>,
    default: DateTime<Utc>,
    field: &str,
) -> Result<DateTime<Utc>, String> {
    match text {
        None => Ok(default),
        Some(text) => parse_time(text)
            .ok_or_else(|| format!("`{field}` must be an RFC 3339 time, not `{text}`")),
    }
}

/// The fake archive's routes.
pub fn router(archive: Arc<Archive>) -> Router {
    let faults = archive.faults.clone();
    let routes = Router::new()
        .route("/api/v1/execblocks", get(list_execblocks))
        .route("/api/v1/execblocks/{uid}", get(get_execblock))
        .route(
            "/api/v1/execblocks/{uid}/calibration-status",
            put(set_calibration_status),
        )
        .route("/api/v1/calibrations", get(list_calibrations))
        .route("/_test/seed", post(seed))
        .route("/_test/demo", post(demo))
        .route("/_test/clock", post(set_clock))
        .route("/_test/stats", get(stats));
    faults::with_faults(routes, faults, archive)
}

/// Query of the list endpoints.
#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    qa0_status: Option<String>,
    #[serde(default)]
    updated_since: Option<String>,
    #[serde(default)]
    delivered_since: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    page_token: Option<String>,
}

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// The position after which a page starts: `<RFC 3339>|<id>`.
fn parse_token(token: Option<&str>) -> Result<Option<(DateTime<Utc>, String)>, Problem> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let parsed = token
        .split_once('|')
        .and_then(|(time, id)| Some((parse_time(time)?, id.to_owned())));
    parsed.map(Some).ok_or_else(|| {
        Problem(
            StatusCode::BAD_REQUEST,
            format!("`page_token` `{token}` is not one this archive gave out"),
        )
    })
}

fn since(text: Option<&str>, name: &str) -> Result<Option<DateTime<Utc>>, Problem> {
    match text {
        None | Some("") => Ok(None),
        Some(text) => parse_time(text).map(Some).ok_or_else(|| {
            Problem(
                StatusCode::BAD_REQUEST,
                format!(
                    "`{name}` must be an RFC 3339 time like `2024-05-01T12:00:00Z`, not `{text}`"
                ),
            )
        }),
    }
}

fn limit(limit: Option<usize>) -> Result<usize, Problem> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(Problem(
            StatusCode::BAD_REQUEST,
            format!("`limit` must be between 1 and {MAX_LIMIT}, not {n}"),
        )),
    }
}

/// Sorts `(key, item)` pairs, skips up to the token and cuts a page.
fn page(
    mut rows: Vec<((DateTime<Utc>, String), Value)>,
    after: Option<(DateTime<Utc>, String)>,
    limit: usize,
) -> Value {
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut rest: Vec<_> = rows
        .into_iter()
        .filter(|(key, _)| after.as_ref().is_none_or(|after| key > after))
        .take(limit + 1)
        .collect();
    let next = if rest.len() > limit {
        rest.truncate(limit);
        rest.last()
            .map(|((time, id), _)| format!("{}|{id}", rfc3339(*time)))
    } else {
        None
    };
    json!({
        "items": rest.into_iter().map(|(_, item)| item).collect::<Vec<_>>(),
        "next_page_token": next,
    })
}

fn execblock_json(eb: &ExecBlock) -> Value {
    json!({
        "asdm_uid": eb.asdm_uid,
        "mous_uid": eb.mous_uid,
        "project_code": eb.project_code,
        "qa0_status": eb.qa0_status,
        "status_time": rfc3339(eb.status_time),
        "end_time": rfc3339(eb.end_time),
        "band": eb.band,
        "array": eb.array,
        "size_bytes": eb.size_bytes,
        "calibration_status": eb.calibration_status,
    })
}

fn calibration_json(c: &Calibration) -> Value {
    json!({
        "mous_uid": c.mous_uid,
        "project_code": c.project_code,
        "asdm_uids": c.asdm_uids,
        "delivered_at": rfc3339(c.delivered_at),
        "casa_version": c.casa_version,
        "product_file_count": c.product_file_count,
        "has_science_products": c.has_science_products,
        "manual_calibration_script": c.manual_calibration_script,
    })
}

async fn list_execblocks(
    State(archive): State<Arc<Archive>>,
    Query(query): Query<ListQuery>,
) -> Response {
    let result = (|| {
        let since = since(query.updated_since.as_deref(), "updated_since")?;
        let limit = limit(query.limit)?;
        let after = parse_token(query.page_token.as_deref())?;
        let statuses: Option<Vec<&str>> = query
            .qa0_status
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| s.split(',').map(str::trim).collect());
        let mut state = lock(&archive.state);
        state.stats.execblock_pages += 1;
        let rows = state
            .execblocks
            .values()
            .filter(|eb| since.is_none_or(|since| eb.status_time >= since))
            .filter(|eb| {
                statuses
                    .as_ref()
                    .is_none_or(|s| s.contains(&eb.qa0_status.as_str()))
            })
            .map(|eb| ((eb.status_time, eb.asdm_uid.clone()), execblock_json(eb)))
            .collect();
        Ok::<_, Problem>(page(rows, after, limit))
    })();
    match result {
        Ok(body) => Json(body).into_response(),
        Err(problem) => problem.into_response(),
    }
}

async fn list_calibrations(
    State(archive): State<Arc<Archive>>,
    Query(query): Query<ListQuery>,
) -> Response {
    let result = (|| {
        let since = since(query.delivered_since.as_deref(), "delivered_since")?;
        let limit = limit(query.limit)?;
        let after = parse_token(query.page_token.as_deref())?;
        let mut state = lock(&archive.state);
        state.stats.calibration_pages += 1;
        let rows = state
            .calibrations
            .values()
            .filter(|c| since.is_none_or(|since| c.delivered_at >= since))
            .map(|c| ((c.delivered_at, c.mous_uid.clone()), calibration_json(c)))
            .collect();
        Ok::<_, Problem>(page(rows, after, limit))
    })();
    match result {
        Ok(body) => Json(body).into_response(),
        Err(problem) => problem.into_response(),
    }
}

async fn get_execblock(State(archive): State<Arc<Archive>>, Path(uid): Path<String>) -> Response {
    let mut state = lock(&archive.state);
    state.stats.execblock_gets += 1;
    match state.execblocks.get(&uid) {
        Some(eb) => Json(execblock_json(eb)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no execution block `{uid}` in the archive"),
        ),
    }
}

/// Body of `PUT .../calibration-status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusUpdate {
    calibration_status: String,
    reason: String,
    #[serde(default)]
    comment: Option<String>,
}

async fn set_calibration_status(
    State(archive): State<Arc<Archive>>,
    Path(uid): Path<String>,
    body: Result<Json<StatusUpdate>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(update)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "the body must be JSON `{\"calibration_status\": ..., \"reason\": ..., \"comment\": ...}`",
        );
    };
    if update.calibration_status == "Calibrated"
        || !CALIBRATION_STATUSES.contains(&update.calibration_status.as_str())
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "`calibration_status` can be set to Unknown, Ready or DoNotCalibrate, not `{}`",
                update.calibration_status
            ),
        );
    }
    if update.reason.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "`reason` must not be empty");
    }
    let mut state = lock(&archive.state);
    state.stats.status_updates += 1;
    let Some(eb) = state.execblocks.get_mut(&uid) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no execution block `{uid}` in the archive"),
        );
    };
    if eb.calibration_status == "Calibrated" {
        state.stats.status_conflicts += 1;
        return error(
            StatusCode::CONFLICT,
            format!("execution block `{uid}` is already Calibrated; its status is not changed"),
        );
    }
    let changed = eb.calibration_status != update.calibration_status;
    eb.calibration_status = update.calibration_status;
    eb.calibration_note = Some((update.reason.clone(), update.comment.clone()));
    let body = json!({
        "asdm_uid": uid,
        "calibration_status": eb.calibration_status,
        "reason": update.reason,
        "comment": update.comment,
        "changed": changed,
    });
    if changed {
        state.stats.status_changes += 1;
    }
    Json(body).into_response()
}

async fn seed(
    State(archive): State<Arc<Archive>>,
    body: Result<Json<Seed>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let seed = match body {
        Ok(Json(seed)) => seed,
        Err(rejection) => return error(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    match archive.seed(seed) {
        Ok((execblocks, calibrations)) => {
            Json(json!({"execblocks": execblocks, "calibrations": calibrations})).into_response()
        }
        Err(problem) => error(StatusCode::BAD_REQUEST, problem),
    }
}

async fn demo(State(archive): State<Arc<Archive>>) -> Response {
    archive.seed_demo();
    let state = lock(&archive.state);
    Json(json!({"execblocks": state.execblocks.len(), "calibrations": state.calibrations.len()}))
        .into_response()
}

/// Body of `POST /_test/clock`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockSetting {
    #[serde(default)]
    now: Option<String>,
    #[serde(default)]
    advance_s: Option<f64>,
}

async fn set_clock(
    State(archive): State<Arc<Archive>>,
    body: Result<Json<ClockSetting>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let setting = match body {
        Ok(Json(setting)) => setting,
        Err(rejection) => return error(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    let mut state = lock(&archive.state);
    match (setting.now.as_deref(), setting.advance_s) {
        (Some(text), None) => match parse_time(text) {
            Some(time) => state.clock = Some(time),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("`now` must be an RFC 3339 time, not `{text}`"),
                );
            }
        },
        (None, Some(seconds)) if seconds.is_finite() => {
            let base = state.clock.unwrap_or_else(Utc::now);
            #[allow(clippy::cast_possible_truncation)]
            let millis = (seconds * 1000.0) as i64;
            state.clock = Some(base + Duration::milliseconds(millis));
        }
        (None, None) => state.clock = None,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "give `now` (a time, or null for the wall clock) or `advance_s`, not both",
            );
        }
    }
    let now = state.clock.unwrap_or_else(Utc::now);
    Json(json!({"now": rfc3339(now), "fixed": state.clock.is_some()})).into_response()
}

async fn stats(State(archive): State<Arc<Archive>>) -> Response {
    let state = lock(&archive.state);
    let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
    for eb in state.execblocks.values() {
        *by_status.entry(eb.calibration_status.as_str()).or_default() += 1;
    }
    Json(json!({
        "execblocks": state.execblocks.len(),
        "calibrations": state.calibrations.len(),
        "calibration_status": by_status,
        "requests": {
            "execblock_pages": state.stats.execblock_pages,
            "calibration_pages": state.stats.calibration_pages,
            "execblock_gets": state.stats.execblock_gets,
            "status_updates": state.stats.status_updates,
            "status_changes": state.stats.status_changes,
            "status_conflicts": state.stats.status_conflicts,
        },
        "faults": archive.faults.snapshot(),
    }))
    .into_response()
}

/// The demo rows (`nrao.md` B6): real identifiers where known, invented ones marked in the
/// comments, dated a few minutes before `now`.
pub fn demo_seed(now: DateTime<Utc>) -> Seed {
    let at = |minutes: i64| Some(rfc3339(now - Duration::minutes(minutes)));
    let eb = |uid: &str,
              mous: &str,
              project: &str,
              qa0: &str,
              minutes: i64,
              band: u8,
              calibration: &str| {
        ExecBlockSeed {
            asdm_uid: uid.to_owned(),
            mous_uid: Some(mous.to_owned()),
            project_code: project.to_owned(),
            qa0_status: qa0.to_owned(),
            status_time: at(minutes),
            end_time: at(minutes + 14),
            band: Some(band),
            array: Some("12m".to_owned()),
            size_bytes: Some(48_213_456_789),
            calibration_status: calibration.to_owned(),
        }
    };
    let large = "2017.1.00886.L";
    let large_mous = "uid://A001/X1284/X265f";
    Seed {
        execblocks: vec![
            eb(
                "uid://A002/Xc7111c/X3979",
                large_mous,
                large,
                "Pass",
                50,
                6,
                "Ready",
            ),
            eb(
                "uid://A002/Xc7111c/X409e",
                large_mous,
                large,
                "Pass",
                45,
                6,
                "Ready",
            ),
            eb(
                "uid://A002/Xc7111c/X86a7",
                large_mous,
                large,
                "Pass",
                40,
                6,
                "Ready",
            ),
            eb(
                "uid://A002/Xc72427/X2dfe",
                large_mous,
                large,
                "SemiPass",
                35,
                6,
                "Ready",
            ),
            eb(
                "uid://A002/X1003af4/X75a3",
                "uid://A001/X3571/X130",
                "2022.A.00001.S",
                "Pass",
                30,
                3,
                "Ready",
            ),
            // Invented EB UID for a real project and MOUS; already calibrated.
            eb(
                "uid://A002/Xd0a1f3/X1b2c",
                "uid://A001/X133d/X169f",
                "2018.1.00879.S",
                "Pass",
                25,
                7,
                "Calibrated",
            ),
            // Invented project and UIDs: a SemiPass EB whose calibration was done by hand.
            eb(
                "uid://A002/Xe1234a/X5b7",
                "uid://A001/X1465/X2a0",
                "2019.1.01234.S",
                "SemiPass",
                20,
                6,
                "Ready",
            ),
            // A QA0 Fail: never offered for ingestion.
            eb(
                "uid://A002/Xe1234a/X5c1",
                "uid://A001/X1465/X2a0",
                "2019.1.01234.S",
                "Fail",
                15,
                6,
                "Ready",
            ),
        ],
        calibrations: vec![
            CalibrationSeed {
                mous_uid: large_mous.to_owned(),
                project_code: large.to_owned(),
                asdm_uids: vec![
                    "uid://A002/Xc7111c/X3979".to_owned(),
                    "uid://A002/Xc7111c/X409e".to_owned(),
                    "uid://A002/Xc7111c/X86a7".to_owned(),
                    "uid://A002/Xc72427/X2dfe".to_owned(),
                ],
                delivered_at: at(10),
                casa_version: Some("5.1.1-5".to_owned()),
                product_file_count: 57,
                has_science_products: true,
                manual_calibration_script: false,
            },
            CalibrationSeed {
                mous_uid: "uid://A001/X1465/X2a0".to_owned(),
                project_code: "2019.1.01234.S".to_owned(),
                asdm_uids: vec!["uid://A002/Xe1234a/X5b7".to_owned()],
                delivered_at: at(5),
                casa_version: Some("5.6.1-8".to_owned()),
                product_file_count: 12,
                has_science_products: true,
                manual_calibration_script: true,
            },
        ],
    }
}
