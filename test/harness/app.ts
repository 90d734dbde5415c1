/**
 * Test harness: the full HTTP app as `jetjob server` wires it (engine, fleet controller, metrics),
 * built in-process over a test nats-server with three tokens (read, write, admin), for tests that go
 * over every route of the route table.
 */
import type { NatsConnection } from "@nats-io/nats-core";

import type { Logger } from "../../src/core/logger.js";
import { silentLogger } from "../../src/core/logger.js";
import type { Controller } from "../../src/fleet/controller.js";
import { createController } from "../../src/fleet/controller.js";
import type { App } from "../../src/server/app.js";
import { createApp } from "../../src/server/app.js";
import type { Scope } from "../../src/server/auth.js";
import { createAuthenticator } from "../../src/server/auth.js";
import type { Metrics } from "../../src/server/metrics.js";
import { createMetrics } from "../../src/server/metrics.js";
import type { ApiServerOptions, RunningApiServer } from "../../src/server/run.js";
import { runApiServer } from "../../src/server/run.js";
import type { Engine } from "../../src/store/engine.js";
import { createEngine } from "../../src/store/engine.js";
import { sendJson } from "./http.js";
import type { TestNats } from "./nats.js";

/** One token per scope; long enough that the logger's bearer redaction would catch them. */
export const testTokens: Readonly<Record<Scope, string>> = {
  read: "tok-read-5c1e9a0b7d3f4e21",
  write: "tok-write-8a2d6f4c1b9e7035",
  admin: "tok-admin-3f7b0e5d9c2a6184",
};

export interface TestApp {
  nc: NatsConnection;
  engine: Engine;
  fleet: Controller;
  metrics: Metrics;
  app: App;
  /** Builds another app over the same engine, controller and metrics (e.g. with its own logger). */
  build(o?: { logger?: Logger; engine?: Engine }): App;
  close(): Promise<void>;
}

export async function startTestApp(
  nats: TestNats,
  o: { maxBodyBytes?: number; logger?: Logger } = {},
): Promise<TestApp> {
  const nc = await nats.connect("test-app");
  const engine = await createEngine(nc);
  const fleet = await createController(engine.ctx, { reclaim: false });
  const metrics = await createMetrics({ engine, fleet, defaultMetrics: false });
  const auth = createAuthenticator(
    (Object.keys(testTokens) as Scope[]).map((scope) => ({ name: scope, token: testTokens[scope], scope })),
  );
  const build = (b: { logger?: Logger; engine?: Engine } = {}) =>
    createApp({
      engine: b.engine ?? engine,
      fleet,
      metrics,
      auth,
      logger: b.logger ?? o.logger ?? silentLogger,
      version: "test",
      ...(o.maxBodyBytes === undefined ? {} : { maxBodyBytes: o.maxBodyBytes }),
    });
  return {
    nc,
    engine,
    fleet,
    metrics,
    app: build(),
    build,
    async close() {
      await metrics.close();
      await fleet.close();
      await engine.close();
      await nc.close();
    },
  };
}

/**
 * `jetjob server` as the CLI runs it (runApiServer), on a free port over the test NATS, with these
 * tokens and a silent logger; `extra` adds options (fleet timings, retention, topology, ...).
 */
export function runTestServer(
  servers: string | string[],
  tokens: Array<{ name: string; token: string; scope: Scope }>,
  extra: Partial<Omit<ApiServerOptions, "nats" | "auth">> = {},
): Promise<RunningApiServer> {
  return runApiServer({
    nats: { servers },
    port: 0,
    auth: createAuthenticator(tokens),
    logger: silentLogger,
    version: "test",
    ...extra,
  });
}

/** A plausible value for each `{param}` of the route table (nothing with these names exists). */
export const sampleParams: Readonly<Record<string, string>> = {
  id: "019539a4-0000-7000-8000-000000000000",
  name: "q-sample",
  host: "sample-host",
  type: "sample.type",
  version: "1",
  key: "sample-key",
  uri: "urn:ojs:schema:sample.type:v1",
};

/** Fills a route path's `{param}` placeholders from `values` (URL-encoded). */
export function fillPath(path: string, values: Readonly<Record<string, string>> = sampleParams): string {
  return path.replace(/\{(\w+)\}/g, (_, p: string) => {
    const v = values[p];
    if (v === undefined) throw new Error(`no sample value for {${p}} in ${path}`);
    return encodeURIComponent(v);
  });
}

/** One JSON request to a running API server with a bearer token: the status and the parsed body. */
export async function callApi(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await sendJson(url, token, method, path, body);
  return { status: r.status, body: (r.body ?? {}) as Record<string, unknown> };
}
