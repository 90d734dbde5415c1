/**
 * OJS Admin API statistics and system routes (ojs-admin-api §10, §12.2): aggregate statistics, their
 * history over time, and the server's (non-secret) configuration. Job counts are the engine's queue
 * statistics; throughput, history and latency are counted from the stored lifecycle events
 * (ojs-admin-throughput.ts); workers are the worker registry (online SDK and HTTP queue workers and
 * fleet agents).
 *
 * The OJS CLI reads the configuration at `/ojs/v1/admin/config` (the spec: `/admin/system/config`):
 * both are served.
 */
import { z } from "zod";

import { ValidationError } from "../core/errors.js";
import { toRfc3339 } from "../core/time.js";
import type { Controller } from "../fleet/controller.js";
import { listAllWorkers } from "../fleet/workers.js";
import type { Engine } from "../store/engine.js";
import { Scope } from "./auth.js";
import {
  countEvents,
  historyPeriods,
  mean,
  MINUTE_BATCHES_MAX,
  perMinute,
  quantile,
  timeOrAgo,
} from "./ojs-admin-throughput.js";
import { countsOf, sumCounts } from "./ojs-admin-views.js";
import { OJS_VERSION, ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { queueParam } from "./routes-ojs-admin.js";
import { fields, openObject } from "./response-schemas.js";

export interface AdminApiDeps {
  engine: Engine;
  fleet?: Controller | undefined;
  version: string;
  startedAt: number;
}

/** Points one history answer has at most. */
const MAX_POINTS = 1440;

const round1 = (x: number | undefined) => (x === undefined ? undefined : Math.round(x * 10) / 10);

export function ojsAdminStatsRoutes(d: AdminApiDeps): RouteDef[] {
  const { engine } = d;
  const config = (path: string) =>
    defineRoute({
      method: "GET",
      path,
      scope: Scope.Read,
      tag: "admin",
      summary: "The server's configuration: version, retention, payload limits, stream limits (no secrets)",
      response: fields({
        implementation: z.unknown(),
        ojs_version: z.string(),
        backend: z.unknown(),
        scheduler: z.unknown(),
        retention: z.unknown(),
        limits: z.unknown(),
        streams: z.unknown(),
        uptime_seconds: z.int(),
      }),
      handler: (c) => {
        const t = engine.ctx.topology;
        return ojsJson(c, 200, {
          implementation: { name: "jetjob", version: d.version },
          ojs_version: OJS_VERSION,
          backend: "nats-jetstream",
          scheduler: { leader: engine.scheduling },
          retention: engine.ctx.retention,
          limits: engine.ctx.limits,
          streams: {
            prefix: t.prefix,
            events_max_bytes: t.eventsMaxBytes,
            events_max_age_ms: t.eventsMaxAgeMs,
            fleet_max_age_ms: t.fleetMaxAgeMs,
          },
          uptime_seconds: Math.floor((Date.now() - d.startedAt) / 1000),
        });
      },
    });

  return [
    defineRoute({
      method: "GET",
      path: "/ojs/v1/admin/stats",
      scope: Scope.Read,
      tag: "admin",
      query: z.object({ queue: z.string().optional().describe("Only this queue") }),
      summary:
        "Totals: queues, online workers, jobs by state, and the last minute's throughput (from the stored events)",
      response: fields({
        queues: z.int(),
        paused_queues: z.int(),
        workers: z.unknown(),
        jobs: openObject,
        throughput: openObject,
        uptime_seconds: z.int(),
      }),
      handler: async (c, { query }) => {
        const queue = query.queue ? queueParam(query.queue) : undefined;
        const now = Date.now();
        const [stats, minute] = await Promise.all([
          queue === undefined ? engine.allQueueStats() : engine.queueStats(queue).then((s) => [s]),
          countEvents(engine, {
            sinceMs: now - 60_000,
            untilMs: now,
            bucketMs: 60_000,
            maxBatches: MINUTE_BATCHES_MAX,
            ...(queue === undefined ? {} : { queue }),
          }),
        ]);
        const workers =
          d.fleet === undefined
            ? []
            : listAllWorkers(d.fleet).filter((w) => queue === undefined || w.queues.includes(queue));
        const b = minute.buckets[0]!;
        const wait = mean(b.waits);
        const rate = perMinute(minute, now - 60_000, now);
        return ojsJson(c, 200, {
          queues: stats.length,
          paused_queues: stats.filter((s) => s.paused).length,
          workers: workers.length,
          jobs: sumCounts(stats.map(countsOf)),
          throughput: {
            processed_per_minute: rate(b.completed + b.failed),
            failed_per_minute: rate(b.failed),
            // The OJS CLI's names (whole numbers).
            enqueued_per_min: rate(b.enqueued),
            completed_per_min: rate(b.completed),
            failed_per_min: rate(b.failed),
            avg_latency_ms: round1(wait) ?? 0,
          },
          ...(minute.approximate ? { approximate: true } : {}),
          uptime_seconds: Math.floor((now - d.startedAt) / 1000),
        });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/admin/stats/history",
      scope: Scope.Read,
      tag: "admin",
      query: z.object({
        period: z.enum(Object.keys(historyPeriods)).default("5m").describe("Bucket size"),
        since: z.string().optional().describe("Start: RFC 3339 or a span back (24h); default an hour ago"),
        until: z.string().optional().describe("End: RFC 3339 or a span back; default now"),
        queue: z.string().optional().describe("Only this queue"),
      }),
      summary:
        "Enqueued, completed, failed and processed jobs and start latency per period, from the stored events (kept 24 h by default)",
      response: fields({
        period: z.string(),
        since: z.string(),
        until: z.string(),
        data: z.array(openObject),
      }),
      handler: async (c, { query }) => {
        const period = query.period;
        const bucketMs = historyPeriods[period]!;
        const now = Date.now();
        const until = timeOrAgo(query.until, now) ?? now;
        let since = timeOrAgo(query.since, now) ?? until - 3_600_000;
        if (!Number.isFinite(since) || !Number.isFinite(until) || since >= until)
          throw new ValidationError(
            "since and until must be times (RFC 3339, or like 24h) with since before until",
          );
        // Whole buckets, and not more of them than one answer holds.
        since = Math.floor(since / bucketMs) * bucketMs;
        if ((until - since) / bucketMs > MAX_POINTS) since = until - MAX_POINTS * bucketMs;
        const queue = query.queue ? queueParam(query.queue) : undefined;
        const [r, stored] = await Promise.all([
          countEvents(engine, {
            sinceMs: since,
            untilMs: until,
            bucketMs,
            ...(queue === undefined ? {} : { queue }),
          }),
          engine.ctx.jsm.streams.info(engine.ctx.topology.streams.events),
        ]);
        const data = r.buckets.map((b) => {
          const p: Record<string, unknown> = {
            timestamp: toRfc3339(b.start),
            enqueued: b.enqueued,
            completed: b.completed,
            failed: b.failed,
            processed: b.completed + b.failed,
          };
          const avg = mean(b.waits);
          const p50 = quantile(b.waits, 0.5);
          const p99 = quantile(b.waits, 0.99);
          if (p50 !== undefined) p.latency_p50_ms = p50;
          if (p99 !== undefined) p.latency_p99_ms = p99;
          p.avg_latency_ms = round1(avg) ?? 0;
          return p;
        });
        return ojsJson(c, 200, {
          period,
          since: toRfc3339(since),
          until: toRfc3339(until),
          data,
          // The OJS CLI reads the same points as `data_points`.
          data_points: data,
          // The oldest event still stored: history before it reads as zeros (events are kept 24 h or
          // 64 MiB by default, whichever comes first).
          ...(stored.state.messages > 0 ? { retained_since: stored.state.first_ts } : {}),
          ...(r.approximate ? { approximate: true } : {}),
        });
      },
    }),
    config("/ojs/v1/admin/system/config"),
    config("/ojs/v1/admin/config"),
  ];
}
