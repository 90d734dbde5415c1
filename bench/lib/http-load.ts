/**
 * The four loads of the `http` scenario, written once and driven through each system's own way in:
 * a push rate with a fixed number of calls in flight, a batch-push rate (one batch in flight), the
 * round trip of single pushes at a fixed rate, and end to end (batches pushed while workers take and
 * finish the jobs). Every load runs an untimed warm-up first.
 */
import type { HttpDoor } from "./http-door.js";
import { chunked, paced, pipelined, Progress } from "./progress.js";
import type { System } from "./systems.js";

export const JOB_TYPE = "noop";

const toError = (e: unknown) => (e instanceof Error ? e : new Error(String(e)));
const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** `jobs` calls of `push(i)` with `inFlight` in flight, after `warmup` untimed ones; calls/s. */
export async function pushRate(
  push: (i: number) => Promise<unknown>,
  jobs: number,
  warmup: number,
  inFlight: number,
): Promise<number> {
  await pipelined(warmup, inFlight, push);
  const t0 = performance.now();
  await pipelined(jobs, inFlight, (i) => push(warmup + i));
  return jobs / seconds(t0);
}

/** `jobs` jobs in calls of `pushBatch(start, count)` of `size` each, one in flight, after a warm-up; jobs/s. */
export async function batchRate(
  pushBatch: (start: number, count: number) => Promise<unknown>,
  jobs: number,
  warmup: number,
  size: number,
): Promise<number> {
  await chunked(0, warmup, size, pushBatch);
  const t0 = performance.now();
  await chunked(warmup, warmup + jobs, size, pushBatch);
  return jobs / seconds(t0);
}

/**
 * One `push(i)` every `intervalMs` (not waiting for the previous one), `warmup` untimed then `count`
 * timed; returns the sorted round trips (call → resolved), ms.
 */
export async function pushLatency(
  push: (i: number) => Promise<unknown>,
  count: number,
  warmup: number,
  intervalMs: number,
): Promise<number[]> {
  const done = new Progress("single push round trips");
  const took: number[] = [];
  const fire = (timed: boolean, offset: number) => (i: number) => {
    const t0 = performance.now();
    push(offset + i).then(
      () => {
        if (timed) took.push(performance.now() - t0);
        done.add();
      },
      (e: unknown) => done.fail(toError(e)),
    );
  };
  await paced(warmup, intervalMs, fire(false, 0));
  await done.reached(warmup);
  await paced(count, intervalMs, fire(true, warmup));
  await done.reached(warmup + count);
  return took.sort((a, b) => a - b);
}

/** OJS enqueue request bodies: `{ type, args: [i], options: { queue } }`. */
export function ojsJobs(queue: string, start: number, count: number): unknown[] {
  return Array.from({ length: count }, (_, k) => ({ type: JOB_TYPE, args: [start + k], options: { queue } }));
}

interface QueueCounts {
  available: number;
  active: number;
  completed: number;
  discarded: number;
}

export interface DoorEndToEnd {
  jobs: number;
  warmup: number;
  /** HTTP workers, each looping fetch → ack. */
  workers: number;
  /** `count` of each fetch. */
  fetchCount: number;
  /** Jobs per batch push (one push in flight, while the workers run). */
  batchSize: number;
}

/**
 * End to end through the door alone: batch pushes of `batchSize` (one in flight) while `workers`
 * HTTP workers loop `POST /ojs/v1/workers/fetch` (`count: fetchCount`) and then acknowledge every
 * job they got with its own `POST /ojs/v1/workers/ack`, all of one fetch's acks in flight at once
 * (a no-op handler per job, as an OJS SDK worker with `fetchCount` slots does); timed from the first
 * push to the last ack's reply; jobs/s. Then checks the queue's stats through the door: every job
 * completed, none waiting or running.
 */
export async function doorEndToEnd(door: HttpDoor, queue: string, p: DoorEndToEnd): Promise<number> {
  const phase = async (from: number, count: number): Promise<number> => {
    const acked = new Progress("HTTP door fetch → ack");
    let stop = false;
    const worker = async (w: number) => {
      const workerId = `bench-worker-${w}`;
      while (!stop && !acked.failed) {
        const got = await door.post<{ jobs: Array<{ id: string }> }>("/ojs/v1/workers/fetch", {
          queues: [queue],
          count: p.fetchCount,
          worker_id: workerId,
        });
        await Promise.all(
          got.jobs.map(async (job) => {
            await door.post("/ojs/v1/workers/ack", { job_id: job.id, worker_id: workerId });
            acked.add();
          }),
        );
      }
    };
    const t0 = performance.now();
    const loops = Array.from({ length: p.workers }, (_, w) =>
      worker(w).catch((e: unknown) => acked.fail(toError(e))),
    );
    try {
      const pushing = chunked(from, from + count, p.batchSize, (start, n) =>
        door.post("/ojs/v1/jobs/batch", { jobs: ojsJobs(queue, start, n) }),
      ).catch((e: unknown) => acked.fail(toError(e)));
      await Promise.all([pushing, acked.reached(count)]);
      return count / seconds(t0);
    } finally {
      stop = true;
      await Promise.all(loops);
    }
  };
  await phase(0, p.warmup);
  const rate = await phase(p.warmup, p.jobs);
  // The queue's counts as the door reports them (the server flushes its own counters first).
  const { stats: s } = await door.get<{ stats: QueueCounts }>(`/ojs/v1/queues/${queue}/stats`);
  const total = p.warmup + p.jobs;
  if (s.completed !== total || s.available !== 0 || s.active !== 0 || s.discarded !== 0) {
    throw new Error(
      `HTTP door queue ${queue}: expected ${total} completed, stats say completed ${s.completed}, available ${s.available}, active ${s.active}, discarded ${s.discarded}`,
    );
  }
  return rate;
}

/**
 * The same end to end through a system's own SDK: batches of `batchSize` (one in flight) while one
 * worker at `concurrency` runs no-op handlers; timed from the first enqueue to the last stored
 * outcome; jobs/s. Then the system's own counts are checked (`verify`).
 */
export async function sdkEndToEnd(
  sys: System,
  queue: string,
  p: { jobs: number; warmup: number; concurrency: number; batchSize: number },
): Promise<number> {
  const done = new Progress(`${sys.name} end to end`);
  const w = await sys.startWorker(queue, p.concurrency, {
    onComplete: () => done.add(),
    onError: (e) => done.fail(e),
  });
  const push = (from: number, to: number) =>
    chunked(from, to, p.batchSize, (start, n) =>
      sys.enqueueBatch(
        queue,
        Array.from({ length: n }, (_, k) => [start + k]),
      ),
    ).catch((e: unknown) => done.fail(toError(e)));
  let rate: number;
  try {
    await Promise.all([push(0, p.warmup), done.reached(p.warmup)]);
    await w.settled();
    const t0 = performance.now();
    await Promise.all([push(p.warmup, p.warmup + p.jobs), done.reached(p.warmup + p.jobs)]);
    await w.settled();
    rate = p.jobs / seconds(t0);
  } finally {
    await w.close();
  }
  await sys.verify(p.warmup + p.jobs);
  return rate;
}
