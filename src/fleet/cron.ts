/**
 * Scheduled fleet jobs: the fleet side of cron (store/features/cron.ts). A schedule whose job template has a
 * `target` creates a targeted job at each tick. The store cannot import the fleet, so the API server
 * hands it this {@link CronFleet}: templates are checked with the same rules as `POST /api/v1/jobs`
 * (fleet/request.ts), and a tick's job is created through the controller with the id cron derived
 * from (schedule, tick), which the controller creates at most once: a second leader firing the same
 * tick gets `duplicate` and dispatches nothing.
 */
import { ErrorCode, isJetjobError, JetjobError } from "../core/errors.js";
import type { CronFleet } from "../store/features/cron.js";
import { fastKv } from "../store/infra/kvfast.js";
import type { Controller } from "./controller.js";
import { createRequestOf, parseFleetTemplate } from "./request.js";
import type { FleetRecord } from "./types.js";

/**
 * Checks and dispatch for scheduled fleet jobs. `controller` settles once the server's controller
 * exists (the scheduler may tick before it does); undefined means this process runs none, and ticks
 * are then refused with `unsupported` (cron records them as not fired).
 */
export function createCronFleet(controller: Promise<Controller | undefined>): CronFleet {
  const ready = async (): Promise<Controller> => {
    const c = await controller;
    if (!c) {
      throw new JetjobError(
        ErrorCode.Unsupported,
        "tick skipped: the scheduling server runs no fleet controller to create targeted jobs",
      );
    }
    return c;
  };
  return {
    check: (template) => parseFleetTemplate(template),
    async dispatch(id, template, meta) {
      const c = await ready();
      const body = parseFleetTemplate(template);
      try {
        const createdBy = typeof meta.cron === "string" ? `cron:${meta.cron}` : "cron";
        await c.create(createRequestOf(body, { id, createdBy, meta: { ...body.meta, ...meta } }));
        return "created";
      } catch (err) {
        if (isJetjobError(err) && err.code === ErrorCode.Duplicate) return "duplicate";
        throw err;
      }
    },
    async running(id) {
      const c = await controller;
      if (!c) return false; // nothing runs here that could be running it; dispatch reports the skip
      const r = await fastKv<FleetRecord>(c.ctx, c.ctx.topology.buckets.fleet).get(`j.${id}`);
      return r.value?.status === "running";
    },
  };
}
