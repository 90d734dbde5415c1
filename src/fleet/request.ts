/**
 * The request that creates a targeted (fleet) job, `{op, target, args?, timeout_ms?, ack_window_ms?,
 * kind?, meta?, only_ready?}`: one schema for `POST /api/v1/jobs` and for the job template of a
 * scheduled fleet job (a cron entry with a target), so both accept and refuse the same bodies. A
 * template is checked once more than the route's body: its target is parsed at registration, so a
 * schedule with a malformed target is refused then (with the position), not at every tick.
 */
import { z } from "zod";

import { zodToValidationError } from "../core/envelope.js";
import { ValidationError } from "../core/errors.js";
import type { CreateFleetJob } from "./create-job.js";
import { fleetLimits } from "./options.js";
import { parseTarget } from "./target/index.js";

export const fleetJobSchema = z
  .object({
    op: z.string().min(1).max(fleetLimits.maxOperationLength).regex(fleetLimits.operationPattern),
    target: z.string().min(1).max(1024),
    args: z.unknown().optional(),
    timeout_ms: z.int().min(100).optional(),
    ack_window_ms: z.int().min(50).max(600_000).optional(),
    kind: z.enum(["query", "modify"]).optional(),
    meta: z.record(z.string(), z.unknown()).optional(),
    only_ready: z
      .boolean()
      .optional()
      .describe(
        "Send only to live, ready agents that offer the operation and leave the rest out silently (default: hosts the target names or matches that cannot run it are listed as unreachable or skipped, and count against the job)",
      ),
  })
  .strict();

/** A parsed fleet job request (wire names). */
export type FleetJobBody = z.infer<typeof fleetJobSchema>;

/** The controller's request for a parsed body (`extra`: what the caller adds, such as an id or trace context). */
export function createRequestOf(body: FleetJobBody, extra: Partial<CreateFleetJob> = {}): CreateFleetJob {
  return {
    op: body.op,
    target: body.target,
    ...(body.args === undefined ? {} : { args: body.args }),
    ...(body.timeout_ms === undefined ? {} : { timeoutMs: body.timeout_ms }),
    ...(body.ack_window_ms === undefined ? {} : { ackWindowMs: body.ack_window_ms }),
    ...(body.kind === undefined ? {} : { kind: body.kind }),
    ...(body.meta === undefined ? {} : { meta: body.meta }),
    ...(body.only_ready === undefined ? {} : { onlyReady: body.only_ready }),
    ...extra,
  };
}

/**
 * Checks the job template of a scheduled fleet job and returns it as stored: the request schema
 * above (`type` is taken as `op` when `op` is absent, as in a queue job's template), then the target's
 * syntax. Errors name the field (`job_template.<field>`) or, for the target, the 0-based position.
 */
export function parseFleetTemplate(template: Record<string, unknown>): FleetJobBody {
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(template)) if (v !== undefined) raw[k] = v;
  if (raw.op === undefined && raw.type !== undefined) {
    raw.op = raw.type;
    delete raw.type;
  }
  const parsed = fleetJobSchema.safeParse(raw);
  if (!parsed.success) {
    const err = zodToValidationError(parsed.error);
    const message = err.message.startsWith("body: ") ? `: ${err.message.slice(6)}` : `.${err.message}`;
    throw new ValidationError(`job_template${message}`, {
      code: err.code as never,
      details: err.details,
    });
  }
  try {
    parseTarget(parsed.data.target);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    throw new ValidationError(`job_template.target: ${err.message}`, {
      code: err.code as never,
      details: err.details,
      hint: err.hint,
      cause: err,
    });
  }
  return parsed.data;
}
