/**
 * The worker and queue summary in `GET /ojs/v1/health` (issue 17: the official admin UI's dashboard
 * reads `workers.{active,total,stale}` and `queues.{total,paused}`), beside the fields it had.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { RunningApiServer } from "../../src/server/run.js";
import { callApi, runTestServer } from "../harness/app.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "tok-admin-ojs-health-sum-61f0";

describe("OJS health summary", () => {
  let srv: RunningApiServer;
  const api = (method: string, path: string, body?: unknown) => callApi(srv.url, token, method, path, body);
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
  });
  after(async () => {
    await srv.close();
  });

  it("counts queues (paused ones too) and registered workers", async () => {
    for (const queue of ["hs-a", "hs-b"]) {
      assert.equal(
        (await api("POST", "/ojs/v1/jobs", { type: "hs.t", args: [], options: { queue } })).status,
        201,
      );
    }
    assert.equal((await api("POST", "/ojs/v1/queues/hs-b/pause")).status, 200);
    await api("POST", "/ojs/v1/workers/fetch", { queues: ["hs-a"], worker_id: "hs-worker" });
    const body = await waitFor(async () => {
      const r = await api("GET", "/ojs/v1/health");
      const w = r.body.workers as { total: number } | undefined;
      return r.status === 200 && w && w.total >= 1 ? r.body : undefined;
    });
    assert.deepEqual(body.queues, { total: 2, paused: 1 });
    assert.deepEqual(body.workers, { total: 1, active: 1, stale: 0 });
    assert.equal(body.status, "ok");
    assert.equal((body.backend as { status: string }).status, "ok");
  });
});
