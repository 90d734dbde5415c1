/**
 * Cron (OJS level 2): named schedules that enqueue a job template. Expressions have 5 fields
 * (minute precision) or 6 (seconds first), or are one of @yearly @annually @monthly @weekly @daily
 * @midnight @hourly; an IANA time zone may be given. Parsing and "next time" come from croner.
 *
 * Firing is exactly once per tick across any number of API servers and leader changes: the tick's job
 * id is derived from (name, tick time), so enqueueing it twice stores one job (409 duplicate), and the
 * schedule's `lastRunAt` moves forward with compare-and-set. Ticks missed while no leader ran (a
 * leader change) are fired late, in order, if they are at most {@link CATCH_UP_MS} old; older ones
 * (long downtime) are skipped rather than fired in a burst. `overlap_policy: "skip"` skips a tick
 * while the previous job is unfinished. Cron jobs get a 10-minute visibility timeout unless the
 * template sets one.
 *
 * Scheduled fleet jobs: a template with a `target` creates a targeted (fleet) job at each tick instead
 * of a queue job. The store does not know the fleet (layering): whoever runs a fleet controller passes
 * a {@link CronFleet} in (server/run.ts), which checks such templates at registration and creates the
 * tick's job. Its id is derived from (name, tick) too, and the controller refuses a second job with the
 * same id, so a tick still fires once across leaders. A tick that cannot fire (the target selects no
 * agent, or no controller runs where the scheduler runs) is not retried: it is recorded on the
 * schedule (`last_error`) and reported through `onWarn`, and the schedule goes on.
 */
import { Cron } from "croner";

import { parseEnqueueRequest } from "../../core/envelope.js";
import {
  ConflictError,
  ErrorCode,
  isJetjobError,
  JetjobError,
  NotFoundError,
  ValidationError,
} from "../../core/errors.js";
import { derivedJobId, Store, uuidv7Derived } from "../../core/ids.js";
import { isTerminal } from "../../core/states.js";
import { toRfc3339 } from "../../core/time.js";
import { casUpdate, getJson, keysOf, putJson } from "../infra/kvjson.js";
import type { Services } from "../infra/services.js";
import { buildJobView, deriveState } from "../jobs/view.js";

export interface CronRecord {
  name: string;
  expression: string;
  timezone?: string;
  overlapPolicy: "allow" | "skip";
  enabled: boolean;
  jobTemplate: Record<string, unknown>;
  createdAt: number;
  /** Time of the last tick handled (fired or skipped). */
  lastRunAt?: number;
  resumedAt?: number; // when a pause ended: ticks before it never fire late (cron-control.ts)
  lastJobId?: string;
  /** Why the last tick handled did not fire (absent when it fired); cleared by the next that fires. */
  lastError?: CronTickError;
}

/** A tick that did not fire: the error's code and message, and the tick's time. */
export interface CronTickError {
  code: string;
  message: string;
  tickAt: number;
}

/**
 * Fleet (targeted) jobs for schedules whose template has a `target`, provided by the layer that runs
 * a fleet controller (the store must not import the fleet).
 */
export interface CronFleet {
  /**
   * Checks a targeted job template at registration and returns it as it is stored; throws a
   * {@link ValidationError} (a malformed target names its position).
   */
  check(template: Record<string, unknown>): Record<string, unknown>;
  /**
   * Creates fleet job `id` for one tick. Resolves `duplicate` when a job with this id exists (the
   * tick fired already). Rejects with `no_targets` when the target selects no agent that can run it,
   * and with `unsupported` when no controller runs here. Absent: this process runs no controller.
   */
  dispatch?(
    id: string,
    template: Record<string, unknown>,
    meta: Record<string, unknown>,
  ): Promise<"created" | "duplicate">;
  /** Whether fleet job `id` is still running (for `overlap_policy: "skip"`). */
  running?(id: string): Promise<boolean>;
}

/** What cron needs from outside the store. */
export interface CronOptions {
  /** Scheduled fleet jobs; without it, schedules with a target are refused at registration. */
  fleet?: CronFleet;
  /** Ticks that did not fire (recorded on the schedule as well). */
  onWarn?: (message: string, fields: Record<string, unknown>) => void;
}

export const CRON_VISIBILITY_MS = 600_000;
const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const specials = new Set(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]);

export interface CronView {
  name: string;
  expression: string;
  timezone: string;
  overlap_policy: string;
  enabled: boolean;
  job_template: Record<string, unknown>;
  /** The target of a scheduled fleet job (absent: each tick enqueues a queue job). */
  target?: string;
  created_at: string;
  next_run_at?: string;
  last_run_at?: string;
  last_job_id?: string;
  /** Why the last tick did not fire (`no_targets`, `unsupported`, ...); absent when it fired. */
  last_error?: { code: string; message: string; tick_at: string };
  /** The OJS names (http-binding §13, ojs-cron §2): `expression`. */
  cron: string;
  /** `active`, or `paused` for a schedule paused or registered with `enabled: false`. */
  status: "active" | "paused";
  /** The template's job type, or a fleet template's `op`. */
  type?: string;
  args?: unknown;
  options?: unknown;
}

/** The target of a targeted (fleet) template, or undefined for a queue job's template. */
export function templateTarget(template: Record<string, unknown>): string | undefined {
  return typeof template.target === "string" ? template.target : undefined;
}

export function schedule(expression: string, timezone: string | undefined): Cron {
  const expr = expression === "@midnight" ? "@daily" : expression;
  return new Cron(expr, { paused: true, ...(timezone === undefined ? {} : { timezone }) });
}

export function cronView(r: CronRecord, nowMs = Date.now()): CronView {
  const v: CronView = {
    name: r.name,
    expression: r.expression,
    timezone: r.timezone ?? "UTC",
    overlap_policy: r.overlapPolicy,
    enabled: r.enabled,
    job_template: r.jobTemplate,
    created_at: toRfc3339(r.createdAt),
    cron: r.expression,
    status: r.enabled ? "active" : "paused",
  };
  const t = r.jobTemplate;
  const type = typeof t.type === "string" ? t.type : typeof t.op === "string" ? t.op : undefined;
  if (type !== undefined) v.type = type;
  if (t.args !== undefined) v.args = t.args;
  if (t.options !== undefined) v.options = t.options;
  const target = templateTarget(r.jobTemplate);
  if (target !== undefined) v.target = target;
  const next = schedule(r.expression, r.timezone).nextRun(new Date(nowMs));
  if (next && r.enabled) v.next_run_at = toRfc3339(next.getTime()); // ojs-cron §8.5: none when off
  if (r.lastRunAt !== undefined) v.last_run_at = toRfc3339(r.lastRunAt);
  if (r.lastJobId !== undefined) v.last_job_id = r.lastJobId;
  if (r.lastError !== undefined) {
    const e = r.lastError;
    v.last_error = { code: e.code, message: e.message, tick_at: toRfc3339(e.tickAt) };
  }
  return v;
}

/**
 * Validates a registration (OJS form `{name, expression, timezone?, overlap_policy?, job_template}`,
 * or the SDK form `{name, cron, type, args, options}`). A template with a `target` is a fleet job's
 * (`{op, target, args?, timeout_ms?, ...}`, checked by `fleet`); the SDK form takes `target` beside
 * `type`.
 */
export function parseCron(body: unknown, nowMs = Date.now(), fleet?: CronFleet): CronRecord {
  const b = (body ?? {}) as Record<string, unknown>;
  const name = b.name;
  if (typeof name !== "string" || !namePattern.test(name)) {
    throw new ValidationError("name must be 1-128 characters: letters, digits, '_', '.', '-'");
  }
  const expression =
    typeof b.expression === "string"
      ? b.expression.trim()
      : typeof b.cron === "string"
        ? b.cron.trim()
        : undefined;
  if (!expression) throw new ValidationError('expression is required, e.g. "*/5 * * * *"');
  const fields = expression.split(/\s+/).length;
  if (!specials.has(expression) && fields !== 5 && fields !== 6) {
    throw new ValidationError(
      `expression '${expression}' must have 5 fields (or 6 with seconds first), or be one of ${[...specials].join(" ")}`,
    );
  }
  const timezone = typeof b.timezone === "string" ? b.timezone : undefined;
  if (timezone !== undefined) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    } catch {
      throw new ValidationError(`timezone '${timezone}' is not an IANA time zone (e.g. Europe/Berlin)`);
    }
  }
  try {
    if (!schedule(expression, timezone).nextRun(new Date(nowMs))) throw new Error("it never fires");
  } catch (err) {
    throw new ValidationError(
      `invalid cron expression '${expression}': ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  let template = (b.job_template ??
    (b.type === undefined
      ? undefined
      : b.target === undefined
        ? { type: b.type, args: b.args ?? [], options: b.options }
        : { op: b.type, target: b.target, args: b.args ?? [] })) as Record<string, unknown> | undefined;
  if (!template || typeof template !== "object" || Array.isArray(template))
    throw new ValidationError("job_template is required: {type, args, options} or {op, target, args}");
  if (template.target !== undefined) {
    if (!fleet) {
      throw new JetjobError(
        ErrorCode.Unsupported,
        "job_template has a target, but this server runs no fleet controller to check and create targeted jobs",
        {
          hint: "Register scheduled fleet jobs through a jetjob API server (jetjob server or jetjob start).",
        },
      );
    }
    template = fleet.check(template);
  } else {
    if (template.args === undefined) template = { ...template, args: [] }; // ojs-cron §2.2: default []
    try {
      parseEnqueueRequest(template, nowMs);
    } catch (err) {
      if (err instanceof ValidationError)
        throw new ValidationError(`job_template: ${err.message}`, { code: err.code as never });
      throw err;
    }
  }
  const overlap = b.overlap_policy ?? "allow";
  if (overlap !== "allow" && overlap !== "skip")
    throw new ValidationError("overlap_policy must be allow or skip");
  const r: CronRecord = {
    name,
    expression,
    overlapPolicy: overlap,
    enabled: b.enabled !== false,
    jobTemplate: template,
    createdAt: nowMs,
  };
  if (timezone !== undefined) r.timezone = timezone;
  return r;
}

/** Registers (or replaces) a schedule. */
export async function registerCron(svc: Services, body: unknown, o: CronOptions = {}): Promise<CronView> {
  return (await upsertCron(svc, body, o)).cron;
}

/**
 * Registers a schedule, or replaces the one of the same name (ojs-cron §8.1 upsert; `created` tells
 * which, for 201 or 200). A replaced schedule keeps its `created_at`; its run history starts afresh.
 */
export async function upsertCron(
  svc: Services,
  body: unknown,
  o: CronOptions = {},
): Promise<{ cron: CronView; created: boolean }> {
  const r = parseCron(body, Date.now(), o.fleet);
  if (!templateTarget(r.jobTemplate)) await svc.schemas.check([parseEnqueueRequest(r.jobTemplate)]);
  const old = await getJson<CronRecord>(svc.ctx.buckets.cron, r.name);
  if (old) r.createdAt = old.value.createdAt;
  await putJson(svc.ctx.buckets.cron, r.name, r);
  return { cron: cronView(r), created: !old };
}

export async function listCrons(svc: Services): Promise<CronView[]> {
  const out: CronView[] = [];
  for (const k of await keysOf(svc.ctx.buckets.cron)) {
    const r = await getJson<CronRecord>(svc.ctx.buckets.cron, k);
    if (r) out.push(cronView(r.value));
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export async function deleteCron(svc: Services, name: string): Promise<CronView> {
  const r = await getJson<CronRecord>(svc.ctx.buckets.cron, name);
  if (!r) throw new NotFoundError("cron", name);
  await svc.ctx.buckets.cron.delete(name);
  return cronView(r.value);
}

/** How old a missed tick may be and still fire late. */
export const CATCH_UP_MS = 15 * 60_000;
const MAX_TICKS_PER_PASS = 100;

/** The ticks to fire now: due since `lastRunAt`, oldest first, none older than {@link CATCH_UP_MS}. */
export function dueTicks(r: CronRecord, nowMs: number): number[] {
  const s = schedule(r.expression, r.timezone);
  const from = Math.max(r.lastRunAt ?? r.createdAt, r.resumedAt ?? 0, nowMs - CATCH_UP_MS);
  const out: number[] = [];
  let t: number | undefined = s.nextRun(new Date(from))?.getTime();
  while (t !== undefined && t <= nowMs && out.length < MAX_TICKS_PER_PASS) {
    out.push(t);
    t = s.nextRun(new Date(t))?.getTime();
  }
  return out;
}

/** One scheduler pass: fires every due schedule once. Run by the cron leader every second. */
export async function cronTick(svc: Services, nowMs = Date.now(), o: CronOptions = {}): Promise<void> {
  for (const k of await keysOf(svc.ctx.buckets.cron)) {
    const cur = await getJson<CronRecord>(svc.ctx.buckets.cron, k);
    if (!cur || !cur.value.enabled) continue;
    let r = cur.value;
    for (const tick of dueTicks(r, nowMs)) {
      const next = await fire(svc, r, tick, o);
      if (!next) break; // replaced or deleted meanwhile
      r = next;
    }
  }
}

async function fire(
  svc: Services,
  r: CronRecord,
  tick: number,
  o: CronOptions,
): Promise<CronRecord | undefined> {
  let jobId: string | undefined;
  let tickError: CronTickError | undefined;
  if (r.overlapPolicy === "skip" && r.lastJobId !== undefined && (await unfinished(svc, r, r.lastJobId, o))) {
    jobId = r.lastJobId; // skipped: the previous run is still going
  } else if (templateTarget(r.jobTemplate) !== undefined) {
    const fired = await fireFleet(r, tick, o);
    jobId = fired.jobId ?? r.lastJobId;
    tickError = fired.error;
  } else {
    jobId = uuidv7Derived(tick, `cron:${r.name}:${tick}`);
    const n = parseEnqueueRequest({ ...r.jobTemplate, id: jobId });
    n.spec.visibilityMs ??= CRON_VISIBILITY_MS;
    n.spec.meta = { ...n.spec.meta, cron: r.name, cron_tick: toRfc3339(tick) };
    try {
      await svc.producer.enqueue([n]);
    } catch (err) {
      if (!(err instanceof ConflictError && err.code === ErrorCode.Duplicate)) throw err;
    }
  }
  return casUpdate<CronRecord>(svc.ctx.buckets.cron, r.name, (cur) => {
    if (!cur || cur.createdAt !== r.createdAt || (cur.lastRunAt ?? 0) >= tick) return undefined;
    cur.lastRunAt = tick;
    if (jobId === undefined) delete cur.lastJobId;
    else cur.lastJobId = jobId;
    if (tickError === undefined) delete cur.lastError;
    else cur.lastError = tickError;
    return cur;
  });
}

/** Errors that mean this tick cannot fire (recorded, not retried); anything else is retried next pass. */
const tickErrorCodes: ReadonlySet<string> = new Set([
  ErrorCode.NoTargets,
  ErrorCode.Unsupported,
  ErrorCode.InvalidRequest,
  ErrorCode.ValidationError,
  ErrorCode.PayloadTooLarge,
]);

/** Creates the tick's fleet job; a tick that cannot fire comes back as `error` (and is reported). */
async function fireFleet(
  r: CronRecord,
  tick: number,
  o: CronOptions,
): Promise<{ jobId?: string; error?: CronTickError }> {
  const jobId = derivedJobId(Store.Fleet, tick, `cron:${r.name}:${tick}`);
  let error: CronTickError;
  try {
    if (!o.fleet?.dispatch) {
      throw new JetjobError(
        ErrorCode.Unsupported,
        "tick skipped: the scheduling server runs no fleet controller to create targeted jobs",
      );
    }
    await o.fleet.dispatch(jobId, r.jobTemplate, { cron: r.name, cron_tick: toRfc3339(tick) });
    return { jobId }; // created, or created before by another leader (duplicate)
  } catch (err) {
    if (!isJetjobError(err) || !tickErrorCodes.has(err.code)) throw err;
    error = { code: err.code, message: err.message, tickAt: tick };
  }
  o.onWarn?.("cron tick did not fire", {
    cron: r.name,
    tick: toRfc3339(tick),
    target: templateTarget(r.jobTemplate),
    code: error.code,
    error: error.message,
  });
  return { error };
}

async function unfinished(svc: Services, r: CronRecord, id: string, o: CronOptions): Promise<boolean> {
  // A schedule's last job is of its template's kind: registering again starts with no last job.
  if (templateTarget(r.jobTemplate) !== undefined) return (await o.fleet?.running?.(id)) ?? false;
  const loc = await svc.locator.locate(id);
  if (!loc) return false;
  const v = buildJobView(loc.at, loc.idx, deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, Date.now()));
  return !isTerminal(v.state);
}
