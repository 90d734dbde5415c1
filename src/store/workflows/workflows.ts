/**
 * Workflows (OJS level 3): chain (steps run one after another, each getting the earlier results as
 * `parent_results`; a failed step stops the chain), group (jobs run in parallel) and batch (a group
 * with callbacks: `on_complete` always, `on_success` without failures, `on_failure` with some).
 *
 * A workflow record (KV) holds the job definitions with ids chosen up front. Progress is computed from
 * the jobs' own states by {@link reconcileWorkflow}, which is idempotent: enqueueing a step or callback
 * whose id exists already is a no-op (409 duplicate), and the record is updated with compare-and-set.
 * It runs right after any of the workflow's jobs finishes (outcome hook), on reads, and from a leader
 * sweep over running workflows, so a crash at any point only delays progress.
 */
import type { NormalizedEnqueue } from "../../core/envelope.js";
import { parseEnqueueRequest } from "../../core/envelope.js";
import { ConflictError, ErrorCode, JetjobError, NotFoundError, ValidationError } from "../../core/errors.js";
import { uuidv7 } from "../../core/ids.js";
import { isTerminal, JobState } from "../../core/states.js";
import { casUpdate, eraseKey, getJson, keysOf, putJson } from "../infra/kvjson.js";
import { cancelJob } from "../jobs/operations.js";
import { checkJob } from "../jobs/enqueue-checks.js";
import type { OutcomeNote, Services } from "../infra/services.js";
import type { JobView } from "../jobs/view.js";
import { buildJobView, deriveState } from "../jobs/view.js";
import type { StepDef } from "./workflow-steps.js";
import type {
  CallbackName,
  JobDef,
  WorkflowRecord,
  WorkflowState,
  WorkflowStepView,
  WorkflowView,
} from "./workflow-record.js";
import { workflowView } from "./workflow-record.js";
import { fromStepGraph, isStepGraph } from "./workflow-steps.js";

const recKey = (id: string) => `wf.${id}`;
const runKey = (id: string) => `running.${id}`;

/** The workflow record under its key (`wf.<id>`), without reconciling it. */
export async function readWorkflow(svc: Services, id: string): Promise<WorkflowRecord | undefined> {
  return (await getJson<WorkflowRecord>(svc.ctx.buckets.workflows, recKey(id)))?.value;
}

/** Ids of the jobs a workflow has enqueued: its steps or jobs so far, then the callbacks it fired. */
export function workflowJobIds(r: WorkflowRecord): string[] {
  const jobs = r.type === "chain" ? r.jobs.slice(0, r.enqueued) : r.jobs;
  const callbacks = r.fired.flatMap((name) => {
    const cb = r.callbacks[name];
    return cb ? [cb.id] : [];
  });
  return [...jobs.map((j) => j.id), ...callbacks];
}

/** The steps of a workflow: as created in the http-binding form, else one per job (ids "0", "1", ...). */
function stepsOf(r: WorkflowRecord): StepDef[] {
  return (
    r.steps ??
    r.jobs.map((j, i) => ({
      id: String(i),
      type: typeof j.body.type === "string" ? j.body.type : "",
      depends_on: r.type === "chain" && i > 0 ? [String(i - 1)] : [],
      ref: i,
    }))
  );
}

/** Job lookups a workflow view makes at once. */
const STEP_LOOKUPS = 32;

/** The view with its steps' jobs and their current states. */
async function viewWithSteps(svc: Services, r: WorkflowRecord): Promise<WorkflowView> {
  const v = workflowView(r);
  const done = new Set(r.completed);
  const steps = stepsOf(r);
  const out: WorkflowStepView[] = [];
  for (let k = 0; k < steps.length; k += STEP_LOOKUPS) {
    const chunk = steps.slice(k, k + STEP_LOOKUPS);
    out.push(
      ...(await Promise.all(
        chunk.map(async (s): Promise<WorkflowStepView> => {
          const jobId =
            s.ref === "on_success"
              ? r.fired.includes("on_success")
                ? (r.callbacks.on_success?.id ?? null)
                : null
              : r.type === "chain" && s.ref >= r.enqueued
                ? null
                : r.jobs[s.ref]!.id;
          let state = "pending";
          if (jobId !== null) {
            if (typeof s.ref === "number" && done.has(s.ref)) state = JobState.Completed;
            else state = (await jobState(svc, jobId))?.state ?? "pending";
          }
          return { id: s.id, type: s.type, state, job_id: jobId, depends_on: s.depends_on };
        }),
      )),
    );
  }
  v.steps = out;
  return v;
}

/**
 * Validates and creates a workflow, and enqueues its first step (chain) or all its jobs; `createdBy`
 * (the API token's name) is recorded on it and on each of its jobs.
 */
export async function createWorkflow(
  svc: Services,
  body: unknown,
  createdBy?: string,
): Promise<WorkflowView> {
  let steps: StepDef[] | undefined;
  if (isStepGraph(body)) ({ body, steps } = fromStepGraph(body as Record<string, unknown>));
  const b = (body ?? {}) as Record<string, unknown>;
  const type = b.type;
  if (type !== "chain" && type !== "group" && type !== "batch") {
    throw new ValidationError("type must be one of chain, group, batch");
  }
  const list = type === "chain" ? (b.steps ?? b.jobs) : (b.jobs ?? b.steps);
  const field = type === "chain" ? "steps" : "jobs";
  if (!Array.isArray(list) || list.length === 0)
    throw new ValidationError(`${field} must be a non-empty array of jobs`);
  if (list.length > 1000)
    throw new JetjobError(ErrorCode.PayloadTooLarge, `a workflow may hold at most 1000 ${field}`);
  const now = Date.now();
  list.forEach((j, i) => check(svc, j, `${field}[${i}]`, now));
  const callbacks: WorkflowRecord["callbacks"] = {};
  const cb = (b.callbacks ?? {}) as Record<string, unknown>;
  for (const name of ["on_success", "on_failure", "on_complete"] as const) {
    if (cb[name] === undefined) continue;
    check(svc, cb[name], `callbacks.${name}`, now);
    callbacks[name] = { id: uuidv7(), body: cb[name] as Record<string, unknown> };
  }
  const rec: WorkflowRecord = {
    id: uuidv7(),
    type,
    state: "running",
    createdAt: now,
    jobs: list.map((j) => ({ id: uuidv7(), body: j as Record<string, unknown> })),
    callbacks,
    enqueued: type === "chain" ? 1 : list.length,
    results: {},
    completed: [],
    failed: [],
    fired: [],
  };
  if (typeof b.name === "string") rec.name = b.name;
  if (steps !== undefined) rec.steps = steps;
  if (createdBy !== undefined) rec.createdBy = createdBy;
  await putJson(svc.ctx.buckets.workflows, recKey(rec.id), rec);
  await putJson(svc.ctx.buckets.workflows, runKey(rec.id), { at: now });
  const first = type === "chain" ? [0] : rec.jobs.map((_, i) => i);
  await enqueueDefs(
    svc,
    first.map((i) => ({
      def: rec.jobs[i]!,
      ref: { id: rec.id, idx: i, role: type === "chain" ? "step" : "job" } as const,
    })),
    type !== "chain",
    createdBy,
  );
  return viewWithSteps(svc, rec);
}

function check(svc: Services, job: unknown, where: string, now: number): void {
  try {
    checkJob(svc, parseEnqueueRequest(job, now)); // the registry is loaded: engine.ts, client/nats.ts
  } catch (err) {
    if (err instanceof JetjobError)
      throw new JetjobError(err.code, `${where}: ${err.message}`, { details: err.details });
    throw err;
  }
}

async function enqueueDefs(
  svc: Services,
  defs: Array<{
    def: JobDef;
    ref: NonNullable<NormalizedEnqueue["spec"]["workflow"]>;
    parentResults?: unknown[];
  }>,
  atomic: boolean,
  createdBy: string | undefined,
): Promise<void> {
  const items = defs.map(({ def, ref, parentResults }) => {
    const n = parseEnqueueRequest({ ...def.body, id: def.id });
    n.spec.workflow = ref;
    if (parentResults !== undefined) n.spec.parentResults = parentResults;
    if (createdBy !== undefined) n.spec.createdBy = createdBy;
    return n;
  });
  try {
    await svc.producer.enqueue(items, { atomic });
  } catch (err) {
    // Enqueued before (a repeated reconcile): the ids are taken, which is what we want.
    if (!(err instanceof ConflictError && err.code === ErrorCode.Duplicate)) throw err;
  }
}

async function jobState(svc: Services, id: string): Promise<JobView | undefined> {
  const loc = await svc.locator.locate(id);
  if (!loc) return undefined;
  return buildJobView(loc.at, loc.idx, deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, Date.now()));
}

/** Brings a running workflow up to date with its jobs (idempotent). */
export async function reconcileWorkflow(svc: Services, id: string): Promise<WorkflowRecord | undefined> {
  const kv = svc.ctx.buckets.workflows;
  const cur = await getJson<WorkflowRecord>(kv, recKey(id));
  if (!cur) return undefined;
  const rec = cur.value;
  if (rec.state !== "running") return rec;
  const results: Record<string, unknown> = {};
  const completed = new Set(rec.completed);
  const failed = new Set(rec.failed);
  const missing: number[] = [];
  const limit = rec.type === "chain" ? rec.enqueued : rec.jobs.length;
  for (let i = 0; i < limit; i++) {
    if (completed.has(i) || failed.has(i)) continue;
    const job = await jobState(svc, rec.jobs[i]!.id);
    if (!job) {
      missing.push(i); // recorded as enqueued, but a crash stopped the enqueue: do it again
      continue;
    }
    if (!isTerminal(job.state)) continue;
    if (job.state === JobState.Completed) {
      completed.add(i);
      results[String(i)] = job.result ?? null;
    } else failed.add(i);
  }
  let state: WorkflowState = "running";
  let enqueued = rec.enqueued;
  const fire: CallbackName[] = [];
  if (rec.type === "chain") {
    if (failed.size > 0) state = "failed";
    else if (completed.size === rec.jobs.length) state = "completed";
    else if (completed.size === enqueued && enqueued < rec.jobs.length) enqueued++;
  } else if (completed.size + failed.size === rec.jobs.length) {
    state = failed.size > 0 ? "failed" : "completed";
    fire.push("on_complete", failed.size > 0 ? "on_failure" : "on_success");
  }
  // Record the progress first (compare-and-set): a cancel that lands after it sees the new step and
  // cancels it; the enqueues below are idempotent (ids chosen up front).
  const next = await casUpdate<WorkflowRecord>(kv, recKey(id), (r) => {
    if (!r || r.state !== "running") return undefined;
    r.results = { ...r.results, ...results };
    r.completed = [...new Set([...r.completed, ...completed])];
    r.failed = [...new Set([...r.failed, ...failed])];
    r.enqueued = Math.max(r.enqueued, enqueued);
    r.fired = [...new Set([...r.fired, ...fire.filter((n) => r.callbacks[n])])];
    if (state !== "running") {
      r.state = state;
      r.completedAt = Date.now();
    }
    return r;
  });
  if (!next) return (await getJson<WorkflowRecord>(kv, recKey(id)))?.value;
  const jobs: Parameters<typeof enqueueDefs>[1] = [];
  const stepRef = (i: number) => ({
    id: rec.id,
    idx: i,
    role: rec.type === "chain" ? ("step" as const) : ("job" as const),
  });
  const parents = (i: number) => Array.from({ length: i }, (_, k) => next.results[String(k)] ?? null);
  for (const i of missing)
    jobs.push({
      def: rec.jobs[i]!,
      ref: stepRef(i),
      ...(rec.type === "chain" ? { parentResults: parents(i) } : {}),
    });
  if (next.enqueued > rec.enqueued) {
    for (let i = rec.enqueued; i < next.enqueued; i++)
      jobs.push({ def: rec.jobs[i]!, ref: stepRef(i), parentResults: parents(i) });
  }
  for (const name of fire) {
    if (rec.callbacks[name] && !rec.fired.includes(name)) {
      jobs.push({ def: rec.callbacks[name], ref: { id: rec.id, idx: -1, role: "callback" } });
    }
  }
  for (const j of jobs) await enqueueDefs(svc, [j], false, rec.createdBy);
  if (jobs.length > 0) {
    // A cancel may have come in while we enqueued: then the new jobs must not run.
    const after = await getJson<WorkflowRecord>(kv, recKey(id));
    if (after?.value.state === "cancelled") {
      for (const j of jobs) await cancelJob(svc, j.def.id).catch(() => undefined);
    }
  }
  if (next.state !== "running") await dropRunMarker(svc, id);
  return next;
}

/**
 * A finished workflow leaves the running list for good: its marker's subject is erased, not
 * deleted (a delete marker would stay listed, and be read on every sweep, forever).
 */
async function dropRunMarker(svc: Services, id: string): Promise<void> {
  await eraseKey(svc.ctx.jsm, svc.ctx.topology.buckets.workflows, runKey(id)).catch(() => undefined);
}

export async function getWorkflow(svc: Services, id: string): Promise<WorkflowView> {
  const rec = await reconcileWorkflow(svc, id);
  if (!rec) throw new NotFoundError("workflow", id);
  return viewWithSteps(svc, rec);
}

/** Cancels a workflow: no further steps, and its unfinished jobs are cancelled. */
export async function cancelWorkflow(svc: Services, id: string): Promise<WorkflowView> {
  const kv = svc.ctx.buckets.workflows;
  const cur = await getJson<WorkflowRecord>(kv, recKey(id));
  if (!cur) throw new NotFoundError("workflow", id);
  if (cur.value.state !== "running") {
    throw new ConflictError(`workflow '${id}' is already ${cur.value.state}`, {
      details: { state: cur.value.state },
    });
  }
  const rec = await casUpdate<WorkflowRecord>(kv, recKey(id), (r) => {
    if (!r || r.state !== "running") return undefined;
    r.state = "cancelled";
    r.completedAt = Date.now();
    return r;
  });
  await dropRunMarker(svc, id);
  const started = rec!.type === "chain" ? rec!.jobs.slice(0, rec!.enqueued) : rec!.jobs;
  for (const j of started) {
    await cancelJob(svc, j.id).catch((err: unknown) => {
      if (
        !(err instanceof JetjobError) ||
        (err.code !== ErrorCode.Conflict && err.code !== ErrorCode.NotFound)
      )
        throw err;
    });
  }
  return workflowView(rec!);
}

/** Outcome hook: advances the workflows of finished jobs. */
export function workflowOutcomeListener(svc: Services) {
  return async (notes: OutcomeNote[]): Promise<void> => {
    const ids = new Set<string>();
    for (const n of notes) {
      const wf = n.at.seg.jobs[n.idx]?.workflow;
      if (wf && wf.role !== "callback") ids.add(wf.id);
    }
    for (const id of ids) await reconcileWorkflow(svc, id);
  };
}

/** Leader sweep: reconciles every running workflow (repairs progress lost to a crash). */
export async function sweepWorkflows(svc: Services): Promise<void> {
  for (const k of await keysOf(svc.ctx.buckets.workflows, "running.*")) {
    await reconcileWorkflow(svc, k.slice("running.".length));
  }
}
