/**
 * `/api/v1` routes for exclusive keys (which job holds each key, how many wait), per-queue settings
 * (the exclusive key template), deleting a queue and user locks.
 */
import { z } from "zod";

import { queueNameSchema, queueRetentionSchema } from "../core/schema.js";
import { backpressureSchema } from "./routes-ojs-queue-config.js";
import type { Engine } from "../store/engine.js";
import type { QueueConfigChange } from "../store/queues/queue-config.js";
import { LOCK_LIMITS } from "../store/features/locks.js";
import { Scope } from "./auth.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { queueParam } from "./routes-ojs-admin.js";
import { fields, lockSchema, openObject } from "./response-schemas.js";

const queueConfigSchema = z
  .object({
    exclusive_key_template: z.string().nullable().optional(),
    retention: queueRetentionSchema
      .nullable()
      .optional()
      .describe(
        "Retention of the queue's finished jobs (fields given replace the queue's; null: the defaults)",
      ),
    backpressure: backpressureSchema
      .nullable()
      .optional()
      .describe("Depth bound of enqueues (ojs-backpressure): max_depth, warning_threshold; null removes it"),
  })
  .strict();

const lockAcquireSchema = z
  .object({
    name: z.string().min(1).max(LOCK_LIMITS.maxNameLength),
    ttl_ms: z.int().min(LOCK_LIMITS.minTtlMs).max(LOCK_LIMITS.maxTtlMs).optional(),
    wait_ms: z.int().min(0).max(LOCK_LIMITS.maxWaitMs).optional(),
    owner: z.string().max(256).optional(),
  })
  .strict();

const lockRenewSchema = z
  .object({
    token: z.string().min(1).max(100),
    ttl_ms: z.int().min(LOCK_LIMITS.minTtlMs).max(LOCK_LIMITS.maxTtlMs).optional(),
  })
  .strict();

const lockReleaseSchema = z.object({ token: z.string().min(1).max(100) }).strict();

export function keyRoutes(engine: Engine): RouteDef[] {
  return [
    defineRoute({
      method: "GET",
      path: "/api/v1/exclusive-keys",
      scope: Scope.Read,
      tag: "exclusive keys",
      query: z.object({ queue: queueNameSchema.optional().describe("Only keys of this queue") }),
      summary:
        "Exclusive keys that are held or have waiting jobs: holder job and worker, jobs waiting (?queue=)",
      response: fields({ keys: z.array(openObject) }),
      handler: async (c, { query }) => {
        const keys = await engine.exclusiveKeys(query.queue === undefined ? {} : { queue: query.queue });
        return ojsJson(c, 200, { keys });
      },
    }),
    defineRoute({
      method: "PUT",
      path: "/api/v1/queues/{name}/config",
      scope: Scope.Admin,
      tag: "queues",
      summary:
        'Set per-queue settings: exclusive_key_template (e.g. "host:{args.0.host}"; null removes it), retention (completed_ms, discarded_ms, dead_letter_ms, completed_count, discarded_count; null: the defaults)',
      body: queueConfigSchema,
      response: fields({ queue: openObject }),
      handler: async (c, { params, body }) => {
        const change: QueueConfigChange = {};
        if (body.exclusive_key_template !== undefined)
          change.exclusive_key_template = body.exclusive_key_template;
        if (body.retention !== undefined) change.retention = body.retention;
        if (body.backpressure !== undefined) change.backpressure = body.backpressure;
        return ojsJson(c, 200, { queue: await engine.configureQueue(queueParam(params.name), change) });
      },
    }),
    // The same delete on jetjob's API and where the OJS CLI sends it (`ojs queues --delete`).
    ...(["/api/v1/queues/{name}", "/ojs/v1/queues/{name}"] as const).map((path) =>
      defineRoute({
        method: "DELETE",
        path,
        scope: Scope.Admin,
        tag: "queues",
        summary:
          "Delete a queue that has no unfinished job (409 conflict with the counts otherwise); its finished jobs stay readable until retention removes them",
        response: fields({ deleted: z.boolean(), name: z.string(), finished: openObject }),
        handler: async (c, { params }) => ojsJson(c, 200, await engine.deleteQueue(queueParam(params.name))),
      }),
    ),
    defineRoute({
      method: "GET",
      path: "/api/v1/locks",
      scope: Scope.Read,
      tag: "locks",
      summary: "Locks held now (owner, fencing token, expiry; never the secret token)",
      response: fields({ locks: z.array(lockSchema) }),
      handler: async (c) => ojsJson(c, 200, { locks: await engine.locks.list() }),
    }),
    defineRoute({
      method: "POST",
      path: "/api/v1/locks",
      scope: Scope.Write,
      tag: "locks",
      summary: "Acquire a lock, waiting up to wait_ms for it (409 lock_held when it stays taken)",
      body: lockAcquireSchema,
      status: 201,
      response: fields({ lock: lockSchema }),
      handler: async (c, { body }) => {
        const lock = await engine.locks.acquire({
          name: body.name,
          signal: c.req.raw.signal,
          ...(body.ttl_ms === undefined ? {} : { ttlMs: body.ttl_ms }),
          ...(body.wait_ms === undefined ? {} : { waitMs: body.wait_ms }),
          ...(body.owner === undefined ? {} : { owner: body.owner }),
        });
        return ojsJson(c, 201, { lock });
      },
    }),
    defineRoute({
      method: "POST",
      path: "/api/v1/locks/{name}/renew",
      scope: Scope.Write,
      tag: "locks",
      summary: "Extend a lock held with this token (409 lock_lost otherwise)",
      body: lockRenewSchema,
      response: fields({ lock: lockSchema }),
      handler: async (c, { params, body }) =>
        ojsJson(c, 200, { lock: await engine.locks.renew(params.name, body.token, body.ttl_ms) }),
    }),
    defineRoute({
      method: "POST",
      path: "/api/v1/locks/{name}/release",
      scope: Scope.Write,
      tag: "locks",
      summary: "Release a lock held with this token (409 lock_lost otherwise)",
      body: lockReleaseSchema,
      response: fields({ released: z.boolean(), name: z.string() }),
      handler: async (c, { params, body }) =>
        ojsJson(c, 200, await engine.locks.release(params.name, body.token)),
    }),
  ];
}
