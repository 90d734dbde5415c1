/**
 * Queue workers as NATS identities (docs/security.md, "Who can do what"), against a real nats-server
 * with jetjob's auth callout config: a worker identity granted queue `alpha` runs alpha's jobs end to
 * end (complete, fail then retry, dead letter) through the API server's relay, and the server refuses
 * everything else it tries: queue beta's consumer and subjects, its own queue's consumer and streams
 * directly, consumer administration, purges, journal writes; nothing of a refused publish is stored.
 * The relay fences reports on the identity: it cannot complete a job it did not claim.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";

import type { AuthCallout } from "../../src/access/callout.js";
import { agentUser, newSecret } from "../../src/access/identities.js";
import { inboxPrefixFor } from "../../src/access/permissions.js";
import { createAgent } from "../../src/agent/agent.js";
import { relaySubject, workerInboxPrefix, workerToken, workerUser } from "../../src/access/worker-access.js";
import type { WorkerRelay } from "../../src/server/worker-relay.js";
import { startWorkerRelay } from "../../src/server/worker-relay.js";
import { silentLogger } from "../../src/core/logger.js";
import { createAuthenticator } from "../../src/server/auth.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { resolveTopology } from "../../src/store/infra/topology.js";
import type { Worker } from "../../src/worker/worker.js";
import { createWorker } from "../../src/worker/worker.js";
import { JobFailure } from "../../src/worker/types.js";
import type { CalloutDeployment } from "../harness/callout.js";
import { startCalloutDeployment } from "../harness/callout.js";
import { waitFor } from "../harness/nats.js";
import { cancelWithoutNotice } from "../harness/engine.js";

const topology = resolveTopology();
const fast = { initial_interval: "PT0.05S", jitter: false };

describe("queue workers as NATS identities", () => {
  let d: CalloutDeployment;
  /** Identity files of the workers. */
  let dir: string;
  let api: RunningApiServer;
  let callout: AuthCallout;
  let relay: WorkerRelay;
  const workers: Worker[] = [];
  const conns: NatsConnection[] = [];
  const secrets = new Map<string, string>();
  let violations: string[] = [];

  const rawConnect = async (name: string) => {
    const nc = await connect({
      servers: d.server.url,
      user: workerUser(name),
      pass: secrets.get(name)!,
      inboxPrefix: workerInboxPrefix(name),
      maxReconnectAttempts: 0,
    });
    conns.push(nc);
    return nc;
  };
  const startWorker = (
    name: string,
    queues: string[],
    handlers: Parameters<typeof createWorker>[0]["handlers"],
  ) => {
    const w = createWorker({
      nats: d.server.url,
      identity: { name, secret: secrets.get(name)! },
      queues,
      handlers,
      concurrency: 4,
      handleSignals: false,
      logger: silentLogger,
      heartbeatMs: 200,
      connectTimeoutMs: 5000,
    });
    workers.push(w);
    return w;
  };
  const enqueue = (queue: string, type: string, args: unknown[], retry?: Record<string, unknown>) =>
    api.engine.enqueue({ type, args, options: { queue, ...(retry ? { retry } : {}) } });
  const stateOf = async (id: string, state: string) =>
    waitFor(
      async () => {
        const j = await api.engine.get(id);
        return j.state === state ? j : undefined;
      },
      { timeoutMs: 10_000, what: `job ${id} to be ${state}` },
    );

  before(async () => {
    d = await startCalloutDeployment({
      prefix: "jetjob-wident-",
      auth: createAuthenticator([{ name: "admin", token: "worker-identities-token-1", scope: "admin" }]),
    });
    ({ api, callout, violations } = d);
    dir = mkdtempSync(join(tmpdir(), "jetjob-wident-files-"));
    relay = await startWorkerRelay({ engine: api.engine, logger: silentLogger });
    secrets.set("wa", newSecret());
    await callout.identities.acceptLocal("worker:wa", secrets.get("wa")!, ["alpha"]);
    // Both queues exist (with their lanes' consumers) before anything is refused on them.
    await enqueue("beta", "test.noop", []);
  });

  after(async () => {
    for (const w of workers) await w.close();
    for (const nc of conns) if (!nc.isClosed()) await nc.close();
    await relay?.close();
    await d?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a worker identity for queue alpha completes, retries and dead-letters alpha's jobs", async () => {
    let flaky = 0;
    const w = startWorker("wa", ["alpha"], {
      "test.ok": (job) => ({ got: job.args[0], attempt: job.attempt }),
      "test.flaky": (job) => {
        flaky++;
        if (job.attempt === 1) throw new Error("first attempt fails");
        return { attempt: job.attempt };
      },
      "test.bad": () => {
        throw new JobFailure("always fails", { code: "always" });
      },
      "test.progress": async (job) => {
        await job.progress(0.5, "half");
        return "done";
      },
    });
    await w.ready;
    const ok = await enqueue("alpha", "test.ok", [7]);
    const flakyJob = await enqueue("alpha", "test.flaky", [], { max_attempts: 3, ...fast });
    const bad = await enqueue("alpha", "test.bad", [], {
      max_attempts: 2,
      on_exhaustion: "dead_letter",
      ...fast,
    });
    const prog = await enqueue("alpha", "test.progress", []);

    const okDone = await stateOf(ok.id, "completed");
    assert.deepEqual(okDone.result, { got: 7, attempt: 1 });
    assert.match(String(okDone.worker_id), /^worker:wa\//, "claimed as the identity");
    const flakyDone = await stateOf(flakyJob.id, "completed");
    assert.equal(flakyDone.attempt, 2);
    assert.equal(flaky, 2);
    const badDone = await stateOf(bad.id, "discarded");
    assert.equal(badDone.attempt, 2);
    const dead = await api.engine.deadLetters({ queue: "alpha", limit: 10, offset: 0 });
    assert.ok(
      dead.jobs.some((j) => j.id === bad.id),
      "the exhausted job is a dead letter",
    );
    await stateOf(prog.id, "completed");
    // All of it through the relay: the worker's own permissions were never violated.
    assert.deepEqual(
      violations.filter((v) => v.includes(workerUser("wa"))),
      [],
    );
    assert.ok(relay.stats().answered > 0);
    // The worker is in the registry, as itself.
    await waitFor(
      async () => {
        for await (const k of await api.engine.ctx.buckets.agents.keys("q.>")) {
          const e = await api.engine.ctx.buckets.agents.get(k);
          if (e && new TextDecoder().decode(e.value).includes("worker:wa/")) return true;
        }
        return undefined;
      },
      { what: "the worker in the registry, as itself" },
    );
    await w.close();
  });

  it("counts an attempt whose ack the relay refuses (cancelled meanwhile, no notice heard) as lost", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const running = new Promise<void>((r) => (entered = r));
    const w = startWorker("wa", ["alpha"], {
      "test.gated": async () => {
        entered();
        await gate;
        return "late";
      },
    });
    const lost: string[] = [];
    const errors: unknown[] = [];
    w.on("job:lost", (e) => lost.push(e.id)).on("error", (e) => errors.push(e));
    await w.ready;
    const job = await enqueue("alpha", "test.gated", []);
    await running;
    // The cancel goes into the job's journal without the notice that would stop the handler.
    await cancelWithoutNotice(api.engine, job.id);
    release();
    await waitFor(() => w.stats().lost === 1, { what: "the refused ack counted as lost" });
    assert.equal(w.stats().completed, 0);
    assert.deepEqual(lost, [job.id]);
    assert.deepEqual(errors, [], "a refused report is not an error of the worker");
    const view = await api.engine.get(job.id);
    assert.equal(view.state, "cancelled");
    assert.equal(view.result, undefined);
    await w.close();
  });

  it("completes a chain workflow's steps on its queue (the next step gets the results)", async () => {
    const seen: unknown[] = [];
    const w = startWorker("wa", ["alpha"], {
      "wf.first": () => 41,
      "wf.second": (job) => {
        seen.push(job.parent_results);
        return 42;
      },
    });
    await w.ready;
    const wf = await api.engine.createWorkflow({
      type: "chain",
      name: "via-relay",
      steps: [
        { type: "wf.first", args: [], options: { queue: "alpha" } },
        { type: "wf.second", args: [], options: { queue: "alpha" } },
      ],
    });
    const done = await waitFor(
      async () => {
        const v = await api.engine.getWorkflow(wf.id);
        return v.state === "completed" ? v : undefined;
      },
      { timeoutMs: 10_000, what: "the chain to complete" },
    );
    assert.equal(done.jobs_completed ?? done.steps_completed, 2);
    assert.deepEqual(seen, [[41]]);
    await w.close();
  });

  it("is refused by nats-server outside its queue's relay subjects; nothing refused is stored", async () => {
    const nc = await rawConnect("wa");
    const js = jetstream(nc, { timeout: 2000 });
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 2000 });
    const full = await jetstreamManager(api.nc);
    const lane = (q: string) => `${topology.prefix}.q.${q}.p100`;
    const queueBefore = (await full.streams.info(topology.streams.queue)).state.last_seq;
    const journalBefore = (await full.streams.info(topology.streams.journal)).state.messages;

    // Fetching from beta's consumer, or even alpha's, directly: refused.
    for (const consumer of ["q_beta_p100", "q_alpha_p100"]) {
      await assert.rejects(
        nc.request(`$JS.API.CONSUMER.MSG.NEXT.${topology.streams.queue}.${consumer}`, '{"batch":1}', {
          timeout: 2000,
        }),
        `fetch from ${consumer}`,
      );
    }
    // Publishing jobs to beta's (or alpha's) lane, writing a journal, the delay stream, a KV bucket.
    await assert.rejects(js.publish(lane("beta"), "{}"));
    await assert.rejects(js.publish(lane("alpha"), "{}"));
    await assert.rejects(js.publish(`${topology.prefix}.j.0.${queueBefore}`, '[{"op":"done","i":0,"a":1}]'));
    await assert.rejects(js.publish(`${topology.prefix}.dl.1`, "{}"));
    await assert.rejects(js.publish(`$KV.${topology.buckets.dlq}.x`, "{}"));
    // The relay of beta, or alpha's relay as another worker identity: refused.
    await assert.rejects(
      nc.request(relaySubject(topology, "beta", workerToken("wa"), "fetch"), "{}", { timeout: 2000 }),
    );
    await assert.rejects(
      nc.request(relaySubject(topology, "alpha", workerToken("wb"), "fetch"), "{}", { timeout: 2000 }),
    );
    // Consumer and stream administration.
    await assert.rejects(
      jsm.consumers.add(topology.streams.queue, { durable_name: "evil", ack_policy: AckPolicy.Explicit }),
    );
    await assert.rejects(jsm.consumers.delete(topology.streams.queue, "q_beta_p100"));
    await assert.rejects(jsm.streams.purge(topology.streams.queue));
    await assert.rejects(jsm.streams.purge(topology.streams.journal));
    await assert.rejects(jsm.streams.delete(topology.streams.events));

    // Each was the server's refusal (a permissions violation), not a timeout.
    const refused = (subject: string) =>
      violations.some((v) => v.includes(workerUser("wa")) && v.includes(subject));
    for (const subject of [
      `${topology.streams.queue}.q_beta_p100`,
      lane("beta"),
      `${topology.prefix}.j.0.`,
      relaySubject(topology, "beta", workerToken("wa"), "fetch"),
      relaySubject(topology, "alpha", workerToken("wb"), "fetch"),
      `$JS.API.STREAM.PURGE.${topology.streams.queue}`,
    ]) {
      await waitFor(() => refused(subject) || undefined, { what: `the server to refuse ${subject}` });
    }
    // Nothing was stored, and the consumers are still there.
    assert.equal((await full.streams.info(topology.streams.queue)).state.last_seq, queueBefore);
    assert.equal((await full.streams.info(topology.streams.journal)).state.messages, journalBefore);
    await full.consumers.info(topology.streams.queue, "q_beta_p100");
    await assert.rejects(full.consumers.info(topology.streams.queue, "evil"));
    await nc.close();
  });

  it("the relay fences reports on the identity: it cannot complete a job it did not claim", async () => {
    const job = await enqueue("beta", "test.other", []);
    const [claimed] = await api.engine.fetch({ queues: ["beta"], count: 1, workerId: "http-worker" });
    assert.ok(claimed);
    const nc = await rawConnect("wa");
    const ask = async (op: "ack" | "nack" | "progress" | "beat", body: Record<string, unknown>) => {
      const m = await nc.request(
        relaySubject(topology, "alpha", workerToken("wa"), op),
        JSON.stringify(body),
        {
          timeout: 5000,
        },
      );
      return m.json<{ ok: boolean; error?: { code: string }; lost?: string[] }>();
    };
    for (const id of [job.id, claimed.id]) {
      const acked = await ask("ack", { id, result: "forged" });
      assert.equal(acked.ok, false);
      assert.equal(acked.error?.code, "lease_lost");
      const nacked = await ask("nack", { id, error: { message: "forged" } });
      assert.equal(nacked.error?.code, "lease_lost");
    }
    const beat = await ask("beat", { ids: [claimed.id] });
    assert.deepEqual(beat.lost, [claimed.id]);
    const view = await api.engine.get(claimed.id);
    assert.equal(view.state, "active");
    assert.notEqual(view.result, "forged");
    await nc.close();
  });

  it("an agent identity runs its granted queue's jobs; not granted one, it still starts as a fleet agent", async () => {
    for (const [host, queues] of [
      ["qhost-1", ["hostq"]],
      ["qhost-2", []],
    ] as const) {
      secrets.set(host, newSecret());
      await callout.identities.acceptLocal(host, secrets.get(host)!, queues);
    }
    const agentOf = (host: string) =>
      createAgent({
        nats: d.server.url,
        natsOptions: { user: agentUser(host), pass: secrets.get(host)!, inboxPrefix: inboxPrefixFor(host) },
        hostname: host,
        logger: silentLogger,
        handleSignals: false,
        builtins: false,
        queues: ["hostq"],
        queuesViaRelay: true,
        handlers: { "test.echo": { kind: "query", handler: (job) => ({ host: job.hostname }) } },
      });
    const granted = await agentOf("qhost-1");
    const notGranted = await agentOf("qhost-2");
    try {
      const job = await enqueue("hostq", "test.echo", [{}]);
      const done = await stateOf(job.id, "completed");
      assert.match(String(done.worker_id), /^agent:qhost-1\//);
      await waitFor(() => api.fleet.registry.agent("qhost-2"), {
        what: "the agent without queues registered",
      });
    } finally {
      await granted.close();
      await notGranted.close();
    }
  });

  it("an identity waits until accepted with its queues, runs them, and is cut off when revoked", async () => {
    secrets.set("wc", newSecret());
    const file = join(dir, "wc.identity.json");
    const w = createWorker({
      nats: d.server.url,
      identity: { name: "wc", file },
      queues: ["gamma"],
      handlers: { "test.ok": () => "ok" },
      handleSignals: false,
      logger: silentLogger,
    });
    workers.push(w);
    // It made its identity file (0600) and asked to join.
    const pending = await waitFor(async () => (await callout.identities.get("worker:wc")).record, {
      what: "the worker's request to join",
    });
    assert.equal(pending.state, "pending");
    assert.equal(pending.kind, "worker");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    await assert.rejects(
      callout.identities.decide("worker:wc", "accepted", "test"),
      /needs the queues/,
      "a worker is accepted with its queues",
    );
    await callout.identities.decide("worker:wc", "accepted", "test", ["gamma"]);
    await w.ready;
    const job = await enqueue("gamma", "test.ok", []);
    await stateOf(job.id, "completed");
    // Revoked: its connection is closed and it is refused from then on.
    const { readFileSync } = await import("node:fs");
    secrets.set("wc", (JSON.parse(readFileSync(file, "utf8")) as { secret: string }).secret);
    const nc = await rawConnect("wc");
    let isClosed = false;
    void nc.closed().then(() => (isClosed = true));
    await callout.identities.decide("worker:wc", "revoked", "test");
    await waitFor(() => isClosed, { what: "the revoked worker's connection to be closed" });
    await assert.rejects(rawConnect("wc"));
  });
});
