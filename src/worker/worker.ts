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
import type { JobTypes } from "../core/job-types.js";
import { stopOnSignals } from "../core/signals.js";
import { createIdentityWorker } from "./identity-worker.js";
import { pump } from "./lanes.js";
import type { WorkerEvents, WorkerOptions, WorkerStats } from "./types.js";
import { closeWorker, reportStartFailure, startWorker } from "./worker-start.js";
import { newWorkerState } from "./worker-state.js";
import { noStats } from "./runner-state.js";

export { DEFAULT_CONNECT_TIMEOUT_MS } from "./worker-start.js";

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

/**
 * A worker for the given queues and handlers. Its parts: its state (worker-state.ts), starting and
 * stopping (worker-start.ts), the lanes it pulls (lanes.ts) and the segment runner (segments.ts).
 */
export function createWorker<T extends JobTypes = JobTypes>(options: WorkerOptions<T>): Worker {
  // Its own NATS identity: jobs through the API servers' relay (identity-worker.ts).
  if (options.identity !== undefined) return createIdentityWorker(options as WorkerOptions);
  const s = newWorkerState(options as WorkerOptions);
  s.pump = () => pump(s);
  const ready = startWorker(s);
  ready.catch((err: unknown) => reportStartFailure(s, err));

  const onSignal = () => void worker.close();
  const unlisten = options.handleSignals !== false ? stopOnSignals(onSignal) : () => undefined;
  options.signal?.addEventListener("abort", onSignal, { once: true });

  const worker: Worker = {
    ready,
    id: s.id,
    stats: () => ({ ...(s.runner?.stats ?? noStats()) }),
    on(event, listener) {
      s.emitter.on(event, listener as (...a: unknown[]) => void);
      return worker;
    },
    close() {
      return (s.closing ??= closeWorker(s, ready, unlisten));
    },
    [Symbol.asyncDispose]() {
      return worker.close();
    },
  };
  return worker;
}
