//! Nerve's durable state on sled: packs and their content, trigger instances, rule enforcements,
//! executions and their output, traces, the key-value datastore with encrypted secrets, and
//! retention.
//!
//! **Crate invariant:** nothing else opens sled. Every write that the platform acknowledges (an
//! accepted event, a fired rule, an execution status) is durable (flushed) before the caller acks
//! a message or answers a request; every record has a stable id; the change feed reports every
//! committed change in commit order per key.
//!
//! How the invariant is kept:
//!
//! * The writes used before an acknowledgement flush themselves ([`Store::flush`] lists them, and
//!   their `_unflushed` variants for callers that flush once after several writes), and
//!   concurrent flushes share one fsync (group commit, `commit` module: one flusher thread that
//!   lets writers gather under load), so durability costs one fsync per burst rather than per
//!   write.
//! * Insert-if-absent operations ([`Store::record_trigger_instance`], [`Store::create_execution`],
//!   [`Store::record_enforcement_once`]) make redelivered messages harmless: at-least-once
//!   delivery becomes exactly-once in effect.
//! * Writes to one key are serialized by a striped key lock that is also held while the change is
//!   sent, so subscribers see changes to a key in commit order ([`Store::subscribe`]).
//! * Stored data never makes the store panic: undecodable records are [`StoreError::Corrupt`]
//!   naming the tree and key.
//!
//! Ids are ULIDs ([`new_id`]), so key order is time order: listings are newest first by reverse
//! scans, and [`Store::purge`] sweeps from the oldest record.

mod change;
mod commit;
mod content;
mod counts;
mod enforcement;
mod error;
mod execution;
mod id;
mod index;
mod insert;
mod kv;
mod lock;
mod options;
mod output;
mod page;
mod retention;
mod store;
mod table;
mod time;
mod trace;
mod trigger_instance;

#[cfg(test)]
mod test_support;

pub use change::{Change, ChangeKind, ChangeOp};
pub use content::{Collection, PackRecord, PutOutcome, RuleRecord, RuleState};
pub use counts::RecordCounts;
pub use enforcement::{EnforcementFilter, EnforcementOutcome};
pub use error::{Result, StoreError, UpdateError};
pub use execution::{ExecutionFilter, ExecutionRecord, is_legal_transition};
pub use id::{new_id, new_id_at};
pub use insert::InsertOutcome;
pub use kv::{Kv, KvFilter, KvPair, KvScope, KvSetOutcome, KvValue, KvView, KvWrite};
pub use options::StoreOptions;
pub use output::{OUTPUT_MARKER_STREAM, OutputStats};
pub use page::Page;
pub use retention::PurgeStats;
pub use store::{Store, StoreStats};
pub use time::timestamp;
pub use trace::{CausedBy, TraceComponent, TraceComponentKind, TraceFilter, TraceRecord};
pub use trigger_instance::{
    TriggerInstanceFilter, TriggerInstanceRecord, trigger_instance_status_name,
};
