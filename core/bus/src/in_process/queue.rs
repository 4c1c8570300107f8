//! One in-process queue: ready messages, competing consumers with prefetch, unacked deliveries
//! and dead letters, all behind one mutex per queue (no lock is shared between queues).
//!
//! Messages are pushed to consumers as AMQP brokers do: a consumer with credit (fewer than
//! `prefetch` messages held) is given the next ready message at once, round robin, into its
//! buffer, whether or not it is polling; buffered and handed-out messages both count as unacked.
//! A delivery is counted (attempt, redelivered) when the consumer takes it from its buffer.

use std::collections::{HashMap, VecDeque};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::SystemTime;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::{DeadLetter, DeadLetterReason, Message, QueueStats, Settlement};

pub(crate) struct Queue {
    pub(crate) name: Arc<str>,
    pub(crate) max_deliveries: u32,
    capacity: usize,
    dead_letter_capacity: usize,
    state: Mutex<State>,
    /// Publishers waiting for `ready` to drop below `capacity`.
    space: Notify,
}

#[derive(Default)]
struct State {
    ready: VecDeque<Envelope>,
    consumers: Vec<Slot>,
    /// Round-robin position in `consumers`.
    cursor: usize,
    next_tag: u64,
    next_consumer_id: u64,
    dead: VecDeque<DeadLetter>,
    dead_discarded: u64,
}

struct Envelope {
    message: Arc<Message>,
    /// Times handed to a consumer so far.
    deliveries: u32,
}

struct Slot {
    id: u64,
    prefetch: usize,
    /// Dispatched to this consumer but not yet taken by it, in tag order.
    buffer: VecDeque<(u64, Envelope)>,
    /// Taken by the consumer and not yet settled.
    unacked: HashMap<u64, Envelope>,
    waker: Option<Waker>,
}

impl Slot {
    fn held(&self) -> usize {
        self.buffer.len() + self.unacked.len()
    }
}

/// A message handed out of the queue: (message, attempt, delivery tag).
pub(crate) type Handoff = (Arc<Message>, u32, u64);

/// Wake-ups collected under the lock and performed after it is released.
#[derive(Default)]
struct Wakeups {
    first: Option<Waker>,
    rest: Vec<Waker>,
    space: bool,
}

impl Wakeups {
    fn add(&mut self, waker: Waker) {
        if self.first.is_none() {
            self.first = Some(waker);
        } else {
            self.rest.push(waker);
        }
    }

    fn run(self, queue: &Queue) {
        if let Some(waker) = self.first {
            waker.wake();
        }
        for waker in self.rest {
            waker.wake();
        }
        if self.space {
            queue.space.notify_waiters();
        }
    }
}

impl Queue {
    pub(crate) fn new(
        name: &str,
        max_deliveries: u32,
        capacity: usize,
        dead_letter_capacity: usize,
    ) -> Self {
        Self {
            name: Arc::from(name),
            max_deliveries,
            capacity: capacity.max(1),
            dead_letter_capacity: dead_letter_capacity.max(1),
            state: Mutex::new(State::default()),
            space: Notify::new(),
        }
    }

    /// Appends a message, waiting while the queue holds `capacity` ready messages.
    pub(crate) async fn push(&self, message: Arc<Message>) {
        let mut envelope = Envelope {
            message,
            deliveries: 0,
        };
        loop {
            envelope = match self.try_push(envelope) {
                Ok(()) => return,
                Err(envelope) => envelope,
            };
            // Register for the wake-up before looking again, so a consumer freeing space
            // between the look and the wait cannot be missed.
            let mut space = pin!(self.space.notified());
            space.as_mut().enable();
            envelope = match self.try_push(envelope) {
                Ok(()) => return,
                Err(envelope) => envelope,
            };
            tracing::trace!(queue = %self.name, "Queue full; publisher waiting.");
            space.await;
        }
    }

    fn try_push(&self, envelope: Envelope) -> Result<(), Envelope> {
        let mut wakeups = Wakeups::default();
        {
            let mut state = self.state.lock();
            if state.ready.len() >= self.capacity {
                return Err(envelope);
            }
            state.ready.push_back(envelope);
            self.dispatch(&mut state, &mut wakeups);
        }
        wakeups.run(self);
        Ok(())
    }

    /// Moves ready messages into the buffers of consumers with credit, round robin.
    fn dispatch(&self, state: &mut State, wakeups: &mut Wakeups) {
        let ready_before = state.ready.len();
        let count = state.consumers.len();
        while !state.ready.is_empty() && count > 0 {
            let start = state.cursor % count;
            let Some(index) = (0..count)
                .map(|offset| (start + offset) % count)
                .find(|&index| state.consumers[index].held() < state.consumers[index].prefetch)
            else {
                break;
            };
            let Some(envelope) = state.ready.pop_front() else {
                break;
            };
            state.cursor = index + 1;
            let tag = state.next_tag;
            state.next_tag += 1;
            let slot = &mut state.consumers[index];
            slot.buffer.push_back((tag, envelope));
            if let Some(waker) = slot.waker.take() {
                wakeups.add(waker);
            }
        }
        if ready_before >= self.capacity && state.ready.len() < self.capacity {
            wakeups.space = true;
        }
    }

    pub(crate) fn add_consumer(&self, prefetch: u16) -> u64 {
        let mut wakeups = Wakeups::default();
        let id = {
            let mut state = self.state.lock();
            let id = state.next_consumer_id;
            state.next_consumer_id += 1;
            state.consumers.push(Slot {
                id,
                prefetch: usize::from(prefetch),
                buffer: VecDeque::new(),
                unacked: HashMap::new(),
                waker: None,
            });
            self.dispatch(&mut state, &mut wakeups);
            id
        };
        wakeups.run(self);
        id
    }

    /// Removes a consumer and returns everything it held to the head of the queue, in the
    /// order it was dispatched; handed-out messages that had their last delivery are
    /// dead-lettered instead.
    pub(crate) fn remove_consumer(&self, consumer: u64) {
        let mut wakeups = Wakeups::default();
        {
            let mut state = self.state.lock();
            let Some(index) = state.consumers.iter().position(|slot| slot.id == consumer) else {
                return;
            };
            let slot = state.consumers.remove(index);
            if state.cursor > index {
                state.cursor -= 1;
            }
            let mut returned: Vec<(u64, Envelope, bool)> = slot
                .buffer
                .into_iter()
                .map(|(tag, envelope)| (tag, envelope, false))
                .chain(
                    slot.unacked
                        .into_iter()
                        .map(|(tag, envelope)| (tag, envelope, true)),
                )
                .collect();
            returned.sort_unstable_by_key(|(tag, _, _)| *tag);
            if !returned.is_empty() {
                tracing::debug!(
                    queue = %self.name,
                    count = returned.len(),
                    "Consumer closed; requeueing its unacked deliveries."
                );
            }
            let mut requeue = Vec::with_capacity(returned.len());
            for (_, envelope, handed_out) in returned {
                if handed_out && envelope.deliveries >= self.max_deliveries {
                    self.dead_letter(&mut state, envelope, DeadLetterReason::DeliveryLimit);
                } else {
                    requeue.push(envelope);
                }
            }
            for envelope in requeue.into_iter().rev() {
                state.ready.push_front(envelope);
            }
            self.dispatch(&mut state, &mut wakeups);
        }
        wakeups.run(self);
    }

    /// Hands the consumer its next buffered message, or registers its waker.
    /// `Ready(None)` when the consumer no longer exists.
    pub(crate) fn poll_handoff(
        &self,
        consumer: u64,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Handoff>> {
        let mut state = self.state.lock();
        let Some(slot) = state.consumers.iter_mut().find(|slot| slot.id == consumer) else {
            return Poll::Ready(None);
        };
        match slot.buffer.pop_front() {
            Some((tag, mut envelope)) => {
                envelope.deliveries = envelope.deliveries.saturating_add(1);
                let handoff = (Arc::clone(&envelope.message), envelope.deliveries, tag);
                slot.unacked.insert(tag, envelope);
                Poll::Ready(Some(handoff))
            }
            None => {
                match &slot.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => slot.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }

    /// Settles delivery `tag` of `consumer`; `Err(())` when the consumer is gone (its
    /// deliveries were already requeued).
    pub(crate) fn settle(&self, consumer: u64, tag: u64, settlement: Settlement) -> Result<(), ()> {
        let mut wakeups = Wakeups::default();
        {
            let mut state = self.state.lock();
            let Some(slot) = state.consumers.iter_mut().find(|slot| slot.id == consumer) else {
                return Err(());
            };
            let Some(envelope) = slot.unacked.remove(&tag) else {
                return Err(());
            };
            match settlement {
                Settlement::Ack => {}
                Settlement::Requeue if envelope.deliveries >= self.max_deliveries => {
                    self.dead_letter(&mut state, envelope, DeadLetterReason::DeliveryLimit);
                }
                Settlement::Requeue => state.ready.push_front(envelope),
                Settlement::Reject => {
                    self.dead_letter(&mut state, envelope, DeadLetterReason::Rejected);
                }
            }
            self.dispatch(&mut state, &mut wakeups);
        }
        wakeups.run(self);
        Ok(())
    }

    fn dead_letter(&self, state: &mut State, envelope: Envelope, reason: DeadLetterReason) {
        let message = Arc::unwrap_or_clone(envelope.message);
        tracing::warn!(
            queue = %self.name,
            message_id = %message.id,
            %reason,
            deliveries = envelope.deliveries,
            "Message dead-lettered."
        );
        if state.dead.len() >= self.dead_letter_capacity {
            if let Some(oldest) = state.dead.pop_front() {
                state.dead_discarded += 1;
                tracing::error!(
                    queue = %self.name,
                    message_id = %oldest.message.id,
                    capacity = self.dead_letter_capacity,
                    "Dead letters full; discarded the oldest. Replay or inspect the dead letters."
                );
            }
        }
        state.dead.push_back(DeadLetter {
            message,
            queue: self.name.to_string(),
            reason,
            deliveries: envelope.deliveries,
            dead_lettered_at: SystemTime::now(),
        });
    }

    pub(crate) fn dead_letters(&self) -> Vec<DeadLetter> {
        self.state.lock().dead.iter().cloned().collect()
    }

    /// Moves matching dead letters to the tail of the queue as fresh messages. Replay may take
    /// the queue over its capacity: it is bounded by the dead letters' own capacity.
    pub(crate) fn replay(&self, ids: Option<&[String]>) -> usize {
        let mut wakeups = Wakeups::default();
        let count = {
            let mut state = self.state.lock();
            let dead = std::mem::take(&mut state.dead);
            let mut count = 0;
            for letter in dead {
                let selected = ids.is_none_or(|ids| ids.contains(&letter.message.id));
                if selected {
                    count += 1;
                    state.ready.push_back(Envelope {
                        message: Arc::new(letter.message),
                        deliveries: 0,
                    });
                } else {
                    state.dead.push_back(letter);
                }
            }
            self.dispatch(&mut state, &mut wakeups);
            count
        };
        wakeups.run(self);
        count
    }

    pub(crate) fn stats(&self) -> QueueStats {
        let state = self.state.lock();
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        QueueStats {
            ready: count(state.ready.len()),
            unacked: count(state.consumers.iter().map(Slot::held).sum()),
            consumers: count(state.consumers.len()),
            dead_letters: count(state.dead.len()),
            dead_letters_discarded: state.dead_discarded,
        }
    }
}
