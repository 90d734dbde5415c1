/**
 * `/api/v1/agent-identities` and `/api/v1/agent-enroll-tokens` (admin scope): agent enrollment over
 * HTTP, for the dashboard's Workers page. Each route calls the same function as the CLI command of the
 * same name (access/enrollment.ts), so both change the identities bucket in the same way; revoking
 * disconnects the agent on every NATS node because every auth callout service watches that bucket.
 *
 * The routes are always in the table (the API and its documentation do not depend on configuration).
 * When this server's NATS does not hand agents' logins to jetjob (`jetjob start --no-nats-auth`, or
 * `jetjob server` without `--nats-auth-issuer-seed`), the list answers `enabled: false` with the reason
 * in words and every change answers 422 `unsupported`.
 */
import { z } from "zod";

import {
  acceptAgent,
  createEnrollToken,
  enrollCommand,
  forgetAgent,
  listIdentities,
  MAX_ENROLL_TOKEN_TTL_MS,
  rejectAgent,
  revokeAgent,
} from "../access/enrollment.js";
import type { IdentityStore } from "../access/identities.js";
import { IdentityState } from "../access/identities.js";
import { ErrorCode, JetjobError } from "../core/errors.js";
import { queueNameSchema } from "../core/schema.js";
import { Scope } from "./auth.js";
import { ojsJson } from "./ojs.js";
import type { Principal } from "./auth.js";
import {
  agentIdentityListSchema,
  agentIdentitySchema,
  enrollTokenSchema,
  fields,
} from "./response-schemas.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";

export interface IdentityRouteOptions {
  /**
   * The identities bucket, when this server's NATS hands agents' logins to jetjob's auth callout;
   * without it the routes say that enrollment is off.
   */
  identities?: IdentityStore | undefined;
  /** The NATS URLs this server connects to, for the command shown with a new enrollment token. */
  natsUrls?: readonly string[] | undefined;
}

/** Why enrollment is off, for the list's `reason` and the 422 of every change. */
export const IDENTITIES_OFF_REASON =
  "Agent identities are not enabled on this server: its NATS does not hand agents' logins to jetjob " +
  "(started with --no-nats-auth, or `jetjob server` without --nats-auth-issuer-seed). Agents use the " +
  "shared NATS login.";

const stateQuery = z
  .object({
    state: z
      .enum([IdentityState.Pending, IdentityState.Accepted, IdentityState.Rejected, IdentityState.Revoked])
      .optional()
      .describe("Only identities in this state (pending: agents waiting to join)"),
  })
  .strict();

const enrollTokenBody = z
  .object({
    expires_in_ms: z
      .int()
      .min(1000)
      .max(MAX_ENROLL_TOKEN_TTL_MS)
      .optional()
      .describe("Lifetime; default 1 hour, at most 30 days"),
  })
  .strict();

const identityBody = fields({ identity: agentIdentitySchema });

const acceptBody = z
  .object({
    queues: z
      .array(queueNameSchema)
      .min(1)
      .max(100)
      .optional()
      .describe("Queues it may take jobs from; a worker identity (`worker:<name>`) needs at least one"),
  })
  .strict();

export function identityRoutes(o: IdentityRouteOptions): RouteDef[] {
  const store = (): IdentityStore => {
    if (o.identities) return o.identities;
    throw new JetjobError(ErrorCode.Unsupported, IDENTITIES_OFF_REASON, {
      details: { feature: "agent_identities" },
      hint: "Run `jetjob start` without --no-nats-auth, or give `jetjob server` --nats-auth-issuer-seed (docs/security.md).",
    });
  };
  const by = (p: Principal | undefined) => `api:${p?.name ?? "anonymous"}`;
  const decision = (verb: "reject" | "revoke", op: typeof rejectAgent, summary: string) =>
    defineRoute({
      method: "POST",
      path: `/api/v1/agent-identities/{host}/${verb}`,
      scope: Scope.Admin,
      tag: "agent identities",
      summary,
      response: identityBody,
      handler: async (c, { params, principal }) =>
        ojsJson(c, 200, { identity: await op(store(), params.host, { by: by(principal) }) }),
    });
  return [
    defineRoute({
      method: "GET",
      path: "/api/v1/agent-identities",
      scope: Scope.Admin,
      tag: "agent identities",
      summary:
        "Agents' NATS identities and their state (never a secret); `enabled: false` with a reason when this server does not run enrollment",
      query: stateQuery,
      response: agentIdentityListSchema,
      handler: async (c, { query }) => {
        if (!o.identities)
          return ojsJson(c, 200, { enabled: false, reason: IDENTITIES_OFF_REASON, identities: [] });
        return ojsJson(c, 200, {
          enabled: true,
          identities: await listIdentities(o.identities, { state: query.state }),
        });
      },
    }),
    defineRoute({
      method: "POST",
      path: "/api/v1/agent-identities/{host}/accept",
      scope: Scope.Admin,
      tag: "agent identities",
      summary:
        "Let a pending agent or worker join with its own NATS identity, with the queues it may take jobs from (409 when not pending)",
      body: acceptBody,
      bodyOptional: true,
      response: identityBody,
      handler: async (c, { params, body, principal }) =>
        ojsJson(c, 200, {
          identity: await acceptAgent(store(), params.host, { by: by(principal), queues: body?.queues }),
        }),
    }),
    decision("reject", rejectAgent, "Refuse an agent from now on"),
    decision(
      "revoke",
      revokeAgent,
      "Cut an agent off: its connections on every NATS node are closed and it cannot reconnect",
    ),
    defineRoute({
      method: "DELETE",
      path: "/api/v1/agent-identities/{host}",
      scope: Scope.Admin,
      tag: "agent identities",
      summary: "Forget an identity: its connections are closed; the host may ask to join again",
      response: fields({ forgotten: agentIdentitySchema }),
      handler: async (c, { params }) =>
        ojsJson(c, 200, { forgotten: await forgetAgent(store(), params.host) }),
    }),
    defineRoute({
      method: "POST",
      path: "/api/v1/agent-enroll-tokens",
      scope: Scope.Admin,
      tag: "agent identities",
      status: 201,
      summary:
        "A one-time enrollment token (shown once) and the command an agent runs with it to join without waiting",
      body: enrollTokenBody,
      bodyOptional: true,
      response: enrollTokenSchema,
      handler: async (c, { body, principal }) => {
        const t = await createEnrollToken(store(), {
          by: by(principal),
          expiresInMs: body?.expires_in_ms,
        });
        const natsUrl = advertisedNatsUrl(o.natsUrls ?? [], new URL(c.req.url).hostname);
        return ojsJson(c, 201, { ...t, command: enrollCommand({ natsUrl, token: t.token }) });
      },
    }),
  ];
}

const loopbackOrAny = (host: string) =>
  host === "localhost" ||
  host === "0.0.0.0" ||
  host === "::" ||
  host === "[::]" ||
  host === "::1" ||
  host === "[::1]" ||
  /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * The NATS URL an agent on another machine would use: the server's own, except that a loopback (or
 * any-address) host becomes the host the dashboard was reached at, the machine `jetjob start` runs on.
 */
export function advertisedNatsUrl(natsUrls: readonly string[], requestHost: string): string {
  const first = natsUrls[0]?.split(",")[0]?.trim();
  if (!first) return "nats://<nats-host>:4222";
  let url: URL;
  try {
    url = new URL(first.includes("://") ? first : `nats://${first}`);
  } catch {
    return first;
  }
  if (loopbackOrAny(url.hostname) && requestHost !== "" && !loopbackOrAny(requestHost)) {
    url.hostname = requestHost;
  }
  return `${url.protocol}//${url.host}`;
}
