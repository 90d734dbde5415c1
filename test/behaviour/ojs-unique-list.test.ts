/**
 * `GET /ojs/v1/unique-jobs` (issue 17: the admin UI's Unique Jobs page): the keys that block a new
 * job now, with their job; a key whose job finished is not listed.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { RunningApiServer } from "../../src/server/run.js";
import { callApi, runTestServer } from "../harness/app.js";
import { useNats } from "../harness/nats.js";

const h = useNats();
const token = "tok-admin-ojs-unique-list-c4d2";

describe("OJS unique-jobs list", () => {
  let srv: RunningApiServer;
  const api = (method: string, path: string, body?: unknown) => callApi(srv.url, token, method, path, body);
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
  });
  after(async () => {
    await srv.close();
  });

  it("lists blocking keys with their job, not those of finished jobs", async () => {
    const ids: string[] = [];
    for (const n of [1, 2]) {
      const r = await api("POST", "/ojs/v1/jobs", {
        type: "uq.t",
        args: [n],
        options: { queue: "uq", unique: { key: ["type", "args"], period: "PT1H" } },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      ids.push((r.body.job as { id: string }).id);
    }
    assert.equal((await api("DELETE", `/ojs/v1/jobs/${ids[0]!}`)).status, 200);
    const r = await api("GET", "/ojs/v1/unique-jobs?page=1&per_page=25");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const items = r.body.items as Array<Record<string, unknown>>;
    assert.equal(items.length, 1);
    assert.equal(items[0]!.job_id, ids[1]);
    assert.equal(items[0]!.type, "uq.t");
    assert.equal(items[0]!.queue, "uq");
    assert.equal(items[0]!.state, "available");
    assert.match(String(items[0]!.key), /^u\.[0-9a-f]{64}$/);
    assert.equal(typeof items[0]!.locked_until, "string");
    assert.equal((r.body.pagination as { total: number }).total, 1);
  });
});
