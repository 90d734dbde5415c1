/**
 * Routes as data: method, path, required scope, request schemas and a handler. The same table
 * registers the Hono routes and documents the API, so validation and documentation cannot drift.
 */
import type { Context, Hono } from "hono";
import type { z } from "zod";

import { ErrorCode, JetjobError, ValidationError } from "../core/errors.js";
import { zodToValidationError } from "../core/envelope.js";
import type { Authenticator, Principal, Scope } from "./auth.js";
import { hasScope } from "./auth.js";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** The parameter names of a path template: `"/ojs/v1/jobs/{id}/{x}"` → `"id" | "x"`. */
export type PathParamNames<P extends string> = P extends `${string}{${infer N}}${infer Rest}`
  ? N | PathParamNames<Rest>
  : never;

/** The path parameters of a template (`{ id: string }`); any string keys when the path is not a literal. */
export type PathParams<P extends string> = string extends P
  ? Record<string, string>
  : { [K in PathParamNames<P>]: string };

/** The query a handler gets: parsed by the route's `query` schema; nothing without one. */
export type QueryOf<Q extends z.ZodObject | undefined> = Q extends z.ZodObject
  ? z.output<Q>
  : Record<never, never>;

export interface RouteInput<B, P extends string = string, Q extends z.ZodObject | undefined = undefined> {
  body: B;
  params: PathParams<P>;
  query: QueryOf<Q>;
  principal: Principal | undefined;
}

export interface RouteDef<
  B = unknown,
  P extends string = string,
  Q extends z.ZodObject | undefined = z.ZodObject | undefined,
> {
  method: Method;
  path: P;
  /** Scope needed, or "public" for routes that never need a token (health, manifest). */
  scope: Scope | "public";
  summary: string;
  tag: string;
  /** Request body schema; validates requests and documents them. */
  body?: z.ZodType<B>;
  /** Replaces `body.parse` where a route maps errors itself (e.g. OJS 400 vs 422). */
  parseBody?: (raw: unknown) => B;
  /** The wire schema of the body when `parseBody` validates it (documentation only). */
  docBody?: z.ZodType;
  /** The body may be empty (then `body` is `undefined`). */
  bodyOptional?: boolean;
  /** Also accept the token as `?access_token=` (SSE: browsers' EventSource cannot send headers). */
  queryToken?: boolean;
  /**
   * The query parameters: the request's query is parsed by this schema (a failure answers 400 with
   * the API's validation envelope) and the handler gets the parsed value. Values arrive as strings;
   * numbers use `queryInt` (query.ts). Unknown parameters are dropped unless the schema is loose.
   */
  query?: Q;
  /** The success response's body schema (documentation and typing; the handler builds the body). */
  response?: z.ZodType;
  /** The success response's media type, when it is not the OJS JSON type. */
  mediaType?: string;
  /** Success status, for documentation. @defaultValue 200 */
  status?: number;
  handler: (c: Context, input: RouteInput<B, P, Q>) => Promise<Response> | Response;
}

/** A route as stored in a table: its types erased once `defineRoute` has checked them. */
export type AnyRouteDef = RouteDef;

/**
 * Keeps the body, path-parameter and query types of a route definition while storing it in a table:
 * `path: "/ojs/v1/jobs/{id}"` gives the handler `params: { id: string }`.
 */
export function defineRoute<B, const P extends string, Q extends z.ZodObject | undefined = undefined>(
  def: RouteDef<B, P, Q>,
): AnyRouteDef {
  return def as unknown as AnyRouteDef;
}

export function registerRoutes(app: Hono, routes: AnyRouteDef[], auth: Authenticator): void {
  for (const r of routes) {
    const honoPath = r.path.replace(/\{(\w+)\}/g, ":$1");
    app.on(r.method, honoPath, async (c) => {
      const principal = authorize(c, r, auth);
      const body = r.body || r.parseBody ? await readBody(c, r) : undefined;
      const query = readQuery(c, r);
      return r.handler(c, { body, params: c.req.param(), query, principal });
    });
  }
}

/** The query as the route's schema parses it (the last of repeated keys); none without a schema. */
function readQuery(c: Context, r: AnyRouteDef): Record<string, unknown> {
  if (!r.query) return {};
  const raw: Record<string, string> = {};
  for (const [k, v] of new URL(c.req.url).searchParams) raw[k] = v;
  const parsed = r.query.safeParse(raw);
  if (!parsed.success) throw zodToValidationError(parsed.error);
  return parsed.data;
}

function authorize(c: Context, r: AnyRouteDef, auth: Authenticator): Principal | undefined {
  if (r.scope === "public" || !auth.enabled) return undefined;
  let header = c.req.header("Authorization");
  if (header === undefined && r.queryToken) {
    const t = c.req.query("access_token");
    if (t) header = `Bearer ${t}`;
  }
  const principal = auth.verify(header);
  if (!principal) {
    throw new JetjobError(
      ErrorCode.Unauthorized,
      header ? "The bearer token is not valid." : "A bearer token is required.",
    );
  }
  c.set("principal", principal.name);
  if (!hasScope(principal, r.scope)) {
    throw new JetjobError(ErrorCode.Forbidden, `This operation needs the '${r.scope}' scope.`, {
      details: { required_scope: r.scope, token_scope: principal.scope },
    });
  }
  return principal;
}

const jsonType = /^application\/(?:[\w.+-]+\+)?json\b/i;

async function readBody(c: Context, r: AnyRouteDef): Promise<unknown> {
  const type = c.req.header("Content-Type");
  if (type !== undefined && type !== "" && !jsonType.test(type)) {
    throw new ValidationError(
      `Content-Type ${type} is not supported; send application/openjobspec+json or application/json.`,
      {
        code: ErrorCode.InvalidPayload,
      },
    );
  }
  const text = await c.req.text();
  if (text.trim() === "") {
    if (r.bodyOptional) return undefined;
    throw new ValidationError("The request body is empty; a JSON object is required.", {
      code: ErrorCode.InvalidPayload,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ValidationError("The request body is not valid JSON.", { code: ErrorCode.InvalidPayload });
  }
  if (r.parseBody) return r.parseBody(raw);
  const parsed = r.body!.safeParse(raw);
  if (!parsed.success) throw zodToValidationError(parsed.error);
  return parsed.data;
}
