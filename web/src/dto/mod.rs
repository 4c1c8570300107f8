//! The JSON wire shapes (DTOs) of the API, shaped after StackStorm's, and their conversions from
//! model and store types. Shared by the server (serialize) and the client (deserialize).
//!
//! Conversions here never reveal secrets: executions are masked by the caller through
//! [`ExecutionDto::from_execution`], key-value pairs arrive masked from the store unless the
//! handler asked it to decrypt.

mod action;
mod common;
mod enforcement;
mod execution;
mod inquiry;
mod key;
mod pack;
mod rule;
mod sensor;
mod trace;
mod trigger;

pub use action::{ActionDto, ActionParametersDto};
pub use common::{
    ApiKeyCreateBody, DisableRuleBody, Fault, HealthDto, IdDto, RefDto, RegisterPackBody,
    RerunBody, RunBody, VersionDto, WebhookBody,
};
pub use enforcement::EnforcementDto;
pub use execution::{ExecutionActionDto, ExecutionDto, OutputLineDto, Secrets, StatusChangeDto};
pub use inquiry::{InquiryDto, InquiryResponseBody};
pub use key::{KeyDto, KeySetBody};
pub use pack::{PackDto, PackRegistrationDto};
pub use rule::RuleDto;
pub use sensor::{SensorExitDto, SensorLogLineDto, SensorStatusDto, SensorTypeDto};
pub use trace::{TraceComponentDto, TraceDto};
pub use trigger::{TriggerDto, TriggerInstanceDto, TriggerTypeDto};
