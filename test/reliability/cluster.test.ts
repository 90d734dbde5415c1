/**
 * jetjob on a 3-node NATS cluster loses nothing when a node crashes: two API servers (on different
 * nodes; one detects the replicas, one is told 3) and three NATS-direct workers run under a steady
 * HTTP enqueue load; every stream and bucket must have 3 replicas (workers must not rescale them);
 * the leader of the queue stream is SIGKILLed, comes back on the same store dir and catches up; then
 * every job whose enqueue was acknowledged must complete, and none may run twice.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import type { JetStreamManager } from "@nats-io/jetstream";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

import type { Client } from "../../src/client/index.js";
import { createClient } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import { connectNats } from "../../src/nats/connect.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { runTestServer } from "../harness/app.js";
import { resolveTopology, Subjects } from "../../src/store/infra/topology.js";
import { streamConfigs } from "../../src/store/infra/stream-configs.js";
import type { Worker } from "../../src/worker/index.js";
import { createWorker } from "../../src/worker/index.js";
import type { TestCluster } from "../harness/nats-cluster.js";
import { startTestCluster } from "../harness/nats-cluster.js";
import { waitFor } from "../harness/nats.js";

const token = `jj_${randomUUID()}`;
const topology = resolveTopology({ replicas: 3 });
const resources = [
  ...streamConfigs(topology).map((c) => c.name),
  ...Object.values(topology.buckets).map((b) => `KV_${b}`),
];
/** Load phases (ms): before the kill, while the node is down, after it is back. */
const WARMUP_MS = 3000;
const DOWN_MS = 10_000;
const AFTER_MS = 2000;

describe("a 3-node NATS cluster", () => {
  let cluster: TestCluster;
  const servers: RunningApiServer[] = [];
  const conns: NatsConnection[] = [];
  const workers: Worker[] = [];
  const clients: Client[] = [];
  let jsm: JetStreamManager;
  let stopLoad = false;
  let loops: Array<Promise<void>> = [];

  before(async () => {
    cluster = await startTestCluster();
    await cluster.waitForMetaLeader();
    const admin = await connectNats({ servers: cluster.urls, name: "test-admin" });
    conns.push(admin);
    jsm = await jetstreamManager(admin, { timeout: 10_000 });
  });

  after(async () => {
    stopLoad = true;
    await Promise.all(loops);
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(conns.filter((nc) => !nc.isClosed()).map((nc) => nc.close()));
    await cluster?.stop();
  });

  async function assertReplicated(when: string): Promise<void> {
    for (const name of resources) {
      const info = await jsm.streams.info(name);
      assert.equal(info.config.num_replicas, 3, `${name} has 3 replicas ${when}`);
      assert.equal(info.cluster?.replicas?.length, 2, `${name} is placed on 3 peers ${when}`);
    }
  }

  /** An API server whose connection lists all three nodes but sits on none of `avoid` (when possible). */
  async function apiServer(avoid: string[], replicas?: number): Promise<RunningApiServer> {
    for (let attempt = 0; ; attempt++) {
      const srv = await runTestServer(cluster.urls, [{ name: "test", token, scope: "admin" }], {
        ...(replicas === undefined ? {} : { topology: { replicas } }),
      });
      // The client shuffles its server list; start again until this one sits on another node.
      if (!avoid.includes(srv.nc.info?.server_name ?? "") || attempt >= 8) return srv;
      await srv.close();
    }
  }

  it("keeps every acknowledged job and runs each once when a node is killed and restarts", async () => {
    const t0 = Date.now();
    // A detects the replicas (`jetjob server` without --replicas: a fresh cluster of 3 gives 3);
    // B is told, as with --replicas 3.
    const a = await apiServer([]);
    servers.push(a);
    const b = await apiServer([a.nc.info?.server_name ?? ""], 3);
    servers.push(b);
    const placement = servers.map((s) => s.nc.info?.server_name);
    assert.notEqual(placement[0], placement[1], "the two API servers sit on different nodes");

    await assertReplicated("after the API servers started");

    const queue = `c-${randomUUID().slice(0, 8)}`;
    const runs = new Map<string, string[]>();
    const workerErrors: string[] = [];
    for (let i = 0; i < 3; i++) {
      const nc = await connectNats({ servers: cluster.urls, name: `test-worker-${i}` });
      conns.push(nc);
      const w = createWorker({
        nats: nc,
        queues: [queue],
        concurrency: 8,
        handleSignals: false,
        logger: silentLogger,
        workerId: `w${i}`,
        shutdownTimeoutMs: 5000,
        handlers: {
          work: (job) => {
            const list = runs.get(job.id) ?? [];
            list.push(`w${i}`);
            runs.set(job.id, list);
          },
        },
      });
      w.on("error", (err) => void workerErrors.push(err.message));
      workers.push(w);
    }
    await Promise.all(workers.map((w) => w.ready));
    // Workers open the topology with default options: they must not rescale anything.
    await assertReplicated("after the workers started");

    // Steady load: four loops, each alternating between the two API servers over HTTP.
    // A short timeout: a loop must not sit out the whole outage on one request (a timed-out request
    // may still be stored; it then counts as "ran without an acknowledged enqueue", never as lost).
    clients.push(createClient({ url: a.url, token, timeoutMs: 3000 }));
    clients.push(createClient({ url: b.url, token, timeoutMs: 3000 }));
    const acked = new Set<string>();
    const failures: string[] = [];
    const perSecond: number[] = [];
    /** The longest time without an acknowledged enqueue (ms): how long enqueues were unavailable. */
    const gap = { last: 0, longest: 0 };
    let next = 0;
    const loadStart = Date.now();
    loops = [0, 1, 2, 3].map(async () => {
      while (!stopLoad) {
        const n = next++;
        try {
          const job = await clients[n % 2]!.enqueue("work", [n], { queue });
          acked.add(job.id);
          const sec = Math.floor((Date.now() - loadStart) / 1000);
          perSecond[sec] = (perSecond[sec] ?? 0) + 1;
          const now = Date.now();
          if (gap.last > 0) gap.longest = Math.max(gap.longest, now - gap.last);
          gap.last = now;
        } catch (err) {
          failures.push(err instanceof Error ? err.message : String(err));
        }
        await new Promise((r) => setTimeout(r, 10)); // pacing, so the 2 cores also run the cluster
      }
    });
    // The phases of the experiment last a set time (this waits for no condition).
    const loadFor = (ms: number) => new Promise((r) => setTimeout(r, ms));

    await loadFor(WARMUP_MS);
    const queueInfo = await jsm.streams.info(topology.streams.queue);
    const victimName = queueInfo.cluster?.leader;
    const metaLeader = (await cluster.nodes[0]!.jsz()).meta_cluster?.leader;
    const victim = cluster.nodes.find((n) => n.name === victimName);
    assert.ok(victim, `the queue stream has a leader (${victimName})`);
    const killedAt = (Date.now() - loadStart) / 1000;
    await victim.kill();
    const ackedAtKill = acked.size;

    await loadFor(DOWN_MS);
    const ackedWhileDown = acked.size - ackedAtKill;
    await victim.restart();
    const restartedAt = Date.now();
    await cluster.waitForMetaLeader(60_000);
    await waitFor(() => victim.healthy(), {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: "the node to catch up",
    });
    await waitFor(
      async () => {
        for (const name of resources) {
          const info = await jsm.streams.info(name);
          if (!info.cluster?.leader || info.cluster.replicas?.some((r) => !r.current)) return false;
        }
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: "every stream to have a leader and current replicas" },
    );
    const caughtUpS = (Date.now() - restartedAt) / 1000;

    await loadFor(AFTER_MS);
    stopLoad = true;
    await Promise.all(loops);
    const loadEnd = Date.now();

    // Every acknowledged job runs, and its journal records it as completed.
    await waitFor(() => [...acked].every((id) => runs.has(id)), {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: "every acknowledged job to run",
    });
    const allRanS = (Date.now() - loadEnd) / 1000;
    let notCompleted = [...acked];
    await waitFor(
      async () => {
        const still: string[] = [];
        for (let i = 0; i < notCompleted.length; i += 50) {
          const batch = notCompleted.slice(i, i + 50);
          const states = await Promise.all(batch.map(async (id) => (await clients[0]!.get(id)).state));
          batch.forEach((id, k) => states[k] !== "completed" && still.push(id));
        }
        notCompleted = still;
        return still.length === 0;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: "every acknowledged job to be completed" },
    ).catch(() => undefined);

    const lost = notCompleted.length;
    const duplicates = [...runs.values()].reduce((s, owners) => s + owners.length - 1, 0);
    const twice = [...runs].filter(([, owners]) => owners.length > 1).slice(0, 5);
    const unacknowledgedRuns = [...runs.keys()].filter((id) => !acked.has(id)).length;
    const completed = [...acked].filter((id) => runs.has(id)).length;
    console.log(
      `cluster: enqueued ${acked.size}, completed ${completed}, lost ${lost}, duplicates ${duplicates}, ` +
        `killed node ${victim.name} at t=${killedAt.toFixed(1)}s ` +
        `(leader of ${topology.streams.queue}${victim.name === metaLeader ? " and meta leader" : ""}); ` +
        `API servers on ${placement.join("+")}; acked while down ${ackedWhileDown}; ` +
        `enqueue failures ${failures.length}; ran without an acknowledged enqueue ${unacknowledgedRuns}; ` +
        `worker errors ${workerErrors.length}; longest gap between acks ${(gap.longest / 1000).toFixed(1)}s; caught up ${caughtUpS.toFixed(1)}s after restart; ` +
        `setup ${((loadStart - t0) / 1000).toFixed(1)}s, load ${((loadEnd - loadStart) / 1000).toFixed(1)}s, ` +
        `all ran ${allRanS.toFixed(1)}s after the load, checks ${((Date.now() - loadEnd) / 1000).toFixed(1)}s`,
    );
    const distinct = (list: string[]) => [...new Set(list.map((m) => m.replace(/[0-9a-f-]{8,}/g, "…")))];
    console.log(`cluster: acks per second of load: ${Array.from(perSecond, (n) => n ?? 0).join(" ")}`);
    for (const m of distinct(failures).slice(0, 3)) console.log(`cluster: enqueue failure: ${m}`);
    for (const m of distinct(workerErrors).slice(0, 5)) console.log(`cluster: worker error: ${m}`);
    assert.ok(acked.size > 0, "jobs were acknowledged");
    assert.equal(lost, 0, `lost jobs: ${notCompleted.slice(0, 5).join(", ")}`);
    assert.equal(duplicates, 0, `jobs run twice: ${JSON.stringify(twice)}`);

    const lane = new Subjects(topology.prefix).laneConsumer(queue, 0);
    const consumer = await jsm.consumers.info(topology.streams.queue, lane);
    assert.equal(consumer.cluster?.replicas?.length, 2, "the lane consumer is replicated with its stream");
    await assertReplicated("at the end");
  });
});
