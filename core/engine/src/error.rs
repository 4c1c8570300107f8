//! The engine's error type: what a caller (API, CLI) needs to tell a user.

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// No such thing.
    #[error("{kind} `{id}` not found")]
    NotFound {
        /// What kind of thing (`action`, `execution`, ...).
        kind: &'static str,
        /// Its id or ref.
        id: String,
    },
    /// The request is invalid; `details` name each problem (field and reason).
    #[error("{message}{}", if details.is_empty() { String::new() } else { format!(": {}", details.join("; ")) })]
    Invalid {
        /// What is wrong, in one sentence.
        message: String,
        /// Each problem.
        details: Vec<String>,
    },
    /// The thing is in a state that does not allow it (e.g. canceling a finished execution).
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error("store failure")]
    Store(#[from] nerve_store::StoreError),
    /// The bus failed.
    #[error("bus failure")]
    Bus(#[from] nerve_bus::BusError),
}

impl EngineError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
            details: Vec::new(),
        }
    }
}
