/**
 * FETCH for HTTP workers: pull a segment (without waiting when there is none), claim jobs in it with
 * a lease deadline (the visibility timeout), and release the segment so others can claim the rest.
 * Queues are tried in the order given, lanes from the highest priority down, FIFO within a lane.
 */
import { Store } from "../../core/ids.js";
import { pullOnce } from "../../nats/pull.js";
import type { Delivery } from "../../nats/pull.js";
import { claimOps, handOffEntry } from "./claims.js";
import { stepClaims } from "./claim-step.js";
import { EventType, emitEvents, event } from "../jobs/events.js";
import { takeRateToken } from "../queues/limits.js";
import type { JournalOp } from "../journal/journal-ops.js";
import { decideAndAppend } from "../journal/journal.js";
import { handOffJobs } from "./moves.js";
import { applyRelease, decideRelease } from "./release.js";
import type { SegmentAt } from "./segment.js";
import { decodeSegment, jobIdAt } from "./segment.js";
import type { Services } from "../infra/services.js";
import { outcomesOf } from "../infra/services.js";
import { POINTER_RETRY_MS } from "./validate.js";
import type { JobView } from "../jobs/view.js";
import { buildJobView, deriveState } from "../jobs/view.js";

export const DEFAULT_VISIBILITY_MS = 30_000;
/** How long an HTTP fetch waits on an empty lane (an empty fetch answers after about this). */
export const FETCH_WAIT_MS = 25;
/**
 * An HTTP fetch that leaves more than this many claimable jobs in a segment moves them on ...
 */
const SPLIT_ABOVE = 16;
/** ... in segments of this many, so concurrent fetchers do not queue on one segment ... */
const SPLIT_CHUNK = 8;
/**
 * ... but only when the lane has fewer other segments than this waiting to be delivered: with more,
 * the other fetchers take those, and a split would only cost writes (the moved copies are published,
 * their moves appended, and each later report on a moved job reads two journals instead of one).
 */
const SPLIT_WHEN_PENDING_BELOW = 2;

export interface FetchRequest {
  queues: string[];
  count: number;
  workerId: string;
  visibilityMs?: number;
}

export async function fetchJobs(svc: Services, req: FetchRequest): Promise<JobView[]> {
  const { ctx } = svc;
  const out: JobView[] = [];
  for (const queue of req.queues) {
    if (out.length >= req.count) break;
    const rec = ctx.queues.cached(queue) ?? (await ctx.queues.get(queue));
    if (!rec || rec.paused) continue;
    // A rate-limited queue hands out one job per fetch, and only when a start slot is free.
    let budget = req.count - out.length;
    if (rec.rateLimitPerSecond !== undefined) {
      if ((await takeRateToken(ctx.buckets.limits, queue, rec.rateLimitPerSecond)) > 0) continue;
      budget = 1;
    }
    const stopAt = out.length + budget;
    lanes: for (const priority of [...rec.lanes].sort((a, b) => b - a)) {
      while (out.length < stopAt) {
        const [d] = await pullOnce(
          ctx.nc,
          ctx.topology.streams.queue,
          ctx.subjects.laneConsumer(queue, priority),
          {
            batch: 1,
            expiresMs: FETCH_WAIT_MS,
          },
        );
        if (!d) break;
        out.push(...(await claimFromDelivery(svc, d, stopAt - out.length, req)));
        if (ctx.queues.cached(queue)?.paused) break lanes; // paused meanwhile (claimFromDelivery read it)
      }
    }
  }
  return out;
}

async function claimFromDelivery(
  svc: Services,
  d: Delivery,
  want: number,
  req: FetchRequest,
): Promise<JobView[]> {
  const { ctx, locator } = svc;
  const seq = d.info.streamSeq;
  let at: SegmentAt;
  try {
    // The delivery carries the segment: a read would fetch the same bytes again.
    at = locator.cached(Store.Queue, seq) ?? { store: Store.Queue, seq, seg: decodeSegment(d.data) };
    locator.remember(at);
  } catch {
    // Not a segment (garbage published on a lane subject): drop it for good.
    applyRelease(ctx.nc, d.ackSubject, { kind: "ack" });
    return [];
  }
  let result;
  try {
    result = await decideAndAppend(
      ctx.journals,
      Store.Queue,
      seq,
      at.seg.jobs.length,
      async (journal, slots, now) => {
        const step = await stepClaims(svc, { at, journal, slots }, now, {
          firstDelivery: d.info.deliveryCount === 1,
          validate: want,
        });
        const ops = step.ops;
        const events = step.events;
        const claimed: number[] = [];
        for (const p of step.runnable) {
          const dl = now + (req.visibilityMs ?? at.seg.jobs[p.i]!.visibilityMs ?? DEFAULT_VISIBILITY_MS);
          ops.push(...claimOps(p, { w: req.workerId, at: now, dl, ack: d.ackSubject }));
          claimed.push(p.i);
          events.push({ ...event(at, p.i, EventType.Started, now, p.a), w: req.workerId });
        }
        if (step.rest.length > SPLIT_ABOVE && d.info.pending < SPLIT_WHEN_PENDING_BELOW) {
          // Many jobs left in the lane's last segments would make concurrent fetchers take turns on
          // them: spread them.
          const rest = step.rest.map((p) => handOffEntry(p, now));
          const moved = await handOffJobs(svc, { at, idx: 0, journal, slots }, rest, SPLIT_CHUNK, now);
          ops.push(...moved.ops);
          if (moved.after) step.afters.push(moved.after);
        }
        return {
          ops,
          value: { claimed, events, afters: step.afters, waiting: step.wait, leave: step.leave, ops },
        };
      },
    );
  } catch (err) {
    applyRelease(ctx.nc, d.ackSubject, { kind: "nak", delayMs: 0 });
    throw err;
  }
  const now = Date.now();
  const { claimed, events, afters, waiting, leave, ops } = result.value;
  const slots = result.slots;
  if (!result.appended) {
    applyRelease(
      ctx.nc,
      d.ackSubject,
      leave
        ? { kind: "leave" }
        : waiting
          ? { kind: "nak", delayMs: POINTER_RETRY_MS }
          : decideRelease(slots, now, undefined, at.seg.jobs),
    );
    return [];
  }
  let handed = claimed;
  let final = slots;
  if (claimed.length > 0 && (await ctx.queues.get(at.seg.q))?.paused) {
    // Paused while we claimed (pause is a barrier: once it returned, nothing of the queue starts).
    // Give the claims back uncounted; the queue's next fetch after resume hands the jobs out.
    const back = await decideAndAppend(ctx.journals, Store.Queue, seq, at.seg.jobs.length, (_j, now2) => {
      const undo: JournalOp[] = [];
      for (const i of claimed) {
        const c = now2[i]!.claim;
        if (!now2[i]!.outcome && c?.w === req.workerId)
          undo.push({ op: "requeue", i, a: c.a, at: now, u: 1 });
      }
      return { ops: undo, value: undefined };
    });
    final = back.slots;
    handed = [];
  }
  applyRelease(ctx.nc, d.ackSubject, decideRelease(final, now, undefined, at.seg.jobs));
  svc.noteOutcomes(outcomesOf(at, ops));
  for (const after of afters) await after();
  const started = new Set(handed.map((i) => jobIdAt(at, i)));
  emitEvents(
    ctx,
    at.seg.q,
    handed === claimed ? events : events.filter((e) => e.t !== EventType.Started || started.has(e.id)),
  );
  return handed.map((i) => buildJobView(at, i, deriveState(at, i, final[i]!, now)));
}
