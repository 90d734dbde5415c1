/**
 * OJS Admin API (ojs-admin-api §7, §8): job list with filters, job detail, cancel, retry and promote
 * ("run now") under `/ojs/v1/admin/jobs`, and the bulk retry, cancel, promote and delete. Each
 * operation is the one the data plane and `/api/v1` use (engine.cancel, engine.retryJob), or the
 * store's own (store/segments/activate.ts `runJobNow`, store/jobs/delete-job.ts `deleteJob`); the list and the bulk
 * filters read through the engine's per-queue listing (ojs-admin-search.ts).
 *
 * Bulk delete (§8.3) deletes finished jobs only (completed, discarded, cancelled) ahead of their
 * retention; a job in any other state is refused (409 in `errors`), never cancelled on the way.
 */
import { z } from "zod";

import { coerceError, ValidationError } from "../core/errors.js";
import { zodToValidationError } from "../core/envelope.js";
import { JobState } from "../core/states.js";
import { runJobNow } from "../store/segments/activate.js";
import { deleteJob } from "../store/jobs/delete-job.js";
import type { Engine } from "../store/engine.js";
import type { QueueStats } from "../store/queues/stats.js";
import type { JobView } from "../store/jobs/view.js";
import { Scope } from "./auth.js";
import type { JobSearch } from "./ojs-admin-search.js";
import { queuesWithJobs, searchJobs } from "./ojs-admin-search.js";
import type { JobMatch } from "./ojs-admin-views.js";
import {
  adminPage,
  adminPageQuery,
  adminPagination,
  countsOf,
  hasMatch,
  jobDetail,
  jobSummary,
  requireConfirm,
  stateParam,
  sumCounts,
  timeParam,
} from "./ojs-admin-views.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { queueParam } from "./routes-ojs-admin.js";
import { adminListSchema, bulkResultSchema, fields, jobSchema, openObject } from "./response-schemas.js";

/** Jobs one bulk request acts on at most; more matching jobs are left for the next request. */
export const BULK_MAX_JOBS = 1000;
/** Operations of one bulk request in flight at once. */
const BULK_IN_FLIGHT = 16;

/** What a bulk action does, and which states it means when the filter names none. */
const bulkActions = {
  retry: {
    run: (e: Engine, id: string) => e.retryJob(id),
    defaultStates: new Set<JobState>([JobState.Discarded, JobState.Cancelled]),
    doneField: "retried",
  },
  cancel: {
    run: (e: Engine, id: string) => e.cancel(id),
    defaultStates: new Set<JobState>([
      JobState.Available,
      JobState.Scheduled,
      JobState.Retryable,
      JobState.Pending,
    ]),
    doneField: "cancelled",
  },
  promote: {
    run: (e: Engine, id: string) => runJobNow(e.svc, id),
    defaultStates: new Set<JobState>([JobState.Scheduled, JobState.Retryable]),
    doneField: "promoted",
  },
  delete: {
    run: (e: Engine, id: string) => deleteJob(e.svc, id),
    defaultStates: new Set<JobState>([JobState.Completed, JobState.Discarded, JobState.Cancelled]),
    doneField: "deleted",
  },
} as const;

const bulkSummaries: Record<BulkAction, string> = {
  retry: "Retry",
  cancel: "Cancel",
  promote: "Run now (scheduled or retryable jobs become available)",
  delete: "Delete (finished jobs only, ahead of their retention)",
};

export type BulkAction = keyof typeof bulkActions;

const filterSchema = z
  .object({
    queue: z.string().optional(),
    state: z.string().optional(),
    type: z.string().optional(),
    since: z.string().optional(),
    until: z.string().optional(),
  })
  .describe(
    "Which jobs (ojs-admin-api §8.1); without a state: retry takes discarded and cancelled jobs, cancel the waiting ones, promote the scheduled and retryable ones, delete the finished ones",
  );

export const bulkBodySchema = z.object({
  filter: filterSchema.optional(),
  job_ids: z
    .array(z.string())
    .max(BULK_MAX_JOBS)
    .optional()
    .describe("These jobs instead of a filter (OJS CLI form)"),
  confirm: z.literal(true).describe("Must be true: the safety interlock of §4.4"),
});

/** Jobs a list sorted other than newest first reads at most (then sorted in memory). */
export const SORT_MAX_JOBS = 5000;

/** Sort keys of the job list; a job without a scheduled time sorts by its creation. */
const sortKeys = {
  created_at: (v: JobView) => Date.parse(String(v.created_at)),
  scheduled_at: (v: JobView) => Date.parse(String(v.scheduled_at ?? v.created_at)),
  priority: (v: JobView) => Number(v.priority ?? 0),
} as const;

/** The search a list query or bulk filter means. */
export function searchOf(f: Record<string, unknown>): JobSearch {
  const match: JobMatch = {};
  if (f.type !== undefined && f.type !== "") {
    if (typeof f.type !== "string") throw new ValidationError("type must be a string");
    match.type = f.type;
  }
  const since = timeParam(f.since, "since");
  const until = timeParam(f.until, "until");
  if (since !== undefined) match.since = since;
  if (until !== undefined) match.until = until;
  const s: JobSearch = { match };
  if (f.queue !== undefined && f.queue !== "") {
    if (typeof f.queue !== "string") throw new ValidationError("queue must be a string");
    s.queue = queueParam(f.queue);
  }
  const state = stateParam(f.state);
  if (state !== undefined) s.state = state;
  return s;
}

/**
 * The list's total: from the queues' counters when only queue and state filter it (exact, and
 * cheap); otherwise what the search saw (a lower bound when more may exist, marked `approximate`).
 */
export async function listTotal(engine: Engine, s: JobSearch): Promise<number | undefined> {
  return totalOf(await statsOf(engine, s), s);
}

/** The statistics of the queues a search reads. */
const statsOf = async (engine: Engine, s: JobSearch): Promise<QueueStats[]> =>
  s.queue !== undefined ? [await engine.queueStats(s.queue)] : engine.allQueueStats();

function totalOf(stats: readonly QueueStats[], s: JobSearch): number | undefined {
  if (hasMatch(s.match)) return undefined;
  const c = sumCounts(stats.map(countsOf));
  return s.state === undefined ? Object.values(c).reduce((a, b) => a + b, 0) : c[s.state];
}

/**
 * Runs a bulk action on the jobs of `b.job_ids`, or of `b.filter` (ojs-admin-api §8.1), at most
 * {@link BULK_MAX_JOBS}: the result says how many matched and succeeded, each failure's job and
 * error, and `truncated` when more matched than one request acts on. The caller checks `confirm`.
 */
export async function runBulk(
  engine: Engine,
  action: BulkAction,
  b: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const a = bulkActions[action];
  // Checked here, not by the route: a missing `confirm` must say so (the routes parse leniently).
  const checked = bulkBodySchema.partial({ confirm: true }).safeParse(b);
  if (!checked.success) throw zodToValidationError(checked.error);
  if (b.job_ids !== undefined && b.filter !== undefined)
    throw new ValidationError("Give job_ids or filter, not both.", { details: { field: "job_ids" } });
  let ids: string[];
  let truncated: boolean;
  if (Array.isArray(b.job_ids)) {
    ids = b.job_ids.filter((x): x is string => typeof x === "string").slice(0, BULK_MAX_JOBS);
    truncated = b.job_ids.length > BULK_MAX_JOBS;
  } else {
    const f = b.filter ?? {};
    if (typeof f !== "object" || Array.isArray(f)) throw new ValidationError("filter must be an object");
    const s = searchOf(f as Record<string, unknown>);
    if (s.state === undefined) s.states = a.defaultStates;
    const r = await searchJobs(engine, s, BULK_MAX_JOBS);
    ids = r.jobs.map((j) => j.id);
    truncated = r.more;
  }
  const errors: Array<{ job_id: string; error: string; code: string }> = [];
  let next = 0;
  let succeeded = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      try {
        await a.run(engine, id);
        succeeded++;
      } catch (err) {
        const e = coerceError(err);
        errors.push({ job_id: id, error: e.message, code: e.code });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(BULK_IN_FLIGHT, ids.length) }, worker));
  return {
    action,
    matched: ids.length,
    succeeded,
    failed: errors.length,
    errors,
    // More jobs matched than one request acts on: send it again for the next ones.
    truncated,
    [a.doneField]: succeeded,
  };
}

export function ojsAdminJobRoutes(engine: Engine): RouteDef[] {
  const bulk = (action: BulkAction) =>
    defineRoute({
      method: "POST",
      path: `/ojs/v1/admin/jobs/bulk/${action}`,
      scope: Scope.Write,
      tag: "admin",
      summary: `${bulkSummaries[action]}: the jobs a filter (or job_ids) matches, at most 1,000 per request; needs confirm: true`,
      docBody: bulkBodySchema,
      bodyOptional: true,
      parseBody: (raw) => raw,
      response: bulkResultSchema,
      handler: async (c, { body }) => ojsJson(c, 200, await runBulk(engine, action, requireConfirm(body))),
    });

  return [
    // Before `/admin/jobs/{id}/...`: "bulk" would match `{id}` there.
    bulk("retry"),
    bulk("cancel"),
    bulk("promote"),
    bulk("delete"),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/admin/jobs",
      scope: Scope.Read,
      tag: "admin",
      query: adminPageQuery.extend({
        queue: z.string().optional().describe("Only this queue's jobs"),
        state: z.string().optional().describe("Only jobs in this state"),
        type: z.string().optional().describe("Job type, exact or a prefix ending in *"),
        since: z.string().optional().describe("Created at or after (RFC 3339)"),
        until: z.string().optional().describe("Created before (RFC 3339)"),
        sort: z
          .enum(["created_at", "scheduled_at", "priority"])
          .optional()
          .describe("Sort field (default created_at)"),
        order: z.enum(["asc", "desc"]).optional().describe("Sort order (default desc)"),
      }),
      summary:
        "Jobs of every queue (or one), filtered by state, type and creation time, newest first or sorted by created_at, scheduled_at or priority; paged",
      response: adminListSchema(openObject),
      handler: async (c, { query }) => {
        const sort = query.sort ?? "created_at";
        const order = query.order ?? "desc";
        const p = adminPage(query);
        const s = searchOf(query);
        // Newest first is the listing's own order; any other order sorts the first SORT_MAX_JOBS.
        const natural = sort === "created_at" && order === "desc";
        // The counters give the total and tell which queues can hold such jobs at all.
        const stats = await statsOf(engine, s);
        const counted = totalOf(stats, s);
        const r = await searchJobs(
          engine,
          s,
          natural ? p.skip + p.perPage : SORT_MAX_JOBS,
          queuesWithJobs(stats, s.state),
        );
        if (!natural) {
          const key = sortKeys[sort];
          const dir = order === "asc" ? 1 : -1;
          r.jobs.sort((a, b) => dir * (key(a) - key(b)) || a.id.localeCompare(b.id));
        }
        const items = r.jobs.slice(p.skip, p.skip + p.perPage).map(jobSummary);
        const seen = p.skip + items.length;
        // What the search saw (one more when it stopped with more to come): the total when the
        // counters cannot give it (a type or time filter), marked approximate when more may exist.
        const found = (natural ? seen : r.jobs.length) + (r.more ? 1 : 0);
        const total = Math.max(counted ?? found, seen);
        return ojsJson(c, 200, {
          items,
          pagination: adminPagination(
            p,
            total,
            seen < Math.max(total, found),
            counted === undefined && r.more,
          ),
        });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/admin/jobs/{id}",
      scope: Scope.Read,
      tag: "admin",
      summary:
        "The full job: args, meta, state, attempts, retry policy, error history, result and timestamps",
      response: fields({ id: z.string(), type: z.string(), state: z.string(), queue: z.string() }),
      handler: async (c, { params }) => ojsJson(c, 200, jobDetail(await engine.get(params.id))),
    }),
    ...(["cancel", "retry", "promote"] as const).map((verb) =>
      defineRoute({
        method: "POST",
        path: `/ojs/v1/admin/jobs/{id}/${verb}`,
        scope: Scope.Write,
        tag: "admin",
        summary: {
          cancel: "Cancel a job (as DELETE /ojs/v1/jobs/{id})",
          retry:
            "Run a discarded or cancelled job again with fresh attempts (as POST /api/v1/jobs/{id}/retry)",
          promote:
            "Run a scheduled or retryable job now: it becomes available in its queue (409 for other states, or a job with an exclusive or rate-limit key)",
        }[verb],
        bodyOptional: true,
        parseBody: (raw) => raw,
        response: fields({ job: jobSchema, id: z.string(), state: z.string() }),
        handler: async (c, { params }) => {
          const id = params.id;
          const job: JobView =
            verb === "cancel"
              ? await engine.cancel(id)
              : verb === "retry"
                ? await engine.retryJob(id)
                : await runJobNow(engine.svc, id);
          // `state` at the top as the OJS CLI's `retry` prints it.
          return ojsJson(c, 200, { job, id: job.id, state: job.state });
        },
      }),
    ),
  ];
}
