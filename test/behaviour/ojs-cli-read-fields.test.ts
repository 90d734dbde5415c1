/**
 * Fields the official OJS CLI reads where the http-binding puts them elsewhere (issue 17):
 * `status <id>` reads the job's fields at the top level of `GET /ojs/v1/jobs/{id}` (the spec and the
 * SDKs read `job`), and `dead-letter` reads a top-level `total` (the spec: `pagination.total`). Both
 * forms are answered; the job's objects (args, meta, result) stay inside `job` only, so the extra
 * bytes are bounded.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { RunningApiServer } from "../../src/server/run.js";
import { callApi, runTestServer } from "../harness/app.js";
import { useNats } from "../harness/nats.js";

const h = useNats();
const token = "tok-admin-ojs-cli-fields-90ab";

describe("OJS CLI read fields", () => {
  let srv: RunningApiServer;
  const api = (method: string, path: string, body?: unknown) => callApi(srv.url, token, method, path, body);
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
  });
  after(async () => {
    await srv.close();
  });

  it("GET /ojs/v1/jobs/{id}: job, and its single-value fields at the top level", async () => {
    const created = await api("POST", "/ojs/v1/jobs", {
      type: "cf.t",
      args: [{ big: "x".repeat(100) }],
      meta: { k: "v" },
      options: { queue: "cf", priority: 3 },
    });
    const id = (created.body.job as { id: string }).id;
    const r = await api("GET", `/ojs/v1/jobs/${id}`);
    assert.equal(r.status, 200);
    const job = r.body.job as Record<string, unknown>;
    assert.deepEqual(job.args, [{ big: "x".repeat(100) }]);
    for (const k of ["id", "type", "state", "queue", "attempt", "priority", "created_at"])
      assert.deepEqual(r.body[k], job[k], k);
    assert.equal(r.body.id, id);
    assert.equal(r.body.priority, 3);
    assert.equal(r.body.args, undefined);
    assert.equal(r.body.meta, undefined);
  });

  it("GET /ojs/v1/dead-letter: total beside pagination.total", async () => {
    const { body } = await api("POST", "/ojs/v1/jobs", {
      type: "cf.fails",
      args: [],
      options: { queue: "cf-dlq", retry: { max_attempts: 1, on_exhaustion: "dead_letter" } },
    });
    const id = (body.job as { id: string }).id;
    const fetched = await api("POST", "/ojs/v1/workers/fetch", { queues: ["cf-dlq"], worker_id: "cf-w" });
    assert.equal((fetched.body.jobs as Array<{ id: string }>)[0]?.id, id);
    assert.equal(
      (await api("POST", "/ojs/v1/workers/nack", { job_id: id, error: { message: "boom" } })).status,
      200,
    );
    const r = await api("GET", "/ojs/v1/dead-letter?limit=25");
    assert.equal(r.status, 200);
    assert.equal(r.body.total, 1);
    assert.equal((r.body.pagination as { total: number }).total, 1);
  });
});
