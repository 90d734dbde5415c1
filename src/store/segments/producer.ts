/**
 * The producer turns enqueues into segments. Jobs for the same destination (queue lane, or delay
 * bucket and due time) that arrive while a publish to that destination is in flight are coalesced
 * into the next segment, so under load one write carries many jobs; with no load every job is
 * published at once (no added latency). Order per destination is kept: segments are published in
 * order over one connection and JetStream stores them in that order.
 */
import { createHash } from "node:crypto";

import type { NormalizedEnqueue } from "../../core/envelope.js";
import { ConflictError, ErrorCode, JetjobError } from "../../core/errors.js";
import { MAX_SEGMENT_JOBS, Store, segmentRandom } from "../../core/ids.js";
import { traceIdOf } from "../../core/tracing.js";
import type { PubAck } from "../../nats/publisher.js";
import type { StoreContext } from "../infra/context.js";
import type { JobEvent } from "../jobs/events.js";
import { EventType, emitEvents } from "../jobs/events.js";
import type { SegmentAt } from "./segment.js";
import { decodeSegment, indexOfJob, jobIdAt, refKey } from "./segment.js";
import { recordId, reserveId, unreserve } from "../jobs/id-index.js";
import { keyToken } from "../infra/topology.js";

/** Where an enqueued job was stored. */
export interface Placement {
  at: SegmentAt;
  idx: number;
}

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

interface Item {
  n: NormalizedEnqueue;
  json: string;
  resolve(p: Placement): void;
  reject(err: unknown): void;
}

interface Batch {
  items: Item[];
  bytes: number;
  /** Stored as it is: never merged with other enqueues, never split. */
  atomic: boolean;
  /**
   * `Nats-Msg-Id` of a batch with client-chosen ids (see {@link RESUME_MS}): a repeated enqueue of
   * the same jobs after a crash stores nothing new.
   */
  msgId?: string;
}

interface Destination {
  store: Store;
  subject: string;
  queue: string;
  priority: number;
  due?: number;
  inflight: number;
  waiting: Batch[];
}

const enc = new TextEncoder();

export function createProducer(ctx: StoreContext, options: ProducerOptions = {}): Producer {
  const maxJobs = Math.min(options.maxSegmentJobs ?? 256, MAX_SEGMENT_JOBS);
  const maxInflight = options.maxInflightPerDestination ?? 2;
  const destinations = new Map<string, Destination>();
  const inProgress = new Set<Promise<unknown>>();

  function maxBytes(): number {
    const serverMax = ctx.nc.info?.max_payload ?? 1024 * 1024;
    return Math.floor(serverMax * 0.9) - 512;
  }

  /**
   * Where a job is written: its queue lane; a delay bucket when it is scheduled; or, with an exclusive
   * key, the key's hold subject, where it waits until the key is its own (exclusive.ts).
   */
  function destinationFor(n: NormalizedEnqueue): Destination {
    const { queue, priority } = n;
    if (n.runAtMs !== undefined) {
      const due = n.runAtMs;
      return destination(`d|${queue}|${priority}|${due}`, () => ({
        store: Store.Delay,
        subject: ctx.subjects.delayBucket(Math.floor(due / 60_000)),
        due,
      }));
    }
    if (n.spec.xkey !== undefined) {
      const token = keyToken(n.spec.xkey);
      return destination(`h|${queue}|${priority}|${token}`, () => ({
        store: Store.Delay,
        subject: ctx.subjects.hold(token),
      }));
    }
    return destination(`q|${queue}|${priority}`, () => ({
      store: Store.Queue,
      subject: ctx.subjects.lane(queue, priority),
    }));

    function destination(
      key: string,
      where: () => Pick<Destination, "store" | "subject" | "due">,
    ): Destination {
      let d = destinations.get(key);
      if (!d) {
        d = { ...where(), queue, priority, inflight: 0, waiting: [] };
        destinations.set(key, d);
      }
      return d;
    }
  }

  function add(d: Destination, item: Item, atomicBatch: Batch | undefined): void {
    if (atomicBatch) {
      atomicBatch.items.push(item);
      atomicBatch.bytes += item.json.length + 1;
      return;
    }
    let b = d.waiting[d.waiting.length - 1];
    if (!b || b.atomic || b.items.length >= maxJobs || b.bytes + item.json.length + 1 > maxBytes()) {
      b = { items: [], bytes: 256, atomic: false };
      d.waiting.push(b);
    }
    b.items.push(item);
    b.bytes += item.json.length + 1;
  }

  function pump(d: Destination): void {
    while (d.inflight < maxInflight && d.waiting.length > 0) {
      const b = d.waiting.shift()!;
      d.inflight++;
      const p = publishBatch(d, b).finally(() => {
        d.inflight--;
        inProgress.delete(p);
        pump(d);
      });
      inProgress.add(p);
    }
  }

  async function publishBatch(d: Destination, b: Batch): Promise<void> {
    const ts = Date.now();
    const r = segmentRandom();
    const head = `{"v":1,"ts":${ts},"r":${r},"q":${JSON.stringify(d.queue)},"p":${d.priority}${
      d.due === undefined ? "" : `,"due":${d.due}`
    },"jobs":[`;
    const body = head + b.items.map((i) => i.json).join(",") + "]}";
    let ack: PubAck;
    try {
      if (body.length > maxBytes() + 512) {
        throw new JetjobError(
          ErrorCode.PayloadTooLarge,
          `the batch is ${body.length} bytes; the limit is ${maxBytes()}`,
        );
      }
      ack = await ctx.publisher.publish(
        d.subject,
        enc.encode(body),
        b.msgId === undefined ? undefined : { msgId: b.msgId },
      );
      if (ack.duplicate) await adoptStored(d, ack.seq);
    } catch (err) {
      for (const i of b.items) i.reject(err);
      return;
    }
    const seg = {
      v: 1 as const,
      ts,
      r,
      q: d.queue,
      p: d.priority,
      ...(d.due === undefined ? {} : { due: d.due }),
      jobs: b.items.map((i) => i.n.spec),
    };
    const at: SegmentAt = { store: d.store, seq: ack.seq, seg };
    const events: JobEvent[] = [];
    const type = d.due !== undefined ? EventType.Scheduled : EventType.Enqueued;
    b.items.forEach((item, idx) => {
      const ev: JobEvent = {
        t: type,
        at: ts,
        id: jobIdAt(at, idx),
        jt: item.n.spec.type,
        q: d.queue,
        a: item.n.spec.attempt ?? 0,
      };
      if (item.n.spec.traceparent !== undefined) ev.tid = traceIdOf(item.n.spec.traceparent);
      events.push(ev);
      item.resolve({ at, idx });
    });
    emitEvents(ctx, d.queue, events);
  }

  /**
   * JetStream answered that this batch is stored already (same msg id): an earlier enqueue of these
   * jobs got through before it died or timed out. Records where the jobs are, so they can be found by
   * id, and refuses the batch as a duplicate.
   */
  async function adoptStored(d: Destination, seq: number): Promise<never> {
    const stream = d.store === Store.Queue ? ctx.topology.streams.queue : ctx.topology.streams.delay;
    const m = await ctx.reader.get(stream, { seq });
    const at: SegmentAt | undefined = m ? { store: d.store, seq, seg: decodeSegment(m.data) } : undefined;
    const ids = at ? at.seg.jobs.flatMap((j) => (j.id === undefined ? [] : [j.id])) : [];
    await Promise.all(ids.map((id) => recordId(ctx, id, refKey(d.store, seq), indexOfJob(at!, id))));
    throw new ConflictError(`these jobs were stored already (${ids.join(", ")})`, {
      code: ErrorCode.Duplicate,
      details: { job_ids: ids },
    });
  }

  /** Reserves the client-chosen ids; returns them with the revisions of the reservations. */
  async function reserveIds(items: NormalizedEnqueue[]): Promise<Map<string, number>> {
    const ids = items.map((n) => n.spec.id).filter((id): id is string => id !== undefined);
    if (new Set(ids).size !== ids.length) {
      throw new ConflictError("the same job id appears twice in the request", { code: ErrorCode.Duplicate });
    }
    // What this request stores where: a repeat of it may resume an unfinished reservation (its
    // segments carry the same msg ids, so JetStream stores nothing twice); another request may not.
    const request = createHash("sha1")
      .update(items.map((n) => `${n.spec.id ?? ""}@${destinationFor(n).subject}`).join("\n"))
      .digest("base64url");
    const reserved = new Map<string, number>();
    try {
      for (const id of ids) reserved.set(id, await reserveId(ctx, id, request));
    } catch (err) {
      await unreserve(ctx, reserved);
      throw err;
    }
    return reserved;
  }

  /** One job without a client-chosen id (the common `enqueue()` call): none of the batch bookkeeping. */
  async function enqueueOne(n: NormalizedEnqueue): Promise<Placement[]> {
    if (!ctx.queues.laneKnown(n.queue, n.priority)) await ctx.queues.ensureLane(n.queue, n.priority);
    const d = destinationFor(n);
    const placed = new Promise<Placement>((resolve, reject) =>
      add(d, { n, json: JSON.stringify(n.spec), resolve, reject }, undefined),
    );
    pump(d);
    return [await placed];
  }

  return {
    async enqueue(items, opts = {}) {
      if (items.length === 0) return [];
      if (items.length === 1 && !opts.atomic && items[0]!.spec.id === undefined) return enqueueOne(items[0]!);
      const lanes = new Map<string, NormalizedEnqueue>();
      for (const n of items) lanes.set(`${n.queue}|${n.priority}`, n);
      await Promise.all([...lanes.values()].map((n) => ctx.queues.ensureLane(n.queue, n.priority)));
      const explicitIds = await reserveIds(items);

      const atomicBatches = new Map<Destination, Batch>();
      const sealed: Array<[Destination, Batch]> = [];
      const promises = items.map(
        (n) =>
          new Promise<Placement>((resolve, reject) => {
            const d = destinationFor(n);
            let ab: Batch | undefined;
            if (opts.atomic) {
              ab = atomicBatches.get(d);
              if (!ab) {
                ab = { items: [], bytes: 256, atomic: true };
                atomicBatches.set(d, ab);
              }
            }
            const item: Item = { n, json: JSON.stringify(n.spec), resolve, reject };
            if (!ab && n.spec.id !== undefined) {
              // A client-chosen id gets a segment of its own, published with a msg id derived from it.
              sealed.push([d, { items: [item], bytes: 256 + item.json.length, atomic: true }]);
            } else add(d, item, ab);
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
      for (const d of new Set(items.map(destinationFor))) pump(d);

      const settled = await Promise.allSettled(promises);
      const failed = settled.find((s) => s.status === "rejected");
      const placed = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
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
    },
    async flush() {
      while (inProgress.size > 0) await Promise.allSettled([...inProgress]);
    },
  };
}

/** The msg id of a batch with client-chosen ids: the same jobs give the same id. */
function batchMsgId(b: Batch): string | undefined {
  const ids = b.items.flatMap((i) => (i.n.spec.id === undefined ? [] : [i.n.spec.id]));
  if (ids.length === 0) return undefined;
  const hash = createHash("sha256").update(`${b.items.length}|${ids.join(",")}`);
  return `ids.${hash.digest("base64url")}`;
}
