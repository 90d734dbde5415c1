/**
 * The worker's hot path: it holds a segment delivery while it runs that segment's jobs.
 *
 * On delivery it claims (reserves) every runnable job in one journal append (compare-and-set; on a
 * first delivery it appends optimistically against an empty journal and reads only if that fails).
 * The claim rules are the HTTP door's (store/claims.ts). Jobs beyond its free slots plus `prefetch`,
 * and claimed jobs that wait longer than `rebalanceAfterMs` for a free slot, move to new segments so
 * other workers can take them: long jobs spread out, fast jobs never move.
 *
 * A reservation is not an attempt: when a handler starts, a `start` op is written (with the next
 * flush, or folded into the job's outcome when it finishes first), and only a started attempt
 * counts. A job taken over from a worker that lost its delivery starts only once its `start` is
 * stored, so a job whose handler kills the worker pays an attempt each time and the jobs that waited
 * behind it pay nothing.
 *
 * Outcomes are buffered and flushed per segment, one append in flight at a time, so a burst of
 * completions costs one write. The delivery is renewed while jobs run and acked once every job
 * reached an outcome.
 */
import type { NatsConnection } from "@nats-io/nats-core";

import { ErrorCode, isJetjobError } from "../core/errors.js";
import { Store } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { inProgress } from "../nats/pull.js";
import type { Delivery } from "../nats/pull.js";
import { WrongSequenceError } from "../nats/publisher.js";
import { stepClaims } from "../store/claim-step.js";
import { completedEvents, failedEvents } from "../store/outcomes.js";
import { claimOps, handOffEntry } from "../store/claims.js";
import type { JobEvent } from "../store/events.js";
import { EventType, emitEvents, event } from "../store/events.js";
import type { Slot } from "../store/fold.js";
import type { JournalState } from "../store/journal.js";
import type { DoneOp, FailOp, JournalOp, RequeueOp, StartOp } from "../store/journal-ops.js";
import { decideAndAppend, emptyJournal } from "../store/journal.js";
import { decideFailure, errorRecord, handOffJobs } from "../store/moves.js";
import { applyRelease, decideRelease } from "../store/release.js";
import type { SegmentAt } from "../store/segment.js";
import { decodeSegment, jobIdAt } from "../store/segment.js";
import type { Services } from "../store/services.js";
import { outcomesOf } from "../store/services.js";
import { POINTER_RETRY_MS } from "../store/validate.js";
import type { Handlers } from "./execute.js";
import { executeJob, storableOutcome } from "./execute.js";
import { DEFAULT_UNHANDLED_JOB_TIMEOUT_MS, planUnhandled } from "./unhandled.js";
import type { HandlerOutcome, JobCancel } from "./handler.js";
import { cancelRunning, describeValue, newJobCancel } from "./handler.js";
import type { WorkerEvents } from "./types.js";

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
  /**
   * Jobs taken over from a worker that lost the delivery: index → attempt. Their handler runs only
   * once their `start` is stored (see the module comment).
   */
  aheads: Map<number, number>;
  flushing: boolean;
  /**
   * Starts of running jobs not written yet: they go out on the next turn of the event loop (see
   * `flushSoon`), and a job that ends before that carries its start in its outcome instead.
   */
  starts: Map<number, StartOp>;
  /** A flush is scheduled for the next turn of the event loop (see `flushSoon`). */
  flushQueued: boolean;
  released: boolean;
}

interface Waiting {
  h: Held;
  i: number;
  a: number;
  since: number;
  /** Record the start before the handler runs (a job taken over from a lost delivery). */
  ahead: boolean;
  /**
   * Its last attempt was lost while it ran: it may be what killed its worker. Such jobs run one at a
   * time in this worker, so a job that kills workers cannot take another suspect down with it.
   */
  suspect: boolean;
}

export interface SegmentRunnerDeps {
  svc: Services;
  nc: NatsConnection;
  workerId: string;
  handlers: Handlers;
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
  /** How long a job may go without any worker having its handler (unhandled.ts). @defaultValue 1 h */
  unhandledJobTimeoutMs?: number;
  /**
   * The most slots one queue's jobs may hold (running, waiting or being claimed), so that a queue
   * whose handlers hang cannot starve the worker's other queues. @defaultValue `concurrency`
   */
  queueCap?: (queue: string) => number;
}

export interface SegmentRunner {
  /** Takes a delivered segment; false when it was given back at once (no capacity, or draining). */
  accept(d: Delivery): Promise<boolean>;
  /** Free job slots not covered by running or waiting jobs. */
  free(): number;
  /** Free slots for one queue: also within its share (see `queueCap`). */
  freeFor(queue: string): number;
  readonly stats: { running: number; completed: number; failed: number; segmentsHeld: number };
  /** Stops starting jobs; gives back unstarted ones; waits for running ones until `deadline`, then aborts them. */
  drain(deadline: number): Promise<void>;
  /** Aborts the running job with this id (it was cancelled). */
  cancel(id: string): void;
  /** A lane's lease is this short: renew held segments often enough for it. */
  noteLeaseMs(ms: number): void;
  /** Starts waiting jobs that may start now (after a queue was resumed). */
  kick(): void;
}

export class ShutdownError extends Error {
  override name = "ShutdownError";
}

export function createSegmentRunner(deps: SegmentRunnerDeps): SegmentRunner {
  const d = { ...deps, ctx: deps.svc.ctx, locator: deps.svc.locator };
  const held = new Map<number, Held>();
  const waiting: Waiting[] = [];
  const cancels = new Map<string, JobCancel>();
  /** Ids of running suspects (see `Waiting.suspect`). */
  const suspectsRunning = new Set<string>();
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
  /** The same per queue: running, waiting and being claimed (for each queue's share). */
  const runningBy = new Map<string, number>();
  const waitingBy = new Map<string, number>();
  const claimingBy = new Map<string, number>();
  // Kept only when there are shares to keep (a worker of one queue has nothing to divide).
  const shared = d.queueCap !== undefined;
  const add = (m: Map<string, number>, q: string, n: number) => {
    if (shared) m.set(q, (m.get(q) ?? 0) + n);
  };
  const capOf = (q: string) => d.queueCap?.(q) ?? d.concurrency;

  function free(): number {
    return d.concurrency - stats.running - waiting.length - claiming;
  }

  /**
   * Paused queues (from the queue registry's watch): their reserved jobs wait and are handed back
   * by the rebalance timer; no job of theirs starts here once this worker knows of the pause.
   */
  const isPaused = (q: string) => d.ctx.queues.cached(q)?.paused === true;

  function freeFor(q: string): number {
    if (!shared) return free();
    const used = (runningBy.get(q) ?? 0) + (waitingBy.get(q) ?? 0) + (claimingBy.get(q) ?? 0);
    return Math.min(free(), capOf(q) - used);
  }

  /** Adds a claimed job to the waiting list. */
  function wait(w: Waiting): void {
    waiting.push(w);
    w.h.queued++;
    add(waitingBy, w.h.at.seg.q, 1);
  }

  /** Takes waiting entry `k` off the list. */
  function unwait(k: number): Waiting {
    const w = k === 0 ? waiting.shift()! : waiting.splice(k, 1)[0]!;
    w.h.queued--;
    add(waitingBy, w.h.at.seg.q, -1);
    return w;
  }

  /** Types this worker was given jobs of without a handler: said once each in the log. */
  const unhandledTypes = new Set<string>();
  function noteUnhandled(at: SegmentAt, plans: Array<{ i: number }>): void {
    for (const p of plans) {
      const type = at.seg.jobs[p.i]!.type;
      if (unhandledTypes.has(type)) continue;
      unhandledTypes.add(type);
      d.logger.warn("no handler for a job type; handing such jobs back for other workers", {
        type,
        queue: at.seg.q,
        handlers: Object.keys(d.handlers),
      });
    }
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
    if (freeFor(at.seg.q) <= 0 || isPaused(at.seg.q)) {
      // Its queue has used up its share of the slots (see `queueCap`), or was paused: not now.
      applyRelease(d.nc, delivery.ackSubject, { kind: "nak", delayMs: 0 });
      return false;
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
      aheads: new Map(),
      starts: new Map(),
      flushing: false,
      flushQueued: false,
      released: false,
    };
    held.set(seq, h);
    stats.segmentsHeld = held.size;
    // Counted against free slots from now on, so the worker can ask for its next segment while these
    // claims are written (no idle round trip between segments) without asking for more than it can run.
    const counted = Math.min(at.seg.jobs.length, Math.max(0, freeFor(at.seg.q)));
    claiming += counted;
    add(claimingBy, at.seg.q, counted);
    try {
      await claim(h, delivery.info.deliveryCount === 1, counted);
    } catch (err) {
      d.emit("error", err instanceof Error ? err : new Error(String(err)));
      if (!h.released && h.running.size === 0 && h.queued === 0) release(h, { kind: "nak", delayMs: 1000 });
    } finally {
      claiming -= counted;
      add(claimingBy, at.seg.q, -counted);
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
        const hold = Math.max(0, freeFor(at.seg.q) + counted + d.prefetch);
        const step = await stepClaims(d.svc, { at, journal, slots }, now, { firstDelivery, validate: hold });
        const ops = step.ops;
        // Jobs this worker has no handler for go back for others, uncounted (unhandled.ts).
        const unhandled = step.runnable.filter((p) => !d.handlers[at.seg.jobs[p.i]!.type]);
        if (unhandled.length > 0) {
          step.runnable = step.runnable.filter((p) => d.handlers[at.seg.jobs[p.i]!.type]);
          noteUnhandled(at, unhandled);
          const u = await planUnhandled(d.svc, { at, journal, slots }, unhandled, now, {
            workerId: d.workerId,
            timeoutMs: d.unhandledJobTimeoutMs ?? DEFAULT_UNHANDLED_JOB_TIMEOUT_MS,
          });
          ops.push(...u.ops);
          step.events.push(...u.events);
          step.afters.push(...u.afters);
        }
        for (const p of step.runnable) ops.push(...claimOps(p, { w: d.workerId, at: now }));
        if (step.rest.length > 0) {
          const moved = await handOff(
            at,
            journal,
            slots,
            step.rest.map((p) => handOffEntry(p, now)),
            now,
          );
          ops.push(...moved.ops);
          if (moved.after) step.afters.push(moved.after);
        }
        return { ops, value: { step, now, ops } };
      },
      { optimisticEmpty: firstDelivery },
    );
    h.journal = r.journal;
    const { step, now, ops } = r.value;
    d.svc.noteOutcomes(outcomesOf(at, ops));
    if (!r.appended) {
      release(
        h,
        step.leave
          ? { kind: "leave" }
          : step.wait
            ? { kind: "nak", delayMs: POINTER_RETRY_MS }
            : decideRelease(r.slots, now, undefined, at.seg.jobs),
      );
      return;
    }
    for (const after of step.afters) {
      await after().catch((e: unknown) => d.logger.warn("pointer update failed", { error: String(e) }));
    }
    for (const p of step.runnable) {
      if (draining) {
        // The worker began to stop while this claim was being written: give the jobs back unstarted
        // (drain() has already handed back the waiting list, so queuing them would hold it forever).
        h.pending.push({ op: "requeue", i: p.i, a: p.a, at: Date.now(), u: 1 });
        continue;
      }
      const suspect = p.takeover?.started === true;
      wait({ h, i: p.i, a: p.a, since: now, ahead: p.takeover !== undefined, suspect });
    }
    if (h.pending.length > 0) void flush(h);
    startWaiting();
    emitEvents(d.ctx, at.seg.q, step.events);
    maybeRelease(h);
  }

  const handOff = (
    at: SegmentAt,
    journal: JournalState,
    slots: Slot[],
    jobs: Parameters<typeof handOffJobs>[2],
    now: number,
  ) => handOffJobs(d.svc, { at, idx: 0, journal, slots }, jobs, Math.max(1, d.concurrency), now);

  /** Hands back claimed jobs that waited too long for a free slot (see `rebalanceAfterMs`). */
  async function rebalance(): Promise<void> {
    const cutoff = Date.now() - d.rebalanceAfterMs;
    const stale = waiting.filter((w) => w.since <= cutoff);
    if (stale.length === 0 || draining) return;
    const bySegment = new Map<Held, Array<{ i: number; a: number; ahead: boolean; suspect: boolean }>>();
    for (const w of stale) {
      unwait(waiting.indexOf(w));
      let list = bySegment.get(w.h);
      if (!list) bySegment.set(w.h, (list = []));
      list.push({ i: w.i, a: w.a, ahead: w.ahead, suspect: w.suspect });
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
            const still = jobs
              .filter(({ i, a }) => !slots[i]!.outcome && slots[i]!.claim?.a === a)
              .map(({ i, a }) => ({ i, a }));
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
        for (const { i, a, ahead, suspect } of jobs) {
          // Stopping meanwhile: give them back unstarted instead (see claim()).
          if (draining) h.pending.push({ op: "requeue", i, a, at: Date.now(), u: 1 });
          else {
            wait({ h, i, a, since: Date.now(), ahead, suspect });
          }
        }
        if (h.pending.length > 0) void flush(h);
      }
      maybeRelease(h);
    }
    d.onCapacity();
  }

  function startWaiting(): void {
    while (!draining && stats.running < d.concurrency) {
      // The first waiting job whose queue is within its share, skipping suspects while one runs.
      const k =
        !shared && suspectsRunning.size === 0 && (waiting.length === 0 || !isPaused(waiting[0]!.h.at.seg.q))
          ? waiting.length > 0
            ? 0
            : -1
          : waiting.findIndex(
              (w) =>
                !isPaused(w.h.at.seg.q) &&
                (!shared || (runningBy.get(w.h.at.seg.q) ?? 0) < capOf(w.h.at.seg.q)) &&
                (!w.suspect || suspectsRunning.size === 0),
            );
      if (k < 0) break;
      const { h, i, a, ahead, suspect } = unwait(k);
      stats.running++;
      add(runningBy, h.at.seg.q, 1);
      h.running.add(i);
      if (suspect) suspectsRunning.add(jobIdAt(h.at, i));
      if (!ahead) {
        void runJob(h, i, a, false);
        continue;
      }
      // Taken over from a lost delivery: store the start first (see the module comment).
      h.aheads.set(i, a);
      h.pending.push({ op: "start", i, a, at: Date.now() });
      h.events.push(startedEvent(h, i, a, Date.now()));
      void flush(h);
    }
  }

  /** A running job's slot is free again. */
  function finished(h: Held, i: number): void {
    h.running.delete(i);
    stats.running--;
    add(runningBy, h.at.seg.q, -1);
    if (suspectsRunning.size > 0) suspectsRunning.delete(jobIdAt(h.at, i));
  }

  function startedEvent(h: Held, i: number, a: number, now: number): JobEvent {
    const e = event(h.at, i, EventType.Started, now, a);
    e.w = d.workerId;
    return e;
  }

  /**
   * Runs job `i` (its slot is already counted in `stats.running` and `h.running`). `recorded`: its
   * start is stored already; otherwise it is written with the next flush.
   */
  async function runJob(h: Held, i: number, a: number, recorded: boolean): Promise<void> {
    const spec = h.at.seg.jobs[i]!;
    const id = jobIdAt(h.at, i);
    const cancel = newJobCancel();
    cancels.set(id, cancel);
    const t0 = Date.now();
    if (!recorded) {
      h.starts.set(i, { op: "start", i, a, at: t0 });
      h.events.push(startedEvent(h, i, a, t0));
      flushSoon(h);
    }
    if (d.listening("job:start")) d.emit("job:start", { id, type: spec.type, attempt: a });
    let outcome = await executeJob(d.ctx, d.handlers, d.workerId, h.at, i, a, cancel);
    if (outcome.ok) outcome = storableOutcome(d.ctx, outcome.result);
    cancels.delete(id);
    try {
      // The common case (success) is recorded without another await: a fast job's path is short.
      if (outcome.ok) recordDone(h, i, a, t0, outcome.result);
      else await recordFailure(h, i, a, t0, outcome);
    } catch (err) {
      // Could not even decide what to write (a retry copy could not be stored): run it again later.
      d.logger.warn("could not record a job's outcome; requeueing", {
        job_id: id,
        error: describeValue(err),
      });
      h.pending.push({ op: "requeue", i, a, at: Date.now() });
    }
    finished(h, i);
    void flush(h);
    startWaiting();
    d.onCapacity();
  }

  function recordDone(h: Held, i: number, a: number, t0: number, result: unknown): void {
    const now = Date.now();
    const st = takeStart(h, i);
    const op: JournalOp = { op: "done", i, a, at: now };
    if (result !== undefined) op.res = result;
    if (st !== undefined) op.s = now - st;
    h.pending.push(op);
    h.events.push(...completedEvents(h.at, i, now, { a, startedAt: t0, worker: d.workerId }));
    stats.completed++;
    if (d.listening("job:complete"))
      d.emit("job:complete", {
        id: jobIdAt(h.at, i),
        type: h.at.seg.jobs[i]!.type,
        attempt: a,
        durationMs: now - t0,
      });
  }

  /** Turns a failed attempt into the ops and events to flush (a retry copy or a discard). */
  async function recordFailure(
    h: Held,
    i: number,
    a: number,
    t0: number,
    outcome: Extract<HandlerOutcome, { ok: false }>,
  ): Promise<void> {
    const spec = h.at.seg.jobs[i]!;
    const id = jobIdAt(h.at, i);
    const now = Date.now();
    const st = takeStart(h, i);
    if (outcome.cancelled) return;
    stats.failed++;
    if (outcome.error.code === "worker_shutdown") {
      h.pending.push({ op: "requeue", i, a, at: now });
      return;
    }
    const err = errorRecord(outcome.error, a, now);
    const decision = await decideFailure(
      d.svc,
      { at: h.at, idx: i, journal: h.journal, slots: h.journal.slots },
      a,
      err,
      now,
    );
    if (st !== undefined) decision.op.s = now - st;
    h.pending.push(decision.op);
    h.afters.push(decision.after);
    h.events.push(
      ...failedEvents(h.at, i, now, { a, startedAt: t0, worker: d.workerId }, err.code, decision.retrying),
    );
    d.emit("job:fail", { id, type: spec.type, attempt: a, error: err.message, retrying: decision.retrying });
  }

  /**
   * Writes the starts of jobs still running on the next turn of the event loop: jobs that end at once
   * (in this turn) carry their start in their outcome, so fast jobs cost no extra op.
   */
  function flushSoon(h: Held): void {
    if (h.flushQueued) return;
    h.flushQueued = true;
    setImmediate(() => {
      h.flushQueued = false;
      if (h.starts.size === 0) return;
      for (const op of h.starts.values()) h.pending.push(op);
      h.starts.clear();
      void flush(h);
    });
  }

  /** The start time of job `i` if its start was not written yet (it goes into the outcome). */
  function takeStart(h: Held, i: number): number | undefined {
    const st = h.starts.get(i);
    if (!st) return undefined;
    h.starts.delete(i);
    return st.at;
  }

  async function flush(h: Held): Promise<void> {
    if (h.flushing) return;
    h.flushing = true;
    try {
      while (h.pending.length > 0) {
        let ops = foldStarts(h.pending.splice(0));
        const afters = h.afters.splice(0);
        const events = h.events.splice(0);
        let appended = false;
        for (let attempt = 0; !appended && ops.length > 0; attempt++) {
          try {
            h.journal = await d.ctx.journals.append(Store.Queue, h.at.seq, ops, h.journal);
            appended = true;
          } catch (err) {
            if (err instanceof WrongSequenceError) {
              try {
                h.journal = await d.ctx.journals.read(Store.Queue, h.at.seq, h.at.seg.jobs.length);
              } catch (readErr) {
                // NATS is away: try again shortly (the stale state makes the next append fail the same way).
                d.logger.warn("journal read failed; retrying", { segment: h.at.seq, error: String(readErr) });
                await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
                continue;
              }
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
        settleAheads(h);
        for (const after of afters)
          await after().catch((e: unknown) => d.logger.warn("pointer update failed", { error: String(e) }));
        emitEvents(d.ctx, h.at.seg.q, appended ? events : []);
      }
    } finally {
      h.flushing = false;
    }
    maybeRelease(h);
  }

  /** Whether our op still applies after someone else appended (a cancel, a takeover by another worker). */
  function applies(slots: Slot[], op: JournalOp): boolean {
    const s = slots[op.i];
    if (!s || s.outcome) return false;
    if (op.op === "done" || op.op === "fail" || op.op === "requeue" || op.op === "start")
      return s.claim?.a === op.a && s.claim.w === d.workerId;
    return true;
  }

  /**
   * Jobs waiting for their start to be stored: run those whose start is in the journal now, and give
   * up those whose start could not be written (cancelled, or taken by someone else meanwhile).
   */
  function settleAheads(h: Held): void {
    for (const [i, a] of h.aheads) {
      const c = h.journal.slots[i]?.claim;
      if (c?.a === a && c.w === d.workerId && c.st !== undefined && !h.journal.slots[i]!.outcome) {
        h.aheads.delete(i);
        void runJob(h, i, a, true);
      } else if (!h.pending.some((op) => op.op === "start" && op.i === i)) {
        h.aheads.delete(i);
        finished(h, i);
        startWaiting();
        d.onCapacity();
      }
    }
  }

  function maybeRelease(h: Held): void {
    if (h.released || h.flushing || h.pending.length > 0 || h.running.size > 0 || h.queued > 0) return;
    release(h, decideRelease(h.journal.slots, Date.now(), undefined, h.at.seg.jobs));
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
    freeFor,
    stats,
    cancel(id) {
      const c = cancels.get(id);
      if (c) cancelRunning(c, new Error("cancelled"));
      // Reserved but not started: drop it (the cancel is already in its journal).
      const k = waiting.findIndex((w) => jobIdAt(w.h.at, w.i) === id);
      if (k >= 0) {
        const w = unwait(k);
        maybeRelease(w.h);
        d.onCapacity();
      }
    },
    kick: () => startWaiting(),
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
      while (waiting.length > 0) {
        const { h, i, a } = unwait(0);
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

/**
 * A `start` followed by its job's outcome in the same append is folded into the outcome (`st`): a
 * job that ended before its start was written costs no extra op.
 */
export function foldStarts(ops: JournalOp[]): JournalOp[] {
  let starts = 0;
  for (const op of ops) if (op.op === "start") starts++;
  if (starts === 0) return ops;
  const ended = new Map<number, DoneOp | FailOp | RequeueOp>();
  for (const op of ops) if (op.op === "done" || op.op === "fail" || op.op === "requeue") ended.set(op.i, op);
  if (ended.size === 0) return ops;
  const out: JournalOp[] = [];
  for (const op of ops) {
    if (op.op === "start") {
      const end = ended.get(op.i);
      if (end && end.a === op.a) {
        if (end.op !== "requeue" && end.s === undefined) end.s = end.at - op.at;
        continue;
      }
    }
    out.push(op);
  }
  return out;
}
