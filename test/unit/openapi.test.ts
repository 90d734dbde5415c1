/**
 * The OpenAPI document and the /docs page. Building the app needs no live engine (the route factories
 * only capture it), so this runs without NATS: no handler that touches the engine is called.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";

import { Validator } from "@seriousme/openapi-schema-validator";
import { z } from "zod";

import { silentLogger } from "../../src/core/logger.js";
import type { Controller } from "../../src/fleet/controller.js";
import type { App } from "../../src/server/app.js";
import { createApp } from "../../src/server/app.js";
import { createAuthenticator } from "../../src/server/auth.js";
import { escapeHtml, renderDocsPage } from "../../src/server/docs-page.js";
import type {
  JsonSchema,
  OpenApiDocument,
  OpenApiMethod,
  OpenApiOperation,
} from "../../src/server/openapi-types.js";
import { buildOpenApi, operationIdFor } from "../../src/server/openapi.js";
import type { RouteDef } from "../../src/server/route.js";
import type { Engine } from "../../src/store/engine.js";

/** System routes: entries of the route table like every other (routes-system.ts), none by hand. */
const systemRoutes = ["GET /health", "GET /ready", "GET /docs/errors", "GET /openapi.json", "GET /docs"];

/** The dashboard's page and assets (src/server/ui.ts) are not API operations. */
const isDashboard = (path: string): boolean =>
  path === "/" || path === "/favicon.ico" || path === "/ui" || path.startsWith("/ui/");

function operations(doc: OpenApiDocument): Array<{ key: string; op: OpenApiOperation }> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })),
  );
}

async function assertValid(doc: OpenApiDocument): Promise<void> {
  const r = await new Validator().validate(doc as unknown as Record<string, unknown>);
  assert.ok(r.valid, JSON.stringify(r.errors));
}

describe("OpenAPI document", () => {
  let app: App;
  let doc: OpenApiDocument;
  before(async () => {
    app = createApp({
      engine: {} as Engine,
      fleet: {} as Controller,
      logger: silentLogger,
      version: "1.2.3-test",
      auth: createAuthenticator([{ name: "admin", token: "admin-token-123456", scope: "admin" }]),
    });
    const r = await app.hono.request("/openapi.json");
    assert.equal(r.status, 200);
    assert.match(r.headers.get("Content-Type") ?? "", /^application\/json/);
    doc = (await r.json()) as OpenApiDocument;
  });

  it("is a valid OpenAPI 3.1 document", async () => {
    assert.equal(doc.openapi, "3.1.0");
    assert.equal(doc.info.title, "jetjob API");
    assert.equal(doc.info.version, "1.2.3-test");
    assert.deepEqual(doc.components.securitySchemes.bearer, {
      type: "http",
      scheme: "bearer",
      description: "A token with the scope the operation needs",
    });
    await assertValid(doc);
  });

  it("documents every route the app serves, and nothing it does not", () => {
    const documented = new Set(operations(doc).map((o) => o.key));
    for (const r of app.routes) assert.ok(documented.has(`${r.method} ${r.path}`), `${r.method} ${r.path}`);
    const table = new Set(app.routes.map((r) => `${r.method} ${r.path}`));
    for (const key of systemRoutes) assert.ok(table.has(key), `in the route table: ${key}`);

    const served = new Set(
      app.hono.routes
        .filter((r) => r.method !== "ALL" && !isDashboard(r.path))
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    for (const key of served) assert.ok(documented.has(key), `served but not documented: ${key}`);
    for (const key of documented) assert.ok(served.has(key), `documented but not served: ${key}`);
    // Registered once: a route listed twice in the table is a mistake, not a second door.
    const keys = app.routes.map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(
      keys.filter((k, i) => keys.indexOf(k) !== i),
      [],
    );
  });

  it("declares a response schema on every route, documented as the success response", () => {
    const missing = app.routes
      .filter((r) => r.response === undefined && r.queryToken !== true && r.status !== 204)
      .map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(missing, [], "routes without a response schema");
    for (const { key, op } of operations(doc)) {
      const [status, ok] = Object.entries(op.responses).find(([code]) => code.startsWith("2"))!;
      if (status === "204") continue;
      assert.ok(ok && "content" in ok && ok.content, `${key} ${status}: no content`);
      for (const media of Object.values(ok.content)) {
        const ref = "$ref" in media.schema ? String(media.schema.$ref) : undefined;
        const body = (ref === undefined ? media.schema : doc.components.schemas[ref.split("/").pop()!]) as
          JsonSchema | undefined;
        // A JSON body names its fields; text (and the OpenAPI document itself) is a string or free.
        const named = body?.properties !== undefined || body?.type === "string";
        assert.ok(named || key === "GET /openapi.json", `${key}: the body's fields are not documented`);
      }
    }
  });

  it("gives every operation a unique, stable operationId, a tag, a summary and its scope", () => {
    const ids = operations(doc).map((o) => o.op.operationId);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(operationIdFor("GET", "/api/v1/jobs/{id}"), "getApiV1JobsById");
    assert.equal(operationIdFor("DELETE", "/ojs/v1/dead-letter/{id}"), "deleteOjsV1DeadLetterById");
    assert.equal(operationIdFor("GET", "/openapi.json"), "getOpenapiJson");
    const tags = new Set(doc.tags.map((t) => t.name));
    for (const { key, op } of operations(doc)) {
      assert.ok(op.tags.length === 1 && tags.has(op.tags[0]!), key);
      assert.ok(op.summary.length > 0, key);
      if (op["x-scope"] === "public") {
        assert.deepEqual(op.security, [], key);
        assert.equal(op.responses["401"], undefined, key);
        assert.equal(op.responses["403"], undefined, key);
      } else {
        assert.match(op.description, new RegExp(`\`${op["x-scope"]}\` scope`), key);
        assert.deepEqual(op.security[0], { bearer: [] }, key);
        assert.deepEqual(op.responses["401"], { $ref: "#/components/responses/Unauthorized" }, key);
        assert.deepEqual(op.responses["403"], { $ref: "#/components/responses/Forbidden" }, key);
      }
    }
  });

  it("documents path and query parameters", () => {
    const get = doc.paths["/api/v1/jobs/{id}"]!.get!;
    assert.deepEqual(
      get.parameters?.map((p) => [p.name, p.in, p.required]),
      [["id", "path", true]],
    );
    assert.deepEqual(get.responses["404"], { $ref: "#/components/responses/NotFound" });
    const list = doc.paths["/api/v1/jobs"]!.get!.parameters ?? [];
    const queue = list.find((p) => p.name === "queue");
    assert.equal(queue?.in, "query");
    assert.equal(queue?.required, false);
    assert.equal(list.find((p) => p.name === "limit")?.schema.type, "integer");
    const resolve = doc.paths["/api/v1/targets/resolve"]!.get!.parameters ?? [];
    assert.equal(resolve.find((p) => p.name === "target")?.required, true);
  });

  it("documents request bodies from the zod schemas", () => {
    const op = doc.paths["/api/v1/jobs"]!.post!;
    assert.equal(op.requestBody?.required, true);
    assert.deepEqual(op.requestBody?.content["application/json"]?.schema, {
      $ref: "#/components/schemas/PostApiV1JobsRequest",
    });
    const schema = doc.components.schemas.PostApiV1JobsRequest!;
    const properties = schema.properties as Record<string, unknown>;
    assert.ok("op" in properties && "target" in properties);
    assert.deepEqual(schema.required, ["op", "target"]);
    assert.equal(schema.$schema, undefined);
    assert.ok("201" in op.responses && "422" in op.responses);
    // docBody documents routes that validate with parseBody.
    const enqueue = doc.components.schemas.PostOjsV1JobsRequest!;
    assert.ok((enqueue.required as string[]).includes("type"));
    const pause = doc.paths["/ojs/v1/queues/{name}/pause"]!.post!;
    assert.equal(pause.requestBody?.required, false);
  });

  it("documents Server-Sent Event routes as text/event-stream, with ?access_token=", () => {
    for (const path of ["/ojs/v1/jobs/{id}/events", "/api/v1/jobs/{id}/stream"]) {
      const op = doc.paths[path]!.get!;
      const ok = op.responses["200"];
      assert.ok(ok && "content" in ok && ok.content?.["text/event-stream"], path);
      assert.deepEqual(op.security, [{ bearer: [] }, { accessToken: [] }]);
    }
  });

  it("shares one Error schema across the error responses", () => {
    const error = doc.components.schemas.Error!;
    const inner = (error.properties as Record<string, { required: string[] }>).error!;
    assert.deepEqual(inner.required, ["code", "type", "message", "retryable", "request_id"]);
    for (const r of Object.values(doc.components.responses)) {
      assert.deepEqual(r.content?.["application/openjobspec+json"]?.schema, {
        $ref: "#/components/schemas/Error",
      });
    }
  });

  it("serves /openapi.json and /docs without a token; /docs lists every operation", async () => {
    const page = await app.hono.request("/docs");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("Content-Type") ?? "", /^text\/html/);
    const html = await page.text();
    assert.doesNotMatch(html, /<script|<link /i);
    assert.ok(html.includes('href="/openapi.json"') && html.includes('href="/docs/errors"'));
    for (const { key, op } of operations(doc)) {
      assert.ok(html.includes(`id="${op.operationId}"`), key);
      assert.ok(html.includes(escapeHtml(key.split(" ")[1]!)), key);
    }
    // Built once per app.
    assert.equal(await (await app.hono.request("/docs")).text(), html);
  });
});

describe("buildOpenApi edge cases", () => {
  const route = (over: Partial<RouteDef>): RouteDef => ({
    method: "POST",
    path: "/x",
    scope: "write",
    tag: "t",
    summary: "s",
    handler: (c) => c.body(null),
    ...over,
  });

  it("converts recursive and unrepresentable schemas without crashing", async () => {
    interface Node {
      name: string;
      children?: Node[] | undefined;
    }
    const node: z.ZodType<Node> = z.lazy(() =>
      z.object({ name: z.string(), children: z.array(node).optional() }),
    );
    const doc = buildOpenApi(
      [
        route({ path: "/tree", body: node }),
        route({
          path: "/odd",
          body: z.object({
            when: z.date(),
            big: z.bigint(),
            n: z.string().transform((s) => s.length),
            any: z.custom<string>(),
          }),
          response: z.object({ self: node }),
        }),
      ],
      { version: "0" },
    );
    await assertValid(doc);
    const odd = doc.components.schemas.PostOddRequest!;
    assert.deepEqual((odd.properties as Record<string, unknown>).n, { type: "string" });
    assert.ok(JSON.stringify(doc).includes("#/components/schemas/"));
    assert.ok(!JSON.stringify(doc).includes('"#"'));
    assert.ok(!JSON.stringify(doc).includes("$defs"));
  });

  it("keeps operationIds unique and the first of duplicate routes", () => {
    const doc = buildOpenApi(
      [route({ summary: "first" }), route({ summary: "second" }), route({ path: "/x/", summary: "slash" })],
      { version: "0" },
    );
    assert.equal(doc.paths["/x"]!.post!.summary, "first");
    const ids = Object.values(doc.paths).flatMap((p) =>
      (Object.keys(p) as OpenApiMethod[]).map((m) => p[m]!.operationId),
    );
    assert.equal(new Set(ids).size, ids.length);
  });

  it("escapes text on the docs page", () => {
    const doc = buildOpenApi([route({ summary: `<img src=x onerror="alert(1)"> & 'q'` })], {
      version: "<v>",
    });
    const html = renderDocsPage(doc);
    assert.ok(!html.includes("<img"));
    assert.ok(html.includes("&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &#39;q&#39;"));
    assert.ok(html.includes("jetjob API &lt;v&gt;"));
  });
});
