//! Record counts for `/metrics`: executions by status in one pass that reads only each record's
//! status, and the number of events and enforcements from their trees' keys. The listings'
//! totals would decode every record, once per status asked.

use nerve_model::ExecutionStatus;
use serde::Deserialize;

use crate::{Result, Store};

/// How many records the store holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordCounts {
    /// Executions by status, every status of [`ExecutionStatus::ALL`] in that order.
    pub executions: Vec<(ExecutionStatus, usize)>,
    /// Trigger instances (events).
    pub trigger_instances: usize,
    /// Rule enforcements.
    pub enforcements: usize,
}

/// The one field of a stored execution the count needs; the parser skips the rest.
#[derive(Deserialize)]
struct StatusView {
    execution: StatusOnly,
}

#[derive(Deserialize)]
struct StatusOnly {
    status: ExecutionStatus,
}

impl Store {
    /// Counts the records (see the module docs): linear in the store's size, but one pass that
    /// builds nothing per record.
    ///
    /// # Errors
    ///
    /// Database errors and [`crate::StoreError::Corrupt`].
    pub fn record_counts(&self) -> Result<RecordCounts> {
        let trees = &self.inner.trees;
        let mut executions: Vec<(ExecutionStatus, usize)> = ExecutionStatus::ALL
            .iter()
            .map(|status| (*status, 0))
            .collect();
        for entry in trees.executions.scan_prefix(&[]) {
            let (key, bytes) = entry?;
            let view: StatusView = trees.executions.decode(&key, &bytes)?;
            if let Some((_, count)) = executions
                .iter_mut()
                .find(|(status, _)| *status == view.execution.status)
            {
                *count += 1;
            }
        }
        Ok(RecordCounts {
            executions,
            trigger_instances: trees.trigger_instances.len(),
            enforcements: trees.enforcements.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use nerve_model::{Execution, ExecutionContext, ExecutionStatus};

    use crate::test_support::temp_store;

    fn execution(id: &str) -> Execution {
        Execution {
            id: id.to_owned(),
            action: "core.noop".into(),
            runner: "noop".into(),
            parameters: serde_json::Map::new(),
            status: ExecutionStatus::Scheduled,
            result: None,
            reason: None,
            context: ExecutionContext::default(),
            start_timestamp: crate::timestamp(chrono::Utc::now()),
            end_timestamp: None,
            log: Vec::new(),
            children: Vec::new(),
            worker: None,
        }
    }

    #[tokio::test]
    async fn counts_executions_by_status() {
        let (_dir, store) = temp_store();
        let ids: Vec<String> = (0..3).map(|_| crate::new_id()).collect();
        for id in &ids {
            store.create_execution(&execution(id)).await.unwrap();
        }
        store
            .transition(&ids[0], ExecutionStatus::Running, None, None)
            .await
            .unwrap();
        store
            .transition(&ids[0], ExecutionStatus::Succeeded, None, None)
            .await
            .unwrap();
        let counts = store.record_counts().unwrap();
        let count = |wanted: ExecutionStatus| {
            counts
                .executions
                .iter()
                .find(|(status, _)| *status == wanted)
                .map(|(_, count)| *count)
        };
        assert_eq!(count(ExecutionStatus::Scheduled), Some(2));
        assert_eq!(count(ExecutionStatus::Succeeded), Some(1));
        assert_eq!(count(ExecutionStatus::Failed), Some(0));
        assert_eq!(counts.executions.len(), ExecutionStatus::ALL.len());
        assert_eq!((counts.trigger_instances, counts.enforcements), (0, 0));
    }
}
