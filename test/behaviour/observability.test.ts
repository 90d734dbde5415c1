/**
 * What the OJS observability extension's cases check (ext-observability, issue 17), against a real
 * API server: `/ready` beside `/health`, the scrape's Content-Type as asked for, a client's
 * `X-Request-ID` echoed, and a job's W3C `traceparent` kept from enqueue to fetch.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { RunningApiServer } from "../../src/server/run.js";
import { callApi, runTestServer } from "../harness/app.js";
import { useNats } from "../harness/nats.js";

const h = useNats();
const token = "tok-admin-observability-3f9a0c11";

describe("observability endpoints", () => {
  let srv: RunningApiServer;
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
  });
  after(async () => {
    await srv.close();
  });

  it("answers /ready like /ojs/v1/ready, with a status, without a token", async () => {
    for (const path of ["/ready", "/ojs/v1/ready"]) {
      const r = await fetch(`${srv.url}${path}`);
      assert.equal(r.status, 200, path);
      const body = (await r.json()) as Record<string, unknown>;
      assert.equal(body.status, "ready", path);
      assert.equal(body.ready, true, path);
    }
  });

  it("gives a bare text/plain scrape to a client asking for it, the versioned type to Prometheus", async () => {
    const scrape = (accept: string) =>
      fetch(`${srv.url}/metrics`, { headers: { Authorization: `Bearer ${token}`, Accept: accept } });
    const bare = await scrape("text/plain");
    assert.equal(bare.status, 200);
    assert.equal(bare.headers.get("content-type"), "text/plain");
    assert.match(await bare.text(), /^# HELP /m);
    const prometheus = await scrape(
      "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    );
    assert.match(prometheus.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    await prometheus.text();
  });

  it("echoes X-Request-ID and keeps a job's traceparent from enqueue to fetch", async () => {
    const r = await fetch(`${srv.url}/ojs/v1/health`, { headers: { "X-Request-ID": "req-obs-test-1" } });
    assert.equal(r.headers.get("x-request-id"), "req-obs-test-1");
    const health = (await r.json()) as { status: string; backend: { status: string } };
    assert.equal(health.status, "ok");
    assert.equal(health.backend.status, "ok");

    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const enq = await callApi(srv.url, token, "POST", "/ojs/v1/jobs", {
      type: "t.trace",
      args: [],
      meta: { traceparent },
      options: { queue: "obs-trace" },
    });
    assert.equal(enq.status, 201);
    const fetched = await callApi(srv.url, token, "POST", "/ojs/v1/workers/fetch", {
      queues: ["obs-trace"],
      worker_id: "w-obs",
    });
    const job = (fetched.body.jobs as Array<{ meta: { traceparent: string } }>)[0];
    assert.equal(job?.meta.traceparent, traceparent);
  });
});
