/**
 * The job engine: every job operation over NATS, used by the HTTP API. NATS-direct workers and the
 * NATS client use the same store modules and journal rules, so all doors behave alike.
 *
 * Singleton background work (delay promotion, cron ticks, the workflow sweep) runs on the one engine
 * that holds the `scheduler` lease; the others take over within a lease period if it stops.
 */
import type { NatsConnection } from "@nats-io/nats-core";

import type { NormalizedEnqueue } from "../core/envelope.js";
import { applyTraceContext, parseEnqueueRequest } from "../core/envelope.js";
import { ErrorCode, JetjobError, NotFoundError, ValidationError } from "../core/errors.js";
import type { TraceContext } from "../core/tracing.js";
import type { HousekeepingOptions } from "../core/storage-options.js";
import { resolveHousekeeping } from "../core/storage-options.js";
import type { StoreHealth } from "./infra/health.js";
import { createHealthCheck } from "./infra/health.js";
import { createServerClock } from "./infra/server-clock.js";
import type { BackgroundTask } from "./infra/tasks.js";
import { periodicTask, runTasks } from "./infra/tasks.js";
import { resetStore } from "./reset.js";
import type { StoreContext, StoreContextOptions } from "./infra/context.js";
import { createStoreContext } from "./infra/context.js";
import type { CronOptions, CronView } from "./features/cron.js";
import { activateJob } from "./segments/activate.js";
import { cronTick, deleteCron, listCrons, upsertCron } from "./features/cron.js";
import type { DeadLetterPage } from "./features/dlq.js";
import { deleteDeadLetter, listDeadLetters, retryDeadLetter, retryJob } from "./features/dlq.js";
import type { Enqueued } from "./jobs/enqueue.js";
import { enqueueJobs } from "./jobs/enqueue.js";
import type { EventPage, RecentEventsQuery } from "./jobs/event-search.js";
import type { EventView } from "./jobs/events.js";
import { recentEvents, searchEvents } from "./jobs/event-search.js";
import type { FetchRequest } from "./segments/fetch.js";
import { fetchJobs } from "./segments/fetch.js";
import type { JobPage, ListQuery } from "./jobs/list.js";
import { listJobs } from "./jobs/list.js";
import type { AckResult, HeartbeatResult, NackRequest } from "./jobs/operations.js";
import { ackJob, cancelJob, getJob, heartbeatJobs, nackJob } from "./jobs/operations.js";
import type { ProducerOptions } from "./segments/producer.js";
import { startPromoter } from "./segments/promoter.js";
import type { QueueRecord } from "./queues/queues.js";
import type { Services } from "./infra/services.js";
import { createServices } from "./infra/create-services.js";
import type { QueueStats } from "./queues/stats.js";
import { allQueueStats, queueStats } from "./queues/stats.js";
import type { QueueDeleted } from "./queues/queue-delete.js";
import { deleteQueue } from "./queues/queue-delete.js";
import { exclusiveKeyTasks } from "./features/exclusive.js";
import type { ExclusiveKeyView } from "./features/exclusive-view.js";
import { listExclusiveKeys } from "./features/exclusive-view.js";
import type { AcquireRequest, LockGrant, LockView } from "./features/locks.js";
import { acquireLock, listLocks, releaseLock, renewLock } from "./features/locks.js";
import type { QueueConfigChange, QueueConfigView } from "./queues/queue-config.js";
import { configureQueue } from "./queues/queue-config.js";
import type { Housekeeper } from "./retention/housekeeper.js";
import { startHousekeeper } from "./retention/housekeeper.js";
import type { SchemaValidationMode } from "./schemas/schema-registry.js";
import type { StorageReport } from "./retention/report.js";
import { storageReport } from "./retention/report.js";
import type { JobView } from "./jobs/view.js";
import type { WorkflowView } from "./workflows/workflow-record.js";
import {
  cancelWorkflow,
  createWorkflow,
  getWorkflow,
  sweepWorkflows,
  workflowOutcomeListener,
} from "./workflows/workflows.js";

export interface EngineOptions extends StoreContextOptions {
  producer?: ProducerOptions;
  /** Run background tasks (promoter, cron, sweeps) when elected leader. @defaultValue true */
  background?: boolean;
  /** Most jobs in one batch enqueue. @defaultValue `limits.maxBatchJobs` (1000) */
  maxBatchJobs?: number;
  /**
   * Housekeeping (removing finished jobs past their retention): its timings, or false to never run
   * it in this process. It runs only with `background`, on the one engine holding its lease.
   */
  housekeeping?: HousekeepingOptions | false;
  /** Scheduler lease; a stopped leader is replaced within about this long. @defaultValue 10000 */
  leaseMs?: number;
  /** How often the leader repairs exclusive keys left behind by crashed processes. @defaultValue 2000 */
  keySweepMs?: number;
  /**
   * Scheduled fleet jobs (a fleet controller's check and dispatch) and where ticks that did not fire
   * are reported. Without `cron.fleet`, schedules with a target are refused.
   */
  cron?: CronOptions;
  onError?: (err: unknown) => void;
  /** How enqueues are checked against registered schemas (schema-registry.ts). @defaultValue "strict" */
  schemaValidation?: SchemaValidationMode;
}

export interface Engine {
  readonly ctx: StoreContext;
  readonly svc: Services;
  /** Whether this engine holds the scheduler lease now (runs promotion, cron and sweeps). */
  readonly scheduling: boolean;
  /** This process's housekeeper (absent when housekeeping is off here). */
  readonly housekeeper: Housekeeper | undefined;
  /** Streams and buckets with their sizes, the housekeeper's state and the removals due next. */
  storage(): Promise<StorageReport>;
  /** Validates and enqueues one job (OJS PUSH); `created` is false when a unique job already existed. */
  push(body: unknown): Promise<Enqueued>;
  /** {@link push} returning just the job. */
  enqueue(body: unknown): Promise<JobView>;
  /**
   * Validates every job first, then enqueues all of them (OJS batch PUSH). `trace` (the request's
   * trace context) goes to the jobs that do not carry their own.
   */
  enqueueBatch(bodies: unknown[], trace?: TraceContext, createdBy?: string): Promise<JobView[]>;
  enqueueNormalized(items: NormalizedEnqueue[], atomic?: boolean): Promise<Enqueued[]>;
  get(id: string): Promise<JobView>;
  fetch(req: FetchRequest): Promise<JobView[]>;
  /** `workerId`: the reporting worker; refused with `lease_lost` when it no longer holds the job. */
  ack(id: string, result?: unknown, workerId?: string): Promise<AckResult>;
  nack(id: string, req: NackRequest): Promise<Record<string, unknown>>;
  cancel(id: string): Promise<JobView>;
  /** Activates a job enqueued with `options.pending` (409 for any other state). */
  activate(id: string): Promise<JobView>;
  heartbeat(ids: string[], visibilityMs?: number, workerId?: string): Promise<HeartbeatResult>;
  listQueues(): Promise<QueueRecord[]>;
  queueStats(name: string): Promise<QueueStats>;
  /** Every queue's statistics, read in bulk (stats.ts `allQueueStats`). */
  allQueueStats(): Promise<QueueStats[]>;
  setPaused(name: string, paused: boolean): Promise<QueueRecord>;
  /** Deletes a queue without unfinished jobs (queue-delete.ts; 409 `conflict` otherwise). */
  deleteQueue(name: string): Promise<QueueDeleted>;
  /** A queue's jobs, newest first. */
  listJobs(q: ListQuery): Promise<JobPage>;
  /** Runs a discarded or cancelled job again with fresh attempts. */
  retryJob(id: string): Promise<JobView>;
  deadLetters(q: { queue?: string; limit: number; offset: number }): Promise<DeadLetterPage>;
  retryDeadLetter(id: string): Promise<JobView>;
  deleteDeadLetter(id: string): Promise<{ deleted: true; job_id: string }>;
  /** `createdBy`: the API token's name, recorded on the workflow and its jobs. */
  createWorkflow(body: unknown, createdBy?: string): Promise<WorkflowView>;
  getWorkflow(id: string): Promise<WorkflowView>;
  cancelWorkflow(id: string): Promise<WorkflowView>;
  /** Registers or replaces a schedule (`created`: it was new). */
  registerCron(body: unknown): Promise<{ cron: CronView; created: boolean }>;
  listCrons(): Promise<CronView[]>;
  deleteCron(name: string): Promise<CronView>;
  events(q: RecentEventsQuery): Promise<EventView[]>;
  /** A page of recent events, with where to go on (bounded work per page: events.ts). */
  eventPage(q: RecentEventsQuery): Promise<EventPage>;
  /** Sets per-queue settings (exclusive key template). */
  configureQueue(name: string, change: QueueConfigChange): Promise<QueueConfigView>;
  /** Exclusive keys that are held or have waiting jobs. */
  exclusiveKeys(q: { queue?: string }): Promise<ExclusiveKeyView[]>;
  locks: {
    acquire(req: AcquireRequest): Promise<LockGrant>;
    renew(name: string, token: string, ttlMs?: number): Promise<LockGrant>;
    release(name: string, token: string): Promise<{ released: true; name: string }>;
    list(): Promise<LockView[]>;
  };
  /** Deletes every job, queue, schedule and event (test runs only; the HTTP route is off by default). */
  reset(): Promise<void>;
  /** Round-trip time to JetStream, for health checks. */
  ping(): Promise<number>;
  /** Storage room and streams (store/infra/health.ts); reused for 2 s. */
  health(): Promise<StoreHealth>;
  close(): Promise<void>;
}

export async function createEngine(nc: NatsConnection, options: EngineOptions = {}): Promise<Engine> {
  const ctx = await createStoreContext(nc, options);
  const onError = options.onError ?? (() => undefined);
  const svc = createServices(ctx, {
    ...(options.producer ? { producer: options.producer } : {}),
    ...(options.schemaValidation ? { schemaValidation: options.schemaValidation } : {}),
    onError,
  });
  svc.onOutcomes(workflowOutcomeListener(svc));
  const maxBatch = options.maxBatchJobs ?? ctx.limits.maxBatchJobs;
  const health = createHealthCheck(ctx, onError);
  /** The NATS server's clock as the scheduler leader sees it (server-clock.ts). */
  const clock = createServerClock();
  // A write no stream answered: maybe a stream was deleted; the check creates missing ones again.
  ctx.onUnansweredWrite = () => void health().catch(() => undefined);
  /** What the scheduler leader runs: promotion of due jobs, cron, workflow and exclusive-key sweeps. */
  const schedulerTasks: BackgroundTask[] = [
    { name: "promoter", scope: "leader", start: () => startPromoter(ctx, svc, { onError, clock }) },
    periodicTask({
      name: "cron",
      scope: "leader",
      everyMs: 1000,
      tick: () => cronTick(svc, clock.now(), options.cron),
      onError,
    }),
    periodicTask({
      name: "workflow sweep",
      scope: "leader",
      everyMs: 5000,
      tick: () => sweepWorkflows(svc),
      onError,
    }),
    ...exclusiveKeyTasks(svc, options.keySweepMs ?? 2000, onError),
  ];
  const scheduler =
    options.background !== false
      ? runTasks(schedulerTasks, {
          election: {
            kv: ctx.buckets.leases,
            name: "scheduler",
            clock,
            holder: ctx.instanceId,
            ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
          },
          onError,
        })
      : undefined;

  const housekeeper =
    options.background !== false && options.housekeeping !== false
      ? startHousekeeper(svc, { ...resolveHousekeeping(options.housekeeping || {}), onError })
      : undefined;

  async function queueOrThrow(name: string): Promise<QueueRecord> {
    const rec = await ctx.queues.get(name);
    if (!rec) throw new NotFoundError("queue", name);
    return rec;
  }

  const engine: Engine = {
    ctx,
    svc,
    get scheduling() {
      return scheduler?.leading ?? false;
    },
    housekeeper,
    storage: () => storageReport(svc, housekeeper),
    async push(body) {
      const [r] = await enqueueJobs(svc, [parseEnqueueRequest(body)]);
      return r!;
    },
    async enqueue(body) {
      return (await engine.push(body)).job;
    },
    async enqueueBatch(bodies, trace, createdBy) {
      if (bodies.length === 0) throw new ValidationError("jobs must contain at least one job");
      if (bodies.length > maxBatch) {
        throw new JetjobError(ErrorCode.PayloadTooLarge, `a batch may hold at most ${maxBatch} jobs`, {
          details: { limit: maxBatch, count: bodies.length },
        });
      }
      const now = Date.now();
      const items = bodies.map((b, i) => {
        try {
          const n = parseEnqueueRequest(b, now);
          applyTraceContext(n.spec, trace);
          if (createdBy !== undefined) n.spec.createdBy = createdBy;
          return n;
        } catch (err) {
          if (err instanceof JetjobError) {
            throw new JetjobError(err.code, `jobs[${i}]: ${err.message}`, {
              details: { index: i, ...err.details },
              cause: err,
            });
          }
          throw err;
        }
      });
      return (await enqueueJobs(svc, items, true)).map((r) => r.job);
    },
    enqueueNormalized: (items, atomic = false) => enqueueJobs(svc, items, atomic),
    get: (id) => getJob(svc, id),
    fetch: (req) => fetchJobs(svc, req),
    ack: (id, result, workerId) => ackJob(svc, id, result, workerId),
    nack: (id, req) => nackJob(svc, id, req),
    cancel: (id) => cancelJob(svc, id),
    activate: (id) => activateJob(svc, id),
    heartbeat: (ids, vis, workerId) => heartbeatJobs(svc, ids, vis, workerId),
    listQueues: () => ctx.queues.list(),
    allQueueStats: () => allQueueStats(svc),
    async queueStats(name) {
      return queueStats(svc, await queueOrThrow(name));
    },
    setPaused: (name, paused) =>
      ctx.queues.update(name, (r) => {
        // When it was paused (OJS `paused_at`): kept by a repeated pause, cleared by resume.
        if (paused && !r.paused) r.pausedAt = Date.now();
        if (!paused) delete r.pausedAt;
        r.paused = paused;
      }),
    deleteQueue: (name) => deleteQueue(svc, name),
    listJobs: (q) => listJobs(svc, q),
    retryJob: (id) => retryJob(svc, id),
    deadLetters: (q) => listDeadLetters(svc, q),
    retryDeadLetter: (id) => retryDeadLetter(svc, id),
    deleteDeadLetter: (id) => deleteDeadLetter(svc, id),
    // Its steps' args are checked against their schemas at creation (enqueue-checks.ts).
    createWorkflow: (body, createdBy) => svc.schemas.ready().then(() => createWorkflow(svc, body, createdBy)),
    getWorkflow: (id) => getWorkflow(svc, id),
    cancelWorkflow: (id) => cancelWorkflow(svc, id),
    registerCron: (body) => upsertCron(svc, body, options.cron),
    listCrons: () => listCrons(svc),
    deleteCron: (name) => deleteCron(svc, name),
    events: (q) => recentEvents(ctx, q),
    eventPage: (q) => searchEvents(ctx, q),
    configureQueue: (name, change) => configureQueue(svc, name, change),
    exclusiveKeys: (q) => listExclusiveKeys(svc, q),
    locks: {
      acquire: (req) => acquireLock(svc, req),
      renew: (name, token, ttlMs) => renewLock(svc, name, token, ttlMs),
      release: (name, token) => releaseLock(svc, name, token),
      list: () => listLocks(svc),
    },
    async reset() {
      if (scheduler) await scheduler.whileLeaderTasksStopped(() => resetStore(svc));
      else await resetStore(svc);
    },
    health,
    async ping() {
      const t0 = performance.now();
      await ctx.jsm.getAccountInfo();
      return performance.now() - t0;
    },
    async close() {
      await housekeeper?.close();
      await scheduler?.close();
      await svc.close();
      ctx.close();
    },
  };
  return engine;
}
