/**
 * The producer turns enqueues into segments. Jobs for the same destination (queue lane, or delay
 * bucket and due time) that arrive while a publish to that destination is in flight are coalesced
 * into the next segment, so under load one write carries many jobs; with no load every job is
 * published at once (no added latency). Order per destination is kept: segments are published in
 * order over one connection and JetStream stores them in that order.
 *
 * Parts: where jobs go and how they coalesce (batches.ts), publishing a batch (batch-publish.ts);
 * here the two enqueue paths, one plain job (the hot path) and a request with client-chosen ids or
 * an atomic batch.
 */
import { createHash } from "node:crypto";

import type { NormalizedEnqueue } from "../../core/envelope.js";
import { ConflictError, ErrorCode, JetjobError } from "../../core/errors.js";
import { MAX_SEGMENT_JOBS } from "../../core/ids.js";
import type { StoreContext } from "../infra/context.js";
import { recordId, reserveId, unreserve } from "../jobs/id-index.js";
import type { Batch, Destination, Item, Placement, ProducerState } from "./batches.js";
import { BATCH_OVERHEAD, addToBatch, destinationFor } from "./batches.js";
import { pump } from "./batch-publish.js";
import { refKey } from "./segment.js";

export interface ProducerOptions {
  /** Most jobs coalesced into one segment (atomic batches may be larger). @defaultValue 256 */
  maxSegmentJobs?: number;
  /** Publishes in flight per destination before enqueues start coalescing. @defaultValue 2 */
  maxInflightPerDestination?: number;
}

export interface EnqueueOptions {
  /** Store these jobs all-or-nothing: one segment per destination, never merged or split. */
  atomic?: boolean;
}

export interface Producer {
  enqueue(items: NormalizedEnqueue[], options?: EnqueueOptions): Promise<Placement[]>;
  /** Waits for every enqueue in progress. */
  flush(): Promise<void>;
}

export function createProducer(ctx: StoreContext, options: ProducerOptions = {}): Producer {
  const s: ProducerState = {
    ctx,
    maxJobs: Math.min(options.maxSegmentJobs ?? 256, MAX_SEGMENT_JOBS),
    maxInflight: options.maxInflightPerDestination ?? 2,
    destinations: new Map(),
    inProgress: new Set(),
  };
  return {
    async enqueue(items, opts = {}) {
      if (items.length === 0) return [];
      if (items.length === 1 && !opts.atomic && items[0]!.spec.id === undefined)
        return enqueueOne(s, items[0]!);
      return enqueueMany(s, items, opts.atomic === true);
    },
    async flush() {
      while (s.inProgress.size > 0) await Promise.allSettled([...s.inProgress]);
    },
  };
}

/** One job without a client-chosen id (the common `enqueue()` call): none of the batch bookkeeping. */
export async function enqueueOne(s: ProducerState, n: NormalizedEnqueue): Promise<Placement[]> {
  const { ctx } = s;
  if (!ctx.queues.laneKnown(n.queue, n.priority)) await ctx.queues.ensureLane(n.queue, n.priority);
  const d = destinationFor(s, n);
  const placed = new Promise<Placement>((resolve, reject) =>
    addToBatch(s, d, { n, json: JSON.stringify(n.spec), resolve, reject }, undefined),
  );
  pump(s, d);
  return [await placed];
}

/**
 * Several jobs, or jobs with client-chosen ids, or an atomic batch: ensures their lanes, reserves
 * their ids, stages them into batches, publishes and records where the jobs with ids went. When any
 * job fails the enqueue throws (after recording the ones stored; reservations are dropped only when
 * nothing was stored).
 */
export async function enqueueMany(
  s: ProducerState,
  items: NormalizedEnqueue[],
  atomic: boolean,
): Promise<Placement[]> {
  const { ctx } = s;
  const lanes = new Map<string, NormalizedEnqueue>();
  for (const n of items) lanes.set(`${n.queue}|${n.priority}`, n);
  await Promise.all([...lanes.values()].map((n) => ctx.queues.ensureLane(n.queue, n.priority)));
  const explicitIds = await reserveIds(s, items);

  const promises = stageItems(s, items, atomic);
  for (const d of new Set(items.map((n) => destinationFor(s, n)))) pump(s, d);

  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r) => r.status === "rejected");
  const placed = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  if (explicitIds.size > 0) {
    await Promise.all(
      placed
        .filter((p) => p.at.seg.jobs[p.idx]!.id !== undefined)
        .map((p) => recordId(ctx, p.at.seg.jobs[p.idx]!.id!, refKey(p.at.store, p.at.seq), p.idx)),
    );
  }
  if (failed) {
    if (explicitIds.size > 0 && placed.length === 0) await unreserve(ctx, explicitIds);
    throw failed.reason;
  }
  return placed;
}

/**
 * Puts each job into the batch it is published in, and queues those batches on their destinations
 * (not yet published): an atomic request gets one batch per destination; outside one, a job with a
 * client-chosen id gets a segment of its own, published with a msg id derived from the id; the rest
 * coalesce. Returns each job's placement, in order.
 */
export function stageItems(
  s: ProducerState,
  items: NormalizedEnqueue[],
  atomic: boolean,
): Promise<Placement>[] {
  const atomicBatches = new Map<Destination, Batch>();
  const sealed: Array<[Destination, Batch]> = [];
  const promises = items.map(
    (n) =>
      new Promise<Placement>((resolve, reject) => {
        const d = destinationFor(s, n);
        let ab: Batch | undefined;
        if (atomic) {
          ab = atomicBatches.get(d);
          if (!ab) {
            ab = { items: [], bytes: BATCH_OVERHEAD, atomic: true };
            atomicBatches.set(d, ab);
          }
        }
        const item: Item = { n, json: JSON.stringify(n.spec), resolve, reject };
        if (!ab && n.spec.id !== undefined) {
          sealed.push([d, { items: [item], bytes: BATCH_OVERHEAD + item.json.length, atomic: true }]);
        } else addToBatch(s, d, item, ab);
      }),
  );
  for (const [d, b] of sealed) {
    b.msgId = `id.${b.items[0]!.n.spec.id!}`;
    d.waiting.push(b);
  }
  for (const [d, b] of atomicBatches) {
    if (b.items.length > MAX_SEGMENT_JOBS) {
      const err = new JetjobError(
        ErrorCode.PayloadTooLarge,
        `an atomic batch may hold at most ${MAX_SEGMENT_JOBS} jobs per queue and priority`,
      );
      for (const i of b.items) i.reject(err);
      continue;
    }
    const msgId = batchMsgId(b);
    if (msgId !== undefined) b.msgId = msgId;
    d.waiting.push(b);
  }
  return promises;
}

/** Reserves the client-chosen ids; returns them with the revisions of the reservations. */
export async function reserveIds(s: ProducerState, items: NormalizedEnqueue[]): Promise<Map<string, number>> {
  const ids = items.map((n) => n.spec.id).filter((id): id is string => id !== undefined);
  if (new Set(ids).size !== ids.length) {
    throw new ConflictError("the same job id appears twice in the request", { code: ErrorCode.Duplicate });
  }
  // What this request stores where: a repeat of it may resume an unfinished reservation (its
  // segments carry the same msg ids, so JetStream stores nothing twice); another request may not.
  const request = createHash("sha1")
    .update(items.map((n) => `${n.spec.id ?? ""}@${destinationFor(s, n).subject}`).join("\n"))
    .digest("base64url");
  const reserved = new Map<string, number>();
  try {
    for (const id of ids) reserved.set(id, await reserveId(s.ctx, id, request));
  } catch (err) {
    await unreserve(s.ctx, reserved);
    throw err;
  }
  return reserved;
}

/** The msg id of a batch with client-chosen ids: the same jobs give the same id. */
function batchMsgId(b: Batch): string | undefined {
  const ids = b.items.flatMap((i) => (i.n.spec.id === undefined ? [] : [i.n.spec.id]));
  if (ids.length === 0) return undefined;
  const hash = createHash("sha256").update(`${b.items.length}|${ids.join(",")}`);
  return `ids.${hash.digest("base64url")}`;
}
