//! Test environment: a temp data dir, the in-process bus, the built-in and fixture packs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nerve_bus::InProcessBus;
use nerve_engine::{Engine, EngineConfig};
use nerve_model::Execution;
use nerve_store::{Store, StoreOptions};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub const DEADLINE: Duration = Duration::from_secs(30);

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub struct TestEnv {
    pub engine: Engine,
    pub store: Store,
    pub dir: tempfile::TempDir,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl TestEnv {
    /// Core pack plus the given extra pack directories.
    pub async fn start(extra: &[PathBuf]) -> TestEnv {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, extra).await
    }

    pub async fn start_in(dir: tempfile::TempDir, extra: &[PathBuf]) -> TestEnv {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let mut dirs = vec![repo().join("packs/core")];
        dirs.extend_from_slice(extra);
        let (packs, failed) = nerve_packs::load_packs(&dirs, &[]);
        assert!(failed.is_empty(), "{failed:#?}");
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let config = EngineConfig {
            base_env: vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())],
            kill_grace: Duration::from_secs(2),
            ..EngineConfig::default()
        };
        let engine = Engine::start(
            config,
            store.clone(),
            Arc::new(InProcessBus::new()),
            packs.into_iter().map(|p| (p, "test".to_owned())).collect(),
            cancel.clone(),
            tasks.clone(),
        )
        .await
        .unwrap();
        TestEnv {
            engine,
            store,
            dir,
            cancel,
            tasks,
        }
    }

    /// Stops the engine's tasks and returns the data dir for a restart.
    pub async fn stop(self) -> tempfile::TempDir {
        self.cancel.cancel();
        self.tasks.close();
        let _ = tokio::time::timeout(DEADLINE, self.tasks.wait()).await;
        drop(self.engine);
        drop(self.store);
        self.dir
    }

    /// Waits until `id` satisfies `done`, following the store's change feed.
    pub async fn wait_for_execution(
        &self,
        id: &str,
        done: impl Fn(&Execution) -> bool,
    ) -> Execution {
        let mut changes = self.store.subscribe();
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Some(execution) = self.store.get_execution(id).unwrap()
                && done(&execution)
            {
                return execution;
            }
            match tokio::time::timeout_at(deadline, changes.recv()).await {
                Ok(_) => {}
                Err(_) => panic!(
                    "execution {id} did not reach the expected state in {DEADLINE:?}: {:#?}",
                    self.store.get_execution(id).unwrap()
                ),
            }
        }
    }

    /// Waits until `count` executions satisfy `done`; returns them.
    pub async fn wait_for_executions(
        &self,
        count: usize,
        done: impl Fn(&Execution) -> bool,
    ) -> Vec<Execution> {
        let mut changes = self.store.subscribe();
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let all = self.all_executions();
            let matching: Vec<Execution> = all.into_iter().filter(|e| done(e)).collect();
            if matching.len() >= count {
                return matching;
            }
            if tokio::time::timeout_at(deadline, changes.recv())
                .await
                .is_err()
            {
                panic!(
                    "only {} of {count} executions reached the expected state: {:#?}",
                    matching.len(),
                    self.all_executions()
                );
            }
        }
    }

    pub fn all_executions(&self) -> Vec<Execution> {
        self.store
            .list_executions(&nerve_store::ExecutionFilter::default())
            .unwrap()
            .items
            .into_iter()
            .map(|r| r.execution)
            .collect()
    }

    pub fn stdout(&self, id: &str) -> String {
        self.store
            .output(id, 0, 10_000)
            .unwrap()
            .into_iter()
            .filter(|line| line.stream == "stdout")
            .map(|line| line.data + "\n")
            .collect()
    }
}

pub fn params(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    value.as_object().cloned().unwrap()
}

pub fn fixture_pack(name: &str) -> PathBuf {
    repo().join("tests/fixtures/packs").join(name)
}
