//! The outcome of an insert-if-absent, shared by events and executions.

/// Whether an insert-if-absent wrote anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The record was new and is now stored.
    Inserted,
    /// The same record was already stored (a redelivery); nothing changed.
    AlreadyPresent,
}
