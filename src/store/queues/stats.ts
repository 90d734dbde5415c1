/**
 * Queue statistics. Finished jobs come from the counters; jobs still waiting or running are counted
 * exactly by folding the unfinished segments of each lane (those past the lane consumer's ack floor),
 * up to a bound; beyond it the rest is estimated from the consumer's pending count and marked
 * `approximate`.
 */
import { Store } from "../../core/ids.js";
import { JobState } from "../../core/states.js";
import type { ConsumerInfo } from "@nats-io/jetstream";

import type { QueueCounts } from "./counters.js";
import { zeroCounts } from "./counters.js";
import type { ExclusiveKeyView } from "../features/exclusive-view.js";
import { exclusiveKeysForStats } from "../features/exclusive-view.js";
import type { QueueRecord } from "./queues.js";
import type { Services } from "../infra/services.js";
import { scanMessages } from "../../nats/scan.js";
import { decodeSegment } from "../segments/segment.js";
import { queueToken } from "../infra/topology.js";
import { deriveState } from "../jobs/view.js";

export interface QueueStats {
  name: string;
  paused: boolean;
  available: number;
  active: number;
  completed: number;
  discarded: number;
  cancelled: number;
  retried: number;
  expired: number;
  /** Jobs waiting in the delay stream: due later, waiting for a retry, waiting for an exclusive key. */
  scheduled: number;
  retryable: number;
  pending: number;
  rate_limit_per_second?: number;
  /** True when the waiting/running counts were estimated (very long queues). */
  approximate?: boolean;
  /** Exclusive keys held by this queue's jobs, and its jobs waiting for a key (when there are any). */
  exclusive?: { keys_held: number; jobs_waiting: number };
  /**
   * True when `exclusive` could not be read: the scheduler leader, whose sequencer holds the keys,
   * did not answer (none is running, or one is being elected). The other figures are complete.
   */
  exclusive_unknown?: boolean;
  /** Unfinished jobs: available, active, scheduled, retryable and pending (ojs-backpressure §8). */
  depth?: number;
  /** The queue's depth bound, when it has one (backpressure.ts). */
  max_depth?: number;
}

/**
 * Open segments folded per queue statistics read: counts are exact up to this many (a segment holds
 * 1 to 1,024 jobs), estimated beyond it and marked `approximate`.
 */
const MAX_SEGMENTS_SCANNED = 50_000;
/** Journal reads in flight while folding them. */
const JOURNAL_READS_IN_FLIGHT = 64;

/** What a bulk read of all queues' statistics fetches once for all (see {@link allQueueStats}). */
export interface StatsInputs {
  /** Lane consumers by name. */
  consumers?: Map<string, ConsumerInfo>;
  /** Counters by queue token. */
  counts?: Map<string, QueueCounts>;
  /** Exclusive-key figures by queue (queues without any are absent); undefined: unknown. */
  exclusive?: Map<string, { keys_held: number; jobs_waiting: number }> | undefined;
  /** Delay-stream counts by queue (see {@link delayCounts}). */
  delayed?: DelayCounts;
}

/** Jobs waiting in the delay stream, by queue; `complete` false when the scan stopped at its budget. */
export interface DelayCounts {
  /** `available`: jobs waiting for their rate-limit key (view.ts). */
  byQueue: Map<string, { available: number; scheduled: number; retryable: number; pending: number }>;
  complete: boolean;
}

/** Delay segments one statistics read folds at most (beyond it the figures are marked approximate). */
export const DELAY_SCAN_BUDGET = 5000;

/**
 * Counts the jobs waiting in the delay stream (scheduled, retrying, waiting for a key) per queue: one
 * stream read of the delay segments (promoted ones are removed by housekeeping a minute after their
 * due time, so this is about what waits), each folded with its journal.
 */
export async function delayCounts(svc: Services, queue?: string): Promise<DelayCounts> {
  const { ctx } = svc;
  const out: DelayCounts = { byQueue: new Map(), complete: true };
  const msgs = await scanMessages(ctx.nc, ctx.topology.streams.delay, {
    subjects: `${ctx.topology.prefix}.dl.>`,
    max: DELAY_SCAN_BUDGET + 1,
  });
  if (msgs.length > DELAY_SCAN_BUDGET) {
    out.complete = false;
    msgs.length = DELAY_SCAN_BUDGET;
  }
  const now = Date.now();
  for (const m of msgs) {
    let at;
    try {
      at = { store: Store.Delay, seq: m.seq, seg: decodeSegment(m.data) };
    } catch {
      continue;
    }
    if (queue !== undefined && at.seg.q !== queue) continue;
    const { slots } = await ctx.journals.read(Store.Delay, m.seq, at.seg.jobs.length);
    let c = out.byQueue.get(at.seg.q);
    slots.forEach((slot, i) => {
      if (slot.outcome) return;
      const st = deriveState(at, i, slot, now).state;
      if (
        st !== JobState.Scheduled &&
        st !== JobState.Retryable &&
        st !== JobState.Pending &&
        st !== JobState.Available
      )
        return;
      if (!c) out.byQueue.set(at.seg.q, (c = { available: 0, scheduled: 0, retryable: 0, pending: 0 }));
      if (st === JobState.Available) c.available++;
      else if (st === JobState.Scheduled) c.scheduled++;
      else if (st === JobState.Retryable) c.retryable++;
      else c.pending++;
    });
  }
  return out;
}

export async function queueStats(
  svc: Services,
  rec: QueueRecord,
  pre: StatsInputs = {},
): Promise<QueueStats> {
  const { ctx } = svc;
  if (!pre.counts) await svc.counters.flush();
  const counts = pre.counts
    ? (pre.counts.get(queueToken(rec.name)) ?? zeroCounts())
    : await svc.counters.read(rec.name);
  const stats: QueueStats = {
    name: rec.name,
    paused: rec.paused,
    available: 0,
    active: 0,
    completed: counts.completed,
    discarded: counts.discarded + counts.expired,
    cancelled: counts.cancelled,
    retried: counts.retried,
    expired: counts.expired,
    scheduled: 0,
    retryable: 0,
    pending: 0,
  };
  const delayed = pre.delayed ?? (await delayCounts(svc, rec.name));
  const waiting = delayed.byQueue.get(rec.name);
  if (waiting) Object.assign(stats, waiting);
  if (!delayed.complete) stats.approximate = true;
  if (rec.rateLimitPerSecond !== undefined) stats.rate_limit_per_second = rec.rateLimitPerSecond;
  let scanned = 0;
  let scannedJobs = 0;
  let unscanned = 0;
  const now = Date.now();
  for (const priority of rec.lanes) {
    const name = ctx.subjects.laneConsumer(rec.name, priority);
    let info: ConsumerInfo | undefined;
    if (pre.consumers) info = pre.consumers.get(name);
    else {
      try {
        info = await ctx.jsm.consumers.info(ctx.topology.streams.queue, name);
      } catch {
        info = undefined;
      }
    }
    if (!info) continue;
    // Segments past the ack floor: delivered and not acked yet, or not delivered yet.
    const open = info.num_pending + info.num_ack_pending;
    if (open === 0) continue;
    const subject = ctx.subjects.lane(rec.name, priority);
    // The open segments in one stream read, their journals read many at a time (pipelined).
    const budget = MAX_SEGMENTS_SCANNED - scanned;
    const msgs =
      budget > 0
        ? await scanMessages(ctx.nc, ctx.topology.streams.queue, {
            subjects: subject,
            fromSeq: info.ack_floor.stream_seq + 1,
            max: budget,
          })
        : [];
    if (msgs.length >= budget) unscanned += Math.max(0, open - msgs.length);
    for (let k = 0; k < msgs.length; k += JOURNAL_READS_IN_FLIGHT) {
      await Promise.all(
        msgs.slice(k, k + JOURNAL_READS_IN_FLIGHT).map(async (m) => {
          const at = { store: Store.Queue, seq: m.seq, seg: decodeSegment(m.data) };
          scanned++;
          scannedJobs += at.seg.jobs.length;
          const { slots } = await ctx.journals.read(Store.Queue, m.seq, at.seg.jobs.length);
          slots.forEach((sl, i) => {
            if (sl.outcome) return;
            const st = deriveState(at, i, sl, now).state;
            if (st === JobState.Available) stats.available++;
            else if (st === JobState.Active) stats.active++;
          });
        }),
      );
    }
  }
  if (unscanned > 0 && scanned > 0) {
    stats.available += Math.round((scannedJobs / scanned) * unscanned);
    stats.approximate = true;
  }
  // A bulk read brings every queue's figures (undefined: unknown); a single one reads its own.
  const figures =
    "exclusive" in pre
      ? pre.exclusive
      : await exclusiveKeysForStats(svc, { queue: rec.name }).then((keys) => keys && exclusiveByQueue(keys));
  const exclusive = figures?.get(rec.name);
  if (exclusive && (exclusive.keys_held > 0 || exclusive.jobs_waiting > 0)) stats.exclusive = exclusive;
  if (!figures) stats.exclusive_unknown = true;
  stats.depth = stats.available + stats.active + stats.scheduled + stats.retryable + stats.pending;
  if (rec.backpressure) stats.max_depth = rec.backpressure.maxDepth;
  return stats;
}

/**
 * Every queue's statistics, for metrics and overviews: the queue records, lane consumers, counters
 * and exclusive keys are each read once for all queues (10,000 queues: one paged consumer listing
 * and two bucket reads, not four requests per queue), and only lanes with open segments are folded.
 */
export async function allQueueStats(svc: Services): Promise<QueueStats[]> {
  const { ctx } = svc;
  await svc.counters.flush();
  const [recs, counts, keys, delayed] = await Promise.all([
    ctx.queues.list(),
    svc.counters.readAll(),
    exclusiveKeysForStats(svc),
    delayCounts(svc),
  ]);
  const consumers = new Map<string, ConsumerInfo>();
  for await (const ci of ctx.jsm.consumers.list(ctx.topology.streams.queue)) consumers.set(ci.name, ci);
  const out: QueueStats[] = [];
  const pre: StatsInputs = { consumers, counts, exclusive: keys && exclusiveByQueue(keys), delayed };
  for (const rec of recs) out.push(await queueStats(svc, rec, pre));
  return out;
}

/** Keys held by each queue's jobs, and each queue's jobs waiting for a key. */
function exclusiveByQueue(
  keys: ExclusiveKeyView[],
): Map<string, { keys_held: number; jobs_waiting: number }> {
  const byQueue = new Map<string, { keys_held: number; jobs_waiting: number }>();
  const of = (q: string) => {
    let e = byQueue.get(q);
    if (!e) byQueue.set(q, (e = { keys_held: 0, jobs_waiting: 0 }));
    return e;
  };
  for (const k of keys) {
    if (k.holder) of(k.holder.queue).keys_held++;
    for (const [q, n] of Object.entries(k.waiting_by_queue)) of(q).jobs_waiting += n;
  }
  return byQueue;
}
