/**
 * Reporting and reading a job's progress (ojs-progress §6–§7) for both doors: the HTTP API
 * (`PUT /ojs/v1/jobs/{id}/progress`, the official SDK's `POST /ojs/v1/workers/progress`) and
 * NATS-direct workers (`job.progress()` in a handler, which know their attempt and skip the lookup).
 *
 * - Only a running attempt takes progress. A report for a job in any other state is ignored without
 *   an error (§6.1: it may have finished while the report was on its way); the answer says
 *   `accepted: false` and shows what is stored.
 * - A report on an HTTP-claimed job is also a heartbeat (§6.3): when less than half of its visibility
 *   timeout is left, the lease is extended as `POST /workers/heartbeat` would (a journal append), so a
 *   worker reporting every second writes the journal only about twice per visibility timeout.
 * - A `job.progress` event (ojs-events §4.1) is emitted at most once per second per job and process.
 * @module
 */
import { NotFoundError } from "../../core/errors.js";
import { JobState } from "../../core/states.js";
import type { StoreContext } from "../infra/context.js";
import { emitEvents, event, EventType } from "./events.js";
import { DEFAULT_VISIBILITY_MS } from "../segments/fetch.js";
import { heartbeatJobs, viewOf } from "./operations.js";
import type { ProgressRecord, ProgressUpdate, ProgressView } from "./progress.js";
import { normalizeUpdate, progressView, readProgress, writeProgress } from "./progress.js";
import type { SegmentAt } from "../segments/segment.js";
import type { Services } from "../infra/services.js";

/** The answer to a report and to `GET .../progress`. */
export interface ProgressAnswer extends ProgressView {
  job_id: string;
  state: string;
  /** Reports only: false when the job was not running, so nothing was stored. */
  accepted?: boolean;
}

const EVENT_INTERVAL_MS = 1000;
const lastEvent = new Map<string, number>();

/** Emits `job.progress` unless this process emitted one for the job within the last second. */
function emitProgressEvent(
  ctx: StoreContext,
  at: SegmentAt,
  idx: number,
  jobId: string,
  rec: ProgressRecord,
): void {
  const prev = lastEvent.get(jobId);
  if (prev !== undefined && rec.at - prev < EVENT_INTERVAL_MS) return;
  if (lastEvent.size > 10_000) lastEvent.clear(); // bounded: forgetting only allows an early event
  lastEvent.set(jobId, rec.at);
  const ev = event(at, idx, EventType.Progress, rec.at, rec.a);
  if (rec.w !== undefined) ev.w = rec.w;
  ev.pp = Math.round((rec.p ?? 0) * 10_000) / 100;
  if (rec.m !== undefined) ev.pm = rec.m;
  emitEvents(ctx, at.seg.q, [ev]);
}

/**
 * Reports progress on job `id` through the HTTP door: checks that it is running (and held by
 * `workerId` when one is named), extends an HTTP lease that is half gone, stores the report.
 */
export async function reportProgress(
  svc: Services,
  id: string,
  update: ProgressUpdate,
  workerId?: string,
): Promise<ProgressAnswer> {
  const u = normalizeUpdate(update);
  const loc = await svc.locator.locate(id);
  if (!loc) throw new NotFoundError("job", id);
  const now = Date.now();
  const job = viewOf(loc, now);
  const claim = loc.slots[loc.idx]!.claim;
  const holds = workerId === undefined || claim?.w === workerId;
  if (job.state !== JobState.Active || claim === undefined || !holds) {
    const stored = await readProgress(svc.ctx, id).catch(() => undefined);
    return { job_id: id, state: job.state, ...progressView(stored, job), accepted: false };
  }
  if (claim.dl !== undefined) {
    const visibilityMs = loc.at.seg.jobs[loc.idx]!.visibilityMs ?? DEFAULT_VISIBILITY_MS;
    if (claim.dl - now < visibilityMs / 2) await heartbeatJobs(svc, [id], undefined, workerId);
  }
  const rec = await writeProgress(svc.ctx, id, claim.a, u, workerId ?? claim.w);
  emitProgressEvent(svc.ctx, loc.at, loc.idx, id, rec);
  return { job_id: id, state: job.state, ...progressView(rec, job), accepted: true };
}

/**
 * Progress reported by a NATS-direct worker for the attempt it runs (it holds the job: no lookup,
 * no lease to extend, since its delivery is renewed by the worker itself).
 */
export async function reportOwnProgress(
  ctx: StoreContext,
  at: SegmentAt,
  idx: number,
  jobId: string,
  attempt: number,
  update: ProgressUpdate,
  workerId: string,
): Promise<void> {
  const rec = await writeProgress(ctx, jobId, attempt, normalizeUpdate(update), workerId);
  emitProgressEvent(ctx, at, idx, jobId, rec);
}

/** `GET /ojs/v1/jobs/{id}/progress`: the current attempt's progress, nulls when none (§7.1). */
export async function getProgress(svc: Services, id: string): Promise<ProgressAnswer> {
  const loc = await svc.locator.locate(id);
  if (!loc) throw new NotFoundError("job", id);
  const job = viewOf(loc);
  const rec =
    typeof job.attempt === "number" && job.attempt > 0 ? await readProgress(svc.ctx, id) : undefined;
  return { job_id: id, state: job.state, ...progressView(rec, job) };
}
