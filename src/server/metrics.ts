/**
 * Prometheus metrics of an API server, in a registry of its own (never prom-client's global one, so
 * several apps in one process do not collide):
 *
 * - queue gauges (`jetjob_jobs`, `jetjob_queue_depth`) computed at scrape time from the engine's
 *   queue statistics, cached briefly and loaded once for concurrent scrapes;
 * - worker gauges (`jetjob_workers_online{kind,queue}`, `jetjob_agents_online`) from the controller's
 *   registry of agents and queue workers;
 * - event-fed counters and histograms (see metrics-events.ts);
 * - HTTP request counts and durations by route pattern (not the raw path, to bound cardinality);
 * - what the housekeeper removed (retention), from the engine's counts;
 * - prom-client's default process metrics.
 *
 * `GET /metrics` serves them in the text exposition format and needs the `read` scope when auth is on
 * (Prometheus sends it with `authorization: { credentials: <token> }`).
 */
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

import type { Controller } from "../fleet/controller.js";
import type { AgentState } from "../fleet/registry.js";
import { agentAlive } from "../fleet/registry.js";
import { consumersByQueue } from "../worker/presence.js";
import type { Engine } from "../store/engine.js";
import type { QueueStats } from "../store/queues/stats.js";
import { startEventMetrics } from "./metrics-events.js";

export interface MetricsOptions {
  engine: Engine;
  /** The fleet controller; without it the agent gauges stay at 0. */
  fleet?: Controller;
  /** How long queue statistics are reused between scrapes. @defaultValue 1000 */
  statsCacheMs?: number;
  /** Include prom-client's default process metrics. @defaultValue true */
  defaultMetrics?: boolean;
  /** Background errors (a failed statistics read, an undecodable message). */
  onError?: (err: unknown) => void;
}

export interface Metrics {
  readonly registry: Registry;
  /** Counts HTTP requests and their durations; install it before every other middleware. */
  readonly http: MiddlewareHandler;
  /** Every metric in the text exposition format (content type {@link Metrics.contentType}). */
  render(): Promise<string>;
  readonly contentType: string;
  /** When the event-fed metrics started counting (epoch ms): their totals and histograms begin here. */
  readonly since: number;
  /** Stops the event subscriptions. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Job states reported by `jetjob_jobs` and the {@link QueueStats} field each comes from. */
const jobStates = [
  "available",
  "active",
  "scheduled",
  "retryable",
  "pending",
  "completed",
  "discarded",
  "cancelled",
] as const;
const agentStates: AgentState[] = ["ready", "draining", "cordoned"];
const methods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * Creates the registry and subscribes to the events; resolves once the subscriptions are registered
 * on the NATS server, so events published afterwards are counted.
 */
export async function createMetrics(o: MetricsOptions): Promise<Metrics> {
  const onError = o.onError ?? (() => undefined);
  const since = Date.now();
  const registry = new Registry();
  const registers = [registry];
  if (o.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const stats = queueStatsCache(o, onError);
  new Gauge({
    name: "jetjob_jobs",
    help: "Jobs by queue and state, from the queue statistics at scrape time (discarded includes expired).",
    labelNames: ["queue", "state"] as const,
    registers,
    async collect() {
      const all = await stats();
      this.reset();
      for (const s of all) for (const state of jobStates) this.set({ queue: s.name, state }, s[state]);
    },
  });
  new Gauge({
    name: "jetjob_queue_depth",
    help: "Jobs waiting to run (available) per queue, at scrape time.",
    labelNames: ["queue"] as const,
    registers,
    async collect() {
      const all = await stats();
      this.reset();
      for (const s of all) this.set({ queue: s.name }, s.available);
    },
  });

  new Counter({
    name: "jetjob_housekeeping_removed_total",
    help: "What this server's housekeeper removed since it started (retention): jobs, segments, fleet jobs, journals.",
    labelNames: ["kind"] as const,
    registers,
    collect() {
      const s = o.engine.housekeeper?.stats;
      if (!s) return;
      this.reset();
      this.inc({ kind: "jobs" }, s.removedJobs);
      this.inc({ kind: "segments" }, s.removedSegments);
      this.inc({ kind: "fleet_jobs" }, s.removedFleetJobs);
      this.inc({ kind: "journals" }, s.purgedJournals);
    },
  });

  const fleet = o.fleet;
  const aliveAgents = () => {
    if (!fleet) return [];
    const now = Date.now();
    return fleet.registry.agents().filter((e) => agentAlive(e, now, fleet.timings.livenessMisses));
  };
  new Gauge({
    name: "jetjob_workers_online",
    help:
      'Workers alive in the registry (heartbeat within the liveness window): kind="agent" (queue="") counts ' +
      'fleet agents; kind="queue" counts queue workers (SDK workers, agents\' queue workers) per queue they take.',
    labelNames: ["kind", "queue"] as const,
    registers,
    collect() {
      if (!fleet) return;
      this.reset();
      this.set({ kind: "agent", queue: "" }, aliveAgents().length);
      for (const [queue, n] of consumersByQueue(fleet.registry.queueWorkers()))
        this.set({ kind: "queue", queue }, n);
    },
  });
  new Gauge({
    name: "jetjob_agents_online",
    help: "Fleet agents alive in the registry, by their state.",
    labelNames: ["state"] as const,
    registers,
    collect() {
      if (!fleet) return;
      const counts = new Map<string, number>(agentStates.map((s) => [s, 0]));
      for (const e of aliveAgents()) counts.set(e.info.state, (counts.get(e.info.state) ?? 0) + 1);
      this.reset();
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });

  const requests = new Counter({
    name: "jetjob_http_requests_total",
    help: "HTTP requests served, by method, route pattern and status.",
    labelNames: ["method", "route", "status"] as const,
    registers,
  });
  const durations = new Histogram({
    name: "jetjob_http_request_duration_seconds",
    help: "Time to produce an HTTP response (for streams: until the stream starts), by method and route pattern.",
    labelNames: ["method", "route"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  // The labelled series of each (method, route, status), made once: looking a series up by a labels
  // object validates and hashes the labels on every request.
  const series = new Map<string, { count: () => void; time: (seconds: number) => void }>();
  const seriesOf = (method: string, route: string, status: string) => {
    const key = `${method} ${status} ${route}`;
    let s = series.get(key);
    if (!s) {
      const counter = requests.labels(method, route, status);
      const histogram = durations.labels(method, route);
      s = { count: () => counter.inc(), time: (seconds) => histogram.observe(seconds) };
      series.set(key, s);
    }
    return s;
  };
  const http: MiddlewareHandler = async (c, next) => {
    const t0 = performance.now();
    let status: number | undefined;
    try {
      await next();
      status = c.res.status;
    } finally {
      // Hono turns handler errors into responses before this point; anything else is a 500.
      const method = methods.has(c.req.method) ? c.req.method : "OTHER";
      const s = seriesOf(method, routeOf(c), String(status ?? 500));
      s.count();
      s.time((performance.now() - t0) / 1000);
    }
  };

  const events = startEventMetrics(o.engine.ctx, registry, onError);
  try {
    await o.engine.ctx.nc.flush();
  } catch (err) {
    events.close();
    throw err;
  }
  let closed = false;
  const close = () => {
    if (closed) return Promise.resolve();
    closed = true;
    events.close();
    return Promise.resolve();
  };
  return {
    registry,
    http,
    contentType: registry.contentType,
    since,
    render: () => registry.metrics(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The Content-Type of a scrape: the exposition format's own (`text/plain; version=0.0.4; ...`), or a
 * bare `text/plain` when the client asked for exactly that (the OJS observability conformance case
 * compares the header verbatim). Prometheus asks with a version, so it always gets the versioned type.
 */
export function metricsContentType(accept: string | undefined, versioned: string): string {
  const bare = (accept ?? "").split(",").some((part) => part.trim().toLowerCase() === "text/plain");
  return bare ? "text/plain" : versioned;
}

/** The pattern of the route that answered (`/ojs/v1/jobs/:id`), or `unmatched` (404s, refused methods). */
function routeOf(c: Parameters<MiddlewareHandler>[0]): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i]!;
    // Middleware is registered with `use`, i.e. method ALL; routes have a method.
    if (r.method !== "ALL") return r.path;
  }
  return "unmatched";
}

/**
 * Queue statistics for a scrape: read in bulk (store/queues/stats.ts `allQueueStats`), reused for
 * `statsCacheMs`, and one load at a time however many scrapes (and gauges) ask.
 */
function queueStatsCache(o: MetricsOptions, onError: (err: unknown) => void): () => Promise<QueueStats[]> {
  const cacheMs = o.statsCacheMs ?? 1000;
  let last: { at: number; value: QueueStats[] } | undefined;
  let loading: Promise<QueueStats[]> | undefined;

  const load = async (): Promise<QueueStats[]> => {
    try {
      return await o.engine.allQueueStats();
    } catch (err) {
      onError(err);
      return [];
    }
  };

  return () => {
    if (last && Date.now() - last.at < cacheMs) return Promise.resolve(last.value);
    loading ??= load()
      .then((value) => {
        last = { at: Date.now(), value };
        return value;
      })
      .finally(() => (loading = undefined));
    return loading;
  };
}
