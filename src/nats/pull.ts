/**
 * A raw JetStream pull client. The stock client's `fetch()` cannot answer "nothing there" at once (its
 * shortest wait is 1 s), which an HTTP fetch on an empty queue needs; and its per-message objects
 * cost more than we want on the hot path. This speaks the pull protocol directly:
 * `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` with `{batch, no_wait | expires, idle_heartbeat}`;
 * messages arrive on an inbox and a status message (404/408/409) ends the request.
 */
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { createInbox } from "@nats-io/nats-core";

import { BackendError } from "../core/errors.js";

/** Delivery facts encoded in a JetStream ack subject. */
export interface DeliveryInfo {
  stream: string;
  consumer: string;
  /** How many times this message has been delivered (1 on first delivery). */
  deliveryCount: number;
  streamSeq: number;
  /** Messages left for the consumer after this one. */
  pending: number;
}

/** A delivered message with the subject to ack it on. */
export interface Delivery {
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
  /** The `$JS.ACK...` subject: acks, naks and progress go here, from any connection. */
  ackSubject: string;
  info: DeliveryInfo;
}

/** Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>` (and the v2 form). */
export function parseAckSubject(subject: string): DeliveryInfo | undefined {
  const t = subject.split(".");
  if (t[0] !== "$JS" || t[1] !== "ACK") return undefined;
  // v1: 9 tokens; v2 adds domain and account hash after ACK (and a random token at the end).
  const base = t.length === 9 ? 2 : t.length >= 11 ? 4 : -1;
  if (base < 0) return undefined;
  return {
    stream: t[base]!,
    consumer: t[base + 1]!,
    deliveryCount: Number(t[base + 2]),
    streamSeq: Number(t[base + 3]),
    pending: Number(t[base + 6]),
  };
}

const enc = new TextEncoder();
const ACK = enc.encode("+ACK");
const WPI = enc.encode("+WPI");
const TERM = enc.encode("+TERM");

/** Acknowledge: the message is done. */
export function ack(nc: NatsConnection, ackSubject: string): void {
  nc.publish(ackSubject, ACK);
}

/** Negative ack: deliver again, after `delayMs` when given. */
export function nak(nc: NatsConnection, ackSubject: string, delayMs = 0): void {
  const body = delayMs > 0 ? `-NAK {"delay":${Math.round(delayMs) * 1_000_000}}` : "-NAK";
  nc.publish(ackSubject, enc.encode(body));
}

/** Work in progress: restart the ack-wait timer (a lease renewal). */
export function inProgress(nc: NatsConnection, ackSubject: string): void {
  nc.publish(ackSubject, WPI);
}

/** Terminate: never deliver again. */
export function term(nc: NatsConnection, ackSubject: string): void {
  nc.publish(ackSubject, TERM);
}

export interface PullOptions {
  /** Most messages to deliver for this request. */
  batch: number;
  /**
   * How long the request waits for messages. Short for an HTTP fetch (25 ms): a pull with `no_wait`
   * and no expiry can, under concurrency, stay queued on the server forever and later swallow a
   * message, so every request we send has an expiry. @defaultValue 30000
   */
  expiresMs?: number;
}

/**
 * One pull request: resolves with the messages delivered for it (possibly none) when the batch is
 * full or the request expires.
 */
export async function pullOnce(
  nc: NatsConnection,
  stream: string,
  consumer: string,
  options: PullOptions,
): Promise<Delivery[]> {
  const inbox = createInbox();
  const out: Delivery[] = [];
  const expiresMs = options.expiresMs ?? 30_000;
  return new Promise<Delivery[]>((resolve, reject) => {
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sub.unsubscribe();
      if (err) reject(err);
      else resolve(out);
    };
    const sub = nc.subscribe(inbox, {
      callback: (err, msg) => {
        if (err) return finish(new BackendError(`pull from ${stream}/${consumer} failed`, { cause: err }));
        const code = msg.headers?.code ?? 0;
        if (code !== 0) {
          if (code === 100) return; // idle heartbeat
          if (code === 404 || code === 408 || code === 409) return finish();
          return finish(
            new BackendError(`pull from ${stream}/${consumer}: ${code} ${msg.headers?.description ?? ""}`),
          );
        }
        const d = toDelivery(msg);
        if (d) out.push(d);
        if (out.length >= options.batch) finish();
      },
    });
    // A fallback in case the server's closing status is lost (e.g. a reconnect).
    const timer = setTimeout(() => finish(), expiresMs + 2000);
    const req = { batch: options.batch, expires: expiresMs * 1_000_000 };
    nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`, enc.encode(JSON.stringify(req)), {
      reply: inbox,
    });
  });
}

function toDelivery(msg: Msg): Delivery | undefined {
  if (!msg.reply) return undefined;
  const info = parseAckSubject(msg.reply);
  if (!info) return undefined;
  return { subject: msg.subject, data: msg.data, headers: msg.headers, ackSubject: msg.reply, info };
}

/** How long a pull loop waits before ending a request that failed (see `createPullLoop`). */
const ERROR_BACKOFF_MS = 500;

/** A long-lived pull loop for workers. */
export interface PullLoop {
  /** Asks for up to `n` messages, waiting at most `expiresMs` for them. */
  request(n: number, expiresMs: number): void;
  /** Messages asked for by requests still open. */
  readonly credit: number;
  /**
   * Stops asking for messages. Messages the server sent before it saw the loop go still reach
   * `onMessage`, so the worker can give them back at once (dropped, they would wait for their ack
   * wait to run out); resolves once no more can arrive.
   */
  close(): Promise<void>;
}

export interface PullLoopOptions {
  onMessage: (d: Delivery) => void;
  /** A request ended (expired, or the server had nothing): `received` messages came for it. */
  onEnd?: (received: number) => void;
  onError?: (err: Error) => void;
}

/**
 * A worker's pull loop on one consumer: one inbox subscription, and pull requests the worker issues
 * one by one (it decides which lane to ask, and for how long, from what each request brought).
 */
export function createPullLoop(
  nc: NatsConnection,
  stream: string,
  consumer: string,
  options: PullLoopOptions,
): PullLoop {
  const inbox = createInbox();
  let credit = 0;
  let closed = false;
  const open = new Map<number, { batch: number; received: number; timer: NodeJS.Timeout }>();
  let nextReq = 1;

  // Data messages arrive with their stream subject, so they do not say which request they answer;
  // the server serves a consumer's pull requests in order, so each is counted against the oldest open
  // request. Status messages (end of a request) do arrive on that request's own reply subject.
  const sub = nc.subscribe(`${inbox}.*`, {
    callback: (err, msg) => {
      if (err) {
        if (closed) return;
        options.onError?.(new BackendError(`pull loop on ${stream}/${consumer} failed`, { cause: err }));
        return;
      }
      const code = msg.headers?.code ?? 0;
      if (code !== 0) {
        if (code === 100 || closed) return;
        const reqId = Number(msg.subject.slice(inbox.length + 1));
        if (code !== 404 && code !== 408 && code !== 409) {
          options.onError?.(
            new BackendError(`pull on ${stream}/${consumer}: ${code} ${msg.headers?.description ?? ""}`),
          );
          // A 503 means the consumer has no leader (an election after a node was lost). Ending the
          // request at once makes the worker ask again at once: hundreds of requests (and errors) a
          // second until the election ends. Hold the request's credit a moment first.
          setTimeout(() => endRequest(reqId), ERROR_BACKOFF_MS).unref();
          return;
        }
        endRequest(reqId);
        return;
      }
      const d = toDelivery(msg);
      if (!d) return;
      if (closed) return options.onMessage(d); // sent before the server saw us go: hand it on
      for (const [reqId, r] of open) {
        if (r.received >= r.batch) continue;
        r.received++;
        credit--;
        if (r.received >= r.batch) {
          clearTimeout(r.timer);
          open.delete(reqId);
        }
        break;
      }
      options.onMessage(d);
    },
  });

  function endRequest(reqId: number): void {
    const r = open.get(reqId);
    if (!r) return;
    clearTimeout(r.timer);
    credit -= r.batch - r.received;
    open.delete(reqId);
    options.onEnd?.(r.received);
  }

  // After a reconnect the server may no longer know our open requests (it restarted, or we are
  // connected to another node); waiting for their expiry would leave the worker idle for up to the
  // long-poll time plus the fallback. End them, so the worker asks again at once. A request the
  // server still knows only brings a message the worker takes or gives back.
  const statuses = nc.status();
  void (async () => {
    for await (const s of statuses) {
      if (closed) break;
      if (s.type === "reconnect") for (const reqId of [...open.keys()]) endRequest(reqId);
    }
  })().catch(() => undefined);

  return {
    request(n, expiresMs) {
      if (n <= 0 || closed) return;
      const reqId = nextReq++;
      // The server ends the request after `expires`; the timer is a fallback if its status is lost.
      const timer = setTimeout(() => endRequest(reqId), expiresMs + 5000);
      timer.unref();
      open.set(reqId, { batch: n, received: 0, timer });
      credit += n;
      const req: Record<string, number> = { batch: n, expires: expiresMs * 1_000_000 };
      if (expiresMs > 10_000) req.idle_heartbeat = 5_000_000_000;
      try {
        nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`, enc.encode(JSON.stringify(req)), {
          reply: `${inbox}.${reqId}`,
        });
      } catch (err) {
        endRequest(reqId);
        options.onError?.(new BackendError(`pull request on ${stream}/${consumer} failed`, { cause: err }));
      }
    },
    get credit() {
      return credit;
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      for (const r of open.values()) clearTimeout(r.timer);
      open.clear();
      // The status iterator of nats.js can be stopped (QueuedIterator), though its type does not say so.
      (statuses as { stop?: () => void }).stop?.();
      // Drain rather than unsubscribe: messages already on their way are still handed on.
      return sub.drain().catch(() => undefined);
    },
  };
}
