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

export interface RouteInput<B> {
  body: B;
  params: Record<string, string>;
  query: Record<string, string>;
  principal: Principal | undefined;
}

export interface RouteDef<B = unknown> {
  method: Method;
  path: string;
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
  /** Query parameters the handler reads (documentation only; handlers validate them). */
  query?: z.ZodObject;
  /** Response schema, for documentation. */
  response?: z.ZodType;
  /** Success status, for documentation. @defaultValue 200 */
  status?: number;
  handler: (c: Context, input: RouteInput<B>) => Promise<Response> | Response;
}

/** Keeps the body type of a route definition while storing it in a table. */
export function defineRoute<B>(def: RouteDef<B>): RouteDef<unknown> {
  return def as unknown as RouteDef<unknown>;
}

export function registerRoutes(app: Hono, routes: RouteDef[], auth: Authenticator): void {
  for (const r of routes) {
    const honoPath = r.path.replace(/\{(\w+)\}/g, ":$1");
    app.on(r.method, honoPath, async (c) => {
      const principal = authorize(c, r, auth);
      const body = r.body || r.parseBody ? await readBody(c, r) : undefined;
      const query: Record<string, string> = {};
      for (const [k, v] of new URL(c.req.url).searchParams) query[k] = v;
      return r.handler(c, { body, params: c.req.param(), query, principal });
    });
  }
}

function authorize(c: Context, r: RouteDef, auth: Authenticator): Principal | undefined {
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

async function readBody(c: Context, r: RouteDef): Promise<unknown> {
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
