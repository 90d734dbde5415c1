/**
 * FETCH for HTTP workers: pull a segment (without waiting when there is none), claim jobs in it with
 * a lease deadline (the visibility timeout), and release the segment so others can claim the rest.
 * Queues are tried in the order given, lanes from the highest priority down, FIFO within a lane.
 */
import { Store } from "../core/ids.js";
import { traceIdOf } from "../core/tracing.js";
import { pullOnce } from "../nats/pull.js";
import type { Delivery } from "../nats/pull.js";
import type { JobEvent } from "./events.js";
import { EventType, emitEvents } from "./events.js";
import type { Slot } from "./fold.js";
import { isClaimable, isDeliveryClaim } from "./fold.js";
import type { JournalOp } from "./journal.js";
import type { ReadMemo } from "./locator.js";
import { takeRateToken } from "./limits.js";
import { decideAndAppend } from "./journal.js";
import { decideFailure, handOffJobs } from "./moves.js";
import { applyRelease, decideRelease } from "./release.js";
import type { SegmentAt } from "./segment.js";
import { decodeSegment, jobIdAt } from "./segment.js";
import type { Services } from "./services.js";
import { outcomesOf } from "./services.js";
import { POINTER_RETRY_MS, validateMoved } from "./validate.js";
import type { JobView } from "./view.js";
import { buildJobView, deriveState, timeoutError } from "./view.js";

export const DEFAULT_VISIBILITY_MS = 30_000;
/** How long an HTTP fetch waits on an empty lane (an empty fetch answers after about this). */
export const FETCH_WAIT_MS = 25;
/** An HTTP fetch that leaves more than this many claimable jobs in a segment moves them on ... */
const SPLIT_ABOVE = 16;
/** ... in segments of this many, so concurrent fetchers do not queue on one segment. */
const SPLIT_CHUNK = 8;

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
    for (const priority of [...rec.lanes].sort((a, b) => b - a)) {
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
    at = (await locator.segment(Store.Queue, seq)) ?? { store: Store.Queue, seq, seg: decodeSegment(d.data) };
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
        const ops: JournalOp[] = [];
        const claimed: number[] = [];
        const events: JobEvent[] = [];
        const afters: Array<() => Promise<void>> = [];
        const rest: Array<{ i: number; a: number }> = [];
        const memo: ReadMemo = new Map();
        let waiting = false;
        if (d.info.deliveryCount === 1 && slots.some(isDeliveryClaim)) {
          // The server lost track of a worker's delivery: leave the segment to it (or to its lease).
          return { ops, value: { claimed, events, afters, waiting, leave: true, ops } };
        }
        for (let i = 0; i < slots.length; i++) {
          const s = slots[i]!;
          const spec = at.seg.jobs[i]!;
          if (s.outcome) continue;
          const c = s.claim;
          if (c?.dl !== undefined && spec.timeoutMs !== undefined && now > c.at + spec.timeoutMs) {
            const err = timeoutError(spec, c.a, c.at + spec.timeoutMs);
            const decision = await decideFailure(svc, { at, idx: i, journal, slots }, c.a, err, now);
            ops.push(decision.op);
            afters.push(decision.after);
            events.push(
              event(at, i, decision.retrying ? EventType.Retrying : EventType.Discarded, now, c.a, "timeout"),
            );
            continue;
          }
          if (!isClaimable(s, now)) continue;
          if (spec.expiresAt !== undefined && now > spec.expiresAt) {
            ops.push({ op: "expire", i, at: now });
            events.push(event(at, i, EventType.Expired, now));
            continue;
          }
          const a = Math.max(s.lastAttempt, spec.attempt ?? 0) + 1;
          if (claimed.length >= want) {
            // Not ours to run: a handed-off copy is validated where it lands.
            rest.push({ i, a });
            continue;
          }
          const validity = await validateMoved(ctx, locator, at, i, memo);
          if (validity === "wait") {
            waiting = true;
            continue;
          }
          if (validity === "orphan") {
            ops.push({ op: "expire", i, at: now });
            continue;
          }
          const dl = now + (req.visibilityMs ?? spec.visibilityMs ?? DEFAULT_VISIBILITY_MS);
          ops.push({ op: "claim", i, a, w: req.workerId, at: now, dl, ack: d.ackSubject });
          claimed.push(i);
          events.push({ ...event(at, i, EventType.Started, now, a), w: req.workerId });
        }
        if (rest.length > SPLIT_ABOVE) {
          // Many jobs left in one segment would make concurrent fetchers take turns on it: spread them.
          const moved = await handOffJobs(svc, { at, idx: 0, journal, slots }, rest, SPLIT_CHUNK, now);
          ops.push(...moved.ops);
          if (moved.after) afters.push(moved.after);
        }
        return { ops, value: { claimed, events, afters, waiting, leave: false, ops } };
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
          : decideRelease(slots, now),
    );
    return [];
  }
  applyRelease(ctx.nc, d.ackSubject, decideRelease(slots, now));
  svc.noteOutcomes(outcomesOf(at, ops));
  for (const after of afters) await after();
  emitEvents(ctx, at.seg.q, events);
  return claimed.map((i) => buildJobView(at, i, deriveState(at, i, slots[i]!, now)));
}

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

export type { Slot };
