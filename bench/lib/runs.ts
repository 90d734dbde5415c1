/**
 * One measured run of a job system, the same procedure for each: a server of its own, the worker
 * started before enqueueing, an untimed warm-up, then the timed part. Used by the throughput,
 * latency and bulk scenarios.
 */
import type { RunningWorker, System, SystemName } from "./systems.js";
import { openSystem } from "./systems.js";
import { chunked, nowMs, paced, pipelined, Progress } from "./progress.js";

/** How jobs are enqueued: one call per job (many in flight) or the batch API in chunks. */
export type EnqueueMode = "single" | "batch";

/** Single enqueues in flight at once. */
export const SINGLE_IN_FLIGHT = 1000;
/** Jobs per batch call (one batch in flight). */
export const BATCH_SIZE = 1000;

const QUEUE = "bench";

/** Enqueues jobs `from` … `to - 1` (args `[i]`). */
export function enqueueRange(sys: System, mode: EnqueueMode, from: number, to: number): Promise<void> {
  if (mode === "single") {
    return pipelined(to - from, SINGLE_IN_FLIGHT, (k) => sys.enqueueOne(QUEUE, [from + k]));
  }
  return chunked(from, to, BATCH_SIZE, (start, count) =>
    sys.enqueueBatch(
      QUEUE,
      Array.from({ length: count }, (_, k) => [start + k]),
    ),
  );
}

async function withSystem<T>(name: SystemName, fn: (sys: System) => Promise<T>): Promise<T> {
  const sys = await openSystem(name);
  try {
    return await fn(sys);
  } finally {
    await sys.close();
  }
}

/** Closes a worker, giving up after `ms` (a stuck worker must not hang the benchmark). */
async function closeWorker(w: RunningWorker, ms = 35_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    w.close(),
    new Promise<void>((r) => {
      timer = setTimeout(() => {
        process.stderr.write(`  warning: worker close did not finish within ${ms / 1000} s\n`);
        r();
      }, ms);
    }),
  ]);
  clearTimeout(timer);
}

const failWith = (p: Progress) => (e: unknown) => {
  const err = e instanceof Error ? e : new Error(String(e));
  p.fail(err);
  throw err;
};

/**
 * End to end: `jobs` no-op jobs enqueued and completed, timed from the first enqueue to the last
 * completion; jobs/s.
 */
export function endToEnd(
  name: SystemName,
  mode: EnqueueMode,
  concurrency: number,
  jobs: number,
  warmup: number,
): Promise<number> {
  return withSystem(name, async (sys) => {
    const done = new Progress(`${name} ${mode} enqueue, concurrency ${concurrency}`);
    const w = await sys.startWorker(QUEUE, concurrency, {
      onComplete: () => done.add(),
      onError: (e) => done.fail(e),
    });
    try {
      await Promise.all([enqueueRange(sys, mode, 0, warmup).catch(failWith(done)), done.reached(warmup)]);
      await w.settled();
      const t0 = performance.now();
      await Promise.all([
        enqueueRange(sys, mode, warmup, warmup + jobs).catch(failWith(done)),
        done.reached(warmup + jobs),
      ]);
      await w.settled();
      const rate = jobs / ((performance.now() - t0) / 1000);
      await closeWorker(w);
      await sys.verify(warmup + jobs);
      return rate;
    } finally {
      await closeWorker(w);
    }
  });
}

/** The batch API alone, no worker running: `jobs` jobs after `warmup` untimed ones; jobs/s. */
export function enqueueOnly(name: SystemName, jobs: number, warmup: number): Promise<number> {
  return withSystem(name, async (sys) => {
    await enqueueRange(sys, "batch", 0, warmup);
    const t0 = performance.now();
    await enqueueRange(sys, "batch", warmup, warmup + jobs);
    return jobs / ((performance.now() - t0) / 1000);
  });
}

/**
 * Enqueue → handler start: one single enqueue every `intervalMs` with the send time in the args,
 * `warmup` untimed jobs then `count` timed ones; returns the sorted latencies (ms).
 */
export function latency(
  name: SystemName,
  concurrency: number,
  count: number,
  warmup: number,
  intervalMs: number,
): Promise<number[]> {
  return withSystem(name, async (sys) => {
    const started = new Progress(`${name} latency`);
    const latencies: number[] = [];
    const w = await sys.startWorker(QUEUE, concurrency, {
      onStart: (args) => {
        const [t, warm] = args as [number, boolean];
        if (!warm) latencies.push(nowMs() - t);
        started.add();
      },
      onError: (e) => started.fail(e),
    });
    const send = (warm: boolean) => () => {
      sys.enqueueOne(QUEUE, [nowMs(), warm]).catch((e: unknown) => {
        started.fail(e instanceof Error ? e : new Error(String(e)));
      });
    };
    try {
      await paced(warmup, intervalMs, send(true));
      await started.reached(warmup);
      await paced(count, intervalMs, send(false));
      await started.reached(warmup + count);
      await w.settled();
      return latencies.sort((a, b) => a - b);
    } finally {
      await closeWorker(w);
    }
  });
}
