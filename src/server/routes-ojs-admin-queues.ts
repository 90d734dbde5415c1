/**
 * OJS Admin API (ojs-admin-api §6): queues with their jobs by state, one queue's detail with its
 * configuration, pause and resume. Counts come from the engine's queue statistics (store/queues/stats.ts),
 * pause and resume are the same operation as `POST /ojs/v1/queues/{name}/pause|resume`.
 *
 * Not served here: purging a queue's jobs (§6.5; jetjob removes finished jobs by their retention and
 * has no operation that deletes queue jobs, so the route is absent: 404), and `PUT .../config` (§6.6),
 * which is the backpressure/rate-limit extension's route.
 */
import { z } from "zod";
import { toRfc3339 } from "../core/time.js";
import type { Engine } from "../store/engine.js";
import type { QueueRecord } from "../store/queues/queues.js";
import { queueConfigView } from "../store/queues/queue-config.js";
import type { QueueStats } from "../store/queues/stats.js";
import { Scope } from "./auth.js";
import type { Bucket } from "./ojs-admin-throughput.js";
import { countEvents, MINUTE_BATCHES_MAX, perMinute, quantile } from "./ojs-admin-throughput.js";
import { adminPage, adminPageQuery, countsOf, pageOf } from "./ojs-admin-views.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { queueParam } from "./routes-ojs-admin.js";
import { adminListSchema, fields, openObject } from "./response-schemas.js";

/** A queue as the admin list shows it (§6.1): name, state, counts, paused, created_at. */
function queueItem(s: QueueStats, rec: QueueRecord | undefined): Record<string, unknown> {
  const state = s.paused ? "paused" : "active";
  const v: Record<string, unknown> = {
    name: s.name,
    state,
    // The data plane's name of the same field (http-binding §11.2).
    status: state,
    counts: countsOf(s),
    paused: s.paused,
  };
  if (rec?.createdAt !== undefined) v.created_at = toRfc3339(rec.createdAt);
  if (s.paused && rec?.pausedAt !== undefined) v.paused_at = toRfc3339(rec.pausedAt);
  if (s.approximate === true) v.approximate = true;
  return v;
}

/** The queue's settings (§6.2 `configuration`) in the spec's shape, with jetjob's own beside them. */
function configurationOf(rec: QueueRecord | undefined): Record<string, unknown> {
  if (!rec) return {};
  const view = queueConfigView(rec);
  const out: Record<string, unknown> = {};
  if (view.rate_limit_per_second !== undefined) {
    out.rate_limit = { limit: view.rate_limit_per_second, period: "PT1S" };
    out.rate_limit_per_second = view.rate_limit_per_second;
  }
  if (view.retention !== undefined) out.retention = view.retention;
  if (view.exclusive_key_template !== undefined) out.exclusive_key_template = view.exclusive_key_template;
  if (rec.leaseMs !== undefined) out.lease_ms = rec.leaseMs;
  return out;
}

/**
 * A queue's last minute (§6.1 `throughput`, `latency_ms`), from the stored events
 * (ojs-admin-throughput.ts): attempts that finished and failed, and how long started jobs waited.
 */
function lastMinute(
  b: Omit<Bucket, "start"> | undefined,
  rate: (n: number) => number,
): Record<string, unknown> {
  const throughput = {
    processed_per_minute: rate((b?.completed ?? 0) + (b?.failed ?? 0)),
    failed_per_minute: rate(b?.failed ?? 0),
  };
  const waits = b?.waits ?? [];
  if (waits.length === 0) return { throughput };
  return {
    throughput,
    latency_ms: { p50: quantile(waits, 0.5), p95: quantile(waits, 0.95), p99: quantile(waits, 0.99) },
  };
}

export function ojsAdminQueueRoutes(engine: Engine): RouteDef[] {
  return [
    defineRoute({
      method: "GET",
      path: "/ojs/v1/admin/queues",
      scope: Scope.Read,
      tag: "admin",
      query: adminPageQuery,
      summary: "Queues by name, each with its jobs by state (counts) and whether it is paused; paged",
      response: adminListSchema(openObject),
      handler: async (c, { query }) => {
        const now = Date.now();
        const [stats, records, minute] = await Promise.all([
          engine.allQueueStats(),
          engine.listQueues(),
          countEvents(engine, {
            sinceMs: now - 60_000,
            untilMs: now,
            bucketMs: 60_000,
            byQueue: true,
            maxBatches: MINUTE_BATCHES_MAX,
          }),
        ]);
        const byName = new Map(records.map((r) => [r.name, r]));
        const all = [...stats].sort((a, b) => a.name.localeCompare(b.name));
        const { items, pagination } = pageOf(all, adminPage(query));
        return ojsJson(c, 200, {
          items: items.map((s) => ({
            ...queueItem(s, byName.get(s.name)),
            ...lastMinute(minute.queues?.get(s.name), perMinute(minute, now - 60_000, now)),
          })),
          pagination,
        });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/admin/queues/{name}",
      scope: Scope.Read,
      tag: "admin",
      summary: "One queue: its jobs by state, configuration (rate limit, retention, exclusive key template)",
      response: fields({ name: z.string(), configuration: openObject }),
      handler: async (c, { params }) => {
        const name = queueParam(params.name);
        const [stats, rec] = await Promise.all([engine.queueStats(name), engine.ctx.queues.get(name)]);
        return ojsJson(c, 200, { ...queueItem(stats, rec), configuration: configurationOf(rec) });
      },
    }),
    ...(["pause", "resume"] as const).map((verb) =>
      defineRoute({
        method: "POST",
        path: `/ojs/v1/admin/queues/{name}/${verb}`,
        scope: Scope.Admin,
        tag: "admin",
        summary:
          verb === "pause"
            ? "Pause a queue: jobs are still accepted but not handed out (as POST /ojs/v1/queues/{name}/pause)"
            : "Resume a paused queue (as POST /ojs/v1/queues/{name}/resume)",
        bodyOptional: true,
        parseBody: (raw) => raw,
        response: fields({ name: z.string(), paused: z.boolean(), state: z.string(), status: z.string() }),
        handler: async (c, { params }) => {
          const paused = verb === "pause";
          const r = await engine.setPaused(queueParam(params.name), paused);
          const state = paused ? "paused" : "active";
          return ojsJson(c, 200, {
            name: r.name,
            paused,
            state,
            status: state,
            ...(paused
              ? { paused_at: toRfc3339(r.pausedAt ?? Date.now()) }
              : { resumed_at: new Date().toISOString() }),
          });
        },
      }),
    ),
  ];
}
