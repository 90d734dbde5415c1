/**
 * The queue registry: one KV entry per queue with its priority lanes and settings (paused, rate
 * limit). A lane's durable consumer is created before its first segment is published, and the lane
 * is then recorded here, so workers (which watch this bucket) learn about new lanes and pauses at once.
 * The consumer's config is lane-consumer.ts.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV, KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

import type { QueueRetention } from "../../core/storage-options.js";
import { casUpdate, readAllJson } from "../infra/kvjson.js";
import type { ResolvedTopology, Subjects } from "../infra/topology.js";
import { createLaneConsumer } from "./lane-consumer.js";

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

/** What the registry needs. */
export interface QueueRegistryDeps {
  jsm: JetStreamManager;
  nc: NatsConnection;
  kv: KV;
  topology: ResolvedTopology;
  subjects: Subjects;
  leaseMs?: number;
}

/** What one registry holds: what this process knows of the queues and their lanes. */
interface RegistryState {
  deps: QueueRegistryDeps & { leaseMs: number };
  /** "queue|priority" lanes known to exist. */
  known: Set<string>;
  /** Lanes being created (one creation per lane). */
  creating: Map<string, Promise<void>>;
  cache: Map<string, QueueRecord>;
  /** Gets in progress, one per queue. */
  reading: Map<string, Promise<QueueRecord | undefined>>;
  watcher?: { stop(): void } | undefined;
  watching?: Promise<void>;
  listeners: Array<(r: QueueRecord) => void>;
}

export function createQueueRegistry(deps: QueueRegistryDeps): QueueRegistry {
  const s: RegistryState = {
    deps: { ...deps, leaseMs: deps.leaseMs ?? DEFAULT_SEGMENT_LEASE_MS },
    known: new Set(),
    creating: new Map(),
    cache: new Map(),
    reading: new Map(),
    listeners: [],
  };
  return {
    laneKnown: (queue, priority) => s.known.has(laneKey(queue, priority)),
    ensureLane: (queue, priority) => ensureLane(s, queue, priority),
    get: (queue) => getQueue(s, queue),
    list: () => listQueues(s),
    update: (queue, change) => updateQueue(s, queue, change),
    cached: (queue) => s.cache.get(queue),
    cachedAll: () => [...s.cache.values()],
    watch: (onChange) => watchQueues(s, onChange),
    async remove(queue) {
      await s.deps.kv.delete(queue);
      forgetQueue(s, queue);
    },
    forget() {
      s.known.clear();
      s.cache.clear();
    },
    async recreateConsumers() {
      let n = 0;
      for (const rec of await listQueues(s)) {
        for (const p of rec.lanes) {
          await createLaneConsumer(s.deps, rec.name, p);
          n++;
        }
      }
      return n;
    },
    close() {
      s.watcher?.stop();
      s.watcher = undefined;
    },
  };
}

const dec = new TextDecoder();

function decode(e: KvEntry): QueueRecord | undefined {
  if (e.operation !== "PUT") return undefined;
  try {
    return JSON.parse(dec.decode(e.value)) as QueueRecord;
  } catch {
    return undefined;
  }
}

/** Creates the lane's consumer and records the lane, once per lane and process (concurrent calls share it). */
function ensureLane(s: RegistryState, queue: string, priority: number): Promise<void> {
  const key = laneKey(queue, priority);
  if (s.known.has(key)) return Promise.resolve();
  let p = s.creating.get(key);
  if (!p) {
    p = (async () => {
      const rec = s.cache.get(queue) ?? (await getQueue(s, queue));
      if (!rec?.lanes.includes(priority)) {
        await createLaneConsumer(s.deps, queue, priority);
        await updateQueue(s, queue, (r) => {
          if (!r.lanes.includes(priority)) r.lanes.push(priority);
          r.lanes.sort((a, b) => b - a);
        });
      }
      s.known.add(key);
    })().finally(() => s.creating.delete(key));
    s.creating.set(key, p);
  }
  return p;
}

function getQueue(s: RegistryState, queue: string): Promise<QueueRecord | undefined> {
  // Concurrent reads of one queue (a burst of enqueues to a queue not cached yet) share one get.
  let p = s.reading.get(queue);
  if (!p) {
    p = (async () => {
      const e = await s.deps.kv.get(queue);
      const r = e ? decode(e) : undefined;
      if (r) s.cache.set(queue, r);
      return r;
    })().finally(() => s.reading.delete(queue));
    s.reading.set(queue, p);
  }
  return p;
}

async function listQueues(s: RegistryState): Promise<QueueRecord[]> {
  // One stream read of the bucket (10,000 queues: tens of ms; a get per key took seconds).
  const all = await readAllJson<QueueRecord>(s.deps.nc, s.deps.topology.buckets.queues);
  const out: QueueRecord[] = [];
  for (const r of all.values()) {
    if (typeof r?.name !== "string" || !Array.isArray(r.lanes)) continue;
    s.cache.set(r.name, r);
    out.push(r);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

async function updateQueue(
  s: RegistryState,
  queue: string,
  change: (r: QueueRecord) => void,
): Promise<QueueRecord> {
  const next = await casUpdate<QueueRecord>(s.deps.kv, queue, (current) => {
    const r = current ?? { name: queue, createdAt: Date.now(), lanes: [], paused: false };
    change(r);
    return r;
  });
  s.cache.set(queue, next!);
  return next!;
}

/** Drops a deleted queue from the cache and the known lanes (the next enqueue re-registers). */
function forgetQueue(s: RegistryState, queue: string): void {
  s.cache.delete(queue);
  for (const key of s.known) if (key.startsWith(`${queue}|`)) s.known.delete(key);
}

/** Starts the one watch of the bucket (later callers wait for it and get the cached records). */
async function watchQueues(s: RegistryState, onChange?: (r: QueueRecord) => void): Promise<void> {
  if (onChange) s.listeners.push(onChange);
  if (s.watching) {
    await s.watching;
    if (onChange) for (const r of s.cache.values()) onChange(r);
    return;
  }
  s.watching = startWatch(s);
  await s.watching;
}

async function startWatch(s: RegistryState): Promise<void> {
  const iter = await s.deps.kv.watch({ key: ">" });
  s.watcher = iter;
  void (async () => {
    for await (const e of iter) {
      if (e.operation !== "PUT") {
        forgetQueue(s, e.key);
        continue;
      }
      const r = decode(e);
      if (!r) continue;
      s.cache.set(r.name, r);
      for (const l of s.listeners) l(r);
    }
  })().catch(() => undefined);
}
