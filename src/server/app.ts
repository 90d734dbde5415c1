/**
 * The HTTP application (Hono), built by a factory and not bound to a port, so tests can drive it with
 * `app.request()`. Error handling lives here once: a {@link JetjobError}'s code decides the status and
 * the OJS error body; anything else is a 500 with the request id, logged.
 */
import { Hono } from "hono";
import type { MiddlewareHandler } from "hono";

import { coerceError, ErrorCode, isJetjobError, JetjobError } from "../core/errors.js";
import { uuidv7 } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import type { Controller } from "../fleet/controller.js";
import type { Engine } from "../store/engine.js";
import "./context-vars.js";
import type { Authenticator } from "./auth.js";
import { errorResponse, OJS_VERSION } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { registerRoutes } from "./route.js";
import { bodyLimitMiddleware } from "./body-limit.js";
import { nodeResponseOf } from "./node-response.js";
import type { OpenApiDocument } from "./openapi-types.js";
import { buildOpenApi } from "./openapi.js";
import { cors, ojsVersionCheck } from "./ojs-http.js";
import { ojsJobRoutes } from "./routes-ojs.js";
import { ojsProgressRoutes } from "./routes-ojs-progress.js";
import { ojsWorkerLifecycleRoutes } from "./routes-ojs-worker-lifecycle.js";
import { ojsAdminRoutes } from "./routes-ojs-admin.js";
import { ojsCronRoutes } from "./routes-ojs-cron.js";
import { ojsWorkflowListRoutes } from "./routes-ojs-workflow-list.js";
import { ojsUniqueRoutes } from "./routes-ojs-unique.js";
import { ojsAdminDeadLetterRoutes } from "./routes-ojs-admin-dlq.js";
import { ojsAdminJobRoutes } from "./routes-ojs-admin-jobs.js";
import { ojsAdminMaintenanceRoutes } from "./routes-ojs-admin-maintenance.js";
import { ojsAdminQueueRoutes } from "./routes-ojs-admin-queues.js";
import { ojsAdminStatsRoutes } from "./routes-ojs-admin-stats.js";
import { ojsAdminWorkerRoutes } from "./routes-ojs-admin-workers.js";
import { ojsJobListRoutes } from "./routes-ojs-jobs-list.js";
import { sseRoutes } from "./routes-sse.js";
import { apiRoutes } from "./routes-api.js";
import { keyRoutes } from "./routes-keys.js";
import type { Metrics } from "./metrics.js";
import { metricsLatencyRoute } from "./metrics-latency.js";
import { fleetRoutes } from "./routes-fleet.js";
import { tokenRoutes } from "./routes-tokens.js";
import type { IdentityRouteOptions } from "./routes-identities.js";
import { identityRoutes } from "./routes-identities.js";
import type { TokenStore } from "./tokens.js";
import { liveRoutes } from "./routes-live.js";
import { registerUi } from "./ui.js";
import { schemaRoutes } from "./routes-ojs-schemas.js";
import { queueConfigRoutes } from "./routes-ojs-queue-config.js";
import { rateLimitRoutes } from "./routes-ojs-rate-limits.js";
import { systemRoutes } from "./routes-system.js";

export interface AppOptions {
  engine: Engine;
  /** The fleet controller; without it the fleet routes are absent. */
  fleet?: Controller;
  auth: Authenticator;
  logger: Logger;
  version: string;
  /** Allow `POST /ojs/v1/admin/reset` (test runs only). @defaultValue false */
  enableReset?: boolean;
  /** Largest request body. @defaultValue 10 MiB */
  maxBodyBytes?: number;
  /** Prometheus metrics: serves `GET /metrics` (read scope) and records HTTP requests. */
  metrics?: Metrics;
  /**
   * How long a request may take before it is answered with 504 `timeout` (a live stream counts
   * until its first byte). @defaultValue 30000
   */
  requestTimeoutMs?: number;
  /** Origins browsers may call the API from (CORS, ojs-http.ts); `*` for any. @defaultValue [] */
  corsOrigins?: readonly string[];
  /** Run-time API tokens: serves `/api/v1/tokens` (give `auth` wrapped by `withTokenStore`). */
  tokens?: TokenStore;
  /**
   * Agent enrollment (`/api/v1/agent-identities`, routes-identities.ts): the identities bucket when
   * agents log in through jetjob's auth callout. Without it the routes answer that enrollment is off.
   */
  identities?: IdentityRouteOptions;
}

export interface App {
  hono: Hono;
  routes: RouteDef[];
}

export function createApp(o: AppOptions): App {
  const startedAt = Date.now();
  const maxBody = o.maxBodyBytes ?? 10 * 1024 * 1024;
  const hono = new Hono();
  if (o.metrics) hono.use("*", o.metrics.http);

  hono.use("*", async (c, next) => {
    const requestId = c.req.header("X-Request-Id") ?? `req_${uuidv7()}`;
    c.set("requestId", requestId);
    const t0 = performance.now();
    // Served by Node: the headers every response carries go on Node's response before the handler
    // runs (node-response.ts). Setting them on the finished Response instead turned every answer
    // into a Web Headers object that the adapter then converted back (53 instead of 56-58 µs per
    // small request, HTTP stack alone).
    const node = nodeResponseOf(c);
    node?.setHeader("X-Request-Id", requestId);
    node?.setHeader("OJS-Version", OJS_VERSION);
    await next();
    if (!node) {
      c.res.headers.set("X-Request-Id", requestId);
      c.res.headers.set("OJS-Version", OJS_VERSION);
    }
    o.logger.debug("http", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - t0) * 10) / 10,
      request_id: requestId,
      principal: c.get("principal"),
    });
  });
  hono.use("*", bodyLimitMiddleware(maxBody));

  hono.use("*", requestDeadline(o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS));
  hono.use("*", cors(o.corsOrigins ?? []));
  hono.use("*", ojsVersionCheck());

  const deps = {
    engine: o.engine,
    version: o.version,
    startedAt,
    enableReset: o.enableReset ?? false,
    fleet: o.fleet,
  };
  // The OpenAPI document, built from the route table on first request.
  let doc: OpenApiDocument | undefined;
  const openApi = (): OpenApiDocument => (doc ??= buildOpenApi(routes, { version: o.version }));
  const routes: RouteDef[] = [
    ...ojsJobRoutes(deps),
    ...ojsProgressRoutes(o.engine),
    ...ojsWorkerLifecycleRoutes(o.engine),
    ...ojsAdminRoutes(deps),
    ...ojsCronRoutes(o.engine),
    ...ojsWorkflowListRoutes(o.engine),
    ...ojsUniqueRoutes(o.engine),
    // The OJS Admin API extension (/ojs/v1/admin/*, spec ojs-admin-api).
    ...ojsAdminQueueRoutes(o.engine),
    ...ojsAdminJobRoutes(o.engine),
    ...ojsAdminWorkerRoutes(o.fleet),
    ...ojsAdminStatsRoutes({ ...deps, fleet: o.fleet }),
    ...ojsAdminDeadLetterRoutes(o.engine),
    ...ojsAdminMaintenanceRoutes(o.engine),
    // The OJS CLI's job list and bulk operations (data-plane paths, outside the spec).
    ...ojsJobListRoutes(o.engine),
    ...sseRoutes(o.engine),
    ...(o.fleet ? fleetRoutes(o.fleet) : []),
    ...(o.tokens ? tokenRoutes(o.tokens) : []),
    ...identityRoutes(o.identities ?? {}),
    ...apiRoutes(o.engine, o.fleet),
    ...liveRoutes(o.engine),
    ...keyRoutes(o.engine),
    ...schemaRoutes(o.engine),
    ...queueConfigRoutes(o.engine),
    ...rateLimitRoutes(o.engine),
    ...(o.metrics ? [metricsLatencyRoute(o.metrics)] : []),
    // Health, readiness, /metrics, the error catalogue, /openapi.json and /docs.
    ...systemRoutes({ ...deps, metrics: o.metrics, openApi }),
  ];
  registerRoutes(hono, routes, o.auth);
  registerUi(hono);

  hono.notFound((c) =>
    errorResponse(
      c,
      new JetjobError(ErrorCode.NotFound, `No route for ${c.req.method} ${c.req.path}.`, {
        hint: "See /docs for the API reference.",
      }),
    ),
  );
  hono.onError((err, c) => {
    const e = isJetjobError(err) ? err : coerceError(err);
    if (e.code === ErrorCode.Internal) {
      o.logger.error("request failed", {
        request_id: c.get("requestId"),
        path: c.req.path,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
    }
    return errorResponse(c, e);
  });
  return { hono, routes };
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Answers 504 `timeout` when a handler has not produced its response within `ms`, so no request
 * holds its client (or a load balancer's connection) for ever. The work itself is bounded where it is
 * done: user patterns run on RE2 (core/safe-regex.ts), lists and reports are paged.
 */
function requestDeadline(ms: number): MiddlewareHandler {
  return async (_c, next) => {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new JetjobError(ErrorCode.Timeout, `The request took longer than ${ms} ms and was abandoned.`, {
              retryable: true,
            }),
          ),
        ms,
      );
      timer.unref();
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}
