/**
 * Workers that crash, again and again, with real processes killed by SIGKILL (issue 21): a crash never
 * uses up an attempt of a job whose handler did not start, and a job whose handler kills its worker
 * pays an attempt each time until it is discarded, while the jobs around it complete.
 *
 * Every scenario prints its figures (attempts used, jobs discarded, crashes).
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";

import type { Job, QueueClient } from "../../src/client/index.js";
import { createClient } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import { isTerminal } from "../../src/core/states.js";
import { createWorker } from "../../src/worker/index.js";
import { useNats, waitFor } from "../harness/nats.js";
import { prepareQueue } from "./load.js";

const workerScript = fileURLToPath(new URL("../fixtures/worker-process.ts", import.meta.url));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});
const h = useNats();

/** How long a dead worker's segment stays taken in these tests. */
const LEASE_MS = 1000;

interface Child {
  child: ChildProcess;
  /** `[job id, attempt]` for every handler start it printed. */
  starts: Array<[string, number]>;
  exited: Promise<unknown>;
}

function spawnWorker(queue: string, concurrency: number): Child {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", workerScript, h.nats.url, queue, String(concurrency)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  children.push(child);
  const starts: Array<[string, number]> = [];
  let buf = "";
  child.stdout.on("data", (b: Buffer) => {
    buf += b.toString();
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const m = /^started (\S+) (\d+)$/.exec(buf.slice(0, nl));
      if (m) starts.push([m[1]!, Number(m[2])]);
      buf = buf.slice(nl + 1);
    }
  });
  const exited = new Promise((r) => child.once("exit", r));
  return { child, starts, exited };
}

async function finalJobs(client: QueueClient, ids: string[]): Promise<Map<string, Job>> {
  const out = new Map<string, Job>();
  await waitFor(
    async () => {
      for (const id of ids)
        if (!out.has(id)) {
          const j = await client.get(id);
          if (isTerminal(j.state)) out.set(id, j);
        }
      return out.size === ids.length;
    },
    { timeoutMs: 60_000, intervalMs: 50, what: "every job to reach a final state" },
  );
  return out;
}

/** A worker in this process that completes every `slow` and `ok` job at once. */
async function healthyWorker(queue: string) {
  const w = createWorker({
    nats: h.nats.url,
    queues: [queue],
    concurrency: 4,
    handleSignals: false,
    logger: silentLogger,
    handlers: { slow: () => ({ healed: true }), ok: () => ({ ok: true }) },
  });
  await w.ready;
  return w;
}

describe("workers killed again and again", () => {
  it("a crash loop uses up attempts only of jobs whose handler started", async () => {
    const queue = "crashloop";
    await prepareQueue(h.nats.url, queue, LEASE_MS);
    const client = createClient({ nats: h.nats.url });
    try {
      const jobs = await client.enqueueMany(
        Array.from({ length: 50 }, (_, k) => ({
          type: "slow",
          args: [60_000, k],
          options: { queue, retry: { maxAttempts: 3, initialIntervalMs: 10 } },
        })),
      );
      const ids = jobs.map((j) => j.id);
      const counted = new Map<string, number>();
      for (let crash = 1; crash <= 3; crash++) {
        const w = spawnWorker(queue, 2);
        // Two handlers run (concurrency 2); kill the worker once their starts are stored.
        await waitFor(() => w.starts.length >= 2, { timeoutMs: 30_000, what: `two starts (crash ${crash})` });
        for (const [id] of w.starts)
          await waitFor(async () => (await client.get(id)).state === "active", {
            timeoutMs: 10_000,
            what: `${id} to show active`,
          });
        w.child.kill("SIGKILL");
        await w.exited;
        for (const [id] of w.starts) counted.set(id, (counted.get(id) ?? 0) + 1);
      }
      const w = await healthyWorker(queue);
      const final = await finalJobs(client, ids);
      await w.close();

      const discarded = [...final.values()].filter((j) => j.state === "discarded");
      const neverRan = ids.filter((id) => !counted.has(id));
      console.log(
        `3 crashes, 50 jobs: ${counted.size} ran in the killed workers, ${neverRan.length} never ran there; ` +
          `${discarded.length} discarded, ${[...final.values()].filter((j) => j.state === "completed").length} completed`,
      );
      for (const id of ids) {
        const j = final.get(id)!;
        const runs = counted.get(id) ?? 0;
        if (runs >= 3) {
          assert.equal(j.state, "discarded", `${id} ran 3 times and was killed each time`);
          assert.equal(j.error?.code, "lease_expired");
          assert.equal(j.attempt, 3);
        } else {
          assert.equal(j.state, "completed", `${id} ran ${runs} times in killed workers: not discarded`);
          assert.equal(j.attempt, runs + 1, `${id}: attempts = the handler starts (${runs} killed + 1)`);
          assert.equal(j.errors?.length ?? 0, runs, `${id}: one lease_expired error per killed run`);
          for (const e of j.errors ?? []) assert.equal(e.code, "lease_expired");
        }
      }
      assert.ok(neverRan.length >= 44, `most jobs never ran in the killed workers (${neverRan.length})`);
    } finally {
      await client.close();
    }
  });

  it("a job whose handler kills its worker is discarded after its attempts; the jobs around it complete", async () => {
    const queue = "poison";
    await prepareQueue(h.nats.url, queue, LEASE_MS);
    const client = createClient({ nats: h.nats.url });
    try {
      const jobs = await client.enqueueMany(
        Array.from({ length: 40 }, (_, k) => ({
          type: k === 5 ? "die" : "ok",
          args: [k],
          options: { queue, retry: { maxAttempts: 3, initialIntervalMs: 10 } },
        })),
      );
      const ids = jobs.map((j) => j.id);
      const poison = ids[5]!;
      // A supervisor: restart the worker whenever it dies, until every job is final.
      let crashes = 0;
      let stop!: () => void;
      const stopped = new Promise<void>((r) => (stop = r));
      const supervise = (async () => {
        for (;;) {
          const w = spawnWorker(queue, 2);
          const died = await Promise.race([w.exited.then(() => true), stopped.then(() => false)]);
          if (died) {
            crashes++;
            continue;
          }
          w.child.kill("SIGTERM");
          await w.exited;
          return;
        }
      })();
      const final = await finalJobs(client, ids);
      stop();
      await supervise;

      const p = final.get(poison)!;
      const good = ids.filter((id) => id !== poison).map((id) => final.get(id)!);
      const lostGood = good.reduce((n, j) => n + (j.errors?.length ?? 0), 0);
      console.log(
        `poison job: ${p.state} after attempt ${p.attempt} (${crashes} worker crashes); ` +
          `39 good jobs: ${good.filter((j) => j.state === "completed").length} completed, ` +
          `${lostGood} attempts lost among them`,
      );
      assert.equal(p.state, "discarded");
      assert.equal(p.attempt, 3);
      assert.equal(p.error?.code, "lease_expired");
      for (const j of good) {
        assert.equal(j.state, "completed", `${j.id} completed`);
        assert.ok(j.attempt <= 2, `${j.id} lost at most one attempt next to the poison job (${j.attempt})`);
      }
    } finally {
      await client.close();
    }
  });
});
