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
import { RelayOp } from "../access/worker-access.js";
import { coerceError, JetjobError } from "../core/errors.js";
import { stopOnSignals } from "../core/signals.js";
import { queueToken } from "../store/infra/topology.js";
import { cancelNoticeId } from "./emit.js";
import { cancelRunning } from "./handler.js";
import { beat, pollQueue } from "./identity-jobs.js";
import type { IdentityState } from "./identity-state.js";
import { newIdentityState, wakesIdle } from "./identity-state.js";
import { connectIdentity, relayClient } from "./relay-client.js";
import type { WorkerEvents, WorkerOptions, WorkerStats } from "./types.js";

export { IDLE_POLL_MS } from "./identity-jobs.js";

export interface IdentityWorker {
  readonly ready: Promise<void>;
  readonly id: string;
  stats(): WorkerStats;
  on<K extends keyof WorkerEvents>(event: K, listener: (...args: WorkerEvents[K]) => void): IdentityWorker;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const dec = new TextDecoder();

/**
 * A worker for `options.identity`. Its parts: its state (identity-state.ts), fetching, running and
 * reporting jobs and the beats (identity-jobs.ts), starting and closing (below).
 */
export function createIdentityWorker(options: WorkerOptions): IdentityWorker {
  const s = newIdentityState(options);
  const ready = startIdentityWorker(s);
  ready.catch((err: unknown) => {
    const e = coerceError(err);
    if (s.stopping.signal.aborted) return;
    s.logger.error("worker could not start", { error: e.message, code: e.code, hint: e.hint });
    if (s.emitter.listenerCount("error") > 0) s.emit("error", e);
  });

  const onSignal = () => void worker.close();
  const unlisten = options.handleSignals !== false ? stopOnSignals(onSignal) : () => undefined;
  options.signal?.addEventListener("abort", onSignal, { once: true });

  const worker: IdentityWorker = {
    ready,
    id: s.id,
    stats: () => ({ ...s.stats }),
    on(event, listener) {
      s.emitter.on(event, listener as (...a: unknown[]) => void);
      return worker;
    },
    close() {
      return (s.closing ??= closeIdentityWorker(s, ready, unlisten));
    },
    [Symbol.asyncDispose]() {
      return worker.close();
    },
  };
  return worker;
}

/**
 * What `ready` does: connects as the identity, follows its queues' cancel notices and events, checks
 * with a first beat per queue that it may take their jobs, then beats and polls every queue.
 */
async function startIdentityWorker(s: IdentityState): Promise<void> {
  const { options, queues, topology, user, name, id, logger } = s;
  let conn;
  if (typeof options.nats === "string") {
    s.ownConnection = true;
    conn = s.nc = await connectIdentity(options, { user, name, id, logger, signal: s.stopping.signal });
  } else conn = s.nc = options.nats;
  const ask = (s.ask = relayClient(conn, { topology, principal: s.principal, instance: s.instance }));
  for (const q of queues) {
    const qt = queueToken(q);
    s.subs.push(
      conn.subscribe(`${topology.prefix}.cancel.${qt}`, {
        callback: (err, m) => {
          if (err) return;
          const jobId = cancelNoticeId(m.data);
          const r = jobId === undefined ? undefined : s.running.get(jobId);
          if (r) cancelRunning(r.cancel, new Error("cancelled"));
        },
      }),
      conn.subscribe(`${topology.prefix}.ev.${qt}`, {
        callback: (err, m) => {
          if (err) return;
          if (wakesIdle(dec.decode(m.data))) s.wakers.get(q)?.();
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
          hint: `The identity must be granted the queue: jetjob agent accept ${s.kind === "agent" ? name : user} --queue ${q}`,
        });
      },
    );
  }
  s.beatTimer = setInterval(() => void beat(s), s.beatMs);
  s.beatTimer.unref();
  for (const q of queues) s.loops.push(pollQueue(s, q));
  logger.debug("worker started (NATS identity)", { queues, concurrency: s.concurrency });
}

/**
 * What `close()` does once: stops polling, says it is draining, lets running jobs finish (stopping
 * them, to be given back, after `shutdownTimeoutMs`), says it terminated and disconnects.
 */
async function closeIdentityWorker(
  s: IdentityState,
  ready: Promise<void>,
  unlisten: () => void,
): Promise<void> {
  unlisten();
  let started = true;
  s.stopping.abort();
  try {
    await ready;
  } catch {
    started = false;
  }
  clearInterval(s.beatTimer);
  await Promise.all(s.loops);
  if (started) {
    const deadline = Date.now() + (s.options.shutdownTimeoutMs ?? 30_000);
    await beat(s, "draining");
    const timer = setTimeout(
      () => {
        s.forced = true;
        for (const r of s.running.values()) cancelRunning(r.cancel, new Error("the worker stopped"));
      },
      Math.max(0, deadline - Date.now()),
    );
    while (s.running.size > 0) await new Promise<void>((r) => s.capacityWaiters.add(r));
    clearTimeout(timer);
    await beat(s, "terminated");
  }
  for (const sub of s.subs) sub.unsubscribe();
  const nc = s.nc;
  if (s.ownConnection && nc && !nc.isClosed()) await nc.drain();
}
