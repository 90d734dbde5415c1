/**
 * Job progress (OJS extension `urn:ojs:ext:progress`, spec ojs-progress): how far a running attempt
 * has got, as a fraction 0..1, a message and small structured data.
 *
 * Stored apart from the job's journal, in the KV bucket `<prefix>_progress` under the job id, one
 * entry per job holding only the latest report (history 1): a worker reporting every second for an
 * hour costs one key, not 3,600 journal entries that every read of the job would fold. The bucket is
 * made on first use (by the API server or a NATS-direct worker, whichever reports first), with the
 * deployment's replica count, and entries expire after {@link PROGRESS_TTL_MS}.
 *
 * What must hold (ojs-progress §5–§8):
 * - the value is clamped into 0..1 and never goes down within an attempt (a lower value keeps the
 *   higher one; message and data still update), written with compare-and-set on the key's revision;
 * - an entry belongs to one attempt: a later attempt starts with no progress (§5.3);
 * - a completed job whose attempt reported progress shows 1.0 (§8.1); a failed one keeps its last
 *   value (§8.2).
 * @module
 */
import type { KV } from "@nats-io/kv";
import { Kvm } from "@nats-io/kv";

import { ValidationError } from "../../core/errors.js";
import { JobState } from "../../core/states.js";
import type { StoreContext } from "../infra/context.js";
import { isStreamNotFound } from "../infra/provision.js";
import type { JobView } from "./view.js";

/** How long a progress entry outlives its last report (the job's own retention is usually shorter). */
export const PROGRESS_TTL_MS = 7 * 24 * 3600_000;

/** Largest serialized `data` accepted (ojs-progress §5.2 recommends at most 4 KB). */
export const MAX_PROGRESS_DATA_BYTES = 4096;

/** Longest message kept (longer ones are cut). */
export const MAX_PROGRESS_MESSAGE_CHARS = 1000;

/** One progress report. */
export interface ProgressUpdate {
  /** Fraction done; clamped into 0..1. */
  progress?: number | undefined;
  message?: string | undefined;
  data?: Record<string, unknown> | undefined;
}

/** The stored entry (short keys). */
export interface ProgressRecord {
  /** Attempt the report belongs to. */
  a: number;
  /** Fraction done, 0..1, when a number was reported. */
  p?: number;
  m?: string;
  d?: Record<string, unknown>;
  /** When it was last written, epoch ms. */
  at: number;
  /** Reporting worker. */
  w?: string;
}

/** Progress as clients see it (GET /ojs/v1/jobs/{id}/progress and the job's `progress` fields). */
export interface ProgressView {
  progress: number | null;
  message: string | null;
  data: Record<string, unknown> | null;
  updated_at: string | null;
}

const buckets = new WeakMap<StoreContext, Promise<KV>>();

/** The progress bucket of a deployment, created on first use. */
export function progressBucket(ctx: StoreContext): Promise<KV> {
  let kv = buckets.get(ctx);
  if (kv === undefined) {
    kv = openProgressBucket(ctx);
    // A failed open is retried by the next caller rather than remembered.
    kv.catch(() => buckets.delete(ctx));
    buckets.set(ctx, kv);
  }
  return kv;
}

async function openProgressBucket(ctx: StoreContext): Promise<KV> {
  const t = ctx.topology;
  // Same replica count as the deployment's other buckets.
  const replicas = t.replicas ?? (await ctx.jsm.streams.info(`KV_${t.buckets.queues}`)).config.num_replicas;
  return new Kvm(ctx.nc).create(`${t.prefix}_progress`, { history: 1, ttl: PROGRESS_TTL_MS, replicas });
}

/** Removes every progress entry (admin reset); nothing to do when the bucket was never made. */
export async function purgeProgress(ctx: StoreContext): Promise<void> {
  try {
    await ctx.jsm.streams.purge(`KV_${ctx.topology.prefix}_progress`);
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
  }
}

/** Clamps a reported value into 0..1 (ojs-progress §5.1); `undefined` for anything not a finite number. */
export function clampProgress(value: unknown): number | undefined {
  if (typeof value !== "number" || !Number.isFinite(value)) return undefined;
  return Math.min(1, Math.max(0, value));
}

/** Checks and normalises an update; throws `ValidationError` naming the field. */
export function normalizeUpdate(u: ProgressUpdate): ProgressUpdate {
  const out: ProgressUpdate = {};
  if (u.progress !== undefined) {
    const p = clampProgress(u.progress);
    if (p === undefined)
      throw new ValidationError("progress: must be a number", { details: { field: "progress" } });
    out.progress = p;
  }
  if (u.message !== undefined) out.message = u.message.slice(0, MAX_PROGRESS_MESSAGE_CHARS);
  if (u.data !== undefined) {
    if (JSON.stringify(u.data).length > MAX_PROGRESS_DATA_BYTES) {
      throw new ValidationError(`data: at most ${MAX_PROGRESS_DATA_BYTES} bytes of JSON`, {
        details: { field: "data" },
      });
    }
    out.data = u.data;
  }
  if (out.progress === undefined && out.message === undefined && out.data === undefined) {
    throw new ValidationError("a progress update needs progress, message or data", {
      details: { field: "progress" },
    });
  }
  return out;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function decode(value: Uint8Array): ProgressRecord | undefined {
  try {
    const r = JSON.parse(dec.decode(value)) as ProgressRecord;
    return typeof r.a === "number" && typeof r.at === "number" ? r : undefined;
  } catch {
    return undefined;
  }
}

/** The stored entry of a job, if any. */
export async function readProgress(ctx: StoreContext, jobId: string): Promise<ProgressRecord | undefined> {
  const e = await (await progressBucket(ctx)).get(jobId);
  return e && e.operation === "PUT" ? decode(e.value) : undefined;
}

/** The entry after `u` is applied to `prev` (of the same attempt, or none). */
export function applyUpdate(
  prev: ProgressRecord | undefined,
  attempt: number,
  u: ProgressUpdate,
  now: number,
  workerId?: string,
): ProgressRecord {
  const same = prev !== undefined && prev.a === attempt ? prev : undefined;
  const next: ProgressRecord = { a: attempt, at: now };
  const p = u.progress === undefined ? same?.p : Math.max(u.progress, same?.p ?? 0);
  if (p !== undefined) next.p = p;
  const m = u.message ?? same?.m;
  if (m !== undefined) next.m = m;
  const d = u.data ?? same?.d;
  if (d !== undefined) next.d = d;
  if (workerId !== undefined) next.w = workerId;
  return next;
}

/**
 * Stores a report for attempt `attempt` of `jobId` (the caller checked that the attempt is running),
 * with compare-and-set so that concurrent reports never lower the value.
 */
export async function writeProgress(
  ctx: StoreContext,
  jobId: string,
  attempt: number,
  u: ProgressUpdate,
  workerId?: string,
): Promise<ProgressRecord> {
  const kv = await progressBucket(ctx);
  for (let tries = 0; ; tries++) {
    const e = await kv.get(jobId);
    const prev = e && e.operation === "PUT" ? decode(e.value) : undefined;
    const next = applyUpdate(prev, attempt, u, Date.now(), workerId);
    try {
      const value = enc.encode(JSON.stringify(next));
      if (e === null || e.operation !== "PUT") await kv.create(jobId, value);
      else await kv.update(jobId, value, e.revision);
      return next;
    } catch (err) {
      // Someone else wrote first (wrong last sequence): read again. Give up quietly after a few tries:
      // progress is best effort (§4), and the other writer's value is as recent as ours.
      if (tries >= 4) throw err;
    }
  }
}

/** What clients see of a job's entry, given the job's current view (attempt scoping, 1.0 when done). */
export function progressView(rec: ProgressRecord | undefined, job: JobView): ProgressView {
  const attempt = typeof job.attempt === "number" ? job.attempt : 0;
  const mine = rec !== undefined && rec.a === attempt ? rec : undefined;
  if (mine === undefined) return { progress: null, message: null, data: null, updated_at: null };
  const done = job.state === JobState.Completed;
  return {
    progress: done ? 1 : (mine.p ?? null),
    message: mine.m ?? null,
    data: mine.d ?? null,
    updated_at: new Date(mine.at).toISOString(),
  };
}

/**
 * The job view with its progress (`progress`, `progress_message`, `progress_data`,
 * `progress_updated_at`) when its current attempt reported any. Jobs that never ran cost no read.
 */
export async function withProgress(ctx: StoreContext, job: JobView): Promise<JobView> {
  if (typeof job.attempt !== "number" || job.attempt === 0) return job;
  let rec: ProgressRecord | undefined;
  try {
    rec = await readProgress(ctx, job.id);
  } catch {
    return job; // progress is observational: a failed read shows the job without it
  }
  const v = progressView(rec, job);
  if (v.updated_at === null) return job;
  return {
    ...job,
    progress: v.progress,
    ...(v.message !== null && { progress_message: v.message }),
    ...(v.data !== null && { progress_data: v.data }),
    progress_updated_at: v.updated_at,
  };
}
