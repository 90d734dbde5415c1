/**
 * Backpressure (ojs-backpressure): a queue may have a depth bound (`max_depth`, set with
 * `PUT /ojs/v1/admin/queues/{name}/config` or `jetjob queue config`); an enqueue that would take the
 * queue past it is refused whole (429 `QUEUE_FULL`, strategy `reject`; a batch is refused entirely,
 * §9.3) and nothing is stored.
 *
 * The depth is the queue's unfinished jobs (waiting, scheduled, retrying, pending and running), taken
 * from the counters every process keeps (counters.ts): jobs stored minus jobs finished. A bounded
 * enqueue costs one KV read; an unbounded one nothing. What this process has not flushed yet is
 * added, and enqueues in flight here hold their room until they are stored, so on one API server
 * the bound is exact. Across API servers it is as exact as the counters: another server's last
 * half second of enqueues (its flush interval) may not be seen yet, so the bound may be passed by
 * that much; finished jobs are likewise seen up to half a second late, which only refuses early.
 * Jobs stored by a jetjob older than these counters are not counted.
 */
import { ErrorCode, JetjobError } from "../../core/errors.js";
import type { NormalizedEnqueue } from "../../core/envelope.js";
import type { QueueCounts } from "./counters.js";
import type { Services } from "../infra/services.js";

/** Seconds a refused producer is told to wait (`Retry-After`). */
export const RETRY_AFTER_S = 1;

/** A bounded queue's depth after an accepted enqueue, for the pressure headers (§7.3). */
export interface QueuePressure {
  queue: string;
  depth: number;
  bound: number;
  /** depth / bound, 0..1. */
  pressure: number;
  /** At or past the queue's warning threshold. */
  warning: boolean;
}

/** Room held by this process's enqueues in flight, per queue. */
const holding = new WeakMap<Services, Map<string, number>>();

/** The unfinished jobs the counters give: stored minus finished. */
export function depthOf(c: Partial<QueueCounts>): number {
  return (c.enqueued ?? 0) - (c.completed ?? 0) - (c.discarded ?? 0) - (c.cancelled ?? 0) - (c.expired ?? 0);
}

/** A read of the stored counts in flight, with the counters' `writes()` at its start. */
interface CountsRead {
  done: Promise<QueueCounts>;
  writes: number;
}
const reads = new WeakMap<Services, Map<string, CountsRead>>();

/**
 * The counters' depth of a queue, with what this process has not stored yet. Enqueues arriving while
 * a read is in flight share it. A read that overlapped a write of this process's deltas is made
 * again, so nothing is counted twice or missed.
 */
export async function queueDepth(svc: Services, queue: string): Promise<number> {
  let inFlight = reads.get(svc);
  if (!inFlight) reads.set(svc, (inFlight = new Map<string, CountsRead>()));
  for (let attempt = 0; ; attempt++) {
    // A write of this process's deltas in progress may or may not be in what a read returns.
    if (svc.counters.writes() % 2 === 1) await svc.counters.flush();
    let read = inFlight.get(queue);
    if (!read || attempt > 0 || read.writes % 2 === 1) {
      const r = { done: svc.counters.read(queue), writes: svc.counters.writes() };
      void r.done
        .finally(() => {
          if (inFlight.get(queue) === r) inFlight.delete(queue);
        })
        .catch(() => undefined);
      inFlight.set(queue, r);
      read = r;
    }
    const stored = await read.done;
    if (svc.counters.writes() !== read.writes && attempt < 5) continue;
    return Math.max(0, depthOf(stored) + depthOf(svc.counters.unflushed(queue)));
  }
}

/**
 * Checks the bounded queues of an enqueue and holds their room until `run` has stored the jobs.
 * @throws {JetjobError} `queue_full` (429) with the queue, depth, bound and strategy in `details`.
 */
export async function withinBounds<T>(
  svc: Services,
  items: readonly NormalizedEnqueue[],
  run: () => Promise<T>,
): Promise<{ value: T; pressure: QueuePressure[] }> {
  const perQueue = new Map<string, number>();
  for (const n of items) {
    if (svc.ctx.queues.cached(n.queue)?.backpressure === undefined) continue;
    perQueue.set(n.queue, (perQueue.get(n.queue) ?? 0) + 1);
  }
  if (perQueue.size === 0) return { value: await run(), pressure: [] };

  let held = holding.get(svc);
  if (!held) holding.set(svc, (held = new Map<string, number>()));
  const depths = await Promise.all([...perQueue.keys()].map((q) => queueDepth(svc, q)));
  // From here to the hold, nothing awaits: enqueues in this process see each other's room.
  const pressure: QueuePressure[] = [];
  [...perQueue].forEach(([queue, n], k) => {
    const bound = svc.ctx.queues.cached(queue)?.backpressure;
    if (!bound) return;
    const depth = depths[k]! + (held.get(queue) ?? 0);
    if (depth + n > bound.maxDepth) {
      throw new JetjobError(
        ErrorCode.QueueFull,
        `Queue '${queue}' has reached its depth bound (${bound.maxDepth}).`,
        {
          details: {
            queue,
            depth,
            bound: bound.maxDepth,
            strategy: bound.strategy,
            retry_after_s: RETRY_AFTER_S,
            ...(n > 1 ? { jobs: n } : {}),
          },
          hint: "Retry after Retry-After seconds, once workers have taken jobs off the queue.",
        },
      );
    }
    const after = depth + n;
    const ratio = bound.maxDepth === 0 ? 1 : after / bound.maxDepth;
    pressure.push({
      queue,
      depth: after,
      bound: bound.maxDepth,
      pressure: Math.round(ratio * 100) / 100,
      warning: ratio >= bound.warningThreshold,
    });
  });
  for (const [q, n] of perQueue) held.set(q, (held.get(q) ?? 0) + n);
  try {
    return { value: await run(), pressure };
  } finally {
    // Stored jobs are in the counters now (unflushed ones included); refused ones never were.
    for (const [q, n] of perQueue) {
      const left = (held.get(q) ?? 0) - n;
      if (left > 0) held.set(q, left);
      else held.delete(q);
    }
  }
}
