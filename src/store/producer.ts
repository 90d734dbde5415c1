/**
 * The producer turns enqueues into segments. Jobs for the same destination (queue lane, or delay
 * bucket and due time) that arrive while a publish to that destination is in flight are coalesced
 * into the next segment, so under load one write carries many jobs; with no load every job is
 * published at once (no added latency). Order per destination is kept: segments are published in
 * order over one connection and JetStream stores them in that order.
 */
import type { NormalizedEnqueue } from "../core/envelope.js";
import { ConflictError, ErrorCode, JetjobError } from "../core/errors.js";
import { MAX_SEGMENT_JOBS, Store, segmentRandom } from "../core/ids.js";
import { traceIdOf } from "../core/tracing.js";
import type { PubAck } from "../nats/publisher.js";
import type { StoreContext } from "./context.js";
import type { JobEvent } from "./events.js";
import { EventType, emitEvents } from "./events.js";
import type { SegmentAt } from "./segment.js";
import { jobIdAt, refKey } from "./segment.js";
import { keyToken } from "./topology.js";

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
  atomic: boolean;
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
      ack = await ctx.publisher.publish(d.subject, enc.encode(body));
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

  async function reserveIds(items: NormalizedEnqueue[]): Promise<string[]> {
    const ids = items.map((n) => n.spec.id).filter((id): id is string => id !== undefined);
    if (new Set(ids).size !== ids.length) {
      throw new ConflictError("the same job id appears twice in the request", { code: ErrorCode.Duplicate });
    }
    const reserved: string[] = [];
    try {
      for (const id of ids) {
        await reserveId(ctx, id);
        reserved.push(id);
      }
    } catch (err) {
      await Promise.all(reserved.map((id) => ctx.buckets.ids.delete(id).catch(() => undefined)));
      throw err;
    }
    return ids;
  }

  return {
    async enqueue(items, opts = {}) {
      if (items.length === 0) return [];
      const lanes = new Map<string, NormalizedEnqueue>();
      for (const n of items) lanes.set(`${n.queue}|${n.priority}`, n);
      await Promise.all([...lanes.values()].map((n) => ctx.queues.ensureLane(n.queue, n.priority)));
      const explicitIds = await reserveIds(items);

      const atomicBatches = new Map<Destination, Batch>();
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
            add(d, { n, json: JSON.stringify(n.spec), resolve, reject }, ab);
          }),
      );
      for (const [d, b] of atomicBatches) {
        if (b.items.length > MAX_SEGMENT_JOBS) {
          const err = new JetjobError(
            ErrorCode.PayloadTooLarge,
            `an atomic batch may hold at most ${MAX_SEGMENT_JOBS} jobs per queue and priority`,
          );
          for (const i of b.items) i.reject(err);
          continue;
        }
        d.waiting.push(b);
      }
      for (const d of new Set(items.map(destinationFor))) pump(d);

      const settled = await Promise.allSettled(promises);
      const failed = settled.find((s) => s.status === "rejected");
      const placed = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
      if (explicitIds.length > 0) {
        await Promise.all(
          placed
            .filter((p) => p.at.seg.jobs[p.idx]!.id !== undefined)
            .map((p) => recordId(ctx, p.at.seg.jobs[p.idx]!.id!, refKey(p.at.store, p.at.seq), p.idx)),
        );
      }
      if (failed) {
        if (explicitIds.length > 0 && placed.length === 0) {
          await Promise.all(explicitIds.map((id) => ctx.buckets.ids.delete(id).catch(() => undefined)));
        }
        throw failed.reason;
      }
      return placed;
    },
    async flush() {
      while (inProgress.size > 0) await Promise.allSettled([...inProgress]);
    },
  };
}

const RESERVATION_GRACE_MS = 60_000;

/** An id index entry: where a job with a client-chosen id lives, or a reservation before it is stored. */
export interface IdRecord {
  ref?: string;
  ti?: number;
  reservedAt: number;
}

async function reserveId(ctx: StoreContext, id: string): Promise<void> {
  const value = enc.encode(JSON.stringify({ reservedAt: Date.now() } satisfies IdRecord));
  try {
    await ctx.buckets.ids.create(id, value);
    return;
  } catch {
    // Exists: a real job, or a reservation whose enqueue died before storing the job.
  }
  const e = await ctx.buckets.ids.get(id);
  if (e && e.operation === "PUT") {
    const rec = JSON.parse(new TextDecoder().decode(e.value)) as IdRecord;
    if (rec.ref === undefined && Date.now() - rec.reservedAt > RESERVATION_GRACE_MS) {
      await ctx.buckets.ids.update(id, value, e.revision);
      return;
    }
  }
  throw new ConflictError(`a job with id '${id}' already exists`, {
    code: ErrorCode.Duplicate,
    details: { job_id: id },
  });
}

async function recordId(ctx: StoreContext, id: string, ref: string, ti: number): Promise<void> {
  await ctx.buckets.ids.put(
    id,
    enc.encode(JSON.stringify({ ref, ti, reservedAt: Date.now() } satisfies IdRecord)),
  );
}
