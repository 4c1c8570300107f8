// One shared connection to the event stream (`/api/v1/stream`, execution changes only) for
// every page: pages subscribe while they are shown. The connection reconnects with a capped
// backoff; after a reconnect subscribers are told to reload, since changes may have been missed.

import { stream, isAbort } from './api.js';

const subscribers = new Set();
let controller = null;
let connected = false;
let statusListeners = new Set();

function setConnected(value) {
  if (connected === value) return;
  connected = value;
  for (const listener of statusListeners) listener(value);
}

/** Calls `listener(connected)` on every connection change; returns an unsubscribe function. */
export function onStatus(listener) {
  statusListeners.add(listener);
  listener(connected);
  return () => statusListeners.delete(listener);
}

/**
 * Subscribes `handlers` `{create(execution), update(execution), reconnect()}`; returns an
 * unsubscribe function. Output lines are not sent here (pages stream them per execution).
 */
export function subscribe(handlers) {
  subscribers.add(handlers);
  return () => subscribers.delete(handlers);
}

function deliver(name, data) {
  for (const handlers of subscribers) {
    try {
      if (name === 'st2.execution__create' && handlers.create) handlers.create(data);
      else if (name === 'st2.execution__update' && handlers.update) handlers.update(data);
      else if (name === 'st2.execution__delete' && handlers.remove) handlers.remove(data);
    } catch (error) {
      console.warn('A live update handler failed:', error);
    }
  }
}

/** Starts the connection (once, after login). */
export function start() {
  if (controller) return;
  controller = new AbortController();
  const signal = controller.signal;
  let backoff = 500;
  let first = true;
  (async () => {
    while (!signal.aborted) {
      const opened = Date.now();
      try {
        const running = stream('/stream', { events: 'st2.execution__create,st2.execution__update,st2.execution__delete' },
          (name, data) => {
            setConnected(true);
            deliver(name, data);
          }, signal);
        // The server sends nothing until a change or a heartbeat; count an open response as up.
        setConnected(true);
        if (!first) for (const handlers of subscribers) handlers.reconnect && handlers.reconnect();
        first = false;
        await running;
      } catch (error) {
        if (isAbort(error)) return;
      }
      setConnected(false);
      if (signal.aborted) return;
      if (Date.now() - opened > 30_000) backoff = 500;
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, 15_000);
    }
  })();
}

/** Ends the connection (logout). */
export function stop() {
  if (controller) controller.abort();
  controller = null;
  setConnected(false);
}
