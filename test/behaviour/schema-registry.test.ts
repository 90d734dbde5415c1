/**
 * Schema registry (issue 17, ojs-schema-registry): the three request forms over one store, enqueue
 * validation on every door (single, batch, NATS client), and a second API server seeing a schema
 * registered on the first.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import type { NatsConnection } from "@nats-io/nats-core";

import { isJetjobError } from "../../src/client/index.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { callApi, runTestServer } from "../harness/app.js";
import type { TestClients } from "../harness/clients.js";
import { createTestClients, transports } from "../harness/clients.js";
import { cli } from "../harness/cli.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const admin = "schemas-admin-token-0123456789";

describe("schema registry", () => {
  let a: RunningApiServer;
  let b: RunningApiServer;
  let nc: NatsConnection;
  let clients: TestClients;
  const call = (method: string, path: string, body?: unknown, srv = a) =>
    callApi(srv.url, admin, method, path, body);

  before(async () => {
    a = await runTestServer(h.nats.url, [{ name: "admin", token: admin, scope: "admin" }]);
    b = await runTestServer(h.nats.url, [{ name: "admin", token: admin, scope: "admin" }]);
    nc = await h.nats.connect();
    clients = createTestClients({ url: a.url, token: admin, nats: nc });
  });
  after(async () => {
    await clients.close();
    await nc.close();
    await a.close();
    await b.close();
  });

  it("admin form: register, 409 on the same version, latest, one version, versions, delete", async () => {
    const tuple = { type: "array", items: [{ type: "string" }], minItems: 1 }; // draft-07 tuple form
    const v1 = await call("PUT", "/ojs/v1/admin/schemas/order.process/1", { schema: tuple });
    assert.equal(v1.status, 201, JSON.stringify(v1.body));
    assert.equal(v1.body.type, "order.process");
    assert.equal(v1.body.version, 1);
    assert.equal(v1.body.uri, "urn:ojs:schema:order.process:v1");
    const again = await call("PUT", "/ojs/v1/admin/schemas/order.process/1", { schema: { type: "array" } });
    assert.equal(again.status, 409);
    assert.equal((await call("PUT", "/ojs/v1/admin/schemas/order.bad/1", {})).status, 400);
    const bad = await call("PUT", "/ojs/v1/admin/schemas/order.bad/1", { schema: { type: "nope" } });
    assert.equal(bad.status, 400);
    assert.equal((bad.body.error as Record<string, unknown>).code, "invalid_request");
    assert.equal((await call("GET", "/ojs/v1/admin/schemas/order.bad")).status, 404);

    const two = { type: "array", prefixItems: [{ type: "string" }, { type: "object" }] };
    assert.equal((await call("PUT", "/ojs/v1/admin/schemas/order.process/2", { schema: two })).status, 201);
    const latest = await call("GET", "/ojs/v1/admin/schemas/order.process");
    assert.equal(latest.body.version, 2);
    assert.deepEqual(latest.body.schema, two);
    const first = await call("GET", "/ojs/v1/admin/schemas/order.process/1");
    assert.equal(first.body.version, 1);
    assert.equal((first.body.schema as Record<string, unknown>).minItems, 1);
    const versions = await call("GET", "/ojs/v1/admin/schemas/order.process/versions");
    assert.deepEqual(
      (versions.body.versions as Array<Record<string, unknown>>).map((v) => [v.version, v.is_latest]),
      [
        [2, true],
        [1, false],
      ],
    );
    assert.equal((await call("DELETE", "/ojs/v1/admin/schemas/order.process/2")).status, 200);
    assert.equal((await call("GET", "/ojs/v1/admin/schemas/order.process")).body.version, 1);
    assert.equal((await call("DELETE", "/ojs/v1/admin/schemas/order.process/2")).status, 404);
    assert.equal((await call("DELETE", "/ojs/v1/admin/schemas/order.process/1")).status, 200);
    assert.equal((await call("GET", "/ojs/v1/admin/schemas/order.process")).status, 404);
  });

  it("spec and SDK forms: job_type with SemVer (newest by precedence), by URI, listed, deleted by URI", async () => {
    const schema = {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "array",
      prefixItems: [{ type: "object", required: ["to"], properties: { to: { type: "string" } } }],
    };
    for (const version of ["1.2.0", "1.10.0", "1.10.0-rc.1"]) {
      const r = await call("POST", "/ojs/v1/schemas", { job_type: "mail.send", version, schema });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const latest = await call("GET", "/ojs/v1/schemas/mail.send");
    assert.equal((latest.body.schema as Record<string, unknown>).version, "1.10.0");
    const sdk = await call("POST", "/ojs/v1/schemas", {
      uri: "urn:example:report:1",
      type: "report.make",
      version: "1",
      schema: { type: "array" },
    });
    assert.equal(sdk.status, 201);
    const byUri = await call("GET", `/ojs/v1/schemas/${encodeURIComponent("urn:example:report:1")}`);
    assert.equal(byUri.status, 200);
    assert.equal((byUri.body.schema as Record<string, unknown>).type, "report.make");
    const list = await call("GET", "/ojs/v1/schemas");
    const uris = (list.body.schemas as Array<Record<string, unknown>>).map((s) => s.uri);
    assert.ok(uris.includes("urn:example:report:1") && uris.includes("urn:ojs:schema:mail.send:v1.2.0"));
    const del = await call("DELETE", `/ojs/v1/schemas/${encodeURIComponent("urn:example:report:1")}`);
    assert.equal(del.status, 200);
    assert.equal((await call("GET", "/ojs/v1/admin/schemas/report.make")).status, 404);
    assert.equal((await call("DELETE", "/ojs/v1/schemas/mail.send/1.2.0")).status, 200);
    const versions = await call("GET", "/ojs/v1/schemas/mail.send/versions");
    assert.deepEqual(
      (versions.body.versions as Array<Record<string, unknown>>).map((v) => v.version),
      ["1.10.0", "1.10.0-rc.1"],
    );
  });

  it("enqueues are checked on both servers and both client transports; jobs of other types pass", async () => {
    const schema = {
      type: "array",
      prefixItems: [
        {
          type: "object",
          required: ["email"],
          properties: { email: { type: "string" }, n: { type: "integer" } },
        },
      ],
      minItems: 1,
    };
    assert.equal((await call("PUT", "/ojs/v1/admin/schemas/user.welcome/1", { schema })).status, 201);
    const ok = await call("POST", "/ojs/v1/jobs", { type: "user.welcome", args: [{ email: "a@b" }] });
    assert.equal(ok.status, 201);
    const bad = await call("POST", "/ojs/v1/jobs", { type: "user.welcome", args: [{ n: "x" }] });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    const err = bad.body.error as Record<string, unknown>;
    assert.equal(err.code, "schema_validation");
    const issues = (err.details as { issues: Array<{ path: string; message: string }> }).issues;
    assert.deepEqual(issues.map((i) => i.path).sort(), ["/0", "/0/n"]);
    assert.equal((await call("POST", "/ojs/v1/jobs", { type: "user.other", args: [1] })).status, 201);

    // The other server learnt the schema from the bucket.
    await waitFor(
      async () => (await call("POST", "/ojs/v1/jobs", { type: "user.welcome", args: [] }, b)).status === 400,
      { timeoutMs: 2000, what: "the second server to refuse" },
    );
    const batch = await call(
      "POST",
      "/ojs/v1/jobs/batch",
      {
        jobs: [
          { type: "user.welcome", args: [{ email: "x" }], options: { queue: "sch-batch" } },
          { type: "user.welcome", args: [{ email: 5 }], options: { queue: "sch-batch" } },
        ],
      },
      b,
    );
    assert.equal(batch.status, 400);
    const bi = (batch.body.error as { details: { issues: Array<{ index: number; path: string }> } }).details;
    assert.deepEqual(
      bi.issues.map((i) => [i.index, i.path]),
      [[1, "/0/email"]],
    );
    const listed = await call("GET", "/ojs/v1/queues/sch-batch/stats");
    assert.notEqual(listed.status, 200, "nothing of the refused batch was stored");

    const wf = await call("POST", "/ojs/v1/workflows", {
      type: "chain",
      steps: [
        { type: "user.other", args: [] },
        { type: "user.welcome", args: [{}] },
      ],
    });
    assert.equal(wf.status, 400, "a workflow's steps are checked when it is created");
    assert.equal((wf.body.error as Record<string, unknown>).code, "schema_validation");
    const cron = await call("POST", "/ojs/v1/cron", {
      name: "sch-cron",
      cron: "0 * * * *",
      type: "user.welcome",
      args: [{ email: 7 }],
    });
    assert.equal(cron.status, 400, "a cron job template is checked when it is registered");
    for (const transport of transports) {
      await assert.rejects(
        clients[transport].enqueue("user.welcome", [{ email: 1 }]),
        (e: unknown) => isJetjobError(e) && e.code === "schema_validation",
        transport,
      );
      assert.ok((await clients[transport].enqueue("user.welcome", [{ email: "c@d" }])).id);
    }
  });

  it("jetjob schema register|list|get|delete", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jj-schema-"));
    const file = join(dir, "s.json");
    await writeFile(file, JSON.stringify({ type: "array", maxItems: 1 }));
    const flags = ["--api", a.url, "--token", admin];
    const reg = await cli(["schema", "register", "cli.type", "3", file, ...flags]);
    assert.equal(reg.code, 0, reg.stderr);
    assert.match(reg.stdout, /registered cli\.type version 3/);
    assert.equal((await cli(["schema", "register", "cli.type", "3", file, ...flags])).code, 5, "conflict");
    const listed = await cli(["schema", "list", "--json", ...flags]);
    const items = JSON.parse(listed.stdout) as Array<{ type: string; version: number }>;
    assert.ok(items.some((i) => i.type === "cli.type" && i.version === 3));
    const got = await cli(["schema", "get", "cli.type", "--json", ...flags]);
    assert.equal((JSON.parse(got.stdout) as { schema: { maxItems: number } }).schema.maxItems, 1);
    assert.equal((await call("POST", "/ojs/v1/jobs", { type: "cli.type", args: [1, 2] })).status, 400);
    assert.equal((await cli(["schema", "delete", "cli.type", "3", ...flags])).code, 0);
    assert.equal((await cli(["schema", "get", "cli.type", ...flags])).code, 4, "not found");
    await rm(dir, { recursive: true });
  });

  it("warn mode stores the job and answers the problems as warnings", async () => {
    const schema = { type: "array", prefixItems: [{ type: "integer" }] };
    assert.equal((await call("PUT", "/ojs/v1/admin/schemas/warn.me/1", { schema })).status, 201);
    const w = await runTestServer(h.nats.url, [{ name: "admin", token: admin, scope: "admin" }], {
      schemaValidation: "warn",
    });
    try {
      const r = await waitFor(
        async () => {
          const x = await call("POST", "/ojs/v1/jobs", { type: "warn.me", args: ["x"] }, w);
          return x.body.warnings ? x : undefined;
        },
        { timeoutMs: 2000, what: "a warning" },
      );
      assert.equal(r.status, 201);
      assert.match((r.body.warnings as string[])[0]!, /args\/0: must be integer/);
      assert.equal((await call("POST", "/ojs/v1/jobs", { type: "warn.me", args: ["x"] })).status, 400);
    } finally {
      await w.close();
    }
  });
});
