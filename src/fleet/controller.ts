/**
 * The fleet controller: creates targeted jobs (resolve the target against the live registry, store the
 * record with the resolved hosts, send to each host), owns the jobs it created until they finish, and
 * takes over jobs whose controller died (see reclaim.ts). Every API server runs one; they work
 * active-active on the same NATS.
 *
 * Creating a job is fleet/create-job.ts, running one fleet/run.ts; here the controller's lifetime:
 * its heartbeat, its runs, the reclaimer.
 */
import { ErrorCode, JetjobError } from "../core/errors.js";
import { uuidv7 } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { silentLogger } from "../core/logger.js";
import type { StoreContext } from "../store/infra/context.js";
import { fastKv } from "../store/infra/kvfast.js";
import { createArgsChecker } from "./args.js";
import type { CreateDeps, CreateFleetJob } from "./create-job.js";
import { createFleetJob } from "./create-job.js";
import type { FleetTimings } from "./options.js";
import { fleetDefaults } from "./options.js";
import type { RegistryView } from "./registry.js";
import { controllerKey, createRegistryView } from "./registry.js";
import type { JobRun } from "./run.js";
import { startRun } from "./run.js";
import type { RunDeps } from "./run-state.js";
import { reclaimTask } from "./reclaim.js";
import { periodicTask, runTasks } from "../store/infra/tasks.js";
import type { Selection } from "./selection.js";
import { selectHosts } from "./selection.js";
import type { TargetExpr } from "./target/index.js";
import { parseTarget } from "./target/index.js";
import type { FleetRecord } from "./types.js";

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
  const registry = createRegistryView(ctx, onError);
  await registry.ready;
  const records = fastKv<FleetRecord>(ctx, ctx.topology.buckets.fleet);
  const runs = new Map<string, JobRun>();
  let closed = false;

  const heartbeat = () => writeHeartbeat(ctx, id, timings, runs.size);
  await heartbeat();

  const deps: RunDeps = {
    ctx,
    records,
    registry,
    timings,
    controllerId: id,
    onError,
    onEnd: (jobId) => runs.delete(jobId),
    pickAnother: (rec, exclude) => pickAnother(registry, timings, rec, exclude),
  };
  const select = (expr: TargetExpr, op: string | undefined, onlyReady = false): Selection =>
    selectHosts(expr, registry.agents(), {
      op,
      nowMs: Date.now(),
      livenessMisses: timings.livenessMisses,
      onlyReady,
    });
  const createDeps: CreateDeps = {
    ctx,
    records,
    timings,
    controllerId: id,
    argsChecker: createArgsChecker(onError),
    log: o.logger ?? silentLogger,
    select,
    start: async (rec, revision) => {
      runs.set(rec.id, await startRun(deps, rec, revision, { sendNow: true }));
    },
  };

  async function adopt(rec: FleetRecord, revision: number): Promise<void> {
    if (closed || runs.has(rec.id)) return;
    runs.set(rec.id, await startRun(deps, rec, revision, { sendNow: false }));
  }

  const tasks = runTasks(
    [
      periodicTask({
        name: "controller heartbeat",
        scope: "everywhere",
        everyMs: timings.controllerHeartbeatMs,
        tick: async () => void (await heartbeat()),
        onError,
      }),
      ...(o.reclaim === false
        ? []
        : [reclaimTask({ ctx, records, registry, timings, id, onError, adopt, runs })]),
    ],
    { onError },
  );

  return {
    id,
    registry,
    ctx,
    timings,
    resolve: (target, op, ro = {}) => select(parseTarget(target), op, ro.onlyReady),
    owned: () => [...runs.keys()],
    run: (jobId) => runs.get(jobId),
    adopt,
    async create(req) {
      if (closed) throw new JetjobError(ErrorCode.Closed, "the fleet controller is closed");
      return createFleetJob(createDeps, req);
    },
    async close() {
      if (closed) return;
      closed = true;
      await tasks.close();
      for (const r of [...runs.values()]) r.detach();
      registry.close();
      await ctx.buckets.agents.delete(controllerKey(id)).catch(() => undefined);
    },
  };
}

/** Tells the fleet this controller is alive, and how many jobs it owns (the reclaimer reads it). */
function writeHeartbeat(
  ctx: StoreContext,
  id: string,
  timings: FleetTimings,
  activeJobs: number,
): Promise<unknown> {
  return ctx.buckets.agents.put(
    controllerKey(id),
    JSON.stringify({ id, heartbeat_ms: timings.controllerHeartbeatMs, active_jobs: activeJobs }),
  );
}

/** Another live, ready agent the job's target selects, none of `exclude` (lowercased): for failover. */
function pickAnother(
  registry: RegistryView,
  timings: FleetTimings,
  rec: FleetRecord,
  exclude: ReadonlySet<string>,
): string | undefined {
  const able = registry.agents().filter((e) => !exclude.has(e.info.hostname.toLowerCase()));
  const { dispatch } = selectHosts(parseTarget(rec.target), able, {
    op: rec.op,
    nowMs: Date.now(),
    livenessMisses: timings.livenessMisses,
    onlyReady: true,
  });
  return dispatch[0]?.info.hostname;
}
