/**
 * The checks a job passes before it is stored that need no I/O: payload limits and its args' schema.
 * For workflow steps, all checked when the workflow is created (the schema registry must be loaded
 * before, `svc.schemas.ready()`). Cron templates are checked when registered (cron.ts `upsertCron`).
 */
import type { NormalizedEnqueue } from "../../core/envelope.js";
import { checkEnqueue } from "./payload-limits.js";
import type { Services } from "../infra/services.js";

export function checkJob(svc: Services, n: NormalizedEnqueue): void {
  checkEnqueue(svc.ctx, [n], false);
  svc.schemas.checkLoaded([n]);
}
