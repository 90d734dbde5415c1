/**
 * The dead-letter queue under the OJS Admin API (`/ojs/v1/admin/dead-letter*`, ojs-admin-api §11 and
 * ojs-dead-letter §10): list (filter by queue and type), statistics, retry one or many, delete one,
 * purge. Each is the engine's dead-letter operation that `/ojs/v1/dead-letter` and `jetjob dlq` use
 * (store/features/dlq.ts). Deleting or purging takes jobs out of the dead-letter queue; the jobs stay
 * discarded until housekeeping removes them with their retention (docs/retention.md).
 */
import { z } from "zod";

import { coerceError, ValidationError } from "../core/errors.js";
import type { Engine } from "../store/engine.js";
import type { JobView } from "../store/jobs/view.js";
import { Scope } from "./auth.js";
import type { JobMatch } from "./ojs-admin-views.js";
import {
  adminPage,
  adminPageQuery,
  adminPagination,
  hasMatch,
  jobSummary,
  matchesJob,
  pageOf,
  requireConfirm,
  timeParam,
} from "./ojs-admin-views.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { queueParam } from "./routes-ojs-admin.js";
import { adminListSchema, fields, jobSchema, openObject } from "./response-schemas.js";

/** Dead letters read at most for statistics, a filtered list or a bulk operation (ojs-dead-letter §5.2's default count). */
export const DLQ_SCAN_MAX = 10_000;
/** Dead letters one bulk request acts on at most. */
export const DLQ_BULK_MAX = 1000;

/** A dead letter in a list: the job summary with when it was discarded and its last error. */
function deadLetterItem(v: JobView): Record<string, unknown> {
  const out = jobSummary(v);
  if (v.error !== undefined) out.error = v.error;
  return out;
}

/** The error type a dead letter ended with (ojs-dead-letter §10.1 `by_error_type`). */
function errorTypeOf(v: JobView): string {
  const e = (v.error ?? (Array.isArray(v.errors) ? v.errors.at(-1) : undefined)) as
    { type?: unknown; code?: unknown } | undefined;
  const t = e?.type ?? e?.code;
  return typeof t === "string" && t !== "" ? t : "Unknown";
}

/** Matches on the discard time (`since`/`until`/`older_than`) as well as type. */
function discardedIn(v: JobView, since?: number, before?: number): boolean {
  const at = Date.parse(String(v.discarded_at ?? v.completed_at ?? v.created_at));
  return (since === undefined || at >= since) && (before === undefined || at < before);
}

interface DlqFilter {
  queue?: string;
  match: JobMatch;
  since?: number;
  before?: number;
  errorType?: string;
}

function filterOf(f: Record<string, unknown>): DlqFilter {
  const out: DlqFilter = { match: {} };
  if (typeof f.queue === "string" && f.queue !== "") out.queue = queueParam(f.queue);
  if (typeof f.type === "string" && f.type !== "") out.match.type = f.type;
  const since = timeParam(f.since, "since");
  const before = timeParam(f.older_than ?? f.until, f.older_than !== undefined ? "older_than" : "until");
  if (since !== undefined) out.since = since;
  if (before !== undefined) out.before = before;
  if (typeof f.error_type === "string" && f.error_type !== "") out.errorType = f.error_type;
  return out;
}

/** Every dead letter the filter matches (up to `max`), newest first; `more` when some were left. */
async function matching(
  engine: Engine,
  f: DlqFilter,
  max: number,
): Promise<{ jobs: JobView[]; more: boolean }> {
  const page = await engine.deadLetters({
    ...(f.queue === undefined ? {} : { queue: f.queue }),
    limit: DLQ_SCAN_MAX,
    offset: 0,
  });
  const jobs = page.jobs.filter(
    (v) =>
      matchesJob(v, f.match) &&
      discardedIn(v, f.since, f.before) &&
      (f.errorType === undefined || errorTypeOf(v) === f.errorType),
  );
  return { jobs: jobs.slice(0, max), more: jobs.length > max || page.total > page.jobs.length };
}

/** Runs `op` on each id, 16 at a time; the bulk result shape of ojs-admin-api §8.1. */
async function forEachId(
  action: string,
  ids: readonly string[],
  op: (id: string) => Promise<unknown>,
): Promise<Record<string, unknown>> {
  const errors: Array<{ job_id: string; error: string; code: string }> = [];
  let next = 0;
  let succeeded = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      try {
        await op(id);
        succeeded++;
      } catch (err) {
        const e = coerceError(err);
        errors.push({ job_id: id, error: e.message, code: e.code });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, ids.length) }, worker));
  return { action, matched: ids.length, succeeded, failed: errors.length, errors };
}

const bodyObject = (b: Record<string, unknown>, key: string): Record<string, unknown> => {
  const v = b[key] ?? {};
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new ValidationError(`${key} must be an object`);
  return v as Record<string, unknown>;
};

/** ojs-dead-letter §10.1 statistics, with `by_type` (the OJS CLI's) beside the spec's breakdowns. */
async function deadLetterStats(engine: Engine): Promise<Record<string, unknown>> {
  const page = await engine.deadLetters({ limit: DLQ_SCAN_MAX, offset: 0 });
  const byQueue: Record<string, number> = {};
  const byType: Record<string, number> = {};
  const byError: Record<string, number> = {};
  let oldest: string | undefined;
  let newest: string | undefined;
  for (const v of page.jobs) {
    byQueue[v.queue] = (byQueue[v.queue] ?? 0) + 1;
    byType[v.type] = (byType[v.type] ?? 0) + 1;
    const et = errorTypeOf(v);
    byError[et] = (byError[et] ?? 0) + 1;
    const at = String(v.discarded_at ?? v.completed_at ?? v.created_at);
    if (oldest === undefined || at < oldest) oldest = at;
    if (newest === undefined || at > newest) newest = at;
  }
  return {
    total: page.total,
    by_queue: byQueue,
    by_type: byType,
    by_error_type: byError,
    ...(oldest === undefined ? {} : { oldest_at: oldest, newest_at: newest }),
    // The breakdowns cover the newest DLQ_SCAN_MAX dead letters.
    ...(page.total > page.jobs.length ? { approximate: true } : {}),
  };
}

export function ojsAdminDeadLetterRoutes(engine: Engine): RouteDef[] {
  return [
    defineRoute({
      method: "GET",
      path: "/ojs/v1/admin/dead-letter",
      scope: Scope.Read,
      tag: "admin",
      query: adminPageQuery.extend({
        queue: z.string().optional().describe("Only this queue's dead letters"),
        type: z.string().optional().describe("Job type, exact or a prefix ending in *"),
      }),
      summary: "Dead letters (jobs discarded with on_exhaustion dead_letter), newest first; paged",
      response: adminListSchema(openObject),
      handler: async (c, { query }) => {
        const p = adminPage(query);
        const f = filterOf(query);
        if (!hasMatch(f.match)) {
          const page = await engine.deadLetters({
            ...(f.queue === undefined ? {} : { queue: f.queue }),
            limit: p.perPage,
            offset: p.skip,
          });
          const items = page.jobs.map(deadLetterItem);
          return ojsJson(c, 200, {
            items,
            pagination: adminPagination(p, page.total, p.skip + items.length < page.total),
          });
        }
        const r = await matching(engine, f, DLQ_SCAN_MAX);
        const { items, pagination } = pageOf(r.jobs.map(deadLetterItem), p);
        return ojsJson(c, 200, {
          items,
          pagination: { ...pagination, ...(r.more ? { approximate: true } : {}) },
        });
      },
    }),
    // ojs-dead-letter §10.1 has it on the data plane too (the OJS CLI's `dead-letter --stats` reads it there).
    ...["/ojs/v1/admin/dead-letter/stats", "/ojs/v1/dead-letter/stats"].map((path) =>
      defineRoute({
        method: "GET",
        path,
        scope: Scope.Read,
        tag: path.startsWith("/ojs/v1/admin/") ? "admin" : "dead-letter",
        summary: "Dead letters: total, by queue, by job type and by error type, oldest and newest",
        response: fields({
          total: z.int(),
          by_queue: openObject,
          by_type: openObject,
          by_error_type: openObject,
        }),
        handler: async (c) => ojsJson(c, 200, await deadLetterStats(engine)),
      }),
    ),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/admin/dead-letter/retry",
      scope: Scope.Write,
      tag: "admin",
      summary:
        "Retry the dead letters a filter matches ({filter: {queue, type, since, until, error_type}}), at most 1,000 per request; needs confirm: true",
      bodyOptional: true,
      parseBody: (raw) => raw,
      response: fields({ retried: z.int().exactOptional(), truncated: z.boolean().exactOptional() }),
      handler: async (c, { body }) => {
        const b = requireConfirm(body);
        const r = await matching(engine, filterOf(bodyObject(b, "filter")), DLQ_BULK_MAX);
        const out = await forEachId(
          "retry",
          r.jobs.map((j) => j.id),
          (id) => engine.retryDeadLetter(id),
        );
        return ojsJson(c, 200, { ...out, retried: out.succeeded, truncated: r.more });
      },
    }),
    defineRoute({
      method: "DELETE",
      path: "/ojs/v1/admin/dead-letter",
      scope: Scope.Admin,
      tag: "admin",
      summary:
        "Purge the dead-letter queue, or the dead letters matching {queue, type, older_than}, at most 1,000 per request; needs confirm: true",
      bodyOptional: true,
      parseBody: (raw) => raw,
      response: fields({
        purged_count: z.int().exactOptional(),
        deleted: z.int().exactOptional(),
        truncated: z.boolean().exactOptional(),
      }),
      handler: async (c, { body }) => {
        const b = requireConfirm(body);
        const r = await matching(engine, filterOf(b), DLQ_BULK_MAX);
        const out = await forEachId(
          "delete",
          r.jobs.map((j) => j.id),
          (id) => engine.deleteDeadLetter(id),
        );
        return ojsJson(c, 200, {
          ...out,
          purged_count: out.succeeded,
          deleted: out.succeeded,
          truncated: r.more,
        });
      },
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/admin/dead-letter/{id}/retry",
      scope: Scope.Write,
      tag: "admin",
      summary:
        "Retry a dead letter: back to available with fresh attempts (as POST /ojs/v1/dead-letter/{id}/retry)",
      bodyOptional: true,
      parseBody: (raw) => raw,
      response: fields({ job: jobSchema, id: z.string(), state: z.string() }),
      handler: async (c, { params }) => {
        const job = await engine.retryDeadLetter(params.id);
        return ojsJson(c, 200, { job, id: job.id, state: job.state });
      },
    }),
    defineRoute({
      method: "DELETE",
      path: "/ojs/v1/admin/dead-letter/{id}",
      scope: Scope.Write,
      tag: "admin",
      summary: "Remove a job from the dead-letter queue (204; as DELETE /ojs/v1/dead-letter/{id})",
      status: 204,
      handler: async (c, { params }) => {
        await engine.deleteDeadLetter(params.id);
        return c.body(null, 204);
      },
    }),
  ];
}
