//! The execution life cycle: which status changes are legal.
//!
//! Final statuses (succeeded, failed, timeout, canceled, abandoned) never change again. Setting
//! the current status again is a no-op, so a redelivered status message is harmless.

use nerve_model::ExecutionStatus;

/// Whether an execution may go from `from` to `to` (`from != to`).
pub fn is_legal_transition(from: ExecutionStatus, to: ExecutionStatus) -> bool {
    use ExecutionStatus::{
        Abandoned, Canceled, Canceling, Delayed, Failed, Paused, Pausing, Pending, Requested,
        Running, Scheduled, Succeeded, Timeout,
    };
    if from.is_final() || from == to {
        return false;
    }
    match to {
        // Back to the queue only after a policy delay.
        Requested => from == Delayed,
        Scheduled => matches!(from, Requested | Delayed),
        Delayed => matches!(from, Requested | Scheduled),
        Running => matches!(from, Requested | Scheduled | Pausing | Paused | Pending),
        Pausing | Pending => from == Running,
        Paused => matches!(from, Running | Pausing),
        Canceling => from.is_cancelable(),
        Succeeded => matches!(from, Running | Pausing | Paused | Pending | Canceling),
        // A worker can time out or fail anything not finished; losing the worker abandons it.
        Failed | Timeout | Canceled | Abandoned => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExecutionStatus as S;

    #[test]
    fn final_statuses_never_change() {
        for from in S::ALL.into_iter().filter(|s| s.is_final()) {
            for to in S::ALL {
                assert!(!is_legal_transition(from, to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn the_usual_paths_are_legal() {
        let paths: &[&[S]] = &[
            &[S::Requested, S::Scheduled, S::Running, S::Succeeded],
            &[
                S::Requested,
                S::Delayed,
                S::Requested,
                S::Scheduled,
                S::Running,
                S::Timeout,
            ],
            &[
                S::Requested,
                S::Scheduled,
                S::Running,
                S::Canceling,
                S::Canceled,
            ],
            &[S::Running, S::Paused, S::Running, S::Failed],
            &[S::Running, S::Pausing, S::Paused, S::Canceling, S::Canceled],
            &[S::Running, S::Pausing, S::Running, S::Succeeded],
            &[S::Scheduled, S::Abandoned],
        ];
        for path in paths {
            for pair in path.windows(2) {
                assert!(
                    is_legal_transition(pair[0], pair[1]),
                    "{} -> {}",
                    pair[0],
                    pair[1]
                );
            }
        }
    }

    #[test]
    fn some_paths_are_not() {
        for (from, to) in [
            (S::Running, S::Requested),
            (S::Running, S::Scheduled),
            (S::Requested, S::Succeeded),
            (S::Canceling, S::Running),
            (S::Scheduled, S::Paused),
            (S::Paused, S::Pausing),
            (S::Scheduled, S::Pausing),
            (S::Running, S::Running),
        ] {
            assert!(!is_legal_transition(from, to), "{from} -> {to}");
        }
    }
}
