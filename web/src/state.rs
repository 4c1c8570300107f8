//! `AppState`: what every handler shares (store, platform, credentials, options, the shutdown
//! token that ends long-lived streams).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use nerve_store::Store;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::auth::Auth;
use crate::platform::Platform;
use crate::routes::stream::Prepared;
use crate::telemetry::Telemetry;

/// Runtime knobs of the HTTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Longest a request may take before it is answered with 408 (streams are exempt).
    /// Default: 120 s (pack registration of a large pack takes a while).
    pub request_timeout: Duration,
    /// Interval of SSE heartbeat comments. Default: 15 s.
    pub heartbeat: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(120),
            heartbeat: Duration::from_secs(15),
        }
    }
}

/// Shared state of the router. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The store (plain reads and key-value).
    pub store: Store,
    /// The running platform.
    pub platform: Arc<dyn Platform>,
    /// Accepted credentials.
    pub auth: Auth,
    /// Server options.
    pub options: ServerOptions,
    /// Cancelled at shutdown: ends SSE streams so graceful shutdown does not wait on them.
    pub(crate) shutdown: CancellationToken,
    /// Request latencies and open streams, for `/metrics`.
    pub(crate) telemetry: Arc<Telemetry>,
    /// The event streams' shared hub (started by the first stream).
    pub(crate) hub: Arc<OnceLock<broadcast::Sender<Arc<Prepared>>>>,
}

impl AppState {
    /// State with default options.
    pub fn new(store: Store, platform: Arc<dyn Platform>, auth: Auth) -> Self {
        Self {
            store,
            platform,
            auth,
            options: ServerOptions::default(),
            shutdown: CancellationToken::new(),
            telemetry: Arc::new(Telemetry::default()),
            hub: Arc::new(OnceLock::new()),
        }
    }

    /// Replaces the options.
    #[must_use]
    pub fn with_options(mut self, options: ServerOptions) -> Self {
        self.options = options;
        self
    }

    /// Ends every open stream when `shutdown` is cancelled ([`crate::serve`] does this for you).
    #[must_use]
    pub fn with_shutdown(mut self, shutdown: CancellationToken) -> Self {
        self.shutdown = shutdown;
        self
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
