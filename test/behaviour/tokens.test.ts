/**
 * API tokens at run time (issue 18): created, listed and revoked through the API of one server,
 * effective on another server of the same NATS within a second, no restart; never shown again; jobs
 * enqueued with a token carry its name as `created_by`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { RunningApiServer } from "../../src/server/run.js";
import { callApi, runTestServer } from "../harness/app.js";
import { cli } from "../harness/cli.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const admin = "tokens-admin-token-0123456789";

describe("API tokens at run time", () => {
  let a: RunningApiServer;
  let b: RunningApiServer;
  const call = (srv: RunningApiServer, token: string, method: string, path: string, body?: unknown) =>
    callApi(srv.url, token, method, path, body);

  before(async () => {
    a = await runTestServer(h.nats.url, [{ name: "admin", token: admin, scope: "admin" }]);
    b = await runTestServer(h.nats.url, [{ name: "admin", token: admin, scope: "admin" }]);
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  it("a token created on one server works on both at once; revoked, both refuse it within a second", async () => {
    const created = await call(a, admin, "POST", "/api/v1/tokens", { name: "ci", scope: "write" });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const token = created.body.token as string;
    assert.match(token, /^jj_/);
    assert.equal(created.body.created_by, "admin");
    assert.equal(created.body.scope, "write");

    const t0 = Date.now();
    await waitFor(async () => (await call(b, token, "GET", "/ojs/v1/queues")).status === 200, {
      timeoutMs: 1000,
      what: "the new token to work on the other server",
    });
    assert.equal((await call(a, token, "GET", "/ojs/v1/queues")).status, 200);
    assert.ok(Date.now() - t0 < 1000);
    const pushed = await call(b, token, "POST", "/ojs/v1/jobs", { type: "t.x", args: [] });
    assert.equal(pushed.status, 201, "write scope");
    assert.equal((await call(b, token, "GET", "/api/v1/tokens")).status, 403, "not admin");

    const listed = await call(b, admin, "GET", "/api/v1/tokens");
    const tokens = listed.body.tokens as Array<Record<string, unknown>>;
    assert.deepEqual(
      tokens.map((t) => t.name),
      ["ci"],
    );
    assert.ok(!JSON.stringify(listed.body).includes(token), "the token is never shown again");
    assert.equal(tokens[0]!.digest, undefined);

    assert.equal((await call(a, admin, "POST", "/api/v1/tokens", { name: "ci", scope: "read" })).status, 409);

    const revoked = await call(a, admin, "DELETE", "/api/v1/tokens/ci");
    assert.equal(revoked.status, 200);
    const t1 = Date.now();
    await waitFor(
      async () =>
        (await call(a, token, "GET", "/ojs/v1/queues")).status === 401 &&
        (await call(b, token, "GET", "/ojs/v1/queues")).status === 401,
      { timeoutMs: 1000, what: "both servers to refuse the revoked token" },
    );
    assert.ok(Date.now() - t1 < 1000, `refused after ${Date.now() - t1} ms`);
    assert.equal((await call(b, admin, "DELETE", "/api/v1/tokens/ci")).status, 404);
    assert.equal((await call(b, admin, "GET", "/ojs/v1/queues")).status, 200, "the start-up token stays");
  });

  it("jobs record the name of the token that enqueued them as created_by; a body cannot claim one", async () => {
    const created = await call(a, admin, "POST", "/api/v1/tokens", { name: "billing-app", scope: "write" });
    const token = created.body.token as string;
    await waitFor(async () => (await call(b, token, "GET", "/ojs/v1/queues")).status === 200, {
      what: "the token to work on the other server",
    });
    const one = await call(b, token, "POST", "/ojs/v1/jobs", {
      type: "t.by",
      args: [],
      created_by: "somebody-else",
    });
    assert.equal(one.status, 201, JSON.stringify(one.body));
    const job = one.body.job as Record<string, unknown>;
    assert.equal(job.created_by, "billing-app");
    const batch = await call(a, token, "POST", "/ojs/v1/jobs/batch", {
      jobs: [
        { type: "t.by", args: [1] },
        { type: "t.by", args: [2], created_by: "x" },
      ],
    });
    assert.equal(batch.status, 201, JSON.stringify(batch.body));
    const ids = [job.id, ...(batch.body.jobs as Array<{ id: string }>).map((j) => j.id)];
    for (const id of ids) {
      const got = await call(a, admin, "GET", `/ojs/v1/jobs/${String(id)}`);
      assert.equal((got.body.job as Record<string, unknown>).created_by, "billing-app", String(id));
    }
    await call(a, admin, "DELETE", "/api/v1/tokens/billing-app");
  });

  it("a workflow created with a token records its name, on the workflow and on every job it enqueues", async () => {
    const created = await call(a, admin, "POST", "/api/v1/tokens", { name: "wf-app", scope: "write" });
    const token = created.body.token as string;
    const chain = await call(a, token, "POST", "/ojs/v1/workflows", {
      type: "chain",
      steps: [
        { type: "t.wf", args: [1], options: { queue: "by-wf" } },
        { type: "t.wf", args: [2], options: { queue: "by-wf" } },
      ],
    });
    assert.equal(chain.status, 201, JSON.stringify(chain.body));
    const wf = chain.body.workflow as { id: string; created_by?: string; job_ids: string[] };
    assert.equal(wf.created_by, "wf-app");
    // The second step is enqueued later, when the first completes: it carries the name too.
    const fetched = await call(a, admin, "POST", "/ojs/v1/workers/fetch", { queues: ["by-wf"], count: 1 });
    const first = (fetched.body.jobs as Array<{ id: string; created_by?: string }>)[0]!;
    assert.equal(first.created_by, "wf-app");
    assert.equal((await call(a, admin, "POST", "/ojs/v1/workers/ack", { job_id: first.id })).status, 200);
    const second = await waitFor(
      async () => {
        const got = await call(a, admin, "GET", `/ojs/v1/workflows/${wf.id}`);
        const ids = (got.body.workflow as { job_ids: string[] }).job_ids;
        return ids.length === 2 ? ids[1] : undefined;
      },
      { what: "the chain's second step" },
    );
    const job = (await call(a, admin, "GET", `/ojs/v1/jobs/${second}`)).body.job as Record<string, unknown>;
    assert.equal(job.created_by, "wf-app");
    const group = await call(b, token, "POST", "/ojs/v1/workflows", {
      type: "group",
      jobs: [{ type: "t.wf", args: [3], options: { queue: "by-wf-g" } }],
    });
    const gid = (group.body.workflow as { job_ids: string[] }).job_ids[0]!;
    const gjob = (await call(b, admin, "GET", `/ojs/v1/jobs/${gid}`)).body.job as Record<string, unknown>;
    assert.equal(gjob.created_by, "wf-app");
    await call(a, admin, "DELETE", "/api/v1/tokens/wf-app");
  });

  it("an expiring token stops working when it expires", async () => {
    const created = await call(a, admin, "POST", "/api/v1/tokens", {
      name: "short",
      scope: "read",
      expires_in_ms: 1500,
    });
    assert.equal(created.status, 201);
    const token = created.body.token as string;
    assert.equal((await call(a, token, "GET", "/ojs/v1/queues")).status, 200);
    await waitFor(async () => (await call(b, token, "GET", "/ojs/v1/queues")).status === 401, {
      timeoutMs: 5000,
      what: "the token to expire",
    });
    const listed = (await call(a, admin, "GET", "/api/v1/tokens")).body.tokens as Array<
      Record<string, unknown>
    >;
    assert.equal(listed.find((t) => t.name === "short")?.expired, true);
  });

  it("jetjob token create, list and revoke", async () => {
    const flags = ["--api", a.url, "--token", admin];
    const made = await cli([
      "token",
      "create",
      "--name",
      "cli-made",
      "--scope",
      "write",
      "--expires",
      "30d",
      ...flags,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const token = made.stdout.trim();
    assert.match(token, /^jj_[A-Za-z0-9_-]+$/, "only the token on stdout");
    assert.match(made.stderr, /shown only now/);
    assert.equal((await call(b, token, "GET", "/ojs/v1/queues")).status, 200);
    const list = await cli(["token", "list", ...flags]);
    assert.match(list.stdout, /^cli-made\s+tok_\w+\s+write\s+\S+\s+admin\s+\d{4}-/m);
    assert.ok(!list.stdout.includes(token));
    const revoke = await cli(["token", "revoke", "cli-made", ...flags]);
    assert.equal(revoke.code, 0, revoke.stderr);
    await waitFor(async () => (await call(b, token, "GET", "/ojs/v1/queues")).status === 401, {
      timeoutMs: 1000,
      what: "the revoked token refused",
    });
    assert.equal((await cli(["token", "revoke", "cli-made", ...flags])).code, 4, "not found");
  });
});
