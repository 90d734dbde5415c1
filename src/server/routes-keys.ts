/**
 * `/api/v1` routes for exclusive keys (which job holds each key, how many wait), per-queue settings
 * (the exclusive key template), deleting a queue and user locks.
 */
import { z } from "zod";

import { queueNameSchema } from "../core/schema.js";
import type { Engine } from "../store/engine.js";
import type { UseCaseDeps } from "../usecases/deps.js";
import {
  acquireLock,
  listLocks,
  lockAcquireSchema,
  lockReleaseSchema,
  lockRenewSchema,
  releaseLock,
  renewLock,
} from "../usecases/locks.js";
import { configureQueue, deleteQueue, exclusiveKeys, queueConfigSchema } from "../usecases/queues.js";
import { Scope } from "./auth.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { fields, lockSchema, openObject } from "./response-schemas.js";

export function keyRoutes(engine: Engine): RouteDef[] {
  const d: UseCaseDeps = { engine };
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
        return ojsJson(c, 200, { keys: await exclusiveKeys(d, query) });
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
      handler: async (c, { params, body }) =>
        ojsJson(c, 200, { queue: await configureQueue(d, params.name, body) }),
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
        handler: async (c, { params }) => ojsJson(c, 200, await deleteQueue(d, params.name)),
      }),
    ),
    defineRoute({
      method: "GET",
      path: "/api/v1/locks",
      scope: Scope.Read,
      tag: "locks",
      summary: "Locks held now (owner, fencing token, expiry; never the secret token)",
      response: fields({ locks: z.array(lockSchema) }),
      handler: async (c) => ojsJson(c, 200, { locks: await listLocks(d) }),
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
      handler: async (c, { body }) => ojsJson(c, 201, { lock: await acquireLock(d, body, c.req.raw.signal) }),
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
        ojsJson(c, 200, { lock: await renewLock(d, params.name, body) }),
    }),
    defineRoute({
      method: "POST",
      path: "/api/v1/locks/{name}/release",
      scope: Scope.Write,
      tag: "locks",
      summary: "Release a lock held with this token (409 lock_lost otherwise)",
      body: lockReleaseSchema,
      response: fields({ released: z.boolean(), name: z.string() }),
      handler: async (c, { params, body }) => ojsJson(c, 200, await releaseLock(d, params.name, body)),
    }),
  ];
}
