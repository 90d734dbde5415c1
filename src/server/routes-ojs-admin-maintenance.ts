/**
 * Maintenance mode of the OJS Admin API (ojs-admin-api §12.1), built from queue pauses: enabling it
 * pauses every queue that runs (the same operation as `POST /ojs/v1/queues/{name}/pause`, so HTTP
 * fetches and NATS-direct workers alike get nothing) and records which ones it paused; disabling it
 * resumes exactly those, so queues an operator had paused before stay paused. Jobs are still
 * accepted. Scheduled jobs and cron ticks still become due, but they wait in their paused queues.
 *
 * What it does not cover: a queue created while maintenance is on is not paused until the mode is
 * enabled again (a repeated enable pauses the queues that run and adds them to the record), and fleet
 * (targeted) jobs are not affected, and a queue it paused is resumed when it ends even if an operator
 * paused it again meanwhile. `estimated_end` is informational: the mode ends when disabled.
 *
 * The record is one KV entry (`m.maintenance`) in the fleet bucket, beside the agents' control
 * records, so every API server answers the same. The OJS CLI uses `/ojs/v1/admin/maintenance`, the
 * spec and the admin UI `/ojs/v1/admin/system/maintenance`: both are served, and the answer carries
 * the spec's names (`maintenance`, `enabled_at`, `estimated_end`) and the clients' (`enabled`,
 * `started_at`, `ends_at`).
 */
import { z } from "zod";

import { ValidationError } from "../core/errors.js";
import { parseDurationText } from "../core/storage-options.js";
import { toRfc3339 } from "../core/time.js";
import type { Engine } from "../store/engine.js";
import { casUpdate, getJson } from "../store/infra/kvjson.js";
import { Scope } from "./auth.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { fields } from "./response-schemas.js";

export const MAINTENANCE_KEY = "m.maintenance";

interface MaintenanceRecord {
  reason?: string;
  /** Epoch ms. */
  startedAt: number;
  endsAt?: number;
  /** Queues this mode paused (and resumes when it ends). */
  paused: string[];
}

const bodySchema = z.object({
  enabled: z.boolean(),
  reason: z.string().max(1000).optional(),
  duration: z.string().optional().describe("How long it is expected to last: 15m, 2h, or ISO 8601 (PT30M)"),
  estimated_duration: z.string().optional().describe("The spec's name of duration (ISO 8601)"),
});

function view(r: MaintenanceRecord | undefined): Record<string, unknown> {
  if (!r) return { enabled: false, maintenance: false };
  const started = toRfc3339(r.startedAt);
  const ends =
    r.endsAt === undefined ? {} : { ends_at: toRfc3339(r.endsAt), estimated_end: toRfc3339(r.endsAt) };
  return {
    enabled: true,
    maintenance: true,
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    started_at: started,
    enabled_at: started,
    ...ends,
    paused_queues: r.paused,
  };
}

/**
 * Forgets maintenance mode without resuming anything (admin/reset, which deletes every queue: nothing
 * of a test run may change the next one).
 */
export async function clearMaintenance(engine: Engine): Promise<void> {
  const kv = engine.ctx.buckets.fleet;
  if (await getJson(kv, MAINTENANCE_KEY)) await kv.purge(MAINTENANCE_KEY);
}

export function ojsAdminMaintenanceRoutes(engine: Engine): RouteDef[] {
  // Looked up per request: the app is also built over stand-in engines (OpenAPI document, tests).
  const kvOf = () => engine.ctx.buckets.fleet;
  const read = async () => (await getJson<MaintenanceRecord>(kvOf(), MAINTENANCE_KEY))?.value;

  async function enable(b: z.infer<typeof bodySchema>): Promise<MaintenanceRecord> {
    const text = b.duration ?? b.estimated_duration;
    const ms = text === undefined || text === "" ? undefined : parseDurationText(text);
    if (ms === undefined && text !== undefined && text !== "")
      throw new ValidationError("duration must be like 15m, 2h or PT30M", { details: { field: "duration" } });
    const running = (await engine.listQueues()).filter((q) => !q.paused).map((q) => q.name);
    // Recorded before pausing: a crash half-way still leaves the list of queues to resume.
    const rec = (await casUpdate<MaintenanceRecord>(kvOf(), MAINTENANCE_KEY, (cur) => {
      const now = Date.now();
      const next: MaintenanceRecord = {
        startedAt: cur?.startedAt ?? now,
        paused: [...new Set([...(cur?.paused ?? []), ...running])].sort(),
      };
      const reason = b.reason ?? cur?.reason;
      if (reason !== undefined) next.reason = reason;
      const endsAt = ms === undefined ? cur?.endsAt : now + ms;
      if (endsAt !== undefined) next.endsAt = endsAt;
      return next;
    }))!;
    for (const name of running) await engine.setPaused(name, true);
    return rec;
  }

  async function disable(): Promise<void> {
    const cur = await read();
    if (!cur) return;
    for (const name of cur.paused) {
      // A queue deleted meanwhile is not brought back (setPaused would create its record).
      if (await engine.ctx.queues.get(name)) await engine.setPaused(name, false);
    }
    await kvOf().delete(MAINTENANCE_KEY);
  }

  return ["/ojs/v1/admin/system/maintenance", "/ojs/v1/admin/maintenance"].flatMap((path) => [
    defineRoute({
      method: "GET",
      path,
      scope: Scope.Read,
      tag: "admin",
      summary: "Whether maintenance mode is on, why, since when, and the queues it paused",
      response: fields({ enabled: z.boolean(), maintenance: z.boolean() }),
      handler: async (c) => ojsJson(c, 200, view(await read())),
    }),
    defineRoute({
      method: "POST",
      path,
      scope: Scope.Admin,
      tag: "admin",
      body: bodySchema,
      summary:
        "Maintenance mode on ({enabled: true, reason?, duration?}: pauses every running queue, jobs are still accepted) or off (resumes the queues it paused)",
      response: fields({ enabled: z.boolean(), maintenance: z.boolean() }),
      handler: async (c, { body }) => {
        if (body.enabled) return ojsJson(c, 200, view(await enable(body)));
        await disable();
        return ojsJson(c, 200, view(undefined));
      },
    }),
  ]);
}
