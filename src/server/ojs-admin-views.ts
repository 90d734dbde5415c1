/**
 * Shapes shared by the OJS Admin API routes (`/ojs/v1/admin/*`, spec ojs-admin-api): page/per_page
 * paging, the `counts` object of a queue, job summaries and the full job detail, and the `confirm`
 * interlock of destructive operations. The official admin UI and OJS CLI read some fields under other
 * names than the spec; where they differ both names are sent (noted at each field).
 */
import { z } from "zod";

import { ValidationError } from "../core/errors.js";
import { allJobStates } from "../core/states.js";
import type { JobState } from "../core/states.js";
import type { QueueStats } from "../store/queues/stats.js";
import type { JobView } from "../store/jobs/view.js";
import { queryInt } from "./paging.js";

/** Query of the admin lists (ojs-admin-api §7.1): 1-based `page`, `per_page` (max 100); `limit` as its alias. */
export const adminPageQuery = z.object({
  page: queryInt(1, 1_000_000).optional().describe("Page number, from 1"),
  per_page: queryInt(1, 100)
    .optional()
    .describe("Items per page (at most 100; the default depends on the list)"),
  limit: queryInt(1, 100).optional().describe("Alias of per_page"),
});

export interface AdminPage {
  page: number;
  perPage: number;
  /** Items before this page. */
  skip: number;
}

export function adminPage(query: z.output<typeof adminPageQuery>, defaultPerPage = 20): AdminPage {
  const page = query.page ?? 1;
  const perPage = query.per_page ?? query.limit ?? defaultPerPage;
  return { page, perPage, skip: (page - 1) * perPage };
}

/**
 * The admin `pagination` object: `total`, `page`, `per_page` (spec), with `has_more`. `approximate`
 * marks a total that is a lower bound (a filter the counters cannot answer; see the jobs list).
 */
export function adminPagination(
  p: AdminPage,
  total: number,
  hasMore: boolean,
  approximate = false,
): Record<string, unknown> {
  return {
    total,
    page: p.page,
    per_page: p.perPage,
    total_pages: Math.max(1, Math.ceil(total / p.perPage)),
    has_more: hasMore,
    ...(approximate ? { approximate: true } : {}),
  };
}

/** A page of an in-memory list. */
export function pageOf<T>(
  all: readonly T[],
  p: AdminPage,
): { items: T[]; pagination: Record<string, unknown> } {
  const items = all.slice(p.skip, p.skip + p.perPage);
  return { items, pagination: adminPagination(p, all.length, p.skip + items.length < all.length) };
}

export type JobCounts = Record<
  "available" | "active" | "scheduled" | "retryable" | "completed" | "discarded" | "cancelled" | "pending",
  number
>;

/** A queue's jobs by state (ojs-admin-api §6.1 `counts`, with jetjob's `pending`). */
export function countsOf(s: QueueStats): JobCounts {
  return {
    available: s.available,
    active: s.active,
    scheduled: s.scheduled,
    retryable: s.retryable,
    completed: s.completed,
    discarded: s.discarded,
    cancelled: s.cancelled,
    pending: s.pending,
  };
}

export function sumCounts(all: readonly JobCounts[]): JobCounts {
  const out: JobCounts = {
    available: 0,
    active: 0,
    scheduled: 0,
    retryable: 0,
    completed: 0,
    discarded: 0,
    cancelled: 0,
    pending: 0,
  };
  for (const c of all) for (const k of Object.keys(out) as Array<keyof JobCounts>) out[k] += c[k];
  return out;
}

/** A job state from a query or filter, or undefined; 400 for a name that is not a state. */
export function stateParam(v: unknown, field = "state"): JobState | undefined {
  if (v === undefined || v === "") return undefined;
  if (typeof v !== "string" || !allJobStates.includes(v as JobState))
    throw new ValidationError(`${field} must be one of ${allJobStates.join(", ")}`, { details: { field } });
  return v as JobState;
}

/** An RFC 3339 time from a query or filter, as epoch ms; 400 when it does not parse. */
export function timeParam(v: unknown, field: string): number | undefined {
  if (v === undefined || v === "") return undefined;
  const ms = typeof v === "string" ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms))
    throw new ValidationError(`${field} must be an RFC 3339 time`, { details: { field } });
  return ms;
}

/** Which jobs a list or bulk operation means, beyond queue and state (ojs-admin-api §7.1). */
export interface JobMatch {
  /** Exact type, or a prefix when it ends with `*`. */
  type?: string;
  /** Created at or after (epoch ms). */
  since?: number;
  /** Created before (epoch ms). */
  until?: number;
}

export function matchesJob(v: JobView, m: JobMatch): boolean {
  if (m.type !== undefined) {
    const ok = m.type.endsWith("*") ? v.type.startsWith(m.type.slice(0, -1)) : v.type === m.type;
    if (!ok) return false;
  }
  if (m.since !== undefined || m.until !== undefined) {
    const created = Date.parse(String(v.created_at));
    if (m.since !== undefined && created < m.since) return false;
    if (m.until !== undefined && created >= m.until) return false;
  }
  return true;
}

export const hasMatch = (m: JobMatch) =>
  m.type !== undefined || m.since !== undefined || m.until !== undefined;

const summaryFields = [
  "id",
  "type",
  "queue",
  "state",
  "priority",
  "attempt",
  "max_attempts",
  "created_at",
  "enqueued_at",
  "started_at",
  "scheduled_at",
  "completed_at",
  "cancelled_at",
  "discarded_at",
] as const;

/** A job in a list (ojs-admin-api §7.1): no args, result or error history. */
export function jobSummary(v: JobView): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of summaryFields) if (v[k] !== undefined) out[k] = v[k];
  return out;
}

/**
 * The full job (ojs-admin-api §7.2): the job object with `specversion`, `meta` and `errors` always
 * present (the admin UI reads `Object.keys(job.meta)` and `job.errors.length`), `retry_policy`, and
 * the timestamps again under `metadata` (null when unset, as in the spec's example). A job's own
 * `options.metadata` keys stay in `metadata` beside them (the timestamps win a name clash).
 */
export function jobDetail(v: JobView): Record<string, unknown> {
  const at = (k: string) => (v[k] === undefined ? null : v[k]);
  const own =
    typeof v.metadata === "object" && v.metadata !== null ? (v.metadata as Record<string, unknown>) : {};
  return {
    specversion: "1.0",
    ...v,
    meta: v.meta ?? {},
    errors: v.errors ?? [],
    result: v.result ?? null,
    ...(v.retry === undefined ? {} : { retry_policy: v.retry }),
    metadata: {
      ...own,
      created_at: at("created_at"),
      enqueued_at: at("enqueued_at"),
      started_at: at("started_at"),
      scheduled_at: at("scheduled_at"),
      completed_at: at("completed_at"),
      cancelled_at: at("cancelled_at"),
      discarded_at: at("discarded_at"),
    },
  };
}

/**
 * The safety interlock of destructive and bulk operations (ojs-admin-api §4.4, §6.5): the body must
 * carry `confirm: true`; anything else is refused with 400 before anything is read or changed.
 */
export function requireConfirm(body: unknown): Record<string, unknown> {
  const b =
    typeof body === "object" && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : {};
  if (b.confirm !== true) {
    throw new ValidationError('This operation needs "confirm": true in the request body.', {
      details: { field: "confirm" },
      hint: 'A safety interlock (ojs-admin-api §4.4): resend with {"confirm": true, ...}.',
    });
  }
  return b;
}
