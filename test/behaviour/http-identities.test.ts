/**
 * Agent enrollment over the HTTP API (`/api/v1/agent-identities`, `/api/v1/agent-enroll-tokens`)
 * against a real nats-server with jetjob's auth callout config: an agent that asks to join is listed
 * as pending; accepted over HTTP it connects and runs a job; revoked over HTTP its connection is closed
 * and it cannot reconnect; a token made over HTTP lets an agent join at once. Only admin tokens may do
 * any of it; no answer carries a secret or its digest; a server whose NATS does not use identities
 * says so instead of failing.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";

import { agentUser, digestOf, ENROLL_TOKEN_SEPARATOR, newSecret } from "../../src/access/identities.js";
import { inboxPrefixFor } from "../../src/access/permissions.js";
import type { Agent } from "../../src/agent/agent.js";
import { createAgent } from "../../src/agent/agent.js";
import { silentLogger } from "../../src/core/logger.js";
import type { RunningNatsServer } from "../../src/natsd/index.js";
import { workerInboxPrefix, workerUser } from "../../src/access/worker-access.js";
import { startWorkerRelay } from "../../src/server/worker-relay.js";
import { createWorker } from "../../src/worker/worker.js";
import { createAuthenticator } from "../../src/server/auth.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { callApi, testTokens } from "../harness/app.js";
import type { CalloutDeployment } from "../harness/callout.js";
import { startCalloutDeployment } from "../harness/callout.js";
import { waitFor } from "../harness/nats.js";

const tokens = (["read", "write", "admin"] as const).map((scope) => ({
  name: `${scope}-op`,
  token: testTokens[scope],
  scope,
}));

interface IdentityRow {
  name: string;
  kind: string;
  queues?: string[];
  hostname: string;
  state: string;
  decided_by?: string;
}

describe("agent enrollment over HTTP", () => {
  let d: CalloutDeployment;
  let server: RunningNatsServer;
  let api: RunningApiServer;
  const agents: Agent[] = [];
  const conns: NatsConnection[] = [];
  const secrets = new Map<string, string>();

  const admin = (method: string, path: string, body?: unknown) =>
    callApi(api.url, testTokens.admin, method, path, body);
  const login = (host: string, extra = "") => ({
    user: agentUser(host),
    pass: secrets.get(host)! + extra,
    inboxPrefix: inboxPrefixFor(host),
  });
  const rawConnect = async (host: string, extra = "") => {
    const nc = await connect({ servers: server.url, ...login(host, extra), maxReconnectAttempts: 0 });
    conns.push(nc);
    return nc;
  };
  const identities = async (state?: string) => {
    const r = await admin("GET", `/api/v1/agent-identities${state ? `?state=${state}` : ""}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.enabled, true);
    return r.body.identities as IdentityRow[];
  };
  /** No answer may carry a secret or the digest of one. */
  const assertNoSecrets = (body: unknown) => {
    const text = JSON.stringify(body);
    assert.ok(!text.includes("secret_sha256"), text);
    for (const s of secrets.values()) {
      assert.ok(!text.includes(s) && !text.includes(digestOf(s)), `a secret or digest in ${text}`);
    }
  };

  before(async () => {
    d = await startCalloutDeployment({
      prefix: "jetjob-http-ident-",
      auth: createAuthenticator(tokens),
      api: { fleet: { timings: { ackWindowMs: 300, livenessCheckMs: 100 } }, agentIdentities: true },
    });
    ({ server, api } = d);
  });

  after(async () => {
    for (const a of agents) await a.close();
    for (const nc of conns) if (!nc.isClosed()) await nc.close();
    await d?.close();
  });

  it("lists a pending agent; accepted over HTTP it runs a job; revoked over HTTP it is cut off", async () => {
    secrets.set("web-01", newSecret());
    // Asking to join: refused, and listed as pending.
    await assert.rejects(rawConnect("web-01"));
    const pending = await identities("pending");
    assert.deepEqual(
      pending.map((i) => [i.hostname, i.state]),
      [["web-01", "pending"]],
    );
    assert.deepEqual(await identities("accepted"), []);

    const accepted = await admin("POST", "/api/v1/agent-identities/web-01/accept");
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    const view = accepted.body.identity as IdentityRow;
    assert.equal(view.state, "accepted");
    assert.equal(view.decided_by, "api:admin-op");
    assertNoSecrets(accepted.body);
    // Accepting twice is a conflict, an unknown host is not found: stable codes, not messages.
    const again = await admin("POST", "/api/v1/agent-identities/web-01/accept");
    assert.equal(again.status, 409);
    assert.equal((again.body.error as { code: string }).code, "conflict");
    const unknown = await admin("POST", "/api/v1/agent-identities/nobody-here/revoke");
    assert.equal(unknown.status, 404);
    assert.equal((unknown.body.error as { code: string }).code, "not_found");

    const agent = await createAgent({
      nats: server.url,
      natsOptions: login("web-01"),
      hostname: "web-01",
      logger: silentLogger,
      handleSignals: false,
      timings: { heartbeatMs: 200 },
      builtins: false,
      handlers: { "test.echo": { kind: "query", handler: (job) => ({ host: job.hostname }) } },
    });
    agents.push(agent);
    await waitFor(() => api.fleet.registry.agent("web-01"), { what: "web-01 registered" });
    const job = await api.fleet.create({
      op: "test.echo",
      target: "web-01",
      timeoutMs: 5000,
      ackWindowMs: 300,
    });
    const done = await waitFor(
      async () => {
        const e = await api.engine.ctx.buckets.fleet.get(`j.${job.id}`);
        const rec = e?.operation === "PUT" ? e.json<{ status: string; hosts: string[] }>() : undefined;
        return rec && rec.status !== "running" ? rec : undefined;
      },
      { timeoutMs: 10_000, what: "the job on web-01 to finish" },
    );
    assert.equal(done.status, "completed");
    assert.deepEqual(done.hosts, ["web-01"]);

    // Revoked over HTTP: its open connection is closed (system KICK) and it cannot connect again.
    const nc = await rawConnect("web-01");
    let closed = false;
    void nc.closed().then(() => (closed = true));
    const revoked = await admin("POST", "/api/v1/agent-identities/web-01/revoke");
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal((revoked.body.identity as IdentityRow).state, "revoked");
    await waitFor(() => closed, { what: "the revoked agent's connection to be closed" });
    await assert.rejects(rawConnect("web-01"));
    assert.deepEqual(
      (await identities("revoked")).map((i) => i.hostname),
      ["web-01"],
    );
    assertNoSecrets(await identities());
  });

  it("a queue worker is accepted over HTTP with the queues it may use, and then runs their jobs", async () => {
    const relay = await startWorkerRelay({ engine: api.engine, logger: silentLogger });
    try {
      const secret = newSecret();
      secrets.set("worker:etl", secret);
      // Asking to join: refused, and listed as a pending worker by the name paths take.
      await assert.rejects(
        connect({
          servers: server.url,
          user: workerUser("etl"),
          pass: secret,
          inboxPrefix: workerInboxPrefix("etl"),
          maxReconnectAttempts: 0,
        }),
      );
      const pending = (await identities("pending")).find((i) => i.name === "worker:etl");
      assert.equal(pending?.kind, "worker");
      assert.equal(pending?.hostname, "etl");

      // A worker takes jobs only from granted queues: accepting it without any is refused.
      const none = await admin("POST", "/api/v1/agent-identities/worker:etl/accept");
      assert.equal(none.status, 400, JSON.stringify(none.body));
      const badName = await admin("POST", "/api/v1/agent-identities/worker:etl/accept", {
        queues: ["Not A Queue"],
      });
      assert.equal(badName.status, 400, JSON.stringify(badName.body));
      const accepted = await admin("POST", "/api/v1/agent-identities/worker:etl/accept", {
        queues: ["etl-jobs"],
      });
      assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
      const view = accepted.body.identity as IdentityRow;
      assert.deepEqual(
        [view.name, view.kind, view.state, view.queues],
        ["worker:etl", "worker", "accepted", ["etl-jobs"]],
      );
      assertNoSecrets(accepted.body);

      const worker = createWorker({
        nats: server.url,
        identity: { name: "etl", secret },
        queues: ["etl-jobs"],
        handlers: { "etl.load": (job) => ({ rows: (job.args[0] as number) * 2 }) },
        handleSignals: false,
        logger: silentLogger,
        connectTimeoutMs: 5000,
      });
      try {
        const job = await api.engine.enqueue({
          type: "etl.load",
          args: [21],
          options: { queue: "etl-jobs" },
        });
        const done = await waitFor(
          async () => {
            const j = await api.engine.get(job.id);
            return j.state === "completed" ? j : undefined;
          },
          { timeoutMs: 10_000, what: "the worker identity to complete the job" },
        );
        assert.deepEqual(done.result, { rows: 42 });
      } finally {
        await worker.close();
      }
    } finally {
      await relay.close();
    }
  });

  it("an enrollment token made over HTTP lets an agent join at once; reject and forget", async () => {
    const made = await admin("POST", "/api/v1/agent-enroll-tokens", { expires_in_ms: 60_000 });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const token = made.body.token as string;
    assert.match(token, /^jje_/);
    assert.ok(Date.parse(made.body.expires_at as string) > Date.now());
    const port = new URL(server.url).port;
    assert.equal(
      made.body.command,
      `jetjob agent --nats nats://127.0.0.1:${port} --enroll --enroll-token ${token}`,
    );
    secrets.set("db-01", newSecret());
    await rawConnect("db-01", ENROLL_TOKEN_SEPARATOR + token);
    assert.equal((await identities("accepted")).find((i) => i.hostname === "db-01")?.state, "accepted");

    secrets.set("odd-01", newSecret());
    await assert.rejects(rawConnect("odd-01"));
    const rejected = await admin("POST", "/api/v1/agent-identities/odd-01/reject");
    assert.equal((rejected.body.identity as IdentityRow).state, "rejected");
    await assert.rejects(rawConnect("odd-01"));
    const forgotten = await admin("DELETE", "/api/v1/agent-identities/odd-01");
    assert.equal(forgotten.status, 200);
    assert.equal((forgotten.body.forgotten as IdentityRow).hostname, "odd-01");
    assertNoSecrets(forgotten.body);
    assert.equal(
      (await identities()).find((i) => i.hostname === "odd-01"),
      undefined,
    );
    const twice = await admin("DELETE", "/api/v1/agent-identities/odd-01");
    assert.equal((twice.body.error as { code: string }).code, "not_found");

    const bad = await admin("POST", "/api/v1/agent-enroll-tokens", { expires_in_ms: 10 });
    assert.equal(bad.status, 400);
    const badState = await admin("GET", "/api/v1/agent-identities?state=sleeping");
    assert.equal(badState.status, 400);
  });

  it("read and write tokens get 403 on every enrollment route", async () => {
    const routes: Array<[string, string]> = [
      ["GET", "/api/v1/agent-identities"],
      ["GET", "/api/v1/agent-identities?state=pending"],
      ["POST", "/api/v1/agent-identities/db-01/accept"],
      ["POST", "/api/v1/agent-identities/db-01/reject"],
      ["POST", "/api/v1/agent-identities/db-01/revoke"],
      ["DELETE", "/api/v1/agent-identities/db-01"],
      ["POST", "/api/v1/agent-enroll-tokens"],
    ];
    for (const scope of ["read", "write"] as const) {
      for (const [method, path] of routes) {
        const r = await callApi(api.url, testTokens[scope], method, path);
        assert.equal(r.status, 403, `${scope} ${method} ${path}`);
        assert.equal((r.body.error as { code: string }).code, "forbidden");
      }
    }
    // Nothing changed: db-01 is still accepted.
    assert.equal((await identities()).find((i) => i.hostname === "db-01")?.state, "accepted");
  });

  it("a server whose NATS does not use identities says so; changes answer 422 unsupported", async () => {
    const plain = await d.runServer();
    try {
      const list = await callApi(plain.url, testTokens.admin, "GET", "/api/v1/agent-identities");
      assert.equal(list.status, 200);
      assert.equal(list.body.enabled, false);
      assert.match(list.body.reason as string, /not enabled/);
      assert.deepEqual(list.body.identities, []);
      for (const [method, path] of [
        ["POST", "/api/v1/agent-identities/db-01/revoke"],
        ["POST", "/api/v1/agent-enroll-tokens"],
      ] as const) {
        const r = await callApi(plain.url, testTokens.admin, method, path);
        assert.equal(r.status, 422, `${method} ${path}`);
        assert.equal((r.body.error as { code: string }).code, "unsupported");
      }
    } finally {
      await plain.close();
    }
    assert.equal((await identities()).find((i) => i.hostname === "db-01")?.state, "accepted");
  });
});
