/**
 * The HTTP transport of the client's fleet methods: the fleet and worker routes of a jetjob API
 * server (server/routes-fleet.ts, routes-api.ts).
 */
import { activeTraceContext } from "../core/tracing.js";
import type { AgentView } from "../fleet/registry.js";
import type { FleetJobView, TimelineEventView } from "../fleet/types.js";
import type { AgentControl } from "../fleet/workers.js";
import type { QueueWorkerView } from "../worker/presence.js";
import type { FleetApi, FleetJobPage, QueueConsumers, TargetSelection } from "./fleet.js";
import type { HttpCaller } from "./http.js";
import { sseStream } from "./http.js";

const enc = encodeURIComponent;

export function createHttpFleetApi(http: HttpCaller, baseUrl: string, token: string | undefined): FleetApi {
  const base = baseUrl.replace(/\/+$/, "");
  const control = async (host: string, path: string, method: string, body?: unknown) =>
    (await http.call<{ control: AgentControl }>(method, `/api/v1/workers/${enc(host)}/${path}`, body ?? {}))
      .control;
  const workers = async <T>(p: URLSearchParams) =>
    (await http.call<{ workers: T[] }>("GET", `/api/v1/workers?${p.toString()}`)).workers;
  return {
    async create(body, o) {
      const r = await http.call<{ job: FleetJobView }>("POST", "/api/v1/jobs", body, {
        signal: o.signal,
        headers: traceHeaders(o.traceparent),
      });
      return r.job;
    },
    async get(id) {
      return (await http.call<{ job: FleetJobView }>("GET", `/api/v1/jobs/${enc(id)}`)).job;
    },
    list(q) {
      const p = new URLSearchParams();
      for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
      return http.call<FleetJobPage>("GET", `/api/v1/jobs?${p.toString()}`);
    },
    async cancel(id) {
      return (await http.call<{ job: FleetJobView }>("POST", `/api/v1/jobs/${enc(id)}/cancel`, {})).job;
    },
    async delete(id) {
      await http.call("DELETE", `/api/v1/jobs/${enc(id)}`);
    },
    retry: (id, body) => http.call("POST", `/api/v1/jobs/${enc(id)}/retry`, body),
    timeline: (id, signal) =>
      sseStream<TimelineEventView>(
        `${base}/api/v1/jobs/${enc(id)}/stream`,
        token,
        (e) => e.event === "finished",
        signal,
      ),
    preview(target, op, onlyReady) {
      const p = new URLSearchParams({
        target,
        ...(op === undefined ? {} : { op }),
        ...(onlyReady ? { only_ready: "true" } : {}),
      });
      return http.call<TargetSelection>("GET", `/api/v1/targets/resolve?${p.toString()}`);
    },
    agents(q) {
      const p = new URLSearchParams();
      if (q.label !== undefined) p.set("label", q.label);
      if (q.includeOffline) p.set("offline", "true");
      p.set("kind", "agent");
      return workers<AgentView>(p);
    },
    queueWorkers(q) {
      const p = new URLSearchParams({ kind: "queue" });
      if (q.includeOffline) p.set("offline", "true");
      return workers<QueueWorkerView>(p);
    },
    async queues() {
      return (await http.call<{ queues: QueueConsumers[] }>("GET", "/api/v1/queues")).queues;
    },
    async agent(host) {
      return (await http.call<{ worker: AgentView }>("GET", `/api/v1/workers/${enc(host)}`)).worker;
    },
    drain: (host, drain) => control(host, drain ? "drain" : "undrain", "POST"),
    setLabels: (host, labels) => control(host, "labels", "PUT", { labels }),
    async forget(host) {
      return (await http.call<{ worker: AgentView }>("DELETE", `/api/v1/workers/${enc(host)}`)).worker;
    },
  };
}

/** The `traceparent` (and `tracestate`) header of a fleet job: the given one, else the active context's. */
function traceHeaders(traceparent: string | undefined): Record<string, string> {
  const tc = traceparent === undefined ? activeTraceContext() : { traceparent };
  if (tc === undefined) return {};
  return tc.tracestate === undefined
    ? { traceparent: tc.traceparent }
    : { traceparent: tc.traceparent, tracestate: tc.tracestate };
}
