//! The one consume loop of the engine's bus consumers: take a delivery, wait for a slot under
//! the role's concurrency limit, handle it in its own task; stop on cancellation.

use std::future::Future;
use std::sync::Arc;

use nerve_bus::{Consumer, Delivery};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{Engine, EngineError};

/// Runs `handle` for every delivery of `consumer`, at most `semaphore`'s permits at once.
/// `handle` gets the permit: the slot is free when it drops it (a worker frees it when the
/// action's process is gone, before recording the end).
pub(crate) fn spawn<F, Fut>(
    engine: &Engine,
    mut consumer: Consumer,
    semaphore: Arc<Semaphore>,
    handle: F,
) where
    F: Fn(Engine, Delivery, OwnedSemaphorePermit) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let engine = engine.clone();
    let cancel = engine.inner.cancel.clone();
    let tasks = engine.inner.tasks.clone();
    let handle = Arc::new(handle);
    tasks.clone().spawn(async move {
        loop {
            let delivery = tokio::select! {
                () = cancel.cancelled() => break,
                delivery = consumer.next() => delivery,
            };
            let Some(delivery) = delivery else { break };
            let Ok(permit) = semaphore.clone().acquire_owned().await else {
                break;
            };
            tasks.spawn(handle(engine.clone(), delivery, permit));
        }
    });
}

/// The execution id an execution request carries (its whole body), with the delivery to
/// settle; an undecodable request is dead-lettered (redelivery would not fix it) and `None`
/// returned. `what` names the request in the log.
pub(crate) async fn execution_id(delivery: Delivery, what: &str) -> Option<(Delivery, String)> {
    match delivery.decode::<String>() {
        Ok(id) => Some((delivery, id)),
        Err(error) => {
            tracing::error!(%error, "Undecodable {what}; dead-lettering it.");
            let _ = delivery.reject().await;
            None
        }
    }
}

/// Consumes the execution requests of a runner driven on the server (workflows, inquiries):
/// `start` each execution id, at most `concurrency` at once; acked once `start` succeeded,
/// requeued when it failed in the platform. `what` names the request in the log.
pub(crate) async fn spawn_server_runner<F, Fut>(
    engine: &Engine,
    runner: &str,
    concurrency: Arc<Semaphore>,
    what: &'static str,
    start: F,
) -> Result<(), EngineError>
where
    F: Fn(Engine, String) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Result<(), EngineError>> + Send + 'static,
{
    let queue = nerve_bus::topology::worker_queue(runner)?;
    let prefetch = u16::try_from(concurrency.available_permits() * 2).unwrap_or(u16::MAX);
    let consumer = engine.inner.bus.consume(&queue.name, prefetch).await?;
    spawn(
        engine,
        consumer,
        concurrency,
        move |engine, delivery, slot| async move {
            let Some((delivery, execution_id)) = execution_id(delivery, what).await else {
                return;
            };
            let outcome = start(engine, execution_id.clone()).await;
            drop(slot);
            match outcome {
                Ok(()) => {
                    let _ = delivery.ack().await;
                }
                Err(error) => {
                    tracing::error!(%error, execution_id, "Handling a {what} failed in the platform; it will be retried.");
                    let _ = delivery.nack(true).await;
                }
            }
        },
    );
    Ok(())
}
