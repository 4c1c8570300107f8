//! Conformance cases for dead letters: the delivery limit, reject, listing and replay.

use std::time::Duration;

use super::{Context, ack, assert_quiet, consume, declare, publish, receive, wait_for_stats};
use crate::{DeadLetter, DeadLetterReason};

/// Polls the dead letters of `queue` until there are `count`, or panics at the deadline.
async fn wait_for_dead_letters(ctx: &Context, queue: &str, count: usize) -> Vec<DeadLetter> {
    let poll = async {
        loop {
            let letters = ctx
                .bus()
                .dead_letters(queue)
                .await
                .unwrap_or_else(|e| panic!("listing dead letters of `{queue}` failed: {e}"));
            if letters.len() == count {
                return letters;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    match tokio::time::timeout(ctx.deadline, poll).await {
        Ok(letters) => letters,
        Err(_) => panic!(
            "`{queue}` never had {count} dead letters within {:?}",
            ctx.deadline
        ),
    }
}

/// A message requeued after its `max_deliveries`-th delivery is dead-lettered with the reason
/// and count; replaying puts it back as a fresh message, and the dead letters are then empty.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn delivery_limit_dead_letters_then_replay(ctx: &Context) {
    let (exchange, queue) = declare(ctx, "q", &["#"], 2).await;
    publish(ctx, &exchange, "poison", "jobs.poison").await;
    let mut consumer = consume(ctx, &queue, 1).await;
    for attempt in 1..=2 {
        let delivery = receive(ctx, &mut consumer).await;
        assert_eq!(delivery.attempt(), attempt);
        delivery.nack(true).await.expect("nack succeeds");
    }
    assert_quiet(ctx, &mut consumer).await;

    let letters = wait_for_dead_letters(ctx, &queue, 1).await;
    let letter = &letters[0];
    assert_eq!(letter.message.id, "poison");
    assert_eq!(letter.message.routing_key, "jobs.poison");
    assert_eq!(&letter.message.body[..], b"body of poison");
    assert_eq!(letter.queue, queue);
    assert_eq!(letter.reason, DeadLetterReason::DeliveryLimit);
    assert_eq!(letter.deliveries, 2);
    wait_for_stats(ctx, &queue, "1 dead letter", |s| {
        s.dead_letters == 1 && s.ready == 0 && s.unacked == 0
    })
    .await;

    let replayed = ctx
        .bus()
        .replay_dead_letters(&queue, None)
        .await
        .expect("replay succeeds");
    assert_eq!(replayed, 1);
    let delivery = receive(ctx, &mut consumer).await;
    assert_eq!(delivery.message().id, "poison");
    assert_eq!(delivery.attempt(), 1, "a replayed message starts over");
    assert!(!delivery.redelivered());
    ack(delivery).await;
    wait_for_dead_letters(ctx, &queue, 0).await;
    wait_for_stats(ctx, &queue, "no dead letters", |s| s.dead_letters == 0).await;
}

/// `reject` and `nack(requeue = false)` dead-letter at once, whatever the delivery limit.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn reject_dead_letters_immediately(ctx: &Context) {
    let (exchange, queue) = declare(ctx, "q", &["#"], 5).await;
    publish(ctx, &exchange, "a", "k").await;
    publish(ctx, &exchange, "b", "k").await;
    let mut consumer = consume(ctx, &queue, 1).await;
    let first = receive(ctx, &mut consumer).await;
    assert_eq!(first.message().id, "a");
    first.reject().await.expect("reject succeeds");
    let second = receive(ctx, &mut consumer).await;
    assert_eq!(second.message().id, "b");
    second.nack(false).await.expect("nack succeeds");
    assert_quiet(ctx, &mut consumer).await;

    let letters = wait_for_dead_letters(ctx, &queue, 2).await;
    let mut ids: Vec<&str> = letters.iter().map(|l| l.message.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["a", "b"]);
    for letter in &letters {
        assert_eq!(letter.reason, DeadLetterReason::Rejected);
        assert_eq!(letter.deliveries, 1);
    }
}

/// Replaying by id moves only those dead letters; unknown ids move nothing.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn replay_selected_dead_letters(ctx: &Context) {
    let (exchange, queue) = declare(ctx, "q", &["#"], 5).await;
    for id in ["a", "b", "c"] {
        publish(ctx, &exchange, id, "k").await;
    }
    let mut consumer = consume(ctx, &queue, 3).await;
    for _ in 0..3 {
        receive(ctx, &mut consumer)
            .await
            .reject()
            .await
            .expect("reject succeeds");
    }
    wait_for_dead_letters(ctx, &queue, 3).await;

    let none = ctx
        .bus()
        .replay_dead_letters(&queue, Some(&["no-such-id".to_owned()]))
        .await
        .expect("replay succeeds");
    assert_eq!(none, 0);
    let replayed = ctx
        .bus()
        .replay_dead_letters(&queue, Some(&["a".to_owned(), "c".to_owned()]))
        .await
        .expect("replay succeeds");
    assert_eq!(replayed, 2);

    let mut ids = vec![
        receive(ctx, &mut consumer).await,
        receive(ctx, &mut consumer).await,
    ];
    ids.sort_by(|x, y| x.message().id.cmp(&y.message().id));
    assert_eq!(ids[0].message().id, "a");
    assert_eq!(ids[1].message().id, "c");
    for delivery in ids {
        ack(delivery).await;
    }
    assert_quiet(ctx, &mut consumer).await;
    let left = wait_for_dead_letters(ctx, &queue, 1).await;
    assert_eq!(left[0].message.id, "b");
}
