/**
 * The fleet controller: creates targeted jobs (resolve the target against the live registry, store the
 * record with the resolved hosts, send to each host), owns the jobs it created until they finish, and
 * takes over jobs whose controller died (see reclaim.ts). Every API server runs one; they work
 * active-active on the same NATS.
 */
import { ConflictError, ErrorCode, JetjobError, ValidationError } from "../core/errors.js";
import { uuidv7 } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { silentLogger } from "../core/logger.js";
import { normalizeTraceparent } from "../core/tracing.js";
import type { StoreContext } from "../store/infra/context.js";
import { fastKv } from "../store/infra/kvfast.js";
import { WrongSequenceError } from "../nats/publisher.js";
import { scheduleFleetRemoval } from "../store/retention/fleet.js";
import { isFleetId, newFleetId } from "./ids.js";
import type { FleetTimings } from "./options.js";
import { fleetDefaults, fleetLimits } from "./options.js";
import type { RegistryView } from "./registry.js";
import { candidateOf, controllerKey, createRegistryView } from "./registry.js";
import type { JobRun } from "./run.js";
import { startRun } from "./run.js";
import type { RunDeps } from "./run-state.js";
import { startReclaimer } from "./reclaim.js";
import { appendEvent } from "./timeline.js";
import type { Selection } from "./selection.js";
import { selectHosts } from "./selection.js";
import type { TargetExpr } from "./target/index.js";
import { parseTarget, targetPicksOne } from "./target/index.js";
import type { FleetRecord, OperationKind } from "./types.js";
import { defaultOperationKind } from "./kinds.js";
import { createArgsChecker } from "./args.js";

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

export interface ControllerOptions {
  timings?: Partial<FleetTimings>;
  /** Where each dispatch is logged (info: job, op, target, hosts, who). @defaultValue silent */
  logger?: Logger;
  controllerId?: string;
  onError?: (err: unknown) => void;
  /** Take over jobs of dead controllers. @defaultValue true */
  reclaim?: boolean;
}

export interface Controller {
  readonly id: string;
  readonly registry: RegistryView;
  readonly ctx: StoreContext;
  readonly timings: FleetTimings;
  /** Resolves the target, stores and dispatches the job; returns the stored record. */
  create(req: CreateFleetJob): Promise<FleetRecord>;
  /**
   * What the target selects now, without dispatching: the agents a job would go to, and the hosts it
   * names or matches that it would leave out, with why (fleet/selection.ts).
   */
  resolve(target: string, op?: string, o?: { onlyReady?: boolean }): Selection;
  /** Jobs this controller owns now. */
  owned(): string[];
  run(id: string): JobRun | undefined;
  /** Takes over a job (used by the reclaimer); exposed for tests. */
  adopt(rec: FleetRecord, revision: number): Promise<void>;
  close(): Promise<void>;
}

export async function createController(ctx: StoreContext, o: ControllerOptions = {}): Promise<Controller> {
  const timings: FleetTimings = { ...fleetDefaults, ...o.timings };
  const id = o.controllerId ?? `ctl-${uuidv7()}`;
  const onError = o.onError ?? (() => undefined);
  const log = o.logger ?? silentLogger;
  const argsChecker = createArgsChecker(onError);
  const registry = createRegistryView(ctx, onError);
  await registry.ready;
  const records = fastKv<FleetRecord>(ctx, ctx.topology.buckets.fleet);
  const runs = new Map<string, JobRun>();
  let closed = false;

  const heartbeat = () =>
    ctx.buckets.agents.put(
      controllerKey(id),
      JSON.stringify({ id, heartbeat_ms: timings.controllerHeartbeatMs, active_jobs: runs.size }),
    );
  await heartbeat();
  const beat = setInterval(() => void heartbeat().catch(onError), timings.controllerHeartbeatMs);

  const deps: RunDeps = {
    ctx,
    records,
    registry,
    timings,
    controllerId: id,
    onError,
    onEnd: (jobId) => runs.delete(jobId),
    pickAnother: (rec, exclude) => {
      const able = registry.agents().filter((e) => !exclude.has(e.info.hostname.toLowerCase()));
      const { dispatch } = selectHosts(parseTarget(rec.target), able, {
        op: rec.op,
        nowMs: Date.now(),
        livenessMisses: timings.livenessMisses,
        onlyReady: true,
      });
      return dispatch[0]?.info.hostname;
    },
  };

  function select(expr: TargetExpr, op: string | undefined, onlyReady = false): Selection {
    return selectHosts(expr, registry.agents(), {
      op,
      nowMs: Date.now(),
      livenessMisses: timings.livenessMisses,
      onlyReady,
    });
  }

  function resolve(target: string, op?: string, o: { onlyReady?: boolean } = {}): Selection {
    return select(parseTarget(target), op, o.onlyReady);
  }

  async function adopt(rec: FleetRecord, revision: number): Promise<void> {
    if (closed || runs.has(rec.id)) return;
    runs.set(rec.id, await startRun(deps, rec, revision, { sendNow: false }));
  }

  const reclaimer =
    o.reclaim === false
      ? undefined
      : startReclaimer({ ctx, records, registry, timings, id, onError, adopt, runs });

  return {
    id,
    registry,
    ctx,
    timings,
    resolve,
    owned: () => [...runs.keys()],
    run: (jobId) => runs.get(jobId),
    adopt,
    async create(req) {
      if (closed) throw new JetjobError(ErrorCode.Closed, "the fleet controller is closed");
      checkCreate(req, timings);
      if (req.id !== undefined && (await records.get(`j.${req.id}`)).revision > 0) throw duplicate(req.id);
      ctx.storage.admit(); // a new job is refused while the store is (nearly) full
      const expr = parseTarget(req.target);
      const { dispatch, leftOut, matched } = select(expr, req.op, req.onlyReady);
      if (dispatch.length === 0) {
        const why = leftOut.map((l) => `${l.host}: ${l.reason}`).join("; ");
        throw new JetjobError(
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
      const chosen = dispatch.map(candidateOf);
      const now = Date.now();
      const declared = chosen.flatMap((c) =>
        c.entry.info.operations.filter((x) => x.name === req.op).map((x) => ({ host: c.hostname, ...x })),
      );
      const kind = operationKind(req, declared);
      // Arguments every chosen agent's schema accepts, or no job at all (400 before any dispatch).
      argsChecker.check(
        req.op,
        req.args,
        declared.map((d) => ({
          host: d.host,
          ...(d.args_schema === undefined ? {} : { schema: d.args_schema }),
        })),
      );
      const fleetId = req.id ?? newFleetId(now);
      const rec: FleetRecord = {
        v: 1,
        id: fleetId,
        op: req.op,
        kind,
        args: req.args ?? [],
        target: req.target,
        hosts: chosen.map((c) => c.hostname).sort(),
        ...(leftOut.length > 0 ? { left_out: leftOut } : {}),
        created_at: now,
        deadline_at: now + (req.timeoutMs ?? timings.defaultTimeoutMs),
        ack_window_ms: req.ackWindowMs ?? timings.ackWindowMs,
        status: "running",
        owner: id,
        epoch: 1,
        reclaims: 0,
      };
      if (req.meta !== undefined) rec.meta = req.meta;
      // An invalid trace context is dropped, not refused (as for queue jobs).
      const traceparent = normalizeTraceparent(req.traceparent);
      if (traceparent !== undefined) rec.traceparent = traceparent;
      if (req.retryOf !== undefined) rec.retry_of = req.retryOf;
      if (req.createdBy !== undefined) rec.created_by = req.createdBy;
      if (targetPicksOne(expr)) rec.pick_one = true;
      // Removal is scheduled before the job exists, so no crash can leave it stored forever.
      await scheduleFleetRemoval(ctx, fleetId, rec.deadline_at + ctx.retention.fleetMs);
      const revision = await records.update(`j.${fleetId}`, rec, 0).catch((err: unknown) => {
        throw err instanceof WrongSequenceError ? duplicate(fleetId) : err;
      });
      await Promise.all([
        ctx.buckets.fleet.put(`x.${fleetId}`, id),
        appendEvent(ctx, fleetId, {
          e: "submitted",
          at: now,
          ep: 1,
          by: id,
          d: {
            target: req.target,
            hosts: rec.hosts,
            op: req.op,
            kind,
            ...(leftOut.length > 0 ? { left_out: leftOut } : {}),
          },
        }),
      ]);
      runs.set(fleetId, await startRun(deps, rec, revision, { sendNow: true }));
      log.info("fleet job dispatched", {
        job_id: fleetId,
        op: req.op,
        kind,
        target: req.target,
        hosts: rec.hosts.length <= 20 ? rec.hosts : `${rec.hosts.length} hosts`,
        left_out: leftOut.length,
        created_by: req.createdBy ?? "-",
      });
      return rec;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(beat);
      reclaimer?.stop();
      for (const r of [...runs.values()]) r.detach();
      registry.close();
      await ctx.buckets.agents.delete(controllerKey(id)).catch(() => undefined);
    },
  };
}

/**
 * The kind the agents declare wins: a caller may ask for `modify` (never re-run) but cannot run a
 * declared `modify` operation as a `query`. Undeclared operations take the caller's kind or the
 * name's verb (fleet/kinds.ts).
 */
function operationKind(
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

function checkCreate(req: CreateFleetJob, timings: FleetTimings): void {
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
