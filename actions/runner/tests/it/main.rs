//! Integration tests of nerve-runner: one binary, one module per concern.

#![allow(missing_docs, unreachable_pub)]

mod http;
mod process;
mod python;
mod shell;
mod support;
