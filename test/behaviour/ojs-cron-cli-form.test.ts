/**
 * Cron registration in the official OJS CLI's form (issue 17): `ojs cron --register --name … --expression
 * … --type …` posts a `job_template` without `args`, which ojs-cron §2.2 makes optional (default `[]`);
 * it was refused with 400 "job_template: args must be a JSON array".
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { RunningApiServer } from "../../src/server/run.js";
import { callApi, runTestServer } from "../harness/app.js";
import { useNats } from "../harness/nats.js";

const h = useNats();
const token = "tok-admin-ojs-cron-cli-5be0";

describe("OJS cron registration without args", () => {
  let srv: RunningApiServer;
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
  });
  after(async () => {
    await srv.close();
  });

  it("registers the CLI's job_template without args, with args [] for the jobs it makes", async () => {
    const r = await callApi(srv.url, token, "POST", "/ojs/v1/cron", {
      name: "cli-cron",
      expression: "*/5 * * * *",
      job_template: { type: "cli.tick", options: { queue: "default" } },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const cron = r.body.cron as { job_template: Record<string, unknown> };
    assert.deepEqual(cron.job_template.args, []);
    const listed = await callApi(srv.url, token, "GET", "/ojs/v1/cron");
    const entry = (
      listed.body.cron_jobs as Array<{ name: string; job_template: Record<string, unknown> }>
    ).find((c) => c.name === "cli-cron");
    assert.deepEqual(entry?.job_template.args, []);
  });

  it("still refuses args that are not an array", async () => {
    const r = await callApi(srv.url, token, "POST", "/ojs/v1/cron", {
      name: "cli-cron-bad",
      expression: "*/5 * * * *",
      job_template: { type: "cli.tick", args: { a: 1 } },
    });
    assert.equal(r.status, 400);
  });
});
