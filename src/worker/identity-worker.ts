/**
 * A queue worker logged in as its own NATS identity (`createWorker({ identity })`, docs/security.md):
 * it may not touch JetStream, so it takes and reports jobs through the API servers' worker relay
 * (server/worker-relay.ts) on its queues' relay subjects, the only ones nats-server lets it publish.
 * The relay runs the HTTP door's operations, so a job here lives exactly like one of an OJS HTTP
 * worker: a fetch claims it with a lease (the visibility timeout), beats extend the lease while the
 * handler runs, and ack/nack record the outcome (retries, dead letters, workflows: all server-side).
 *
 * Costs against the NATS-direct worker (worker.ts, unchanged for the shared login): one request per
 * fetch (up to the free slots' worth of jobs) and one per outcome, each a round trip through an API
 * server, instead of one journal append per flush. When a queue is empty it waits for the queue's
 * `job.enqueued`/`job.requeued` events (or `IDLE_POLL_MS`) before fetching again.
 */
import { EventEmitter } from "node:events";

import type { NatsConnection, Subscription } from "@nats-io/nats-core";

import { RelayOp, workerToken, workerUser } from "../access/worker-access.js";
import { agentUser } from "../access/identities.js";
import { coerceError, JetjobError } from "../core/errors.js";
import { uuidv7 } from "../core/ids.js";
import { createLogger } from "../core/logger.js";
import { stopOnSignals } from "../core/signals.js";
import { hostToken, queueToken, resolveTopology } from "../store/infra/topology.js";
import type { HandlerOutcome, JobCancel } from "./handler.js";
import { cancelRunning, newJobCancel, runHandler, runHandlerInTrace } from "./handler.js";
import type { RelayAsk, RelayedJob } from "./relay-client.js";
import { connectIdentity, handlerJobOf, relayClient } from "./relay-client.js";
import type { JobContext, WorkerEvents, WorkerOptions, WorkerStats } from "./types.js";

/** How long an idle queue waits before it is asked again when no event woke it. */
export const IDLE_POLL_MS = 1000;
const DEFAULT_VISIBILITY_MS = 30_000;

export interface IdentityWorker {
  readonly ready: Promise<void>;
  readonly id: string;
  stats(): WorkerStats;
  on<K extends keyof WorkerEvents>(event: K, listener: (...args: WorkerEvents[K]) => void): IdentityWorker;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface Running {
  id: string;
  queue: string;
  cancel: JobCancel;
}

type Fetched = RelayedJob;

const dec = new TextDecoder();

export function createIdentityWorker(options: WorkerOptions): IdentityWorker {
  const identity = options.identity!;
  const kind = identity.kind ?? "worker";
  const name = identity.name.toLowerCase();
  const user = kind === "agent" ? agentUser(name) : workerUser(name);
  const principal = kind === "agent" ? hostToken(name) : workerToken(name);
  const instance = options.workerId ?? uuidv7().slice(-12);
  const id = `${user}/${instance}`;
  const logger = (options.logger ?? createLogger()).child({ worker_id: id });
  const topology = resolveTopology(options.topology);
  const queues = options.queues ?? ["default"];
  const concurrency = Math.max(1, options.concurrency ?? 10);
  const visibilityMs = DEFAULT_VISIBILITY_MS;
  const beatMs = Math.min(options.heartbeatMs ?? 5000, visibilityMs / 3);
  const emitter = new EventEmitter();
  const stats: WorkerStats = { running: 0, completed: 0, failed: 0, segmentsHeld: 0 };
  const running = new Map<string, Running>();
  const wakers = new Map<string, () => void>();
  const subs: Subscription[] = [];
  const stopping = new AbortController();
  let nc: NatsConnection | undefined;
  let ownConnection = false;
  let ask: RelayAsk = () => Promise.reject(new Error("not connected"));
  let closing: Promise<void> | undefined;
  let beatTimer: NodeJS.Timeout | undefined;
  const loops: Promise<void>[] = [];

  const emit = <K extends keyof WorkerEvents>(ev: K, ...args: WorkerEvents[K]) => {
    if (ev === "error" && emitter.listenerCount("error") === 0) {
      logger.warn("worker error", { error: String((args[0] as Error).message) });
      return;
    }
    try {
      emitter.emit(ev, ...args);
    } catch (err) {
      logger.warn("event listener threw", { event: ev, error: String(err) });
    }
  };

  /** Resolves after `ms`, or earlier when the queue may have work (an event) or the worker stops. */
  function idle(queue: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wakers.delete(queue);
        stopping.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      wakers.set(queue, done);
      stopping.signal.addEventListener("abort", done, { once: true });
    });
  }

  const freeFor = (queue: string) => {
    const cap = queues.length > 1 ? Math.max(1, concurrency - (queues.length - 1)) : concurrency;
    let mine = 0;
    for (const r of running.values()) if (r.queue === queue) mine++;
    return Math.min(concurrency - running.size, cap - mine);
  };
  const capacityWaiters = new Set<() => void>();
  const capacityFreed = () => {
    const ws = [...capacityWaiters];
    capacityWaiters.clear();
    for (const w of ws) w();
  };
  /** Set when close() ran out of time and stopped the running handlers. */
  let forced = false;

  async function pollQueue(queue: string): Promise<void> {
    while (!stopping.signal.aborted) {
      const free = freeFor(queue);
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          const w = () => {
            capacityWaiters.delete(w);
            resolve();
          };
          capacityWaiters.add(w);
          stopping.signal.addEventListener("abort", w, { once: true });
        });
        continue;
      }
      let jobs: Fetched[];
      try {
        const r = await ask(queue, RelayOp.Fetch, { count: free, visibility_timeout_ms: visibilityMs });
        jobs = (r.jobs as Fetched[] | undefined) ?? [];
      } catch (err) {
        if (stopping.signal.aborted) return;
        emit("error", coerceError(err));
        await idle(queue, IDLE_POLL_MS);
        continue;
      }
      if (jobs.length === 0) {
        await idle(queue, IDLE_POLL_MS);
        continue;
      }
      for (const job of jobs) void runJob(queue, job);
    }
  }

  async function runJob(queue: string, v: Fetched): Promise<void> {
    const cancel = newJobCancel();
    running.set(v.id, { id: v.id, queue, cancel });
    stats.running = running.size;
    const attempt = typeof v.attempt === "number" ? v.attempt : 1;
    const started = Date.now();
    let outcome: HandlerOutcome;
    const handler = (options.handlers as Record<string, ((job: JobContext) => unknown) | undefined>)[v.type];
    try {
      if (!handler) {
        // Another worker of the queue may have the handler (a rolling deploy): give it back.
        await ask(queue, RelayOp.Nack, { id: v.id, requeue: true }).catch((err: unknown) =>
          emit("error", coerceError(err)),
        );
        return;
      }
      const job = handlerJobOf(v, attempt, cancel, (u) => ask(queue, RelayOp.Progress, { id: v.id, ...u }));
      const traceparent = job.traceparent;
      emit("job:start", { id: v.id, type: v.type, attempt });
      const timeoutMs = typeof v.timeout_ms === "number" ? v.timeout_ms : undefined;
      outcome =
        traceparent === undefined
          ? await runHandler(handler, job, { timeoutMs, cancel })
          : await runHandlerInTrace(handler, job, {
              timeoutMs,
              cancel,
              traceparent,
              tracestate: typeof v.tracestate === "string" ? v.tracestate : undefined,
            });
      if (outcome.ok) {
        try {
          JSON.stringify(outcome.result);
        } catch (err) {
          outcome = {
            ok: false,
            error: {
              code: "result_not_serializable",
              message: `the handler's result cannot be stored as JSON: ${String(err)}`,
              retryable: false,
            },
            cancelled: false,
          };
        }
      }
      await report(queue, v, attempt, started, outcome);
    } finally {
      running.delete(v.id);
      stats.running = running.size;
      capacityFreed();
    }
  }

  async function report(
    queue: string,
    v: Fetched,
    attempt: number,
    started: number,
    outcome: HandlerOutcome,
  ): Promise<void> {
    try {
      if (outcome.ok) {
        await ask(queue, RelayOp.Ack, { id: v.id, result: outcome.result ?? null });
        stats.completed++;
        emit("job:complete", { id: v.id, type: v.type, attempt, durationMs: Date.now() - started });
        return;
      }
      if (outcome.cancelled) {
        // Cancelled: already recorded. Stopped by a forced shutdown: give it back for another worker.
        if (forced) await ask(queue, RelayOp.Nack, { id: v.id, requeue: true });
        return;
      }
      const r = await ask(queue, RelayOp.Nack, { id: v.id, error: outcome.error });
      stats.failed++;
      emit("job:fail", {
        id: v.id,
        type: v.type,
        attempt,
        error: outcome.error.message,
        retrying: r.state !== "discarded",
      });
    } catch (err) {
      emit("error", coerceError(err));
    }
  }

  /** Extends the leases of running jobs (and keeps the registry entry fresh); stops jobs it lost. */
  async function beat(state?: string): Promise<void> {
    for (const [k, queue] of queues.entries()) {
      const ids = [...running.values()].filter((r) => r.queue === queue).map((r) => r.id);
      if (ids.length === 0 && k > 0) continue;
      try {
        const r = await ask(queue, RelayOp.Beat, {
          ids,
          visibility_timeout_ms: visibilityMs,
          ...(k === 0 ? { state: state ?? "running", running: running.size } : {}),
        });
        for (const lost of (r.lost as string[] | undefined) ?? []) {
          const job = running.get(lost);
          if (job) cancelRunning(job.cancel, new Error("the job's lease was lost"));
        }
      } catch (err) {
        if (!stopping.signal.aborted) emit("error", coerceError(err));
      }
    }
  }

  const ready = (async () => {
    if (typeof options.nats === "string") {
      ownConnection = true;
      nc = await connectIdentity(options, { user, name, id, logger, signal: stopping.signal });
    } else nc = options.nats;
    const conn = nc;
    ask = relayClient(conn, { topology, principal, instance });
    for (const q of queues) {
      const qt = queueToken(q);
      subs.push(
        conn.subscribe(`${topology.prefix}.cancel.${qt}`, {
          callback: (err, m) => {
            if (err) return;
            try {
              const { id: jobId } = JSON.parse(dec.decode(m.data)) as { id?: unknown };
              const r = typeof jobId === "string" ? running.get(jobId) : undefined;
              if (r) cancelRunning(r.cancel, new Error("cancelled"));
            } catch {
              // not a cancel notice
            }
          },
        }),
        conn.subscribe(`${topology.prefix}.ev.${qt}`, {
          callback: (err, m) => {
            if (err) return;
            const s = dec.decode(m.data);
            if (s.includes("job.enqueued") || s.includes("job.requeued")) wakers.get(q)?.();
          },
        }),
      );
    }
    await conn.flush();
    // A first beat per queue: in the registry at once, and NATS lets it ask about each queue (an
    // identity not granted one is refused by the server: say so instead of failing every fetch).
    for (const [k, q] of queues.entries()) {
      await ask(q, RelayOp.Beat, k === 0 ? { ids: [], state: "running", running: 0 } : { ids: [] }).catch(
        (err: unknown) => {
          const e = coerceError(err);
          throw new JetjobError(e.code, `${user} cannot take jobs of queue '${q}': ${e.message}`, {
            cause: err,
            hint: `The identity must be granted the queue: jetjob agent accept ${kind === "agent" ? name : user} --queue ${q}`,
          });
        },
      );
    }
    beatTimer = setInterval(() => void beat(), beatMs);
    beatTimer.unref();
    for (const q of queues) loops.push(pollQueue(q));
    logger.debug("worker started (NATS identity)", { queues, concurrency });
  })();
  ready.catch((err: unknown) => {
    const e = coerceError(err);
    if (stopping.signal.aborted) return;
    logger.error("worker could not start", { error: e.message, code: e.code, hint: e.hint });
    if (emitter.listenerCount("error") > 0) emit("error", e);
  });

  const onSignal = () => void worker.close();
  const unlisten = options.handleSignals !== false ? stopOnSignals(onSignal) : () => undefined;
  options.signal?.addEventListener("abort", onSignal, { once: true });

  const worker: IdentityWorker = {
    ready,
    id,
    stats: () => ({ ...stats }),
    on(event, listener) {
      emitter.on(event, listener as (...a: unknown[]) => void);
      return worker;
    },
    close() {
      return (closing ??= (async () => {
        unlisten();
        let started = true;
        stopping.abort();
        try {
          await ready;
        } catch {
          started = false;
        }
        clearInterval(beatTimer);
        await Promise.all(loops);
        if (started) {
          const deadline = Date.now() + (options.shutdownTimeoutMs ?? 30_000);
          await beat("draining");
          const timer = setTimeout(
            () => {
              forced = true;
              for (const r of running.values()) cancelRunning(r.cancel, new Error("the worker stopped"));
            },
            Math.max(0, deadline - Date.now()),
          );
          while (running.size > 0) await new Promise<void>((r) => capacityWaiters.add(r));
          clearTimeout(timer);
          await beat("terminated");
        }
        for (const s of subs) s.unsubscribe();
        if (ownConnection && nc && !nc.isClosed()) await nc.drain();
      })());
    },
    [Symbol.asyncDispose]() {
      return worker.close();
    },
  };
  return worker;
}
