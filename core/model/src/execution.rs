//! Executions: one run of an action, its status history and result (StackStorm's
//! `ActionExecutionDB` + `LiveActionDB`, merged).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where an execution is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionStatus {
    /// Recorded, waiting for the scheduler.
    Requested,
    /// Policies passed; waiting for a worker.
    Scheduled,
    /// Held back by a concurrency policy.
    Delayed,
    /// A worker is running it.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Finished unsuccessfully.
    Failed,
    /// Killed after its timeout.
    Timeout,
    /// Cancel requested; the process is being stopped.
    Canceling,
    /// Stopped on request.
    Canceled,
    /// Lost: its worker went away mid-run.
    Abandoned,
    /// A workflow asked to pause, waiting for its running tasks to finish.
    Pausing,
    /// A workflow waiting to be resumed.
    Paused,
    /// Waiting for a human answer (inquiry).
    Pending,
}

impl ExecutionStatus {
    /// Every status, in life-cycle order.
    pub const ALL: [ExecutionStatus; 13] = [
        Self::Requested,
        Self::Scheduled,
        Self::Delayed,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Timeout,
        Self::Canceling,
        Self::Canceled,
        Self::Abandoned,
        Self::Pausing,
        Self::Paused,
        Self::Pending,
    ];

    /// StackStorm's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Scheduled => "scheduled",
            Self::Delayed => "delayed",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Canceling => "canceling",
            Self::Canceled => "canceled",
            Self::Abandoned => "abandoned",
            Self::Pausing => "pausing",
            Self::Paused => "paused",
            Self::Pending => "pending",
        }
    }

    /// Parses StackStorm's name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Finished: nothing will change it again (succeeded, failed, timeout, canceled, abandoned).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Timeout | Self::Canceled | Self::Abandoned
        )
    }

    /// Finished unsuccessfully (failed, timeout, abandoned), as StackStorm counts failures.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Timeout | Self::Abandoned)
    }

    /// Can still be canceled.
    pub fn is_cancelable(self) -> bool {
        matches!(
            self,
            Self::Requested
                | Self::Scheduled
                | Self::Delayed
                | Self::Running
                | Self::Pausing
                | Self::Paused
                | Self::Pending
        )
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One status change, kept in the execution's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The new status.
    pub status: ExecutionStatus,
    /// When (RFC 3339, UTC).
    pub timestamp: String,
}

/// What caused an execution (StackStorm's `context`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExecutionContext {
    /// Who asked: the API user, or `stanley`-like system user for rules.
    #[serde(default)]
    pub user: String,
    /// The trigger instance that fired the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_instance: Option<String>,
    /// The rule that fired, `pack.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Trace id shared by everything one event caused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// User-visible trace tag (`St2-Trace-Tag`, `--trace-tag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_tag: Option<String>,
    /// Parent execution (workflows, re-runs keep their own link in `rerun_of`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The execution this one re-runs or retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<String>,
    /// Retry attempt number under an `action.retry` policy (0 for the first run).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retry_attempt: u32,
    /// Anything else (kept as given).
    #[serde(default, skip_serializing_if = "Map::is_empty", flatten)]
    pub extra: Map<String, Value>,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// An execution of an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// Unique id (sortable by creation time).
    pub id: String,
    /// The action ref.
    pub action: String,
    /// The runner name.
    pub runner: String,
    /// Parameters as requested (secrets in clear: mask before showing).
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// Current status.
    pub status: ExecutionStatus,
    /// The result, StackStorm-shaped per runner; `None` until finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Why it ended this way, in plain words (timeout, cancel, policy, worker lost, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What caused it.
    #[serde(default)]
    pub context: ExecutionContext,
    /// When it was requested (RFC 3339, UTC).
    pub start_timestamp: String,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<String>,
    /// Status history.
    #[serde(default)]
    pub log: Vec<StatusChange>,
    /// Child executions (workflow tasks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<String>,
    /// The worker node that ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

/// One line an execution wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputLine {
    /// The execution.
    pub execution_id: String,
    /// Sequence number within the execution, from 0.
    pub seq: u64,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// The line without its newline.
    pub data: String,
    /// When it was read (RFC 3339, UTC).
    pub timestamp: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for status in ExecutionStatus::ALL {
            assert_eq!(ExecutionStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{status}\""));
        }
        assert!(ExecutionStatus::Timeout.is_final() && ExecutionStatus::Timeout.is_failure());
        assert!(!ExecutionStatus::Running.is_final());
        assert!(ExecutionStatus::Delayed.is_cancelable());
    }
}
