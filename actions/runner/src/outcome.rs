//! What a run ends as: a final status, the StackStorm-shaped result and a human reason.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The final status of a run (the subset of execution statuses a runner can end in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RunStatus {
    /// The action did what it was asked.
    #[serde(rename = "succeeded")]
    Succeeded,
    /// The action ran and failed (non-zero exit, `(False, …)`, HTTP error status, could not
    /// start, …).
    #[serde(rename = "failed")]
    Failed,
    /// Nerve stopped it because its timeout elapsed.
    #[serde(rename = "timeout")]
    TimedOut,
    /// Nerve stopped it because it was cancelled.
    #[serde(rename = "canceled")]
    Canceled,
    /// Something outside Nerve terminated it with SIGTERM (StackStorm's `-15` rule).
    #[serde(rename = "abandoned")]
    Abandoned,
}

impl RunStatus {
    /// StackStorm's status string (`succeeded`, `failed`, `timeout`, `canceled`, `abandoned`).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timeout",
            RunStatus::Canceled => "canceled",
            RunStatus::Abandoned => "abandoned",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    /// Final status.
    pub status: RunStatus,
    /// The result in the runner's StackStorm shape (e.g. `{succeeded, failed, return_code,
    /// stdout, stderr}` for shell runners).
    pub result: Value,
    /// Why the run did not succeed, in one line for people; `None` on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl RunOutcome {
    /// A successful outcome.
    pub fn succeeded(result: Value) -> Self {
        Self {
            status: RunStatus::Succeeded,
            result,
            reason: None,
        }
    }

    /// A failed outcome with `{"error": reason}` as its result.
    pub fn failed(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self {
            status: RunStatus::Failed,
            result: serde_json::json!({ "error": reason }),
            reason: Some(reason),
        }
    }
}
