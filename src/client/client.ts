/**
 * The client SDK: enqueue, read, cancel, retry, list and watch jobs; manage queues, dead letters,
 * cron schedules and workflows. Two transports with one behaviour: HTTP (`url` + `token`, through
 * the API server) or NATS (`nats`, straight to JetStream: the fast path inside the NATS network).
 *
 * @example
 * ```ts
 * const client = createClient<{ "email.send": [to: string] }>({ url: "http://127.0.0.1:8080", token });
 * const job = await client.enqueue("email.send", ["ada@example.com"], { queue: "mail" });
 * const done = await client.waitFor(job.id);
 * ```
 */
import { ErrorCode, JetjobError } from "../core/errors.js";
import { checkNatsOption } from "../nats/connect.js";
import { isTerminal } from "../core/states.js";
import { activeTraceContext } from "../core/tracing.js";
import type { JobState } from "../core/states.js";
import type { NatsConnection } from "@nats-io/nats-core";

import type { OperationKind } from "../fleet/types.js";
import type {
  Api,
  CronInfo,
  DeadLetterPage,
  ExclusiveKeyInfo,
  JobEvent,
  JobPage,
  QueueConfig,
  QueueDeleted,
  QueueInfo,
  QueueStats,
  StorageInfo,
  WorkflowInfo,
} from "./api.js";
import { createHttpTransport } from "./http.js";
import type { Locks } from "./locks.js";
import { createLocks } from "./locks.js";
import { createNatsTransport } from "./nats.js";
import type { ClientOptions } from "./options.js";
import type { Fleet, FleetRun, RunOptions, Workers } from "./fleet.js";
import { createFleet } from "./fleet.js";
import { createHttpFleetApi } from "./fleet-http.js";
import { createHttpCaller } from "./http.js";
import type { ArgsOf, EnqueueOptions, Job, JobTypes, QueueRetentionOptions, ResultOf } from "./types.js";
import { toEnqueueBody, withTraceContext } from "./wire.js";

/** The wire form of a scheduled fleet job's template (`POST /api/v1/jobs` body). */
function fleetTemplate(j: FleetJobDefinition): Record<string, unknown> {
  return {
    op: j.op,
    target: j.target,
    ...(j.args === undefined ? {} : { args: j.args }),
    ...(j.timeoutMs === undefined ? {} : { timeout_ms: j.timeoutMs }),
    ...(j.kind === undefined ? {} : { kind: j.kind }),
    ...(j.onlyReady === undefined ? {} : { only_ready: j.onlyReady }),
  };
}

export interface WaitOptions {
  /** @defaultValue 60000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * A job to enqueue as part of a batch, a workflow or a schedule; with a job-type map, `args` must
 * match its `type`'s arguments.
 */
export type JobDefinition<T extends JobTypes = JobTypes> = {
  [K in keyof T & string]: { type: K; args: ArgsOf<T[K]>; options?: EnqueueOptions };
}[keyof T & string];

/** A job as the client returns it, typed by its type's entry in the job-type map. */
export type TypedJob<T extends JobTypes, K extends keyof T & string> = Job<ArgsOf<T[K]>, ResultOf<T[K]>> & {
  type: K;
};

export interface CronDefinition {
  name: string;
  /** 5 fields (or 6 with seconds first), or @hourly, @daily, ... */
  expression: string;
  /** IANA time zone. @defaultValue "UTC" */
  timezone?: string;
  /** "skip" does not start a run while the previous one is unfinished. @defaultValue "allow" */
  overlapPolicy?: "allow" | "skip";
  /** A queue job to enqueue at each tick, or a fleet job (with a `target`) to run on agents. */
  job: JobDefinition | FleetJobDefinition;
}

/** A scheduled fleet job: each tick runs `op` on the agents `target` selects (docs/fleet.md). */
export interface FleetJobDefinition {
  /** Operation name, e.g. `system.disk.get`. */
  op: string;
  /** Target expression: `all`, `any`, `group:web`, `web-*`, `G@os.name=debian`, ... */
  target: string;
  args?: unknown;
  /** Each job's deadline. @defaultValue the server's (60 s) */
  timeoutMs?: number;
  kind?: OperationKind;
  /** Send only to live, ready agents that offer the operation, leaving the others out silently. */
  onlyReady?: boolean;
}

export interface Client<T extends JobTypes = JobTypes> {
  enqueue<K extends keyof T & string>(
    type: K,
    args: ArgsOf<T[K]>,
    options?: EnqueueOptions,
  ): Promise<TypedJob<T, K>>;
  /** Enqueues all of the jobs or none of them. */
  enqueueMany(jobs: Array<JobDefinition<T>>): Promise<Job[]>;
  get(id: string): Promise<Job>;
  cancel(id: string): Promise<Job>;
  /** Runs a discarded or cancelled job again with fresh attempts. */
  retry(id: string): Promise<Job>;
  /** A queue's jobs, newest first; pass `next_cursor` back as `cursor` for the next page. */
  list(q: { queue: string; state?: JobState; limit?: number; cursor?: string }): Promise<JobPage>;
  /** Live events of a job, starting with its current state, until it finishes. */
  watch(id: string, options?: { signal?: AbortSignal }): AsyncIterable<JobEvent>;
  /**
   * Resolves with the job once it is completed, cancelled or discarded. Given the job `enqueue`
   * returned (instead of its id), the finished job keeps its type: `result` is typed from the map.
   */
  waitFor<J extends Job>(job: J, options?: WaitOptions): Promise<J>;
  waitFor(id: string, options?: WaitOptions): Promise<Job>;
  queues: {
    list(): Promise<QueueInfo[]>;
    stats(name: string): Promise<QueueStats>;
    /** Jobs are still accepted but not handed out until resumed. */
    pause(name: string): Promise<{ name: string; paused: boolean }>;
    resume(name: string): Promise<{ name: string; paused: boolean }>;
    /**
     * Per-queue settings: `exclusiveKeyTemplate` (e.g. "host:{args.0.host}"; null removes it),
     * `retention` of finished jobs (fields given replace the queue's; null: the server's defaults) and
     * `maxDepth`, the most unfinished jobs the queue takes (enqueues past it fail with `queue_full`;
     * 0 or null removes it), with `warningThreshold` (0..1, default 0.8) for the pressure headers.
     */
    configure(
      name: string,
      settings: {
        exclusiveKeyTemplate?: string | null;
        retention?: QueueRetentionOptions | null;
        maxDepth?: number | null;
        warningThreshold?: number;
      },
    ): Promise<QueueConfig>;
    /**
     * Deletes a queue that has no unfinished job (a `conflict` error with the counts otherwise);
     * its finished jobs stay readable by id until retention removes them.
     */
    delete(name: string): Promise<QueueDeleted>;
  };
  /** Streams and buckets with their sizes, the housekeeper's state and what retention removes next. */
  storage(): Promise<StorageInfo>;
  /** Exclusive keys that are held or have waiting jobs: the holder job and worker, how many wait. */
  exclusiveKeys(q?: { queue?: string }): Promise<ExclusiveKeyInfo[]>;
  /** Distributed locks (leases with a fencing token). */
  locks: Locks;
  /**
   * Runs an operation on the agents `target` selects: await the result for every host's outcome, or
   * `for await` it to get each host's result as it arrives. Same as `fleet.run`.
   */
  run(op: string, options: RunOptions): FleetRun;
  /** Targeted (fleet) jobs. */
  fleet: Fleet;
  /** Agents in the worker registry. */
  workers: Workers;
  deadLetters: {
    list(q?: { queue?: string; limit?: number; offset?: number }): Promise<DeadLetterPage>;
    retry(id: string): Promise<Job>;
    delete(id: string): Promise<{ deleted: true; job_id: string }>;
  };
  cron: {
    list(): Promise<CronInfo[]>;
    /** Registers or replaces a schedule. */
    add(def: CronDefinition): Promise<CronInfo>;
    delete(name: string): Promise<CronInfo>;
    /** Pauses a schedule: it does not fire until resumed (ticks missed meanwhile are not fired). */
    pause(name: string): Promise<CronInfo>;
    resume(name: string): Promise<CronInfo>;
    /** Enqueues the schedule's job once, now (not a tick). */
    trigger(name: string): Promise<Job>;
  };
  workflows: {
    /** Steps run one after another; each gets the earlier results as `parent_results`. */
    chain(steps: Array<JobDefinition<T>>, options?: { name?: string }): Promise<WorkflowInfo>;
    /** Jobs run in parallel. */
    group(jobs: Array<JobDefinition<T>>, options?: { name?: string }): Promise<WorkflowInfo>;
    /** A group with callbacks once every job finished. */
    batch(
      jobs: Array<JobDefinition<T>>,
      options?: {
        name?: string;
        onComplete?: JobDefinition<T>;
        onSuccess?: JobDefinition<T>;
        onFailure?: JobDefinition<T>;
      },
    ): Promise<WorkflowInfo>;
    get(id: string): Promise<WorkflowInfo>;
    cancel(id: string): Promise<WorkflowInfo>;
  };
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The queue-job part of a {@link Client} (no fleet jobs or workers): what code that only enqueues and
 * reads queue jobs needs. Every client is one, over either transport.
 */
export type QueueClient<T extends JobTypes = JobTypes> = Omit<Client<T>, "run" | "fleet" | "workers">;

/** Client options that choose the NATS transport (a `nats` URL or connection and no `url`). */
export type NatsClientOptions = ClientOptions & { nats: string | NatsConnection; url?: undefined };

/**
 * Creates a client. With `url` it talks to an API server over HTTP; with `nats` (and no `url`) it
 * runs the same use cases (src/usecases) in this process, straight on JetStream, fleet jobs
 * included (client/nats-fleet.ts). Both behave the same.
 */
export function createClient<T extends JobTypes = JobTypes>(options: ClientOptions): Client<T> {
  if (options.url === undefined && options.nats === undefined) {
    throw new JetjobError(
      ErrorCode.InvalidRequest,
      "createClient needs `url` (HTTP API) or `nats` (NATS URL or connection)",
    );
  }
  if (options.url === undefined) checkNatsOption(options.nats, "createClient");
  const nats = options.nats !== undefined ? createNatsTransport(options) : undefined;
  const api: Api = nats ?? createHttpTransport(options.url!, options);
  const fleetApi = createFleet(
    nats?.fleet ?? createHttpFleetApi(createHttpCaller(options.url!, options), options.url!, options.token),
  );
  const body = (d: { type: string; args: unknown[]; options?: EnqueueOptions }) =>
    toEnqueueBody(d.type, d.args, d.options);
  const workflow = (
    type: string,
    key: "steps" | "jobs",
    defs: Array<JobDefinition<T>>,
    extra: Record<string, unknown>,
  ) => api.workflows.create({ type, [key]: defs.map(body), ...extra });

  const client: Client<T> = {
    async enqueue(type, args, o) {
      const [job] = await api.enqueue(
        [withTraceContext(toEnqueueBody(type, args, o), activeTraceContext())],
        false,
      );
      // The server echoes the type and args it was given; the result type is the caller's promise.
      return job as TypedJob<T, typeof type>;
    },
    enqueueMany(jobs) {
      const tc = activeTraceContext();
      return api.enqueue(
        jobs.map((j) => withTraceContext(body(j), tc)),
        true,
      );
    },
    get: (id) => api.get(id),
    cancel: (id) => api.cancel(id),
    retry: (id) => api.retry(id),
    list: (q) => api.list(q),
    watch: (id, o = {}) => api.watch(id, o.signal),
    async waitFor(idOrJob: string | Job, o: WaitOptions = {}) {
      const id = typeof idOrJob === "string" ? idOrJob : idOrJob.id;
      const deadline = Date.now() + (o.timeoutMs ?? 60_000);
      let pause = 5;
      for (;;) {
        o.signal?.throwIfAborted();
        const job = await api.get(id);
        if (isTerminal(job.state)) return job;
        if (Date.now() > deadline) {
          throw new JetjobError(ErrorCode.Timeout, `job ${id} did not finish in time (state ${job.state})`);
        }
        await new Promise((r) => setTimeout(r, pause));
        pause = Math.min(pause * 2, 250);
      }
    },
    queues: {
      list: () => api.queues.list(),
      stats: (name) => api.queues.stats(name),
      pause: (name) => api.queues.setPaused(name, true),
      resume: (name) => api.queues.setPaused(name, false),
      configure: (name, settings) => {
        const change: Parameters<Api["queues"]["configure"]>[1] = {};
        if (settings.exclusiveKeyTemplate !== undefined)
          change.exclusive_key_template = settings.exclusiveKeyTemplate;
        if (settings.retention !== undefined) {
          const r = settings.retention;
          change.retention =
            r === null
              ? null
              : {
                  completed_ms: r.completedMs,
                  discarded_ms: r.discardedMs,
                  dead_letter_ms: r.deadLetterMs,
                  completed_count: r.completedCount,
                  discarded_count: r.discardedCount,
                };
        }
        if (settings.maxDepth === null || settings.maxDepth === 0) change.backpressure = null;
        else if (settings.maxDepth !== undefined)
          change.backpressure = {
            max_depth: settings.maxDepth,
            ...(settings.warningThreshold === undefined
              ? {}
              : { warning_threshold: settings.warningThreshold }),
          };
        return api.queues.configure(name, change);
      },
      delete: (name) => api.queues.delete(name),
    },
    storage: () => api.storage(),
    exclusiveKeys: (q = {}) => api.exclusiveKeys(q),
    locks: createLocks(api),
    run: (op, o) => fleetApi.fleet.run(op, o),
    fleet: fleetApi.fleet,
    workers: fleetApi.workers,
    deadLetters: {
      list: (q = {}) => api.deadLetters.list(q),
      retry: (id) => api.deadLetters.retry(id),
      delete: (id) => api.deadLetters.delete(id),
    },
    cron: {
      list: () => api.cron.list(),
      add: (d) =>
        api.cron.register({
          name: d.name,
          expression: d.expression,
          ...(d.timezone === undefined ? {} : { timezone: d.timezone }),
          ...(d.overlapPolicy === undefined ? {} : { overlap_policy: d.overlapPolicy }),
          job_template: "target" in d.job ? fleetTemplate(d.job) : body(d.job),
        }),
      delete: (name) => api.cron.delete(name),
      pause: (name) => api.cron.setEnabled(name, false),
      resume: (name) => api.cron.setEnabled(name, true),
      trigger: (name) => api.cron.trigger(name),
    },
    workflows: {
      chain: (steps, o = {}) => workflow("chain", "steps", steps, o.name ? { name: o.name } : {}),
      group: (jobs, o = {}) => workflow("group", "jobs", jobs, o.name ? { name: o.name } : {}),
      batch: (jobs, o = {}) => {
        const callbacks: Record<string, unknown> = {};
        if (o.onComplete) callbacks.on_complete = body(o.onComplete);
        if (o.onSuccess) callbacks.on_success = body(o.onSuccess);
        if (o.onFailure) callbacks.on_failure = body(o.onFailure);
        return workflow("batch", "jobs", jobs, { ...(o.name ? { name: o.name } : {}), callbacks });
      },
      get: (id) => api.workflows.get(id),
      cancel: (id) => api.workflows.cancel(id),
    },
    close: () => api.close(),
    [Symbol.asyncDispose]: () => api.close(),
  };
  return client;
}
