/**
 * Lifecycle events. Whoever changes a job's state publishes the matching events as one batch per
 * change (a segment, a journal flush) to `<prefix>.ev.<queue>` with a plain core-NATS publish: the
 * bounded events stream stores it without an acknowledgement round trip. Events are for observation
 * (the OJS events list, live streams, dashboards); job state itself lives in segments and journals, so
 * a lost event never loses or changes a job.
 */
import { traceIdOf } from "../../core/tracing.js";
import type { StoreContext } from "../infra/context.js";
import type { SegmentAt } from "../segments/segment.js";
import { jobIdAt } from "../segments/segment.js";

export const EventType = {
  Enqueued: "job.enqueued",
  Scheduled: "job.scheduled",
  Started: "job.started",
  Completed: "job.completed",
  Failed: "job.failed",
  Retrying: "job.retrying",
  Discarded: "job.discarded",
  Cancelled: "job.cancelled",
  Requeued: "job.requeued",
  Expired: "job.expired",
  /** A running job reported progress (ojs-events §4.1; at most one per second per job and process). */
  Progress: "job.progress",
  /** A snapshot of the job's state (first event of a per-job live stream; never stored). */
  State: "job.state",
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/** A stored event (short keys: there are many). */
export interface JobEvent {
  t: EventType;
  at: number;
  id: string;
  /** Job type. */
  jt: string;
  q: string;
  /** Attempt. */
  a?: number;
  /** Duration of the attempt in ms. */
  d?: number;
  /** Worker id. */
  w?: string;
  /** Error code. */
  e?: string;
  /** Trace id of the job's W3C trace context, when it has one. */
  tid?: string;
  /** `job.started`: when the job became ready to run (enqueued, due, or promoted for a retry), epoch ms. */
  qa?: number;
  /** `job.progress`: percent done, 0..100. */
  pp?: number;
  /** `job.progress`: the progress message. */
  pm?: string;
}

/**
 * An event in the ojs-events envelope (§2.2: `specversion`, `id`, `type`, `source`, `time`, `subject`,
 * `data`), with `timestamp` (equal to `time`) kept for jetjob's clients.
 */
export interface EventView {
  specversion: "1.0";
  /** {@link eventId}: unique per event and the same on every read, so SSE clients can resume. */
  id: string;
  type: EventType;
  /** `ojs://jetjob/queues/<queue>`. */
  source: string;
  time: string;
  /** The job id. */
  subject: string;
  datacontenttype: "application/json";
  timestamp: string;
  data: {
    job_id: string;
    job_type: string;
    queue: string;
    attempt?: number;
    duration_ms?: number;
    worker_id?: string;
    error_code?: string;
    state?: string;
    /** The job's W3C trace id, when it has trace context: finds a trace's jobs and results. */
    trace_id?: string;
    /** `job.progress` (ojs-events §4.1). */
    progress_percent?: number;
    progress_message?: string;
    /**
     * `job.started`: when the attempt's wait began (RFC 3339): the enqueue time, or the scheduled time
     * if later, for a first attempt; the time a retry became due for a retry. The wait ends at `time`
     * (the same span `jetjob_job_wait_seconds` observes).
     */
    ready_at?: string;
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Events per published batch. Larger batches are split: V8 builds a large JSON.stringify result as
 * a rope that costs far more to encode (2,000 events: ~10× the time of two batches of 1,000).
 */
const EVENTS_PER_BATCH = 500;

/** Events emitted in the current turn, per connection and queue, published together at its end. */
const pendingEvents = new WeakMap<StoreContext, Map<string, JobEvent[]>>();

/**
 * Publishes events of one queue (fire and forget). Events emitted in the same turn of the event loop
 * go out as one message per queue at the end of it (in the order emitted): ten HTTP acks answered by
 * one journal append make one event message, not ten stored messages.
 */
export function emitEvents(ctx: StoreContext, queue: string, events: JobEvent[]): void {
  if (events.length === 0) return;
  let byQueue = pendingEvents.get(ctx);
  if (!byQueue) {
    pendingEvents.set(ctx, (byQueue = new Map<string, JobEvent[]>()));
    queueMicrotask(() => publishPending(ctx));
  }
  let list = byQueue.get(queue);
  if (!list) byQueue.set(queue, (list = []));
  // Not push(...events): a bulk enqueue's events can be more than a call may take as arguments.
  for (const e of events) list.push(e);
}

function publishPending(ctx: StoreContext): void {
  const byQueue = pendingEvents.get(ctx);
  pendingEvents.delete(ctx);
  if (!byQueue) return;
  try {
    for (const [queue, events] of byQueue) {
      const subject = ctx.subjects.events(queue);
      for (let k = 0; k < events.length; k += EVENTS_PER_BATCH)
        ctx.nc.publish(subject, enc.encode(encodeEvents(queue, events.slice(k, k + EVENTS_PER_BATCH))));
    }
  } catch {
    // A closed connection loses only observability data; job state is unaffected.
  }
}

/** Event types by their code in the wire form (append only: stored batches keep their codes). */
const TYPE_BY_CODE: readonly EventType[] = [
  EventType.Enqueued,
  EventType.Scheduled,
  EventType.Started,
  EventType.Completed,
  EventType.Failed,
  EventType.Retrying,
  EventType.Discarded,
  EventType.Cancelled,
  EventType.Requeued,
  EventType.Expired,
  EventType.State,
  EventType.Progress,
];
const CODE_BY_TYPE = new Map<string, number>(TYPE_BY_CODE.map((t, i) => [t, i]));

/**
 * The wire form of a batch (there are three events per job, so it is compact): `{"v":2,"q":queue,
 * "e":[row...]}` with each row `[type code, at, id, jt, a, d, w, e, tid, qa, q, pp, pm]`, absent fields null
 * and trailing ones left out; `q` only when it is not the batch's queue. Version 1 batches (a JSON
 * array of event objects) are still read.
 */
export function encodeEvents(queue: string, events: JobEvent[]): string {
  const rows = events.map((e) => {
    const row: unknown[] = [
      CODE_BY_TYPE.get(e.t) ?? e.t,
      e.at,
      e.id,
      e.jt,
      e.a ?? null,
      e.d ?? null,
      e.w ?? null,
      e.e ?? null,
      e.tid ?? null,
      e.qa ?? null,
      e.q === queue ? null : e.q,
      e.pp ?? null,
      e.pm ?? null,
    ];
    let n = row.length;
    while (n > 4 && row[n - 1] === null) n--;
    row.length = n;
    return row;
  });
  return JSON.stringify({ v: 2, q: queue, e: rows });
}

export function toEventView(e: JobEvent): EventView {
  const data: EventView["data"] = { job_id: e.id, job_type: e.jt, queue: e.q };
  if (e.a !== undefined) data.attempt = e.a;
  if (e.d !== undefined) data.duration_ms = e.d;
  if (e.w !== undefined) data.worker_id = e.w;
  if (e.e !== undefined) data.error_code = e.e;
  if (e.tid !== undefined) data.trace_id = e.tid;
  if (e.pp !== undefined) data.progress_percent = e.pp;
  if (e.pm !== undefined) data.progress_message = e.pm;
  if (e.qa !== undefined && Number.isFinite(e.qa)) data.ready_at = new Date(e.qa).toISOString();
  return envelope(eventId(e), e.t, e.at, data);
}

/** The ojs-events envelope around an event's data. */
export function envelope(id: string, type: EventType, atMs: number, data: EventView["data"]): EventView {
  const time = new Date(atMs).toISOString();
  return {
    specversion: "1.0",
    id,
    type,
    source: `ojs://jetjob/queues/${data.queue}`,
    time,
    subject: data.job_id,
    datacontenttype: "application/json",
    timestamp: time,
    data,
  };
}

/**
 * An event's id, derived from what the event is (its time, job, type and attempt) rather than where
 * it is stored, so the list, live streams and NATS give the same event the same id, and the time in
 * it says where to resume (`Last-Event-ID`, {@link eventIdTime}).
 */
export function eventId(e: JobEvent): string {
  return `evt_${e.at}_${e.id}_${e.t}_${e.a ?? 0}`;
}

/** The time (epoch ms) in an id made by {@link eventId}, or undefined for anything else. */
export function eventIdTime(id: string): number | undefined {
  const m = /^evt_(\d{1,15})_/.exec(id);
  return m ? Number(m[1]) : undefined;
}

/**
 * Decodes a batch, keeping only well-formed events: listeners run inside NATS callbacks, where a throw
 * (`toEventView` on a bad time) would close the connection.
 */
export function decodeEvents(data: Uint8Array): JobEvent[] {
  try {
    const v = JSON.parse(dec.decode(data)) as unknown;
    if (Array.isArray(v)) return (v as unknown[]).filter(isJobEvent);
    const batch = v as { v?: unknown; q?: unknown; e?: unknown };
    if (batch?.v !== 2 || typeof batch.q !== "string" || !Array.isArray(batch.e)) return [];
    const queue = batch.q;
    const out: JobEvent[] = [];
    for (const row of batch.e as unknown[]) {
      const e = fromRow(queue, row);
      if (e !== undefined && isJobEvent(e)) out.push(e);
    }
    return out;
  } catch {
    return [];
  }
}

function fromRow(queue: string, row: unknown): JobEvent | undefined {
  if (!Array.isArray(row)) return undefined;
  const r = row as unknown[];
  const t = typeof r[0] === "number" ? TYPE_BY_CODE[r[0]] : r[0];
  const e = { t, at: r[1], id: r[2], jt: r[3], q: r[10] ?? queue } as JobEvent;
  if (typeof r[4] === "number") e.a = r[4];
  if (typeof r[5] === "number") e.d = r[5];
  if (typeof r[6] === "string") e.w = r[6];
  if (typeof r[7] === "string") e.e = r[7];
  if (typeof r[8] === "string") e.tid = r[8];
  if (typeof r[9] === "number") e.qa = r[9];
  if (typeof r[11] === "number") e.pp = r[11];
  if (typeof r[12] === "string") e.pm = r[12];
  return e;
}

function isJobEvent(e: unknown): e is JobEvent {
  if (typeof e !== "object" || e === null) return false;
  const o = e as Record<string, unknown>;
  return (
    typeof o.t === "string" &&
    typeof o.id === "string" &&
    typeof o.jt === "string" &&
    typeof o.q === "string" &&
    typeof o.at === "number" &&
    !Number.isNaN(new Date(o.at).getTime())
  );
}

/** The event of job `i` of a segment (with its trace id, and for `started` the time it was queued). */
export function event(
  at: SegmentAt,
  i: number,
  t: JobEvent["t"],
  now: number,
  a?: number,
  e?: string,
): JobEvent {
  const ev: JobEvent = { t, at: now, id: jobIdAt(at, i), jt: at.seg.jobs[i]!.type, q: at.seg.q };
  if (a !== undefined) ev.a = a;
  if (e !== undefined) ev.e = e;
  const tp = at.seg.jobs[i]!.traceparent;
  if (tp !== undefined) ev.tid = traceIdOf(tp);
  if (t === EventType.Started) {
    // For wait-time metrics. A retry's queue segment is written when it becomes due; a first attempt
    // keeps its enqueue time (`createdAt` on moved copies) and its `scheduledAt` through every move.
    const spec = at.seg.jobs[i]!;
    ev.qa = spec.attempt ? at.seg.ts : Math.max(spec.createdAt ?? at.seg.ts, spec.scheduledAt ?? 0);
  }
  return ev;
}
