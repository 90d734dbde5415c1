/**
 * Queue workers in the worker registry (issue 19): an SDK worker appears in `GET /api/v1/workers`
 * (kind "queue", with its queues), in `jetjob worker list` and in `jetjob_workers_online{kind,queue}`
 * while it runs and disappears when it closes; a queue with waiting jobs and no worker is flagged by
 * `GET /api/v1/queues` and `jetjob queue list`.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { after, before, describe, it } from "node:test";

import type { Client } from "../../src/client/client.js";
import { createClient } from "../../src/client/client.js";
import { silentLogger } from "../../src/core/logger.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { createWorker } from "../../src/worker/index.js";
import { runTestServer } from "../harness/app.js";
import { cli } from "../harness/cli.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "registry-admin-token-123456";

interface Listed {
  kind: string;
  id?: string;
  hostname?: string;
  queues: string[];
  concurrency: number;
  running: number;
  host?: string;
  pid?: number;
  online: boolean;
}

describe("queue workers in the worker registry", () => {
  let srv: RunningApiServer;
  let client: Client;
  const q = `reg-${randomUUID().slice(0, 8)}`;

  const get = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${srv.url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200, `${path}: ${r.status}`);
    return (await r.json()) as T;
  };
  const workers = async (query = "") => (await get<{ workers: Listed[] }>(`/api/v1/workers${query}`)).workers;
  const queueRow = async (name: string) =>
    (
      await get<{
        queues: Array<{ name: string; available: number; consumers: number; no_consumers: boolean }>;
      }>("/api/v1/queues")
    ).queues.find((x) => x.name === name);
  const metric = async (series: string): Promise<number | undefined> => {
    const text = await (
      await fetch(`${srv.url}/metrics`, { headers: { Authorization: `Bearer ${token}` } })
    ).text();
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  const cliFlags = () => ["--api", srv.url, "--token", token];

  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
    client = createClient({ url: srv.url, token });
  });
  after(async () => {
    await client.close();
    await srv.close();
  });

  it("lists a running worker with its queues, counts it in the metrics, and drops it on close", async () => {
    const worker = createWorker({
      nats: h.nats.url,
      queues: [q, `${q}-b`],
      concurrency: 3,
      heartbeatMs: 500,
      handleSignals: false,
      logger: silentLogger,
      handlers: { noop: () => undefined },
    });
    try {
      await worker.ready;
      const listed = await waitFor(
        async () => (await workers()).find((w) => w.kind === "queue" && w.id === worker.id),
        { timeoutMs: 5000, what: "the worker in GET /api/v1/workers" },
      );
      assert.deepEqual(listed.queues, [q, `${q}-b`]);
      assert.equal(listed.concurrency, 3);
      assert.equal(listed.running, 0);
      assert.equal(listed.host, hostname());
      assert.equal(listed.pid, process.pid);
      assert.equal(listed.online, true);

      // The filters: kind=agent leaves it out, kind=queue keeps it; bad kinds are refused.
      assert.ok(!(await workers("?kind=agent")).some((w) => w.id === worker.id));
      assert.ok((await workers("?kind=queue")).some((w) => w.id === worker.id));
      const bad = await fetch(`${srv.url}/api/v1/workers?kind=robot`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      assert.equal(bad.status, 400);
      await bad.body?.cancel();
      assert.ok((await client.workers.queueWorkers()).some((w) => w.id === worker.id));

      assert.equal(await metric(`jetjob_workers_online{kind="queue",queue="${q}"}`), 1);
      assert.equal(await metric(`jetjob_workers_online{kind="agent",queue=""}`), 0);

      const table = await cli(["worker", "list", ...cliFlags()]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^KIND\s+NAME\s+STATE/m);
      assert.match(
        table.stdout,
        new RegExp(`^queue\\s+${worker.id}\\s+online\\s+0/3\\s+-\\s+${q},${q}-b\\s`, "m"),
      );
      const agentsOnly = await cli(["worker", "list", "--kind", "agent", ...cliFlags()]);
      assert.equal(agentsOnly.code, 0, agentsOnly.stderr);
      assert.doesNotMatch(agentsOnly.stdout, new RegExp(worker.id));
      const badKind = await cli(["worker", "list", "--kind", "robot", ...cliFlags()]);
      assert.equal(badKind.code, 2);
    } finally {
      await worker.close();
    }
    // Gone at once on close (deleted, not left to time out).
    assert.ok(!(await workers("?offline=true")).some((w) => w.id === worker.id), "removed on close");
    assert.equal((await metric(`jetjob_workers_online{kind="queue",queue="${q}"}`)) ?? 0, 0);
  });

  it("flags a queue whose jobs wait with no worker online, and stops flagging once one runs", async () => {
    const orphan = `${q}-orphan`;
    await client.enqueue("noop", [], { queue: orphan });
    const row = await waitFor(async () => queueRow(orphan), { what: "the queue in GET /api/v1/queues" });
    assert.equal(row.consumers, 0);
    assert.equal(row.available, 1);
    assert.equal(row.no_consumers, true);

    const list = await cli(["queue", "list", ...cliFlags()]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${orphan}\\s+active\\s+1\\s+0 !`, "m"));
    assert.match(list.stdout, new RegExp(`jobs wait in .*${orphan}.* but no worker takes`));
    const json = JSON.parse((await cli(["queue", "list", "--json", ...cliFlags()])).stdout) as Array<{
      name: string;
      no_consumers?: boolean;
    }>;
    assert.equal(json.find((x) => x.name === orphan)?.no_consumers, true);

    const worker = createWorker({
      nats: h.nats.url,
      queues: [orphan],
      heartbeatMs: 500,
      handleSignals: false,
      logger: silentLogger,
      handlers: { noop: () => undefined },
    });
    try {
      await worker.ready;
      await waitFor(async () => (await queueRow(orphan))?.consumers === 1, { what: "one consumer" });
      await waitFor(async () => (await queueRow(orphan))?.no_consumers === false, { what: "no flag" });
    } finally {
      await worker.close();
    }
  });

  it("lists an OJS HTTP worker by the worker_id of its fetches", async () => {
    const id = `http-${randomUUID().slice(0, 8)}`;
    const fetchAs = async (worker_id?: string) => {
      const r = await fetch(`${srv.url}/ojs/v1/workers/fetch`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ queues: [`${q}-http`], ...(worker_id === undefined ? {} : { worker_id }) }),
      });
      assert.equal(r.status, 200);
      await r.body?.cancel();
    };
    await fetchAs(id);
    const listed = await waitFor(async () => (await workers("?kind=queue")).find((w) => w.id === id), {
      what: "the HTTP worker listed",
    });
    assert.deepEqual(listed.queues, [`${q}-http`]);
    assert.equal((listed as Listed & { via?: string }).via, "http");
    assert.equal(listed.online, true);
    assert.equal(await metric(`jetjob_workers_online{kind="queue",queue="${q}-http"}`), 1);
    // A fetch without a worker_id registers nobody.
    const before = (await workers("?kind=queue")).length;
    await fetchAs();
    assert.equal((await workers("?kind=queue")).length, before);
  });
});
