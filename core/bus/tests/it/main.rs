//! Integration tests of `nerve-bus`: the conformance suite against `InProcessBus` and against
//! `AmqpBus` on a real RabbitMQ, and a multi-threaded stress test of at-least-once delivery.

mod amqp;
mod stress;

use std::sync::Arc;

use nerve_bus::InProcessBus;
use nerve_bus::conformance::Context;

async fn in_process(test: &'static str) -> Context {
    Context::new(Arc::new(InProcessBus::new()), test)
}

nerve_bus::conformance_tests!(
    #[tokio::test(start_paused = true)]
    in_process
);
