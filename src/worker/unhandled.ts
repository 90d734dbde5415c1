/**
 * Jobs whose type a worker has no handler for. In a rolling deploy (new job types enqueued before
 * every worker knows them), or with workers that serve different types from one queue, a worker that
 * lacks a handler must not throw the job away. It hands the job back instead, without counting an
 * attempt: the job waits in the delay stream (backing off from 1 s to a minute) and comes back to
 * the queue for any worker, and its view says since when no worker has handled it (`unhandled`).
 * Only after `unhandledJobTimeoutMs` with no worker taking it (1 hour by default) is it failed with
 * `unknown_job_type`, like any other non-retryable failure (discarded or dead-lettered).
 */
import type { JobEvent } from "../store/jobs/events.js";
import { EventType, event } from "../store/jobs/events.js";
import type { ClaimPlan } from "../store/segments/claims.js";
import { claimOps, handOffEntry } from "../store/segments/claims.js";
import type { Slot } from "../store/journal/fold.js";
import type { JournalState } from "../store/journal/journal.js";
import type { JournalOp } from "../store/journal/journal-ops.js";
import { decideFailure, errorRecord, handOffJobs } from "../store/segments/moves.js";
import type { SegmentAt } from "../store/segments/segment.js";
import type { Services } from "../store/infra/services.js";

/** How long a job may go without any worker having its handler. */
export const DEFAULT_UNHANDLED_JOB_TIMEOUT_MS = 60 * 60_000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 60_000;

export interface UnhandledPlan {
  ops: JournalOp[];
  events: JobEvent[];
  afters: Array<() => Promise<void>>;
}

/** When a job that has gone unhandled since `sinceMs` is looked at again (a tenth of that, 1–60 s). */
export function unhandledBackoffMs(sinceMs: number, nowMs: number): number {
  return Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, Math.floor((nowMs - sinceMs) / 10)));
}

/** The ops that hand `plans` (jobs without a handler here) back, or fail those unhandled too long. */
export async function planUnhandled(
  svc: Services,
  j: { at: SegmentAt; journal: JournalState; slots: Slot[] },
  plans: ClaimPlan[],
  nowMs: number,
  o: { workerId: string; timeoutMs: number },
): Promise<UnhandledPlan> {
  const { at } = j;
  const out: UnhandledPlan = { ops: [], events: [], afters: [] };
  const deferred = new Map<number, ClaimPlan[]>(); // by due second
  const since = (p: ClaimPlan) => at.seg.jobs[p.i]!.unhandled?.since ?? nowMs;
  for (const p of plans) {
    const spec = at.seg.jobs[p.i]!;
    const s = since(p);
    if (nowMs - s >= o.timeoutMs) {
      const err = errorRecord(
        {
          code: "unknown_job_type",
          message: `no worker had a handler for job type '${spec.type}' since ${new Date(s).toISOString()} (${Math.round((nowMs - s) / 60_000)} min; the last one asked was ${o.workerId})`,
          retryable: false,
        },
        p.a,
        nowMs,
      );
      const decision = await decideFailure(
        svc,
        { at, idx: p.i, journal: j.journal, slots: j.slots },
        p.a,
        err,
        nowMs,
      );
      out.ops.push(...claimOps(p, { w: o.workerId, at: nowMs }), decision.op);
      out.afters.push(decision.after);
      out.events.push(event(at, p.i, EventType.Discarded, nowMs, p.a, err.code));
      continue;
    }
    const due = Math.ceil((nowMs + unhandledBackoffMs(s, nowMs)) / 1000) * 1000;
    const list = deferred.get(due) ?? [];
    list.push(p);
    deferred.set(due, list);
  }
  for (const [dueMs, list] of deferred) {
    const moved = await handOffJobs(
      svc,
      { ...j, idx: 0 },
      list.map((p) => handOffEntry(p, nowMs)),
      1024,
      nowMs,
      {
        dueMs,
        kind: "nh",
        patch: (i) => ({ unhandled: { since: at.seg.jobs[i]!.unhandled?.since ?? nowMs, w: o.workerId } }),
      },
    );
    out.ops.push(...moved.ops);
    if (moved.after) out.afters.push(moved.after);
    for (const p of list) out.events.push(event(at, p.i, EventType.Requeued, nowMs, p.a - 1, "no_handler"));
  }
  return out;
}
