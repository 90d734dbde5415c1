/**
 * The segment runner's executor: runs one claimed job's handler (execute.ts) in a slot already
 * taken for it, and turns what the handler did into journal ops for the completer (completer.ts):
 * `done` at once, a failure through the retry policy (a retry copy or a discard), a requeue when
 * the outcome could not even be decided. Keeps the running jobs' cancel handles.
 */
import type { JobEvent } from "../store/jobs/events.js";
import { EventType, event } from "../store/jobs/events.js";
import type { JournalOp } from "../store/journal/journal-ops.js";
import { decideFailure, errorRecord } from "../store/segments/moves.js";
import { completedEvents, failedEvents } from "../store/jobs/outcomes.js";
import { jobIdAt } from "../store/segments/segment.js";
import type { Completer } from "./completer.js";
import { executeJob, storableOutcome } from "./execute.js";
import type { HandlerOutcome, JobCancel } from "./handler.js";
import { describeValue, newJobCancel } from "./handler.js";
import type { Held, OutcomeOp, RunnerDeps, RunnerStats } from "./runner-state.js";
import type { Slots } from "./slots.js";

export interface Executor {
  /**
   * Runs job `i` (its slot is already counted in `stats.running` and `h.running`). `recorded`: its
   * start is stored already; otherwise it is written with the next flush.
   */
  run(h: Held, i: number, a: number, recorded: boolean): Promise<void>;
  /** The `started` event of an attempt run by this worker. */
  startedEvent(h: Held, i: number, a: number, now: number): JobEvent;
  /** Counts and reports an outcome op once it is stored or dropped (called by the completer). */
  settled(h: Held, op: OutcomeOp, stored: boolean): void;
  /** Cancel handles of the running jobs, by job id. */
  readonly cancels: Map<string, JobCancel>;
}

export function createExecutor(
  d: RunnerDeps,
  stats: RunnerStats,
  parts: { slots: Slots; completer: Completer },
): Executor {
  const { slots, completer } = parts;
  const cancels = new Map<string, JobCancel>();

  function startedEvent(h: Held, i: number, a: number, now: number): JobEvent {
    const e = event(h.at, i, EventType.Started, now, a);
    e.w = d.workerId;
    return e;
  }

  async function run(h: Held, i: number, a: number, recorded: boolean): Promise<void> {
    const spec = h.at.seg.jobs[i]!;
    const id = jobIdAt(h.at, i);
    const cancel = newJobCancel();
    cancels.set(id, cancel);
    const t0 = Date.now();
    if (!recorded) {
      h.starts.set(i, { op: "start", i, a, at: t0 });
      h.events.push(startedEvent(h, i, a, t0));
      completer.flushSoon(h);
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
    slots.finished(h, i);
    void completer.flush(h);
    slots.startWaiting();
    d.onCapacity();
  }

  function recordDone(h: Held, i: number, a: number, t0: number, result: unknown): void {
    const now = Date.now();
    const st = completer.takeStart(h, i);
    const op: JournalOp = { op: "done", i, a, at: now };
    if (result !== undefined) op.res = result;
    if (st !== undefined) op.s = now - st;
    h.pending.push(op);
    h.events.push(...completedEvents(h.at, i, now, { a, startedAt: t0, worker: d.workerId }));
    // Counted and reported in `settled`, once stored (no closure per job on this hot path).
  }

  /**
   * An outcome op was stored, or dropped because someone else wrote first: count it and emit the
   * worker event. A `done` is handled here; failures and requeues registered what to do.
   */
  function settled(h: Held, op: OutcomeOp, stored: boolean): void {
    if (op.op !== "done") {
      const then = h.settled.get(op);
      if (then === undefined) return;
      h.settled.delete(op);
      if (stored) then();
      else lost(h, op.i, op.a);
      return;
    }
    if (!stored) return lost(h, op.i, op.a);
    stats.completed++;
    if (!d.listening("job:complete")) return;
    // The handler's start: in the op when it was not stored before, else in the journal.
    const startedAt = op.s !== undefined ? op.at - op.s : (h.journal.slots[op.i]?.claim?.st ?? op.at);
    d.emit("job:complete", {
      id: jobIdAt(h.at, op.i),
      type: h.at.seg.jobs[op.i]!.type,
      attempt: op.a,
      durationMs: op.at - startedAt,
    });
  }

  function lost(h: Held, i: number, a: number): void {
    stats.lost++;
    const id = jobIdAt(h.at, i);
    d.logger.info("a job's outcome was not stored: it was cancelled or taken over while it ran", {
      job_id: id,
      attempt: a,
    });
    if (d.listening("job:lost")) d.emit("job:lost", { id, type: h.at.seg.jobs[i]!.type, attempt: a });
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
    const st = completer.takeStart(h, i);
    if (outcome.cancelled) return;
    if (outcome.error.code === "worker_shutdown") {
      const requeue: JournalOp = { op: "requeue", i, a, at: now };
      h.pending.push(requeue);
      h.settled.set(requeue, () => stats.failed++);
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
    h.settled.set(decision.op, () => {
      stats.failed++;
      d.emit("job:fail", {
        id,
        type: spec.type,
        attempt: a,
        error: err.message,
        retrying: decision.retrying,
      });
    });
  }

  return { run, startedEvent, settled, cancels };
}
