// graphql-ws clients over `ws`, with the bearer token in connection_init, and small helpers that
// turn a subscription into a promise with a deadline.
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { server } from "./api.js";

/** A graphql-ws client; the token always goes in the connection_init payload. */
export function wsClient(token, options = {}) {
  return createClient({
    url: server().wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    ...options,
  });
}

/**
 * Every result of a subscription until the server completes it. Rejects on an error (a close
 * event, or a result with errors) or when `timeoutMs` passes first.
 */
export function collect(client, payload, { timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const results = [];
    let unsubscribe = () => {};
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`subscription not complete after ${timeoutMs} ms: ${JSON.stringify(results)}`));
    }, timeoutMs);
    unsubscribe = client.subscribe(payload, {
      next(result) {
        if (result.errors) {
          clearTimeout(timer);
          unsubscribe();
          reject(new Error(`subscription errors: ${JSON.stringify(result.errors)}`));
          return;
        }
        results.push(result.data);
      },
      error(error) {
        clearTimeout(timer);
        reject(error);
      },
      complete() {
        clearTimeout(timer);
        resolve(results);
      },
    });
  });
}

/**
 * A subscription that stays open: `next(timeoutMs)` waits for its next result (or throws on a
 * timeout), `close()` ends it. Errors reject the pending and every later `next`.
 */
export function listen(client, payload) {
  const queue = [];
  const waiting = [];
  let failure = null;
  const settle = () => {
    while (waiting.length && (queue.length || failure)) {
      const { resolve, reject, timer } = waiting.shift();
      clearTimeout(timer);
      if (queue.length) resolve(queue.shift());
      else reject(failure);
    }
  };
  const unsubscribe = client.subscribe(payload, {
    next(result) {
      if (result.errors) failure = new Error(`subscription errors: ${JSON.stringify(result.errors)}`);
      else queue.push(result.data);
      settle();
    },
    error(error) {
      failure = error instanceof Error ? error : new Error(`closed: ${error?.code} ${error?.reason}`);
      failure.event = error;
      settle();
    },
    complete() {
      failure = failure ?? new Error("subscription completed");
      settle();
    },
  });
  return {
    next(timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const entry = { resolve, reject, timer: null };
        entry.timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(entry), 1);
          reject(Object.assign(new Error(`nothing within ${timeoutMs} ms`), { timeout: true }));
        }, timeoutMs);
        waiting.push(entry);
        settle();
      });
    },
    close: unsubscribe,
  };
}
