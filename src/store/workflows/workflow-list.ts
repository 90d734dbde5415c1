/**
 * Listing workflows, newest first (the admin UI's Workflows page and the OJS CLI's `workflow list`).
 *
 * Workflow records live in the workflows bucket under `wf.<id>`, and ids are UUIDv7 (time-ordered),
 * so the key listing sorted backwards is the newest-first order and a page reads only its own records.
 * Running workflows have an index (`running.<id>`, workflows.ts), so `state=running` reads only those.
 * Any other state filter reads records newest first until the page is full and counts the rest from
 * the records too: a full scan of the bucket, which is bounded by workflow retention, not by a counter.
 * States are the records' own, as the sweep and outcome hook keep them (no reconciling on list).
 */
import { ValidationError } from "../../core/errors.js";
import { getJson, keysOf } from "../infra/kvjson.js";
import type { Services } from "../infra/services.js";
import type { WorkflowRecord, WorkflowState, WorkflowView } from "./workflow-record.js";
import { workflowView } from "./workflow-record.js";

const states: ReadonlySet<string> = new Set(["running", "completed", "failed", "cancelled"]);

/**
 * `state` as a workflow state: jetjob's own names, or the admin UI's (`active` is `running`;
 * `pending` matches nothing, as a workflow runs from its creation). Throws for anything else.
 */
export function workflowStateFilter(state: string | undefined): WorkflowState | "none" | undefined {
  if (state === undefined || state === "") return undefined;
  if (state === "active") return "running";
  if (state === "pending") return "none";
  if (states.has(state)) return state as WorkflowState;
  throw new ValidationError(
    `state must be one of running (or active), pending, completed, failed, cancelled; got '${state}'`,
    { details: { field: "state" } },
  );
}

export interface WorkflowListPage {
  workflows: WorkflowView[];
  total: number;
}

/** A page of workflows, newest first, optionally of one state (see the module header for the cost). */
export async function listWorkflows(
  svc: Services,
  q: { state?: string; skip: number; limit: number },
): Promise<WorkflowListPage> {
  const kv = svc.ctx.buckets.workflows;
  const state = workflowStateFilter(q.state);
  if (state === "none") return { workflows: [], total: 0 };
  const prefix = state === "running" ? "running." : "wf.";
  const ids = (await keysOf(kv, `${prefix}*`))
    .map((k) => k.slice(prefix.length))
    .sort((a, b) => (a < b ? 1 : -1));
  const read = async (id: string) => (await getJson<WorkflowRecord>(kv, `wf.${id}`))?.value;
  if (state === undefined) {
    const out: WorkflowView[] = [];
    for (const id of ids.slice(q.skip, q.skip + q.limit)) {
      const r = await read(id);
      if (r) out.push(workflowView(r));
    }
    return { workflows: out, total: ids.length };
  }
  const out: WorkflowView[] = [];
  let total = 0;
  for (const id of ids) {
    const r = await read(id);
    if (r?.state !== state) continue;
    if (total >= q.skip && out.length < q.limit) out.push(workflowView(r));
    total++;
  }
  return { workflows: out, total };
}
