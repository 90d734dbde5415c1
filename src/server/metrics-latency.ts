/**
 * `GET /api/v1/metrics/latency`: the wait and run time histograms of `/metrics`
 * (`jetjob_job_wait_seconds`, `jetjob_job_run_seconds`, fed by metrics-events.ts) read as JSON per
 * queue: how many were observed, their mean, and p50/p95/p99, for the dashboard's charts.
 *
 * What must hold: the numbers are this server's histograms and nothing else. They count what this
 * server saw on NATS since it started (`since`), and a percentile is estimated from the buckets the
 * way Prometheus' `histogram_quantile` does it (linear within the bucket that holds the rank; the
 * highest finite bound when the rank is in the `+Inf` bucket), so it is exact only to its bucket
 * (`bucket_bounds_ms`). A queue with no observation of a kind has `count: 0` and no percentiles.
 */
import type { Registry } from "prom-client";
import { z } from "zod";

import { queueNameSchema } from "../core/schema.js";
import { toRfc3339 } from "../core/time.js";
import { Scope } from "./auth.js";
import { JOB_SECONDS_BUCKETS } from "./metrics-events.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";

/** One cumulative bucket: observations at or below `le` (seconds; `Infinity` for `+Inf`). */
export interface CumulativeBucket {
  le: number;
  count: number;
}

/**
 * The `q`-quantile (0..1) of a histogram's cumulative buckets, as Prometheus' `histogram_quantile`
 * estimates it, or undefined when it has no observation.
 */
export function histogramQuantile(q: number, buckets: readonly CumulativeBucket[]): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lowerLe = 0;
  let lowerCount = 0;
  for (const b of sorted) {
    if (b.count >= rank && b.count > lowerCount) {
      if (!Number.isFinite(b.le)) return lowerLe; // in +Inf: the highest finite bound
      return lowerLe + (b.le - lowerLe) * ((rank - lowerCount) / (b.count - lowerCount));
    }
    if (Number.isFinite(b.le)) lowerLe = b.le;
    lowerCount = b.count;
  }
  return lowerLe;
}

const summarySchema = z.object({
  count: z.int().describe("Observations since `since`"),
  mean_ms: z.number().exactOptional(),
  p50_ms: z.number().exactOptional().describe("Estimated from the buckets (histogram_quantile)"),
  p95_ms: z.number().exactOptional(),
  p99_ms: z.number().exactOptional(),
});
export type LatencySummary = z.infer<typeof summarySchema>;

export const latencyResponseSchema = z
  .object({
    since: z.string().describe("When this server started counting (RFC 3339)"),
    source: z.array(z.string()).describe("The Prometheus histograms read"),
    bucket_bounds_ms: z
      .array(z.number())
      .describe("Upper bounds of the buckets: a percentile is exact to its bucket"),
    queues: z.array(
      z.object({
        queue: z.string(),
        wait: summarySchema.describe("Ready (enqueued, due, or due for a retry) → taken by a worker"),
        run: summarySchema.describe("Handler start → completion or failure, every attempt"),
      }),
    ),
  })
  .meta({ title: "LatencyPercentiles" });
export type LatencyResponse = z.infer<typeof latencyResponseSchema>;

const WAIT = "jetjob_job_wait_seconds";
const RUN = "jetjob_job_run_seconds";

interface Series {
  buckets: CumulativeBucket[];
  sum: number;
  count: number;
}

/** A histogram's series per queue, from the registry. */
async function seriesByQueue(registry: Registry, name: string): Promise<Map<string, Series>> {
  const out = new Map<string, Series>();
  const metric = registry.getSingleMetric(name);
  if (!metric) return out;
  const of = (queue: string): Series => {
    let s = out.get(queue);
    if (!s) out.set(queue, (s = { buckets: [], sum: 0, count: 0 }));
    return s;
  };
  for (const v of (await metric.get()).values) {
    const queue = String(v.labels.queue ?? "");
    const metricName = (v as { metricName?: string }).metricName ?? "";
    if (metricName.endsWith("_bucket")) {
      const le = v.labels.le === "+Inf" ? Infinity : Number(v.labels.le);
      of(queue).buckets.push({ le, count: v.value });
    } else if (metricName.endsWith("_sum")) of(queue).sum = v.value;
    else if (metricName.endsWith("_count")) of(queue).count = v.value;
  }
  return out;
}

const ms = (seconds: number) => Math.round(seconds * 1_000_000) / 1000;

function summarize(s: Series | undefined): LatencySummary {
  if (!s || s.count === 0) return { count: 0 };
  const out: LatencySummary = { count: s.count, mean_ms: ms(s.sum / s.count) };
  for (const [k, q] of [
    ["p50_ms", 0.5],
    ["p95_ms", 0.95],
    ["p99_ms", 0.99],
  ] as const) {
    const v = histogramQuantile(q, s.buckets);
    if (v !== undefined) out[k] = ms(v);
  }
  return out;
}

/** Wait and run time per queue (all queues, or one), read from the registry's histograms now. */
export async function latencyReport(
  registry: Registry,
  sinceMs: number,
  queue?: string,
): Promise<LatencyResponse> {
  const [wait, run] = await Promise.all([seriesByQueue(registry, WAIT), seriesByQueue(registry, RUN)]);
  const names = [...new Set([...wait.keys(), ...run.keys()])]
    .filter((q) => queue === undefined || q === queue)
    .sort();
  return {
    since: toRfc3339(sinceMs),
    source: [WAIT, RUN],
    bucket_bounds_ms: JOB_SECONDS_BUCKETS.map(ms),
    queues: names.map((q) => ({ queue: q, wait: summarize(wait.get(q)), run: summarize(run.get(q)) })),
  };
}

/** The route, over the metrics' registry (registered only when the server keeps metrics). */
export function metricsLatencyRoute(m: { registry: Registry; since: number }): RouteDef {
  return defineRoute({
    method: "GET",
    path: "/api/v1/metrics/latency",
    scope: Scope.Read,
    tag: "system",
    query: z.object({ queue: queueNameSchema.optional().describe("Only this queue") }),
    response: latencyResponseSchema,
    summary:
      "Wait and run time per queue (count, mean, p50/p95/p99) from this server's /metrics histograms, since it started",
    handler: async (c, { query }) => {
      return ojsJson(c, 200, await latencyReport(m.registry, m.since, query.queue));
    },
  });
}
