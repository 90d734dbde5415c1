/**
 * `PUT /ojs/v1/admin/queues/{name}/config` (ojs-backpressure §6.2, ojs-admin-api): a queue's depth
 * bound, and the settings of jetjob's own `PUT /api/v1/queues/{name}/config` in the same body, over
 * the same queue record (store/queues/queue-config.ts). Answers the queue's configuration.
 */
import { z } from "zod";

import { queueRetentionSchema } from "../core/schema.js";
import type { Engine } from "../store/engine.js";
import { backpressureSchema, configureQueue } from "../usecases/queues.js";
import { Scope } from "./auth.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { fields, openObject } from "./response-schemas.js";

const configSchema = z
  .object({
    backpressure: backpressureSchema.nullable().optional().describe("Depth bound; null removes it"),
    exclusive_key_template: z.string().nullable().optional(),
    retention: queueRetentionSchema.nullable().optional(),
  })
  .strict();

export function queueConfigRoutes(engine: Engine): RouteDef[] {
  return [
    defineRoute({
      method: "PUT",
      path: "/ojs/v1/admin/queues/{name}/config",
      scope: Scope.Admin,
      tag: "admin",
      summary:
        "Set a queue's depth bound (backpressure: max_depth, strategy reject, warning_threshold) and jetjob's per-queue settings",
      body: configSchema,
      response: fields({ queue: openObject }),
      handler: async (c, { params, body }) => {
        const view = await configureQueue({ engine }, params.name, body);
        return ojsJson(c, 200, { queue: view, ...view });
      },
    }),
  ];
}
