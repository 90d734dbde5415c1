/**
 * Agents as NATS identities (docs/security.md, "Who can do what"), against a real nats-server with
 * jetjob's auth callout config: each agent connects as itself and the server refuses everything its
 * permissions do not name. Agent A cannot store a result, timeline event or registry entry for host
 * B, purge streams or read other subjects; an unaccepted agent cannot join, an accepted one runs
 * jobs, a revoked one is cut off; an enrollment token accepts at once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { KeyPair } from "@nats-io/jwt";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";

import type { AuthCallout } from "../../src/access/callout.js";
import { startAuthCallout } from "../../src/access/callout.js";
import { agentUser, ENROLL_TOKEN_SEPARATOR, newSecret } from "../../src/access/identities.js";
import { inboxPrefixFor } from "../../src/access/permissions.js";
import type { Agent } from "../../src/agent/agent.js";
import { createAgent } from "../../src/agent/agent.js";
import { silentLogger } from "../../src/core/logger.js";
import { foreignEventCount } from "../../src/fleet/timeline.js";
import type { RunningNatsServer } from "../../src/natsd/index.js";
import { createAuthenticator } from "../../src/server/auth.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { hostToken, resolveTopology } from "../../src/store/infra/topology.js";
import type { CalloutDeployment } from "../harness/callout.js";
import { startCalloutDeployment } from "../harness/callout.js";
import { waitFor } from "../harness/nats.js";

const topology = resolveTopology();
const enc = new TextEncoder();

describe("NATS identities (auth callout)", () => {
  let d: CalloutDeployment;
  let server: RunningNatsServer;
  let issuer: KeyPair;
  let api: RunningApiServer;
  let system: NatsConnection;
  let callout: AuthCallout;
  const agents: Agent[] = [];
  const conns: NatsConnection[] = [];
  const secrets = new Map<string, string>();
  /** Permission violations the server logged. */
  let violations: string[] = [];

  /** An agent's own login (as `jetjob agent` would use it). */
  const login = (host: string, extra = "") => ({
    user: agentUser(host),
    pass: secrets.get(host)! + extra,
    inboxPrefix: inboxPrefixFor(host),
  });
  const rawConnect = async (host: string) => {
    const nc = await connect({ servers: server.url, ...login(host), maxReconnectAttempts: 0 });
    conns.push(nc);
    return nc;
  };
  const startAgent = async (host: string) => {
    const a = await createAgent({
      nats: server.url,
      natsOptions: login(host),
      hostname: host,
      logger: silentLogger,
      handleSignals: false,
      timings: { heartbeatMs: 200 },
      builtins: false,
      handlers: { "test.echo": { kind: "query", handler: (job) => ({ host: job.hostname }) } },
    });
    agents.push(a);
    return a;
  };
  const runJob = (target: string) =>
    api.fleet.create({ op: "test.echo", target, timeoutMs: 5000, ackWindowMs: 300 });
  const finished = async (id: string) =>
    waitFor(
      async () => {
        const rec = api.fleet.run(id) === undefined ? await readRecord(id) : undefined;
        return rec && rec.status !== "running" ? rec : undefined;
      },
      { timeoutMs: 10_000, what: `fleet job ${id} to finish` },
    );
  const readRecord = async (id: string) => {
    const e = await api.engine.ctx.buckets.fleet.get(`j.${id}`);
    return e?.operation === "PUT" ? e.json<{ status: string; hosts: string[] }>() : undefined;
  };

  before(async () => {
    d = await startCalloutDeployment({
      prefix: "jetjob-ident-",
      auth: createAuthenticator([{ name: "admin", token: "identities-test-token-1", scope: "admin" }]),
      api: { fleet: { timings: { ackWindowMs: 300, livenessCheckMs: 100 } } },
    });
    ({ server, issuer, api, system, callout, violations } = d);
    for (const host of ["host-a", "host-b"]) {
      secrets.set(host, newSecret());
      await callout.identities.acceptLocal(host, secrets.get(host)!);
    }
    await startAgent("host-a");
    await startAgent("host-b");
    await waitFor(() => api.fleet.registry.agents().length >= 2, { what: "both agents registered" });
  });

  after(async () => {
    for (const a of agents) await a.close();
    for (const nc of conns) if (!nc.isClosed()) await nc.close();
    await callout?.close(); // a test replaces the deployment's callout service with another one
    await d?.close();
  });

  it("an accepted agent runs jobs with its own identity", async () => {
    const rec = await runJob("all");
    const done = await finished(rec.id);
    assert.equal(done.status, "completed");
    assert.deepEqual(done.hosts, ["host-a", "host-b"]);
    // Registering, heartbeats, taking and reporting the job stayed inside the agents' permissions.
    assert.deepEqual(violations, []);
  });

  it("agent A cannot store a result, timeline event or registry entry for host B", async () => {
    const rec = await runJob("host-b");
    await finished(rec.id);
    const nc = await rawConnect("host-a");
    const js = jetstream(nc, { timeout: 2000 });
    const forged = { e: "completed", h: "host-b", at: Date.now(), ep: 1, by: "forger", d: { result: "x" } };
    const bSubject = `${topology.prefix}.ft.${rec.id}.${hostToken("host-b")}`;
    const ctlSubject = `${topology.prefix}.ft.${rec.id}._`;
    await assert.rejects(js.publish(bSubject, JSON.stringify(forged)));
    await assert.rejects(js.publish(ctlSubject, JSON.stringify(forged)));
    await assert.rejects(
      js.publish(`$KV.${topology.buckets.agents}.a.${hostToken("host-b")}`, JSON.stringify({ x: 1 })),
    );
    // Nothing of it was stored: B's last event is still its own, the controller's subject has no forgery.
    const jsm = await jetstreamManager(api.nc);
    const lastB = await jsm.streams.getMessage(topology.streams.fleet, { last_by_subj: bSubject });
    assert.notEqual((lastB?.json() as { by: string }).by, "forger");
    const entry = await api.engine.ctx.buckets.agents.get(`a.${hostToken("host-b")}`);
    assert.equal((entry?.json() as { hostname: string }).hostname, "host-b");
    // Its own subject is allowed, but a result claiming host B there is ignored by the controller.
    const before = foreignEventCount();
    const aSubject = `${topology.prefix}.ft.${rec.id}.${hostToken("host-a")}`;
    await js.publish(aSubject, enc.encode(JSON.stringify(forged)));
    const events = await api.fleet.ctx.jsm.streams.getMessage(topology.streams.fleet, {
      last_by_subj: aSubject,
    });
    assert.ok(events, "A's own subject takes its events");
    const view = await readRecord(rec.id);
    assert.equal(view?.status, "completed");
    await nc.close();
    // Reading the job back through the fold skips it (counted).
    const { getFleetJob } = await import("../../src/fleet/jobs.js");
    const job = await getFleetJob(api.fleet, rec.id);
    assert.ok(foreignEventCount() > before, "the forged event was counted");
    assert.deepEqual(job.hosts, ["host-b"]);
    assert.ok(!JSON.stringify(job).includes("forger"), "the forged event is not part of the job");
  });

  it("an agent cannot purge streams, create consumers, or read other subjects", async () => {
    const nc = await rawConnect("host-a");
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 2000 });
    await assert.rejects(jsm.streams.purge(topology.streams.fleet));
    await assert.rejects(jsm.streams.purge(topology.streams.queue));
    await assert.rejects(jsm.streams.delete(`KV_${topology.buckets.tokens}`));
    await assert.rejects(
      nc.request(`$JS.API.DIRECT.GET.KV_${topology.buckets.tokens}`, '{"last_by_subj":">"}', {
        timeout: 2000,
      }),
    );
    // Subscribing to another host's dispatches (or to everything) is refused by the server.
    const refused: string[] = [];
    const statusLoop = (async () => {
      for await (const s of nc.status()) if (s.type === "error") refused.push(String(s.error?.message));
    })();
    nc.subscribe(`${topology.prefix}.fx.${hostToken("host-b")}`);
    nc.subscribe(">");
    nc.subscribe("_INBOX.>");
    await waitFor(() => refused.filter((m) => /Subscription/.test(m)).length >= 3, {
      what: "three subscription violations",
    });
    await nc.close();
    await statusLoop;
  });

  it("an unaccepted agent cannot join; accepted it runs jobs; revoked it is cut off", async () => {
    secrets.set("host-c", newSecret());
    await assert.rejects(rawConnect("host-c"));
    const pending = (await callout.identities.list()).find((i) => i.hostname === "host-c");
    assert.equal(pending?.state, "pending");
    await callout.identities.decide("host-c", "accepted", "test");
    const agent = await startAgent("host-c");
    await waitFor(() => api.fleet.registry.agent("host-c"), { what: "host-c registered" });
    const done = await finished((await runJob("host-c")).id);
    assert.equal(done.status, "completed");
    // Revoked: disconnected, and every reconnect is refused. The service that revokes it is not the
    // one that admitted it (a restarted server, another node's): it finds the connection anyway.
    const nc = await rawConnect("host-c");
    const closed = nc.closed();
    await callout.close();
    callout = await startAuthCallout({ nc: api.nc, issuer, topology, system, logger: silentLogger });
    await callout.identities.decide("host-c", "revoked", "test");
    let isClosed = false;
    void closed.then(() => (isClosed = true));
    await waitFor(() => isClosed, { what: "the revoked agent's connection to be closed" });
    await assert.rejects(rawConnect("host-c"));
    assert.ok(callout.stats().kicked >= 1);
    await agent.close();
  });

  it("a wrong secret for a known agent is refused; an enrollment token accepts at once", async () => {
    secrets.set("host-a-imposter", secrets.get("host-a")!);
    const realA = secrets.get("host-a")!;
    secrets.set("host-a", newSecret());
    await assert.rejects(rawConnect("host-a"));
    secrets.set("host-a", realA);
    const { token } = await callout.identities.createEnrollToken({ by: "test", expiresInMs: 60_000 });
    secrets.set("host-d", newSecret());
    const nc = await rawConnect("host-d").catch(() => undefined);
    assert.equal(nc, undefined, "without the token it waits for an operator");
    const withToken = await connect({
      servers: server.url,
      ...login("host-d", ENROLL_TOKEN_SEPARATOR + token),
    });
    conns.push(withToken);
    const rec = (await callout.identities.get("host-d")).record;
    assert.equal(rec?.state, "accepted");
    // The token was for one use.
    secrets.set("host-e", newSecret());
    await assert.rejects(
      connect({
        servers: server.url,
        ...login("host-e", ENROLL_TOKEN_SEPARATOR + token),
        maxReconnectAttempts: 0,
      }),
    );
    await withToken.close();
  });
});
