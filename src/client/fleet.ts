/**
 * Fleet methods of the client SDK, over either transport ({@link FleetApi}: HTTP in fleet-http.ts,
 * NATS in nats-fleet.ts): run an operation on the agents a target selects
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
import type { HostFold } from "../fleet/fold.js";
import { applyEvent, eventFromView, hostView, newHostFolds } from "../fleet/fold.js";
import type { FleetJobPage, FleetListQuery } from "../fleet/jobs.js";
import type { AgentView } from "../fleet/registry.js";
import type { QueueWorkerView } from "../worker/presence.js";
import type {
  FleetJobView,
  HostResultView,
  LeftOut,
  OperationKind,
  TimelineEventView,
} from "../fleet/types.js";
import { terminalHostStates } from "../fleet/types.js";
import type { AgentControl } from "../fleet/workers.js";
import type { QueueConsumers } from "../usecases/queues.js";

export type { QueueWorkerView as QueueWorkerInfo } from "../worker/presence.js";
export type {
  AgentView as WorkerInfo,
  FleetJobPage,
  FleetJobView as FleetJob,
  FleetListQuery,
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
  list(q?: FleetListQuery): Promise<FleetJobPage>;
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

export type { QueueConsumers };

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

/** What a target selects now, with the hosts left out (the transports' answer). */
export interface TargetSelection {
  hosts: string[];
  left_out?: LeftOut[];
}

/** @internal what each transport provides for fleet jobs and workers */
export interface FleetApi {
  /** Creates a targeted job from its wire body (`POST /api/v1/jobs`). */
  create(
    body: Record<string, unknown>,
    o: { signal?: AbortSignal; traceparent?: string },
  ): Promise<FleetJobView>;
  get(id: string): Promise<FleetJobView>;
  list(q: FleetListQuery): Promise<FleetJobPage>;
  cancel(id: string): Promise<FleetJobView>;
  delete(id: string): Promise<void>;
  retry(
    id: string,
    body: Record<string, unknown>,
  ): Promise<{ job: FleetJobView; skipped: Array<{ host: string; state: string; reason: string }> }>;
  /** The job's timeline, stored events first, through `finished`. */
  timeline(id: string, signal?: AbortSignal): AsyncIterable<TimelineEventView>;
  preview(target: string, op: string | undefined, onlyReady: boolean): Promise<TargetSelection>;
  agents(q: { label?: string; includeOffline?: boolean }): Promise<AgentView[]>;
  queueWorkers(q: { includeOffline?: boolean }): Promise<QueueWorkerView[]>;
  queues(): Promise<QueueConsumers[]>;
  agent(hostname: string): Promise<AgentView>;
  drain(hostname: string, drain: boolean): Promise<AgentControl>;
  setLabels(hostname: string, labels: Record<string, string> | null): Promise<AgentControl>;
  forget(hostname: string): Promise<AgentView>;
}

/** `client.fleet` and `client.workers` over a transport. */
export function createFleet(api: FleetApi): { fleet: Fleet; workers: Workers } {
  const get = (id: string) => api.get(id);
  const timeline = (id: string, signal?: AbortSignal) => api.timeline(id, signal);

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
      const created = api.create(
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
        {
          ...(o.signal === undefined ? {} : { signal: o.signal }),
          ...(o.traceparent === undefined ? {} : { traceparent: o.traceparent }),
        },
      );
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
    list: (q = {}) => api.list(q),
    cancel: (id) => api.cancel(id),
    delete: (id) => api.delete(id),
    retry(id, o = {}) {
      return api.retry(id, {
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
      const r = await api.preview(target, op, o.onlyReady === true);
      return { hosts: r.hosts, left_out: r.left_out ?? [] };
    },
  };

  const workers: Workers = {
    list: (q = {}) =>
      api.agents({
        ...(q.label === undefined ? {} : { label: q.label }),
        ...(q.includeOffline ? { includeOffline: true } : {}),
      }),
    queues: () => api.queues(),
    queueWorkers: (q = {}) => api.queueWorkers(q.includeOffline ? { includeOffline: true } : {}),
    get: (host) => api.agent(host),
    drain: (host) => api.drain(host, true),
    undrain: (host) => api.drain(host, false),
    setLabels: (host, labels) => api.setLabels(host, labels),
    forget: (host) => api.forget(host),
  };
  return { fleet, workers };
}
