/**
 * ACK, FAIL (nack), CANCEL, HEARTBEAT and INFO on one job, for the HTTP door. Each one locates the
 * job, checks the transition against the state folded from its journal, and appends with
 * compare-and-set; a concurrent append makes it read again and re-decide.
 */
import type { JobErrorRecord } from "../../core/envelope.js";
import { ConflictError, JetjobError, ErrorCode, NotFoundError } from "../../core/errors.js";
import type { ReportedError } from "../../core/retry.js";
import { isTerminal, JobState } from "../../core/states.js";
import { AGAIN, casLoop, orAgain } from "../infra/cas.js";
import { EventType, emitEvents } from "./events.js";
import { event } from "./events.js";
import type { JournalOp } from "../journal/journal-ops.js";
import type { Located } from "./locator.js";
import type { Step } from "../journal/group-commit.js";
import { changingTooFast, mutateGrouped } from "../journal/group-commit.js";
import { decideFailure, errorRecord, homeKeyOf, pointHome, requeueCopy } from "../segments/moves.js";
import { checkError, checkResult } from "./payload-limits.js";
import { withProgress } from "./progress.js";
import { ackIfFinished } from "../segments/release.js";
import { completedEvents, failedEvents } from "./outcomes.js";
import { jobRef } from "../segments/segment.js";
import type { Services } from "../infra/services.js";
import { outcomesOf } from "../infra/services.js";
import type { Derived, JobView } from "./view.js";
import { buildJobView, deriveState, retryPolicyOf } from "./view.js";
import { DEFAULT_VISIBILITY_MS } from "../segments/fetch.js";

/** Locate → decide → append (compare-and-set), repeated while someone else appends first. */
export async function mutate<T>(
  svc: Services,
  id: string,
  decide: (loc: Located, d: Derived, now: number) => Promise<Step<T>> | Step<T>,
): Promise<T> {
  const { ctx, locator } = svc;
  const decided = await casLoop(
    async () => {
      const loc = await locator.locate(id);
      if (!loc) throw new NotFoundError("job", id);
      const now = Date.now();
      const d = deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, now);
      const step = await decide(loc, d, now);
      if (step.ops.length === 0) return { loc, now, step, appended: false };
      const next = await orAgain(ctx.journals.append(loc.at.store, loc.at.seq, step.ops, loc.journal));
      if (next === AGAIN) return AGAIN;
      loc.journal = next;
      loc.slots = next.slots;
      return { loc, now, step, appended: true };
    },
    {
      exhausted: () => {
        throw changingTooFast(id);
      },
    },
  );
  const { loc, now, step } = decided;
  if (decided.appended) {
    svc.noteOutcomes(outcomesOf(loc.at, step.ops));
    if (step.after) await step.after();
  }
  return step.done(loc, now);
}

export function viewOf(loc: Located, now: number = Date.now()): JobView {
  return buildJobView(loc.at, loc.idx, deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, now));
}

/** INFO: the job with its progress, when its current attempt reported any (progress.ts). */
export async function getJob(svc: Services, id: string): Promise<JobView> {
  const loc = await svc.locator.locate(id);
  if (!loc) throw new NotFoundError("job", id);
  return withProgress(svc.ctx, viewOf(loc));
}

/**
 * Fencing for reports that name their worker (OJS `worker_id` on ack, nack and heartbeat): a worker
 * that no longer holds the job (its lease ran out, or the job was claimed again, by it or another
 * worker) is refused with `lease_lost`, and nothing is recorded. A report without `worker_id` applies
 * to the current claim, whoever holds it (OJS makes the field optional; jetjob's own workers always
 * send it).
 */
function requireHolder(id: string, loc: Located, workerId: string | undefined, now: number): void {
  if (workerId === undefined) return;
  const c = loc.slots[loc.idx]!.claim;
  const lost = (why: string, details: Record<string, unknown> = {}) =>
    new ConflictError(`job '${id}': ${why}; this report from worker ${workerId} is not recorded`, {
      code: ErrorCode.LeaseLost,
      details: { job_id: id, worker_id: workerId, ...details },
      hint: "Stop working on the job: another attempt may be running. Fetch new work.",
    });
  if (!c || c.w !== workerId)
    throw lost(c ? `it is held by worker ${c.w} now (attempt ${c.a})` : "this worker does not hold it", {
      ...(c ? { holder: c.w, attempt: c.a } : {}),
    });
  if (c.dl !== undefined && now > c.dl && !loc.slots[loc.idx]!.outcome)
    throw lost(`its lease ran out at ${new Date(c.dl).toISOString()}`, { attempt: c.a });
}

function requireActive(id: string, d: Derived, what: string): void {
  if (d.state !== JobState.Active) {
    throw new ConflictError(`job '${id}' is ${d.state}; only active jobs can be ${what}`, {
      details: { job_id: id, state: d.state },
    });
  }
}

export interface AckResult {
  acknowledged: true;
  id: string;
  job_id: string;
  state: "completed";
  completed_at: string;
  job: JobView;
}

export async function ackJob(
  svc: Services,
  id: string,
  result: unknown,
  workerId?: string,
): Promise<AckResult> {
  const { ctx } = svc;
  checkResult(ctx.limits, result);
  return mutateGrouped(svc, id, (loc, d, now) => {
    requireHolder(id, loc, workerId, now);
    requireActive(id, d, "acknowledged");
    const c = loc.slots[loc.idx]!.claim!;
    const op: JournalOp = { op: "done", i: loc.idx, a: c.a, at: now };
    if (result !== undefined) op.res = result;
    return {
      ops: [op],
      done: (l, t) => {
        ackIfFinished(ctx.nc, l.slots, c.ack);
        emitEvents(
          ctx,
          l.at.seg.q,
          completedEvents(l.at, l.idx, t, { a: c.a, startedAt: c.at, worker: c.w }),
        );
        const job = viewOf(l, t);
        return {
          acknowledged: true,
          id,
          job_id: id,
          state: "completed",
          completed_at: job.completed_at as string,
          job,
        };
      },
    };
  });
}

export interface NackRequest {
  error?: ReportedError & { details?: Record<string, unknown> | undefined };
  requeue?: boolean;
  /** The reporting worker (fencing, see `requireHolder`). */
  workerId?: string;
}

export async function nackJob(svc: Services, id: string, req: NackRequest): Promise<Record<string, unknown>> {
  const { ctx } = svc;
  checkError(ctx.limits, req.error);
  return mutateGrouped(svc, id, async (loc, d, now) => {
    requireHolder(id, loc, req.workerId, now);
    requireActive(id, d, "failed");
    const slot = loc.slots[loc.idx]!;
    const c = slot.claim!;
    const here = jobRef(loc.at.store, loc.at.seq, loc.idx);
    if (req.requeue) {
      const fwd = await requeueCopy(ctx, loc, c.a);
      const homeKey = homeKeyOf(loc);
      return {
        ops: [{ op: "move", i: loc.idx, at: now, ...fwd }],
        after: async () => {
          if (homeKey !== here) await pointHome(svc, homeKey, fwd.to, fwd.ti);
        },
        done: (l, t) => {
          ackIfFinished(ctx.nc, l.slots, c.ack);
          emitEvents(ctx, l.at.seg.q, [event(l.at, l.idx, EventType.Requeued, t, c.a)]);
          return { id, job_id: id, state: JobState.Available, attempt: c.a };
        },
      };
    }
    const err: JobErrorRecord = errorRecord(req.error ?? {}, c.a, now);
    const decision = await decideFailure(svc, loc, c.a, err, now);
    return {
      ops: [decision.op],
      after: decision.after,
      done: (l, t) => {
        ackIfFinished(ctx.nc, l.slots, c.ack);
        const attempt = { a: c.a, startedAt: c.at, worker: c.w };
        emitEvents(ctx, l.at.seg.q, failedEvents(l.at, l.idx, t, attempt, err.code, decision.retrying));
        const job = viewOf(l, t);
        const out: Record<string, unknown> = {
          id,
          job_id: id,
          state: job.state,
          attempt: c.a,
          max_attempts: retryPolicyOf(l.at.seg.jobs[l.idx]!).maxAttempts,
          job,
        };
        if (decision.retrying) {
          out.next_attempt_at = new Date(decision.op.retryAt!).toISOString();
          out.retry_delay_ms = decision.op.delay;
        } else {
          out.discarded_at = new Date(t).toISOString();
          out.completed_at = new Date(t).toISOString();
        }
        return out;
      },
    };
  });
}

export async function cancelJob(svc: Services, id: string): Promise<JobView> {
  const { ctx } = svc;
  return mutate(svc, id, (loc, d, now) => {
    if (isTerminal(d.state)) {
      throw new ConflictError(`job '${id}' is already ${d.state} and cannot be cancelled`, {
        details: { job_id: id, state: d.state },
      });
    }
    const claim = loc.slots[loc.idx]!.claim;
    return {
      ops: [{ op: "cancel", i: loc.idx, at: now }],
      done: (l, t) => {
        ackIfFinished(ctx.nc, l.slots, claim?.ack);
        if (claim !== undefined) {
          // Tell a worker that holds it to stop its handler, or not to start it (its
          // outcome would be ignored anyway: the cancel came first).
          ctx.nc.publish(ctx.subjects.cancel(l.at.seg.q), new TextEncoder().encode(JSON.stringify({ id })));
        }
        emitEvents(ctx, l.at.seg.q, [event(l.at, l.idx, EventType.Cancelled, t, d.attempt)]);
        return viewOf(l, t);
      },
    };
  });
}

export interface HeartbeatResult {
  extended: string[];
  /** Ids the worker named but no longer holds (fencing: see `requireHolder`). */
  lost: string[];
  directive?: string;
}

/**
 * Extends the leases of HTTP-claimed jobs. Unknown or inactive ids are skipped, not errors; ids the
 * named worker no longer holds are listed as `lost`.
 */
export async function heartbeatJobs(
  svc: Services,
  ids: string[],
  visibilityMs: number | undefined,
  workerId?: string,
): Promise<HeartbeatResult> {
  const extended: string[] = [];
  const lost: string[] = [];
  let directive: string | undefined;
  for (const id of ids) {
    try {
      await mutate(svc, id, (loc, d, now) => {
        requireHolder(id, loc, workerId, now);
        requireActive(id, d, "extended");
        const c = loc.slots[loc.idx]!.claim!;
        const spec = loc.at.seg.jobs[loc.idx]!;
        const dl = now + (visibilityMs ?? spec.visibilityMs ?? DEFAULT_VISIBILITY_MS);
        const dir = spec.metadata?.test_directive ?? spec.meta?.test_directive;
        if (typeof dir === "string") directive = dir;
        return {
          ops: c.dl === undefined ? [] : [{ op: "beat", i: loc.idx, a: c.a, dl }],
          done: () => undefined,
        };
      });
      extended.push(id);
    } catch (err) {
      if (err instanceof JetjobError && err.code === ErrorCode.LeaseLost) lost.push(id);
      else if (
        !(err instanceof JetjobError) ||
        (err.code !== ErrorCode.NotFound && err.code !== ErrorCode.Conflict)
      ) {
        throw err;
      }
    }
  }
  const result: HeartbeatResult = { extended, lost };
  if (directive !== undefined) result.directive = directive;
  return result;
}
