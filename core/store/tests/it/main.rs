//! Integration tests of `nerve-store`: one binary, one module per concern.

mod enforcement;
mod execution;
mod feed;
mod kv;
mod purge;
mod reopen;
mod result;
mod support;
