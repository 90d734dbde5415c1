/**
 * `PUT /ojs/v1/admin/queues/{name}/config` (ojs-backpressure §6.2, ojs-admin-api): a queue's depth
 * bound, and the settings of jetjob's own `PUT /api/v1/queues/{name}/config` in the same body, over
 * the same queue record (store/queues/queue-config.ts). Answers the queue's configuration.
 */
import { z } from "zod";

import { queueRetentionSchema } from "../core/schema.js";
import type { Engine } from "../store/engine.js";
import type { QueueConfigChange } from "../store/queues/queue-config.js";
import { Scope } from "./auth.js";
import { ojsJson } from "./ojs.js";
import { queueParam } from "./routes-ojs-admin.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { fields, openObject } from "./response-schemas.js";

/** ojs-backpressure §6.2 (only the `reject` strategy; other values are refused with 422). */
export const backpressureSchema = z
  .object({
    max_depth: z.int().min(0).optional().describe("Most unfinished jobs; 0: unbounded"),
    strategy: z.string().optional().describe("reject (the only strategy jetjob has)"),
    warning_threshold: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe("Fraction of max_depth from which enqueues carry X-OJS-Queue-Pressure (default 0.8)"),
    max_size_bytes: z.int().min(0).optional().describe("Not supported (0 only)"),
  })
  .strict();

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
        const change: QueueConfigChange = {};
        if (body.backpressure !== undefined) change.backpressure = body.backpressure;
        if (body.exclusive_key_template !== undefined)
          change.exclusive_key_template = body.exclusive_key_template;
        if (body.retention !== undefined) change.retention = body.retention;
        const view = await engine.configureQueue(queueParam(params.name), change);
        return ojsJson(c, 200, { queue: view, ...view });
      },
    }),
  ];
}
