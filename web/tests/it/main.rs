//! Integration tests of `nerve-web`: the router with a real store and a fake platform, through
//! `oneshot` and (for streams and the client) a real socket on 127.0.0.1:0.

#![allow(unreachable_pub)]

mod auth;
mod client;
mod executions;
mod keys;
mod misc;
mod openapi;
mod rules;
mod sensors;
mod stream;
mod support;
mod ui;
mod webhooks;
