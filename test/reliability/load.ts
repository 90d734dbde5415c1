/**
 * Steady load for the fault tests: a producer that enqueues jobs at a fixed rate (with client-chosen
 * ids, retrying failed requests with the same id), worker processes that report every handler
 * completion on stdout, and the final accounting (lost jobs, duplicate completions, retries).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

import type { Job, QueueClient } from "../../src/client/index.js";
import { ErrorCode, isJetjobError } from "../../src/core/errors.js";
import { Store, uuidv7 } from "../../src/core/ids.js";
import { isTerminal } from "../../src/core/states.js";
import { connectNats } from "../../src/nats/connect.js";
import { createStoreContext } from "../../src/store/infra/context.js";
import { decodeSegment, jobIdAt } from "../../src/store/segments/segment.js";
import { waitFor } from "../harness/nats.js";
import type { FixtureProcess } from "../harness/process.js";
import { spawnFixture } from "../harness/process.js";

const workerScript = fileURLToPath(new URL("../fixtures/load-worker.ts", import.meta.url));

/**
 * Creates the queue's lane with a short segment lease (the lane consumer's ack wait), so jobs of a
 * killed worker come back within seconds. Workers learn the lease from the consumer.
 */
export async function prepareQueue(url: string, queue: string, leaseMs: number): Promise<void> {
  const nc = await connectNats({ servers: url, name: "test-prepare" });
  try {
    const ctx = await createStoreContext(nc, { segmentLeaseMs: leaseMs });
    await ctx.queues.ensureLane(queue, 0);
    ctx.close();
  } finally {
    await nc.close();
  }
}

/**
 * How many times each job id was stored as a new job on the queue's lane (moved copies of a job, made
 * by retries and hand-offs, point to their first home and are not counted).
 */
export async function storedCopies(url: string, queue: string): Promise<Map<string, number>> {
  const nc = await connectNats({ servers: url, name: "test-copies" });
  try {
    const ctx = await createStoreContext(nc, { ensure: false });
    const out = new Map<string, number>();
    const stored = await ctx.reader.all(ctx.topology.streams.queue, ctx.subjects.lane(queue, 0));
    for (const m of stored) {
      const at = { store: Store.Queue, seq: m.seq, seg: decodeSegment(m.data) };
      at.seg.jobs.forEach((job, idx) => {
        if (job.home !== undefined) return;
        const id = jobIdAt(at, idx);
        out.set(id, (out.get(id) ?? 0) + 1);
      });
    }
    ctx.close();
    return out;
  } finally {
    await nc.close();
  }
}

/** Job `n`'s args: mostly quick jobs, every 8th one takes 200-500 ms, so several are always in flight. */
export function jobArgs(n: number): [number, number] {
  return [n, n % 8 === 0 ? 200 + ((n * 37) % 300) : n % 3];
}

export interface ProducerOptions {
  ratePerSecond: number;
  durationMs: number;
  /** Enqueues a job with this id (or one the server chooses); returns its id, throws when the request failed. */
  enqueue(id: string | undefined, args: [number, number]): Promise<string>;
  /** Whether a job with this id is stored (asked after a `duplicate` answer to a retry). */
  exists(id: string): Promise<boolean>;
  /** Most requests in flight; the rate drops while this many wait (e.g. during an outage). @defaultValue 64 */
  maxInFlight?: number;
  /** Give up on a job this long after its first attempt. @defaultValue 60000 */
  giveUpMs?: number;
  /** Extra arguments for jobs, e.g. very long ones (default {@link jobArgs}). */
  args?: (n: number) => [number, number];
  /**
   * Let the server choose the ids: jobs are then coalesced into segments (the hot path), and a
   * failed request cannot be retried safely, so it is counted as failed. @defaultValue false
   */
  serverIds?: boolean;
}

export interface Production {
  /** Acknowledged enqueues: id → n. */
  acked: Map<string, number>;
  /** Jobs given up on (never acknowledged), by n. */
  failed: number[];
  /** Requests that failed and were sent again. */
  retries: number;
  /** The longest time from a job's first request to its acknowledgement, and what failed on the way. */
  slowest: { ms: number; errors: string[] };
  /** Ids refused as `duplicate` on their first request (a fresh id cannot be one). */
  falseDuplicates: string[];
  /** Resolves once every job was acknowledged or given up. */
  done: Promise<void>;
  /** Jobs started so far. */
  started(): number;
}

/**
 * Enqueues `ratePerSecond` jobs per second for `durationMs`. A failed request is sent again with the
 * same id until it succeeds; a `duplicate` answer means an earlier attempt got through, which is
 * confirmed by reading the job. So "acknowledged" is well defined even when a server dies mid-request.
 */
export function produce(o: ProducerOptions): Production {
  const maxInFlight = o.maxInFlight ?? 64;
  const giveUpMs = o.giveUpMs ?? 60_000;
  const argsOf = o.args ?? jobArgs;
  const p: Production = {
    acked: new Map(),
    failed: [],
    retries: 0,
    slowest: { ms: 0, errors: [] },
    falseDuplicates: [],
    done: Promise.resolve(),
    started: () => n,
  };
  let n = 0;
  let inFlight = 0;
  const pending = new Set<Promise<void>>();

  async function submit(args: [number, number]): Promise<void> {
    const t0 = Date.now();
    const giveUpAt = t0 + giveUpMs;
    const errors: string[] = [];
    const acked = (id: string) => {
      p.acked.set(id, args[0]);
      if (Date.now() - t0 > p.slowest.ms) p.slowest = { ms: Date.now() - t0, errors };
    };
    if (o.serverIds) {
      await o.enqueue(undefined, args).then(acked, () => p.failed.push(args[0]));
      return;
    }
    const id = uuidv7();
    for (let attempt = 0; ; attempt++) {
      try {
        return acked(await o.enqueue(id, args));
      } catch (err) {
        errors.push(isJetjobError(err) ? err.code : String(err));
        if (isJetjobError(err) && err.code === ErrorCode.Duplicate) {
          // A fresh id can only be a duplicate of our own earlier attempt.
          if (attempt === 0) p.falseDuplicates.push(id);
          else if (await o.exists(id).catch(() => false)) return acked(id);
        }
        if (Date.now() > giveUpAt) {
          p.failed.push(args[0]);
          return;
        }
        p.retries++;
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 1000)));
      }
    }
  }

  p.done = (async () => {
    const t0 = Date.now();
    const total = Math.round((o.ratePerSecond * o.durationMs) / 1000);
    while (n < total) {
      // Keep to the rate: start every job that is due by now, as long as there is room.
      const due = Math.min(total, Math.floor(((Date.now() - t0) * o.ratePerSecond) / 1000) + 1);
      while (n < due && inFlight < maxInFlight) {
        const args = argsOf(n++);
        inFlight++;
        const s = submit(args).finally(() => {
          inFlight--;
          pending.delete(s);
        });
        pending.add(s);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all([...pending]);
  })();
  return p;
}

/** A worker process and what it reported. */
export interface WorkerProc {
  proc: FixtureProcess;
  id: string;
  pid: number;
  /** Set before the process was killed with SIGKILL: its completions do not count as duplicates. */
  killed: boolean;
}

export interface Completion {
  attempt: number;
  worker: WorkerProc;
}

/** Worker processes of one scenario, and the completions they reported. */
export class Workers {
  readonly all: WorkerProc[] = [];
  constructor(
    private readonly url: string,
    private readonly queue: string,
    private readonly concurrency = 16,
    private readonly shutdownTimeoutMs = 5000,
  ) {}

  async spawn(shutdownTimeoutMs = this.shutdownTimeoutMs): Promise<WorkerProc> {
    const proc = spawnFixture(workerScript, [
      this.url,
      this.queue,
      String(this.concurrency),
      String(shutdownTimeoutMs),
    ]);
    const [, id, pid] = (await proc.line(/^ready /, 30_000)).split(" ");
    const w: WorkerProc = { proc, id: id!, pid: Number(pid), killed: false };
    this.all.push(w);
    return w;
  }

  /** SIGKILL; resolves once everything it printed was read. */
  async kill(w: WorkerProc): Promise<void> {
    w.killed = true;
    await w.proc.kill("SIGKILL");
    const out = w.proc.child.stdout;
    await waitFor(() => !out || out.readableEnded || out.destroyed, { what: `the output of ${w.id}` });
  }

  /** SIGTERM to every live worker; each must drain and exit 0 by itself. */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.all
        .filter((w) => !w.killed)
        .map(async (w) => {
          const child = w.proc.child;
          if (child.exitCode !== null) return;
          child.kill("SIGTERM");
          await waitFor(() => child.exitCode !== null || child.signalCode !== null, {
            timeoutMs: this.shutdownTimeoutMs + 15_000,
            what: `worker ${w.id} to exit after SIGTERM`,
          });
          assert.equal(child.exitCode, 0, `worker ${w.id} exits 0 after SIGTERM`);
        }),
    );
  }

  /** Every `done` line so far, by job id. */
  completions(): Map<string, Completion[]> {
    const out = new Map<string, Completion[]>();
    for (const worker of this.all) {
      for (const line of worker.proc.lines) {
        if (!line.startsWith("done ")) continue;
        const [, id, attempt] = line.split(" ");
        let list = out.get(id!);
        if (!list) out.set(id!, (list = []));
        list.push({ attempt: Number(attempt), worker });
      }
    }
    return out;
  }

  /** Jobs whose handler runs in this worker now: id → how long the job takes (ms). */
  static inFlight(w: WorkerProc): Map<string, number> {
    const running = new Map<string, number>();
    for (const line of w.proc.lines) {
      const [kind, id, , ms] = line.split(" ");
      if (kind === "start") running.set(id!, Number(ms));
      else if (kind === "done" || kind === "abort") running.delete(id!);
    }
    return running;
  }
}

export interface Outcome {
  enqueued: number;
  completed: number;
  retried: number;
  lost: number;
  duplicates: number;
  final: Map<string, Job>;
}

/**
 * Waits (bounded) until every acknowledged job is final, then counts. `lost`: acknowledged but not
 * found or not final; `duplicates`: jobs completed by more than one handler in processes that were not
 * killed; `retried`: jobs that needed more than one attempt.
 */
export async function settle(
  label: string,
  client: QueueClient,
  production: Production,
  workers: Workers,
  timeoutMs = 60_000,
): Promise<Outcome> {
  await production.done;
  const final = new Map<string, Job>();
  const waiting = new Set(production.acked.keys());
  const deadline = Date.now() + timeoutMs;
  await waitFor(
    async () => {
      const ids = [...waiting];
      for (let i = 0; i < ids.length; i += 200) {
        await Promise.all(
          ids.slice(i, i + 200).map(async (id) => {
            const job = await client.get(id).catch(() => undefined);
            if (job && isTerminal(job.state)) {
              final.set(id, job);
              waiting.delete(id);
            }
          }),
        );
      }
      return waiting.size === 0 || Date.now() > deadline - 1000;
    },
    { timeoutMs, intervalMs: 250, what: `${label}: every job final` },
  );
  const comps = workers.completions();
  let duplicates = 0;
  for (const [id, list] of comps) {
    if (list.filter((c) => !c.worker.killed).length > 1) {
      duplicates++;
      const by = list.map((c) => `${c.worker.id}#${c.attempt}`).join(", ");
      console.log(
        `faults(${label}): job ${id} completed by ${by}; final state ${JSON.stringify(final.get(id))}`,
      );
    }
  }
  const states = [...final.values()];
  const o: Outcome = {
    enqueued: production.acked.size,
    completed: states.filter((j) => j.state === "completed").length,
    retried: states.filter((j) => j.attempt > 1).length,
    lost: production.acked.size - final.size,
    duplicates,
    final,
  };
  console.log(
    `faults(${label}): enqueued ${o.enqueued}, completed ${o.completed}, retried ${o.retried}, ` +
      `lost ${o.lost}, duplicate completions ${o.duplicates}` +
      (production.retries > 0 ? `, enqueue requests retried ${production.retries}` : "") +
      (production.slowest.errors.length > 0
        ? ` (slowest enqueue ${production.slowest.ms} ms, after ${summarize(production.slowest.errors)})`
        : "") +
      (production.failed.length > 0 ? `, enqueues given up ${production.failed.length}` : ""),
  );
  return o;
}

/** The guarantees every scenario checks; `copies` from {@link storedCopies}. */
export function assertGuarantees(
  o: Outcome,
  production: Production,
  workers: Workers,
  copies: Map<string, number>,
): void {
  assert.equal(production.failed.length, 0, "every enqueue was acknowledged in the end");
  assert.deepEqual(production.falseDuplicates, [], "no fresh id was refused as a duplicate");
  const missing = [...production.acked.keys()].filter((id) => !o.final.has(id));
  assert.deepEqual(missing.slice(0, 5), [], `lost ${o.lost} acknowledged jobs`);
  assert.equal(o.completed, o.enqueued, "every job completed");
  const twice = [...production.acked.keys()].filter((id) => copies.get(id) !== 1);
  assert.deepEqual(
    twice.slice(0, 5).map((id) => `${id} stored ${copies.get(id) ?? 0} times`),
    [],
    "every job was stored once",
  );
  const comps = workers.completions();
  for (const [id, job] of o.final) {
    assert.equal(job.result, production.acked.get(id), `job ${id} has its own result`);
    // The recorded completion is one that a handler really reported: same attempt, same worker.
    const byHandler = comps.get(id) ?? [];
    assert.ok(
      byHandler.some((c) => c.attempt === job.attempt && c.worker.id === job.worker_id),
      `job ${id}: completion (attempt ${job.attempt} by ${job.worker_id}) was reported by its handler`,
    );
  }
  assert.equal(o.duplicates, 0, "no job completed twice by live workers");
}

/** "backend_error x3, duplicate x40" */
function summarize(errors: string[]): string {
  const counts = new Map<string, number>();
  for (const e of errors) counts.set(e, (counts.get(e) ?? 0) + 1);
  return [...counts].map(([e, n]) => `${e} x${n}`).join(", ");
}
