/**
 * The OpenAPI 3.1 document, generated from the route table that registers and validates the routes
 * (see route.ts), so the reference cannot drift from what the server accepts. Zod schemas become JSON
 * Schema (draft 2020-12, the OpenAPI 3.1 dialect); request and response schemas are stored once under
 * `components.schemas` and referenced from the operations.
 */
import { z } from "zod";

import { ErrorCode } from "../core/errors.js";
import type { ErrorBody } from "./ojs.js";
import { OJS_MEDIA_TYPE } from "./ojs.js";
import type {
  JsonSchema,
  OpenApiDocument,
  OpenApiMediaType,
  OpenApiMethod,
  OpenApiOperation,
  OpenApiParameter,
  OpenApiPathItem,
  OpenApiReference,
  OpenApiRequestBody,
  OpenApiResponse,
} from "./openapi-types.js";
import type { Method, RouteDef } from "./route.js";

/** A route as far as documentation goes. */
export type DocRoute = Omit<RouteDef, "handler">;

/** The error body of every failed request (see ojs.ts `errorBody`). */
export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(Object.values(ErrorCode)).describe("Stable machine-readable code; see /docs/errors"),
      type: z.string().describe("Equal to code"),
      message: z.string(),
      retryable: z.boolean().describe("Whether sending the same request again may succeed"),
      details: z.record(z.string(), z.unknown()).exactOptional(),
      hint: z.string().exactOptional(),
      request_id: z.string().describe("Also sent as the X-Request-Id header"),
      docs_url: z.string().exactOptional(),
    }),
  })
  .meta({ title: "Error" }) satisfies z.ZodType<ErrorBody>;

const tagDescriptions: Record<string, string> = {
  jobs: "Queue jobs (OJS): enqueue, get, cancel, list and retry",
  workers: "The worker protocol (fetch, ack, nack, heartbeat) and fleet agents",
  queues: "Queues: list, stats, pause, resume, settings",
  events: "Lifecycle events, recent and live (Server-Sent Events)",
  "dead-letter": "Jobs discarded after their last attempt",
  cron: "Cron schedules",
  workflows: "Chains, groups and batches of jobs",
  fleet: "Targeted jobs: one operation on the agents a target selects",
  locks: "Distributed locks with fencing tokens",
  "exclusive keys": "Exclusive keys: one running job per key",
  system: "Health, manifest, metrics",
  docs: "This reference and the error catalogue",
};

const paramDescriptions: Record<string, string> = {
  id: "The job, workflow or dead-letter id",
  name: "The queue, cron schedule or lock name",
  host: "The agent's hostname",
};

const statusText: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No content",
};

/** Error responses, stored once under `components.responses`. */
const errorResponses: Record<string, { name: string; description: string }> = {
  "400": { name: "BadRequest", description: "invalid_request / invalid_payload: malformed request" },
  "401": { name: "Unauthorized", description: "unauthorized: no bearer token, or not a valid one" },
  "403": { name: "Forbidden", description: "forbidden: the token's scope does not allow this" },
  "404": { name: "NotFound", description: "not_found: the resource does not exist" },
  "409": {
    name: "Conflict",
    description:
      "conflict / duplicate / lock_held / lock_lost / lease_lost: not allowed in the current state",
  },
  "413": { name: "PayloadTooLarge", description: "payload_too_large: the body exceeds the limit" },
  "422": {
    name: "Unprocessable",
    description: "validation_error / no_targets / unsupported: well-formed but not acceptable",
  },
  "503": { name: "Unavailable", description: "backend_error / closed: NATS/JetStream unavailable" },
  "507": {
    name: "StorageFull",
    description: "storage_full: JetStream's storage is full; new jobs are refused, stored ones still run",
  },
};

const jsonMediaTypes = ["application/json", OJS_MEDIA_TYPE];

export function buildOpenApi(routes: RouteDef[], o: { version: string }): OpenApiDocument {
  const schemas: Record<string, JsonSchema> = { Error: convert(errorBodySchema, "Error", {}).schema };
  const responses: Record<string, OpenApiResponse> = {};
  for (const { name, description } of Object.values(errorResponses)) {
    responses[name] = { description, content: { [OJS_MEDIA_TYPE]: { schema: ref("Error") } } };
  }
  const paths: Record<string, OpenApiPathItem> = {};
  const tags: string[] = [];
  const usedIds = new Set<string>();

  for (const r of routes) {
    const method = r.method.toLowerCase() as OpenApiMethod;
    const item = (paths[r.path] ??= {});
    if (item[method]) continue; // Hono answers with the first registration; so does the document.
    let operationId = operationIdFor(r.method, r.path);
    for (let n = 2; usedIds.has(operationId); n++) operationId = `${operationIdFor(r.method, r.path)}${n}`;
    usedIds.add(operationId);
    if (!tags.includes(r.tag)) tags.push(r.tag);
    item[method] = operation(r, operationId, schemas);
  }

  return {
    openapi: "3.1.0",
    info: {
      title: "jetjob API",
      version: o.version,
      description: [
        "jetjob is a job system on NATS JetStream: the OJS HTTP binding under `/ojs/v1` and jetjob's own",
        "REST API (fleet jobs, agents, locks, exclusive keys) under `/api/v1`.",
        "",
        "Authentication: `Authorization: Bearer <token>`. Scopes are ordered `read` < `write` < `admin`;",
        "a token can call every operation that needs its scope or a lower one. Server-Sent Event routes",
        "also take the token as `?access_token=`. Errors share one body (`Error`); `/docs/errors` lists",
        "the codes.",
      ].join("\n"),
    },
    tags: tags.map((name) => {
      const description = tagDescriptions[name];
      return description === undefined ? { name } : { name, description };
    }),
    paths,
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "A token with the scope the operation needs" },
        accessToken: {
          type: "apiKey",
          in: "query",
          name: "access_token",
          description: "The bearer token as a query parameter (Server-Sent Event routes only)",
        },
      },
      schemas,
      responses,
    },
  };
}

/** A stable id from method and path: `GET /api/v1/jobs/{id}` → `getApiV1JobsById`. */
export function operationIdFor(method: Method, path: string): string {
  const words = path
    .split("/")
    .filter((s) => s !== "")
    .map((seg) => {
      const param = /^\{(\w+)\}$/.exec(seg);
      return param ? `By${pascal(param[1]!)}` : pascal(seg);
    });
  return method.toLowerCase() + (words.length === 0 ? "Root" : words.join(""));
}

function pascal(s: string): string {
  return s
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== "")
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join("");
}

function operation(r: DocRoute, operationId: string, schemas: Record<string, JsonSchema>): OpenApiOperation {
  const isPublic = r.scope === "public";
  const sse = r.queryToken === true;
  const typeName = operationId.charAt(0).toUpperCase() + operationId.slice(1);

  const parameters: OpenApiParameter[] = [];
  for (const m of r.path.matchAll(/\{(\w+)\}/g)) {
    const name = m[1]!;
    const description = paramDescriptions[name];
    parameters.push({
      name,
      in: "path",
      required: true,
      ...(description === undefined ? {} : { description }),
      schema: { type: "string" },
    });
  }
  if (r.query) parameters.push(...queryParameters(r.query, `${typeName}Query`, schemas));

  const bodySchema = r.body ?? r.docBody;
  const hasBody = bodySchema !== undefined || r.parseBody !== undefined;
  let requestBody: OpenApiRequestBody | undefined;
  if (hasBody) {
    const name = `${typeName}Request`;
    schemas[name] = bodySchema
      ? convert(bodySchema, name, schemas).schema
      : { type: "object", description: "A JSON object, validated by the operation." };
    const content: Record<string, OpenApiMediaType> = {};
    for (const t of jsonMediaTypes) content[t] = { schema: ref(name) };
    requestBody = { required: r.bodyOptional !== true, content };
  }

  const status = r.status ?? 200;
  const success: OpenApiResponse = { description: statusText[status] ?? "Success" };
  if (sse) {
    success.description = "A stream of Server-Sent Events (each event's data is a JSON object)";
    success.content = { "text/event-stream": { schema: { type: "string" } } };
  } else if (status === 204) {
    // No content.
  } else if (r.response) {
    const name = `${typeName}Response`;
    schemas[name] = convert(r.response, name, schemas).schema;
    success.content = { [r.mediaType ?? OJS_MEDIA_TYPE]: { schema: ref(name) } };
  } else if (r.mediaType?.startsWith("text/")) {
    success.content = { [r.mediaType]: { schema: { type: "string" } } };
  } else {
    success.content = { [r.mediaType ?? OJS_MEDIA_TYPE]: { schema: { type: "object" } } };
  }

  const responses: OpenApiOperation["responses"] = { [String(status)]: success };
  const errors: string[] = [];
  if (hasBody || r.query || parameters.length > 0) errors.push("400");
  if (!isPublic) errors.push("401", "403");
  if (r.path.includes("{")) errors.push("404");
  if (r.method !== "GET" && !isPublic) errors.push("409");
  if (hasBody) errors.push("413");
  if (hasBody || r.query) errors.push("422");
  if (r.path.endsWith("/health") || r.path.endsWith("/ready")) {
    responses["503"] = { ...success, description: "Degraded: NATS/JetStream does not answer" };
  } else if (!isPublic) {
    errors.push("503");
    if (r.method === "POST") errors.push("507");
  }
  for (const code of errors) responses[code] = ref(errorResponses[code]!.name, "responses");

  const access = isPublic
    ? "Public: no token needed."
    : `Requires a bearer token with the \`${r.scope}\` scope or a higher one.` +
      (sse ? " The token may also be sent as `?access_token=` (EventSource cannot send headers)." : "");
  return {
    operationId,
    summary: r.summary,
    description: `${r.summary}.\n\n${access}`,
    tags: [r.tag],
    "x-scope": r.scope,
    security: isPublic ? [] : sse ? [{ bearer: [] }, { accessToken: [] }] : [{ bearer: [] }],
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(requestBody === undefined ? {} : { requestBody }),
    responses,
  };
}

function queryParameters(
  query: z.ZodObject,
  name: string,
  schemas: Record<string, JsonSchema>,
): OpenApiParameter[] {
  const { schema, selfRef } = convert(query, name, schemas);
  if (selfRef) schemas[name] = schema;
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  return Object.entries(properties).map(([key, prop]) => {
    const { description, ...rest } = prop;
    return {
      name: key,
      in: "query",
      required: required.has(key),
      ...(typeof description === "string" ? { description } : {}),
      schema: rest,
    };
  });
}

function ref(name: string, kind: "schemas" | "responses" = "schemas"): OpenApiReference {
  return { $ref: `#/components/${kind}/${name}` };
}

/**
 * Zod to JSON Schema for a component called `name`. Recursive schemas refer to their root (`#`) or
 * to `$defs`; both are rewritten to component references (`$defs` become `<name>_<def>` components).
 * A schema that cannot be converted becomes an unconstrained one that says so.
 */
function convert(
  schema: z.ZodType,
  name: string,
  schemas: Record<string, JsonSchema>,
): { schema: JsonSchema; selfRef: boolean } {
  let out: JsonSchema;
  try {
    out = z.toJSONSchema(schema, {
      target: "draft-2020-12",
      unrepresentable: "any",
      io: "input",
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { schema: { description: `(No JSON Schema for this body: ${reason})` }, selfRef: false };
  }
  const { $schema: _dialect, $defs, ...root } = out;
  let selfRef = false;
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (v === null || typeof v !== "object") return v;
    const o: JsonSchema = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === "$ref" && typeof x === "string" && x.startsWith("#")) {
        if (x === "#") selfRef = true;
        const def = x.startsWith("#/$defs/") ? x.slice("#/$defs/".length) : undefined;
        o[k] = `#/components/schemas/${def === undefined ? name : `${name}_${pascal(def)}`}`;
      } else {
        o[k] = rewrite(x);
      }
    }
    return o;
  };
  if ($defs !== null && typeof $defs === "object") {
    for (const [def, s] of Object.entries($defs))
      schemas[`${name}_${pascal(def)}`] = rewrite(s) as JsonSchema;
  }
  return { schema: rewrite(root) as JsonSchema, selfRef };
}
