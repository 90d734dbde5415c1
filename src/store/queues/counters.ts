/**
 * Per-queue counters of finished jobs (completed, discarded, cancelled, ...), for queue stats and
 * metrics. Each process adds to in-memory deltas and flushes them with one compare-and-set per queue
 * (every 500 ms, and at once when asked), so counting costs no write per job.
 */
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

import { casUpdate, getJson, readAllJson } from "../infra/kvjson.js";
import { queueToken } from "../infra/topology.js";

export const CounterField = {
  Enqueued: "enqueued",
  Completed: "completed",
  Discarded: "discarded",
  Cancelled: "cancelled",
  Retried: "retried",
  Expired: "expired",
} as const;
export type CounterField = (typeof CounterField)[keyof typeof CounterField];

export type QueueCounts = Record<CounterField, number>;

export function zeroCounts(): QueueCounts {
  return { enqueued: 0, completed: 0, discarded: 0, cancelled: 0, retried: 0, expired: 0 };
}

export interface Counters {
  add(queue: string, field: CounterField, n?: number): void;
  /** Writes pending deltas now. */
  flush(): Promise<void>;
  /** This process's deltas of a queue not yet stored (pending and being written). */
  unflushed(queue: string): Partial<QueueCounts>;
  /**
   * Grows when a write of this process's deltas starts and when it ends (odd: one is in progress). A
   * read of the stored counts that starts and ends on the same even value adds up with
   * {@link unflushed} to exact figures: nothing counted twice or missed.
   */
  writes(): number;
  read(queue: string): Promise<QueueCounts>;
  /** Every queue's counts in one read (by queue token; see `queueToken`). */
  readAll(): Promise<Map<string, QueueCounts>>;
  /** Forgets pending deltas (after an admin reset). */
  clear(): void;
  close(): Promise<void>;
}

export function createCounters(
  kv: KV,
  bulk: { nc: NatsConnection; bucket: string },
  flushEveryMs = 500,
): Counters {
  let pending = new Map<string, Partial<QueueCounts>>();
  // Batches handed to a flush and not stored yet; each queue leaves its batch once it is stored.
  const inflight = new Set<Map<string, Partial<QueueCounts>>>();
  let writes = 0;
  let flushing: Promise<void> = Promise.resolve();

  async function write(batch: Map<string, Partial<QueueCounts>>): Promise<void> {
    for (const [queue, delta] of batch) {
      writes++;
      try {
        await casUpdate<QueueCounts>(kv, queueToken(queue), (cur) => {
          const next = { ...zeroCounts(), ...cur };
          for (const [k, v] of Object.entries(delta) as Array<[CounterField, number]>) next[k] += v;
          return next;
        });
        batch.delete(queue); // stored: neither counted twice nor put back on a later failure
      } finally {
        writes++;
      }
    }
  }

  function flush(): Promise<void> {
    if (pending.size === 0) return flushing;
    const batch = pending;
    pending = new Map();
    inflight.add(batch);
    flushing = flushing
      .then(() => write(batch))
      .then(
        () => void inflight.delete(batch),
        () => {
          inflight.delete(batch);
          // Put the deltas back: NATS may be back by the next flush.
          for (const [q, d] of batch) {
            const p = pending.get(q) ?? {};
            for (const [k, v] of Object.entries(d) as Array<[CounterField, number]>) p[k] = (p[k] ?? 0) + v;
            pending.set(q, p);
          }
        },
      );
    return flushing;
  }

  const timer = setInterval(() => void flush(), flushEveryMs);
  timer.unref();

  return {
    add(queue, field, n = 1) {
      const d = pending.get(queue) ?? {};
      d[field] = (d[field] ?? 0) + n;
      pending.set(queue, d);
    },
    flush,
    writes: () => writes,
    unflushed(queue) {
      const out: Partial<QueueCounts> = {};
      for (const m of [...inflight, pending])
        for (const [k, v] of Object.entries(m.get(queue) ?? {}) as Array<[CounterField, number]>)
          out[k] = (out[k] ?? 0) + v;
      return out;
    },
    async read(queue) {
      const v = await getJson<QueueCounts>(kv, queueToken(queue));
      return { ...zeroCounts(), ...v?.value };
    },
    async readAll() {
      const out = new Map<string, QueueCounts>();
      for (const [k, v] of await readAllJson<Partial<QueueCounts>>(bulk.nc, bulk.bucket))
        out.set(k, { ...zeroCounts(), ...v });
      return out;
    },
    clear() {
      pending.clear();
      inflight.clear();
    },
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
