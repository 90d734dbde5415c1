/**
 * The queue registry: one KV entry per queue with its priority lanes and settings (paused, rate
 * limit). A lane's durable consumer is created before its first segment is published, and the lane
 * is then recorded here, so workers (which watch this bucket) learn about new lanes and pauses at once.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { AckPolicy, DeliverPolicy, JetStreamApiError, ReplayPolicy } from "@nats-io/jetstream";
import type { KV, KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { nanos } from "@nats-io/nats-core";

import { BackendError } from "../../core/errors.js";
import type { QueueRetention } from "../../core/storage-options.js";
import { casUpdate, readAllJson } from "../infra/kvjson.js";
import type { ResolvedTopology, Subjects } from "../infra/topology.js";

export interface QueueRecord {
  name: string;
  createdAt: number;
  /** Priorities that have a lane (and a consumer). */
  lanes: number[];
  paused: boolean;
  /** When the queue was paused (epoch ms); absent while it runs. */
  pausedAt?: number;
  rateLimitPerSecond?: number;
  /** Exclusive key of jobs that do not name one, e.g. `host:{args.0.host}` (core/key-template.ts). */
  exclusiveKeyTemplate?: string;
  /** Lease of a segment delivery for this queue's workers (ms). */
  leaseMs?: number;
  /** How long (and how many) finished jobs are kept; unset fields fall back to the defaults. */
  retention?: QueueRetention;
  /** Depth bound of enqueues (ojs-backpressure, backpressure.ts); absent: unbounded. */
  backpressure?: QueueBound;
}

/** A queue's depth bound: enqueues that would take it past `maxDepth` unfinished jobs are refused. */
export interface QueueBound {
  maxDepth: number;
  /** Only `reject` (ojs-backpressure §5.1, the default). */
  strategy: "reject";
  /** Fraction of `maxDepth` from which successful enqueues carry pressure headers. @defaultValue 0.8 */
  warningThreshold: number;
}

/** A lane's key in this process's sets of known and being-created lanes. */
const laneKey = (queue: string, priority: number) => `${queue}|${priority}`;

export interface QueueRegistry {
  /** Makes sure the lane exists (consumer + registry entry). Cached after the first call. */
  ensureLane(queue: string, priority: number): Promise<void>;
  /** Whether this process has already made sure of the lane (ensureLane would resolve at once). */
  laneKnown(queue: string, priority: number): boolean;
  get(queue: string): Promise<QueueRecord | undefined>;
  list(): Promise<QueueRecord[]>;
  /** Sets fields of a queue record (creating it if needed) with compare-and-set retries. */
  update(queue: string, change: (r: QueueRecord) => void): Promise<QueueRecord>;
  /** The last known record (from the watch, or from `get`/`list`), without a round trip. */
  cached(queue: string): QueueRecord | undefined;
  /** Every record known without a round trip (complete once {@link watch} has started). */
  cachedAll(): QueueRecord[];
  /** Keeps the cache current and calls `onChange` for every change (workers use this). */
  watch(onChange?: (r: QueueRecord) => void): Promise<void>;
  /** Deletes the queue's entry (see queue-delete.ts); every process forgets its lanes. */
  remove(queue: string): Promise<void>;
  /** Forgets cached lanes (after an admin reset). */
  forget(): void;
  /** Creates the consumer of every registered lane again (after the queue stream was recreated). */
  recreateConsumers(): Promise<number>;
  close(): void;
}

/** Lease (ack wait) of a segment delivery; workers renew it while they run its jobs. */
export const DEFAULT_SEGMENT_LEASE_MS = 30_000;

export function createQueueRegistry(deps: {
  jsm: JetStreamManager;
  nc: NatsConnection;
  kv: KV;
  topology: ResolvedTopology;
  subjects: Subjects;
  leaseMs?: number;
}): QueueRegistry {
  const { jsm, kv, topology, subjects } = deps;
  const leaseMs = deps.leaseMs ?? DEFAULT_SEGMENT_LEASE_MS;
  const known = new Set<string>(); // "queue|priority" lanes known to exist
  const creating = new Map<string, Promise<void>>(); // lanes being created (one creation per lane)
  const cache = new Map<string, QueueRecord>();
  let watcher: { stop(): void } | undefined;
  let watching: Promise<void> | undefined;
  const reading = new Map<string, Promise<QueueRecord | undefined>>();
  const listeners: Array<(r: QueueRecord) => void> = [];

  const dec = new TextDecoder();
  const decode = (e: KvEntry): QueueRecord | undefined => {
    if (e.operation !== "PUT") return undefined;
    try {
      return JSON.parse(dec.decode(e.value)) as QueueRecord;
    } catch {
      return undefined;
    }
  };

  async function createConsumer(queue: string, priority: number): Promise<void> {
    try {
      await jsm.consumers.add(topology.streams.queue, {
        durable_name: subjects.laneConsumer(queue, priority),
        filter_subject: subjects.lane(queue, priority),
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(leaseMs),
        max_deliver: -1,
        max_ack_pending: 20_000,
        max_waiting: 4096,
        deliver_policy: DeliverPolicy.All,
        replay_policy: ReplayPolicy.Instant,
      });
    } catch (err) {
      // 10148: consumer exists with a different config (e.g. another lease); the existing one serves.
      if (!(err instanceof JetStreamApiError && err.code === 10148)) {
        throw new BackendError(`cannot create the consumer of queue ${queue} priority ${priority}`, {
          cause: err,
        });
      }
    }
  }

  async function update(queue: string, change: (r: QueueRecord) => void): Promise<QueueRecord> {
    const next = await casUpdate<QueueRecord>(kv, queue, (current) => {
      const r = current ?? { name: queue, createdAt: Date.now(), lanes: [], paused: false };
      change(r);
      return r;
    });
    cache.set(queue, next!);
    return next!;
  }

  /** Drops a deleted queue from the cache and the known lanes (the next enqueue re-registers). */
  function forgetQueue(queue: string): void {
    cache.delete(queue);
    for (const key of known) if (key.startsWith(`${queue}|`)) known.delete(key);
  }

  async function startWatch(): Promise<void> {
    const iter = await kv.watch({ key: ">" });
    watcher = iter;
    void (async () => {
      for await (const e of iter) {
        if (e.operation !== "PUT") {
          forgetQueue(e.key);
          continue;
        }
        const r = decode(e);
        if (!r) continue;
        cache.set(r.name, r);
        for (const l of listeners) l(r);
      }
    })().catch(() => undefined);
  }

  return {
    laneKnown(queue, priority) {
      return known.has(laneKey(queue, priority));
    },
    ensureLane(queue, priority) {
      const key = laneKey(queue, priority);
      if (known.has(key)) return Promise.resolve();
      let p = creating.get(key);
      if (!p) {
        p = (async () => {
          const rec = cache.get(queue) ?? (await this.get(queue));
          if (!rec?.lanes.includes(priority)) {
            await createConsumer(queue, priority);
            await update(queue, (r) => {
              if (!r.lanes.includes(priority)) r.lanes.push(priority);
              r.lanes.sort((a, b) => b - a);
            });
          }
          known.add(key);
        })().finally(() => creating.delete(key));
        creating.set(key, p);
      }
      return p;
    },
    get(queue) {
      // Concurrent reads of one queue (a burst of enqueues to a queue not cached yet) share one get.
      let p = reading.get(queue);
      if (!p) {
        p = (async () => {
          const e = await kv.get(queue);
          const r = e ? decode(e) : undefined;
          if (r) cache.set(queue, r);
          return r;
        })().finally(() => reading.delete(queue));
        reading.set(queue, p);
      }
      return p;
    },
    async list() {
      // One stream read of the bucket (10,000 queues: tens of ms; a get per key took seconds).
      const all = await readAllJson<QueueRecord>(deps.nc, topology.buckets.queues);
      const out: QueueRecord[] = [];
      for (const r of all.values()) {
        if (typeof r?.name !== "string" || !Array.isArray(r.lanes)) continue;
        cache.set(r.name, r);
        out.push(r);
      }
      return out.sort((a, b) => a.name.localeCompare(b.name));
    },
    update,
    cached(queue) {
      return cache.get(queue);
    },
    cachedAll() {
      return [...cache.values()];
    },
    async watch(onChange) {
      if (onChange) listeners.push(onChange);
      if (watching) {
        await watching;
        if (onChange) for (const r of cache.values()) onChange(r);
        return;
      }
      watching = startWatch();
      await watching;
    },
    async remove(queue) {
      await kv.delete(queue);
      forgetQueue(queue);
    },
    forget() {
      known.clear();
      cache.clear();
    },
    async recreateConsumers() {
      let n = 0;
      for (const rec of await this.list()) {
        for (const p of rec.lanes) {
          await createConsumer(rec.name, p);
          n++;
        }
      }
      return n;
    },
    close() {
      watcher?.stop();
      watcher = undefined;
    },
  };
}
