//! The store's one error type: every variant names what a user needs to find the problem
//! (the id, the tree and key, the path).
//!
//! A refusal by a caller's update closure is not a `StoreError`; see [`crate::UpdateError`].

use std::path::PathBuf;

use nerve_model::ExecutionStatus;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory (or a directory inside it) could not be created or read.
    #[error("cannot open data dir `{path}`")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// sled refused to open the database.
    #[error("cannot open database at `{path}`")]
    Open {
        /// The database directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: sled::Error,
    },
    /// The thread that flushes the database (see [`crate::Store::flush`]) could not be started.
    #[error("cannot start the store's flush thread")]
    FlushThread {
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A read or write on a tree failed.
    #[error("database operation on tree `{tree}` failed")]
    Db {
        /// The tree.
        tree: &'static str,
        /// The underlying error.
        #[source]
        source: sled::Error,
    },
    /// Flushing to disk failed: nothing written since the last successful flush is known durable.
    #[error("flushing the database to disk failed")]
    Flush {
        /// The underlying error.
        #[source]
        source: sled::Error,
    },
    /// A stored value could not be decoded.
    #[error("corrupt record in tree `{tree}` at key `{key}`")]
    Corrupt {
        /// The tree.
        tree: &'static str,
        /// The key, printable.
        key: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// A value could not be encoded (a map with non-string keys, for example).
    #[error("cannot encode record for tree `{tree}` at key `{key}`")]
    Encode {
        /// The tree.
        tree: &'static str,
        /// The key, printable.
        key: String,
        /// The encoding error.
        #[source]
        source: serde_json::Error,
    },
    /// An id or name that cannot be stored (empty, or containing `/`, NUL or other separators).
    #[error("invalid {what} `{id}`: {reason}")]
    InvalidId {
        /// What it names (`execution id`, `key name`, ...).
        what: &'static str,
        /// The offending text.
        id: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// No record with this id.
    #[error("{kind} `{id}` not found")]
    NotFound {
        /// `execution`, `trigger instance`, `rule enforcement`, `rule`, ...
        kind: &'static str,
        /// The id.
        id: String,
    },
    /// An insert-if-absent found a record with the same id but different content.
    #[error("{kind} `{id}` already exists with different content")]
    Conflict {
        /// `execution`, `trigger instance`, ...
        kind: &'static str,
        /// The id.
        id: String,
    },
    /// A status change the execution life cycle does not allow.
    #[error("execution `{id}` cannot go from `{from}` to `{to}`")]
    IllegalTransition {
        /// The execution.
        id: String,
        /// Its current status.
        from: ExecutionStatus,
        /// The refused status.
        to: ExecutionStatus,
    },
    /// A result file could not be written, read or removed.
    #[error("cannot access result file `{path}`")]
    ResultFile {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A result file exists but is not valid JSON.
    #[error("result file `{path}` is corrupt")]
    CorruptResultFile {
        /// The file.
        path: PathBuf,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// The datastore key file could not be created or read.
    #[error("cannot access datastore key file `{path}`")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The key file does not hold 64 hex digits.
    #[error("datastore key file `{path}` is malformed: expected 64 hex digits")]
    MalformedKey {
        /// The key file.
        path: PathBuf,
    },
    /// The store holds encrypted values but the key file is gone.
    #[error(
        "datastore key file `{path}` is missing but this store was created with one; restore it \
         (secrets cannot be decrypted without it)"
    )]
    MissingKey {
        /// The expected key file.
        path: PathBuf,
    },
    /// The key file is not the key this store was created with.
    #[error("datastore key file `{path}` does not match the key this store was created with")]
    WrongKey {
        /// The key file.
        path: PathBuf,
    },
    /// The system random number generator failed (needed for keys and nonces).
    #[error("the system random number generator failed")]
    Random,
    /// A secret's ciphertext does not authenticate: corrupt, tampered with, or moved to another key.
    #[error(
        "cannot decrypt secret `{name}` in scope `{scope}`: the ciphertext is corrupt or was \
         tampered with"
    )]
    Decrypt {
        /// The key-value scope.
        scope: &'static str,
        /// The key name.
        name: String,
    },
}

/// Result alias for store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why [`crate::Store::update_execution`] did not apply an update.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError<E> {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The caller's closure refused the update; nothing was written.
    #[error("update refused: {0}")]
    Refused(E),
}
