/**
 * Publishing the producer's batches (producer.ts, batches.ts): at most `maxInflight` publishes per
 * destination at a time, in order, each batch one segment; then each job's placement is handed back
 * to its enqueue and its lifecycle event is emitted. A batch JetStream says it stored already (the
 * same msg id, a repeated enqueue of client-chosen ids) has its jobs recorded in the id index and is
 * refused as a duplicate.
 */
import { ConflictError, ErrorCode, JetjobError } from "../../core/errors.js";
import { Store, segmentRandom } from "../../core/ids.js";
import { traceIdOf } from "../../core/tracing.js";
import type { PubAck } from "../../nats/publisher.js";
import type { StoreContext } from "../infra/context.js";
import type { JobEvent } from "../jobs/events.js";
import { EventType, emitEvents } from "../jobs/events.js";
import { recordId } from "../jobs/id-index.js";
import type { Batch, Destination, ProducerState } from "./batches.js";
import { maxBatchBytes } from "./batches.js";
import type { SegmentAt } from "./segment.js";
import { decodeSegment, indexOfJob, jobIdAt, refKey } from "./segment.js";

const enc = new TextEncoder();

/** Starts publishing a destination's waiting batches, up to its limit of publishes in flight. */
export function pump(s: ProducerState, d: Destination): void {
  while (d.inflight < s.maxInflight && d.waiting.length > 0) {
    const b = d.waiting.shift()!;
    d.inflight++;
    const p = publishBatch(s.ctx, d, b).finally(() => {
      d.inflight--;
      s.inProgress.delete(p);
      pump(s, d);
    });
    s.inProgress.add(p);
  }
}

/** Publishes one batch as a segment and settles its jobs' enqueues (never throws). */
export async function publishBatch(ctx: StoreContext, d: Destination, b: Batch): Promise<void> {
  const ts = Date.now();
  const r = segmentRandom();
  const head = `{"v":1,"ts":${ts},"r":${r},"q":${JSON.stringify(d.queue)},"p":${d.priority}${
    d.due === undefined ? "" : `,"due":${d.due}`
  },"jobs":[`;
  const body = head + b.items.map((i) => i.json).join(",") + "]}";
  let ack: PubAck;
  try {
    if (body.length > maxBatchBytes(ctx) + 512) {
      throw new JetjobError(
        ErrorCode.PayloadTooLarge,
        `the batch is ${body.length} bytes; the limit is ${maxBatchBytes(ctx)}`,
      );
    }
    ack = await ctx.publisher.publish(
      d.subject,
      enc.encode(body),
      b.msgId === undefined ? undefined : { msgId: b.msgId },
    );
    if (ack.duplicate) await adoptStored(ctx, d, ack.seq);
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
  emitEvents(ctx, d.queue, placeItems(d, b, at));
}

/** Hands each job of a stored batch its placement; returns their lifecycle events. */
export function placeItems(d: Destination, b: Batch, at: SegmentAt): JobEvent[] {
  const events: JobEvent[] = [];
  const type = d.due !== undefined ? EventType.Scheduled : EventType.Enqueued;
  const ts = at.seg.ts;
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
  return events;
}

/**
 * JetStream answered that this batch is stored already (same msg id): an earlier enqueue of these
 * jobs got through before it died or timed out. Records where the jobs are, so they can be found by
 * id, and refuses the batch as a duplicate.
 */
export async function adoptStored(ctx: StoreContext, d: Destination, seq: number): Promise<never> {
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
