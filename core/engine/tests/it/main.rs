//! The engine end to end in one process: store, in-process bus, real child processes.

#![allow(missing_docs, unreachable_pub)]

mod support;

mod durability;
mod policies;
mod rules;
mod runs;
mod timers;
