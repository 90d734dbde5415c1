/**
 * The worker SDK: runs handlers for jobs taken straight from JetStream (no HTTP polling), with the
 * same rules as the HTTP door. Watches the queue registry for lanes and pauses, keeps one long-poll
 * pull per lane while it has free capacity, and drains on `close()`, SIGTERM or an aborted signal.
 *
 * @example
 * ```ts
 * const worker = createWorker<{ "email.send": [to: string] }>({
 *   nats: "nats://127.0.0.1:4222",
 *   queues: ["mail"],
 *   concurrency: 20,
 *   handlers: { "email.send": async (job) => sendMail(job.args[0], { signal: job.signal }) },
 * });
 * await worker.ready;
 * ```
 */
import { EventEmitter } from "node:events";

import type { NatsConnection, Subscription } from "@nats-io/nats-core";

import type { JobTypes } from "../core/job-types.js";
import { ErrorCode, coerceError } from "../core/errors.js";
import { uuidv7 } from "../core/ids.js";
import { createLogger } from "../core/logger.js";
import { stopOnSignals } from "../core/signals.js";
import { connectNatsWithin } from "../nats/connect.js";
import type { PullLoop } from "../nats/pull.js";
import { createPullLoop } from "../nats/pull.js";
import type { StoreContext } from "../store/infra/context.js";
import { createStoreContext } from "../store/infra/context.js";
import type { Services } from "../store/infra/services.js";
import { createServices } from "../store/infra/create-services.js";
import { workflowOutcomeListener } from "../store/workflows/workflows.js";
import { DEFAULT_SEGMENT_LEASE_MS } from "../store/queues/queues.js";
import type { QueueRecord } from "../store/queues/queues.js";
import { createIdentityWorker } from "./identity-worker.js";
import type { Presence } from "./presence.js";
import { startPresence } from "./presence.js";
import type { SegmentRunner } from "./segments.js";
import { createSegmentRunner } from "./segments.js";
import type { JobContext, WorkerEvents, WorkerOptions, WorkerStats } from "./types.js";

/** How long a request on a lane of unknown state waits (a probe). */
const PROBE_MS = 100;
/** How long a request waits for new work. */
const LONG_POLL_MS = 30_000;
/** How long a worker given a NATS URL tries to connect before `ready` rejects. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

interface Lane {
  queue: string;
  priority: number;
  /** "busy": it had more messages; "empty": it had none; "unknown": not asked yet. */
  state: "unknown" | "busy" | "empty";
  loop: PullLoop;
}

export interface Worker {
  /**
   * Resolves once connected and pulling; rejects if it cannot start, e.g. with a `JetjobError`
   * `nats_unreachable` when no connection to NATS was made within `connectTimeoutMs`.
   */
  readonly ready: Promise<void>;
  readonly id: string;
  stats(): WorkerStats;
  on<K extends keyof WorkerEvents>(event: K, listener: (...args: WorkerEvents[K]) => void): Worker;
  /** Stops taking jobs, finishes running ones (or gives them back after `shutdownTimeoutMs`), disconnects. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export function createWorker<T extends JobTypes = JobTypes>(options: WorkerOptions<T>): Worker {
  // Its own NATS identity: jobs through the API servers' relay (identity-worker.ts).
  if (options.identity !== undefined) return createIdentityWorker(options as WorkerOptions);
  const id = options.workerId ?? `worker-${uuidv7().slice(-12)}`;
  const logger = (options.logger ?? createLogger()).child({ worker_id: id });
  const queues = options.queues ?? ["default"];
  const concurrency = Math.max(1, options.concurrency ?? 10);
  const prefetch = Math.max(0, options.prefetch ?? 1024);
  const emitter = new EventEmitter();
  const loops = new Map<string, Lane>();
  let runner: SegmentRunner | undefined;
  let ctx: StoreContext | undefined;
  let svc: Services | undefined;
  let nc: NatsConnection | undefined;
  let ownConnection = false;
  let cancelSub: Subscription | undefined;
  let presence: Presence | undefined;
  let closing: Promise<void> | undefined;
  /** Stops connection attempts when the worker is closed before it connected. */
  const stopConnecting = new AbortController();

  const emit = <K extends keyof WorkerEvents>(name: K, ...args: WorkerEvents[K]) => {
    if (name === "error" && emitter.listenerCount("error") === 0) {
      const e = args[0];
      logger.warn("worker error", { error: e instanceof Error ? e.message : JSON.stringify(e) });
      return;
    }
    try {
      emitter.emit(name, ...args);
    } catch (err) {
      logger.warn("event listener threw", { event: name, error: String(err) });
    }
  };

  /**
   * Decides which lanes to pull from. Within a queue, lanes are tried from the highest priority down,
   * and a lower lane is asked only once every higher lane is known to be empty (an empty lane keeps
   * a long poll open, which does not use capacity: if work arrives there the worker takes it or gives
   * it back at once). A lane's state comes from the consumer's pending count on each delivery and
   * from requests that end empty; a lane not yet seen is probed with a short request.
   */
  function pump(): void {
    if (!runner || !ctx || closing) return;
    let free = runner.free();
    for (const l of loops.values()) if (l.state !== "empty") free -= l.loop.credit;
    for (const queue of queues) {
      if (ctx.queues.cached(queue)?.paused) continue;
      // This queue's share (see `queueCap`): a queue whose jobs hold their share waits for them.
      let queueFree = runner.freeFor(queue);
      for (const l of loops.values())
        if (l.queue === queue && l.state !== "empty") queueFree -= l.loop.credit;
      for (const l of loops.values()) {
        if (l.queue !== queue) continue;
        if (l.loop.credit > 0) {
          if (l.state === "empty") continue; // listening for new work; look lower
          break; // waiting for this lane's delivery
        }
        if (l.state === "empty") {
          l.loop.request(1, LONG_POLL_MS);
          continue;
        }
        if (free <= 0 || queueFree <= 0) break;
        l.loop.request(1, l.state === "unknown" ? PROBE_MS : LONG_POLL_MS);
        free--;
        break;
      }
    }
  }

  /** Renews held segments often enough for the lane's real lease (its consumer's ack wait). */
  function learnLease(queue: string, priority: number): void {
    const c = ctx;
    if (!c) return;
    void c.jsm.consumers
      .info(c.topology.streams.queue, c.subjects.laneConsumer(queue, priority))
      .then((info) => runner?.noteLeaseMs(Math.floor((info.config.ack_wait ?? 0) / 1e6)))
      .catch((err: unknown) => emit("error", err instanceof Error ? err : new Error(String(err))));
  }

  function addLanes(rec: QueueRecord): void {
    if (!queues.includes(rec.name) || !ctx || !runner || closing) return;
    for (const priority of rec.lanes) {
      const key = `${rec.name}|${priority}`;
      if (loops.has(key)) continue;
      const r = runner;
      const lane: Lane = {
        queue: rec.name,
        priority,
        state: "unknown",
        loop: undefined as unknown as PullLoop,
      };
      lane.loop = createPullLoop(
        ctx.nc,
        ctx.topology.streams.queue,
        ctx.subjects.laneConsumer(rec.name, priority),
        {
          onMessage: (d) => {
            lane.state = d.info.pending > 0 ? "busy" : "empty";
            void r
              .accept(d)
              .then((accepted) => {
                // Work arrived that we could not take now: the lane has work; ask when capacity frees.
                if (!accepted) lane.state = "busy";
              })
              .finally(pump);
            // Ask for the next segment while this one's claims are written (accept counted its jobs).
            pump();
          },
          onEnd: (received) => {
            if (received === 0) lane.state = "empty";
            pump();
          },
          onError: (err) => emit("error", err),
        },
      );
      loops.set(key, lane);
      learnLease(rec.name, priority);
    }
    // Lanes of each queue from the highest priority down.
    const sorted = [...loops.entries()].sort((a, b) => b[1].priority - a[1].priority);
    loops.clear();
    for (const [k, v] of sorted) loops.set(k, v);
    pump();
  }

  const ready = (async () => {
    if (typeof options.nats === "string") {
      const servers = options.nats;
      const giveUpAfterMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
      nc = await connectNatsWithin({
        name: `jetjob-worker ${id}`,
        ...options.natsOptions,
        servers,
        giveUpAfterMs,
        signal: stopConnecting.signal,
        onRetry: (err, attempt) => {
          if (attempt !== 1) return;
          // Once, not per attempt: the final failure rejects `ready` (and logs again).
          logger.warn("cannot reach NATS; retrying", {
            nats: servers,
            error: err.message,
            give_up_after_ms: giveUpAfterMs,
          });
          if (emitter.listenerCount("error") > 0) emit("error", err);
        },
      });
      ownConnection = true;
      const conn = nc;
      void (async () => {
        for await (const st of conn.status()) {
          if (st.type === "disconnect") logger.warn("NATS connection lost; reconnecting", { nats: servers });
          else if (st.type === "reconnect") logger.info("NATS connection restored", { nats: servers });
        }
      })().catch(() => undefined);
    } else nc = options.nats;
    ctx = await createStoreContext(nc, {
      ...(options.topology === undefined ? {} : { topology: options.topology }),
      instanceId: id,
    });
    svc = createServices(ctx, {
      onError: (err) => emit("error", err instanceof Error ? err : new Error(String(err))),
    });
    svc.onOutcomes(workflowOutcomeListener(svc));
    runner = createSegmentRunner({
      svc,
      nc,
      workerId: id,
      handlers: options.handlers as Record<string, ((job: JobContext) => unknown) | undefined>,
      concurrency,
      prefetch,
      rebalanceAfterMs: options.rebalanceAfterMs ?? 1000,
      ...(options.unhandledJobTimeoutMs === undefined
        ? {}
        : { unhandledJobTimeoutMs: options.unhandledJobTimeoutMs }),
      // Every other queue keeps one slot, so a queue whose handlers hang cannot starve the rest.
      ...(queues.length > 1 ? { queueCap: () => Math.max(1, concurrency - (queues.length - 1)) } : {}),
      logger,
      emit,
      listening: (name) => emitter.listenerCount(name) > 0,
      onCapacity: pump,
      leaseMs: DEFAULT_SEGMENT_LEASE_MS,
    });
    const r = runner;
    cancelSub = nc.subscribe(ctx.subjects.cancelAll(), {
      callback: (err, msg) => {
        if (err) return;
        try {
          const { id: jobId } = JSON.parse(new TextDecoder().decode(msg.data)) as { id?: unknown };
          if (typeof jobId === "string") r.cancel(jobId);
        } catch {
          // not a cancel notice
        }
      },
    });
    await ctx.queues.watch((rec) => {
      addLanes(rec);
      if (!rec.paused) r.kick(); // resumed: reserved jobs may start
      pump();
    });
    for (const q of queues) {
      const rec = await ctx.queues.get(q);
      if (rec) addLanes(rec);
    }
    // In the worker registry (`jetjob worker list`, the dashboard, metrics) until close().
    presence = await startPresence(ctx, {
      id,
      queues,
      concurrency,
      heartbeatMs: options.heartbeatMs ?? 5000,
      stats: () => r.stats,
      logger,
      onError: (err) => emit("error", coerceError(err)),
    });
    logger.debug("worker started", { queues, concurrency });
  })();
  ready.catch((err: unknown) => {
    const e = coerceError(err);
    if (e.code === ErrorCode.Closed && stopConnecting.signal.aborted) {
      logger.debug("worker closed before it connected");
      return;
    }
    logger.error("worker could not start", { error: e.message, code: e.code, hint: e.hint });
    if (emitter.listenerCount("error") > 0) emit("error", e);
  });

  const onSignal = () => void worker.close();
  const unlisten = options.handleSignals !== false ? stopOnSignals(onSignal) : () => undefined;
  options.signal?.addEventListener("abort", onSignal, { once: true });

  const worker: Worker = {
    ready,
    id,
    stats: () => ({ ...(runner?.stats ?? { running: 0, completed: 0, failed: 0, segmentsHeld: 0 }) }),
    on(event, listener) {
      emitter.on(event, listener as (...a: unknown[]) => void);
      return worker;
    },
    close() {
      return (closing ??= (async () => {
        stopConnecting.abort();
        unlisten();
        try {
          await ready;
        } catch {
          // never started: nothing to drain
        }
        const deadline = Date.now() + (options.shutdownTimeoutMs ?? 30_000);
        // In the registry as draining while its running jobs finish (ojs-graceful-shutdown).
        const announced = presence?.draining();
        const pulls = [...loops.values()].map((l) => l.loop.close());
        loops.clear();
        // Draining from here on: segments still arriving for the closed pulls are given back at once.
        const drained = runner?.drain(deadline);
        await Promise.all(pulls);
        await drained;
        await announced;
        await presence?.close();
        cancelSub?.unsubscribe();
        await svc?.close();
        ctx?.close();
        if (ownConnection && nc && !nc.isClosed()) await nc.drain();
        logger.debug("worker stopped", runner ? { ...runner.stats } : {});
      })());
    },
    [Symbol.asyncDispose]() {
      return worker.close();
    },
  };
  return worker;
}
