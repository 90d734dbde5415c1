/**
 * What every use case runs against: the job engine (store/engine.ts) and, for targeted (fleet) jobs
 * and the worker registry, a fleet controller. The API server passes its own; the NATS client
 * transport creates both in its process (client/nats.ts).
 */
import type { z } from "zod";

import { zodToValidationError } from "../core/envelope.js";
import { ErrorCode, JetjobError } from "../core/errors.js";
import type { Controller } from "../fleet/controller.js";
import type { Engine } from "../store/engine.js";

/** What the fleet use cases run against (fleet-jobs.ts, workers.ts). */
export interface FleetDeps {
  /** The fleet controller; absent, fleet use cases fail with `unsupported`. */
  readonly fleet?: Controller | undefined;
}

export interface UseCaseDeps extends FleetDeps {
  readonly engine: Engine;
}

/** The caller of a use case: who asks (the API token's name) and the request's trace context. */
export interface Caller {
  /** The API token's name, recorded as `created_by`. */
  principal?: string | undefined;
  /** W3C `traceparent` of the request. */
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}

/** The fleet controller, or `unsupported` when this process runs none. */
export function fleetOf(d: FleetDeps): Controller {
  if (d.fleet) return d.fleet;
  throw new JetjobError(ErrorCode.Unsupported, "fleet jobs and workers need a fleet controller", {
    hint: "Run the API server with its fleet controller (jetjob server / jetjob start).",
  });
}

/**
 * Parses a use case's input with its declared schema (the one its HTTP route declares too), so a
 * value from the NATS client is refused exactly as the same value in an HTTP request would be.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw zodToValidationError(r.error);
  return r.data;
}
