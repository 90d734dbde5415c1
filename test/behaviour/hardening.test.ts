/**
 * Requests an attacker (or an unlucky user) can send that used to freeze or overload the server
 * (issue 21): patterns with catastrophic backtracking in targets and retry policies.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";

import type { Agent } from "../../src/agent/agent.js";
import { createAgent } from "../../src/agent/agent.js";
import { uuidv7 } from "../../src/core/ids.js";
import { silentLogger } from "../../src/core/logger.js";
import { createClient } from "../../src/client/index.js";
import { createEngine } from "../../src/store/engine.js";
import { createWorker } from "../../src/worker/index.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { callApi, runTestServer } from "../harness/app.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const skewedEngine = fileURLToPath(new URL("../fixtures/skewed-engine.ts", import.meta.url));
const token = "hardening-test-token-0123456789";

describe("patterns cannot freeze the server", () => {
  let srv: RunningApiServer;
  let agent: Agent;
  /** A hostname on which `^(a+)+$` backtracks exponentially in JavaScript's engine. */
  const evilHost = `${"a".repeat(60)}-x`;
  const call = async (method: string, path: string, body?: unknown) => {
    const t0 = performance.now();
    const r = await fetch(`${srv.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return {
      status: r.status,
      body: (await r.json()) as Record<string, unknown>,
      ms: performance.now() - t0,
    };
  };

  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
    agent = await createAgent({
      nats: h.nats.url,
      hostname: evilHost,
      builtins: false,
      logger: silentLogger,
      timings: { heartbeatMs: 200 },
      handlers: { "test.echo": { kind: "query", handler: () => "ok" } },
    });
    await waitFor(
      async () =>
        ((await call("GET", "/api/v1/targets/resolve?target=all")).body.hosts as string[]).length === 1,
      {
        what: "the agent to be listed",
      },
    );
  });
  after(async () => {
    await agent.close();
    await srv.close();
  });

  it("an E@ regex with catastrophic backtracking answers at once (resolve and dispatch)", async () => {
    const target = encodeURIComponent("E@^(a+)+$");
    const resolve = await call("GET", `/api/v1/targets/resolve?target=${target}`);
    console.log(`resolve E@^(a+)+$ over a 62-character hostname: ${resolve.ms.toFixed(1)} ms`);
    assert.equal(resolve.status, 200);
    assert.deepEqual(resolve.body.hosts, []);
    assert.ok(resolve.ms < 1000, `answered in ${resolve.ms} ms`);

    const run = await call("POST", "/api/v1/jobs", { op: "test.echo", target: "E@^(a+)+$" });
    assert.equal(run.status, 422);
    assert.equal((run.body.error as { code: string }).code, "no_targets");
    assert.ok(run.ms < 1000, `answered in ${run.ms} ms`);

    const glob = await call(
      "GET",
      `/api/v1/targets/resolve?target=${encodeURIComponent("*a*a*a*a*a*a*a*a*a*a*b")}`,
    );
    assert.deepEqual(glob.body.hosts, []);
    assert.ok(glob.ms < 1000, `glob answered in ${glob.ms} ms`);

    const ok = await call("GET", `/api/v1/targets/resolve?target=${encodeURIComponent("E@^a+-x$")}`);
    assert.deepEqual(ok.body.hosts, [evilHost], "a plain regex still matches");
  });

  it("a regex RE2 cannot run (lookaround, backreference) is refused with its position", async () => {
    const r = await call("GET", `/api/v1/targets/resolve?target=${encodeURIComponent("E@^(a)\\1$")}`);
    assert.equal(r.status, 400);
    assert.match(String((r.body.error as { message: string }).message), /backreference|escape/);
  });

  it("a non_retryable_errors pattern with catastrophic backtracking does not stall a nack", async () => {
    const enq = await call("POST", "/ojs/v1/jobs", {
      type: "evil.pattern",
      args: [],
      options: { queue: "evil", retry: { max_attempts: 3, non_retryable_errors: ["(a+)+$"] } },
    });
    assert.equal(enq.status, 201);
    const fetched = await call("POST", "/ojs/v1/workers/fetch", {
      queues: ["evil"],
      count: 1,
      worker_id: "w1",
    });
    const id = (fetched.body.jobs as Array<{ id: string }>)[0]!.id;
    const nack = await call("POST", "/ojs/v1/workers/nack", {
      job_id: id,
      error: { code: "evil", message: `${"a".repeat(900)}!` },
    });
    console.log(`nack matched against (a+)+$: ${nack.ms.toFixed(1)} ms`);
    assert.equal(nack.status, 200);
    assert.ok(nack.ms < 1000, `answered in ${nack.ms} ms`);
  });
});

describe("enqueue holes", () => {
  let srv: RunningApiServer;
  const call = (method: string, path: string, body?: unknown) => callApi(srv.url, token, method, path, body);
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
  });
  after(async () => {
    await srv.close();
  });

  it("one client id sent at once as an immediate and as a scheduled job is stored once", async () => {
    let both = 0;
    for (let k = 0; k < 30; k++) {
      const id = uuidv7();
      const [now, later] = await Promise.all([
        call("POST", "/ojs/v1/jobs", { id, type: "pair.job", args: [k], options: { queue: "pairs" } }),
        call("POST", "/ojs/v1/jobs", {
          id,
          type: "pair.job",
          args: [k],
          options: { queue: "pairs", scheduled_at: new Date(Date.now() + 60_000).toISOString() },
        }),
      ]);
      const created = [now, later].filter((r) => r.status === 201).length;
      if (created === 2) both++;
      assert.equal(created, 1, `pair ${k}: ${now.status} and ${later.status}`);
      const refused = now.status === 201 ? later : now;
      assert.equal(refused.status, 409);
      assert.equal((refused.body.error as { code: string }).code, "duplicate");
    }
    assert.equal(both, 0);
  });

  it("a client id that is an existing job's server-made id is refused", async () => {
    const first = await call("POST", "/ojs/v1/jobs", {
      type: "plain.job",
      args: [],
      options: { queue: "ids" },
    });
    const id = (first.body.job as { id: string }).id;
    const again = await call("POST", "/ojs/v1/jobs", {
      id,
      type: "other.job",
      args: [1],
      options: { queue: "ids" },
    });
    assert.equal(again.status, 409);
    assert.equal((again.body.error as { code: string }).code, "duplicate");
    const job = await call("GET", `/ojs/v1/jobs/${id}`);
    assert.equal((job.body.job as { type: string }).type, "plain.job", "the first job is untouched");
  });

  it("meta, options.metadata and extension fields have a size limit", async () => {
    const big = "m".repeat(7 * 1024 * 1024);
    for (const body of [
      { type: "big.meta", args: [], meta: { blob: big } },
      { type: "big.meta", args: [], options: { metadata: { blob: big } } },
      { type: "big.meta", args: [], x_blob: big },
    ]) {
      const r = await call("POST", "/ojs/v1/jobs", body);
      assert.equal(r.status, 413, JSON.stringify(Object.keys(body)));
      assert.equal((r.body.error as { code: string }).code, "x_payload_too_large");
    }
    const small = await call("POST", "/ojs/v1/jobs", {
      type: "big.meta",
      args: [],
      meta: { note: "fine" },
      x_tag: 1,
    });
    assert.equal(small.status, 201);
  });

  it("a top-level queue that is not the job's queue is refused, not kept as an extension", async () => {
    const wrong = await call("POST", "/ojs/v1/jobs", { type: "q.job", args: [], queue: "emails" });
    assert.equal(wrong.status, 400);
    assert.match((wrong.body.error as { message: string }).message, /options\.queue/);
    const same = await call("POST", "/ojs/v1/jobs", {
      type: "q.job",
      args: [],
      queue: "emails",
      options: { queue: "emails" },
    });
    assert.equal(same.status, 201);
    assert.equal((same.body.job as { queue: string }).queue, "emails");
  });
});

describe("a server whose clock runs fast", () => {
  it("cannot take the scheduler lease from a live leader; as leader it runs scheduled jobs on time", async () => {
    const nc = await h.nats.connect("clock-test");
    const a = await createEngine(nc, { leaseMs: 600, housekeeping: false });
    await waitFor(() => a.scheduling, { what: "A to lead" });
    const child = spawn(process.execPath, ["--import", "tsx", skewedEngine, h.nats.url, "30000"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    const exited = new Promise((r) => child.once("exit", r));
    try {
      await waitFor(() => out.includes("follower"), {
        timeoutMs: 20_000,
        what: "the skewed engine to start",
      });
      // Ten lease lengths: the fast clock sees A's lease as long expired, yet must leave it alone.
      const until = Date.now() + 6000;
      await waitFor(() => Date.now() > until || out.includes("leader") || !a.scheduling, {
        timeoutMs: 10_000,
        intervalMs: 50,
      });
      assert.equal(a.scheduling, true, "A still leads");
      assert.doesNotMatch(out, /leader/, "the fast-clock server never took the lease");

      // Hand over: A leaves; the fast-clock server leads and promotes a job due in 3 s on time.
      await a.close();
      await waitFor(() => out.includes("leader"), { timeoutMs: 10_000, what: "the skewed engine to lead" });
      const client = createClient({ nats: nc });
      const due = Date.now() + 3000;
      const job = await client.enqueue("clock.job", [], { queue: "clock", runAt: new Date(due) });
      let startedAt = 0;
      const worker = createWorker({
        nats: h.nats.url,
        queues: ["clock"],
        handleSignals: false,
        logger: silentLogger,
        handlers: { "clock.job": () => void (startedAt = Date.now()) },
      });
      await worker.ready;
      try {
        await client.waitFor(job.id, { timeoutMs: 15_000 });
      } finally {
        await worker.close();
        await client.close();
      }
      console.log(
        `scheduled for ${new Date(due).toISOString()}, started ${startedAt - due} ms from it (leader's clock +30 s)`,
      );
      assert.ok(startedAt >= due - 500, `not early (${due - startedAt} ms before its time)`);
    } finally {
      child.kill("SIGTERM");
      await exited;
      await a.close().catch(() => undefined);
      await nc.close();
    }
  });
});
