/**
 * One NATS subscription for every live event stream of an API server, fanned out in process.
 *
 * A subscription per Server-Sent Events stream made nats-server send every event batch once per
 * stream: during a burst, a hundred streams were enough for the server to drop the API server's
 * connection as a slow consumer. Here the first listener subscribes to every queue's events subject,
 * the last one leaving unsubscribes, and each batch is delivered once, skipped without decoding when
 * nobody listens to its queue, decoded once, and handed to the listeners of its queue, of its jobs
 * (an index by job id, so thousands of per-job streams cost nothing per event) and of every queue.
 * Each event's SSE frame is encoded once, however many streams send it.
 */
import type { NatsConnection, Subscription } from "@nats-io/nats-core";

import type { StoreContext } from "../store/infra/context.js";
import type { JobEvent } from "../store/jobs/events.js";
import { decodeEvents, toEventView } from "../store/jobs/events.js";

/** An event as an SSE frame (`id:`, `event:` and `data:`), made once per event and shared. */
export interface SseFrame {
  event: string;
  data: string;
  /** The event's id (clients send the last one back as `Last-Event-ID` to resume). */
  id?: string;
}

export type EventListener = (e: JobEvent, frame: () => SseFrame) => void;

/** What a listener wants: one job's events, one queue's, or every queue's. */
export type EventFilter = { job: string; queue: string } | { queue: string } | { all: true };

export interface EventHub {
  /**
   * Starts delivering matching events to `listener`; resolves once the server delivers them (so a
   * state read afterwards misses nothing), with the function that stops it.
   */
  listen(filter: EventFilter, listener: EventListener): Promise<() => void>;
  readonly stats: { subscriptions: number; listeners: number };
}

const hubs = new WeakMap<NatsConnection, EventHub>();

/** The hub of the API server's connection (made on first use). */
export function eventHub(ctx: StoreContext): EventHub {
  let hub = hubs.get(ctx.nc);
  if (!hub) hubs.set(ctx.nc, (hub = createEventHub(ctx)));
  return hub;
}

function createEventHub(ctx: StoreContext): EventHub {
  const all = new Set<EventListener>();
  /** By events subject (one per queue). */
  const byQueue = new Map<string, Set<EventListener>>();
  const byJob = new Map<string, Set<EventListener>>();
  /** Per-job listeners per queue subject: whether a batch on that subject needs decoding. */
  const jobListenersOn = new Map<string, number>();
  let sub: Subscription | undefined;
  /** Resolves once `sub` is known to the server. */
  let active: Promise<void> = Promise.resolve();
  let listeners = 0;

  const add = <K>(m: Map<K, Set<EventListener>>, k: K, l: EventListener) => {
    let s = m.get(k);
    if (!s) m.set(k, (s = new Set()));
    s.add(l);
  };
  const remove = <K>(m: Map<K, Set<EventListener>>, k: K, l: EventListener) => {
    const s = m.get(k);
    if (!s) return;
    s.delete(l);
    if (s.size === 0) m.delete(k);
  };

  function deliver(subject: string, data: Uint8Array): void {
    const queueListeners = byQueue.get(subject);
    if (all.size === 0 && !queueListeners && !jobListenersOn.has(subject)) return;
    for (const e of decodeEvents(data)) {
      let frame: SseFrame | undefined;
      const frameOf = () => {
        if (!frame) {
          const view = toEventView(e);
          frame = { id: view.id, event: view.type, data: JSON.stringify(view) };
        }
        return frame;
      };
      for (const l of all) l(e, frameOf);
      if (queueListeners) for (const l of queueListeners) l(e, frameOf);
      const jobListeners = byJob.get(e.id);
      if (jobListeners) for (const l of jobListeners) l(e, frameOf);
    }
  }

  return {
    get stats() {
      return { subscriptions: sub ? 1 : 0, listeners };
    },
    async listen(filter, listener) {
      const guarded: EventListener = (e, frame) => {
        try {
          listener(e, frame);
        } catch {
          // A listener must never break delivery to the others (or the NATS callback).
        }
      };
      let subject: string | undefined;
      if ("all" in filter) all.add(guarded);
      else {
        subject = ctx.subjects.events(filter.queue);
        if ("job" in filter) {
          add(byJob, filter.job, guarded);
          jobListenersOn.set(subject, (jobListenersOn.get(subject) ?? 0) + 1);
        } else add(byQueue, subject, guarded);
      }
      listeners++;
      if (!sub) {
        sub = ctx.nc.subscribe(ctx.subjects.eventsAll(), {
          callback: (err, msg) => {
            if (!err) deliver(msg.subject, msg.data);
          },
        });
        active = ctx.nc.flush();
      }
      await active;
      let stopped = false;
      return () => {
        if (stopped) return;
        stopped = true;
        listeners--;
        if ("all" in filter) all.delete(guarded);
        else if ("job" in filter) {
          remove(byJob, filter.job, guarded);
          const n = (jobListenersOn.get(subject!) ?? 1) - 1;
          if (n > 0) jobListenersOn.set(subject!, n);
          else jobListenersOn.delete(subject!);
        } else remove(byQueue, subject!, guarded);
        if (listeners === 0 && sub) {
          sub.unsubscribe();
          sub = undefined;
        }
      };
    },
  };
}
