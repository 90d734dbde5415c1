/**
 * Starting and stopping a NATS-direct worker (worker.ts): connecting, opening the store and the
 * segment runner, following the queue registry and the cancel notices, being in the worker registry
 * while it runs; and on close, draining its jobs in time. Module functions over its state
 * (worker-state.ts).
 */
import type { NatsConnection } from "@nats-io/nats-core";

import { ErrorCode, coerceError } from "../core/errors.js";
import { checkNatsOption, connectNatsWithin } from "../nats/connect.js";
import { createStoreContext } from "../store/infra/context.js";
import { createServices } from "../store/infra/create-services.js";
import { DEFAULT_SEGMENT_LEASE_MS } from "../store/queues/queues.js";
import { workflowOutcomeListener } from "../store/workflows/workflows.js";
import { cancelNoticeId } from "./emit.js";
import { addLanes } from "./lanes.js";
import { startPresence } from "./presence.js";
import { createSegmentRunner } from "./segments.js";
import type { WorkerState } from "./worker-state.js";

/** How long a worker given a NATS URL tries to connect before `ready` rejects. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Connects to the URL of the options, logging when the connection is lost and when it returns. */
async function connect(s: WorkerState, servers: string): Promise<NatsConnection> {
  const { options, logger } = s;
  const giveUpAfterMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const nc = await connectNatsWithin({
    name: `jetjob-worker ${s.id}`,
    ...options.natsOptions,
    servers,
    giveUpAfterMs,
    signal: s.stopConnecting.signal,
    onRetry: (err, attempt) => {
      if (attempt !== 1) return;
      // Once, not per attempt: the final failure rejects `ready` (and logs again).
      logger.warn("cannot reach NATS; retrying", {
        nats: servers,
        error: err.message,
        give_up_after_ms: giveUpAfterMs,
      });
      if (s.emitter.listenerCount("error") > 0) s.emit("error", err);
    },
  });
  s.ownConnection = true;
  void (async () => {
    for await (const st of nc.status()) {
      if (st.type === "disconnect") logger.warn("NATS connection lost; reconnecting", { nats: servers });
      else if (st.type === "reconnect") logger.info("NATS connection restored", { nats: servers });
    }
  })().catch(() => undefined);
  return nc;
}

/** What `ready` does: connects, opens the store and the runner, pulls the queues' lanes. */
export async function startWorker(s: WorkerState): Promise<void> {
  const { options, id, queues, concurrency, logger, emit } = s;
  checkNatsOption(options.nats, "createWorker");
  const nc = (s.nc = typeof options.nats === "string" ? await connect(s, options.nats) : options.nats);
  const ctx = (s.ctx = await createStoreContext(nc, {
    ...(options.topology === undefined ? {} : { topology: options.topology }),
    instanceId: id,
  }));
  const svc = (s.svc = createServices(ctx, {
    onError: (err) => emit("error", err instanceof Error ? err : new Error(String(err))),
  }));
  svc.onOutcomes(workflowOutcomeListener(svc));
  const r = (s.runner = createSegmentRunner({
    svc,
    nc,
    workerId: id,
    handlers: options.handlers,
    concurrency,
    prefetch: s.prefetch,
    rebalanceAfterMs: options.rebalanceAfterMs ?? 1000,
    ...(options.unhandledJobTimeoutMs === undefined
      ? {}
      : { unhandledJobTimeoutMs: options.unhandledJobTimeoutMs }),
    // Every other queue keeps one slot, so a queue whose handlers hang cannot starve the rest.
    ...(queues.length > 1 ? { queueCap: () => Math.max(1, concurrency - (queues.length - 1)) } : {}),
    logger,
    emit,
    listening: (name) => s.emitter.listenerCount(name) > 0,
    onCapacity: s.pump,
    leaseMs: DEFAULT_SEGMENT_LEASE_MS,
  }));
  s.cancelSub = nc.subscribe(ctx.subjects.cancelAll(), {
    callback: (err, msg) => {
      if (err) return;
      const jobId = cancelNoticeId(msg.data);
      if (jobId !== undefined) r.cancel(jobId);
    },
  });
  await ctx.queues.watch((rec) => {
    addLanes(s, rec);
    if (!rec.paused) r.kick(); // resumed: reserved jobs may start
    s.pump();
  });
  for (const q of queues) {
    const rec = await ctx.queues.get(q);
    if (rec) addLanes(s, rec);
  }
  // In the worker registry (`jetjob worker list`, the dashboard, metrics) until close().
  s.presence = await startPresence(ctx, {
    id,
    queues,
    concurrency,
    heartbeatMs: options.heartbeatMs ?? 5000,
    stats: () => r.stats,
    logger,
    onError: (err) => emit("error", coerceError(err)),
  });
  logger.debug("worker started", { queues, concurrency });
}

/** Says why `ready` rejected (unless the worker was closed before it connected). */
export function reportStartFailure(s: WorkerState, err: unknown): void {
  const e = coerceError(err);
  if (e.code === ErrorCode.Closed && s.stopConnecting.signal.aborted) {
    s.logger.debug("worker closed before it connected");
    return;
  }
  s.logger.error("worker could not start", { error: e.message, code: e.code, hint: e.hint });
  if (s.emitter.listenerCount("error") > 0) s.emit("error", e);
}

/**
 * What `close()` does once: stops pulling, lets running jobs finish (or gives them back after
 * `shutdownTimeoutMs`), leaves the registry and disconnects.
 */
export async function closeWorker(s: WorkerState, ready: Promise<void>, unlisten: () => void): Promise<void> {
  s.stopConnecting.abort();
  unlisten();
  try {
    await ready;
  } catch {
    // never started: nothing to drain
  }
  const deadline = Date.now() + (s.options.shutdownTimeoutMs ?? 30_000);
  // In the registry as draining while its running jobs finish (ojs-graceful-shutdown).
  const announced = s.presence?.draining();
  const pulls = [...s.loops.values()].map((l) => l.loop.close());
  s.loops.clear();
  // Draining from here on: segments still arriving for the closed pulls are given back at once.
  const drained = s.runner?.drain(deadline);
  await Promise.all(pulls);
  await drained;
  await announced;
  await s.presence?.close();
  s.cancelSub?.unsubscribe();
  await s.svc?.close();
  s.ctx?.close();
  const nc = s.nc;
  if (s.ownConnection && nc && !nc.isClosed()) await nc.drain();
  s.logger.debug("worker stopped", s.runner ? { ...s.runner.stats } : {});
}
