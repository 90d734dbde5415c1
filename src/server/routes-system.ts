/**
 * The system and documentation routes: liveness, readiness, Prometheus metrics, the error
 * catalogue, the OpenAPI document and the reference page. Table entries like every other route, so
 * they are registered, authorised and documented the same way.
 */
import { z } from "zod";

import { Scope } from "./auth.js";
import { health, ready } from "./health.js";
import { renderDocsPage } from "./docs-page.js";
import { prefersHtml, renderErrorsPage } from "./errors-page.js";
import type { Metrics } from "./metrics.js";
import { metricsContentType } from "./metrics.js";
import { errorCatalog, ojsJson } from "./ojs.js";
import type { OpenApiDocument } from "./openapi-types.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import type { OjsRouteDeps } from "./routes-ojs.js";
import { healthResponseSchema, readyResponseSchema } from "./response-schemas.js";

const errorCatalogSchema = z.object({
  errors: z.array(z.object({ code: z.string(), status: z.int(), hint: z.string() })),
});

export interface SystemRouteDeps extends OjsRouteDeps {
  /** Serves `GET /metrics` when given. */
  metrics?: Metrics | undefined;
  /** The OpenAPI document of the whole route table (built on first request). */
  openApi: () => OpenApiDocument;
}

export function systemRoutes(d: SystemRouteDeps): RouteDef[] {
  let page: string | undefined;
  const { metrics } = d;
  return [
    defineRoute({
      method: "GET",
      path: "/health",
      scope: "public",
      tag: "system",
      summary: "Liveness and the state of NATS/JetStream, for load balancers and clients",
      response: healthResponseSchema,
      handler: (c) => health(c, d),
    }),
    defineRoute({
      method: "GET",
      path: "/ready",
      scope: "public",
      tag: "system",
      summary: "Readiness: 200 when new jobs can be stored now, else 503 with the reasons",
      response: readyResponseSchema,
      // The same answer as /ojs/v1/ready (ojs-observability).
      handler: (c) => ready(c, d),
    }),
    ...(metrics
      ? [
          defineRoute({
            method: "GET",
            path: "/metrics",
            scope: Scope.Read,
            tag: "system",
            summary: "Prometheus metrics: jobs by state, latency histograms, queue depth, workers",
            mediaType: "text/plain; version=0.0.4",
            response: z.string().describe("The Prometheus text exposition format"),
            handler: async (c) =>
              new Response(await metrics.render(), {
                status: 200,
                headers: { "Content-Type": metricsContentType(c.req.header("accept"), metrics.contentType) },
              }),
          }),
        ]
      : []),
    defineRoute({
      method: "GET",
      path: "/docs/errors",
      scope: "public",
      tag: "docs",
      summary: "Every error code with its HTTP status and a hint",
      response: errorCatalogSchema,
      handler: (c) =>
        prefersHtml(c.req.header("accept"))
          ? c.html(renderErrorsPage(errorCatalog()))
          : ojsJson(c, 200, { errors: errorCatalog() }),
    }),
    defineRoute({
      method: "GET",
      path: "/openapi.json",
      scope: "public",
      tag: "docs",
      summary: "This OpenAPI 3.1 document",
      mediaType: "application/json",
      response: z.record(z.string(), z.unknown()).describe("An OpenAPI 3.1 document"),
      handler: (c) => c.json(d.openApi()),
    }),
    defineRoute({
      method: "GET",
      path: "/docs",
      scope: "public",
      tag: "docs",
      summary: "The API reference (HTML), rendered from the OpenAPI document",
      mediaType: "text/html",
      response: z.string().describe("An HTML page"),
      handler: (c) => c.html((page ??= renderDocsPage(d.openApi()))),
    }),
  ];
}
