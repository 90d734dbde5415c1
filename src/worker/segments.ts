/**
 * The worker's hot path: it holds a segment delivery while it runs that segment's jobs.
 *
 * On delivery it claims every runnable job in one journal append (compare-and-set; on a first
 * delivery it appends optimistically against an empty journal and reads only if that fails). Jobs
 * beyond its free slots plus `prefetch`, and claimed jobs that wait longer than `rebalanceAfterMs`
 * for a free slot, move to new segments so other workers can take them: long jobs spread out, fast
 * jobs never move. Outcomes are buffered and flushed per segment, one append in flight at a time, so
 * a burst of completions costs one write. The delivery is renewed while jobs run and acked once every
 * job reached an outcome. The same fold rules as the HTTP door decide what is valid.
 */
import type { NatsConnection } from "@nats-io/nats-core";

import { ErrorCode, isJetjobError } from "../core/errors.js";
import { Store } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { inProgress } from "../nats/pull.js";
import type { Delivery } from "../nats/pull.js";
import { WrongSequenceError } from "../nats/publisher.js";
import type { JobEvent } from "../store/events.js";
import { EventType, emitEvents } from "../store/events.js";
import { event } from "../store/fetch.js";
import type { Slot } from "../store/fold.js";
import { isClaimable, isDeliveryClaim } from "../store/fold.js";
import type { JournalOp, JournalState } from "../store/journal.js";
import { decideAndAppend, emptyJournal } from "../store/journal.js";
import { takeRateToken } from "../store/limits.js";
import type { ReadMemo } from "../store/locator.js";
import { decideFailure, errorRecord, handOffJobs } from "../store/moves.js";
import { applyRelease, decideRelease } from "../store/release.js";
import type { SegmentAt } from "../store/segment.js";
import { decodeSegment, jobIdAt } from "../store/segment.js";
import type { Services } from "../store/services.js";
import { oversizedResult } from "../store/payload-limits.js";
import { outcomesOf } from "../store/services.js";
import { POINTER_RETRY_MS, validateMoved } from "../store/validate.js";
import { retryPolicyOf } from "../store/view.js";
import type { HandlerOutcome, JobCancel } from "./handler.js";
import { HandlerJob, cancelRunning, newJobCancel, runHandler, runHandlerInTrace } from "./handler.js";
import type { JobContext, WorkerEvents } from "./types.js";

interface Held {
  at: SegmentAt;
  ack: string;
  /** The journal as we know it (we hold the delivery, so normally nobody else appends). */
  journal: JournalState;
  running: Set<number>;
  queued: number;
  pending: JournalOp[];
  afters: Array<() => Promise<void>>;
  events: JobEvent[];
  flushing: boolean;
  released: boolean;
}

export interface SegmentRunnerDeps {
  svc: Services;
  nc: NatsConnection;
  workerId: string;
  handlers: Record<string, ((job: JobContext) => unknown) | undefined>;
  concurrency: number;
  prefetch: number;
  rebalanceAfterMs: number;
  logger: Logger;
  emit: <K extends keyof WorkerEvents>(name: K, ...args: WorkerEvents[K]) => void;
  /** Whether anyone listens to a worker event (per-job events are built only then). */
  listening: (name: keyof WorkerEvents) => boolean;
  /** Called whenever capacity frees up (the worker pulls more). */
  onCapacity: () => void;
  leaseMs: number;
}

export interface SegmentRunner {
  /** Takes a delivered segment; false when it was given back at once (no capacity, or draining). */
  accept(d: Delivery): Promise<boolean>;
  /** Free job slots not covered by running or waiting jobs. */
  free(): number;
  readonly stats: { running: number; completed: number; failed: number; segmentsHeld: number };
  /** Stops starting jobs; gives back unstarted ones; waits for running ones until `deadline`, then aborts them. */
  drain(deadline: number): Promise<void>;
  /** Aborts the running job with this id (it was cancelled). */
  cancel(id: string): void;
  /** A lane's lease is this short: renew held segments often enough for it. */
  noteLeaseMs(ms: number): void;
}

export class ShutdownError extends Error {
  override name = "ShutdownError";
}

export function createSegmentRunner(deps: SegmentRunnerDeps): SegmentRunner {
  const d = { ...deps, ctx: deps.svc.ctx, locator: deps.svc.locator };
  const held = new Map<number, Held>();
  const waiting: Array<{ h: Held; i: number; a: number; since: number }> = [];
  const cancels = new Map<string, JobCancel>();
  const stats = { running: 0, completed: 0, failed: 0, segmentsHeld: 0 };
  let draining = false;
  const idle: Array<() => void> = [];

  let leaseMs = d.leaseMs;
  const renewEvery = () => Math.max(100, Math.floor(leaseMs / 3));
  const renewHeld = () => {
    for (const h of held.values()) if (!h.released) inProgress(d.nc, h.ack);
  };
  let renew = setInterval(renewHeld, renewEvery());
  renew.unref();
  let rebalancing = false;
  const rebalanceTimer = setInterval(
    () => {
      if (rebalancing || waiting.length === 0) return;
      rebalancing = true;
      void rebalance().finally(() => (rebalancing = false));
    },
    Math.max(50, Math.floor(d.rebalanceAfterMs / 2)),
  );
  rebalanceTimer.unref();

  /** Jobs of segments whose claims are being written (not yet running or waiting). */
  let claiming = 0;

  function free(): number {
    return d.concurrency - stats.running - waiting.length - claiming;
  }

  async function accept(delivery: Delivery): Promise<boolean> {
    const seq = delivery.info.streamSeq;
    const existing = held.get(seq);
    if (existing) {
      // Redelivered while we still run it (our renewal was late): keep going on the new delivery.
      existing.ack = delivery.ackSubject;
      return true;
    }
    if (draining || free() <= 0) {
      applyRelease(d.nc, delivery.ackSubject, { kind: "nak", delayMs: 0 });
      return false;
    }
    let at: SegmentAt;
    try {
      at = { store: Store.Queue, seq, seg: decodeSegment(delivery.data) };
    } catch {
      d.logger.warn("dropping a message that is not a segment", { subject: delivery.subject, seq });
      applyRelease(d.nc, delivery.ackSubject, { kind: "ack" });
      return true;
    }
    d.locator.remember(at);
    const h: Held = {
      at,
      ack: delivery.ackSubject,
      journal: emptyJournal(0),
      running: new Set(),
      queued: 0,
      pending: [],
      afters: [],
      events: [],
      flushing: false,
      released: false,
    };
    held.set(seq, h);
    stats.segmentsHeld = held.size;
    // Counted against free slots from now on, so the worker can ask for its next segment while these
    // claims are written (no idle round trip between segments) without asking for more than it can run.
    const counted = Math.min(at.seg.jobs.length, Math.max(0, free()));
    claiming += counted;
    try {
      await claim(h, delivery.info.deliveryCount === 1, counted);
    } catch (err) {
      d.emit("error", err instanceof Error ? err : new Error(String(err)));
      if (!h.released && h.running.size === 0 && h.queued === 0) release(h, { kind: "nak", delayMs: 1000 });
    } finally {
      claiming -= counted;
    }
    return true;
  }

  /** Decides and appends the claims (and expiries, splits) for a newly held segment. */
  async function claim(h: Held, firstDelivery: boolean, counted: number): Promise<void> {
    const { at } = h;
    const r = await decideAndAppend(
      d.ctx.journals,
      Store.Queue,
      at.seq,
      at.seg.jobs.length,
      async (journal, slots, now) => {
        const ops: JournalOp[] = [];
        const events: JobEvent[] = [];
        const afters: Array<() => Promise<void>> = [];
        const runnable: Array<{ i: number; a: number }> = [];
        const memo: ReadMemo = new Map();
        let wait = false;
        if (firstDelivery && slots.some(isDeliveryClaim)) {
          // The server lost track of another worker's delivery: leave the segment to it (or to its lease).
          return { ops, value: { keep: [], events, afters, wait, leave: true, now, ops } };
        }
        for (let i = 0; i < slots.length; i++) {
          const s = slots[i]!;
          const spec = at.seg.jobs[i]!;
          if (!isClaimable(s, now)) continue;
          if (spec.expiresAt !== undefined && now > spec.expiresAt) {
            ops.push({ op: "expire", i, at: now });
            events.push(event(at, i, EventType.Expired, now));
            continue;
          }
          const a = Math.max(s.lastAttempt, spec.attempt ?? 0) + 1;
          if (s.claim && a > retryPolicyOf(spec).maxAttempts) {
            // Its last allowed attempt was lost with a worker that stopped responding.
            const err = errorRecord(
              { code: "lease_expired", message: "the worker running it stopped responding" },
              s.claim.a,
              now,
            );
            const decision = await decideFailure(d.svc, { at, idx: i, journal, slots }, s.claim.a, err, now);
            ops.push(decision.op);
            afters.push(decision.after);
            events.push(event(at, i, EventType.Discarded, now, s.claim.a, "lease_expired"));
            continue;
          }
          if (spec.home !== undefined) {
            const v = await validateMoved(d.ctx, d.locator, at, i, memo);
            if (v === "wait") {
              wait = true;
              continue;
            }
            if (v === "orphan") {
              ops.push({ op: "expire", i, at: now });
              continue;
            }
          }
          runnable.push({ i, a });
        }
        const hold = Math.max(0, free() + counted + d.prefetch);
        const keep = runnable.slice(0, hold);
        const rest = runnable.slice(hold);
        for (const { i, a } of keep) {
          ops.push({ op: "claim", i, a, w: d.workerId, at: now });
          const started = event(at, i, EventType.Started, now, a);
          started.w = d.workerId;
          events.push(started);
        }
        if (rest.length > 0) {
          const moved = await handOff(at, journal, slots, rest, now);
          ops.push(...moved.ops);
          if (moved.after) afters.push(moved.after);
        }
        return { ops, value: { keep, events, afters, wait, leave: false, now, ops } };
      },
      { optimisticEmpty: firstDelivery },
    );
    h.journal = r.journal;
    const { keep, events, afters, wait, leave, now, ops } = r.value;
    d.svc.noteOutcomes(outcomesOf(at, ops));
    if (!r.appended) {
      release(
        h,
        leave
          ? { kind: "leave" }
          : wait
            ? { kind: "nak", delayMs: POINTER_RETRY_MS }
            : decideRelease(r.slots, now),
      );
      return;
    }
    for (const after of afters) {
      await after().catch((e: unknown) => d.logger.warn("pointer update failed", { error: String(e) }));
    }
    for (const { i, a } of keep) {
      if (draining) {
        // The worker began to stop while this claim was being written: give the jobs back unstarted
        // (drain() has already handed back the waiting list, so queuing them would hold it forever).
        h.pending.push({ op: "requeue", i, a, at: Date.now(), u: 1 });
        continue;
      }
      waiting.push({ h, i, a, since: now });
      h.queued++;
    }
    if (h.pending.length > 0) void flush(h);
    startWaiting();
    // After the jobs started: their `started` events are not on the way to a handler's first line.
    emitEvents(d.ctx, at.seg.q, events);
    maybeRelease(h);
  }

  const handOff = (
    at: SegmentAt,
    journal: JournalState,
    slots: Slot[],
    jobs: Array<{ i: number; a: number }>,
    now: number,
  ) => handOffJobs(d.svc, { at, idx: 0, journal, slots }, jobs, Math.max(1, d.concurrency), now);

  /** Hands back claimed jobs that waited too long for a free slot (see `rebalanceAfterMs`). */
  async function rebalance(): Promise<void> {
    const cutoff = Date.now() - d.rebalanceAfterMs;
    const stale = waiting.filter((w) => w.since <= cutoff);
    if (stale.length === 0 || draining) return;
    const bySegment = new Map<Held, Array<{ i: number; a: number }>>();
    for (const w of stale) {
      waiting.splice(waiting.indexOf(w), 1);
      w.h.queued--;
      let list = bySegment.get(w.h);
      if (!list) bySegment.set(w.h, (list = []));
      list.push({ i: w.i, a: w.a });
    }
    for (const [h, jobs] of bySegment) {
      try {
        const r = await decideAndAppend(
          d.ctx.journals,
          Store.Queue,
          h.at.seq,
          h.at.seg.jobs.length,
          async (journal, slots, now) => {
            // Only jobs still claimed by us for that attempt (not cancelled meanwhile) move.
            const still = jobs.filter(({ i, a }) => !slots[i]!.outcome && slots[i]!.claim?.a === a);
            const moved = still.length > 0 ? await handOff(h.at, journal, slots, still, now) : { ops: [] };
            return { ops: moved.ops, value: moved.after };
          },
        );
        h.journal = r.journal;
        await r.value?.().catch((e: unknown) => d.logger.warn("pointer update failed", { error: String(e) }));
      } catch (err) {
        d.logger.warn("could not hand back waiting jobs; keeping them", {
          segment: h.at.seq,
          error: String(err),
        });
        for (const { i, a } of jobs) {
          // Stopping meanwhile: give them back unstarted instead (see claim()).
          if (draining) h.pending.push({ op: "requeue", i, a, at: Date.now(), u: 1 });
          else {
            waiting.push({ h, i, a, since: Date.now() });
            h.queued++;
          }
        }
        if (h.pending.length > 0) void flush(h);
      }
      maybeRelease(h);
    }
    d.onCapacity();
  }

  function startWaiting(): void {
    while (!draining && stats.running < d.concurrency && waiting.length > 0) {
      const { h, i, a } = waiting.shift()!;
      h.queued--;
      void runJob(h, i, a);
    }
  }

  async function runJob(h: Held, i: number, a: number): Promise<void> {
    const spec = h.at.seg.jobs[i]!;
    const id = jobIdAt(h.at, i);
    const cancel = newJobCancel();
    cancels.set(id, cancel);
    stats.running++;
    h.running.add(i);
    const t0 = Date.now();
    if (d.listening("job:start")) d.emit("job:start", { id, type: spec.type, attempt: a });
    const perSecond = d.ctx.queues.cached(h.at.seg.q)?.rateLimitPerSecond;
    if (perSecond !== undefined) {
      // Rate-limited queue: wait for a start slot shared with every other worker and fetcher.
      for (;;) {
        const wait = await takeRateToken(d.ctx.buckets.limits, h.at.seg.q, perSecond).catch(() => 1000);
        if (wait === 0 || cancel.cancelled) break;
        await new Promise((r) => setTimeout(r, Math.min(wait, 1000)));
      }
    }
    const handler = d.handlers[spec.type];
    const job = new HandlerJob(
      cancel,
      id,
      spec.type,
      h.at.seg.q,
      spec.args,
      a,
      retryPolicyOf(spec).maxAttempts,
      h.at.seg.p,
      spec.meta ?? {},
      new Date(spec.createdAt ?? h.at.seg.ts),
    );
    if (spec.parentResults !== undefined) job.parentResults = spec.parentResults;
    // Only jobs with trace context get a span: the others run exactly as before (the hot path).
    const traceparent = spec.traceparent;
    if (traceparent !== undefined) job.traceparent = traceparent;
    let outcome: HandlerOutcome = !handler
      ? ({
          ok: false,
          error: {
            code: "unknown_job_type",
            message: `no handler for job type '${spec.type}' on worker ${d.workerId}`,
            retryable: false,
          },
          cancelled: false,
        } as const)
      : traceparent === undefined
        ? await runHandler(handler, job, { timeoutMs: spec.timeoutMs, cancel })
        : await runHandlerInTrace(handler, job, {
            timeoutMs: spec.timeoutMs,
            cancel,
            traceparent,
            tracestate: spec.tracestate,
          });
    cancels.delete(id);
    const now = Date.now();
    // A result over the payload limit cannot be stored: the attempt fails (store/payload-limits.ts).
    const tooLarge = outcome.ok ? oversizedResult(d.ctx.limits, outcome.result) : undefined;
    if (tooLarge) outcome = { ok: false, error: tooLarge, cancelled: false };
    if (outcome.ok) {
      const op: JournalOp = { op: "done", i, a, at: now };
      if (outcome.result !== undefined) op.res = outcome.result;
      h.pending.push(op);
      const completed = event(h.at, i, EventType.Completed, now, a);
      completed.d = now - t0;
      completed.w = d.workerId;
      h.events.push(completed);
      stats.completed++;
      if (d.listening("job:complete"))
        d.emit("job:complete", { id, type: spec.type, attempt: a, durationMs: now - t0 });
    } else if (!outcome.cancelled) {
      stats.failed++;
      if (outcome.error.code === "worker_shutdown") {
        h.pending.push({ op: "requeue", i, a, at: now });
      } else {
        try {
          const err = errorRecord(outcome.error, a, now);
          const decision = await decideFailure(
            d.svc,
            { at: h.at, idx: i, journal: h.journal, slots: h.journal.slots },
            a,
            err,
            now,
          );
          h.pending.push(decision.op);
          h.afters.push(decision.after);
          h.events.push(
            { ...event(h.at, i, EventType.Failed, now, a, err.code), d: now - t0, w: d.workerId },
            event(h.at, i, decision.retrying ? EventType.Retrying : EventType.Discarded, now, a, err.code),
          );
          d.emit("job:fail", {
            id,
            type: spec.type,
            attempt: a,
            error: err.message,
            retrying: decision.retrying,
          });
        } catch (e) {
          // Could not store the retry copy: give the attempt back so the job runs again.
          d.logger.warn("could not schedule a retry; requeueing", { job_id: id, error: String(e) });
          h.pending.push({ op: "requeue", i, a, at: now });
        }
      }
    }
    h.running.delete(i);
    stats.running--;
    void flush(h);
    startWaiting();
    d.onCapacity();
  }

  async function flush(h: Held): Promise<void> {
    if (h.flushing) return;
    h.flushing = true;
    try {
      while (h.pending.length > 0) {
        let ops = h.pending.splice(0);
        const afters = h.afters.splice(0);
        const events = h.events.splice(0);
        let appended = false;
        for (let attempt = 0; !appended && ops.length > 0; attempt++) {
          try {
            h.journal = await d.ctx.journals.append(Store.Queue, h.at.seq, ops, h.journal);
            appended = true;
          } catch (err) {
            if (err instanceof WrongSequenceError) {
              h.journal = await d.ctx.journals.read(Store.Queue, h.at.seq, h.at.seg.jobs.length);
              // Someone else wrote (a cancel, a takeover): keep only what still applies.
              const slots = h.journal.slots;
              ops = ops.filter((op) => applies(slots, op));
            } else if (isJetjobError(err) && err.code === ErrorCode.PayloadTooLarge && ops.length > 1) {
              // Large results that do not fit in one message together: write half now, half next
              // (pointer updates and events wait for the second half).
              h.pending.unshift(...ops.splice(ops.length >> 1));
              h.afters.unshift(...afters.splice(0));
              h.events.unshift(...events.splice(0));
            } else {
              d.logger.warn("journal append failed; retrying", { segment: h.at.seq, error: String(err) });
              await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
            }
          }
        }
        if (appended) d.svc.noteOutcomes(outcomesOf(h.at, ops));
        for (const after of afters)
          await after().catch((e: unknown) => d.logger.warn("pointer update failed", { error: String(e) }));
        emitEvents(d.ctx, h.at.seg.q, appended ? events : []);
      }
    } finally {
      h.flushing = false;
    }
    maybeRelease(h);
  }

  function applies(slots: Slot[], op: JournalOp): boolean {
    const s = slots[op.i];
    if (!s || s.outcome) return false;
    if (op.op === "done" || op.op === "fail" || op.op === "requeue") return s.claim?.a === op.a;
    return true;
  }

  function maybeRelease(h: Held): void {
    if (h.released || h.flushing || h.pending.length > 0 || h.running.size > 0 || h.queued > 0) return;
    release(h, decideRelease(h.journal.slots, Date.now()));
  }

  function release(h: Held, decision: ReturnType<typeof decideRelease>): void {
    if (h.released) return;
    h.released = true;
    applyRelease(d.nc, h.ack, decision.kind === "hold" ? { kind: "nak", delayMs: 0 } : decision);
    held.delete(h.at.seq);
    stats.segmentsHeld = held.size;
    if (held.size === 0) for (const cb of idle.splice(0)) cb();
  }

  return {
    accept,
    free,
    stats,
    cancel(id) {
      const c = cancels.get(id);
      if (c) cancelRunning(c, new Error("cancelled"));
    },
    noteLeaseMs(ms) {
      if (!(ms > 0) || ms >= leaseMs || draining) return;
      leaseMs = ms;
      clearInterval(renew);
      renew = setInterval(renewHeld, renewEvery());
      renew.unref();
    },
    async drain(deadline) {
      draining = true;
      // Claimed but never started: give them back without using up an attempt.
      for (const { h, i, a } of waiting.splice(0)) {
        h.queued--;
        h.pending.push({ op: "requeue", i, a, at: Date.now(), u: 1 });
        void flush(h);
      }
      if (held.size > 0) {
        const allDone = new Promise<void>((r) => idle.push(r));
        const timer = setTimeout(
          () => {
            for (const c of cancels.values()) cancelRunning(c, new ShutdownError("the worker stopped"));
          },
          Math.max(0, deadline - Date.now()),
        );
        await allDone;
        clearTimeout(timer);
      }
      clearInterval(renew);
      clearInterval(rebalanceTimer);
    },
  };
}
