/**
 * Throughput and latency for the OJS Admin API's statistics (ojs-admin-api §10), counted from the
 * lifecycle events stored in the events stream (store/jobs/events.ts; kept 24 h and 64 MiB by default), so
 * every API server answers the same and nothing is counted on the hot path. Per bucket of time:
 * - `enqueued`: `job.enqueued` events;
 * - `completed`: `job.completed`; `failed`: `job.failed` (every failed attempt);
 * - `processed`: attempts that finished, completed + failed;
 * - latency: how long started jobs waited to start (`job.started`: start − ready), p50/p99/mean.
 *
 * A read is bounded ({@link EVENT_BATCHES_MAX} stored batches, each many events); a window with more
 * is counted from its start up to the bound and marked `approximate` (a last-minute rate is then
 * scaled from the part it covered). History reaches back only as far as the events stream still holds
 * events: 24 h or 64 MiB by default, whichever comes first (a busy server keeps minutes, not hours).
 */
import { scanMessages } from "../nats/scan.js";
import type { Engine } from "../store/engine.js";
import type { JobEvent } from "../store/jobs/events.js";
import { decodeEvents, EventType } from "../store/jobs/events.js";

/** Stored event batches one statistics read decodes at most. */
export const EVENT_BATCHES_MAX = 20_000;
/** The same for a last-minute rate, read on every dashboard poll (beyond it: scaled, see {@link perMinute}). */
export const MINUTE_BATCHES_MAX = 5_000;

export interface Bucket {
  /** Start of the bucket, epoch ms. */
  start: number;
  enqueued: number;
  completed: number;
  failed: number;
  /** Waits of the jobs that started in the bucket (ms). */
  waits: number[];
}

export interface EventCounts {
  buckets: Bucket[];
  /** Per queue over the whole window, when asked for (`byQueue`). */
  queues?: Map<string, Omit<Bucket, "start">>;
  /** The read stopped at its bound before the end of the window. */
  approximate: boolean;
  /** Where the counted events end: `untilMs`, or the last batch read when the read was bounded. */
  coveredUntilMs: number;
}

/** Counts the stored events of `[sinceMs, untilMs)` in buckets of `bucketMs` (of one queue, or all). */
export async function countEvents(
  engine: Engine,
  o: {
    sinceMs: number;
    untilMs: number;
    bucketMs: number;
    queue?: string;
    byQueue?: boolean;
    /** @defaultValue {@link EVENT_BATCHES_MAX} */
    maxBatches?: number;
  },
): Promise<EventCounts> {
  const { ctx } = engine;
  const n = Math.max(1, Math.ceil((o.untilMs - o.sinceMs) / o.bucketMs));
  const buckets: Bucket[] = Array.from({ length: n }, (_, i) => ({
    start: o.sinceMs + i * o.bucketMs,
    enqueued: 0,
    completed: 0,
    failed: 0,
    waits: [],
  }));
  const subjects = o.queue === undefined ? ctx.subjects.eventsAll() : ctx.subjects.events(o.queue);
  const msgs = await scanMessages(ctx.nc, ctx.topology.streams.events, {
    subjects,
    fromTimeMs: o.sinceMs,
    max: o.maxBatches ?? EVENT_BATCHES_MAX,
  });
  const queues = o.byQueue === true ? new Map<string, Omit<Bucket, "start">>() : undefined;
  const add = (b: Omit<Bucket, "start">, e: JobEvent) => {
    if (e.t === EventType.Enqueued) b.enqueued++;
    else if (e.t === EventType.Completed) b.completed++;
    else if (e.t === EventType.Failed) b.failed++;
    else if (e.t === EventType.Started && e.qa !== undefined) b.waits.push(Math.max(0, e.at - e.qa));
  };
  for (const m of msgs) {
    for (const e of decodeEvents(m.data)) {
      if (e.at < o.sinceMs || e.at >= o.untilMs) continue;
      if (o.queue !== undefined && e.q !== o.queue) continue;
      const b = buckets[Math.floor((e.at - o.sinceMs) / o.bucketMs)];
      if (!b) continue;
      add(b, e);
      if (queues) {
        let q = queues.get(e.q);
        if (!q) queues.set(e.q, (q = { enqueued: 0, completed: 0, failed: 0, waits: [] }));
        add(q, e);
      }
    }
  }
  const last = msgs.at(-1);
  // Bounded: the read stopped before `untilMs` (a batch at or after it would have been read next).
  const approximate =
    msgs.length >= (o.maxBatches ?? EVENT_BATCHES_MAX) && last !== undefined && last.timeMs < o.untilMs;
  const coveredUntilMs = approximate ? last.timeMs : o.untilMs;
  return queues ? { buckets, approximate, coveredUntilMs, queues } : { buckets, approximate, coveredUntilMs };
}

/**
 * Per-minute rates from a bounded count of the last minute: when the read stopped early, the counts
 * of the part it covered, scaled to the whole minute (an estimate, marked `approximate` by callers).
 */
export function perMinute(c: EventCounts, sinceMs: number, untilMs: number): (n: number) => number {
  if (!c.approximate || c.coveredUntilMs <= sinceMs) return (n) => n;
  const scale = (untilMs - sinceMs) / (c.coveredUntilMs - sinceMs);
  return (n) => Math.round(n * scale);
}

/** The `q`-quantile (0..1) of `xs` (sorted in place), or undefined for none. */
export function quantile(xs: number[], q: number): number | undefined {
  if (xs.length === 0) return undefined;
  xs.sort((a, b) => a - b);
  return xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];
}

export function mean(xs: readonly number[]): number | undefined {
  return xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** The periods of `GET /admin/stats/history` (§10.2), in ms. */
export const historyPeriods: Readonly<Record<string, number>> = {
  "1m": 60_000,
  "5m": 300_000,
  "15m": 900_000,
  "1h": 3_600_000,
  "1d": 86_400_000,
};

/**
 * A time from a query: RFC 3339, or a span back from now (`24h`, `30m`, `7d`, `90s`; the OJS CLI's
 * `--since 24h`). Undefined when absent; NaN when it does not parse.
 */
export function timeOrAgo(v: string | undefined, nowMs: number): number | undefined {
  if (v === undefined || v === "") return undefined;
  const m = /^(\d+)(s|m|h|d)$/.exec(v);
  if (m) return nowMs - Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s"];
  return Date.parse(v);
}
