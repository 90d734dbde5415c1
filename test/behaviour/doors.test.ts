/**
 * One table of claim/outcome scenarios, run over both doors (issue 23): HTTP fetch/ack/nack, and the
 * NATS-direct worker. Each scenario scripts what every attempt does; both drivers must end with the
 * same job: state, attempts, error history, result, dead letter.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { silentLogger } from "../../src/core/logger.js";
import type { RunningApiServer } from "../../src/server/run.js";
import type { Worker } from "../../src/worker/index.js";
import { createWorker, JobFailure } from "../../src/worker/index.js";
import { runTestServer } from "../harness/app.js";
import type { TestClients } from "../harness/clients.js";
import { createTestClients } from "../harness/clients.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "doors-token-0123456789";

/** What one attempt does: succeed, fail (retryable or not), or run past its `timeout_ms`. */
type Step = "ok" | "fail" | "fatal" | "hang";

interface Scenario {
  name: string;
  steps: Step[];
  options: Record<string, unknown>;
  expect: { state: string; attempt: number; errors: string[]; result?: unknown; deadLetter?: boolean };
}

const fast = { initial_interval: "PT0.05S", jitter: false };
const scenarios: Scenario[] = [
  {
    name: "succeeds at once",
    steps: ["ok"],
    options: {},
    expect: { state: "completed", attempt: 1, errors: [], result: { step: 1 } },
  },
  {
    name: "fails, is retried, succeeds",
    steps: ["fail", "ok"],
    options: { retry: { max_attempts: 3, ...fast } },
    expect: { state: "completed", attempt: 2, errors: ["boom"], result: { step: 2 } },
  },
  {
    name: "a non-retryable failure is discarded at once",
    steps: ["fatal"],
    options: { retry: { max_attempts: 3, ...fast } },
    expect: { state: "discarded", attempt: 1, errors: ["fatal"] },
  },
  {
    name: "out of attempts: discarded",
    steps: ["fail", "fail"],
    options: { retry: { max_attempts: 2, ...fast } },
    expect: { state: "discarded", attempt: 2, errors: ["boom", "boom"] },
  },
  {
    name: "out of attempts with on_exhaustion dead_letter: a dead letter",
    steps: ["fail"],
    options: { retry: { max_attempts: 1, on_exhaustion: "dead_letter" } },
    expect: { state: "discarded", attempt: 1, errors: ["boom"], deadLetter: true },
  },
  {
    name: "an attempt past timeout_ms fails with timeout and is retried",
    steps: ["hang", "ok"],
    options: { timeout_ms: 300, retry: { max_attempts: 2, ...fast } },
    expect: { state: "completed", attempt: 2, errors: ["timeout"], result: { step: 2 } },
  },
];

interface Door {
  name: string;
  /** Runs the scripted attempts of job `id` (whose args hold the script). */
  drive(queue: string, id: string, steps: Step[]): Promise<void>;
}

describe("both doors, one table", () => {
  let srv: RunningApiServer;
  let clients: TestClients;
  let worker: Worker;
  const call = async (path: string, body?: unknown, method = "POST") => {
    const r = await fetch(`${srv.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  const http: Door = {
    name: "HTTP fetch/ack/nack",
    async drive(queue, id, steps) {
      for (const [k, step] of steps.entries()) {
        const job = await waitFor(
          async () => {
            const r = await call("/ojs/v1/workers/fetch", { queues: [queue], count: 1, worker_id: "http-w" });
            return (r.body.jobs as Array<{ id: string; attempt: number }>).find((j) => j.id === id);
          },
          { timeoutMs: 10_000, what: `attempt ${k + 1} to be fetched` },
        );
        assert.equal(job.attempt, k + 1);
        if (step === "ok")
          await call("/ojs/v1/workers/ack", { job_id: id, worker_id: "http-w", result: { step: k + 1 } });
        else if (step === "hang")
          continue; // never reports: its timeout_ms runs out
        else
          await call("/ojs/v1/workers/nack", {
            job_id: id,
            worker_id: "http-w",
            error: { code: step === "fatal" ? "fatal" : "boom", message: step, retryable: step !== "fatal" },
          });
      }
    },
  };
  const nats: Door = {
    name: "NATS-direct worker",
    // The worker runs the script from the job's args by itself.
    drive: () => Promise.resolve(),
  };

  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
    clients = createTestClients({ url: srv.url, token, nats: h.nats.url });
    worker = createWorker({
      nats: h.nats.url,
      queues: scenarios.map((_, k) => `nats-${k}`),
      concurrency: 8,
      handleSignals: false,
      logger: silentLogger,
      handlers: {
        scripted: async (job) => {
          const step = (job.args[0] as Step[])[job.attempt - 1];
          if (step === "ok") return { step: job.attempt };
          if (step === "hang") {
            await new Promise((_, reject) =>
              job.signal.addEventListener("abort", () => reject(new Error("aborted"))),
            );
          }
          throw new JobFailure(step ?? "no step", {
            code: step === "fatal" ? "fatal" : "boom",
            retryable: step !== "fatal",
          });
        },
      },
    });
    await worker.ready;
  });
  after(async () => {
    await worker.close();
    await clients.close();
    await srv.close();
  });

  for (const [k, sc] of scenarios.entries()) {
    for (const door of [http, nats]) {
      it(`${sc.name} (${door.name})`, async () => {
        const queue = door === nats ? `nats-${k}` : `http-${k}`;
        const r = await call("/ojs/v1/jobs", {
          type: "scripted",
          args: [sc.steps],
          options: { queue, ...sc.options },
        });
        assert.equal(r.status, 201);
        const id = (r.body.job as { id: string }).id;
        await door.drive(queue, id, sc.steps);
        const job = await clients.http.waitFor(id, { timeoutMs: 15_000 });
        // Both client transports read the finished job the same (one use case, one job type).
        assert.deepEqual(await clients.nats.get(id), job);
        assert.equal(job.state, sc.expect.state);
        assert.equal(job.attempt, sc.expect.attempt);
        assert.deepEqual(
          (job.errors ?? []).map((e) => e.code),
          sc.expect.errors,
        );
        if (sc.expect.result !== undefined) assert.deepEqual(job.result, sc.expect.result);
        if (sc.expect.deadLetter) {
          const dl = await call(`/ojs/v1/dead-letter?queue=${queue}`, undefined, "GET");
          assert.ok(JSON.stringify(dl.body).includes(id), "listed as a dead letter");
        }
      });
    }
  }
});
