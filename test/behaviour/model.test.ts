/**
 * Model-based test of the queue (issue 23): random sequences of enqueue (plain, scheduled, unique,
 * exclusive key), HTTP fetch + ack / nack / abandon (lease expiry), cancel, pause/resume and
 * NATS-worker drains, checked after every step against a small in-memory model of the OJS states:
 * each job's state and attempts, the job list (every job once), the queue statistics, and that no
 * job is handed out while another attempt holds a live lease.
 *
 * Runs in CI with a fixed seed. To explore: JETJOB_MODEL_SEED=<n> JETJOB_MODEL_RUNS=<n> npm run
 * test:behaviour (a failure prints the seed and the shrunk command sequence to replay).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import fc from "fast-check";

import { silentLogger } from "../../src/core/logger.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { createWorker } from "../../src/worker/index.js";
import { runTestServer } from "../harness/app.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "model-token-0123456789";
const SEED = Number(process.env.JETJOB_MODEL_SEED ?? 20261203);
const RUNS = Number(process.env.JETJOB_MODEL_RUNS ?? 30);
const MAX_ATTEMPTS = 2;

type State =
  "available" | "active" | "scheduled" | "retryable" | "pending" | "completed" | "discarded" | "cancelled";

interface ModelJob {
  state: State;
  attempt: number;
  key?: string;
  unique?: string;
}

interface Model {
  queue: string;
  jobs: Map<string, ModelJob>;
  order: string[];
  paused: boolean;
}

interface Real {
  call(
    path: string,
    body?: unknown,
    method?: string,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  natsUrl: string;
}

const terminal = (s: State) => s === "completed" || s === "discarded" || s === "cancelled";

/** The job that holds key `k` (the oldest non-terminal job with it, active or available). */
function keyHolder(m: Model, k: string): string | undefined {
  return m.order.find((id) => {
    const j = m.jobs.get(id)!;
    return j.key === k && !terminal(j.state) && j.state !== "pending";
  });
}

/** After a job with a key ends, the next one waiting for the key becomes available. */
function handOnKey(m: Model, k: string | undefined): void {
  if (k === undefined || keyHolder(m, k)) return;
  const next = m.order.find((id) => m.jobs.get(id)!.key === k && m.jobs.get(id)!.state === "pending");
  if (next) m.jobs.get(next)!.state = "available";
}

function finish(m: Model, id: string, state: State): void {
  const j = m.jobs.get(id)!;
  j.state = state;
  if (terminal(state)) handOnKey(m, j.key);
}

const enqueueCmd = (
  kind: "plain" | "scheduled" | "unique" | "keyed",
  n: number,
): fc.AsyncCommand<Model, Real> => ({
  check: () => true,
  async run(m, r) {
    const options: Record<string, unknown> = {
      queue: m.queue,
      retry: { max_attempts: MAX_ATTEMPTS, initial_interval: "PT1H" },
    };
    if (kind === "scheduled") options.scheduled_at = new Date(Date.now() + 3_600_000).toISOString();
    // Keys are system-wide: each run (its own queue) uses keys of its own.
    if (kind === "unique") options.unique = { keys: ["type", "args", "queue"], on_conflict: "reject" };
    if (kind === "keyed") options.exclusive_key = `${m.queue}-k${n % 2}`;
    const res = await r.call("/ojs/v1/jobs", {
      type: "model.job",
      args: [kind === "unique" ? n % 2 : n],
      options,
    });
    if (kind === "unique") {
      const uniq = `u${n % 2}`;
      const existing = m.order.find(
        (id) => m.jobs.get(id)!.unique === uniq && !terminal(m.jobs.get(id)!.state),
      );
      if (existing) {
        assert.equal(
          res.status,
          409,
          `unique job refused while ${existing} is ${m.jobs.get(existing)!.state}`,
        );
        return;
      }
    }
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const id = (res.body.job as { id: string }).id;
    const job: ModelJob = { state: kind === "scheduled" ? "scheduled" : "available", attempt: 0 };
    if (kind === "unique") job.unique = `u${n % 2}`;
    if (kind === "keyed") {
      job.key = `${m.queue}-k${n % 2}`;
      if (keyHolder(m, job.key)) job.state = "pending";
    }
    m.jobs.set(id, job);
    m.order.push(id);
  },
  toString: () => `enqueue(${kind}, ${n})`,
});

const fetchCmd = (then: "ack" | "nack" | "abandon"): fc.AsyncCommand<Model, Real> => ({
  check: () => true,
  async run(m, r) {
    const res = await r.call("/ojs/v1/workers/fetch", {
      queues: [m.queue],
      count: 1,
      worker_id: "model-http",
      ...(then === "abandon" ? { visibility_timeout_ms: 100 } : {}),
    });
    const got = (res.body.jobs as Array<{ id: string; attempt: number }>)[0];
    const available = m.order.filter((id) => m.jobs.get(id)!.state === "available");
    if (m.paused || available.length === 0) {
      assert.equal(got, undefined, "nothing may be handed out");
      return;
    }
    assert.ok(got, `one of ${available.length} available jobs is handed out`);
    assert.ok(available.includes(got.id), `${got.id} was available (it is ${m.jobs.get(got.id)?.state})`);
    const j = m.jobs.get(got.id)!;
    j.attempt++;
    assert.equal(got.attempt, j.attempt);
    if (then === "ack") {
      assert.equal(
        (await r.call("/ojs/v1/workers/ack", { job_id: got.id, worker_id: "model-http" })).status,
        200,
      );
      finish(m, got.id, "completed");
    } else if (then === "nack") {
      const n = await r.call("/ojs/v1/workers/nack", {
        job_id: got.id,
        worker_id: "model-http",
        error: { message: "no" },
      });
      assert.equal(n.status, 200);
      finish(m, got.id, j.attempt < MAX_ATTEMPTS ? "retryable" : "discarded");
    } else {
      // The lease (100 ms) runs out: available again, or discarded when it was the last attempt.
      const want = j.attempt < MAX_ATTEMPTS ? "available" : "discarded";
      await waitFor(
        async () =>
          ((await r.call(`/ojs/v1/jobs/${got.id}`, undefined, "GET")).body.job as { state: string }).state ===
          want,
        { timeoutMs: 5000, what: `${got.id} to be ${want} after its lease` },
      );
      finish(m, got.id, want);
    }
  },
  toString: () => `fetch+${then}`,
});

const cancelCmd = (pick: number): fc.AsyncCommand<Model, Real> => ({
  check: (m) => m.order.length > 0,
  async run(m, r) {
    const id = m.order[pick % m.order.length]!;
    const j = m.jobs.get(id)!;
    const res = await r.call(`/ojs/v1/jobs/${id}`, undefined, "DELETE");
    if (terminal(j.state)) {
      assert.equal(res.status, 409, `cancel of a ${j.state} job`);
      return;
    }
    assert.equal(res.status, 200, JSON.stringify(res.body));
    finish(m, id, "cancelled");
  },
  toString: () => `cancel(${pick})`,
});

const pauseCmd = (pause: boolean): fc.AsyncCommand<Model, Real> => ({
  check: (m) => m.paused !== pause,
  async run(m, r) {
    assert.equal((await r.call(`/ojs/v1/queues/${m.queue}/${pause ? "pause" : "resume"}`)).status, 200);
    m.paused = pause;
  },
  toString: () => (pause ? "pause" : "resume"),
});

/** A NATS worker runs everything available (none while paused), then stops. */
const drainCmd: fc.AsyncCommand<Model, Real> = {
  check: () => true,
  async run(m, r) {
    const w = createWorker({
      nats: r.natsUrl,
      queues: [m.queue],
      handleSignals: false,
      logger: silentLogger,
      handlers: { "model.job": () => "done" },
    });
    await w.ready;
    try {
      // Keyed jobs hand their key on as they finish: run until nothing available is left.
      for (;;) {
        const available = m.paused ? [] : m.order.filter((id) => m.jobs.get(id)!.state === "available");
        if (available.length === 0) break;
        for (const id of available) {
          await waitFor(
            async () =>
              ((await r.call(`/ojs/v1/jobs/${id}`, undefined, "GET")).body.job as { state: string }).state ===
              "completed",
            { timeoutMs: 10_000, what: `${id} to be run by the worker` },
          );
          m.jobs.get(id)!.attempt++;
          finish(m, id, "completed");
        }
      }
    } finally {
      await w.close();
    }
  },
  toString: () => "drain(nats worker)",
};

/** Every job's state and attempts, the list (each job once) and the statistics agree with the model. */
async function checkInvariants(m: Model, r: Real): Promise<void> {
  for (const id of m.order) {
    const j = m.jobs.get(id)!;
    const real = (await r.call(`/ojs/v1/jobs/${id}`, undefined, "GET")).body.job as {
      state: string;
      attempt: number;
    };
    assert.equal(real.state, j.state, `${id} state`);
    assert.equal(real.attempt, j.attempt, `${id} attempt`);
  }
  const listed: string[] = [];
  let cursor: string | undefined;
  do {
    const r2 = await r.call(
      `/api/v1/jobs?queue=${m.queue}&limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      undefined,
      "GET",
    );
    listed.push(...(r2.body.jobs as Array<{ id: string }>).map((x) => x.id));
    cursor = r2.body.next_cursor as string | undefined;
  } while (cursor);
  assert.deepEqual(listed, [...m.order].reverse(), "the list holds every job once, newest first");
  if (m.order.length === 0) return;
  const answer = await r.call(`/ojs/v1/queues/${m.queue}/stats`, undefined, "GET");
  // Once under load this answer had no `stats`: show what it was instead of failing on undefined.
  assert.equal(answer.status, 200, `queue stats answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const stats = answer.body.stats as Record<string, number>;
  for (const s of ["available", "active", "scheduled", "retryable", "pending"] as const) {
    const n = m.order.filter((id) => m.jobs.get(id)!.state === s).length;
    assert.equal(stats[s], n, `stats.${s}`);
  }
}

describe("model-based: random operations against a model of the OJS states", () => {
  let srv: RunningApiServer;
  let real: Real;
  let runs = 0;
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
    real = {
      natsUrl: h.nats.url,
      async call(path, body, method = "POST") {
        const res = await fetch(`${srv.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      },
    };
  });
  after(async () => {
    await srv.close();
  });

  it(`holds for ${RUNS} random sequences (seed ${SEED})`, async () => {
    const commands = [
      fc
        .tuple(fc.constantFrom("plain", "scheduled", "unique", "keyed" as const), fc.nat(99))
        .map(([k, n]) => enqueueCmd(k, n)),
      fc.constantFrom("ack", "nack", "abandon" as const).map((t) => fetchCmd(t)),
      fc.nat(99).map(cancelCmd),
      fc.boolean().map(pauseCmd),
      fc.constant(drainCmd),
    ];
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 18 }), async (cmds) => {
        const model: Model = { queue: `model-${runs++}`, jobs: new Map(), order: [], paused: false };
        await fc.asyncModelRun(
          () => ({ model, real }),
          [...cmds].map((c) => ({
            check: (mm: Model) => c.check(mm),
            run: async (mm: Model, rr: Real) => {
              try {
                await c.run(mm, rr);
                await checkInvariants(mm, rr);
              } catch (err) {
                // Shown with the counterexample: which step broke which invariant.
                process.stderr.write(
                  `model step ${c.toString()} on ${mm.queue}: ${(err as Error).message}\n`,
                );
                throw err;
              }
            },
            toString: () => c.toString(),
          })),
        );
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  });
});
