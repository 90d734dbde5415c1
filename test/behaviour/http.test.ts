import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";

import type { NatsConnection } from "@nats-io/nats-core";

import { silentLogger } from "../../src/core/logger.js";
import type { App } from "../../src/server/app.js";
import { createApp } from "../../src/server/app.js";
import { createAuthenticator } from "../../src/server/auth.js";
import { listen } from "../../src/server/listen.js";
import type { Engine } from "../../src/store/engine.js";
import { createEngine } from "../../src/store/engine.js";
import { useNats } from "../harness/nats.js";

const h = useNats();
const tokens = { admin: "admin-token-123456", writer: "write-token-123456", reader: "read-token-123456" };

describe("HTTP API edge: auth, errors, limits", () => {
  let nc: NatsConnection;
  let engine: Engine;
  let app: App;
  before(async () => {
    nc = await h.nats.connect();
    engine = await createEngine(nc);
    app = createApp({
      engine,
      logger: silentLogger,
      version: "test",
      maxBodyBytes: 64 * 1024,
      auth: createAuthenticator([
        { name: "admin", token: tokens.admin, scope: "admin" },
        { name: "writer", token: tokens.writer, scope: "write" },
        { name: "reader", token: tokens.reader, scope: "read" },
      ]),
    });
  });
  after(async () => {
    await engine.close();
    await nc.close();
  });

  const call = (
    method: string,
    path: string,
    o: { token?: string; body?: string; type?: string; headers?: Record<string, string> } = {},
  ) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.Authorization = `Bearer ${o.token}`;
    if (o.body !== undefined) headers["Content-Type"] = o.type ?? "application/openjobspec+json";
    return app.hono.request(path, { method, headers, ...(o.body === undefined ? {} : { body: o.body }) });
  };
  const errorOf = async (r: Response) => ((await r.json()) as { error: Record<string, unknown> }).error;

  it("serves health and manifest without a token", async () => {
    const health = await call("GET", "/ojs/v1/health");
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, "ok");
    const manifest = await call("GET", "/ojs/manifest");
    assert.equal(((await manifest.json()) as { specversion: string }).specversion, "1.0");
    assert.equal((await call("GET", "/health")).status, 200);
  });

  it("refuses missing and wrong tokens with 401 in the OJS error shape", async () => {
    for (const token of [undefined, "wrong-token-xyz"]) {
      const r = await call("GET", "/ojs/v1/queues", token === undefined ? {} : { token });
      assert.equal(r.status, 401);
      assert.equal(r.headers.get("Content-Type"), "application/openjobspec+json");
      assert.match(r.headers.get("WWW-Authenticate") ?? "", /^Bearer/);
      const e = await errorOf(r);
      assert.equal(e.code, "x_unauthorized"); // OJS routes: jetjob's own codes carry x_ (§16.3)
      assert.equal(e.retryable, false);
      assert.equal(typeof e.request_id, "string");
    }
  });

  it("enforces scopes: read < write < admin", async () => {
    const body = JSON.stringify({ type: "a.b", args: [] });
    assert.equal((await call("POST", "/ojs/v1/jobs", { token: tokens.reader, body })).status, 403);
    assert.equal((await call("POST", "/ojs/v1/jobs", { token: tokens.writer, body })).status, 201);
    assert.equal((await call("GET", "/ojs/v1/queues", { token: tokens.reader })).status, 200);
    const reset = await call("POST", "/ojs/v1/admin/reset", { token: tokens.writer });
    assert.equal(reset.status, 403);
    assert.equal((await errorOf(reset)).code, "x_forbidden");
  });

  it("keeps reset off unless enabled", async () => {
    const r = await call("POST", "/ojs/v1/admin/reset", { token: tokens.admin });
    assert.equal(r.status, 403);
    assert.match(String((await errorOf(r)).hint), /--enable-reset/);
  });

  it("sends exact OJS headers and echoes X-Request-Id", async () => {
    const r = await call("GET", "/ojs/v1/queues", {
      token: tokens.reader,
      headers: { "X-Request-Id": "req-abc" },
    });
    assert.equal(r.headers.get("Content-Type"), "application/openjobspec+json");
    assert.equal(r.headers.get("OJS-Version"), "1.0");
    assert.equal(r.headers.get("X-Request-Id"), "req-abc");
  });

  it("maps bad bodies to 4xx with stable codes", async () => {
    const cases: Array<[string, string | undefined, number, string]> = [
      ["{ invalid json }", undefined, 400, "invalid_payload"],
      ["", undefined, 400, "invalid_payload"],
      ['{"type":"a.b","args":[]}', "text/plain", 400, "invalid_payload"],
      ['{"type":"Bad","args":[]}', undefined, 400, "invalid_request"],
      ['{"type":"a.b","args":{}}', undefined, 400, "invalid_request"],
      [
        '{"type":"a.b","args":[],"options":{"retry":{"max_attempts":-1}}}',
        undefined,
        422,
        "x_validation_error",
      ],
      ["[1,2]", undefined, 400, "invalid_request"],
    ];
    for (const [body, type, status, code] of cases) {
      const r = await call("POST", "/ojs/v1/jobs", { token: tokens.writer, body, ...(type ? { type } : {}) });
      assert.equal(r.status, status, body);
      assert.equal((await errorOf(r)).code, code, body);
    }
  });

  it("limits body size with 413 payload_too_large", async () => {
    const big = JSON.stringify({ type: "a.b", args: ["x".repeat(100 * 1024)] });
    const r = await call("POST", "/ojs/v1/jobs", { token: tokens.writer, body: big });
    assert.equal(r.status, 413);
    assert.equal((await errorOf(r)).code, "x_payload_too_large");
  });

  it("over a socket: 413 for a body too large by its Content-Length or as it streams (chunked); smaller bodies pass", async () => {
    const server = await listen(app);
    try {
      const { port } = new URL(server.url);
      const send = (body: string, chunked: boolean) =>
        new Promise<{ status: number; code?: string }>((resolve, reject) => {
          const headers: Record<string, string> = {
            "content-type": "application/json",
            authorization: `Bearer ${tokens.writer}`,
          };
          if (!chunked) headers["content-length"] = String(Buffer.byteLength(body));
          const req = request({
            host: "127.0.0.1",
            port: Number(port),
            path: "/ojs/v1/jobs",
            method: "POST",
            headers,
          });
          req.on("response", (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => (text += c));
            res.on("end", () => {
              const parsed = JSON.parse(text) as { error?: { code?: string } };
              resolve({
                status: res.statusCode ?? 0,
                ...(parsed.error?.code ? { code: parsed.error.code } : {}),
              });
            });
          });
          req.on("error", reject);
          if (chunked) {
            // Two writes make Node send the body chunked, without a Content-Length.
            const half = Math.floor(body.length / 2);
            req.write(body.slice(0, half));
            req.end(body.slice(half));
          } else req.end(body);
        });
      const big = JSON.stringify({ type: "a.b", args: ["x".repeat(100 * 1024)] });
      const small = JSON.stringify({
        type: "a.b",
        args: ["x".repeat(1024)],
        options: { queue: "body-socket" },
      });
      assert.deepEqual(await send(big, false), { status: 413, code: "x_payload_too_large" });
      assert.deepEqual(await send(big, true), { status: 413, code: "x_payload_too_large" });
      assert.equal((await send(small, false)).status, 201);
      assert.equal((await send(small, true)).status, 201);
    } finally {
      await server.close(100);
    }
  });

  it("answers unknown routes and ids with 404 carrying hint and docs_url", async () => {
    for (const path of [
      "/ojs/v1/nope",
      "/ojs/v1/jobs/019539a4-0000-7000-8000-000000000000",
      "/ojs/v1/jobs/not-a-uuid",
    ]) {
      const r = await call("GET", path, { token: tokens.reader });
      assert.equal(r.status, 404, path);
      const e = await errorOf(r);
      assert.equal(e.code, "not_found");
      assert.equal(typeof e.hint, "string");
      assert.equal(typeof e.docs_url, "string");
    }
  });

  it("rejects invalid fetch and ack requests with 400", async () => {
    const fetchBad = await call("POST", "/ojs/v1/workers/fetch", {
      token: tokens.writer,
      body: '{"queues":[]}',
    });
    assert.equal(fetchBad.status, 400);
    const ackBad = await call("POST", "/ojs/v1/workers/ack", {
      token: tokens.writer,
      body: '{"job_id":"nope"}',
    });
    assert.equal(ackBad.status, 400);
    const events = await call("GET", "/ojs/v1/events?queues=Bad_Queue", { token: tokens.reader });
    assert.equal(events.status, 400);
  });
});
