/**
 * The job systems compared, behind one small interface so every scenario runs them the same way:
 * its own server started per run (nats-server on a temp store; redis-server on a temp dir), a
 * producer and a worker in this one Node process, no-op handlers.
 *
 * - jetjob: the client SDK with the NATS transport (`enqueue`, `enqueueMany`) and a NATS-direct
 *   worker (`createWorker`). A job counts as completed once its outcome is stored: the worker's
 *   `job:complete` fires after the outcome was appended to the journal, and `settled()` then waits
 *   until the worker holds no segment (the pointer updates and events that follow are done too).
 * - BullMQ: `Queue.add` / `Queue.addBulk` with `removeOnComplete` and `removeOnFail`, and a `Worker`;
 *   a job counts on the worker's `completed` event (after BullMQ moved it to completed in Redis).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Queue, Worker as BullWorker } from "bullmq";

import { createClient } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import type { RunningNatsServer } from "../../src/natsd/index.js";
import { startNatsServer } from "../../src/natsd/index.js";
import { createWorker } from "../../src/worker/index.js";
import { natsServerPid } from "./memory.js";
import { sleep } from "./progress.js";
import { startRedisServer } from "./redis.js";

export type SystemName = "jetjob" | "BullMQ";
export const systemNames: SystemName[] = ["jetjob", "BullMQ"];

export interface WorkerHooks {
  /** Called when a handler starts, with the job's args. */
  onStart?: (args: unknown[]) => void;
  /** Called when a job's completion is recorded. */
  onComplete?: () => void;
  /** A job failed: the run is invalid. */
  onError: (err: Error) => void;
}

/** Errors a worker reports besides job failures (a reconnect, a failed pull): shown, not fatal. */
function warn(system: SystemName, err: Error): void {
  process.stderr.write(`  warning: ${system} worker error: ${err.message}\n`);
}

export interface RunningWorker {
  /** Resolves once every outcome reported through `onComplete` is stored. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export interface System {
  name: SystemName;
  /** Process id of the server (nats-server, redis-server) for its memory figures. */
  serverPid: number | undefined;
  startWorker(queue: string, concurrency: number, hooks: WorkerHooks): Promise<RunningWorker>;
  enqueueOne(queue: string, args: unknown[]): Promise<unknown>;
  /** One batch call (jetjob `enqueueMany`, BullMQ `addBulk`). */
  enqueueBatch(queue: string, argsList: unknown[][]): Promise<unknown>;
  /**
   * Checks, after the worker closed, that the system itself counts `completed` jobs completed and
   * none waiting or running (untimed; throws otherwise).
   */
  verify(completed: number): Promise<void>;
  close(): Promise<void>;
}

export function openSystem(name: SystemName): Promise<System> {
  return name === "jetjob" ? openJetjob() : openBullmq();
}

const JOB_TYPE = "noop";

export async function openJetjob(): Promise<System & { server: RunningNatsServer }> {
  const dir = mkdtempSync(join(tmpdir(), "jetjob-bench-"));
  const server = await startNatsServer({ storeDir: dir, monitorPort: -1 });
  const client = createClient({ nats: server.url });
  const queueNames = new Set<string>();
  return {
    name: "jetjob",
    server,
    serverPid: natsServerPid(server),
    async startWorker(queue, concurrency, hooks) {
      queueNames.add(queue);
      const onStart = hooks.onStart;
      const worker = createWorker({
        nats: server.url,
        queues: [queue],
        concurrency,
        handleSignals: false,
        logger: silentLogger,
        handlers: {
          [JOB_TYPE]: onStart
            ? (job) => {
                onStart(job.args);
              }
            : () => undefined,
        },
      });
      if (hooks.onComplete) worker.on("job:complete", hooks.onComplete);
      worker.on("job:fail", (e) => hooks.onError(new Error(`jetjob job ${e.id} failed: ${e.error}`)));
      worker.on("error", (e) => warn("jetjob", e));
      await worker.ready;
      return {
        async settled() {
          while (worker.stats().segmentsHeld > 0 || worker.stats().running > 0) await sleep(1);
        },
        close: () => worker.close(),
      };
    },
    enqueueOne: (queue, args) => client.enqueue(JOB_TYPE, args, { queue }),
    enqueueBatch: (queue, argsList) =>
      client.enqueueMany(argsList.map((args) => ({ type: JOB_TYPE, args, options: { queue } }))),
    async verify(completed) {
      for (const name of queueNames) {
        const s = await client.queues.stats(name);
        if (s.completed !== completed || s.available !== 0 || s.active !== 0 || s.discarded !== 0) {
          throw new Error(
            `jetjob queue ${name}: expected ${completed} completed, stats say completed ${s.completed}, available ${s.available}, active ${s.active}, discarded ${s.discarded}`,
          );
        }
      }
    },
    async close() {
      await client.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function openBullmq(): Promise<System> {
  const redis = await startRedisServer();
  const connection = { host: redis.host, port: redis.port };
  const queues = new Map<string, Queue>();
  const queueOf = (name: string) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, {
        connection,
        defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
      });
      queues.set(name, q);
    }
    return q;
  };
  return {
    name: "BullMQ",
    serverPid: redis.pid,
    async startWorker(queue, concurrency, hooks) {
      const onStart = hooks.onStart;
      const worker = new BullWorker(
        queue,
        onStart
          ? (job: { data: { args: unknown[] } }) => {
              onStart(job.data.args);
              return Promise.resolve();
            }
          : () => Promise.resolve(),
        { connection, concurrency },
      );
      if (hooks.onComplete) worker.on("completed", hooks.onComplete);
      worker.on("failed", (job, err) =>
        hooks.onError(new Error(`BullMQ job ${job?.id} failed: ${err.message}`)),
      );
      worker.on("error", (e) => warn("BullMQ", e));
      await worker.waitUntilReady();
      return { settled: () => Promise.resolve(), close: () => worker.close() };
    },
    enqueueOne: (queue, args) => queueOf(queue).add(JOB_TYPE, { args }),
    enqueueBatch: (queue, argsList) =>
      queueOf(queue).addBulk(argsList.map((args) => ({ name: JOB_TYPE, data: { args } }))),
    async verify() {
      // Completed jobs are removed (removeOnComplete), so check that nothing is left over instead.
      for (const [name, q] of queues) {
        const c = await q.getJobCounts("waiting", "active", "delayed", "failed", "prioritized");
        if (Object.values(c).some((n) => n !== 0)) {
          throw new Error(`BullMQ queue ${name}: jobs left over after the run: ${JSON.stringify(c)}`);
        }
      }
    },
    async close() {
      for (const q of queues.values()) await q.close();
      await redis.stop();
    },
  };
}
