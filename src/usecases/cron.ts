/**
 * Cron schedules: register (or replace), list, delete, pause and resume, trigger once. A schedule
 * whose job template has a `target` runs a fleet job at each tick; its template is checked at
 * registration by the engine's cron options (fleet/cron.ts), the same for both doors.
 */
import type { CronView } from "../store/features/cron.js";
import { setCronEnabled as setEnabled, triggerCron as trigger } from "../store/features/cron-control.js";
import type { JobView } from "../store/jobs/view.js";
import type { UseCaseDeps } from "./deps.js";

export type { CronView };

/** Every schedule, by name. */
export const listCrons = (d: UseCaseDeps): Promise<CronView[]> => d.engine.listCrons();

/** Registers or replaces a schedule (`created`: it was new). */
export const registerCron = (d: UseCaseDeps, body: unknown): Promise<{ cron: CronView; created: boolean }> =>
  d.engine.registerCron(body);

export const deleteCron = (d: UseCaseDeps, name: string): Promise<CronView> => d.engine.deleteCron(name);

/** Pauses (`enabled: false`: it does not fire until resumed) or resumes a schedule. */
export const setCronEnabled = (d: UseCaseDeps, name: string, enabled: boolean): Promise<CronView> =>
  setEnabled(d.engine.svc, name, enabled);

/** Enqueues the schedule's job once, now (not a tick). */
export const triggerCron = (d: UseCaseDeps, name: string): Promise<JobView> => trigger(d.engine.svc, name);
