/**
 * The auth matrix: every route of the route table (plus `/metrics`) refuses a missing or wrong token
 * with 401 and a too-small scope with 403, accepts the scope it needs, and public routes never ask
 * for a token. SSE routes also take `?access_token=` (and only they do). Tokens never reach the logs,
 * and request logs carry no query strings.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { createLogger } from "../../src/core/logger.js";
import type { Scope } from "../../src/server/auth.js";
import type { RouteDef } from "../../src/server/route.js";
import type { TestApp } from "../harness/app.js";
import { fillPath, startTestApp, testTokens } from "../harness/app.js";
import { useNats } from "../harness/nats.js";

const h = useNats();
const wrongTokens = ["tok-wrong-0000000000000000", testTokens.admin + "x", testTokens.read.toUpperCase()];
const scopes: Scope[] = ["read", "write", "admin"];
const rank: Record<Scope, number> = { read: 1, write: 2, admin: 3 };

type RouteLike = Pick<RouteDef, "method" | "path" | "scope"> & { queryToken?: boolean };

interface Sent {
  status: number;
  error?: { code?: string; details?: Record<string, unknown> };
}

describe("auth matrix", () => {
  let t: TestApp;
  let routes: RouteLike[];

  before(async () => {
    t = await startTestApp(h.nats, { maxBodyBytes: 64 * 1024 });
    routes = [
      ...t.app.routes,
      // Registered beside the table (app.ts) with the same token check.
      { method: "GET", path: "/metrics", scope: "read" },
    ];
  });
  after(async () => {
    await t.close();
  });

  /** One request; SSE bodies are cancelled at once (only the status matters here). */
  async function send(
    r: Pick<RouteLike, "method" | "path">,
    o: { token?: string; query?: string; app?: TestApp["app"] } = {},
  ): Promise<Sent> {
    const headers: Record<string, string> = {};
    if (o.token !== undefined) headers.Authorization = `Bearer ${o.token}`;
    const url = fillPath(r.path) + (o.query ?? "");
    const res = await (o.app ?? t.app).hono.request(url, { method: r.method, headers });
    if ((res.headers.get("Content-Type") ?? "").startsWith("text/event-stream")) {
      await res.body?.cancel();
      return { status: res.status };
    }
    const text = await res.text();
    let error: Sent["error"];
    if (res.status >= 400) {
      error = (JSON.parse(text) as { error: NonNullable<Sent["error"]> }).error;
      if (res.status === 401) assert.match(res.headers.get("WWW-Authenticate") ?? "", /^Bearer/);
    }
    return error === undefined ? { status: res.status } : { status: res.status, error };
  }

  const label = (r: Pick<RouteLike, "method" | "path">) => `${r.method} ${r.path}`;
  /** The code a route sends: OJS routes prefix jetjob's own codes with `x_` (http-binding §16.3). */
  const codeOn = (r: Pick<RouteLike, "path">, code: string) =>
    r.path.startsWith("/ojs/") ? `x_${code}` : code;

  it("refuses missing, wrong and too-small tokens on every route; public routes never ask", async () => {
    let requests = 0;
    let protectedRoutes = 0;
    for (const r of routes) {
      if (r.scope === "public") {
        for (const token of [undefined, wrongTokens[0], testTokens.read]) {
          const res = await send(r, token === undefined ? {} : { token });
          requests++;
          assert.equal(res.status, 200, `${label(r)} is public (token ${token ?? "none"})`);
        }
        continue;
      }
      protectedRoutes++;
      const none = await send(r);
      assert.equal(none.status, 401, `${label(r)} without a token`);
      assert.equal(none.error?.code, codeOn(r, "unauthorized"), label(r));
      requests++;
      for (const token of wrongTokens) {
        const wrong = await send(r, { token });
        assert.equal(wrong.status, 401, `${label(r)} with a wrong token`);
        assert.equal(wrong.error?.code, codeOn(r, "unauthorized"), label(r));
        requests++;
      }
      // Not a bearer header at all.
      for (const raw of [testTokens.admin, `Basic ${testTokens.admin}`, "Bearer", "Bearer  "]) {
        const res = await (async () => {
          const resp = await t.app.hono.request(fillPath(r.path), {
            method: r.method,
            headers: { Authorization: raw },
          });
          await resp.body?.cancel();
          return resp.status;
        })();
        assert.equal(res, 401, `${label(r)} with Authorization: ${raw}`);
        requests++;
      }
      for (const scope of scopes.filter((s) => rank[s] < rank[r.scope as Scope])) {
        const small = await send(r, { token: testTokens[scope] });
        assert.equal(small.status, 403, `${label(r)} with a ${scope} token`);
        assert.equal(small.error?.code, codeOn(r, "forbidden"), label(r));
        assert.equal(small.error?.details?.required_scope, r.scope, label(r));
        requests++;
      }
      // The scope the route needs (and any larger one) gets past the token check.
      for (const scope of scopes.filter((s) => rank[s] >= rank[r.scope as Scope])) {
        const ok = await send(r, { token: testTokens[scope] });
        assert.notEqual(ok.status, 401, `${label(r)} with a ${scope} token`);
        if (ok.status === 403) {
          // Only a refusal that is not about the token (reset disabled) may be a 403 here.
          assert.equal(ok.error?.details?.required_scope, undefined, `${label(r)} with a ${scope} token`);
        }
        requests++;
      }
    }
    assert.ok(protectedRoutes >= 40, `expected the whole route table, got ${protectedRoutes} routes`);
    console.log(`auth matrix: ${routes.length} routes × 3 cases (${requests} requests)`);
  });

  it("takes ?access_token= on SSE routes only", async () => {
    const sse = routes.filter((r) => r.queryToken === true);
    assert.ok(sse.length >= 4, "the SSE routes are in the table");
    for (const r of sse) {
      for (const token of wrongTokens) {
        const res = await send(r, { query: `?access_token=${encodeURIComponent(token)}` });
        assert.equal(res.status, 401, `${label(r)} ?access_token=wrong`);
        assert.equal(res.error?.code, codeOn(r, "unauthorized"));
      }
      assert.equal((await send(r, { query: "?access_token=" })).status, 401, `${label(r)} empty`);
      // A wrong header wins over a right query token: no mixing of credentials.
      const mixed = await send(r, { token: wrongTokens[0]!, query: `?access_token=${testTokens.read}` });
      assert.equal(mixed.status, 401, `${label(r)} wrong header + valid query token`);
      const right = await send(r, { query: `?access_token=${testTokens.read}` });
      assert.ok(right.status !== 401 && right.status !== 403, `${label(r)} ?access_token=<read>`);
    }
    for (const r of routes.filter((x) => x.queryToken !== true && x.scope !== "public")) {
      const res = await send(r, { query: `?access_token=${testTokens.admin}` });
      assert.equal(res.status, 401, `${label(r)} must not accept ?access_token=`);
    }
  });

  it("never writes a token into the logs, nor a query string into request logs", async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", format: "json", write: (l) => lines.push(l) });
    // An engine whose queue listing fails unexpectedly: the 500 path logs the error with its stack.
    const failing = new Proxy(t.engine, {
      get(target, prop, receiver) {
        if (prop === "listQueues") {
          return () => Promise.reject(new Error("listing exploded"));
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const app = t.build({ logger, engine: failing });
    const all = [...Object.values(testTokens), ...wrongTokens];
    const targets: Array<Pick<RouteLike, "method" | "path">> = [
      { method: "GET", path: "/ojs/v1/queues" }, // fails with 500 here
      { method: "GET", path: "/ojs/v1/jobs/{id}" }, // 404
      { method: "GET", path: "/ojs/v1/jobs/{id}/events" }, // SSE, 404 before the stream
      { method: "GET", path: "/api/v1/events/stream" }, // SSE, streams
      { method: "POST", path: "/ojs/v1/admin/reset" }, // 403
      { method: "GET", path: "/nowhere" }, // no route
      { method: "GET", path: "/metrics" },
    ];
    let served = 0;
    let errors = 0;
    for (const r of targets) {
      for (const token of all) {
        const header = await send(r, { token, app });
        const query = await send(r, { query: `?access_token=${encodeURIComponent(token)}&x=1`, app });
        const both = await send(r, { token, query: `?access_token=${encodeURIComponent(token)}`, app });
        served += 3;
        if (header.status >= 500) errors++;
        assert.ok(query.status < 500 || r.path === "/ojs/v1/queues");
        assert.ok(both.status < 500 || r.path === "/ojs/v1/queues");
      }
    }
    assert.ok(errors > 0, "the failing route answered 500");
    const http = lines.filter((l) => (JSON.parse(l) as { msg: string }).msg === "http");
    assert.equal(http.length, served, "every request is logged at debug level");
    assert.ok(
      lines.some((l) => l.includes("listing exploded")),
      "the 500 is logged with its error",
    );
    for (const line of lines) {
      for (const token of all) assert.ok(!line.includes(token), `a token in the log: ${line}`);
      assert.ok(!line.includes("access_token"), `a query string in the log: ${line}`);
    }
    for (const line of http) {
      const path = (JSON.parse(line) as { path: string }).path;
      assert.ok(!path.includes("?"), `query string logged: ${path}`);
    }
    // Principals are logged by name.
    assert.ok(http.some((l) => (JSON.parse(l) as { principal?: string }).principal === "admin"));
    console.log(`auth logs: ${served} requests, ${lines.length} log lines, no token`);
  });
});
