/**
 * Moving jobs between segments: a failed attempt that will be retried goes to the delay stream, a
 * requeued job to a fresh queue segment, a due scheduled job from the delay stream to its queue lane.
 *
 * The order is always: publish the job's new segment (idempotent through `Nats-Msg-Id`), append the
 * forward pointer to the old location's journal (compare-and-set), then point the job's first home at
 * the new place. A crash between the steps leaves at most an unreferenced copy, which the promoter
 * drops because no pointer leads to it.
 */
import { createHash } from "node:crypto";

import type { JobErrorRecord, JobSpec } from "../../core/envelope.js";
import { Store } from "../../core/ids.js";
import type { ReportedError } from "../../core/retry.js";
import { retryDelayMs, willRetry } from "../../core/retry.js";
import { AGAIN, casLoop, orAgain } from "../infra/cas.js";
import type { StoreContext } from "../infra/context.js";
import type { Services } from "../infra/services.js";
import { indexDeadLetter } from "../features/dlq-index.js";
import { isGone } from "../journal/fold.js";
import { boundedHistory, shortenError } from "../jobs/payload-limits.js";
import type { FailOp, JournalOp, LocOp } from "../journal/journal-ops.js";
import type { JobAt } from "../jobs/locator.js";
import type { RefKey, Segment, SegmentAt } from "./segment.js";
import { encodeSegment, jobIdAt, jobRef, parseJobRef, refKey } from "./segment.js";
import { lostErrors, retryPolicyOf } from "../jobs/view.js";

/** The job's first home ({@link JobRef}): where its `loc` pointer lives. */
export function homeKeyOf(j: JobAt): string {
  return j.at.seg.jobs[j.idx]!.home ?? jobRef(j.at.store, j.at.seq, j.idx);
}

/** The job's error history so far: what it carried here, and the attempts lost here with their workers. */
export function errorHistoryOf(j: JobAt): JobErrorRecord[] {
  const carried = j.at.seg.jobs[j.idx]!.errors ?? [];
  const slot = j.slots[j.idx];
  return slot?.lost ? [...carried, ...lostErrors(slot)] : carried;
}

/** A copy of the job's spec that can live in another segment (explicit id, home, history). */
export function movedSpec(j: JobAt, patch: Partial<JobSpec>): JobSpec {
  const spec = j.at.seg.jobs[j.idx]!;
  const copy: JobSpec = {
    ...spec,
    id: jobIdAt(j.at, j.idx),
    home: homeKeyOf(j),
    createdAt: spec.createdAt ?? j.at.seg.ts,
  };
  const history = errorHistoryOf(j);
  if (history.length > 0) copy.errors = history;
  return { ...copy, ...patch };
}

/** Publishes moved jobs as one segment; `msgId` makes a repeated move store nothing new. */
export async function publishSegment(
  ctx: StoreContext,
  target: { store: Store; queue: string; priority: number; due?: number; subject?: string; announced?: true },
  jobs: JobSpec[],
  msgId: string,
): Promise<SegmentAt> {
  const seg: Segment = { v: 1, ts: Date.now(), r: 0, q: target.queue, p: target.priority, jobs };
  if (target.due !== undefined) seg.due = target.due;
  if (target.announced) seg.an = 1;
  const subject =
    target.subject ??
    (target.store === Store.Delay
      ? ctx.subjects.delayBucket(Math.floor((target.due ?? Date.now()) / 60_000))
      : ctx.subjects.lane(target.queue, target.priority));
  if (target.store === Store.Queue) await ctx.queues.ensureLane(target.queue, target.priority);
  const ack = await ctx.publisher.publish(subject, encodeSegment(seg), { msgId });
  return { store: target.store, seq: ack.seq, seg };
}

/** Points a moved job's first home at its new place (retrying on concurrent appends). */
export async function pointHome(svc: Services, homeKey: string, to: RefKey, ti: number): Promise<void> {
  await pointHomes(svc, [{ homeKey, to, ti }]);
}

/** Points many moved jobs' homes at once: one append per home segment, however many jobs. */
export async function pointHomes(
  svc: Services,
  moves: Array<{ homeKey: string; to: RefKey; ti: number }>,
): Promise<void> {
  const { ctx } = svc;
  const bySegment = new Map<string, { store: Store; seq: number; ops: LocOp[] }>();
  for (const m of moves) {
    const home = parseJobRef(m.homeKey);
    const key = refKey(home.store, home.seq);
    let g = bySegment.get(key);
    if (!g) bySegment.set(key, (g = { store: home.store, seq: home.seq, ops: [] }));
    g.ops.push({ op: "loc", i: home.idx, to: m.to, ti: m.ti });
  }
  for (const g of bySegment.values()) {
    await casLoop(
      async () => {
        const home = await svc.locator.segment(g.store, g.seq);
        if (!home) return; // removed by retention: nothing to point from
        const j = await ctx.journals.read(g.store, g.seq, home.seg.jobs.length);
        // A home's journal holds the job's first move, so an empty one (or a gone slot) means
        // housekeeping removed the segment: nothing to point from.
        if (j.lastSeq === 0 || g.ops.every((op) => j.slots[op.i] !== undefined && isGone(j.slots[op.i]!)))
          return;
        return (await orAgain(ctx.journals.append(g.store, g.seq, g.ops, j))) === AGAIN ? AGAIN : undefined;
      },
      { exhausted: () => undefined },
    );
  }
}

/** A short, stable message id for a move of several slots (JetStream msg ids should stay small). */
export function moveMsgId(
  kind: string,
  j: { store: Store; seq: number },
  idxs: number[],
  extra = "",
): string {
  const digest = createHash("sha1").update(idxs.join(",")).digest("hex").slice(0, 16);
  return `${kind}:${j.store}.${j.seq}:${digest}${extra}`;
}

/** What a failure leads to: the journal op to append, and what to do once it is appended. */
export interface FailureDecision {
  op: FailOp;
  retrying: boolean;
  /** Writes the home pointer after the op is appended (retries only). */
  after: () => Promise<void>;
}

/** Builds the error record of a reported failure. */
export function errorRecord(
  err: ReportedError & { details?: Record<string, unknown> | undefined },
  attempt: number,
  atMs: number,
): JobErrorRecord {
  const rec: JobErrorRecord = {
    code: err.code ?? err.type ?? "handler_error",
    message: err.message ?? "the job failed",
    attempt,
    occurredAt: atMs,
  };
  if (err.type !== undefined) rec.type = err.type;
  if (err.retryable !== undefined) rec.retryable = err.retryable;
  if (err.details !== undefined) rec.details = err.details;
  return shortenError(rec);
}

/**
 * Decides retry or discard for attempt `attempt` of the job at `j`, and for a retry publishes the
 * job's delay segment. The caller appends `op` with compare-and-set, then calls `after()`.
 */
export async function decideFailure(
  svc: Services,
  j: JobAt,
  attempt: number,
  err: JobErrorRecord,
  nowMs: number,
): Promise<FailureDecision> {
  const { ctx } = svc;
  const spec = j.at.seg.jobs[j.idx]!;
  const policy = retryPolicyOf(spec);
  const retry = willRetry(policy, attempt, err);
  if (!retry) {
    const op: FailOp = { op: "fail", i: j.idx, a: attempt, at: nowMs, err, out: "discard" };
    if (policy.onExhaustion === "dead_letter") {
      op.dlq = true;
      await indexDeadLetter(ctx, j.at.seg.q, jobIdAt(j.at, j.idx));
    }
    return { op, retrying: false, after: () => Promise.resolve() };
  }
  const delay = retryDelayMs(policy, attempt);
  const retryAt = nowMs + delay;
  const errors = boundedHistory([...errorHistoryOf(j), err], 8 * ctx.limits.maxErrorBytes);
  const spec2 = movedSpec(j, { attempt, errors, retryDelayMs: delay });
  delete spec2.scheduledAt;
  delete spec2.unhandled; // it ran: a handler was found
  const target = await publishSegment(
    ctx,
    { store: Store.Delay, queue: j.at.seg.q, priority: j.at.seg.p, due: retryAt },
    [spec2],
    `rt:${refKey(j.at.store, j.at.seq)}:${j.idx}:${attempt}`,
  );
  const to = refKey(target.store, target.seq);
  const op: FailOp = {
    op: "fail",
    i: j.idx,
    a: attempt,
    at: nowMs,
    err,
    out: "retry",
    to,
    ti: 0,
    retryAt,
    delay,
  };
  const homeKey = spec2.home!;
  const here = jobRef(j.at.store, j.at.seq, j.idx);
  return {
    op,
    retrying: true,
    after: async () => {
      if (homeKey !== here) await pointHome(svc, homeKey, to, 0);
    },
  };
}

/**
 * Moves jobs of a segment to new segments of `chunk` jobs at the end of their lane (to spread work
 * that one holder cannot start soon). Each job is copied once; a copy carries the attempts used so
 * far (`a - 1` for a job about to be claimed for attempt `a`; `lost`: the error of an attempt lost with
 * its worker, taken over here and not yet recorded). With `later`, the copies go to the delay stream
 * instead, due at `later.dueMs`, each with `later.patch(i)` applied. The caller appends the returned ops
 * with compare-and-set, then runs `after` (home pointers).
 */
export async function handOffJobs(
  svc: Services,
  j: JobAt,
  jobs: Array<{ i: number; a: number; lost?: JobErrorRecord | undefined }>,
  chunk: number,
  nowMs: number,
  later?: { dueMs: number; patch: (i: number) => Partial<JobSpec>; kind: string },
): Promise<{ ops: JournalOp[]; after?: () => Promise<void> }> {
  const { at } = j;
  const ops: JournalOp[] = [];
  const homes: Array<{ homeKey: string; to: string; ti: number }> = [];
  const store = later ? Store.Delay : Store.Queue;
  for (let c = 0; c < jobs.length; c += chunk) {
    const part = jobs.slice(c, c + chunk);
    const target = await publishSegment(
      svc.ctx,
      later
        ? { store, queue: at.seg.q, priority: at.seg.p, due: later.dueMs }
        : { store, queue: at.seg.q, priority: at.seg.p },
      part.map(({ i, a, lost }) => {
        const jj = { ...j, idx: i };
        const patch: Partial<JobSpec> = { ...later?.patch(i), attempt: a - 1 };
        if (lost) patch.errors = [...errorHistoryOf(jj), lost];
        const copy = movedSpec(jj, patch);
        // Handed on by a worker that has its handler: whether others lacked it no longer matters.
        if (!later) delete copy.unhandled;
        return copy;
      }),
      moveMsgId(
        later?.kind ?? "sp",
        at,
        part.map((p) => p.i),
        later ? `:${later.dueMs}` : "",
      ),
    );
    const to = refKey(store, target.seq);
    part.forEach(({ i }, k) => {
      ops.push({ op: "move", i, at: nowMs, to, ti: k });
      const home = target.seg.jobs[k]!.home!;
      if (home !== jobRef(at.store, at.seq, i)) homes.push({ homeKey: home, to, ti: k });
    });
  }
  return homes.length > 0 ? { ops, after: () => pointHomes(svc, homes) } : { ops };
}

/** Re-publishes a job at the end of its queue lane (requeue without a failure). */
export async function requeueCopy(
  ctx: StoreContext,
  j: JobAt,
  attempt: number,
): Promise<{ to: RefKey; ti: number }> {
  const spec2 = movedSpec(j, { attempt });
  delete spec2.scheduledAt;
  delete spec2.unhandled;
  const target = await publishSegment(
    ctx,
    { store: Store.Queue, queue: j.at.seg.q, priority: j.at.seg.p },
    [spec2],
    `rq:${refKey(j.at.store, j.at.seq)}:${j.idx}:${attempt}`,
  );
  return { to: refKey(target.store, target.seq), ti: 0 };
}
