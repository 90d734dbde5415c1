/**
 * Fault tests under steady load, with real processes on loopback: a worker, an API server and
 * nats-server itself killed with SIGKILL while a producer enqueues a few hundred jobs per second, and
 * graceful shutdown: SIGTERM to a worker and to a fleet agent with jobs in flight, and workers closed
 * again and again while they take segments.
 *
 * After each fault every acknowledged job must reach a final state (nothing lost), every job must be
 * completed exactly once by the processes that stayed alive, and the recorded completion must be one
 * that a handler really reported. Each scenario prints its counts.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import type { QueueClient } from "../../src/client/index.js";
import { createClient } from "../../src/client/index.js";
import { ErrorCode, isJetjobError } from "../../src/core/errors.js";
import { silentLogger } from "../../src/core/logger.js";
import { createController } from "../../src/fleet/controller.js";
import { getFleetJob } from "../../src/fleet/jobs.js";
import { agentKey } from "../../src/fleet/registry.js";
import { readTimeline } from "../../src/fleet/timeline.js";
import { startNatsServer } from "../../src/natsd/index.js";
import { createStoreContext } from "../../src/store/infra/context.js";
import { createWorker } from "../../src/worker/index.js";
import { alive, spawnCli } from "../harness/cli.js";
import type { CliChild } from "../harness/cli.js";
import { useNats, waitFor } from "../harness/nats.js";
import { assertGuarantees, jobArgs, prepareQueue, produce, settle, storedCopies, Workers } from "./load.js";

// Registered before useNats(), so it runs before the server's leak check.
const children: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const h = useNats();

const RATE = 250;
const DURATION_MS = 4000;
/** Lease of a segment delivery in these tests: how long a killed worker's jobs stay taken. */
const LEASE_MS = 3000;

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "jetjob-faults-"));
  dirs.push(d);
  return d;
}

/** Enqueues and reads jobs of `queue` through `client`. */
function viaClient(client: QueueClient, queue: string) {
  return {
    enqueue: async (id: string | undefined, args: [number, number]) =>
      (await client.enqueue("work", args, id === undefined ? { queue } : { queue, id })).id,
    exists: (id: string) =>
      client.get(id).then(
        () => true,
        () => false,
      ),
  };
}

/** `jetjob server` as a child process; resolves with its URL once it listens. */
async function startServer(natsUrl: string, tokenFile: string): Promise<{ cli: CliChild; url: string }> {
  const cli = spawnCli(["server", "--nats", natsUrl, "--port", "0", "--token-file", tokenFile], {
    JETJOB_API_TOKEN: "",
    JETJOB_LOG_LEVEL: "info",
  });
  children.push(cli.child);
  const url = await waitFor(
    () => {
      if (cli.child.exitCode !== null) throw new Error(`jetjob server exited: ${cli.stderr()}`);
      return /"msg":"jetjob API server listening"[^\n]*"url":"([^"]+)"/.exec(cli.stderr())?.[1];
    },
    { timeoutMs: 30_000, what: "jetjob server to listen" },
  );
  return { cli, url };
}

describe("faults under steady load", () => {
  it("a worker killed with SIGKILL mid-job: its jobs come back after the lease and another worker completes them", async () => {
    const queue = "faults-worker";
    await prepareQueue(h.nats.url, queue, LEASE_MS);
    const workers = new Workers(h.nats.url, queue);
    const [victim] = await Promise.all([workers.spawn(), workers.spawn(), workers.spawn()]);
    const nc = await h.nats.connect("producer");
    const client = createClient({ nats: nc });
    try {
      // Ids chosen by the server: jobs are coalesced into segments (the hot path), so the victim holds
      // segments with many jobs, running and waiting.
      const production = produce({
        ratePerSecond: RATE,
        durationMs: DURATION_MS,
        serverIds: true,
        ...viaClient(client, queue),
      });
      // Kill it while it runs several jobs, some of them long.
      await waitFor(
        () => {
          const r = Workers.inFlight(victim);
          return r.size >= 3 && [...r.values()].some((ms) => ms >= 200);
        },
        { timeoutMs: 20_000, what: "the victim to run several jobs" },
      );
      // A handler's start is stored on the next turn of the worker's event loop; a job whose start
      // was not stored when the worker died is given back without using an attempt. These had theirs
      // stored (the store shows them started by the victim), so each must use up an attempt.
      const recorded = [...Workers.inFlight(victim).keys()];
      await waitFor(
        async () => {
          const jobs = await Promise.all(recorded.map((id) => client.get(id)));
          return jobs.every((j) => j.worker_id === victim.id && j.started_at !== undefined);
        },
        { timeoutMs: 10_000, what: "the victim's starts to be stored" },
      );
      await workers.kill(victim);
      const running = Workers.inFlight(victim); // started, and not finished when it died
      const outcome = await settle("worker kill", client, production, workers);
      await workers.stopAll();
      assertGuarantees(outcome, production, workers, await storedCopies(h.nats.url, queue));
      assert.ok(running.size > 0, "the victim died with jobs in flight");
      for (const id of running.keys()) {
        const job = outcome.final.get(id);
        assert.ok(job, `job ${id} was enqueued and is final`);
        assert.notEqual(job.worker_id, victim.id, `job ${id} was completed by another worker`);
      }
      const lostAttempts = recorded.filter((x) => running.has(x));
      assert.ok(lostAttempts.length > 0, "jobs with a stored start were running when it died");
      for (const id of lostAttempts) {
        const job = outcome.final.get(id)!;
        assert.ok(job.attempt >= 2, `job ${id} ran again after the lease (attempt ${job.attempt})`);
        assert.ok(
          job.errors?.some((e) => e.code === "lease_expired"),
          `job ${id}'s lost attempt is in its error history`,
        );
      }
      assert.ok(outcome.retried >= lostAttempts.length, "the killed worker's jobs were retried");
    } finally {
      await client.close();
      await nc.close();
    }
  });

  it("an API server killed with SIGKILL mid-enqueue: a second server takes over, retried enqueues keep their ids", async () => {
    const queue = "faults-server";
    await prepareQueue(h.nats.url, queue, LEASE_MS);
    const tokenFile = join(tempDir(), "tokens");
    const token = "faults-test-token-0123456789";
    writeFileSync(tokenFile, `faults admin ${token}\n`);
    const [a, b] = await Promise.all([
      startServer(h.nats.url, tokenFile),
      startServer(h.nats.url, tokenFile),
    ]);
    const workers = new Workers(h.nats.url, queue);
    await Promise.all([workers.spawn(), workers.spawn()]);
    const http = [a, b].map((s) => createClient({ url: s.url, token, timeoutMs: 10_000 }));
    let active = 0;
    const nc = await h.nats.connect("reader");
    const reader = createClient({ nats: nc });
    try {
      const production = produce({
        ratePerSecond: RATE,
        durationMs: DURATION_MS,
        // Through one server; on a failed request, the next one goes to the other server.
        enqueue: async (id, args) => {
          const i = active;
          try {
            return (await http[i]!.enqueue("work", args, id === undefined ? { queue } : { queue, id })).id;
          } catch (err) {
            if (!(isJetjobError(err) && err.code === ErrorCode.Duplicate) && active === i) active = 1 - i;
            throw err;
          }
        },
        exists: (id) =>
          http[active]!.get(id).then(
            () => true,
            () => false,
          ),
      });
      await waitFor(() => production.started() >= RATE * 1.5, { timeoutMs: 20_000, what: "load" });
      a.cli.child.kill("SIGKILL");
      await exitCode(a.cli.child, 10_000);
      const outcome = await settle("server kill", reader, production, workers);
      assert.equal(active, 1, "the producer moved to the second server");
      assert.ok(production.retries > 0, "some requests failed with the killed server and were sent again");
      b.cli.child.kill("SIGTERM");
      assert.equal(await exitCode(b.cli.child, 15_000), 0, "the second server stops cleanly");
      await workers.stopAll();
      assertGuarantees(outcome, production, workers, await storedCopies(h.nats.url, queue));
    } finally {
      for (const c of http) await c.close();
      await reader.close();
      await nc.close();
    }
  });

  it("nats-server killed with SIGKILL and restarted on the same store and port: clients and workers reconnect", async () => {
    const dir = tempDir();
    let srv = await startNatsServer({ storeDir: dir, monitorPort: -1 });
    const port = Number(new URL(srv.url).port);
    const queue = "faults-nats";
    // A lease longer than the outage (like the default 30 s): a lease that ran out while the server was
    // down would hand a live worker's jobs to another worker after the restart.
    await prepareQueue(srv.url, queue, 10_000);
    const workers = new Workers(srv.url, queue);
    await Promise.all([workers.spawn(), workers.spawn()]);
    const client = createClient({ nats: srv.url });
    try {
      const production = produce({
        ratePerSecond: RATE,
        durationMs: DURATION_MS,
        ...viaClient(client, queue),
      });
      await waitFor(() => production.started() >= RATE * 1.5, { timeoutMs: 20_000, what: "load" });
      const serverPid = natsServerPid(dir);
      const t0 = Date.now();
      srv.kill();
      await srv.exited;
      await waitFor(() => !alive(serverPid), { what: "nats-server to die" });
      srv = await startNatsServer({ storeDir: dir, port, monitorPort: -1 });
      console.log(`faults(nats kill): nats-server down for ${Date.now() - t0} ms`);
      const outcome = await settle("nats kill", client, production, workers, 90_000);
      await workers.stopAll();
      assertGuarantees(outcome, production, workers, await storedCopies(srv.url, queue));
    } finally {
      await client.close();
      await srv.stop();
    }
  });
});

describe("graceful shutdown", () => {
  it("SIGTERM to a worker with jobs in flight: it finishes or gives them back within its deadline and exits 0", async () => {
    const queue = "faults-drain";
    await prepareQueue(h.nats.url, queue, LEASE_MS);
    const SHUTDOWN_MS = 1500;
    const workers = new Workers(h.nats.url, queue, 8);
    const [leaving] = await Promise.all([workers.spawn(SHUTDOWN_MS), workers.spawn()]);
    const nc = await h.nats.connect("producer");
    const client = createClient({ nats: nc });
    try {
      const production = produce({
        ratePerSecond: 150,
        durationMs: 3000,
        serverIds: true,
        ...viaClient(client, queue),
        // Every 40th job takes longer than the shutdown deadline: it must be given back.
        args: (n) => (n % 40 === 5 ? [n, 4000] : jobArgs(n)),
      });
      const running = await waitFor(
        () => {
          const r = Workers.inFlight(leaving);
          const ms = [...r.values()];
          return ms.some((m) => m > SHUTDOWN_MS) && ms.some((m) => m >= 200 && m < SHUTDOWN_MS)
            ? r
            : undefined;
        },
        { timeoutMs: 20_000, what: "the worker to run a long and a very long job" },
      );
      const t0 = Date.now();
      leaving.proc.child.kill("SIGTERM");
      const code = await exitCode(leaving.proc.child, SHUTDOWN_MS + 10_000);
      const tookMs = Date.now() - t0;
      assert.equal(code, 0, "the worker exits 0");
      assert.ok(leaving.proc.lines.includes("stopped"), "the drain finished");
      assert.ok(tookMs < SHUTDOWN_MS + 3000, `it stopped within its deadline (${tookMs} ms)`);
      console.log(`faults(worker SIGTERM): ${running.size} jobs in flight, stopped in ${tookMs} ms`);

      const outcome = await settle("worker SIGTERM", client, production, workers);
      await workers.stopAll();
      assertGuarantees(outcome, production, workers, await storedCopies(h.nats.url, queue));
      const lines = leaving.proc.lines;
      let givenBack = 0;
      for (const [id, ms] of running) {
        const job = outcome.final.get(id);
        assert.ok(job, `job ${id} was enqueued and is final`);
        const finished = lines.some((l) => l.startsWith(`done ${id} `));
        if (ms > SHUTDOWN_MS) {
          assert.ok(
            lines.some((l) => l.startsWith(`abort ${id} `)),
            `job ${id} was stopped at the deadline`,
          );
          assert.notEqual(job.worker_id, leaving.id, `job ${id} was given back and completed elsewhere`);
          givenBack++;
        } else {
          assert.ok(finished, `job ${id} (${ms} ms) was finished before the worker stopped`);
          assert.equal(job.worker_id, leaving.id);
        }
      }
      assert.ok(givenBack > 0, "a job longer than the deadline was given back");
    } finally {
      await client.close();
      await nc.close();
    }
  });

  it("close() of a worker taking segments under load finishes at once and gives every segment back", async () => {
    // Regressions: a segment whose claim was still being written when close() began was held forever
    // (close() never returned); a segment on its way to a closing pull was dropped until its lease ran out.
    const queue = "faults-close";
    const nc = await h.nats.connect("producer");
    const client = createClient({ nats: nc });
    const handlers = {
      work: (job: { args: unknown[] }) => new Promise((r) => setTimeout(() => r(job.args[0]), 2)),
    };
    const options = {
      nats: h.nats.url,
      queues: [queue],
      handleSignals: false,
      logger: silentLogger,
      handlers,
    };
    try {
      const production = produce({
        ratePerSecond: 200,
        durationMs: 4000,
        ...viaClient(client, queue),
        args: (n) => [n, 0],
      });
      let rounds = 0;
      while (production.started() < 750) {
        const worker = createWorker({ ...options, concurrency: 4, shutdownTimeoutMs: 1000 });
        await worker.ready;
        // Close it at varying moments while it takes and runs jobs.
        await waitFor(() => worker.stats().completed > rounds % 4, { what: "jobs to run" });
        let closed = false;
        void worker.close().then(() => (closed = true));
        await waitFor(() => closed, { timeoutMs: 5000, what: `close() in round ${rounds}` });
        rounds++;
      }
      await production.done;
      const last = createWorker({ ...options, concurrency: 16 });
      try {
        const waiting = new Set(production.acked.keys());
        await waitFor(
          async () => {
            for (const id of [...waiting]) {
              if ((await client.get(id)).state === "completed") waiting.delete(id);
            }
            return waiting.size === 0;
          },
          // Well under the queue's 30 s lease: a segment dropped by a closing worker would wait for it.
          { timeoutMs: 15_000, intervalMs: 200, what: "every job to complete" },
        );
      } finally {
        await last.close();
      }
      console.log(
        `faults(worker close): ${rounds} workers closed mid-load, ${production.acked.size} jobs completed`,
      );
    } finally {
      await client.close();
      await nc.close();
    }
  });

  it("SIGTERM to a fleet agent with a running job: it finishes the job and deregisters", async () => {
    const hostname = "faults-agent";
    const agent = spawnCli(["agent", "--nats", h.nats.url, "--hostname", hostname, "--enable-command-exec"], {
      JETJOB_LOG_LEVEL: "info",
    });
    children.push(agent.child);
    const nc = await h.nats.connect("controller");
    const ctx = await createStoreContext(nc);
    const ctl = await createController(ctx, { reclaim: false });
    try {
      await waitFor(() => ctl.resolve(`host:${hostname}`).dispatch.length === 1, {
        timeoutMs: 30_000,
        what: "the agent to register",
      });
      const rec = await ctl.create({
        op: "command.exec",
        target: `host:${hostname}`,
        args: { command: "sleep", args: ["1.5"] },
        timeoutMs: 30_000,
      });
      await waitFor(async () => (await readTimeline(ctx, rec.id)).some((e) => e.e === "started"), {
        what: "the job to start",
      });
      const t0 = Date.now();
      agent.child.kill("SIGTERM");
      assert.equal(await exitCode(agent.child, 20_000), 0, `the agent exits 0: ${agent.stderr()}`);
      const tookMs = Date.now() - t0;
      const job = await waitFor(
        async () => {
          const j = await getFleetJob(ctl, rec.id);
          return j.status === "running" ? undefined : j;
        },
        { what: "the job to finish" },
      );
      assert.equal(job.status, "completed");
      const result = job.results.find((r) => r.host === hostname);
      assert.equal(result?.state, "completed");
      assert.equal((result?.result as { exit_code?: number } | undefined)?.exit_code, 0);
      const entry = await ctx.buckets.agents.get(agentKey(hostname));
      assert.ok(!entry || entry.operation !== "PUT", "the agent removed its registry entry");
      assert.match(agent.stderr(), /jetjob agent stopped/);
      console.log(`faults(agent SIGTERM): job completed, agent stopped in ${tookMs} ms`);
    } finally {
      if (agent.child.exitCode === null) agent.child.kill("SIGKILL");
      await ctl.close();
      ctx.close();
      await nc.close();
    }
  });
});

/** Waits (bounded) for a child process to exit; its exit code, or null when a signal ended it. */
async function exitCode(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  await waitFor(() => child.exitCode !== null || child.signalCode !== null, {
    timeoutMs,
    intervalMs: 20,
    what: `process ${child.pid} to exit`,
  });
  return child.exitCode;
}

/** The pid of the nats-server (not its guard) that `startNatsServer` runs for this store dir. */
function natsServerPid(storeDir: string): number {
  const f = readdirSync(join(storeDir, ".run")).find((n) => n.endsWith(".ports"))!;
  return Number(/_(\d+)\.ports$/.exec(f)![1]);
}
