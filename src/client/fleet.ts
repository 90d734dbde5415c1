/**
 * Fleet methods of the client SDK (HTTP transport): run an operation on the agents a target selects
 * and get one result per host, all at once or as they arrive; read, list, cancel, retry and delete
 * targeted jobs; list and control agents.
 *
 * @example
 * ```ts
 * const job = await client.run("system.hostname.get", { target: "group:web", timeoutMs: 10_000 });
 * for (const r of job.results) console.log(r.host, r.state, r.result);
 *
 * for await (const r of client.run("system.load.get", { target: "all" })) console.log(r.host, r.result);
 * ```
 */
import { ErrorCode, JetjobError } from "../core/errors.js";
import { activeTraceContext } from "../core/tracing.js";
import type { HostFold } from "../fleet/fold.js";
import { applyEvent, eventFromView, hostView, newHostFolds } from "../fleet/fold.js";
import type { FleetJobPage } from "../fleet/jobs.js";
import type { AgentView } from "../fleet/registry.js";
import type { QueueWorkerView } from "../worker/presence.js";
import type {
  FleetJobView,
  FleetStatus,
  HostResultView,
  LeftOut,
  OperationKind,
  TimelineEventView,
} from "../fleet/types.js";
import { terminalHostStates } from "../fleet/types.js";
import type { AgentControl } from "../fleet/workers.js";
import type { QueueStats } from "./api.js";
import type { HttpCaller } from "./http.js";
import { sseStream } from "./http.js";

export type { QueueWorkerView as QueueWorkerInfo } from "../worker/presence.js";
export type {
  AgentView as WorkerInfo,
  FleetJobPage,
  FleetJobView as FleetJob,
  HostResultView as HostResult,
  LeftOut,
  TimelineEventView as TimelineEvent,
};

export interface RunOptions {
  /** Target expression: `all`, `any`, `host:web-01`, `group:web`, `web-*`, `G@os.name=debian`, ... */
  target: string;
  args?: unknown;
  /** Absolute deadline of the job. @defaultValue the server's (60 s) */
  timeoutMs?: number;
  /** Re-send to silent hosts after this long. @defaultValue the server's (3 s) */
  ackWindowMs?: number;
  kind?: OperationKind;
  meta?: Record<string, unknown>;
  /**
   * W3C trace context for the job; each agent's handler runs in a span continuing that trace.
   * @defaultValue the caller's active OpenTelemetry context, if there is one
   */
  traceparent?: string;
  /**
   * Send only to live, ready agents that offer the operation, leaving the others out silently
   * (by default every host the target names or matches is listed, unreachable or skipped with why).
   */
  onlyReady?: boolean;
  signal?: AbortSignal;
}

/** What a target selects now: where a job would go, and the hosts it would leave out with why. */
export interface TargetPreview {
  hosts: string[];
  left_out: LeftOut[];
}

/** A running fleet job: await it for the final job, or iterate it for each host's result as it arrives. */
export interface FleetRun extends PromiseLike<FleetJobView>, AsyncIterable<HostResultView> {
  /** The job as created (resolved hosts, all pending). */
  readonly created: Promise<FleetJobView>;
}

export interface Fleet {
  run(op: string, options: RunOptions): FleetRun;
  get(id: string): Promise<FleetJobView>;
  list(q?: {
    status?: FleetStatus;
    op?: string;
    host?: string;
    limit?: number;
    cursor?: string;
  }): Promise<FleetJobPage>;
  cancel(id: string): Promise<FleetJobView>;
  delete(id: string): Promise<void>;
  /** Runs a finished job again on the hosts that did not complete (a new job). */
  retry(
    id: string,
    o?: { target?: string; includeUncertain?: boolean; timeoutMs?: number },
  ): Promise<{ job: FleetJobView; skipped: Array<{ host: string; state: string; reason: string }> }>;
  /** The job's timeline events, stored ones first, until it finishes. */
  timeline(id: string, signal?: AbortSignal): AsyncIterable<TimelineEventView>;
  /** Which live agents a target selects now. */
  resolve(target: string, op?: string): Promise<string[]>;
  /** What a target selects now, with the hosts it would leave out and why. */
  preview(target: string, op?: string, o?: { onlyReady?: boolean }): Promise<TargetPreview>;
}

/** A queue's statistics with the workers that take it. */
export interface QueueConsumers extends QueueStats {
  consumers: number;
  no_consumers: boolean;
}

export interface Workers {
  /** Fleet agents (`GET /api/v1/workers?kind=agent`). */
  list(q?: { label?: string; includeOffline?: boolean }): Promise<AgentView[]>;
  /** Queue workers: SDK workers and agents' queue workers, with their queues and running jobs. */
  queueWorkers(q?: { includeOffline?: boolean }): Promise<QueueWorkerView[]>;
  /**
   * Every queue's counts with its consumers (online queue workers); `no_consumers` flags an active
   * queue with jobs waiting and no worker to run them (`GET /api/v1/queues`).
   */
  queues(): Promise<QueueConsumers[]>;
  get(hostname: string): Promise<AgentView>;
  drain(hostname: string): Promise<AgentControl>;
  undrain(hostname: string): Promise<AgentControl>;
  /** Replaces the agent's labels (null: back to its configured ones). */
  setLabels(hostname: string, labels: Record<string, string> | null): Promise<AgentControl>;
  /** Forgets an agent that stopped (a decommissioned host); refused (conflict) while it is online. */
  forget(hostname: string): Promise<AgentView>;
}

const enc = encodeURIComponent;

export function createFleet(
  http: HttpCaller,
  baseUrl: string,
  token: string | undefined,
): { fleet: Fleet; workers: Workers } {
  const base = baseUrl.replace(/\/+$/, "");
  const get = async (id: string) =>
    (await http.call<{ job: FleetJobView }>("GET", `/api/v1/jobs/${enc(id)}`)).job;
  const timeline = (id: string, signal?: AbortSignal) =>
    sseStream<TimelineEventView>(
      `${base}/api/v1/jobs/${enc(id)}/stream`,
      token,
      (e) => e.event === "finished",
      signal,
    );

  async function* results(
    created: Promise<FleetJobView>,
    signal?: AbortSignal,
  ): AsyncIterable<HostResultView> {
    const job = await created;
    const folds = newHostFolds(job.hosts, job.left_out);
    const yielded = new Set<string>();
    const ready = (f: HostFold) => terminalHostStates.has(f.state) && !yielded.has(f.host);
    for await (const e of timeline(job.id, signal)) {
      applyEvent(folds, eventFromView(e));
      for (const f of folds.values()) {
        if (!ready(f)) continue;
        yielded.add(f.host);
        yield hostView(f);
      }
    }
  }

  const fleet: Fleet = {
    run(op, o) {
      const created = http
        .call<{ job: FleetJobView }>(
          "POST",
          "/api/v1/jobs",
          {
            op,
            target: o.target,
            ...(o.args === undefined ? {} : { args: o.args }),
            ...(o.timeoutMs === undefined ? {} : { timeout_ms: o.timeoutMs }),
            ...(o.ackWindowMs === undefined ? {} : { ack_window_ms: o.ackWindowMs }),
            ...(o.kind === undefined ? {} : { kind: o.kind }),
            ...(o.meta === undefined ? {} : { meta: o.meta }),
            ...(o.onlyReady === undefined ? {} : { only_ready: o.onlyReady }),
          },
          { signal: o.signal, headers: traceHeaders(o.traceparent) },
        )
        .then((r) => r.job);
      let final: Promise<FleetJobView> | undefined;
      const finish = () =>
        (final ??= (async () => {
          const job = await created;
          for await (const e of timeline(job.id, o.signal)) if (e.event === "finished") break;
          return get(job.id);
        })());
      created.catch(() => undefined); // reported through then() / the iterator
      return {
        created,
        then: (ok, fail) => finish().then(ok, fail),
        [Symbol.asyncIterator]: () => results(created, o.signal)[Symbol.asyncIterator](),
      };
    },
    get,
    list(q = {}) {
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
    retry(id, o = {}) {
      return http.call("POST", `/api/v1/jobs/${enc(id)}/retry`, {
        ...(o.target === undefined ? {} : { target: o.target }),
        ...(o.includeUncertain === undefined ? {} : { include_uncertain: o.includeUncertain }),
        ...(o.timeoutMs === undefined ? {} : { timeout_ms: o.timeoutMs }),
      });
    },
    timeline,
    async resolve(target, op) {
      return (await fleet.preview(target, op)).hosts;
    },
    async preview(target, op, o = {}) {
      const p = new URLSearchParams({
        target,
        ...(op === undefined ? {} : { op }),
        ...(o.onlyReady ? { only_ready: "true" } : {}),
      });
      const r = await http.call<{ hosts: string[]; left_out?: LeftOut[] }>(
        "GET",
        `/api/v1/targets/resolve?${p.toString()}`,
      );
      return { hosts: r.hosts, left_out: r.left_out ?? [] };
    },
  };

  const control = async (host: string, path: string, method: string, body?: unknown) =>
    (await http.call<{ control: AgentControl }>(method, `/api/v1/workers/${enc(host)}/${path}`, body ?? {}))
      .control;
  const workers: Workers = {
    async list(q = {}) {
      const p = new URLSearchParams();
      if (q.label !== undefined) p.set("label", q.label);
      if (q.includeOffline) p.set("offline", "true");
      p.set("kind", "agent");
      return (await http.call<{ workers: AgentView[] }>("GET", `/api/v1/workers?${p.toString()}`)).workers;
    },
    async queues() {
      return (await http.call<{ queues: QueueConsumers[] }>("GET", "/api/v1/queues")).queues;
    },
    async queueWorkers(q = {}) {
      const p = new URLSearchParams({ kind: "queue" });
      if (q.includeOffline) p.set("offline", "true");
      return (await http.call<{ workers: QueueWorkerView[] }>("GET", `/api/v1/workers?${p.toString()}`))
        .workers;
    },
    async get(host) {
      return (await http.call<{ worker: AgentView }>("GET", `/api/v1/workers/${enc(host)}`)).worker;
    },
    drain: (host) => control(host, "drain", "POST"),
    undrain: (host) => control(host, "undrain", "POST"),
    setLabels: (host, labels) => control(host, "labels", "PUT", { labels }),
    async forget(host) {
      return (await http.call<{ worker: AgentView }>("DELETE", `/api/v1/workers/${enc(host)}`)).worker;
    },
  };
  return { fleet, workers };
}

/** Stand-ins for the NATS transport: fleet jobs go through an API server (which runs the controller). */
export function fleetUnsupported(): { fleet: Fleet; workers: Workers } {
  const no = (): never => {
    throw new JetjobError(ErrorCode.Unsupported, "fleet jobs and workers need the HTTP API", {
      hint: "Create the client with `url` (and `token`) to use client.fleet / client.run / client.workers.",
    });
  };
  const fleet = {
    run: no,
    get: no,
    list: no,
    cancel: no,
    delete: no,
    retry: no,
    timeline: no,
    resolve: no,
    preview: no,
  } as unknown as Fleet;
  const workers = {
    list: no,
    get: no,
    drain: no,
    undrain: no,
    setLabels: no,
    forget: no,
  } as unknown as Workers;
  return { fleet, workers };
}

/** The `traceparent` (and `tracestate`) header of a fleet job: the given one, else the active context's. */
function traceHeaders(traceparent: string | undefined): Record<string, string> {
  const tc = traceparent === undefined ? activeTraceContext() : { traceparent };
  if (tc === undefined) return {};
  return tc.tracestate === undefined
    ? { traceparent: tc.traceparent }
    : { traceparent: tc.traceparent, tracestate: tc.tracestate };
}
