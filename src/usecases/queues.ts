/**
 * Queues: list, statistics, pause and resume, per-queue settings, delete; the exclusive keys held in
 * them and the store's storage report. Queue names are checked here (a name like `>` is not a
 * subject token), for the HTTP routes and the NATS client alike.
 */
import { z } from "zod";

import { ValidationError } from "../core/errors.js";
import { queueNameSchema, queueRetentionSchema } from "../core/schema.js";
import type { ExclusiveKeyView } from "../store/features/exclusive-view.js";
import type { QueueConfigChange, QueueConfigView } from "../store/queues/queue-config.js";
import type { QueueDeleted } from "../store/queues/queue-delete.js";
import type { QueueRecord } from "../store/queues/queues.js";
import type { QueueStats } from "../store/queues/stats.js";
import type { StorageReport } from "../store/retention/report.js";
import { consumersByQueue } from "../worker/presence.js";
import type { UseCaseDeps } from "./deps.js";

/** A queue in the queue list. */
export interface QueueInfo {
  name: string;
  status: "active" | "paused";
  paused: boolean;
  created_at: string;
}

/** A queue's statistics with the workers that take it. */
export interface QueueConsumers extends QueueStats {
  consumers: number;
  no_consumers: boolean;
}

/** `name` if it is a valid queue name, else a validation error. */
export function queueName(name: string | undefined): string {
  if (!name || !queueNameSchema.safeParse(name).success)
    throw new ValidationError(`'${name ?? ""}' is not a valid queue name`);
  return name;
}

/** Every queue, by name. */
export async function listQueues(d: UseCaseDeps): Promise<QueueInfo[]> {
  return (await d.engine.listQueues()).map((q) => ({
    name: q.name,
    status: q.paused ? "paused" : "active",
    paused: q.paused,
    created_at: new Date(q.createdAt).toISOString(),
  }));
}

/** Counts of a queue's jobs by state, and whether it is paused. */
export const queueStats = (d: UseCaseDeps, name: string): Promise<QueueStats> =>
  d.engine.queueStats(queueName(name));

/**
 * Every queue's counts with its consumers (online queue workers, from the fleet controller's
 * registry); `no_consumers` flags an active queue with jobs waiting and nobody to run them.
 */
export async function queuesWithConsumers(d: UseCaseDeps): Promise<QueueConsumers[]> {
  const stats = await d.engine.allQueueStats();
  const consumers = consumersByQueue(d.fleet?.registry.queueWorkers() ?? []);
  return stats.map((s) => {
    const n = consumers.get(s.name) ?? 0;
    return { ...s, consumers: n, no_consumers: !s.paused && n === 0 && s.available > 0 };
  });
}

/** Pauses (jobs are accepted but not handed out) or resumes a queue. */
export const setQueuePaused = (d: UseCaseDeps, name: string, paused: boolean): Promise<QueueRecord> =>
  d.engine.setPaused(queueName(name), paused);

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

/** The body of `PUT /api/v1/queues/{name}/config`. */
export const queueConfigSchema = z
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

export type QueueConfigBody = z.output<typeof queueConfigSchema>;

/** Sets per-queue settings; fields left out stay as they are. */
export function configureQueue(
  d: UseCaseDeps,
  name: string,
  body: QueueConfigBody,
): Promise<QueueConfigView> {
  const change: QueueConfigChange = {};
  if (body.exclusive_key_template !== undefined) change.exclusive_key_template = body.exclusive_key_template;
  if (body.retention !== undefined) change.retention = body.retention;
  if (body.backpressure !== undefined) change.backpressure = body.backpressure;
  return d.engine.configureQueue(queueName(name), change);
}

/** Deletes a queue without unfinished jobs (409 `conflict` with the counts otherwise). */
export const deleteQueue = (d: UseCaseDeps, name: string): Promise<QueueDeleted> =>
  d.engine.deleteQueue(queueName(name));

/** Exclusive keys that are held or have waiting jobs (of one queue, given `queue`). */
export function exclusiveKeys(
  d: UseCaseDeps,
  q: { queue?: string | undefined },
): Promise<ExclusiveKeyView[]> {
  return d.engine.exclusiveKeys(q.queue === undefined ? {} : { queue: queueName(q.queue) });
}

/** Streams and buckets with their sizes, the housekeeper's state and the removals due next. */
export const storageReport = (d: UseCaseDeps): Promise<StorageReport> => d.engine.storage();
