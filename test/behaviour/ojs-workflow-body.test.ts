/**
 * Workflow answers for the official OJS clients (issue 17): `POST /ojs/v1/workflows` and
 * `GET /ojs/v1/workflows/{id}` keep `workflow` (http-binding §14, the JS SDK) and carry the same fields at
 * the top level, where the OJS CLI (`workflow create` printed `id=-`, `workflow status` blanks) and the
 * admin UI's workflow drawer (`workflow.steps.length` of undefined: "Something went wrong") read them.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { RunningApiServer } from "../../src/server/run.js";
import { callApi, runTestServer } from "../harness/app.js";
import { useNats } from "../harness/nats.js";

const h = useNats();
const token = "tok-admin-ojs-workflow-body-93d1";

describe("OJS workflow answers", () => {
  let srv: RunningApiServer;
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
  });
  after(async () => {
    await srv.close();
  });

  it("gives the workflow both under `workflow` and at the top level, on create and on get", async () => {
    // The OJS CLI's `workflow create --name … --steps '[…]'` body (http-binding §14.1 form).
    const created = await callApi(srv.url, token, "POST", "/ojs/v1/workflows", {
      name: "order-pipeline",
      steps: [
        { id: "validate", type: "order.validate", args: ["o-1"] },
        { id: "charge", type: "payment.charge", args: ["o-1"], depends_on: ["validate"] },
      ],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const wf = created.body.workflow as Record<string, unknown>;
    assert.equal(typeof wf.id, "string");
    for (const k of Object.keys(wf)) assert.deepEqual(created.body[k], wf[k], `top-level ${k}`);

    const got = await callApi(srv.url, token, "GET", `/ojs/v1/workflows/${String(wf.id)}`);
    assert.equal(got.status, 200);
    const again = got.body.workflow as Record<string, unknown>;
    assert.equal(again.id, wf.id);
    // What the CLI's `workflow status` and the admin UI's drawer read.
    assert.equal(got.body.id, wf.id);
    assert.equal(got.body.name, "order-pipeline");
    assert.equal(got.body.state, again.state);
    assert.equal(got.body.steps_total, 2);
    assert.ok(Array.isArray(got.body.steps) && (got.body.steps as unknown[]).length === 2);
    assert.equal(typeof got.body.created_at, "string");
  });
});
