/**
 * Creating a targeted (fleet) job (the controller's `create`, controller.ts): check the request,
 * resolve its target against the live registry, check its args against every chosen agent's schema,
 * store the record with the resolved hosts and the `submitted` event, then start the run that sends
 * it to each host. Nothing is dispatched for a request that fails any check.
 */
import { ConflictError, ErrorCode, JetjobError, ValidationError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { normalizeTraceparent } from "../core/tracing.js";
import { WrongSequenceError } from "../nats/publisher.js";
import type { StoreContext } from "../store/infra/context.js";
import type { FastKv } from "../store/infra/kvfast.js";
import { scheduleFleetRemoval } from "../store/retention/fleet.js";
import type { ArgsChecker } from "./args.js";
import { isFleetId, newFleetId } from "./ids.js";
import { defaultOperationKind } from "./kinds.js";
import type { FleetTimings } from "./options.js";
import { fleetLimits } from "./options.js";
import { candidateOf } from "./registry.js";
import type { Selection } from "./selection.js";
import { appendEvent } from "./timeline.js";
import type { TargetExpr } from "./target/index.js";
import { parseTarget, targetPicksOne } from "./target/index.js";
import type { FleetRecord, LeftOut, OperationKind } from "./types.js";

export interface CreateFleetJob {
  /** Operation name, e.g. `system.hostname.get`. */
  op: string;
  /** Target expression, e.g. `all`, `group:web`, `web-* and G@os.name=debian`. */
  target: string;
  args?: unknown;
  /** Absolute deadline from now. @defaultValue 60000 */
  timeoutMs?: number;
  /** Re-send to silent targets after this long. @defaultValue 3000 */
  ackWindowMs?: number;
  /** `query` or `modify`; by default taken from the agents that offer the operation. */
  kind?: OperationKind;
  meta?: Record<string, unknown>;
  /** W3C trace context of the request (ignored when not valid); agents' handlers continue the trace. */
  traceparent?: string;
  retryOf?: string;
  /**
   * The job's id (a fleet id, e.g. derived from a cron tick) instead of a new one: a second create
   * with the same id is refused with `duplicate` and dispatches nothing. @defaultValue a new id
   */
  id?: string;
  /** Who asks: the API token's name (or `cron:<name>`); recorded on the job as `created_by`. */
  createdBy?: string;
  /**
   * Send only to live, ready agents that offer the operation, and leave the others out silently
   * (the behaviour before hosts were reported with reasons). @defaultValue false
   */
  onlyReady?: boolean;
}

/** What creating a job needs from its controller. */
export interface CreateDeps {
  ctx: StoreContext;
  records: FastKv<FleetRecord>;
  timings: FleetTimings;
  controllerId: string;
  argsChecker: ArgsChecker;
  log: Logger;
  /** The agents a target selects now (controller.ts). */
  select(expr: TargetExpr, op: string | undefined, onlyReady?: boolean): Selection;
  /** Starts owning and dispatching the stored job. */
  start(rec: FleetRecord, revision: number): Promise<void>;
}

/** Resolves the target, stores and dispatches the job; returns the stored record. */
export async function createFleetJob(d: CreateDeps, req: CreateFleetJob): Promise<FleetRecord> {
  const { ctx, records, timings } = d;
  checkCreate(req, timings);
  if (req.id !== undefined && (await records.get(`j.${req.id}`)).revision > 0) throw duplicate(req.id);
  ctx.storage.admit(); // a new job is refused while the store is (nearly) full
  const expr = parseTarget(req.target);
  const { dispatch, leftOut, matched } = d.select(expr, req.op, req.onlyReady);
  if (dispatch.length === 0) throw noTargets(req, leftOut, matched);
  const chosen = dispatch.map(candidateOf);
  const declared = chosen.flatMap((c) =>
    c.entry.info.operations.filter((x) => x.name === req.op).map((x) => ({ host: c.hostname, ...x })),
  );
  const kind = operationKind(req, declared);
  // Arguments every chosen agent's schema accepts, or no job at all (400 before any dispatch).
  d.argsChecker.check(
    req.op,
    req.args,
    declared.map((x) => ({
      host: x.host,
      ...(x.args_schema === undefined ? {} : { schema: x.args_schema }),
    })),
  );
  const rec = newFleetRecord(d, req, {
    hosts: chosen.map((c) => c.hostname).sort(),
    leftOut,
    kind,
    pickOne: targetPicksOne(expr),
  });
  const revision = await storeFleetJob(d, rec);
  await d.start(rec, revision);
  d.log.info("fleet job dispatched", {
    job_id: rec.id,
    op: req.op,
    kind,
    target: req.target,
    hosts: rec.hosts.length <= 20 ? rec.hosts : `${rec.hosts.length} hosts`,
    left_out: leftOut.length,
    created_by: req.createdBy ?? "-",
  });
  return rec;
}

/** The record of a new job, owned by this controller (epoch 1), running from now. */
export function newFleetRecord(
  d: Pick<CreateDeps, "timings" | "controllerId">,
  req: CreateFleetJob,
  o: { hosts: string[]; leftOut: LeftOut[]; kind: OperationKind; pickOne: boolean },
): FleetRecord {
  const now = Date.now();
  const rec: FleetRecord = {
    v: 1,
    id: req.id ?? newFleetId(now),
    op: req.op,
    kind: o.kind,
    args: req.args ?? [],
    target: req.target,
    hosts: o.hosts,
    ...(o.leftOut.length > 0 ? { left_out: o.leftOut } : {}),
    created_at: now,
    deadline_at: now + (req.timeoutMs ?? d.timings.defaultTimeoutMs),
    ack_window_ms: req.ackWindowMs ?? d.timings.ackWindowMs,
    status: "running",
    owner: d.controllerId,
    epoch: 1,
    reclaims: 0,
  };
  if (req.meta !== undefined) rec.meta = req.meta;
  // An invalid trace context is dropped, not refused (as for queue jobs).
  const traceparent = normalizeTraceparent(req.traceparent);
  if (traceparent !== undefined) rec.traceparent = traceparent;
  if (req.retryOf !== undefined) rec.retry_of = req.retryOf;
  if (req.createdBy !== undefined) rec.created_by = req.createdBy;
  if (o.pickOne) rec.pick_one = true;
  return rec;
}

/**
 * Stores a new job: its removal first (so no crash can leave it stored forever), the record (refused
 * as `duplicate` when the id exists), its owner and the `submitted` event. Returns the record's
 * revision.
 */
export async function storeFleetJob(
  d: Pick<CreateDeps, "ctx" | "records" | "controllerId">,
  rec: FleetRecord,
): Promise<number> {
  const { ctx, controllerId: by } = d;
  const id = rec.id;
  await scheduleFleetRemoval(ctx, id, rec.deadline_at + ctx.retention.fleetMs);
  const revision = await d.records.update(`j.${id}`, rec, 0).catch((err: unknown) => {
    throw err instanceof WrongSequenceError ? duplicate(id) : err;
  });
  await Promise.all([
    ctx.buckets.fleet.put(`x.${id}`, by),
    appendEvent(ctx, id, {
      e: "submitted",
      at: rec.created_at,
      ep: 1,
      by,
      d: {
        target: rec.target,
        hosts: rec.hosts,
        op: rec.op,
        kind: rec.kind,
        ...(rec.left_out !== undefined ? { left_out: rec.left_out } : {}),
      },
    }),
  ]);
  return revision;
}

/** The target selects no agent: which hosts it named or matched, and why each was left out. */
function noTargets(req: CreateFleetJob, leftOut: LeftOut[], matched: Selection["matched"]): JetjobError {
  const why = leftOut.map((l) => `${l.host}: ${l.reason}`).join("; ");
  return new JetjobError(
    ErrorCode.NoTargets,
    leftOut.length === 0
      ? `Target '${req.target}' matches no agent.`
      : `Target '${req.target}' selects no agent that can run '${req.op}' now (${why}).`,
    {
      details: { target: req.target, op: req.op, matched, hosts: leftOut },
      hint: "List agents with `jetjob worker list` (GET /api/v1/workers); preview with `jetjob target resolve`.",
    },
  );
}

/**
 * The kind the agents declare wins: a caller may ask for `modify` (never re-run) but cannot run a
 * declared `modify` operation as a `query`. Undeclared operations take the caller's kind or the
 * name's verb (fleet/kinds.ts).
 */
export function operationKind(
  req: CreateFleetJob,
  declared: ReadonlyArray<{ host: string; kind: OperationKind }>,
): OperationKind {
  const modifyOn = declared.filter((d) => d.kind === "modify").map((d) => d.host);
  if (modifyOn.length > 0) {
    if (req.kind === "query") {
      throw new ValidationError(
        `'${req.op}' is a modify operation on ${modifyOn.slice(0, 5).join(", ")}; it cannot run as a query.`,
        { details: { field: "kind", declared: "modify", hosts: modifyOn } },
      );
    }
    return "modify";
  }
  if (req.kind !== undefined) return req.kind;
  return declared.length > 0 ? "query" : defaultOperationKind(req.op);
}

function duplicate(id: string): ConflictError {
  return new ConflictError(`Job '${id}' already exists.`, {
    code: ErrorCode.Duplicate,
    details: { job_id: id },
  });
}

/** Refuses a request with a bad id, op, timeout, ack window or oversized args. */
export function checkCreate(req: CreateFleetJob, timings: FleetTimings): void {
  if (req.id !== undefined && !isFleetId(req.id)) {
    throw new ValidationError("id must be a fleet job id", { details: { field: "id" } });
  }
  if (
    typeof req.op !== "string" ||
    req.op.length === 0 ||
    req.op.length > fleetLimits.maxOperationLength ||
    !fleetLimits.operationPattern.test(req.op)
  ) {
    throw new ValidationError("op must be an operation name such as system.hostname.get", {
      details: { field: "op" },
    });
  }
  if (
    req.timeoutMs !== undefined &&
    (!Number.isInteger(req.timeoutMs) || req.timeoutMs < 100 || req.timeoutMs > timings.maxTimeoutMs)
  ) {
    throw new ValidationError(`timeout must be from 100 ms to ${timings.maxTimeoutMs} ms`, {
      details: { field: "timeout_ms" },
    });
  }
  if (
    req.ackWindowMs !== undefined &&
    (!Number.isInteger(req.ackWindowMs) || req.ackWindowMs < 50 || req.ackWindowMs > 600_000)
  ) {
    throw new ValidationError("ack_window_ms must be from 50 to 600000", {
      details: { field: "ack_window_ms" },
    });
  }
  const argBytes = Buffer.byteLength(JSON.stringify(req.args ?? []));
  if (argBytes > fleetLimits.maxArgsBytes) {
    throw new JetjobError(
      ErrorCode.PayloadTooLarge,
      `args are ${argBytes} bytes; the limit is ${fleetLimits.maxArgsBytes}`,
    );
  }
}
