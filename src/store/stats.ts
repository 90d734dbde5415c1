/**
 * Queue statistics. Finished jobs come from the counters; jobs still waiting or running are counted
 * exactly by folding the unfinished segments of each lane (those past the lane consumer's ack floor),
 * up to a bound; beyond it the rest is estimated from the consumer's pending count and marked
 * `approximate`.
 */
import { Store } from "../core/ids.js";
import { JobState } from "../core/states.js";
import { exclusiveQueueStats } from "./exclusive-view.js";
import type { QueueRecord } from "./queues.js";
import type { Services } from "./services.js";
import { deriveState } from "./view.js";

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
  rate_limit_per_second?: number;
  /** True when the waiting/running counts were estimated (very long queues). */
  approximate?: boolean;
  /** Exclusive keys held by this queue's jobs, and its jobs waiting for a key (when there are any). */
  exclusive?: { keys_held: number; jobs_waiting: number };
}

const MAX_SEGMENTS_SCANNED = 2000;

export async function queueStats(svc: Services, rec: QueueRecord): Promise<QueueStats> {
  const { ctx } = svc;
  await svc.counters.flush();
  const counts = await svc.counters.read(rec.name);
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
  };
  if (rec.rateLimitPerSecond !== undefined) stats.rate_limit_per_second = rec.rateLimitPerSecond;
  let scanned = 0;
  let scannedJobs = 0;
  let unscanned = 0;
  const now = Date.now();
  for (const priority of rec.lanes) {
    let info;
    try {
      info = await ctx.jsm.consumers.info(
        ctx.topology.streams.queue,
        ctx.subjects.laneConsumer(rec.name, priority),
      );
    } catch {
      continue;
    }
    const subject = ctx.subjects.lane(rec.name, priority);
    let seq = info.ack_floor.stream_seq + 1;
    for (;;) {
      if (scanned >= MAX_SEGMENTS_SCANNED) {
        unscanned += info.num_pending + info.num_ack_pending;
        break;
      }
      const m = await ctx.reader.get(ctx.topology.streams.queue, { nextBySubject: subject, seq });
      if (!m) break;
      seq = m.seq + 1;
      const at = await svc.locator.segment(Store.Queue, m.seq);
      if (!at) continue;
      scanned++;
      scannedJobs += at.seg.jobs.length;
      const { slots } = await ctx.journals.read(Store.Queue, m.seq, at.seg.jobs.length);
      slots.forEach((s, i) => {
        if (s.outcome) return;
        const st = deriveState(at, i, s, now).state;
        if (st === JobState.Available) stats.available++;
        else if (st === JobState.Active) stats.active++;
      });
    }
  }
  if (unscanned > 0 && scanned > 0) {
    stats.available += Math.round((scannedJobs / scanned) * unscanned);
    stats.approximate = true;
  }
  const exclusive = await exclusiveQueueStats(svc, rec.name);
  if (exclusive.keys_held > 0 || exclusive.jobs_waiting > 0) stats.exclusive = exclusive;
  return stats;
}
