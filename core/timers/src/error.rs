//! Why timer parameters were rejected.
//!
//! Every message names the parameter (or cron field) and the offending value, so the
//! operator can fix the rule or trigger without reading code.
//! Messages follow the workspace style: lowercase, names in backticks, no trailing period.

use std::fmt;

/// Why a timer's `parameters` could not be turned into a [`Schedule`](crate::Schedule).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The trigger type is not one of the three timer types.
    #[error(
        "`{trigger_type}` is not a timer trigger type (expected `core.st2.IntervalTimer`, \
         `core.st2.DateTimer` or `core.st2.CronTimer`)"
    )]
    UnknownTriggerType {
        /// The trigger type reference that was given.
        trigger_type: String,
    },
    /// The parameters are not a JSON object.
    #[error("timer parameters must be a JSON object, not {found}")]
    ParametersNotObject {
        /// The JSON type that was given instead.
        found: &'static str,
    },
    /// A parameter that the trigger type does not define (`additionalProperties: false`).
    #[error("`{parameter}` is not a parameter of `{trigger_type}`")]
    UnknownParameter {
        /// The trigger type reference.
        trigger_type: &'static str,
        /// The unexpected parameter name.
        parameter: String,
    },
    /// A required parameter is absent (or `null`).
    #[error("`{parameter}` is required for `{trigger_type}`")]
    MissingParameter {
        /// The trigger type reference.
        trigger_type: &'static str,
        /// The missing parameter name.
        parameter: &'static str,
    },
    /// A parameter has the wrong JSON type.
    #[error("`{parameter}`: expected {expected}, got {found}")]
    WrongType {
        /// The parameter name.
        parameter: &'static str,
        /// What the parameter must be.
        expected: &'static str,
        /// A short description of the value that was given.
        found: String,
    },
    /// `timezone` is not an IANA time zone name.
    #[error(
        "`timezone`: unknown time zone `{timezone}` (expected an IANA name such as `UTC` or \
         `Europe/Berlin`)"
    )]
    UnknownTimezone {
        /// The name that was given.
        timezone: String,
    },
    /// `unit` of an interval timer is not one of the allowed units.
    #[error("`unit`: `{unit}` is not one of weeks, days, hours, minutes, seconds")]
    UnknownUnit {
        /// The unit that was given.
        unit: String,
    },
    /// `delta` of an interval timer is zero or negative.
    #[error("`delta`: {delta} is not allowed; the interval must be at least 1 {unit}")]
    DeltaTooSmall {
        /// The delta that was given.
        delta: i64,
        /// The unit it applies to.
        unit: &'static str,
    },
    /// `delta` × `unit` is too long to represent.
    #[error("`delta`: {delta} {unit} is too long an interval")]
    DeltaTooLarge {
        /// The delta that was given.
        delta: u64,
        /// The unit it applies to.
        unit: &'static str,
    },
    /// `date` of a date timer cannot be read.
    #[error(
        "`date`: cannot read `{date}` as a date-time: {reason} (expected e.g. \
         `2014-12-31 23:59:59`, `2014-12-31T23:59:59.250`, `2014-12-31 23:59:59+01:00` or \
         `2014-12-31T22:59:59Z`)"
    )]
    InvalidDate {
        /// The text that was given.
        date: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// One expression of a cron field is invalid.
    #[error("`{field}`: `{expression}` {problem}")]
    InvalidCronField {
        /// The cron field (`year`, `month`, `day`, `week`, `day_of_week`, `hour`, `minute`,
        /// `second`).
        field: &'static str,
        /// The offending expression (one item of a comma-separated list).
        expression: String,
        /// What is wrong with it.
        problem: CronProblem,
    },
}

/// What is wrong with one cron field expression; see [`ScheduleError::InvalidCronField`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CronProblem {
    /// The expression (or one item of the list) is empty.
    Empty,
    /// The expression matches none of the forms the field accepts.
    Unrecognized {
        /// The forms the field accepts.
        expected: &'static str,
    },
    /// A value lies outside the field's range.
    OutOfRange {
        /// The smallest value the field accepts.
        min: u32,
        /// The largest value the field accepts.
        max: u32,
    },
    /// A range whose start is after its end (`5-3`, `fri-mon`); wrap-around is not supported.
    ReversedRange,
    /// A step of zero (`*/0`).
    ZeroStep,
    /// A step larger than the span it steps over (`*/60` for minutes), which APScheduler
    /// rejects as well.
    StepTooLarge {
        /// The step that was given.
        step: u32,
        /// The span of the stepped range.
        span: u32,
    },
    /// An unknown month or weekday name.
    UnknownName {
        /// The names the field accepts.
        expected: &'static str,
    },
}

impl fmt::Display for CronProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("is empty"),
            Self::Unrecognized { expected } => {
                write!(f, "is not a valid expression (expected {expected})")
            }
            Self::OutOfRange { min, max } => write!(f, "is out of range {min}-{max}"),
            Self::ReversedRange => f.write_str(
                "is a range whose start is after its end (wrap-around ranges are not supported)",
            ),
            Self::ZeroStep => f.write_str("has a step of 0 (the step must be at least 1)"),
            Self::StepTooLarge { step, span } => write!(
                f,
                "has a step of {step}, larger than the span of its range ({span})"
            ),
            Self::UnknownName { expected } => {
                write!(f, "uses an unknown name (expected {expected})")
            }
        }
    }
}
