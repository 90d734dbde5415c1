/**
 * The job engine: one set of job operations over NATS, used by the HTTP API (and by anything else
 * that needs OJS semantics without a worker). NATS-direct workers use the same store modules and
 * the same journal rules, so both doors behave alike.
 */
import type { NatsConnection } from "@nats-io/nats-core";

import type { NormalizedEnqueue } from "../core/envelope.js";
import { parseEnqueueRequest } from "../core/envelope.js";
import { JetjobError, ErrorCode, ValidationError } from "../core/errors.js";
import type { StoreContext, StoreContextOptions } from "./context.js";
import { createStoreContext } from "./context.js";
import type { EventView, RecentEventsQuery } from "./events.js";
import { recentEvents } from "./events.js";
import type { FetchRequest } from "./fetch.js";
import { fetchJobs } from "./fetch.js";
import { emptySlots } from "./fold.js";
import type { Leadership } from "./leader.js";
import { startLeaderElection } from "./leader.js";
import type { Locator } from "./locator.js";
import { createLocator } from "./locator.js";
import type { AckResult, HeartbeatResult, NackRequest } from "./operations.js";
import { ackJob, cancelJob, getJob, heartbeatJobs, nackJob } from "./operations.js";
import type { Placement, Producer, ProducerOptions } from "./producer.js";
import { createProducer } from "./producer.js";
import type { Promoter } from "./promoter.js";
import { startPromoter } from "./promoter.js";
import type { QueueRecord } from "./queues.js";
import { streamConfigs } from "./topology.js";
import type { JobView } from "./view.js";
import { buildJobView, deriveState } from "./view.js";

export interface EngineOptions extends StoreContextOptions {
  producer?: ProducerOptions;
  /** Run background tasks (delay promoter) when elected leader. @defaultValue true */
  background?: boolean;
  /** Most jobs in one batch enqueue. @defaultValue 1000 */
  maxBatchJobs?: number;
  onError?: (err: unknown) => void;
}

export interface Engine {
  readonly ctx: StoreContext;
  /** Validates and enqueues one job (OJS PUSH). */
  enqueue(body: unknown): Promise<JobView>;
  /** Validates every job first, then enqueues all of them (OJS batch PUSH). */
  enqueueBatch(bodies: unknown[]): Promise<JobView[]>;
  /** Enqueues already-normalized jobs. */
  enqueueNormalized(items: NormalizedEnqueue[], atomic?: boolean): Promise<JobView[]>;
  get(id: string): Promise<JobView>;
  fetch(req: FetchRequest): Promise<JobView[]>;
  ack(id: string, result?: unknown): Promise<AckResult>;
  nack(id: string, req: NackRequest): Promise<Record<string, unknown>>;
  cancel(id: string): Promise<JobView>;
  heartbeat(ids: string[], visibilityMs?: number): Promise<HeartbeatResult>;
  listQueues(): Promise<QueueRecord[]>;
  events(q: RecentEventsQuery): Promise<EventView[]>;
  /** Deletes every job, queue and event (test runs only; the HTTP route is off by default). */
  reset(): Promise<void>;
  /** Round-trip time to JetStream, for health checks. */
  ping(): Promise<number>;
  close(): Promise<void>;
}

export async function createEngine(nc: NatsConnection, options: EngineOptions = {}): Promise<Engine> {
  const ctx = await createStoreContext(nc, options);
  const locator: Locator = createLocator(ctx);
  const producer: Producer = createProducer(ctx, options.producer);
  const maxBatch = options.maxBatchJobs ?? 1000;
  const onError = options.onError ?? (() => undefined);
  let promoter: Promoter | undefined;
  let leadership: Leadership | undefined;

  if (options.background !== false) {
    leadership = startLeaderElection({
      kv: ctx.buckets.leases,
      name: "promoter",
      holder: ctx.instanceId,
      onElected: () => {
        promoter = startPromoter(ctx, locator, { onError });
      },
      onDemoted: () => {
        const p = promoter;
        promoter = undefined;
        void p?.close();
      },
      onError,
    });
  }

  function viewsOf(placed: Placement[]): JobView[] {
    const now = Date.now();
    return placed.map((p) => buildJobView(p.at, p.idx, deriveState(p.at, p.idx, emptySlots(1)[0]!, now)));
  }

  const engine: Engine = {
    ctx,
    async enqueue(body) {
      const n = parseEnqueueRequest(body);
      const [view] = await engine.enqueueNormalized([n]);
      return view!;
    },
    async enqueueBatch(bodies) {
      if (bodies.length === 0) throw new ValidationError("jobs must contain at least one job");
      if (bodies.length > maxBatch) {
        throw new JetjobError(ErrorCode.PayloadTooLarge, `a batch may hold at most ${maxBatch} jobs`, {
          details: { limit: maxBatch, count: bodies.length },
        });
      }
      const now = Date.now();
      const items = bodies.map((b, i) => {
        try {
          return parseEnqueueRequest(b, now);
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
      return engine.enqueueNormalized(items, true);
    },
    async enqueueNormalized(items, atomic = false) {
      return viewsOf(await producer.enqueue(items, { atomic }));
    },
    get: (id) => getJob(locator, id),
    fetch: (req) => fetchJobs(ctx, locator, req),
    ack: (id, result) => ackJob(ctx, locator, id, result),
    nack: (id, req) => nackJob(ctx, locator, id, req),
    cancel: (id) => cancelJob(ctx, locator, id),
    heartbeat: (ids, vis) => heartbeatJobs(ctx, locator, ids, vis),
    listQueues: () => ctx.queues.list(),
    events: (q) => recentEvents(ctx, q),
    async reset() {
      await producer.flush();
      const consumers = await ctx.jsm.consumers.list(ctx.topology.streams.queue).next();
      for (const c of consumers) await ctx.jsm.consumers.delete(ctx.topology.streams.queue, c.name);
      for (const cfg of streamConfigs(ctx.topology)) await ctx.jsm.streams.purge(cfg.name);
      for (const kv of [ctx.buckets.queues, ctx.buckets.ids]) {
        const keys = await kv.keys();
        for await (const k of keys) await kv.purge(k);
      }
      ctx.queues.forget();
      locator.clear();
      if (promoter) {
        // Restart the promoter so it forgets loaded buckets.
        await promoter.close();
        promoter = startPromoter(ctx, locator, { onError });
      }
    },
    async ping() {
      const t0 = performance.now();
      await ctx.jsm.getAccountInfo();
      return performance.now() - t0;
    },
    async close() {
      await producer.flush();
      await leadership?.close();
      await promoter?.close();
      ctx.close();
    },
  };
  return engine;
}
