/**
 * The producer's bookkeeping (producer.ts): where an enqueued job is written (its destination) and
 * the batches waiting there, which coalesce the jobs that arrive while publishes to that destination
 * are in flight. Nothing here does I/O; publishing a batch is batch-publish.ts.
 *
 * These run once per enqueued job: no awaits, and no allocation beyond the job's item, its
 * destination the first time it is seen, and a batch when the last one is full.
 */
import type { NormalizedEnqueue } from "../../core/envelope.js";
import { Store } from "../../core/ids.js";
import type { StoreContext } from "../infra/context.js";
import { keyToken } from "../infra/topology.js";
import type { SegmentAt } from "./segment.js";

/** Where an enqueued job was stored. */
export interface Placement {
  at: SegmentAt;
  idx: number;
}

/** One job on its way into a segment, with the enqueue waiting for its placement. */
export interface Item {
  n: NormalizedEnqueue;
  json: string;
  resolve(p: Placement): void;
  reject(err: unknown): void;
}

/** The jobs of one segment to be. */
export interface Batch {
  items: Item[];
  bytes: number;
  /** Stored as it is: never merged with other enqueues, never split. */
  atomic: boolean;
  /**
   * `Nats-Msg-Id` of a batch with client-chosen ids (see `RESUME_MS` in jobs/id-index.ts): a repeated
   * enqueue of the same jobs after a crash stores nothing new.
   */
  msgId?: string;
}

/** A subject jobs are written to, with its batches in order and its publishes in flight. */
export interface Destination {
  store: Store;
  subject: string;
  queue: string;
  priority: number;
  due?: number;
  inflight: number;
  waiting: Batch[];
}

/** What one producer holds: its settings, its destinations and the publishes in progress. */
export interface ProducerState {
  ctx: StoreContext;
  /** Most jobs coalesced into one segment (atomic batches may be larger). */
  maxJobs: number;
  /** Publishes in flight per destination before enqueues start coalescing. */
  maxInflight: number;
  destinations: Map<string, Destination>;
  inProgress: Set<Promise<unknown>>;
}

/** Bytes a batch starts with: the segment's head and tail around its jobs. */
export const BATCH_OVERHEAD = 256;

/** Largest segment body to publish: a margin under the server's max payload for the headers. */
export function maxBatchBytes(ctx: StoreContext): number {
  const serverMax = ctx.nc.info?.max_payload ?? 1024 * 1024;
  return Math.floor(serverMax * 0.9) - 512;
}

/**
 * Where a job is written: its queue lane; a delay bucket when it is scheduled; or, with an exclusive
 * key, the key's hold subject, where it waits until the key is its own (exclusive.ts).
 */
export function destinationFor(s: ProducerState, n: NormalizedEnqueue): Destination {
  const { queue, priority } = n;
  if (n.runAtMs !== undefined) {
    const due = n.runAtMs;
    const key = `d|${queue}|${priority}|${due}`;
    return (
      s.destinations.get(key) ??
      remember(s, key, {
        store: Store.Delay,
        subject: s.ctx.subjects.delayBucket(Math.floor(due / 60_000)),
        due,
        queue,
        priority,
        inflight: 0,
        waiting: [],
      })
    );
  }
  if (n.spec.xkey !== undefined && s.ctx.sequencer) {
    // One line for every key: the sequencer reads it in order (exclusive-sequencer.ts).
    const key = `s|${queue}|${priority}`;
    return (
      s.destinations.get(key) ??
      remember(s, key, {
        store: Store.Delay,
        subject: s.ctx.subjects.sequenced(),
        queue,
        priority,
        inflight: 0,
        waiting: [],
      })
    );
  }
  if (n.spec.xkey !== undefined) {
    const token = keyToken(n.spec.xkey);
    const key = `h|${queue}|${priority}|${token}`;
    return (
      s.destinations.get(key) ??
      remember(s, key, {
        store: Store.Delay,
        subject: s.ctx.subjects.hold(token),
        queue,
        priority,
        inflight: 0,
        waiting: [],
      })
    );
  }
  const key = `q|${queue}|${priority}`;
  return (
    s.destinations.get(key) ??
    remember(s, key, {
      store: Store.Queue,
      subject: s.ctx.subjects.lane(queue, priority),
      queue,
      priority,
      inflight: 0,
      waiting: [],
    })
  );
}

function remember(s: ProducerState, key: string, d: Destination): Destination {
  s.destinations.set(key, d);
  return d;
}

/**
 * Adds a job to its destination: to the given atomic batch, else to the last waiting batch while
 * that one has room (the coalescing), else to a new batch.
 */
export function addToBatch(
  s: ProducerState,
  d: Destination,
  item: Item,
  atomicBatch: Batch | undefined,
): void {
  if (atomicBatch) {
    atomicBatch.items.push(item);
    atomicBatch.bytes += item.json.length + 1;
    return;
  }
  let b = d.waiting[d.waiting.length - 1];
  if (
    !b ||
    b.atomic ||
    b.items.length >= s.maxJobs ||
    b.bytes + item.json.length + 1 > maxBatchBytes(s.ctx)
  ) {
    b = { items: [], bytes: BATCH_OVERHEAD, atomic: false };
    d.waiting.push(b);
  }
  b.items.push(item);
  b.bytes += item.json.length + 1;
}
