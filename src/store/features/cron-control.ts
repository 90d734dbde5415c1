/**
 * Operating a registered schedule without registering it again (ojs-cron §8.3, §8.5, and what the
 * official OJS CLI and admin UI call): read one, pause/resume (`enabled`), change it in place, run its
 * template once now ("trigger"), and list its recent runs.
 *
 * What must hold:
 * - A paused schedule does not fire (cron.ts `cronTick` skips it). Resuming records `resumedAt`, so
 *   ticks that fell in the pause are not fired late as catch-up ticks.
 * - A change in place keeps the schedule's run state (`lastRunAt`, `lastJobId`): changing the
 *   expression does not fire catch-up ticks for the new expression.
 * - A triggered run is a fresh job (its own id), marked `meta.cron_trigger: "manual"`; it is not a
 *   tick, so it does not move `last_run_at` and is not in the history.
 * - History costs one job lookup per tick shown: a tick's job id is derived from (name, tick time)
 *   (cron.ts `fire`), so the last ticks of the schedule are computed back from `last_run_at` and their
 *   jobs looked up. Ticks that did not fire (skipped, paused) and jobs removed by retention are absent.
 */
import { parseEnqueueRequest } from "../../core/envelope.js";
import { ErrorCode, JetjobError, NotFoundError, ValidationError } from "../../core/errors.js";
import { uuidv7Derived } from "../../core/ids.js";
import { toRfc3339 } from "../../core/time.js";
import type { CronRecord, CronView } from "./cron.js";
import { CRON_VISIBILITY_MS, cronView, parseCron, schedule, templateTarget } from "./cron.js";
import { casUpdate, getJson } from "../infra/kvjson.js";
import type { Services } from "../infra/services.js";
import type { JobView } from "../jobs/view.js";
import { buildJobView, deriveState } from "../jobs/view.js";

/** One schedule; 404 `not_found` when there is none of that name. */
export async function getCron(svc: Services, name: string): Promise<CronView> {
  const r = await getJson<CronRecord>(svc.ctx.buckets.cron, name);
  if (!r) throw new NotFoundError("cron", name);
  return cronView(r.value);
}

/**
 * Changes a schedule in place (`PATCH`): any of `enabled`, `expression` (or `cron`, `schedule`),
 * `timezone`, `overlap_policy`, `job_template`. Fields not given keep their values; the result is
 * checked as a registration is. A fleet (targeted) template can be kept but not replaced here.
 */
export async function updateCron(svc: Services, name: string, patch: unknown): Promise<CronView> {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch))
    throw new ValidationError("body must be a JSON object");
  const p = patch as Record<string, unknown>;
  if (p.enabled !== undefined && typeof p.enabled !== "boolean")
    throw new ValidationError("enabled must be true or false");
  const cur = await getJson<CronRecord>(svc.ctx.buckets.cron, name);
  if (!cur) throw new NotFoundError("cron", name);
  const old = cur.value;
  const template = p.job_template ?? old.jobTemplate;
  if (p.job_template !== undefined && templateTarget(template as Record<string, unknown>) !== undefined)
    throw new JetjobError(
      ErrorCode.Unsupported,
      "a targeted (fleet) job_template is replaced by POST /ojs/v1/cron",
    );
  const next = parseCron(
    {
      name,
      expression: p.expression ?? p.cron ?? p.schedule ?? old.expression,
      timezone: p.timezone ?? old.timezone,
      overlap_policy: p.overlap_policy ?? old.overlapPolicy,
      enabled: p.enabled ?? old.enabled,
      job_template: template,
    },
    Date.now(),
    // The stored fleet template was checked when it was registered and is not replaced here.
    { check: (t) => t },
  );
  if (p.job_template !== undefined) await svc.schemas.check([parseEnqueueRequest(next.jobTemplate)]);
  return cronView(await save(svc, old, (r) => withResumed({ ...r, ...pick(next) }, r.enabled)));
}

/** Pauses (`enabled: false`) or resumes a schedule; doing it twice is harmless. */
export async function setCronEnabled(svc: Services, name: string, enabled: boolean): Promise<CronView> {
  const cur = await getJson<CronRecord>(svc.ctx.buckets.cron, name);
  if (!cur) throw new NotFoundError("cron", name);
  return cronView(await save(svc, cur.value, (r) => withResumed({ ...r, enabled }, r.enabled)));
}

/** Enqueues the schedule's job template once, now (not a tick). */
export async function triggerCron(svc: Services, name: string, nowMs = Date.now()): Promise<JobView> {
  const cur = await getJson<CronRecord>(svc.ctx.buckets.cron, name);
  if (!cur) throw new NotFoundError("cron", name);
  const r = cur.value;
  if (templateTarget(r.jobTemplate) !== undefined) {
    throw new JetjobError(
      ErrorCode.Unsupported,
      "running a scheduled fleet job now is not supported; create the fleet job directly",
    );
  }
  const n = parseEnqueueRequest(
    { ...r.jobTemplate, id: uuidv7Derived(nowMs, `cron:${name}:manual:${crypto.randomUUID()}`) },
    nowMs,
  );
  n.spec.visibilityMs ??= CRON_VISIBILITY_MS;
  n.spec.meta = { ...n.spec.meta, cron: name, cron_trigger: "manual", cron_tick: toRfc3339(nowMs) };
  await svc.producer.enqueue([n]);
  const id = n.spec.id!;
  const loc = await svc.locator.locate(id);
  if (!loc) throw new NotFoundError("job", id);
  return buildJobView(loc.at, loc.idx, deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, Date.now()));
}

/** One run in a schedule's history. */
export interface CronExecution {
  job_id: string;
  state: string;
  scheduled_at: string;
  started_at?: string;
  completed_at?: string;
}

/** The jobs of the schedule's last `limit` ticks up to `last_run_at`, newest first (see the header). */
export async function cronHistory(svc: Services, name: string, limit: number): Promise<CronExecution[]> {
  const cur = await getJson<CronRecord>(svc.ctx.buckets.cron, name);
  if (!cur) throw new NotFoundError("cron", name);
  const r = cur.value;
  if (templateTarget(r.jobTemplate) !== undefined) {
    throw new JetjobError(
      ErrorCode.Unsupported,
      "the history of a scheduled fleet job is not kept here: list the fleet jobs with meta.cron",
    );
  }
  if (r.lastRunAt === undefined) return [];
  const ticks = schedule(r.expression, r.timezone)
    .previousRuns(limit, new Date(r.lastRunAt + 1))
    .map((d) => d.getTime())
    .filter((t) => t <= r.lastRunAt! && t >= r.createdAt);
  const out: CronExecution[] = [];
  for (const tick of ticks) {
    const id = uuidv7Derived(tick, `cron:${r.name}:${tick}`);
    const loc = await svc.locator.locate(id);
    if (!loc) continue;
    const v = buildJobView(loc.at, loc.idx, deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, Date.now()));
    const e: CronExecution = { job_id: id, state: v.state, scheduled_at: toRfc3339(tick) };
    if (typeof v.started_at === "string") e.started_at = v.started_at;
    if (typeof v.completed_at === "string") e.completed_at = v.completed_at;
    out.push(e);
  }
  return out.sort((a, b) => b.scheduled_at.localeCompare(a.scheduled_at));
}

/** The fields a change in place replaces (run state is kept). */
function pick(n: CronRecord): Partial<CronRecord> {
  const out: Partial<CronRecord> = {
    expression: n.expression,
    overlapPolicy: n.overlapPolicy,
    enabled: n.enabled,
    jobTemplate: n.jobTemplate,
  };
  if (n.timezone !== undefined) out.timezone = n.timezone;
  return out;
}

/** `r` changed from `wasEnabled`: a pause that ends now records `resumedAt`. */
function withResumed(r: CronRecord, wasEnabled: boolean): CronRecord {
  if (r.enabled && !wasEnabled) r.resumedAt = Date.now();
  return r;
}

async function save(
  svc: Services,
  old: CronRecord,
  change: (r: CronRecord) => CronRecord,
): Promise<CronRecord> {
  let gone = false;
  const r = await casUpdate<CronRecord>(svc.ctx.buckets.cron, old.name, (cur) => {
    // Deleted, or deleted and registered again meanwhile: not the schedule this change was made for.
    if (!cur || cur.createdAt !== old.createdAt) return ((gone = true), undefined);
    return change(cur);
  });
  if (gone || !r) throw new NotFoundError("cron", old.name);
  return r;
}
