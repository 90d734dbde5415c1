/**
 * The workflows list and cancel the official clients call (issue 17): `GET /ojs/v1/workflows` pages
 * newest first with the admin UI's `items` + `pagination` and the OJS CLI's `workflows` + `total`,
 * filters by state (the UI's `active` = running), and `POST /ojs/v1/workflows/{id}/cancel` cancels.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { RunningApiServer } from "../../src/server/run.js";
import { callApi, runTestServer } from "../harness/app.js";
import { useNats } from "../harness/nats.js";

const h = useNats();
const token = "tok-admin-ojs-workflow-list-3d9e";

describe("OJS workflows list and cancel", () => {
  let srv: RunningApiServer;
  const ids: string[] = [];
  const api = (method: string, path: string, body?: unknown) => callApi(srv.url, token, method, path, body);

  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
    const bodies = [
      {
        type: "chain",
        name: "c1",
        steps: [
          { type: "wl.a", args: [] },
          { type: "wl.b", args: [] },
        ],
      },
      {
        type: "group",
        name: "g1",
        jobs: [
          { type: "wl.a", args: [] },
          { type: "wl.b", args: [] },
        ],
      },
      { type: "chain", name: "c2", steps: [{ type: "wl.a", args: [] }] },
    ];
    for (const b of bodies) {
      const r = await api("POST", "/ojs/v1/workflows", b);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      ids.push(r.body.id as string);
    }
  });
  after(async () => {
    await srv.close();
  });

  it("pages newest first with items, pagination, workflows and total", async () => {
    const r = await api("GET", "/ojs/v1/workflows?page=1&per_page=2");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const items = r.body.items as Array<Record<string, unknown>>;
    assert.deepEqual(
      items.map((w) => w.id),
      [ids[2], ids[1]],
    );
    assert.equal(items[1]!.steps_total, 2);
    assert.equal(items[1]!.steps_completed, 0);
    assert.equal(items[1]!.step_count, 2);
    assert.equal(items[0]!.name, "c2");
    assert.deepEqual(r.body.pagination, { total: 3, page: 1, per_page: 2, total_pages: 2, has_more: true });
    assert.equal(r.body.total, 3);
    assert.deepEqual(r.body.workflows, items);
    const p2 = await api("GET", "/ojs/v1/workflows?page=2&per_page=2");
    assert.deepEqual(
      (p2.body.items as Array<{ id: string }>).map((w) => w.id),
      [ids[0]],
    );
    const cli = await api("GET", "/ojs/v1/workflows?limit=25");
    assert.equal((cli.body.workflows as unknown[]).length, 3);
  });

  it("cancels with POST …/cancel and filters by state", async () => {
    const c = await api("POST", `/ojs/v1/workflows/${ids[0]!}/cancel`);
    assert.equal(c.status, 200, JSON.stringify(c.body));
    assert.equal(c.body.state, "cancelled");
    assert.equal((c.body.workflow as { state: string }).state, "cancelled");
    const cancelled = await api("GET", "/ojs/v1/workflows?state=cancelled");
    assert.deepEqual(
      (cancelled.body.items as Array<{ id: string }>).map((w) => w.id),
      [ids[0]],
    );
    assert.equal(cancelled.body.total, 1);
    const active = await api("GET", "/ojs/v1/workflows?state=active&per_page=10");
    assert.deepEqual(
      (active.body.items as Array<{ id: string }>).map((w) => w.id),
      [ids[2], ids[1]],
    );
    assert.equal((await api("GET", "/ojs/v1/workflows?state=pending")).body.total, 0);
    assert.equal((await api("GET", "/ojs/v1/workflows?state=bogus")).status, 400);
    assert.equal((await api("POST", "/ojs/v1/workflows/nope/cancel")).status, 404);
  });
});
