/**
 * `/api/v1/tokens`: API tokens created, listed and revoked at run time (admin scope). A token is
 * shown once, when it is created; lists never show it. Revoking takes effect on every API server
 * within the time NATS takes to pass the change on.
 */
import { z } from "zod";

import { Scope } from "./auth.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import type { TokenStore } from "./tokens.js";
import { fields, openObject } from "./response-schemas.js";

const createSchema = z
  .object({
    name: z.string().min(1).max(64).describe("Shown in logs and as created_by on jobs"),
    scope: z.enum(["read", "write", "admin"]),
    expires_in_ms: z.int().min(1000).optional().describe("Lifetime; absent: until revoked"),
  })
  .strict();

export function tokenRoutes(tokens: TokenStore): RouteDef[] {
  return [
    defineRoute({
      method: "POST",
      path: "/api/v1/tokens",
      scope: Scope.Admin,
      tag: "tokens",
      status: 201,
      summary: "Create an API token (shown once in the answer); usable on every API server at once",
      body: createSchema,
      response: fields({ token: z.string() }),
      handler: async (c, { body }) => {
        const { token, view } = await tokens.create({
          name: body.name,
          scope: body.scope,
          createdBy: c.get("principal"),
          ...(body.expires_in_ms === undefined ? {} : { expiresInMs: body.expires_in_ms }),
        });
        return ojsJson(c, 201, { token, ...view });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/api/v1/tokens",
      scope: Scope.Admin,
      tag: "tokens",
      summary: "Tokens created at run time (never the tokens themselves); start-up tokens are not listed",
      response: fields({ tokens: z.array(openObject) }),
      handler: (c) => ojsJson(c, 200, { tokens: tokens.list() }),
    }),
    defineRoute({
      method: "DELETE",
      path: "/api/v1/tokens/{id}",
      scope: Scope.Admin,
      tag: "tokens",
      summary: "Revoke a run-time token by id or name: refused (401) on every API server from then on",
      response: fields({ revoked: z.unknown() }),
      handler: async (c, { params }) => ojsJson(c, 200, { revoked: await tokens.revoke(params.id) }),
    }),
  ];
}
