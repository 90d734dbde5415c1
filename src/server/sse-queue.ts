/**
 * The write side of every Server-Sent Events route: events are queued by a callback (the event hub,
 * a timeline consumer) and written in order by `pump`, with a keep-alive comment every 15 s, until
 * `end()` or the client leaves.
 *
 * The queue is bounded: a client that falls more than `maxQueued` events behind (it stopped reading,
 * or reads slower than events arrive) is dropped. Its queued events are discarded and replaced by
 * one `overflow` event (`{"dropped": n, "reason": …}`), written if the client reads again within
 * `overflowGraceMs`, after which the stream is closed either way. A client that wants everything
 * reconnects and reads the rest from the events list (`GET /ojs/v1/events`). So a stalled client
 * costs at most its bound in memory, never the server.
 */
import type { Context } from "hono";
import type { SSEStreamingApi } from "hono/streaming";

import type { SseFrame } from "./event-hub.js";

const HEARTBEAT_MS = 15_000;
/** Events a stream may be behind before its client is dropped. */
export const MAX_QUEUED_EVENTS = 1000;
/** How long a dropped client has to read its `overflow` event before the stream is closed. */
export const OVERFLOW_GRACE_MS = 5000;

export interface SseQueue {
  push(event: string, data: unknown): void;
  /** Queues a frame encoded once for many streams (see event-hub.ts). */
  pushFrame(frame: SseFrame): void;
  /** No more events: `pump` writes what is queued and returns. */
  end(): void;
  /** Whether the client left or `end()` was called. */
  readonly ended: boolean;
  /** Whether the client was dropped for falling behind. */
  readonly overflowed: boolean;
  pump(stream: SSEStreamingApi): Promise<void>;
}

export function createSseQueue(
  o: {
    maxQueued?: number;
    overflowGraceMs?: number;
    onOverflow?: () => void;
    /**
     * Ends the connection of a dropped client that did not read its `overflow` event in time (the
     * route closes the socket: ending the stream alone would wait for the client to read first).
     */
    onGiveUp?: () => void;
  } = {},
): SseQueue {
  const max = o.maxQueued ?? MAX_QUEUED_EVENTS;
  const queued: SseFrame[] = [];
  let finished = false;
  let overflowed = false;
  let dropped = 0;
  let wake: (() => void) | undefined;
  let current: SSEStreamingApi | undefined;

  function overflow(): void {
    overflowed = true;
    dropped = queued.length + 1;
    queued.length = 0;
    queued.push({
      event: "overflow",
      data: JSON.stringify({
        dropped,
        reason: `the client fell more than ${max} events behind; reconnect and read missed events from GET /ojs/v1/events`,
      }),
    });
    finished = true;
    o.onOverflow?.();
    wake?.();
    const timer = setTimeout(() => {
      current?.abort();
      o.onGiveUp?.();
    }, o.overflowGraceMs ?? OVERFLOW_GRACE_MS);
    timer.unref();
  }

  const q: SseQueue = {
    push(event, data) {
      q.pushFrame({ event, data: JSON.stringify(data) });
    },
    pushFrame(frame) {
      if (finished) return;
      if (queued.length >= max) {
        overflow();
        return;
      }
      queued.push(frame);
      wake?.();
    },
    end() {
      finished = true;
      wake?.();
    },
    get ended() {
      return finished;
    },
    get overflowed() {
      return overflowed;
    },
    async pump(stream) {
      current = stream;
      stream.onAbort(() => q.end());
      while (!stream.aborted) {
        while (queued.length > 0 && !stream.aborted) await stream.writeSSE(queued.shift()!);
        if (finished) break;
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((r) => {
          wake = r;
          timer = setTimeout(r, HEARTBEAT_MS);
        });
        clearTimeout(timer); // a stream that ended must not keep the process alive for 15 s
        wake = undefined;
        if (queued.length === 0 && !finished) await stream.write(": keep-alive\n\n");
      }
    },
  };
  return q;
}

/** Closes the client's connection at once (Node adapter: the response's socket), if there is one. */
export function dropConnection(c: Context): void {
  const env = c.env as { outgoing?: { socket?: { destroy(): void } | null } } | undefined;
  env?.outgoing?.socket?.destroy();
}
